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
    config = read_config(args.config)
    problems = unread + validate_paths(files, config)
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
    if not args.files:
        # What the workflow refuses at start-up for the folder as a whole: an accepted folder
        # must run to the end.
        problems = _design_problems(files, config, args.config or "config.yaml")
        if problems:
            raise InputError(problems)
    return 0


def _design_problems(files: list[str], config, path: str) -> list:
    """The coverage study's design for the folder, as the workflow computes it at start-up
    (workflow/rules/common.smk): a problem when no study enters its analysis. The studies
    were checked already with this config: ``read_study`` finds them in its cache."""
    import json

    from stsmeta.coverage.design import design_text
    from stsmeta.coverage.plan import settings_from_config
    from stsmeta.errors import InputError
    from stsmeta.evidence.model import study_to_json
    from stsmeta.evidence.studyfile import read_study
    from stsmeta.pool.extract import extract_text

    if config is None:  # no config.yaml: nothing says what the coverage study simulates
        return []
    records = [json.loads(study_to_json(read_study(f, config))) for f in files]
    extracts = [json.loads(extract_text(r)) for r in records]
    try:
        coverage = settings_from_config(config, path)
        design_text(extracts, config, coverage.outcome, coverage.scenario, path)
    except InputError as exc:
        return list(exc.problems)
    return []
