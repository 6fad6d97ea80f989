# The archive is staged as a Snakemake output and then published by `stsmeta archive` to
# results/archive/, outside Snakemake's reach: Snakemake deletes a job's outputs before rerunning
# it, and a published archive must never be lost or overwritten.


rule archive:
    """Pack the citable, byte-reproducible results archive and publish it."""
    input:
        all_outputs(),
        config=stage_config("archive"),
        config_files=CONFIG_FILES,
        raw=RAW_FILES,
        envs=ARCHIVE_ENV_FILES,
        workflow=[str(BASE / f) for f in WORKFLOW_FILES],
    output:
        f"{RESULTS}/archive/staging/stsmeta-results-{VERSION}.tar.gz",
    log:
        f"{RESULTS}/logs/archive.log",
    conda:
        CONDA_ENV
    params:
        results=lambda w, output: parent_dir(output[0], 3),
        raw_dir=lambda w, input: parent_dir(input.raw[0]),
        envs=lambda w, input: " ".join(f"--lock {f}" for f in input.envs),
        workflow=" ".join(f"--workflow-file {f}" for f in WORKFLOW_FILES),
        base=BASE,
        config_files=lambda w, input: " ".join(
            f"--config-file {f}" for f in input.config_files
        ),
        publish_dir=lambda w, output: parent_dir(output[0], 2),
    shell:
        "python -m stsmeta archive --results {params.results} --config {input.config}"
        " --raw-dir {params.raw_dir} {params.envs} {params.config_files}"
        " --workflow-base {params.base} {params.workflow} --staging {output}"
        " --publish-dir {params.publish_dir} > {log} 2>&1"
