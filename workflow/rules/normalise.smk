rule normalise:
    """Validate one study file and normalise it into analysis records."""
    input:
        raw=f"{STUDIES_DIR}/{{study}}.yaml",
    output:
        f"{RESULTS}/normalised/{{study}}.json",
    log:
        f"{RESULTS}/logs/normalise/{{study}}.log",
    conda:
        CONDA_ENV
    params:
        config=CONFIG_FILE,
        # A change of the plausible range reruns every study's normalisation (its flags may change).
        plausible=config["plausible_concentration_mg_per_ml"],
    shell:
        "python -m stsmeta normalise {input.raw} --config {params.config} -o {output} 2> {log}"


rule tables:
    """Gather every normalised study into the analysis tables."""
    input:
        NORMALISED,
    output:
        [table_output(t) for t in TABLES],
    log:
        f"{RESULTS}/logs/tables.log",
    conda:
        CONDA_ENV
    params:
        outdir=lambda w, output: parent_dir(output[0]),
    shell:
        "python -m stsmeta tables {input} --outdir {params.outdir} 2> {log}"
