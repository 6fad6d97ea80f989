"""Arguments shared by the commands that read the analysis results."""

from __future__ import annotations

import argparse


def add_analysis_inputs(parser: argparse.ArgumentParser) -> None:
    """--config, --pool-dir and --studies: what the figures and the report read."""
    parser.add_argument(
        "--config",
        required=True,
        help="configuration: results/config/<stage>.json as the workflow writes it, or config.yaml",
    )
    parser.add_argument("--pool-dir", required=True, help="directory of <outcome>/<scenario>.json")
    parser.add_argument(
        "--studies",
        required=True,
        nargs="+",
        metavar="NORMALISED.json",
        help="the normalised studies (each file named: a removed study's stale file is not read)",
    )


def add_cache_argument(parser, folder: str) -> None:
    """--cache DIR (stsmeta.result_cache) on a parser or argument group; ``folder`` is where the
    workflow keeps it."""
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="keep the outputs in DIR by what decides them (inputs' bytes, options, code, "
        "library versions) and copy them from there when the same inputs come again "
        f"(stsmeta.result_cache; the workflow: {folder})",
    )
