# The coverage study (issue 6): simulate datasets with the primary analysis's design, fit every
# configured method, and measure how each interval behaves. One job per shard of replicates and
# method family, so that the study fans out over a cluster (profiles/slurm); the summary and the
# heat map gather them. A shard reruns when its coverage settings or its family's methods change
# (params) or when the design (the pooled result) is recomputed.
# Uses STSMETA, CONDA_ENV, CONFIG_FILE and RESULTS from common.smk.

import json as _coverage_json

from stsmeta.coverage import settings_from_config as _coverage_settings
from stsmeta.errors import InputError as _CoverageInputError

try:
    COVERAGE = _coverage_settings(config, CONFIG_FILE)
except _CoverageInputError as _exc:
    raise WorkflowError(f"Invalid coverage settings:\n{_exc}") from None

COVERAGE_DESIGN = f"{RESULTS}/pooled/{COVERAGE.outcome}/{COVERAGE.scenario}.json"
COVERAGE_SHARDS = [
    f"{RESULTS}/coverage/shards/{family}/{shard}.csv"
    for family in COVERAGE.families()
    for shard in range(COVERAGE.shards)
]
COVERAGE_FIGURES = expand(
    f"{RESULTS}/figures/coverage.{{ext}}", ext=["png", "svg", "pdf"]
)


def coverage_settings_of(family):
    """What a job reads from config.yaml (family None: all methods); a change of it reruns the job."""
    return _coverage_json.dumps(
        {
            "grid": [COVERAGE.proportions, COVERAGE.taus],
            "replicates": COVERAGE.replicates,
            "shards": COVERAGE.shards,
            "seed": COVERAGE.seed,
            "level": COVERAGE.level,
            "methods": (
                dict(COVERAGE.methods)
                if family is None
                else COVERAGE.methods_of(family)
            ),
        },
        sort_keys=True,
    )


localrules:
    coverage,


rule coverage:
    """The coverage study: summary table and JSON, and the heat map."""
    input:
        f"{RESULTS}/coverage/summary.csv",
        f"{RESULTS}/coverage/summary.json",
        COVERAGE_FIGURES,


rule coverage_shard:
    """Fit one method family's methods to one shard of replicates in every grid cell."""
    input:
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
        settings=lambda wildcards: coverage_settings_of(wildcards.family),
    shell:
        "{STSMETA} coverage-shard --config {CONFIG_FILE} --design {input.design}"
        " --family {wildcards.family} --shard {wildcards.shard} -o {output} 2> {log}"


rule coverage_summary:
    """Merge the shards: coverage, width, bias and failures per method and cell, with MC SEs."""
    input:
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
        settings=coverage_settings_of(None),
        max_failure_rate=COVERAGE.max_failure_rate,
    shell:
        "{STSMETA} coverage-summary --config {CONFIG_FILE} --design {input.design}"
        " --csv {output.csv} --json {output.json} {input.shards} 2> {log}"


rule coverage_figure:
    """The coverage heat map (one row per method, one column per grid cell)."""
    input:
        f"{RESULTS}/coverage/summary.json",
    output:
        COVERAGE_FIGURES,
    log:
        f"{RESULTS}/logs/coverage/figure.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    shell:
        "{STSMETA} coverage-figure {input} -o {output} 2> {log}"
