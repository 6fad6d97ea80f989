# stsmeta: the whole DAG, from study files in data/raw/ to the report and the citable archive.
# `snakemake --cores 4` builds everything but the archive (the coverage study included, as the
# report shows it); `snakemake --cores 4 archive` packs the citable archive; `snakemake --cores 4
# coverage` runs the coverage study alone (see docs/cluster.md for SLURM).


import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# First, so that it imports what the jobs use while Snakemake reads this file and builds the DAG:
# a process that runs each job in a fork of itself (stsmeta.cli.job_server), when the jobs run here,
# by this Python and this stsmeta (common.smk's onstart decides).
from snakemake.settings.types import ExecMode
from stsmeta.cli import job_server

JOB_SERVER = (
    # A first run (no report yet) will run every job: all of their imports at once. Otherwise
    # common.smk asks for what its jobs use when it knows (stsmeta.cli.job_server.RULE_GROUPS).
    job_server.start(
        sys.argv,
        groups=(
            [] if Path("results/report.html").is_file() else list(job_server.PRELOAD)
        ),
    )
    if workflow.exec_mode == ExecMode.DEFAULT
    else None
)


# Before Snakemake parses config.yaml: limits on size, nesting and aliases (a hostile file
# crashed the parser). A --configfile is parsed by Snakemake before this file runs.
from stsmeta.config import check_config_file

# Every --configfile too: Snakemake has parsed them already (aliases cost nothing until the
# tree is walked, as the configuration check below would), and reads 010 as 8.
_yaml_problems = [
    problem
    for path in dict.fromkeys(["config.yaml", *map(str, workflow.configfiles)])
    for problem in check_config_file(path)
]
if _yaml_problems:
    # The message alone, exit status 1 (as common.smk's stop: no trail of our files and lines).
    print("\n".join(map(str, _yaml_problems)), file=sys.stderr)
    sys.exit(1)


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
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


# The PDF is printed on request (`snakemake --cores 4 pdf`): headless Chromium takes seconds,
# more than the rest of a typo's rerun, and the living-review loop reads the HTML.
rule pdf:
    input:
        lambda w: report_pdf_target(),


# What a journal asks for (`snakemake --cores 4 publication`): the figures as PNG (300 dpi) and
# PDF, beside the SVGs of the default target, and the report's PDF; with everything of the
# default target, so that none of it is older than the files made here (without a Chromium
# there is no PDF to pull the report along). The archive has the figures.
rule publication:
    input:
        all_outputs(),
        PRINT_FIGURES,
        lambda w: report_pdf_target(),


onsuccess:
    # Up to 1 s sooner at exit (stsmeta.scheduler_timers).
    cancel_rate_limit_timers()
    stop_job_server()
    # Where to look; Snakemake's own report is another file (README: results/snakemake-report.zip).
    if Path(RESULTS, "report.html").is_file():
        print(f"stsmeta: the report is {Path(RESULTS, 'report.html').resolve()}")
    try:
        # The PNG and PDF figures and the report's PDF set aside at the start come back if they
        # still match; the PDF and figures are settled, and the snapshot dropped (common.smk).
        end_of_run(succeeded=True)
    except KeyboardInterrupt:
        print(
            "stsmeta: interrupted as the run ended; the PNG and PDF figures and the report's "
            "PDF it set aside are put back, if they still match, by the next run that runs a job",
            file=sys.stderr,
        )
        # An archive packed by this run is published: say where, and what to commit.
        print_archive_outcome()
        sys.exit(130)
    print_archive_outcome()


# Last: what reading the workflow made (modules, rules, the studies' records) lives until the
# process ends. Frozen, the cyclic garbage collector never walks it again: not in the full
# collections of a long run, nor at exit, where that walk took 0.3 to 0.4 s of every run.
import gc

gc.freeze()
