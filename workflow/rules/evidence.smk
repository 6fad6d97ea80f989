# Normalising a study takes milliseconds: never worth a cluster job.
localrules:
    normalise,


rule normalise:
    """Validate one study file and normalise it into analysis records.

    Runs in Snakemake's own process (threads, see profiles/default): a Python process per study
    cost ~0.2 s of CPU, minutes at 1,000 studies, against ~5 ms for the normalisation itself.
    """
    input:
        raw=f"{STUDIES_DIR}/{{study}}.yaml",
        config=stage_config("normalise"),
    output:
        f"{RESULTS}/normalised/{{study}}.json",
    log:
        f"{RESULTS}/logs/normalise/{{study}}.log",
    run:
        normalise_in_workflow(input.raw, input.config, output[0], log[0])


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


rule screening:
    """Check the screening records against the study files; write the PRISMA flow and records."""
    input:
        screening=SCREENING_FILE,
        normalised=NORMALISED,
    output:
        flow=f"{RESULTS}/tables/prisma_flow.json",
        records=table_output(f"{RESULTS}/tables/screening.csv"),
    log:
        f"{RESULTS}/logs/screening.log",
    conda:
        CONDA_ENV
    shell:
        "python -m stsmeta screening {input.screening} {input.normalised}"
        " --flow {output.flow} --records {output.records} 2> {log}"
