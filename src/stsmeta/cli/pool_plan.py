"""The pool stage of the workflow: ``stsmeta pool --outcome O --scenario S --config CFG --out OUT
NORMALISED.json...`` applies the analysis plan (eligibility, scenario, methods, subgroups,
leave-one-out, cumulative by year) to normalised studies and writes the pooled JSON.

``--scenario`` and ``--out`` may be repeated in pairs: one job then pools every scenario of an
outcome from one reading of the studies (the workflow runs one job per outcome: a pooling job
spends most of its time starting Python and importing scipy)."""

from __future__ import annotations

import argparse
import sys

from stsmeta.cli.arguments import add_cache_argument


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    plan = parser.add_argument_group(
        "analysis plan (the workflow's pool stage; instead of --input)"
    )
    plan.add_argument(
        "--config",
        help="configuration: results/config/pool.json as the workflow writes it, or config.yaml",
    )
    plan.add_argument("--outcome", help="outcome name from the configuration's outcomes")
    plan.add_argument(
        "--scenario",
        action="append",
        help="scenario name (default primary); repeat it, each with its own --out",
    )
    plan.add_argument(
        "-o",
        "--out",
        action="append",
        help="output JSON (results/pool/<outcome>/<scenario>.json), one per --scenario",
    )
    plan.add_argument(
        "studies", nargs="*", metavar="NORMALISED.json", help="normalised studies (with --outcome)"
    )
    plan.add_argument(
        "--selection",
        metavar="SUMMARY.json",
        help="coverage summary whose recommendation is the primary method "
        "(config methods.selection: coverage)",
    )
    add_cache_argument(plan, "results/cache/pool")


def run_plan(args: argparse.Namespace) -> int:
    from stsmeta.errors import InputError, Problem
    from stsmeta.result_cache import copied_note, restore, store

    given = (("--config", args.config), ("--out", args.out))
    missing = [flag for flag, value in given if not value]
    if not args.studies:
        missing.append("NORMALISED.json")
    if missing:
        raise InputError(
            Problem("command line", ", ".join(missing), "required with --outcome; give them")
        )
    scenarios = args.scenario or ["primary"]
    if len(scenarios) != len(args.out):
        raise InputError(
            Problem(
                "command line",
                "--scenario, --out",
                f"{len(scenarios)} scenario(s) and {len(args.out)} output(s): give one --out "
                "per --scenario, in the same order",
            )
        )
    key = _cache_key(args, scenarios) if args.cache else None
    if key is not None and restore(args.cache, key, args.out):
        print(copied_note(args.cache, key), file=sys.stderr)
        return 0
    from stsmeta.config import read_config
    from stsmeta.selection import pooling_config, selection_rule

    given = read_config(args.config)
    summary = None
    if selection_rule(given) == "coverage" and args.selection is not None:
        import json

        try:
            with open(args.selection, encoding="utf-8") as fh:
                summary = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(Problem(args.selection, "", f"cannot be read: {exc}")) from None
    # What the start-up check of the certainty judgements computes too (expected_judged_sha256).
    config = pooling_config(given, summary, args.selection or args.config)
    from stsmeta.pool.analysis import analyse, read_extracts, write_json

    studies, checksums = read_extracts(args.studies)
    documents = [
        analyse(
            studies,
            config,
            args.outcome,
            scenario,
            input_sha256=checksums,
            config_file=args.config,
        )
        for scenario in scenarios
    ]
    # Written only once every scenario is pooled: a bad scenario leaves no half-written set.
    for out, document in zip(args.out, documents, strict=True):
        write_json(out, document)
    if key is not None and (warning := store(args.cache, key, args.out)):
        print(warning, file=sys.stderr)
    return 0


# The distributions whose versions can change a pooled number.
POOL_LIBRARIES = ("numpy", "scipy")


def _cache_key(args: argparse.Namespace, scenarios: list[str]) -> str | None:
    """The result cache's key of this pooling job: every file it reads and every option; None
    when a file cannot be read (the job then reports it as it would without a cache)."""
    from stsmeta.result_cache import file_sha256, job_key

    paths = [args.config, *([args.selection] if args.selection else []), *args.studies]
    try:
        files = [(str(path), file_sha256(path)) for path in paths]
    except OSError:
        return None
    options = {
        "outcome": args.outcome,
        "scenarios": scenarios,
        "outputs": [str(out) for out in args.out],
        "config": str(args.config),
        "selection": args.selection,
    }
    return job_key("pool", options, files, POOL_LIBRARIES)
