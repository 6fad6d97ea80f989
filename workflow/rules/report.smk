import shlex
import sys


rule report:
    """The self-contained HTML report and its Markdown twin."""
    input:
        config=stage_config("report"),
        pooled=POOLED,
        studies=NORMALISED,
        listed=STUDY_LISTS["normalised"],
        tables=TABLES,
        figures=FIGURES,
        coverage=f"{RESULTS}/coverage/summary.json",
        coverage_figures=coverage_figures(),
        # The published archive to list the changes since: this version's own when the inputs
        # differ from it (its label then says unreleased changes), else the previous version's.
        previous=[str(RELEASE.compare_with)] if RELEASE.compare_with else [],
        screening=review_file("screening_records"),
        certainty=review_file("certainty"),
    output:
        html=report(
            f"{RESULTS}/report.html", caption="../report/report.rst", category="Report"
        ),
        md=f"{RESULTS}/report.md",
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        CONDA_ENV
    params:
        # Rerun when the code this job runs changes (stsmeta/code_digest.py).
        code=CODE["report"],
        pool_dir=lambda w, input: parent_dir(input.pooled[0], 2),
        tables_dir=lambda w, input: parent_dir(input.tables[0]),
        figures_dir=lambda w, input: parent_dir(input.figures[0]),
        previous=lambda w, input: (
            f"--previous {input.previous}" if input.previous else ""
        ),
        # "<version>+unreleased changes" and what changed, when the inputs differ from the
        # published archive of this version (RELEASE, common.smk).
        release=" ".join(
            shlex.quote(arg)
            for change in RELEASE.changes
            for arg in ("--unreleased-change", change)
        )
        + (f" --version-label {shlex.quote(RELEASE.label)}" if RELEASE.changes else "")
        + (
            f" --previous-unavailable {shlex.quote(RELEASE.previous_unavailable)}"
            if RELEASE.previous_unavailable
            else ""
        ),
        review=lambda w, input: " ".join(
            [
                option("--screening", input.screening),
                option("--certainty", input.certainty),
            ]
        ),
    shell:
        "python -m stsmeta report --config {input.config} --pool-dir {params.pool_dir}"
        " --studies @{input.listed} --tables {params.tables_dir}"
        " --figures-dir {params.figures_dir} --coverage {input.coverage} {params.previous}"
        " {params.review} {params.release}"
        " --html {output.html} --md {output.md} > {log} 2>&1"


rule report_pdf:
    """results/report.pdf, printed from the HTML by headless Chromium (print stylesheet)."""
    input:
        html=f"{RESULTS}/report.html",
    output:
        pdf=report(
            f"{RESULTS}/report.pdf",
            caption="../report/report_pdf.rst",
            category="Report",
        ),
    log:
        f"{RESULTS}/logs/report_pdf.log",
    # Chromium itself comes from the system (Debian's chromium), not from this environment.
    conda:
        CONDA_ENV
    params:
        # Rerun when the code this job runs changes (stsmeta/code_digest.py).
        code=CODE["report"],
        date=str(config["report"].get("date") or ""),
    shell:
        "python -m stsmeta report-pdf --html {input.html} --pdf {output.pdf}"
        " --date '{params.date}' > {log} 2>&1"
