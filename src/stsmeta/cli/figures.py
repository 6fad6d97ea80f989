"""``stsmeta figures``: every figure of the analysis plan, as PNG, SVG and PDF (or some of them)."""

from __future__ import annotations

import argparse
import sys

from stsmeta.cli.arguments import add_analysis_inputs, add_cache_argument
from stsmeta.outputs import FIGURE_FORMATS

HELP = """\
Draw the figures of the analysis plan from the pooled results and the normalised studies.

Reads, for every outcome O and scenario S of --config:
  <pool-dir>/O/S.json        (written by `stsmeta pool --outcome`)
  --studies NORMALISED.json...      (written by `stsmeta normalise`)
Writes, each as .png (300 dpi), .svg and .pdf (or the --formats given), byte-identical across
runs:
  <outdir>/forest_O.*          a row per study, subgroup diamonds, every method, PI, heterogeneity
  <outdir>/sensitivity_O.*     one row per scenario and per study left out, against the primary
  <outdir>/cumulative_O.*      the primary method as studies are added by publication year
  <outdir>/risk_of_bias.*      Murad 2018 questions by study
  <outdir>/prisma_flow.*       PRISMA 2020 flow diagram (from --screening when given)
  <outdir>/summary_forest.*    the primary outcome in percent, for the report's first screen
  <outdir>/coverage.*          with --coverage: the coverage study's heat map (300 dpi), the same
                               bytes as `stsmeta coverage-figure`
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "figures",
        help="draw forest, sensitivity, cumulative and risk-of-bias figures",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_analysis_inputs(parser)
    parser.add_argument("--outdir", required=True, help="where to write the figures")
    parser.add_argument(
        "--screening",
        default=None,
        help="screening records (data/screening/screening.yaml) for the PRISMA flow diagram",
    )
    parser.add_argument(
        "--coverage",
        default=None,
        metavar="SUMMARY.json",
        help="the coverage study's summary JSON (stsmeta coverage-summary): also draw its heat "
        "map, <outdir>/coverage.{png,svg,pdf}",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="processes that save figures in parallel (default: the CPUs available); "
        "the files are the same for any number",
    )
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=FIGURE_FORMATS,
        default=list(FIGURE_FORMATS),
        metavar="FORMAT",
        help="the formats to write (png, svg, pdf; default: all three). The workflow's default "
        "target writes svg; target `publication` and the archive png and pdf",
    )
    parser.add_argument(
        "--print-record",
        default=None,
        metavar="FILE",
        help="after writing, record in FILE what drew them (the code's checksum, the library "
        "versions) and the SHA-256 of each figure's SVG in --outdir (drawn by this run, or else "
        "required there, drawn from the same inputs): the workflow removes these files once "
        "either no longer matches (stsmeta.figures.print_state)",
    )
    add_cache_argument(parser, "results/cache/figures")
    parser.set_defaults(func=run)


def _cache_key(args: argparse.Namespace, files, formats: tuple[str, ...]) -> str:
    """The result cache's key of this figures job: every file it read (``files``, an
    ``InputFiles``) and every option but ``--processes`` (the files are the same for any
    number)."""
    from stsmeta.figures.print_state import FIGURE_LIBRARIES
    from stsmeta.result_cache import job_key

    options = {
        "config": str(args.config),
        "pool_dir": str(args.pool_dir),
        "studies": [str(s) for s in args.studies],
        "screening": args.screening,
        "coverage": args.coverage,
        "outdir": str(args.outdir),
        "formats": list(formats),
    }
    return job_key("figures", options, list(files.checksums.items()), FIGURE_LIBRARIES)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from stsmeta.errors import InputError, Problem
    from stsmeta.outputs import figure_stems
    from stsmeta.presentation.inputs import (
        InputFiles,
        load_normalised,
        load_plan,
        load_pooled,
        with_selected_primary,
    )
    from stsmeta.presentation.screening import load_screening

    files = InputFiles()
    plan = load_plan(args.config, files)
    pooled = load_pooled(args.pool_dir, plan, files)
    plan = with_selected_primary(plan, pooled)  # labels of the method the rule chose
    studies = load_normalised(args.studies, files)
    screening = load_screening(args.screening, files)
    coverage = files.read_json(args.coverage) if args.coverage else None
    stems = figure_stems(plan.outcomes) + (["coverage"] if coverage is not None else [])
    formats = tuple(fmt for fmt in FIGURE_FORMATS if fmt in args.formats)
    expected = [Path(args.outdir) / f"{stem}.{fmt}" for stem in stems for fmt in formats]
    svgs = [Path(args.outdir) / f"{stem}.svg" for stem in stems]
    # The record vouches for the SVGs of --outdir: drawn now, or by the job before (the
    # workflow's rule figures_print has them as inputs).
    drawn_now = "svg" in formats
    if args.print_record and not drawn_now and (missing := [s for s in svgs if not s.is_file()]):
        raise InputError(
            Problem(str(missing[0]), "", "not found: --print-record needs the SVGs drawn first")
        )
    key = None
    if args.cache:
        from stsmeta.result_cache import copied_note, restore

        key = _cache_key(args, files, formats)
        if restore(args.cache, key, expected):
            print(copied_note(args.cache, key), file=sys.stderr)
            _record(args.print_record, svgs)
            for path in expected:
                print(path)
            return 0
    # Imported only now: matplotlib's import is most of a cached job's time.
    from stsmeta.figures import default_processes, write_figures

    processes = args.processes if args.processes is not None else default_processes()
    written = write_figures(
        plan,
        pooled,
        studies,
        args.outdir,
        processes=max(1, processes),
        screening=screening,
        coverage=coverage,
        formats=formats,
    )
    if key is not None:
        from stsmeta.result_cache import store

        # Kept only when the job wrote what the cache will give back, in the same order.
        if [Path(p) for p in written] == expected and (warning := store(args.cache, key, written)):
            print(warning, file=sys.stderr)
    _record(args.print_record, svgs)
    for path in written:
        print(path)
    return 0


def _record(record: str | None, svgs: list) -> None:
    if record is not None:
        from stsmeta.figures.print_state import stamp, write_record

        write_record(record, svgs, stamp())
