rule pool:
    """Pool one outcome under one scenario with the primary and secondary methods."""
    input:
        config=stage_config("pool"),
        studies=NORMALISED,
    output:
        f"{RESULTS}/pool/{{outcome}}/{{scenario}}.json",
    log:
        f"{RESULTS}/logs/pool/{{outcome}}/{{scenario}}.log",
    conda:
        CONDA_ENV
    shell:
        "python -m stsmeta pool --config {input.config} --outcome {wildcards.outcome}"
        " --scenario {wildcards.scenario} --out {output} {input.studies} 2> {log}"
