"""Profile-likelihood intervals on the scalar evaluation (stats/glmm_profile_one.py) against the
batch path (glmm.profile_intervals, glmm_check.profile_end_error), which stays callable.

Both run the same search (glmm.profile_ends, glmm._Profiler.maximise) on evaluations that agree
to rounding, so the ends agree to the root search's own tolerance (|r| < 1e-9 in the signed root
deviance): 1e-8 here, relative above 1 (tau2 ends reach the thousands).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

from stsmeta.stats import glmm as glmm_mod
from stsmeta.stats import glmm_check, glmm_one, glmm_profile_one, pool
from stsmeta.stats.glmm_one import glmm_fit_one

TOL = 1e-8


def _random_datasets(count: int, seed: int = 20261130):
    """SYNTHETIC: k = 2..10, n up to 5,000 (mostly small), some studies forced to 0% or 100%."""
    rng = np.random.default_rng(seed)
    sets = []
    while len(sets) < count:
        k = int(rng.integers(2, 11))
        n = rng.integers(1, int(rng.choice([8, 60, 5001], p=[0.4, 0.4, 0.2])), size=k)
        logit = rng.uniform(-3, 3) + rng.uniform(0, 2.5) * rng.standard_normal(k)
        x = rng.binomial(n, special.expit(logit))
        if rng.random() < 0.4:
            x[0] = 0
        if rng.random() < 0.4:
            x[-1] = n[-1]
        fit, check = glmm_fit_one(x, n)
        if fit.status[0] == glmm_mod.STATUS_OK:
            sets.append((x, n, fit, check.n_nodes))
    return sets


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOL * max(1.0, abs(a))


def test_profile_ends_equal_the_batch_path_on_random_datasets():
    n_interior = 0
    for x, n, fit, nodes in _random_datasets(50):
        mu, se, tau2 = float(fit.mu[0]), float(fit.se[0]), float(fit.tau2[0])
        n_interior += tau2 > 0
        ll_old = float(glmm_mod.marginal_loglik(x, n, mu, math.sqrt(tau2), nodes)[0])
        ll_new = glmm_profile_one.marginal_loglik_one(x, n, mu, math.sqrt(tau2), nodes)
        assert ll_new == pytest.approx(ll_old, rel=1e-12, abs=1e-12)
        old = glmm_mod.profile_intervals(x, n, mu, tau2, ll_old, se, n_nodes=nodes)
        new = glmm_profile_one.profile_intervals_one(x, n, mu, tau2, ll_new, se, n_nodes=nodes)
        for name, a in vars(old).items():
            assert _same(a, getattr(new, name)), (x, n, name, a, getattr(new, name))
        finer = 2 * nodes - 1
        err_old = glmm_check.profile_end_error(x, n, old, mu, tau2, finer, 0.95)
        err_new = glmm_profile_one.profile_end_error_one(x, n, new, mu, tau2, finer, 0.95)
        assert _same(err_old, err_new)
    assert n_interior >= 20  # the datasets exercise tau2 > 0, not only the boundary


def test_pool_profile_results_equal_those_of_the_batch_path(monkeypatch):
    """The whole of pool's profile step (node doubling included) on both paths."""
    datasets = [(x, n) for x, n, _, _ in _random_datasets(8, seed=7)]
    datasets.append(([3, 6, 10, 1], [11, 17, 21, 6]))
    fast = [pool(x, n, method="glmm") for x, n in datasets]
    monkeypatch.setattr(glmm_profile_one, "profile_intervals_one", glmm_mod.profile_intervals)
    monkeypatch.setattr(glmm_profile_one, "profile_end_error_one", glmm_check.profile_end_error)
    monkeypatch.setattr(
        glmm_profile_one,
        "marginal_loglik_one",
        lambda x, n, mu, tau, nodes: float(glmm_mod.marginal_loglik(x, n, mu, tau, nodes)[0]),
    )
    for (x, n), a in zip(datasets, fast, strict=True):
        b = pool(x, n, method="glmm")
        assert a.settings["profile_n_nodes"] == b.settings["profile_n_nodes"]
        assert a.warnings == b.warnings
        for name in ("profile_ci_low", "profile_ci_high", "tau2_ci_low", "tau2_ci_high"):
            assert _same(getattr(a, name), getattr(b, name)), (x, n, name)


def test_collapse_false_uses_the_batch_profiler():
    prof = glmm_profile_one.profiler([1, 2, 2], [3, 4, 4], 61, collapse=False)
    assert type(prof) is glmm_mod._Profiler
    assert type(glmm_profile_one.profiler([1, 2, 2], [3, 4, 4], 61)).__name__ == "_ScalarProfiler"
    # Counts that are not whole numbers cannot be collapsed: the batch profiler takes them.
    assert type(glmm_profile_one.profiler([1.5, 2], [3, 4], 61)) is glmm_mod._Profiler


def _log_integral_by_quad(x: float, n: float, mu: float, tau: float) -> float:
    """log of the integral of Binomial(x | n, expit(mu + tau z)) phi(z) dz, by adaptive quad
    around the integrand's maximum (found on a grid), shifted so that it does not underflow."""

    def log_f(z):
        eta = mu + tau * z
        return x * eta - n * np.logaddexp(0.0, eta) - 0.5 * z * z

    grid = np.linspace(-60, 60, 240001)
    peak = grid[np.argmax(log_f(grid))]
    top = float(log_f(peak))
    value, _ = integrate.quad(
        lambda z: math.exp(log_f(z) - top), peak - 40, peak + 40, points=[peak], limit=200
    )
    lc = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    return float(lc + top + math.log(value) - 0.5 * math.log(2 * math.pi))


@pytest.mark.parametrize("x, n", [(4166.0, 4166.0), (0.0, 2650.0), (8.0, 8.0)])
@pytest.mark.parametrize("mu, tau", [(-15.0, 0.5), (-25.0, 3.0), (15.0, 0.5), (-1.0, 2.0)])
def test_mode_search_with_saturated_probabilities(x, n, mu, tau):
    """A 0% or 100% study far from mu: from z = 0 the Newton step lands where p is 0 or 1 in
    floats, and the next one lands back exactly on the bracket end; the search used to jump
    between the two until its iterations ran out, centring the nodes far from the mode (a
    log-likelihood of -33002 instead of -1399 for (4166, 4166) at mu = -15, tau = 0.5)."""
    expected = _log_integral_by_quad(x, n, mu, tau)
    batch = float(glmm_mod.marginal_loglik([x], [n], mu, tau, 61)[0])
    data = glmm_one._Dataset(np.array([x]), np.array([n]), np.array([1.0]))
    scalar = data.evaluate(mu, tau, None, 61, derivatives=False)[0]
    assert batch == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert scalar == pytest.approx(expected, rel=1e-9, abs=1e-9)
