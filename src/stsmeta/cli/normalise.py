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
    """The configuration: the given file, else ./config.yaml if present, else None (defaults)."""
    from stsmeta.config import read_config as read

    if path is None:
        if not Path("config.yaml").is_file():
            return None
        path = "config.yaml"
    return read(path)


def run(args: argparse.Namespace) -> int:
    from stsmeta.evidence.studyfile import normalise_file

    normalise_file(args.raw, args.output, read_config(args.config))
    return 0
