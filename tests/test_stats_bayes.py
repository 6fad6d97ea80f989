"""The Bayesian binomial-normal model (stsmeta.stats.bayes) against independent references.

* tests/reference/bayes_bruteforce.json (tests/reference/bayes_bruteforce.py: scipy adaptive
  Gauss-Kronrod for each study, dense composite Gauss-Legendre grids for (mu, tau)): posterior
  quantiles within 1e-4 on the proportion scale.
* tests/reference/bayes_jags.json (tests/reference/bayes_jags.R: JAGS, 8 chains x 250,000
  iterations): within 4 Monte Carlo SEs plus 2e-3 (proportions; tau relative 2%). The extra
  allowance is for the MC SE itself, estimated from only 8 chain means: with every study at
  100% JAGS's chains make rare long excursions, and its P(p > 0.8) is 1.6e-3 (7 "SEs") below
  both deterministic integrations, which agree with each other to 2e-5.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from stsmeta.stats import pool
from stsmeta.stats.bayes import batch_intervals, posterior
from stsmeta.stats.bayes_priors import parse_prior

REFERENCE = Path(__file__).parent / "reference"
BRUTE = json.loads((REFERENCE / "bayes_bruteforce.json").read_text())["datasets"]
JAGS = json.loads((REFERENCE / "bayes_jags.json").read_text())["datasets"]
PROPORTION_FIELDS = (
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "mean_proportion",
    "mean_proportion_ci_low",
    "mean_proportion_ci_high",
)


@pytest.mark.parametrize("case", BRUTE, ids=[c["name"] for c in BRUTE])
def test_matches_bruteforce_integration(case):
    # The reference's own error (estimated by its difference from a coarser run) is below the
    # tolerance; mostly far below (up to 8.6e-5 for random_2, whose ranges are wide).
    assert case["self_check"] < 1e-4
    ref = case["values"]
    got = posterior(
        case["events"],
        case["n"],
        case["prior_mu"],
        case["prior_tau"],
        case["level"],
        case["thresholds"],
    )
    for name in PROPORTION_FIELDS:
        assert getattr(got, name) == pytest.approx(ref[name], abs=1e-4), name
    for threshold, prob in ref["prob_above"].items():
        assert got.prob_above[f"{float(threshold):g}"] == pytest.approx(prob, abs=1e-4)
    # tau on its own scale and the log marginal likelihood: looser, as the reference itself is
    # (its grid is spread over wide ranges; the largest differences, 5e-3 relative in tau and
    # 1.3e-3 in log ML, are for random_2, whose self-check is also the largest).
    for name in ("tau", "tau_ci_low", "tau_ci_high"):
        assert getattr(got, name) == pytest.approx(ref[name], rel=1e-2), name
    assert got.log_marginal_likelihood == pytest.approx(ref["log_marginal_likelihood"], abs=3e-3)


@pytest.mark.parametrize("case", JAGS, ids=[c["name"] for c in JAGS])
def test_matches_jags_within_monte_carlo_error(case):
    events, n = np.atleast_1d(case["events"]), np.atleast_1d(case["n"])  # R unboxes k = 1
    got = posterior(events, n, case["prior_mu"], case["prior_tau"], case["level"], (0.5, 0.8))
    values = {**got.to_dict(), "prob_above_0.5": got.prob_above["0.5"]}
    values["prob_above_0.8"] = got.prob_above["0.8"]
    for name, ref in case["values"].items():
        slack = 0.02 * ref if name.startswith("tau") else 2e-3
        allowed = 4 * case["mcse"][name] + slack
        assert abs(values[name] - ref) <= allowed, (name, values[name], ref, allowed)


@pytest.mark.parametrize(
    ("events", "n"),
    [([3, 1, 5, 2], [3, 1, 5, 2]), ([0, 0, 0], [4, 2, 7]), ([4], [4]), ([0], [1]), ([7], [10])],
    ids=["all100", "all0", "k1_all100", "k1_n1_zero", "k1_interior"],
)
def test_every_dataset_has_an_answer(events, n):
    res = pool(events, n, method="bayes", thresholds=[0.5])
    d = res.to_dict()
    for name in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "mu", "tau"):
        assert d[name] is not None and math.isfinite(d[name]), name
    assert 0 < d["ci_low"] < d["estimate"] < d["ci_high"] < 1
    assert d["pi_low"] <= d["ci_low"] and d["ci_high"] <= d["pi_high"]
    assert 0 <= d["tau_ci_low"] < d["tau"] < d["tau_ci_high"]
    assert d["settings"]["prior_mu"] == "logistic:0:1"
    assert d["settings"]["prior_tau"] == "half-normal:1"
    if sum(events) in (0, sum(n)) or len(events) == 1:
        assert res.warnings  # the prior's influence is stated


def test_all_100_percent_estimate_is_high_and_all_0_low():
    high = pool([3, 1, 5, 2], [3, 1, 5, 2], method="bayes")
    low = pool([0, 0, 0], [4, 2, 7], method="bayes")
    assert high.ci_low > 0.5 and low.ci_high < 0.5
    # Reflection: x -> n - x maps the posterior of expit(mu) to 1 - itself (symmetric priors).
    mirror = pool([0, 0, 0, 0], [3, 1, 5, 2], method="bayes")
    assert mirror.estimate == pytest.approx(1 - high.estimate, abs=1e-6)
    assert mirror.ci_low == pytest.approx(1 - high.ci_high, abs=1e-6)


def test_deterministic_and_order_free():
    a = pool([1, 1, 2, 3, 2, 1], [1, 1, 2, 3, 3, 3], method="bayes").to_dict()
    b = pool([1, 1, 2, 3, 2, 1], [1, 1, 2, 3, 3, 3], method="bayes").to_dict()
    c = pool([2, 1, 3, 1, 1, 2], [3, 3, 3, 1, 1, 2], method="bayes")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert c.estimate == a["estimate"] and c.ci_low == a["ci_low"]


def test_batch_fitter_gives_the_single_fit_numbers():
    rng = np.random.default_rng(5)
    n = np.array([1, 1, 2, 3, 3, 3])
    events = rng.binomial(n, 0.7, size=(12, n.size))
    est, lo, hi = batch_intervals(events, n)
    for i in range(events.shape[0]):
        one = posterior(events[i], n)
        assert est[i] == pytest.approx(one.estimate, abs=1e-9)
        assert lo[i] == pytest.approx(one.ci_low, abs=1e-9)
        assert hi[i] == pytest.approx(one.ci_high, abs=1e-9)


def test_prior_matters_where_data_are_silent():
    # k = 1: the data hardly inform tau, so its interval is close to its prior's 95% range
    # (half-normal(0.5): 0.5 * 2.2414 at 97.5%), and a heavier-tailed prior gives a wider one.
    narrow = posterior([7], [10], prior_tau="half-normal:0.5")
    wide = posterior([7], [10], prior_tau="half-cauchy:1")
    assert wide.tau_ci_high > 5 * narrow.tau_ci_high
    assert narrow.tau_ci_high == pytest.approx(0.5 * 2.2414027, rel=0.05)


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("normal:0", "mu"),
        ("normal:0:-1", "mu"),
        ("cauchy:0:1", "mu"),
        ("half-normal:0", "tau"),
        ("half-normal:1:2", "tau"),
        ("half-t:1", "tau"),
        ("normal:0:x", "mu"),
    ],
)
def test_bad_priors_are_refused(text, role):
    with pytest.raises(ValueError, match="give"):
        parse_prior(text, role)


def test_cli_bayes_json(tmp_path):
    csv = tmp_path / "counts.csv"
    csv.write_text("study,events,n\nA,1,1\nB,1,1\nC,2,2\nD,3,3\nE,2,3\nF,1,3\n")
    cmd = [sys.executable, "-m", "stsmeta", "pool", "--input", str(csv), "--method", "bayes"]
    out = subprocess.run(
        [*cmd, "--prior-tau", "half-cauchy:0.5", "--threshold", "0.5", "0.8", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(out.stdout)
    for key in ("estimate", "ci_low", "ci_high", "mu", "tau", "tau_ci_low", "tau_ci_high"):
        assert isinstance(doc[key], float)
    assert set(doc["prob_above"]) == {"0.5", "0.8"}
    assert doc["settings"]["prior_tau"] == "half-cauchy:0.5"
    bad = subprocess.run([*cmd, "--prior-mu", "normal:0"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--prior-mu" in bad.stderr and "Traceback" not in bad.stderr


def _convergence_datasets():
    """20 datasets (fixed seed): every 5th all 100%, every 5th all 0%, k from 1 to 10, n up to
    5,000, half-Cauchy priors on tau for half of them."""
    rng = np.random.default_rng(20261130)
    out = []
    for i in range(20):
        k = (1, 1, 2, 3, 6, 6, 10)[i % 7]
        n = rng.integers(1, (4, 30, 300, 5000)[i % 4] + 1, size=k)
        if i % 5 == 0:
            x = n.copy()
        elif i % 5 == 1:
            x = np.zeros_like(n)
        else:
            theta = rng.normal(rng.normal(0, 1.5), rng.uniform(0, 1.5), size=k)
            x = rng.binomial(n, 1 / (1 + np.exp(-theta)))
        prior_tau = ("half-normal:1", "half-cauchy:1", "half-cauchy:0.5", "half-normal:0.5")[i % 4]
        out.append((x, n, ("logistic:0:1", "normal:0:2")[i % 2], prior_tau))
    return out


def _summaries(datasets):
    rows = []
    for x, n, prior_mu, prior_tau in datasets:
        post = posterior(x, n, prior_mu, prior_tau, 0.95, (0.5,))
        rows.append([getattr(post, f) for f in PROPORTION_FIELDS] + [post.prob_above["0.5"]])
    return np.array(rows)


def test_quadrature_has_converged(monkeypatch):
    # The engine against itself with every rule about doubled (study integrals, mu panels, tau
    # nodes): the difference bounds the quadrature error where the references above do not
    # reach (all 0% and 100% with heavy-tailed priors, n up to 5,000).
    from stsmeta.stats import bayes_conv, bayes_grid, bayes_study

    datasets = _convergence_datasets()
    fast = _summaries(datasets)
    monkeypatch.setattr(bayes_conv, "SPACING", 0.3)
    monkeypatch.setattr(bayes_conv, "MAX_SPACING", 0.35)
    monkeypatch.setattr(bayes_conv, "REACH", 12.0)
    monkeypatch.setattr(bayes_conv, "HERMITE_NODES", 32)
    monkeypatch.setattr(bayes_study, "GH_NODES", 32)
    monkeypatch.setattr(bayes_study, "CLIFF_NODES", 48)
    monkeypatch.setattr(bayes_grid, "MU_NODES", 64)
    monkeypatch.setattr(bayes_grid, "V_NODES", {"half-normal": 96, "half-cauchy": 96})
    fine = _summaries(datasets)
    diff = np.abs(fast - fine)
    # The lower end of the mean proportion's interval with every study at 100% and a
    # half-Cauchy(1) prior converges slowly in tau (its conditional CDF jumps from 0 to 1 where
    # the mean proportion's level curve leaves the mass of mu, at large tau): 6e-5 (case 5
    # below), within the 1e-4 of the brute-force comparison, not within 2e-5.
    slow = PROPORTION_FIELDS.index("mean_proportion_ci_low")
    allowed = np.full(diff.shape, 2e-5)
    for i, (x, n, _, prior_tau) in enumerate(datasets):
        if prior_tau.startswith("half-cauchy") and np.all(x == n):
            allowed[i, slow] = 1e-4
    assert (diff <= allowed).all(), np.argwhere(diff > allowed).tolist()


@pytest.mark.parametrize(
    ("x", "n", "tolerance"),
    [(0, 142, 5e-6), (1, 1, 5e-6), (3, 3, 5e-6), (142, 142, 5e-6), (5000, 5000, 5e-6)]
    + [(10, 20, 1e-6), (900, 3000, 1e-6), (3, 20, 5e-6), (1, 20, 1e-4)],
)
def test_study_integrals_match_adaptive_quadrature(x, n, tolerance):
    # Each study's integral over its effect, log int Binomial(x | n, expit(mu + tau z)) phi(z)
    # dz, against scipy's adaptive quadrature with breakpoints at the cliff, where it is not
    # negligible (above e^-30). Studies at 0% or 100% with large tau were the stretched rule's
    # weak spot (off by up to 4e-2 in log L) until they got their own rule; a bump with
    # exponential tails (10 of 20, tau = 40) was off by 1e-3 until its ends came from the
    # tangent. Still loose: one event in 20 with mu far below (the integrand is the normal
    # density tilted by e^eta, its bulk just left of the kink at logit(1 / 20)): 6e-5.
    from scipy import integrate

    from stsmeta.stats.bayes_study import log_integrals

    worst = 0.0
    for mu in (-6.0, -1.0, 0.5, 3.0, 8.0):
        for tau in (0.2, 1.0, 2.0, 6.0, 40.0, 1e3):

            def f(z, mu=mu, tau=tau):
                eta = mu + tau * z
                return np.exp(x * eta - n * np.logaddexp(0.0, eta) - 0.5 * z * z)

            z0 = -mu / tau
            cuts = sorted({z0 - 50 / tau, z0, z0 + (math.log(n) + 50) / tau})
            edges = [-40.0, *[min(max(c, -40.0), 40.0) for c in cuts], 40.0]
            with warnings.catch_warnings():
                # epsrel 1e-13 is at double precision's limit: quad says so (round-off).
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                ref = sum(
                    integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=500)[0]
                    for a, b in zip(edges[:-1], edges[1:], strict=False)
                    if b > a
                )
            got = log_integrals(np.array(float(x)), np.array(float(n)), np.array(mu), np.array(tau))
            if ref > math.exp(-30):
                worst = max(worst, abs(float(got) - math.log(ref)))
    assert worst < tolerance, worst


def _scaled_quad(x, n, mu, tau):
    """log int Binomial-kernel(x | n, expit(mu + tau z)) e^(-z^2 / 2) dz by scipy's adaptive quad
    at tight tolerances, the integrand divided by its peak (large studies underflow otherwise),
    with breakpoints at its mode and at the likelihood's cliff."""
    from scipy import integrate

    from stsmeta.stats.bayes_study import integrand_modes

    zhat = float(integrand_modes(np.array(x), np.array(n), np.array(mu), np.array(tau))[0])

    def h(z):
        eta = mu + tau * z
        return x * eta - n * np.logaddexp(0.0, eta) - 0.5 * z * z

    top = h(zhat)
    cuts = sorted({min(max(c, -39.0), 39.0) for c in (zhat, -mu / tau)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value = integrate.quad(
            lambda z: np.exp(h(z) - top), -40, 40, points=cuts, epsabs=0, epsrel=1e-13, limit=500
        )[0]
    return top + math.log(value)


def test_shared_grid_integrals_match_adaptive_quadrature():
    # The panel nodes' study integrals by the shared theta grid (bayes_conv), on the
    # convergence datasets' own grids (all 0% and 100%, k = 1, n to 5,000, half-Cauchy), against
    # scipy's quad: within 1e-9 in log L (found: 3e-10; the per-integral rule it replaces is off
    # by up to 3e-4 at some of these nodes). Gauss-Hermite columns (tau n <= 1) included.
    from stsmeta.stats import bayes_conv, bayes_grid, chebyshev
    from stsmeta.stats.bayes_priors import parse_prior

    rule = chebyshev.rule(bayes_grid.MU_NODES)
    worst, taken, columns = 0.0, 0, 0
    for x, n, prior_mu, prior_tau in _convergence_datasets():
        pm, pt = parse_prior(prior_mu, "mu"), parse_prior(prior_tau, "tau")
        xb, nb = x[None].astype(float), n[None].astype(float)
        grid = bayes_grid._grid(xb, nb, pm, pt)
        data = tuple(d[0] for d in bayes_grid._data(xb, nb))
        a, b, tau = grid.a[0], grid.b[0], grid.tau[0]
        mu = (a[..., None] + (b - a)[..., None] * 0.5 * (1 + rule.x)).reshape(tau.size, -1)
        ll, done = bayes_conv.log_integrals(data, mu, tau, a[:, 0], b[:, 1])
        if n.max() <= 30:
            taken += done.sum()
            columns += done.size
        cols = np.flatnonzero(done)
        for t in cols[:: max(1, cols.size // 4)]:
            for p in (0, 20, 45, 63):
                for k in range(data[0].size):
                    ref = _scaled_quad(data[0][k], data[1][k], mu[t, p], tau[t])
                    worst = max(worst, abs(ll[t, p, k] - ref))
    assert worst < 1e-9, worst
    # Small studies (the design of the data): most columns go this way (the rest: tau tiny, or
    # k = 1 and large tau, where a grid costs more than the 64 integrals).
    assert taken > 0.5 * columns, (taken, columns)


@pytest.mark.parametrize("prior_tau", ["half-cauchy:0.5", "half-cauchy:1", "half-normal:1"])
def test_mean_proportion_roots_converge_at_the_first_call(prior_tau):
    # The mean proportion's quantiles solve logit m(mu*, tau) = y in every tau column. A
    # half-Cauchy prior puts columns at tau ~ 1,000, where mu* is in the thousands: Newton's steps
    # must scale with tau, or a column stops at the iteration cap far from its root (it did,
    # by up to ~500 units of mu, with steps clipped at 5).
    from stsmeta.stats import bayes, bayes_grid

    x = np.array([[1.0, 3, 5, 2, 1, 2, 1]])
    m = np.array([[1.0, 3, 6, 2, 1, 2, 1]])
    grid = bayes_grid._grid(x, m, parse_prior("logistic:0:1", "mu"), parse_prior(prior_tau, "tau"))
    cdf = bayes._MeanProportionCdf(grid)
    y = np.array([0.77, 2.07, 3.99])
    cdf(y)
    mean, _ = bayes._mean_proportion(cdf.mu, grid.tau[0][None, :])
    logit = np.log(mean) - np.log1p(-mean)
    assert np.max(np.abs(logit - y[:, None])) < 1e-9


def test_a_column_whose_bracket_is_open_does_not_warn():
    # 0/10 beside 10/10: some columns' mode brackets stay open at one end, and the midpoint of
    # -inf and +inf, computed and then discarded, put "invalid value" warnings in pooling logs.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        post = posterior([0, 10], [10, 10])
    assert 0.05 < post.estimate < 0.95
