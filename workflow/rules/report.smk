from stsmeta.archive import previous_archive

# The archive published before this version, if any: the report says what changed since then.
PREVIOUS_ARCHIVE = previous_archive(Path(RESULTS) / "archive", VERSION)


rule report:
    """The self-contained HTML report and its Markdown twin."""
    input:
        config=CONFIG_FILE,
        pooled=pooled_files(),
        studies=normalised_files(),
        tables=TABLES,
        figures=FIGURES,
        previous=[str(PREVIOUS_ARCHIVE)] if PREVIOUS_ARCHIVE else [],
    output:
        html=report(
            f"{RESULTS}/report.html", caption="../report/report.rst", category="Report"
        ),
        md=f"{RESULTS}/report.md",
    params:
        pooled_dir=f"{RESULTS}/pooled",
        normalised_dir=f"{RESULTS}/normalised",
        tables_dir=f"{RESULTS}/tables",
        figures_dir=f"{RESULTS}/figures",
        previous=f"--previous {PREVIOUS_ARCHIVE}" if PREVIOUS_ARCHIVE else "",
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        CONDA_ENV
    shell:
        "{STSMETA} report --config {input.config} --pooled-dir {params.pooled_dir}"
        " --normalised-dir {params.normalised_dir} --tables {params.tables_dir}"
        " --figures-dir {params.figures_dir} {params.previous}"
        " --html {output.html} --md {output.md} > {log} 2>&1"
