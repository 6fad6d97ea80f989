# stsmeta: the whole DAG, from study files in data/raw/ to the report and the citable archive.
# `snakemake --cores 4` builds everything but the archive (the coverage study included, as the
# report shows it); `snakemake --cores 4 archive` packs the citable archive; `snakemake --cores 4
# coverage` runs the coverage study alone (see docs/cluster.md for SLURM).


import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# `snakemake --report results/report.html` would overwrite our report with Snakemake's own:
# refuse, and name the file to use instead (README: results/snakemake-report.zip).
def snakemake_report_target(argv):
    for i, arg in enumerate(argv):
        if arg.startswith("--report="):
            return arg.split("=", 1)[1]
        if arg == "--report" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            return argv[i + 1]
    return None


_SNAKEMAKE_REPORT = snakemake_report_target(sys.argv)
if _SNAKEMAKE_REPORT and Path(_SNAKEMAKE_REPORT).resolve() in {
    Path(RESULTS, name).resolve() for name in ("report.html", "report.md", "report.pdf")
}:
    raise WorkflowError(
        f"--report {_SNAKEMAKE_REPORT} would overwrite the stsmeta report; write Snakemake's "
        "report elsewhere: snakemake --report results/snakemake-report.zip"
    )


include: "workflow/rules/config.smk"
include: "workflow/rules/evidence.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/coverage.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/archive.smk"
include: "workflow/rules/clean.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
        report_pdf_target(),


onsuccess:
    # Where to look; Snakemake's own report is another file (README: results/snakemake-report.zip).
    if Path(RESULTS, "report.html").is_file():
        print(f"stsmeta: the report is {Path(RESULTS, 'report.html').resolve()}")
        if Path(RESULTS, "report.pdf").is_file():
            print(f"stsmeta: its PDF is {Path(RESULTS, 'report.pdf').resolve()}")
