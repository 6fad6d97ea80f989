"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

POOLED_FIXTURES = Path(__file__).parent / "fixtures" / "pooled"

# No test uses Slurm. Where the Slurm client and the `[slurm]` extra's executor plugin are
# installed but no controller answers (CI's machine keeps the packages its last run installed,
# with the daemons stopped), every Snakemake start waited 10-15 s for the plugin's `scontrol show
# config`, whatever the executor: the suite took 13 min there, 4 here. With an empty
# configuration scontrol fails at once and the plugin reads "no MinJobAge".
os.environ["SLURM_CONF"] = os.devnull


@pytest.fixture(scope="module")
def inputs():
    """The SYNTHETIC pooled-result fixtures as the figures and the report load them:
    ``(plan, pooled, studies)``."""
    from stsmeta.presentation.inputs import InputFiles, load_normalised, load_plan, load_pooled

    files = InputFiles()
    plan = load_plan(POOLED_FIXTURES / "config.yaml", files)
    pooled = load_pooled(POOLED_FIXTURES / "results" / "pool", plan, files)
    studies = load_normalised(
        sorted((POOLED_FIXTURES / "results" / "normalised").glob("*.json")), files
    )
    return plan, pooled, studies
