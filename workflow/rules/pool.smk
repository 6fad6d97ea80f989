rule analyse:
    """Pool one outcome under one scenario with the primary and secondary methods."""
    input:
        studies=NORMALISED,
    output:
        f"{RESULTS}/pooled/{{outcome}}/{{scenario}}.json",
    log:
        f"{RESULTS}/logs/analyse/{{outcome}}/{{scenario}}.log",
    conda:
        CONDA_ENV
    params:
        config=CONFIG_FILE,
        # Only the parts of the plan this job reads: editing the report title reruns nothing here.
        plan=lambda w: plan_fingerprint(config, w.outcome, w.scenario),
    shell:
        "python -m stsmeta analyse --config {params.config} --outcome {wildcards.outcome}"
        " --scenario {wildcards.scenario} --out {output} {input.studies} 2> {log}"
