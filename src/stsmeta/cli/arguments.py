"""Arguments shared by the commands that read the analysis results."""

from __future__ import annotations

import argparse


def add_analysis_inputs(parser: argparse.ArgumentParser) -> None:
    """--config, --pool-dir and --normalised-dir: what the figures and the report read."""
    parser.add_argument("--config", required=True, help="the analysis plan (config.yaml)")
    parser.add_argument("--pool-dir", required=True, help="directory of <outcome>/<scenario>.json")
    parser.add_argument(
        "--normalised-dir", required=True, help="directory of normalised study JSON"
    )
