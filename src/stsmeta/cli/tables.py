"""``stsmeta tables NORMALISED.json... --outdir DIR``: the analysis tables."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tables",
        help="write studies, patients, flags, decisions, harms and risk_of_bias CSV tables",
        description="Build the analysis tables from normalised study JSON files.",
    )
    parser.add_argument("normalised", nargs="+", help="results/normalised/<study>.json files")
    parser.add_argument("--outdir", required=True, help="directory for the CSV files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from stsmeta.errors import InputError, Problem
    from stsmeta.evidence.model import load_study
    from stsmeta.evidence.tables import build_tables, write_atomically

    studies, problems, seen = [], [], {}
    for path in args.normalised:
        try:
            study = load_study(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(
                Problem(
                    path, "", f"not a normalised study ({exc}); rebuild it with 'stsmeta normalise'"
                )
            )
            continue
        if study.study_id in seen:
            problems.append(
                Problem(
                    path,
                    "study_id",
                    f"duplicate study id {study.study_id!r}, also in {seen[study.study_id]}",
                )
            )
            continue
        seen[study.study_id] = path
        studies.append(study)
    if problems:
        raise InputError(problems)
    # Build every table before writing any, so that a failure leaves the old tables intact.
    tables = build_tables(studies)
    for name, text in sorted(tables.items()):
        write_atomically(Path(args.outdir) / name, text)
    return 0
