import sys

# Files of the review process named in config.yaml (review.screening_records, review.certainty),
# used by the figures and report rules. Optional: a file that is named but absent is reported at
# start-up, and the report says in its text what is then not recorded (never a silent gap).
REVIEW = config.get("review") or {}
_NOTED = set()  # each missing file is noted once, not once per rule


def review_file(key):
    """[path] of review.<key> in config.yaml; [] (with a note) when unset or absent."""
    path = REVIEW.get(key)
    if not path:
        return []
    if not Path(path).is_file():
        if key in _NOTED:
            return []
        _NOTED.add(key)
        print(
            f"NOTE: config.yaml: review.{key}: {path} not found; the report will say it is "
            "not recorded (create the file, or remove the key).",
            file=sys.stderr,
        )
        return []
    return [path]


def option(flag, paths):
    """`--flag path` for an optional input, or nothing."""
    return f"{flag} {paths[0]}" if paths else ""


rule figures:
    """Forest, sensitivity, cumulative and risk-of-bias figures from the pooled results."""
    input:
        config=stage_config("figures"),
        pooled=POOLED,
        # The analysis extracts (labels, years, risk-of-bias judgements), not the normalised
        # records: fixing a typo in a study's free text redraws no figure.
        studies=EXTRACTS,
        listed=STUDY_LISTS["extract"],
        screening=review_file("screening_records"),
    output:
        [figure_output(stem, ext) for stem in FIGURE_STEMS for ext in FIGURE_FORMATS],
    log:
        f"{RESULTS}/logs/figures.log",
    conda:
        CONDA_ENV
    # Figures are saved by parallel processes; Snakemake lowers this to the cores it was given.
    threads: 4
    resources:
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        pool_dir=lambda w, input: parent_dir(input.pooled[0], 2),
        outdir=lambda w, output: parent_dir(output[0]),
        screening=lambda w, input: option("--screening", input.screening),
    shell:
        "python -m stsmeta figures --config {input.config} --pool-dir {params.pool_dir}"
        " --studies @{input.listed} --outdir {params.outdir}"
        " {params.screening} --processes {threads} > {log} 2>&1"
