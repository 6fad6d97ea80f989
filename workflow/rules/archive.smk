# The archive is staged as a Snakemake output and then published by `stsmeta archive` to
# results/archive/, outside Snakemake's reach: Snakemake deletes a job's outputs before rerunning
# it, and a published archive must never be lost or overwritten. Publishing records the archive
# in archives.lock in the working directory, next to config.yaml (commit it).
#
# The archive takes only declared inputs: the result files the workflow makes (never a folder of
# results/), the study files, the configuration, and what reruns the workflow from the archive
# alone (its files, the stsmeta package source, the lock), found from the workflow's base
# directory so that the target works from any working directory.

from stsmeta.archive import git_commit

# Relative to BASE, as the archive stores them.
REPRODUCTION_FILES = sorted(
    {
        "Snakefile",
        "pyproject.toml",
        "envs/requirements.lock",
        "envs/stsmeta.yaml",
        *(
            p.relative_to(BASE).as_posix()
            for pattern in (
                "workflow/rules/*.smk",
                "workflow/report/*.rst",
                "workflow/schemas/*.yaml",
                "profiles/default/*.yaml",
            )
            for p in BASE.glob(pattern)
            if p.is_file()
        ),
    }
)
# What the archive stores of results/: everything `snakemake` builds but the per-stage configs,
# shards and logs (the archive has the effective configuration as config.effective.json).
ARCHIVED_RESULTS = [
    *NORMALISED,
    *TABLES,
    *POOLED,
    *FIGURES,
    *coverage_figures(),
    # Drawn for the archive if not on request before (rule figures_print): what a journal asks,
    # and the record that vouches for them (without it, a run in the unpacked archive would
    # remove them as unconfirmed).
    *PRINT_FIGURES,
    PRINT_RECORD,
    f"{RESULTS}/coverage/summary.csv",
    f"{RESULTS}/coverage/summary.json",
    f"{RESULTS}/report.html",
    f"{RESULTS}/report.md",
    # The previous version the report compared with, so that a rerun from the archive does too.
    *([str(PREVIOUS_ARCHIVE)] if PREVIOUS_ARCHIVE else []),
]
# The other data files the report reads (review.screening_records, review.certainty).
ARCHIVED_DATA = REVIEW_DATA_FILES
# A changed commit rebuilds the archive (params are a rerun trigger).
SOURCE_VERSION = git_commit(BASE)


# The archive command's file arguments, one a line: thousands of study files exceed what one
# command line holds, so the command reads them as `@FILE` (rule archive_arguments).
ARCHIVE_ARGUMENTS = "".join(
    f"{flag}\n{value}\n"
    for flag, values in (
        ("--result", ARCHIVED_RESULTS),
        ("--raw", RAW_FILES),
        ("--config-file", CONFIG_FILES),
        ("--data", ARCHIVED_DATA),
        ("--workflow-file", REPRODUCTION_FILES),
        ("--package-file", PACKAGE_FILES),
    )
    for value in values
)


localrules:
    archive_arguments,


rule archive_arguments:
    """Write the archive command's list of files (rewritten when the list changes)."""
    output:
        f"{RESULTS}/lists/archive.txt",
    log:
        f"{RESULTS}/logs/archive_arguments.log",
    params:
        digest=hashlib.sha256(ARCHIVE_ARGUMENTS.encode()).hexdigest(),
    run:
        write_effective(output[0], ARCHIVE_ARGUMENTS, log[0])


rule archive:
    """Pack the citable, byte-reproducible results archive and publish it."""
    input:
        arguments=f"{RESULTS}/lists/archive.txt",
        results=ARCHIVED_RESULTS,
        config=stage_config("archive"),
        config_files=CONFIG_FILES,
        raw=RAW_FILES,
        data=ARCHIVED_DATA,
        reproduction=[str(BASE / f) for f in REPRODUCTION_FILES],
        package=[str(PACKAGE_DIR / f) for f in PACKAGE_FILES],
        # The previous version's entry is stored with its archive.
        lock=[str(ARCHIVE_LOCK)] if PREVIOUS_ARCHIVE else [],
    output:
        f"{RESULTS}/archive/staging/stsmeta-results-{VERSION}.tar.gz",
    log:
        f"{RESULTS}/logs/archive.log",
    conda:
        CONDA_ENV
    params:
        results=lambda w, output: parent_dir(output[0], 3),
        base=BASE,
        package_dir=PACKAGE_DIR,
        lock=ARCHIVE_LOCK,
        source_version=SOURCE_VERSION,
        publish_dir=lambda w, output: parent_dir(output[0], 2),
    shell:
        "python -m stsmeta archive @{input.arguments} --config {input.config}"
        " --results {params.results} --workflow-base {params.base}"
        " --package-dir {params.package_dir} --source-version {params.source_version:q}"
        " --lock {params.lock} --staging {output} --publish-dir {params.publish_dir}"
        " > {log} 2>&1"
