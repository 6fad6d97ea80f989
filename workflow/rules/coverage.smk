# The coverage study (issue 6): simulate datasets with the primary analysis's design, fit every
# configured method, and measure how each interval behaves. One job per shard of replicates (it
# fits every method family, simulating the replicates once, and writes one file per family), so
# that the study fans out over the cores or a cluster (profiles/slurm); the summary gathers them.
# The heat map is drawn by rule figures (figures.smk), with the other figures: one job fewer on
# the path from a new study to the report. A shard reruns when the coverage settings change
# (params; the families whose settings did not change are copied from the cache) or when the
# design changes: results/coverage/design.json holds only the studies' ids and n of the analysis
# it simulates, and is rewritten only when they change.


localrules:
    coverage,
    coverage_design,


rule coverage_design:
    """Write the design the coverage study simulates (computed at start-up, common.smk)."""
    output:
        COVERAGE_DESIGN,
    log:
        f"{RESULTS}/logs/coverage/design.log",
    priority: CRITICAL_PATH
    params:
        design=COVERAGE_DESIGN_TEXT,
    run:
        write_effective(output[0], params.design, log[0])


rule coverage:
    """The coverage study alone: summary table and JSON (the heat map comes with the figures of
    the default target: drawing it here would pool every outcome first)."""
    input:
        f"{RESULTS}/coverage/summary.csv",
        f"{RESULTS}/coverage/summary.json",


rule coverage_shard:
    """Fit every method family to one shard of replicates in every grid cell."""
    input:
        config=stage_config("coverage"),
        design=COVERAGE_DESIGN,
    output:
        [
            f"{RESULTS}/coverage/shards/{family}/{{shard}}.csv"
            for family in COVERAGE.families()
        ],
    log:
        f"{RESULTS}/logs/coverage/shard-{{shard}}.log",
    wildcard_constraints:
        shard="[0-9]+",
    priority: CRITICAL_PATH
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
        cpus_per_task=1,
    params:
        # Rerun when the code this job runs changes (stsmeta/code_digest.py).
        code=CODE["coverage"],
        # A function: labels may hold braces, which Snakemake would read as wildcards.
        settings=lambda w: COVERAGE.fingerprint(),
        # Shards fitted before, keyed by design, settings and code, one entry per family: a
        # design seen before is copied, never simulated twice, and a rerun for one family's
        # changed settings refits that family only (stsmeta.coverage.cache).
        cache=f"{RESULTS}/coverage/cache",
        families=lambda w, output: " ".join(
            f"--family {Path(out).parent.name} -o {out}" for out in output
        ),
    shell:
        "python -m stsmeta coverage-shard --config {input.config} --design {input.design}"
        " --shard {wildcards.shard} {params.families} --cache {params.cache} 2> {log}"


rule coverage_summary:
    """Merge the shards: coverage, width, bias and failures per method and cell, with MC SEs."""
    input:
        config=stage_config("coverage"),
        design=COVERAGE_DESIGN,
        shards=COVERAGE_SHARDS,
    output:
        csv=f"{RESULTS}/coverage/summary.csv",
        json=f"{RESULTS}/coverage/summary.json",
    log:
        f"{RESULTS}/logs/coverage/summary.log",
    priority: CRITICAL_PATH
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    params:
        # Rerun when the code this job runs changes (stsmeta/code_digest.py).
        code=CODE["coverage"],
    shell:
        "python -m stsmeta coverage-summary --config {input.config} --design {input.design}"
        " --csv {output.csv} --json {output.json} {input.shards} 2> {log}"
