# Normalising a study takes milliseconds: never worth a cluster job. One job per study (adding
# a study normalises only that study), or, with thousands of studies, one per chunk (common.smk).
if not NORMALISE_CHUNKS:

    localrules:
        normalise,

    rule normalise:
        """Validate one study file and normalise it into analysis records.

        Runs in Snakemake's own process (threads, see profiles/default): a Python process per
        study cost ~0.2 s of CPU, minutes at 1,000 studies, against ~5 ms for the work itself.
        """
        input:
            raw=f"{STUDIES_DIR}/{{study}}.yaml",
            config=stage_config("normalise"),
        output:
            f"{RESULTS}/normalised/{{study}}.json",
        log:
            f"{RESULTS}/logs/normalise/{{study}}.log",
        params:
            # Rerun when the code this job runs changes (stsmeta/code_digest.py), or the file's
            # content does, whatever its time stamp (common.smk, RAW_SHA256).
            code=CODE["evidence"],
            source=lambda w: RAW_SHA256[w.study],
        run:
            normalise_in_workflow([input.raw], input.config, output, log[0])

else:
    for _chunk, _ids in NORMALISE_CHUNKS.items():

        rule:
            name:
                f"normalise_chunk_{_chunk}"
            input:
                raw=[f"{STUDIES_DIR}/{s}.yaml" for s in _ids],
                config=stage_config("normalise"),
            output:
                [f"{RESULTS}/normalised/{s}.json" for s in _ids],
            log:
                f"{RESULTS}/logs/normalise/chunk-{_chunk}.log",
            localrule: True
            params:
                code=CODE["evidence"],
                source=hashlib.sha256(
                    "".join(RAW_SHA256[s] for s in _ids).encode()
                ).hexdigest(),
            run:
                normalise_in_workflow(input.raw, input.config, output, log[0])


rule tables:
    """Gather every normalised study into the analysis tables."""
    input:
        studies=NORMALISED,
        listed=STUDY_LISTS["normalised"],
    output:
        [table_output(t) for t in TABLES],
    log:
        f"{RESULTS}/logs/tables.log",
    conda:
        CONDA_ENV
    params:
        # Rerun when the code this job runs changes (stsmeta/code_digest.py).
        code=CODE["evidence"],
        outdir=lambda w, output: parent_dir(output[0]),
    shell:
        "python -m stsmeta tables @{input.listed} --outdir {params.outdir} 2> {log}"


localrules:
    extract,


rule extract:
    """Write every study's analysis extract (what pooling and the figures read).

    The extracts are computed at start-up (common.smk); one job writes them all, and only when
    one of them changed (params), so that a typo in a study's free text reruns no analysis.
    """
    output:
        EXTRACTS,
    log:
        f"{RESULTS}/logs/extract.log",
    params:
        extracts=lambda w: extracts_digest(),
    run:
        write_extracts(output, log[0])


localrules:
    study_lists,


rule study_lists:
    """Write the lists of normalised studies and of extracts (rewritten when a study is added,
    removed or renamed), which the commands that read every study take as `@FILE`."""
    output:
        **STUDY_LISTS,
    log:
        f"{RESULTS}/logs/study_lists.log",
    params:
        studies=lambda w: hashlib.sha256(" ".join(STUDIES).encode()).hexdigest(),
    run:
        write_study_lists(dict(output.items()), log[0])


rule screening:
    """Check the screening records against the study files; write the PRISMA flow and records."""
    input:
        screening=SCREENING_FILE,
        # The extracts say which studies have outcome counts; a typo in a study's free text
        # changes no extract, so it reruns no screening check.
        extracts=EXTRACTS,
        listed=STUDY_LISTS["extract"],
    output:
        flow=f"{RESULTS}/tables/prisma_flow.json",
        records=table_output(f"{RESULTS}/tables/screening.csv"),
    log:
        f"{RESULTS}/logs/screening.log",
    conda:
        CONDA_ENV
    params:
        # Rerun when the code this job runs changes (stsmeta/code_digest.py).
        code=CODE["evidence"],
    shell:
        "python -m stsmeta screening {input.screening} @{input.listed}"
        " --flow {output.flow} --records {output.records} 2> {log}"
