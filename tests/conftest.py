"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

POOLED_FIXTURES = Path(__file__).parent / "fixtures" / "pooled"


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
