# The figures job (a few seconds) runs on the submitting host under a cluster executor: it asks
# for several CPUs (its pool of processes), which a small cluster node may not have (the CI's
# single-node Slurm has 2: a 4-CPU job stayed pending), and a queue wait would cost more than the
# job. Locally nothing changes; its threads are capped by --local-cores there.
localrules:
    figures,
    figures_print,


# What both figure jobs draw from.
FIGURE_INPUTS = dict(
    config=stage_config("figures"),
    pooled=POOLED,
    # The analysis extracts (labels, years, risk-of-bias judgements), not the normalised
    # records: fixing a typo in a study's free text redraws no figure.
    studies=EXTRACTS,
    listed=STUDY_LISTS["extract"],
    screening=review_file("screening_records"),
    coverage=f"{RESULTS}/coverage/summary.json",
)
# ... what both pass to the command, and the command itself (each rule sets its formats and
# whether it records the SVGs its files go with).
FIGURE_PARAMS = dict(
    # Rerun when the code this job runs changes (stsmeta/code_digest.py).
    code=CODE["figures"],
    pool_dir=lambda w, input: parent_dir(input.pooled[0], 2),
    outdir=lambda w, output: parent_dir(output[0]),
    screening=lambda w, input: option("--screening", input.screening),
    # Figures kept by inputs' bytes, code and versions: inputs seen before are copied, not
    # drawn again (stsmeta.result_cache).
    cache=RESULT_CACHE["figures"],
)
FIGURES_COMMAND = (
    "python -m stsmeta figures --config {input.config} --pool-dir {params.pool_dir}"
    " --studies @{input.listed} --outdir {params.outdir} {params.screening}"
    " --coverage {input.coverage} --processes {threads} --cache {params.cache}"
    " --formats {params.formats} {params.record} > {log} 2>&1"
)


rule figures:
    """Forest, sensitivity, cumulative and risk-of-bias figures from the pooled results, and the
    coverage study's heat map, as SVG (the report inlines them)."""
    input:
        **FIGURE_INPUTS,
    output:
        [figure_output(stem) for stem in FIGURE_STEMS],
        coverage_figures(),
    log:
        f"{RESULTS}/logs/figures.log",
    priority: CRITICAL_PATH
    conda:
        CONDA_ENV
    # Figures are saved by parallel processes; Snakemake lowers this to the cores it was given.
    threads: 4
    resources:
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        **FIGURE_PARAMS,
        formats="svg",
        record="",
    shell:
        FIGURES_COMMAND


rule figures_print:
    """The same figures as PNG (300 dpi) and PDF, for a journal: on request (target
    `publication`) and for the archive. Drawn after the SVGs, whose checksums it records: a later
    run that redraws the SVGs removes these files (stsmeta.figures.print_state)."""
    input:
        **FIGURE_INPUTS,
        svgs=[*FIGURES, *coverage_figures()],
    output:
        figures=PRINT_FIGURES,
        record=PRINT_RECORD,
    log:
        f"{RESULTS}/logs/figures_print.log",
    conda:
        CONDA_ENV
    threads: 4
    resources:
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        **FIGURE_PARAMS,
        formats=" ".join(PRINT_FORMATS),
        record=lambda w, output: f"--print-record {output.record}",
    shell:
        FIGURES_COMMAND
