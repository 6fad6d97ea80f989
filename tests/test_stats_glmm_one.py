"""The single-dataset GLMM fit (``glmm_one``, issue 16) gives the numbers of the batch path.

``pool(method="glmm")`` fits one dataset with ``glmm_one.glmm_fit_one``; the coverage study fits
batches with ``glmm_check.glmm_batch_checked``. Both run the same algorithm (same start, steps,
stopping rules and node checks), so they must agree to rounding: 1e-10 here, on SYNTHETIC
datasets drawn to cover what a fit meets (0% and 100% studies, k = 1, duplicated studies, n up
to 5000, large tau2 that needs more nodes, more distinct pairs than the scalar mode search
takes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from stsmeta.stats import glmm_check, glmm_one, glmm_pool, pool
from stsmeta.stats.glmm import STATUS_OK

_FIELDS = ("mu", "se", "tau2", "loglik", "loglik_common", "loglik_saturated")


def _synthetic_datasets(count: int, seed: int = 20261130):
    """SYNTHETIC (events, n) datasets of several kinds, fixed seed."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        kind = i % 6
        k = int(rng.integers(1, 13))
        if kind == 0:  # small case series
            n = rng.integers(1, 11, size=k)
        elif kind == 1:  # large studies
            n = rng.integers(1, 5001, size=k)
        elif kind == 2:  # a mixture, with duplicated studies
            n = np.repeat(rng.choice([1, 3, 6, 200], size=k), 2)
        elif kind == 3:  # many distinct pairs: the vectorised mode search
            n = rng.integers(20, 400, size=30)
        else:
            n = rng.integers(1, 60, size=k)
        spread = 3.0 if kind == 4 else rng.uniform(0.0, 1.5)  # kind 4: large tau2
        p = special.expit(rng.uniform(-3, 3) + spread * rng.standard_normal(n.size))
        x = rng.binomial(n, p)
        if kind == 5 and n.size > 2:  # force some 0% and 100% studies
            x[0], x[1] = 0, n[1]
        yield x, n


def _assert_same_fit(x, n, rel=1e-10):
    batch, batch_check = glmm_check.glmm_fit_checked(x, n)
    one, one_check = glmm_one.glmm_fit_one(x, n)
    assert one.status[0] == batch.status[0], (x, n)
    assert one.tau2_identifiable[0] == batch.tau2_identifiable[0]
    assert one.n_nodes == batch.n_nodes
    assert (one_check.n_nodes, one_check.accurate) == (batch_check.n_nodes, batch_check.accurate)
    # Newton may take one more or one fewer confirming step (its last likelihood gains are
    # ~1e-13, at rounding level); the estimates do not move by more than rounding.
    assert abs(int(one.iterations[0]) - int(batch.iterations[0])) <= 1
    for name in _FIELDS:
        a, b = getattr(one, name)[0], getattr(batch, name)[0]
        assert math.isnan(a) == math.isnan(b), (name, x, n)
        if not math.isnan(a):
            assert a == pytest.approx(b, rel=rel, abs=1e-10), (name, x, n)
    return one


def test_single_fit_equals_batch_fit_on_random_datasets():
    statuses = set()
    boundary = interior = refitted = 0
    for x, n in _synthetic_datasets(240):
        fit = _assert_same_fit(x, n)
        statuses.add(fit.status[0])
        if fit.status[0] == STATUS_OK:
            boundary += fit.tau2[0] == 0.0
            interior += fit.tau2[0] > 0.0
    for x, n in ([0, 30, 1, 29, 0, 30], [30] * 6), ([0, 12, 3, 20, 1], [12, 12, 25, 20, 40]):
        fit = _assert_same_fit(np.array(x), np.array(n))
        refitted += glmm_one.glmm_fit_one(x, n)[1].n_nodes > 61
    # The draws reach every branch: fits at and off the boundary, refits with more nodes, and
    # rows without an estimate (every study at 0% or 100%).
    assert boundary > 20 and interior > 20 and refitted == 2
    assert len(statuses) >= 2


@pytest.mark.parametrize(
    "x, n",
    [
        ([3], [7]),  # k = 1
        ([0, 0, 0], [4, 5, 6]),  # every study at 0%
        ([4, 5], [4, 5]),  # every study at 100%
        ([0, 5, 0, 3], [4, 5, 2, 3]),  # 0% and 100% only: tau2 diverges
        ([0, 1, 1, 0], [1, 1, 1, 1]),  # every n = 1: tau2 not identifiable
        ([2, 2, 2], [5, 5, 5]),  # identical studies: the boundary
        ([1, 9, 2, 10], [10, 10, 10, 10]),
        # Newton steps turned downhill: steepest ascent, then restarts (test_stats_glmm_ascent).
        ([2, 4, 8], [2, 40, 40]),
        ([0, 35, 41], [3, 50, 50]),
        ([2, 4, 8], [2, 50, 50]),  # two maxima inside: a restart beats the first fit
    ],
)
def test_single_fit_equals_batch_fit_on_edge_cases(x, n):
    _assert_same_fit(np.array(x), np.array(n))


def test_single_fit_equals_batch_fit_where_the_likelihood_is_flat():
    """100%, 0.03% and 50% of 5000: tau2 ~ 106, 481 nodes, SE 6.4 on the logit scale. Newton
    stops where the likelihood gains < 1e-13, which rounding moves, and the SE there moves by
    ~1e-9 with rounding: the batch path itself gives an SE 1.4e-9 (relative) apart when it sums
    over every study instead of the distinct pairs (``collapse=False``), and 5e-10 apart when
    its own fitted point is evaluated again from other starting modes. At the same (mu, tau)
    both paths' Hessians agree to 1e-10 (their SEs to 1e-11)."""
    _assert_same_fit(np.array([5000, 1, 2500]), np.array([5000, 4000, 5000]), rel=1e-8)


def test_pool_gives_the_same_result_by_either_path(monkeypatch):
    """The whole PoolResult, not only the fit: what the fast path feeds pool_glmm is the same."""
    cases = [(x, n) for x, n in _synthetic_datasets(36) if n.size > 1]
    fast = [pool(x, n, method="glmm", profile=False) for x, n in cases]
    monkeypatch.setattr(glmm_pool.glmm_one, "glmm_fit_one", glmm_check.glmm_fit_checked)
    slow = [pool(x, n, method="glmm", profile=False) for x, n in cases]
    for a, b in zip(fast, slow, strict=True):
        assert a.warnings == b.warnings
        assert a.settings == b.settings or _same_but_change(a.settings, b.settings)
        for name in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "lrt_p"):
            u, v = getattr(a, name), getattr(b, name)
            assert (u is None) == (v is None)
            if u is not None and not (isinstance(u, float) and math.isnan(u)):
                assert u == pytest.approx(v, rel=1e-10, abs=1e-10), name


def _same_but_change(a: dict, b: dict) -> bool:
    """Settings equal except the printed size of the quadrature change (a rounding-level
    number, e.g. 3.1e-16 against 2.9e-16, both far below the tolerance)."""
    return {k: v for k, v in a.items() if k != "quadrature_check"} == {
        k: v for k, v in b.items() if k != "quadrature_check"
    }
