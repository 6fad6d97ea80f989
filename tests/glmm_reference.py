"""What tests/test_stats_glmm_restart.py and tests/test_stats_glmm_ascent.py share: metafor's
references (tests/reference/metafor_reference_glmm_*.json) and the one yardstick both fits are
judged by, the marginal log-likelihood on many more adaptive nodes than either fit uses.
tests/test_stats_glmm_reg_ascent.py (the meta-regression) reads its references and the number of
nodes from here too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stsmeta.stats.api import pool
from stsmeta.stats.glmm import marginal_loglik

NODES = 201


def datasets(name: str) -> dict:
    """The datasets of tests/reference/metafor_reference_glmm_<name>.json, by name."""
    path = Path(__file__).parent / "reference" / f"metafor_reference_glmm_{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))["datasets"]


def loglik(x, n, mu, tau2) -> float:
    rows = (np.array([x], dtype=float), np.array([n], dtype=float))
    return float(marginal_loglik(*rows, np.array([mu]), np.array([np.sqrt(tau2)]), NODES).sum())


def fit(ref: dict):
    """stsmeta's GLMM of a reference dataset, and its mu (logit of the estimate)."""
    ours = pool(ref["x"], ref["n"], method="glmm")
    return ours, float(np.log(ours.estimate / (1 - ours.estimate)))


def gap(ref: dict, ours, mu: float) -> float:
    """stsmeta's log-likelihood above that of metafor's fit (both on the yardstick)."""
    x, n = ref["x"], ref["n"]
    return loglik(x, n, mu, ours.tau2) - loglik(x, n, ref["mu"], ref["tau2"])


def assert_never_below_and_alike_at_the_same_maximum(name: str, ref: dict) -> None:
    assert not ref["error"]
    ours, mu = fit(ref)
    above = gap(ref, ours, mu)
    assert above >= -1e-6, (name, above)
    if above < 1e-6:  # the same maximum
        for key in ("estimate", "ci_low", "ci_high", "tau2"):
            assert getattr(ours, key) == pytest.approx(ref[key], rel=1e-4, abs=1e-4), key


def kinds(refs: dict) -> tuple[int, int]:
    """How many datasets both fits take to the same maximum, and where metafor stops lower."""
    same = below = 0
    for ref in refs.values():
        ours, mu = fit(ref)
        above = gap(ref, ours, mu)
        same += above < 1e-6
        below += above >= 1e-6
    return same, below
