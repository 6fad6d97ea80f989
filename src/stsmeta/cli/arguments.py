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
