"""``stsmeta report``: the self-contained HTML report and its Markdown twin."""

from __future__ import annotations

import argparse

from stsmeta.cli.arguments import add_analysis_inputs

HELP = """\
Write the summary report from the pooled results, tables, normalised studies and figures.

Reads, for every outcome O and scenario S of --config:
  <pool-dir>/O/S.json              (stsmeta pool --outcome)
  --studies NORMALISED.json...      (stsmeta normalise)
  <tables>/studies.csv, flags.csv, decisions.csv   (stsmeta tables)
  <figures-dir>/forest_O, sensitivity_O, cumulative_O, risk_of_bias (.png, and .svg when
                                     present: the HTML inlines the SVG)  (stsmeta figures)
  --coverage SUMMARY.json            optional: the coverage study (stsmeta coverage-summary);
                                     its heat map is <figures-dir>/coverage.svg/.png. Without
                                     it the report says the coverage study was not run.
  --previous ARCHIVE.tar.gz or DIR   optional: the previous version, for "Changes since the
                                     previous version" (stsmeta-results-<version>/pooled/...,
                                     .../normalised/...); without it the report says
                                     "First version".
Writes --html (self-contained: figures inlined as SVG, no script, no network) and --md (figures
linked by path relative to the Markdown file). No clock: the date is report.date in
config.yaml, else the latest publication year of the studies.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write results/report.html and results/report.md",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_analysis_inputs(parser)
    parser.add_argument("--tables", required=True, help="directory of studies/flags/decisions.csv")
    parser.add_argument("--figures-dir", required=True, help="directory of the figure PNGs")
    parser.add_argument("--html", required=True, help="HTML report to write")
    parser.add_argument("--md", required=True, help="Markdown report to write")
    parser.add_argument(
        "--coverage",
        default=None,
        help="summary JSON of the coverage study (optional)",
    )
    parser.add_argument(
        "--previous",
        default=None,
        help="previous results archive (.tar.gz) or directory (optional)",
    )
    parser.add_argument(
        "--version-label",
        default=None,
        help="the version to print when it is not report.version (set by the workflow)",
    )
    parser.add_argument(
        "--unreleased-change",
        dest="unreleased_changes",
        action="append",
        default=[],
        help="what differs from the published archive of this version (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stsmeta.report import write_report

    for path in write_report(
        config=args.config,
        pool_dir=args.pool_dir,
        normalised=args.studies,
        tables_dir=args.tables,
        figures_dir=args.figures_dir,
        html=args.html,
        md=args.md,
        previous=args.previous,
        coverage=args.coverage,
        version_label=args.version_label,
        unreleased_changes=tuple(args.unreleased_changes),
    ):
        print(path)
    return 0
