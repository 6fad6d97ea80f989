"""``stsmeta analyse``: pool one outcome under one scenario of the analysis plan."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyse",
        help="pool one outcome under one scenario of config.yaml",
        description=(
            "Apply the analysis plan (eligibility, scenario, methods, subgroups, leave-one-out, "
            "cumulative by year) to normalised studies and write the pooled JSON."
        ),
    )
    parser.add_argument("--config", default="config.yaml", help="the analysis plan (config.yaml)")
    parser.add_argument("--outcome", required=True, help="outcome name from config.yaml outcomes")
    parser.add_argument(
        "--scenario", default="primary", help="scenario name from config.yaml scenarios"
    )
    parser.add_argument(
        "-o", "--out", required=True, help="output JSON (results/pooled/<outcome>/<scenario>.json)"
    )
    parser.add_argument("studies", nargs="+", metavar="NORMALISED.json", help="normalised studies")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stsmeta.analysis import analyse, read_normalised, write_json
    from stsmeta.config import require_config

    config = require_config(args.config)
    studies, checksums = read_normalised(args.studies)
    document = analyse(
        studies,
        config,
        args.outcome,
        args.scenario,
        input_sha256=checksums,
        config_file=args.config,
    )
    write_json(args.out, document)
    return 0
