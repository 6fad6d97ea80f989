rule pool:
    """Pool one outcome under every scenario with the primary and secondary methods.

    One job per outcome: a pooling job spent most of its time starting Python and importing
    scipy. Its inputs are the studies' analysis extracts, not their normalised records.
    """
    input:
        config=stage_config("pool"),
        studies=EXTRACTS,
        listed=STUDY_LISTS["extract"],
        selection=PRIMARY_SELECTION,
    output:
        expand(f"{RESULTS}/pool/{{{{outcome}}}}/{{scenario}}.json", scenario=SCENARIOS),
    log:
        f"{RESULTS}/logs/pool/{{outcome}}.log",
    priority: CRITICAL_PATH
    conda:
        CONDA_ENV
    params:
        # Rerun when the code this job runs changes (stsmeta/code_digest.py).
        code=CODE["pool"],
        scenarios=lambda w, output: " ".join(
            f"--scenario {s} --out {o}" for s, o in zip(SCENARIOS, output)
        ),
        selection=lambda w, input: (
            f"--selection {input.selection}" if input.selection else ""
        ),
        # Outputs kept by inputs' bytes, code and versions: studies seen before (one added,
        # removed, added back) are copied, not pooled again (stsmeta.result_cache).
        cache=RESULT_CACHE["pool"],
    shell:
        "python -m stsmeta pool --config {input.config} --outcome {wildcards.outcome}"
        " {params.scenarios} {params.selection} --cache {params.cache} @{input.listed} 2> {log}"
