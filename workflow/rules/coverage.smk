# The coverage study (issue 6): simulate datasets with the primary analysis's design, fit every
# configured method, and measure how each interval behaves. One job per shard of replicates and
# method family, so that the study fans out over a cluster (profiles/slurm); the summary gathers
# them. The heat map is drawn by rule figures (figures.smk), saved in its pool of processes with
# the other figures: one job fewer on the path from a new study to the report. A shard reruns
# when its coverage settings or its family's methods change (params) or when the design changes:
# results/coverage/design.json holds only the studies' ids and n of the analysis it simulates,
# and is rewritten only when they change.


localrules:
    coverage,
    coverage_design,


rule coverage_design:
    """Write the design the coverage study simulates (computed at start-up, common.smk)."""
    output:
        COVERAGE_DESIGN,
    log:
        f"{RESULTS}/logs/coverage/design.log",
    params:
        design=COVERAGE_DESIGN_TEXT,
    run:
        write_effective(output[0], params.design, log[0])


rule coverage:
    """The coverage study: summary table and JSON, and the heat map (drawn by rule figures)."""
    input:
        f"{RESULTS}/coverage/summary.csv",
        f"{RESULTS}/coverage/summary.json",
        coverage_figures(),


rule coverage_shard:
    """Fit one method family's methods to one shard of replicates in every grid cell."""
    input:
        config=stage_config("coverage"),
        design=COVERAGE_DESIGN,
    output:
        f"{RESULTS}/coverage/shards/{{family}}/{{shard}}.csv",
    log:
        f"{RESULTS}/logs/coverage/{{family}}/{{shard}}.log",
    wildcard_constraints:
        family="[a-z0-9_]+",
        shard="[0-9]+",
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
        # A shard reruns when its own family's settings change, not another family's.
        settings=lambda w: COVERAGE.fingerprint(w.family),
        # Shards fitted before, keyed by design, settings and code: a design seen before is
        # copied, never simulated twice (stsmeta.coverage.cache).
        cache=f"{RESULTS}/coverage/cache",
    shell:
        "python -m stsmeta coverage-shard --config {input.config} --design {input.design}"
        " --family {wildcards.family} --shard {wildcards.shard} --cache {params.cache}"
        " -o {output} 2> {log}"


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
