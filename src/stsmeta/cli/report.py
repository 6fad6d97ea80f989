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
  <figures-dir>/forest_O, sensitivity_O, cumulative_O, risk_of_bias .svg (the HTML inlines
                                     them, the Markdown links them)  (stsmeta figures)
  --coverage SUMMARY.json            optional: the coverage study (stsmeta coverage-summary);
                                     its heat map is <figures-dir>/coverage.svg. Without
                                     it the report says the coverage study was not run.
  --screening RECORDS.yaml           optional: the screening records (PRISMA flow, information
                                     sources, excluded and ongoing studies)
  --certainty CERTAINTY.yaml         optional: GRADE judgements with reasons (schema
                                     stsmeta/schemas/certainty.schema.yaml); checked, never computed
  --previous ARCHIVE.tar.gz          optional: the previous version, for "Changes since the
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
    parser.add_argument("--figures-dir", required=True, help="directory of the figure SVGs")
    parser.add_argument("--html", required=True, help="HTML report to write")
    parser.add_argument("--md", required=True, help="Markdown report to write")
    parser.add_argument(
        "--coverage",
        default=None,
        help="summary JSON of the coverage study (optional)",
    )
    parser.add_argument("--screening", default=None, help="screening records YAML (optional)")
    parser.add_argument(
        "--certainty", default=None, help="certainty of the evidence (GRADE) YAML (optional)"
    )
    parser.add_argument(
        "--previous",
        default=None,
        help="previous results archive (.tar.gz, verified before use; optional)",
    )
    parser.add_argument(
        "--previous-unavailable",
        default=None,
        metavar="VERSION",
        help="a version published before this one whose archive is not available (optional)",
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
    register_pdf(subparsers)


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
        screening=args.screening,
        certainty=args.certainty,
        version_label=args.version_label,
        unreleased_changes=tuple(args.unreleased_changes),
        previous_unavailable=args.previous_unavailable,
    ):
        print(path)
    return 0


PDF_HELP = """\
Print the HTML report to PDF with headless Chromium (Debian's `chromium`, or the binary named by
$STSMETA_CHROMIUM), using the report's print stylesheet: A4, running title, "Page N of M",
figures and table rows kept whole. The PDF's dates are set to --date (report.date in
config.yaml), so that a rebuild gives the same file. Exit status 3, with a message saying how to
install Chromium, when none is found.
"""


def register_pdf(subparsers) -> None:
    parser = subparsers.add_parser(
        "report-pdf",
        help="print results/report.html to results/report.pdf (headless Chromium)",
        description=PDF_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--html", required=True, help="the HTML report")
    parser.add_argument("--pdf", required=True, help="the PDF to write")
    parser.add_argument("--date", default="", help="date written into the PDF (YYYY-MM-DD)")
    parser.set_defaults(func=run_pdf)


def run_pdf(args: argparse.Namespace) -> int:
    import sys

    from stsmeta.report.pdf import ChromiumMissing, print_pdf

    try:
        print(print_pdf(args.html, args.pdf, date=args.date))
    except ChromiumMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
