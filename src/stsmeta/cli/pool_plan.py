"""The pool stage of the workflow: ``stsmeta pool --outcome O --scenario S --config CFG --out OUT
NORMALISED.json...`` applies the analysis plan (eligibility, scenario, methods, subgroups,
leave-one-out, cumulative by year) to normalised studies and writes the pooled JSON."""

from __future__ import annotations

import argparse


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    plan = parser.add_argument_group(
        "analysis plan (the workflow's pool stage; instead of --input)"
    )
    plan.add_argument(
        "--config",
        help="configuration: results/config/pool.json as the workflow writes it, or config.yaml",
    )
    plan.add_argument("--outcome", help="outcome name from the configuration's outcomes")
    plan.add_argument("--scenario", default="primary", help="scenario name (default primary)")
    plan.add_argument("-o", "--out", help="output JSON (results/pool/<outcome>/<scenario>.json)")
    plan.add_argument(
        "studies", nargs="*", metavar="NORMALISED.json", help="normalised studies (with --outcome)"
    )


def run_plan(args: argparse.Namespace) -> int:
    from stsmeta.config import read_config
    from stsmeta.errors import InputError, Problem
    from stsmeta.evidence.model import read_normalised
    from stsmeta.pool.analysis import analyse, write_json

    missing = [
        flag for flag, value in (("--config", args.config), ("--out", args.out)) if value is None
    ]
    if not args.studies:
        missing.append("NORMALISED.json")
    if missing:
        raise InputError(
            Problem("command line", ", ".join(missing), "required with --outcome; give them")
        )
    config = read_config(args.config)
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
