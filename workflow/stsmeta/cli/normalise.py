"""``stsmeta normalise RAW.yaml -o OUT.json``: one study file to its normalised JSON.

Nothing is written for a failing study: the JSON goes to a temporary file renamed into place only
on success, so an earlier result stays as it was.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "normalise",
        help="validate one study file and write its normalised JSON",
        description="Validate and normalise one study file into results/normalised/<study>.json.",
    )
    parser.add_argument("raw", help="study file, data/raw/<study-id>.yaml")
    parser.add_argument("-o", "--output", required=True, help="normalised JSON to write")
    parser.add_argument(
        "--config",
        default=None,
        help="analysis plan (config.yaml) giving plausible_concentration_mg_per_ml;"
        " default: ./config.yaml when present, else 10-400 mg/mL",
    )
    parser.set_defaults(func=run)


def read_config(path: str | None) -> dict[str, Any] | None:
    """The analysis plan as a dict: the given file, else ./config.yaml if present, else None."""
    from stsmeta.errors import InputError, Problem
    from stsmeta.studyfile import load_yaml

    if path is None:
        if not Path("config.yaml").is_file():
            return None
        path = "config.yaml"
    data, _ = load_yaml(path)
    if not isinstance(data, dict):
        raise InputError(Problem(path, "", "expected a mapping of settings"))
    return data


def normalise_file(raw: str, output: str, config: dict[str, Any] | None) -> None:
    """Validate and normalise one study file into ``output``; ``InputError`` when it is invalid.

    Also called in-process by the workflow's normalise rule: one Python process per study cost
    more than the normalisation itself (see docs/architecture.md, "Scale").
    """
    from stsmeta.model import study_to_json
    from stsmeta.studyfile import read_study
    from stsmeta.tables import write_atomically

    # read_study raises InputError with every problem of the file (for one file, the same list
    # validate_paths gives: duplicate ids need two files).
    study = read_study(raw, config)
    write_atomically(output, study_to_json(study))


def run(args: argparse.Namespace) -> int:
    normalise_file(args.raw, args.output, read_config(args.config))
    return 0
