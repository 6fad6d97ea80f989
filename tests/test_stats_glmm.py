"""Binomial-normal GLMM (method "glmm") against R metafor 3.8 / lme4 and independent checks.

Reference values: tests/reference/make_reference.R, rma.glmm(measure="PLO") with lme4's default
7-node and with 20-node adaptive quadrature, plus lme4 profile intervals. lme4's quadrature is
itself approximate when tau2 is large; where we disagree with it, we check that our fit has the
higher likelihood under an accurate (151-node) quadrature, i.e. that metafor is the one that
is off.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from stsmeta.stats import api, glmm_batch, glmm_profile_one, pool
from stsmeta.stats import glmm as glmm_mod
from stsmeta.stats import glmm_fit as glmm_fit_mod
from stsmeta.stats.glmm import (
    DEFAULT_NODES,
    STATUS_ALL_FULL,
    STATUS_ALL_ZERO,
    STATUS_OK,
    STATUS_TAU_DIVERGES,
    collapse_studies,
    homogeneity_lrt,
    log_choose,
    marginal_loglik,
)

REFERENCE = Path(__file__).parent / "reference" / "metafor_reference.json"
WIDTH = 20  # reference datasets have k <= 18; pad with n = 0 studies


@lru_cache(maxsize=1)
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@lru_cache(maxsize=4)
def batch(n_nodes: int = DEFAULT_NODES):
    """All reference datasets fitted at once (padded), and the padded arrays."""
    ds = reference()["datasets"]
    x = np.zeros((len(ds), WIDTH))
    n = np.zeros((len(ds), WIDTH))
    for i, d in enumerate(ds):
        e = np.atleast_1d(d["events"])
        x[i, : e.size] = e
        n[i, : e.size] = np.atleast_1d(d["n"])
    return glmm_batch(x, n, n_nodes=n_nodes), x, n


def _ok_pairs(key: str, max_tau2: float = math.inf):
    fit, x, n = batch()
    for i, d in enumerate(reference()["datasets"]):
        r = d["fits"][key]
        if "error" in r or fit.status[i] != STATUS_OK or not fit.tau2_identifiable[i]:
            continue
        if r["tau2"] <= max_tau2:
            yield i, d, r


def test_fits_and_failures_match_metafor():
    """metafor fails ("Cannot fit ML model") exactly where we report no estimate."""
    fit, _, _ = batch()
    for i, d in enumerate(reference()["datasets"]):
        r = d["fits"]["glmm_nagq20_z"]
        if "error" in r and d["name"] != "homogeneous":
            assert fit.status[i] in (STATUS_ALL_ZERO, STATUS_ALL_FULL), d["name"]
        elif fit.status[i] == STATUS_TAU_DIVERGES:
            pytest.fail(f"{d['name']}: metafor fitted a dataset we call divergent")
    names = [d["name"] for d in reference()["datasets"]]
    # metafor also fails on exactly homogeneous data (5/10, 10/20, 15/30); the ML answer is
    # p = 1/2 with tau2 = 0, i.e. the common-effect logistic model with its Wald interval.
    res = pool([5, 10, 15], [10, 20, 30], method="glmm")
    assert res.estimate == pytest.approx(0.5, abs=1e-12) and res.tau2 == 0.0
    half = stats.norm.ppf(0.975) / math.sqrt(60 * 0.25)
    assert (res.ci_low, res.ci_high) == pytest.approx(special.expit([-half, half]), abs=1e-9)
    assert fit.status[names.index("all100_k4")] == STATUS_ALL_FULL
    assert fit.status[names.index("all0_k3")] == STATUS_ALL_ZERO


def _check(res, r, tol, pi=True):
    names = ("estimate", "ci_low", "ci_high") + (("pi_low", "pi_high") if pi else ())
    for name in names:
        assert getattr(res, name) == pytest.approx(r[name], abs=tol), name


def test_equal_to_metafor_nagq20_where_its_quadrature_is_accurate():
    """rma.glmm(nAGQ=20) + predict(transf=ilogit), z and t(k-1): within 5e-5 on the
    proportion scale for tau2 <= 2 (about 160 datasets; we are typically within 1e-8)."""
    fit, _, _ = batch()
    pairs = list(_ok_pairs("glmm_nagq20_z", max_tau2=2.0))
    assert len(pairs) > 150
    diffs = []
    for i, _d, r in pairs:
        diffs.append(abs(special.expit(fit.mu[i]) - r["estimate"]))
        assert fit.tau2[i] == pytest.approx(r["tau2"], abs=2e-4 * (1 + r["tau2"]))
        assert fit.se[i] == pytest.approx(r["se"], rel=1e-3)
    assert max(diffs) < 5e-5
    assert np.median(diffs) < 1e-7
    # The full pool() path (CI and PI, z and t) on a subset.
    for _i, d, r in pairs[::6]:
        res = pool(d["events"], d["n"], method="glmm", profile=False)
        _check(res, r, 5e-5)
        rt = d["fits"]["glmm_nagq20_t"]
        res = pool(d["events"], d["n"], method="glmm", ci="t", pi="t-k1", profile=False)
        _check(res, rt, 5e-5)


def test_equal_to_metafor_default_nagq7_within_5e4_for_moderate_tau2():
    """The issue's tolerance against rma.glmm's default 7 nodes holds while lme4's 7-node
    quadrature is accurate (tau2 <= 1); beyond, see the likelihood test below."""
    pairs = list(_ok_pairs("glmm_nagq7_z", max_tau2=1.0))
    assert len(pairs) > 120
    for _, d, r in pairs[::3]:
        res = pool(d["events"], d["n"], method="glmm", profile=False)
        _check(res, r, 5e-4)


@pytest.mark.parametrize("key", ["glmm_nagq7_z", "glmm_nagq20_z"])
def test_where_we_disagree_with_metafor_our_likelihood_is_higher(key):
    fit, x, n = batch()
    disagreements = 0
    for i, _, r in _ok_pairs(key):
        if abs(special.expit(fit.mu[i]) - r["estimate"]) <= 5e-5:
            continue
        disagreements += 1
        ours = marginal_loglik(x[i : i + 1], n[i : i + 1], fit.mu[i], math.sqrt(fit.tau2[i]), 151)
        theirs = marginal_loglik(x[i : i + 1], n[i : i + 1], r["mu"], math.sqrt(r["tau2"]), 151)
        assert ours[0] >= theirs[0] - 1e-9
    assert disagreements < 40


def test_default_quadrature_is_accurate_to_about_1e6():
    """Default nodes against 151 nodes on all reference datasets."""
    f, _, _ = batch()
    g, _, _ = batch(151)
    ok = (f.status == STATUS_OK) & f.tau2_identifiable
    d_est = np.abs(special.expit(f.mu[ok]) - special.expit(g.mu[ok]))
    assert d_est.max() < 2.5e-6
    moderate = g.tau2[ok] < 3
    assert d_est[moderate].max() < 1e-7


def test_marginal_likelihood_against_adaptive_integration():
    """Our quadrature against scipy.integrate.quad of the same integral."""
    for x, n, mu, tau in [
        ([3, 6, 10, 1], [11, 17, 21, 6], -0.5, 0.8),
        ([0, 5, 2], [5, 5, 9], 1.2, 2.0),
        ([0, 0, 1], [1, 7, 2], -3, 3.0),
    ]:
        total = 0.0
        for xi, ni in zip(x, n, strict=True):

            def integrand(z, xi=xi, ni=ni, mu=mu, tau=tau):
                eta = mu + tau * z
                return math.exp(xi * eta - ni * np.logaddexp(0, eta)) * stats.norm.pdf(z)

            val, _ = integrate.quad(integrand, -12, 12, epsabs=0, epsrel=1e-12, limit=400)
            total += math.log(val) + float(log_choose(xi, ni))
        ours = marginal_loglik([x], [n], mu, tau)[0]
        assert ours == pytest.approx(total, abs=1e-6)


def test_common_loglik_heterogeneity_lrt_and_i2_match_metafor():
    fit, x, n = batch()
    for i, d, r in _ok_pairs("glmm_nagq20_z"):
        fe = d["fits"]["glmm_nagq20_fe_loglik"]["loglik"]
        assert fit.loglik_common[i] == pytest.approx(fe, abs=1e-8)
        k = np.atleast_1d(d["n"]).size
        q, q_p = homogeneity_lrt(x[i, :k], n[i, :k])
        assert q == pytest.approx(r["q_lrt"], abs=1e-6)
        assert q_p == pytest.approx(r["q_lrt_p"], abs=1e-6)
    # I2 formula: from metafor's own tau2 we reproduce metafor's I2 exactly.
    from stsmeta.stats.glmm_pool import glmm_i2 as _glmm_i2

    for _, d, r in _ok_pairs("glmm_nagq20_z"):
        i2, h2 = _glmm_i2(np.atleast_1d(d["events"]), np.atleast_1d(d["n"]), r["tau2"])
        assert i2 == pytest.approx(r["i2"], abs=1e-9)
        assert h2 == pytest.approx(r["h2"], rel=1e-9)


def test_profile_intervals_against_lme4_and_by_brute_force():
    """lme4's profile() interpolates splines, so agreement is to ~5e-3 on the logit scale; the
    exact check is that the deviance at each of our ends equals chi2_1(0.95)."""
    n_checked = 0
    for d in reference()["datasets"]:
        r = d["fits"].get("glmm_profile_lme4_nagq20")
        if not r or "error" in r:
            continue
        res = pool(d["events"], d["n"], method="glmm")
        # Far ends (|mu| > 8 or tau > 5) sit where lme4's 20-node quadrature and its spline
        # interpolation are both rough; those are checked by brute force below instead.
        if res.tau2 > 2 or r["tau_high"] > 5 or max(abs(r["mu_low"]), abs(r["mu_high"])) > 8:
            continue
        lo, hi = special.logit(res.profile_ci_low), special.logit(res.profile_ci_high)
        assert lo == pytest.approx(r["mu_low"], abs=5e-3)
        assert hi == pytest.approx(r["mu_high"], abs=5e-3)
        assert math.sqrt(res.tau2_ci_high) == pytest.approx(r["tau_high"], rel=5e-3, abs=5e-3)
        assert math.sqrt(res.tau2_ci_low) == pytest.approx(r["tau_low"], rel=5e-3, abs=5e-3)
        n_checked += 1
    assert n_checked >= 25


@pytest.mark.parametrize(
    "x, n",
    [
        ([3, 6, 10, 1], [11, 17, 21, 6]),
        ([3, 1, 5, 2, 4], [3, 1, 5, 2, 6]),
        ([1, 9, 2, 10], [10, 10, 10, 10]),
    ],
)
def test_profile_interval_ends_by_brute_force(x, n):
    """At each end of our profile intervals, 2 * (l_hat - l_profile) = chi2_1(0.95), with the
    inner maximisation done independently by bounded Brent search."""
    res = pool(x, n, method="glmm")
    crit = stats.chi2.ppf(0.95, 1)
    # The likelihood with the nodes of the profile (chosen so that the ends are accurate).
    nodes = res.settings["profile_n_nodes"]

    def marginal_loglik(*args):
        return glmm_mod.marginal_loglik(*args, n_nodes=nodes)

    def over_tau(mu):
        best = optimize.minimize_scalar(
            lambda t: -marginal_loglik([x], [n], mu, t)[0],
            bounds=(0, 30),
            method="bounded",
            options={"xatol": 1e-10},
        )
        return max(-best.fun, marginal_loglik([x], [n], mu, 0.0)[0])

    def over_mu(tau):
        best = optimize.minimize_scalar(
            lambda m: -marginal_loglik([x], [n], m, tau)[0],
            bounds=(-35, 35),
            method="bounded",
            options={"xatol": 1e-10},
        )
        return -best.fun

    for p in (res.profile_ci_low, res.profile_ci_high):
        assert 2 * (res.loglik - over_tau(special.logit(p))) == pytest.approx(crit, abs=1e-5)
    assert res.profile_ci_low < res.estimate < res.profile_ci_high
    assert 2 * (res.loglik - over_mu(math.sqrt(res.tau2_ci_high))) == pytest.approx(crit, abs=1e-5)
    if res.tau2_ci_low > 0:
        assert 2 * (res.loglik - over_mu(math.sqrt(res.tau2_ci_low))) == pytest.approx(
            crit, abs=1e-5
        )
    else:
        assert 2 * (res.loglik - over_mu(0.0)) <= crit


def test_stijnen_2010_nielweise2007():
    """Stijnen, Hamza & Ozdemir (2010) Table II data (metafor's dat.nielweise2007), each arm as
    single proportions, against metafor's rma.glmm(nAGQ = 20)."""
    for name in ("nielweise2007_control", "nielweise2007_treated"):
        d = next(d for d in reference()["datasets"] if d["name"] == name)
        r = d["fits"]["glmm_nagq20_z"]
        res = pool(d["events"], d["n"], method="glmm")
        _check(res, r, 1e-5)
        assert res.tau2 == pytest.approx(r["tau2"], rel=1e-3)
        assert res.lrt_stat > 0 and 0 <= res.lrt_p < 0.5


def test_padding_and_batching_do_not_change_a_fit():
    x = np.array([[2, 5, 0, 3], [1, 1, 0, 4]])
    n = np.array([[4, 6, 3, 3], [3, 2, 2, 9]])
    both = glmm_batch(x, n)
    padded = glmm_batch(np.hstack([x, np.zeros((2, 3))]), np.hstack([n, np.zeros((2, 3))]))
    for i in range(2):
        one = glmm_batch(x[i : i + 1], n[i : i + 1])
        for f in (both, padded):
            assert f.mu[i] == pytest.approx(one.mu[0], abs=1e-9)
            assert f.tau2[i] == pytest.approx(one.tau2[0], abs=1e-8)
            assert f.se[i] == pytest.approx(one.se[0], abs=1e-9)


def test_non_convergence_is_reported_with_its_reason():
    f = glmm_batch([[1, 9, 2, 10]], [[10, 10, 10, 10]], max_iter=2)
    assert "did not converge within 2" in f.status[0]
    assert np.isnan(f.mu[0])


# --- fits on the distinct (events, n) pairs ------------------------------------------------------

# SYNTHETIC: 48 small series, only a handful of distinct (events, n) pairs, in no particular order.
_DUPLICATED_X = np.array([0, 1, 6, 1, 1, 0, 3, 5, 1, 2, 4, 3] * 4)
_DUPLICATED_N = np.array([1, 1, 6, 6, 3, 3, 6, 6, 1, 6, 6, 3] * 4)

_FIT_FIELDS = ("mu", "se", "tau2", "loglik", "loglik_common", "loglik_saturated")


def test_collapse_studies_counts_each_distinct_pair():
    events = [[1, 0, 3, 1, 0, 2], [0, 0, 0, 1, 1, 1]]
    x, n, count = collapse_studies(events, [[3, 1, 3, 3, 0, 6], [1] * 6])
    # Row 0: (0, 1) once, (1, 3) twice, (3, 3) once, (2, 6) once; the n = 0 study is dropped.
    assert x.tolist() == [[0, 1, 3, 2], [0, 1, 0, 0]]
    assert n.tolist() == [[1, 3, 3, 6], [1, 1, 0, 0]]
    assert count.tolist() == [[1, 2, 1, 1], [3, 3, 0, 0]]


def test_fit_on_distinct_pairs_equals_fit_on_every_study():
    rows_x = np.vstack([_DUPLICATED_X, _DUPLICATED_X[::-1], np.roll(_DUPLICATED_X, 3)])
    rows_n = np.vstack([_DUPLICATED_N, _DUPLICATED_N[::-1], np.roll(_DUPLICATED_N, 3)])
    fast = glmm_batch(rows_x, rows_n)
    slow = glmm_batch(rows_x, rows_n, collapse=False)
    assert (fast.status == STATUS_OK).all() and (slow.status == STATUS_OK).all()
    assert fast.tau2[0] > 0.01  # an interior fit, not the boundary
    for name in _FIT_FIELDS:
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-12, atol=1e-12)
    # The collapsed fit depends on the multiset of pairs alone: any order, the very same numbers.
    for name in _FIT_FIELDS:
        values = getattr(fast, name)
        assert values[0] == values[1] == values[2]


def test_profile_intervals_on_distinct_pairs_equal_those_on_every_study():
    fit = glmm_batch(_DUPLICATED_X[None, :], _DUPLICATED_N[None, :])
    args = (_DUPLICATED_X, _DUPLICATED_N, fit.mu[0], fit.tau2[0], fit.loglik[0], fit.se[0])
    fast = glmm_mod.profile_intervals(*args)
    slow = glmm_mod.profile_intervals(*args, collapse=False)
    for a, b in zip(vars(fast).values(), vars(slow).values(), strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_pool_on_distinct_pairs_keeps_study_rows_in_order(monkeypatch):
    x = _DUPLICATED_X[:13]
    n = _DUPLICATED_N[:13]
    labels = [f"s{i}" for i in range(x.size)]
    fast = pool(x, n, method="glmm", studies=labels)
    slow_batch = glmm_fit_mod.glmm_batch
    slow_profile = glmm_profile_one.profile_intervals_one
    monkeypatch.setattr(
        glmm_fit_mod, "glmm_batch", lambda *a, **k: slow_batch(*a, **k, collapse=False)
    )
    monkeypatch.setattr(
        glmm_profile_one,
        "profile_intervals_one",
        lambda *a, **k: slow_profile(*a, **k, collapse=False),
    )
    slow = pool(x, n, method="glmm", studies=labels)
    assert api.glmm_mod is glmm_mod
    assert [s.study for s in fast.studies] == labels
    assert fast.studies == slow.studies
    for name in ("estimate", "ci_low", "ci_high", "mu", "se", "tau2", "loglik", "lrt_stat"):
        assert getattr(fast, name) == pytest.approx(getattr(slow, name), rel=1e-12, abs=1e-12)
    for name in ("profile_ci_low", "profile_ci_high", "tau2_ci_low", "tau2_ci_high"):
        assert getattr(fast, name) == pytest.approx(getattr(slow, name), rel=1e-9, abs=1e-9)


_small_series = st.lists(
    st.integers(1, 6).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    min_size=2,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_small_series, st.integers(1, 4))
def test_any_duplicated_data_fit_on_distinct_pairs_as_on_every_study(series, copies):
    x, n = (np.array(v * copies) for v in zip(*series, strict=True))
    fast = glmm_batch(x[None, :], n[None, :])
    slow = glmm_batch(x[None, :], n[None, :], collapse=False)
    assert fast.status[0] == slow.status[0]
    if fast.status[0] != STATUS_OK:
        return
    # Newton may stop a few 1e-10 apart on a flat likelihood; the likelihood itself agrees.
    assert fast.loglik[0] == pytest.approx(slow.loglik[0], rel=1e-10, abs=1e-10)
    assert fast.mu[0] == pytest.approx(slow.mu[0], abs=1e-6)
