# The effective configuration: what Snakemake merged from config.yaml, --configfile and --config,
# validated at start (common.smk). One file per stage holds the part that stage reads; a job takes
# its stage's file as a declared input, so a changed setting reruns exactly the stages that read
# it (params: the file is rewritten only when its content changes).


localrules:
    config,


rule config:
    """Write the part of the effective configuration that one stage reads."""
    output:
        f"{RESULTS}/config/{{stage}}.json",
    log:
        f"{RESULTS}/logs/config/{{stage}}.log",
    wildcard_constraints:
        stage="|".join(CONFIG_STAGES),
    params:
        content=lambda w: effective_config(config, w.stage),
    run:
        write_effective(output[0], params.content, log[0])
