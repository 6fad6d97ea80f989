rule analyse:
    """Pool one outcome under one scenario with the primary and secondary methods."""
    input:
        studies=normalised_files(),
    output:
        f"{RESULTS}/pooled/{{outcome}}/{{scenario}}.json",
    params:
        # Only the parts of the plan this job reads: editing the report title reruns nothing here.
        plan=lambda w: plan_fingerprint(config, w.outcome, w.scenario),
    log:
        f"{RESULTS}/logs/analyse/{{outcome}}/{{scenario}}.log",
    conda:
        CONDA_ENV
    shell:
        "{STSMETA} analyse --config {CONFIG_FILE} --outcome {wildcards.outcome}"
        " --scenario {wildcards.scenario} --out {output} {input.studies} 2> {log}"
