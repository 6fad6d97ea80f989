TABLES = expand(
    f"{RESULTS}/tables/{{table}}.csv",
    table=["studies", "patients", "flags", "decisions"],
)


rule normalise:
    """Validate one study file and normalise it into analysis records."""
    input:
        raw=f"{STUDIES_DIR}/{{study}}.yaml",
    output:
        f"{RESULTS}/normalised/{{study}}.json",
    params:
        # A change of the plausible range reruns every study's normalisation (its flags may change).
        plausible=config["plausible_concentration_mg_per_ml"],
    log:
        f"{RESULTS}/logs/normalise/{{study}}.log",
    conda:
        CONDA_ENV
    shell:
        "{STSMETA} normalise {input.raw} --config {CONFIG_FILE} -o {output} 2> {log}"


rule tables:
    """Gather every normalised study into the analysis tables."""
    input:
        normalised_files(),
    output:
        TABLES,
    params:
        outdir=f"{RESULTS}/tables",
    log:
        f"{RESULTS}/logs/tables.log",
    conda:
        CONDA_ENV
    shell:
        "{STSMETA} tables {input} --outdir {params.outdir} 2> {log}"
