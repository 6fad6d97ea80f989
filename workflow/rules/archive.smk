# The archive is staged as a Snakemake output and then published by `stsmeta archive` to
# results/archive/, outside Snakemake's reach: Snakemake deletes a job's outputs before rerunning
# it, and a published archive must never be lost or overwritten.

ARCHIVE_ENV_FILES = ["envs/requirements.lock", "envs/stsmeta.yaml"]
WORKFLOW_FILES = sorted(
    ["Snakefile", "config.yaml", *map(str, Path("workflow/rules").glob("*.smk"))]
)


rule archive:
    """Pack the citable, byte-reproducible results archive and publish it."""
    input:
        all_outputs(),
        raw=expand(f"{STUDIES_DIR}/{{study}}.yaml", study=STUDIES),
        envs=ARCHIVE_ENV_FILES,
    output:
        f"{RESULTS}/archive/staging/stsmeta-results-{VERSION}.tar.gz",
    params:
        envs=" ".join(f"--lock {f}" for f in ARCHIVE_ENV_FILES),
        workflow=" ".join(f"--workflow-file {f}" for f in WORKFLOW_FILES),
        publish_dir=f"{RESULTS}/archive",
    log:
        f"{RESULTS}/logs/archive.log",
    conda:
        CONDA_ENV
    shell:
        "{STSMETA} archive --results {RESULTS} --config {CONFIG_FILE} --raw-dir {STUDIES_DIR}"
        " {params.envs} {params.workflow} --staging {output}"
        " --publish-dir {params.publish_dir} > {log} 2>&1"
