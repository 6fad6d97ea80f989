"""``stsmeta validate [FILES...]``: check study files (and, by default, the screening records)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check study files against the schema, vocabularies and units",
        description=(
            "Check study files (default: every data/raw/*.yaml). Each problem is printed as "
            "'<file>: <field path>: <what is wrong, and what is allowed>'; exit status 2 if any."
        ),
    )
    parser.add_argument("files", nargs="*", help="study files (default: data/raw/*.yaml)")
    parser.add_argument(
        "--config", default=None, help="analysis plan for the plausible concentration range"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from stsmeta.cli.normalise import read_config
    from stsmeta.errors import InputError, Problem
    from stsmeta.evidence.screening import SCREENING_FILE, screening_problems
    from stsmeta.evidence.studyfile import (
        discover,
        label_clashes_with_folder,
        read_study,
        unread_files,
        validate_paths,
    )

    files = list(args.files) or [str(p) for p in discover("data/raw")]
    if not files:
        raise InputError(Problem("data/raw", "", "no study files (*.yaml) found"))
    # Without file arguments, the folder is checked as the workflow checks it.
    unread = [] if args.files else unread_files("data/raw")
    problems = unread + validate_paths(files, read_config(args.config))
    if args.files and not problems:
        # A file checked alone against the others of its folder, as the workflow will.
        problems = label_clashes_with_folder(files)
    if problems:
        raise InputError(problems)
    print(f"{len(files)} study file(s) valid")
    if not args.files and SCREENING_FILE.exists():
        # The whole evidence base: the screening records must agree with the study files.
        studies = {Path(f).stem: bool(read_study(f).outcomes) for f in files}
        problems = screening_problems(SCREENING_FILE, studies)
        if problems:
            raise InputError(problems)
        print(f"{SCREENING_FILE} valid")
    return 0
