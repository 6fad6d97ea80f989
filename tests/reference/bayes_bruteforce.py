"""Brute-force reference for the Bayesian binomial-normal model (stsmeta.stats.bayes).

Run from the repository root (about 15 minutes on 2 cores; numpy and scipy only, nothing from
stsmeta):
    python tests/reference/bayes_bruteforce.py [NAME ...]
(with names, only those datasets are recomputed and replaced in an existing JSON)
Writes tests/reference/bayes_bruteforce.json, which tests/test_stats_bayes.py compares against.

Independent of the engine's numerics on purpose:
* each study's integral over its effect is scipy's adaptive Gauss-Kronrod (``quad_vec``,
  epsabs 1e-12 on integrands scaled to order one), not Gauss-Hermite;
* (mu, v = prior CDF of tau) is a dense tensor grid of composite 8-point Gauss-Legendre panels on
  ranges found by a coarse scan, not Chebyshev interpolation with log-concavity bounds; CDFs are
  running sums of panel-wise Legendre interpolants;
* every dataset is computed twice, the second time with 0.6 times the panels in both
  directions; the JSON records the largest difference between the two on the proportion scale
  ("self_check", an upper estimate of the reference's own error) and the test asserts it is far
  below the tolerance it applies to the engine.

Datasets are synthetic (fixed seed 20261130) plus edge cases: all 100%, all 0%, k = 1, n up to
5000, half-Cauchy (heavy-tailed) tau priors.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import integrate, optimize, special, stats

OUT = Path(__file__).with_name("bayes_bruteforce.json")
PROBS = (0.025, 0.5, 0.975)
Z_HALF = 14.0  # the study integral over z is over [-14, 14]: phi(14) ~ 1e-43
GL = np.polynomial.legendre.leggauss(8)


def log_prior_mu(spec, mu):
    fam, loc, scale = spec
    if fam == "normal":
        return stats.norm.logpdf(mu, loc, scale)
    return stats.logistic.logpdf(mu, loc, scale)


def tau_of(spec, v):
    fam, scale = spec
    if fam == "half-normal":
        return scale * stats.halfnorm.ppf(v)
    return scale * stats.halfcauchy.ppf(v)


def study_loglik(x, n, mu, tau):
    """log int Binomial(x | n, expit(mu + tau z)) phi(z) dz for vectors mu, tau (adaptive GK)."""
    mu = np.asarray(mu, float)
    tau = np.asarray(tau, float)
    lc = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)

    def logf(z):
        eta = mu + tau * z
        return lc + x * eta - n * np.logaddexp(0, eta) - 0.5 * z * z - 0.5 * math.log(2 * math.pi)

    # Mode of the integrand (bisection on its decreasing derivative) to scale the integrand and
    # to put a break point there; the derivative is tau (x - n p) - z.
    lo = np.full(mu.shape, -Z_HALF)
    hi = np.full(mu.shape, Z_HALF)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        d = tau * (x - n * special.expit(mu + tau * mid)) - mid
        lo = np.where(d > 0, mid, lo)
        hi = np.where(d > 0, hi, mid)
    zhat = 0.5 * (lo + hi)
    top = logf(zhat)
    p = special.expit(mu + tau * zhat)
    sig = 1 / np.sqrt(tau * tau * n * p * (1 - p) + 1)
    # Three pieces per point: [-14, zhat - 12 s], [zhat - 12 s, zhat + 12 s], [zhat + 12 s, 14].
    cut1 = np.clip(zhat - 12 * sig, -Z_HALF, Z_HALF)
    cut2 = np.clip(zhat + 12 * sig, -Z_HALF, Z_HALF)
    ends = [(-Z_HALF + 0 * cut1, cut1), (cut1, cut2), (cut2, Z_HALF + 0 * cut2)]

    def g(s):
        piece = min(int(s), 2)
        a, b = ends[piece]
        z = a + (b - a) * (s - piece)
        return np.exp(logf(z) - top) * (b - a)

    val, _ = integrate.quad_vec(
        g, 0.0, 3.0, points=(1.0, 2.0), epsabs=1e-12, epsrel=1e-12, norm="max", limit=4000
    )
    return top + np.log(val)


def panels(lo, hi, count, dense=()):
    """Composite 8-point Gauss-Legendre: ``count`` equal panels on [lo, hi], plus 40 panels on
    each (a, b) of ``dense`` (where a large study's likelihood is narrow)."""
    edges = np.linspace(lo, hi, count + 1)
    for a, b in dense:
        edges = np.concatenate([edges, np.linspace(max(a, lo), min(b, hi), 41)])
    edges = np.unique(edges)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = (mid[:, None] + half[:, None] * GL[0]).ravel()
    weights = (half[:, None] * GL[1]).ravel()
    return edges, nodes, weights


def joint(data, prior_mu, prior_tau, mu, v):
    """log p(mu) + log L(mu, tau(v)) on the grid mu x v (prior of v uniform)."""
    mm, vv = np.meshgrid(mu, v, indexing="ij")
    tt = tau_of(prior_tau, vv)
    out = log_prior_mu(prior_mu, mm)
    for x, n in sorted(set(data)):
        count = sum(1 for d in data if d == (x, n))
        flat = np.concatenate(
            [
                study_loglik(x, n, a, b)
                for a, b in zip(
                    np.array_split(mm.ravel(), 40), np.array_split(tt.ravel(), 40), strict=True
                )
            ]
        )
        out = out + count * flat.reshape(mm.shape)
    return out


def coarse_ranges(data, prior_mu, prior_tau):
    """Where the posterior lives, from a cheap non-adaptive scan (only to place the grid)."""
    mu = np.linspace(-40, 40, 801)
    v = np.concatenate([np.linspace(1e-6, 0.99, 120), 1 - np.logspace(-2, -12, 60)])
    t, w = np.polynomial.hermite_e.hermegauss(150)
    mm, vv = np.meshgrid(mu, v, indexing="ij")
    tt = tau_of(prior_tau, vv)
    lp = log_prior_mu(prior_mu, mm)
    for x, n in data:
        eta = mm[..., None] + tt[..., None] * t
        lf = x * eta - n * np.logaddexp(0, eta)
        lp = lp + special.logsumexp(lf + np.log(w), axis=-1)
    keep = lp > lp.max() - 45
    mus = mu[keep.any(1)]
    vs = vv[keep]
    # The scan's fixed Gauss-Hermite rule underrates large studies' likelihood at large tau, so
    # the grid always runs on to v = 1 and 3 beyond the scanned mu range (the first version,
    # +-0.02 in v and +-1 in mu, cut off the tail of tau for big_n_hetero).
    return (mus.min() - 3.0, mus.max() + 3.0), (max(vs.min() - 0.02, 0.0), 1.0)


def cdf_tools(edges, f_nodes):
    """Running integral of a panel-wise interpolated density: F(c) at any c (vectorised)."""
    npan = edges.size - 1
    half = 0.5 * np.diff(edges)
    vals = f_nodes.reshape(npan, 8)
    coef = np.polynomial.legendre.legfit(GL[0], vals.T, 7).T  # (npan, 8)
    integ = np.array([np.polynomial.legendre.legint(c, lbnd=-1) for c in coef])
    mass = np.array([np.polynomial.legendre.legval(1.0, c) for c in integ]) * half
    before = np.concatenate([[0.0], np.cumsum(mass)])

    def cdf(c):
        c = np.atleast_1d(c)
        j = np.clip(np.searchsorted(edges, c) - 1, 0, npan - 1)
        u = np.clip((c - edges[j]) / half[j] - 1, -1, 1)
        inner = np.sum(np.polynomial.legendre.legvander(u, 8) * integ[j], axis=1)
        out = before[j] + inner * half[j]
        return np.where(c <= edges[0], 0.0, np.where(c >= edges[-1], before[-1], out))

    return cdf, before[-1]


def quantiles(cdf, total, lo, hi, probs=PROBS):
    return [
        optimize.brentq(lambda c, q=q: cdf(c)[0] / total - q, lo, hi, xtol=1e-13) for q in probs
    ]


def mean_proportion(mu, tau):
    """E[expit(mu + tau z)] by Gauss-Legendre (200 nodes) on each side of the sigmoid's centre
    z0 = -mu / tau, whose width 1 / tau is small for large tau."""
    t, w = np.polynomial.legendre.leggauss(200)
    z0 = np.clip(-mu / tau, -14, 14)
    total = 0.0
    for a, b in ((-14.0 + 0 * z0, z0), (z0, 14.0 + 0 * z0)):
        half = 0.5 * (b - a)
        z = 0.5 * (a + b)[..., None] + half[..., None] * t
        p = special.expit(mu[..., None] + tau[..., None] * z)
        total = total + np.sum(p * stats.norm.pdf(z) * w, -1) * half
    return total


def summarise(data, prior_mu, prior_tau, level, thresholds, scale):
    (mlo, mhi), (vlo, vhi) = coarse_ranges(data, prior_mu, prior_tau)
    # Each study's own likelihood is narrow (about +-10 SE of its logit) when n is large; the
    # posterior of mu can have a spike there (tau near 0), so the panels are dense there.
    dense = []
    for x, n in set(data):
        if 0 < x < n and n >= 50:
            centre = math.log(x / (n - x))
            se = 1 / math.sqrt(n * (x / n) * (1 - x / n))
            dense.append((centre - 12 * se, centre + 12 * se))
    medges, mu, wmu = panels(mlo, mhi, int(100 * scale), dense)
    vedges, v, wv = panels(vlo, vhi, int(40 * scale))
    lp = joint(data, prior_mu, prior_tau, mu, v)
    ref = lp.max()
    dens = np.exp(lp - ref)  # (mu, v)
    total = wmu @ dens @ wv
    log_ml = math.log(total) + ref
    probs = ((1 - level) / 2, 0.5, (1 + level) / 2)
    # mu: marginal density at the mu nodes, running integral by panels.
    mu_cdf, mu_total = cdf_tools(medges, dens @ wv)
    mu_q = quantiles(mu_cdf, mu_total, mlo, mhi, probs)
    # tau: marginal density of v.
    v_cdf, v_total = cdf_tools(vedges, wmu @ dens)
    v_q = quantiles(v_cdf, v_total, vlo, vhi, probs)
    tau_q = [float(tau_of(prior_tau, q)) for q in v_q]
    above = {str(p): float(1 - mu_cdf(special.logit(p))[0] / mu_total) for p in thresholds}
    # Posterior predictive of theta_new = mu + tau z, one v node at a time:
    # P(theta <= c | v) = int F(c - tau z | v) phi(z) dz.
    tau = tau_of(prior_tau, v)
    col_cdfs = [cdf_tools(medges, dens[:, j]) for j in range(v.size)]
    zt, zw = np.polynomial.legendre.leggauss(200)
    zz = 12 * zt
    zw = zw * 12 * stats.norm.pdf(zz)
    wcol = wv

    def pred(c):
        acc = 0.0
        for j, (cdf_j, _) in enumerate(col_cdfs):
            if tau[j] * 24 < 0.2 * (medges[1] - medges[0]):
                acc += wcol[j] * cdf_j(c)[0]
            elif tau[j] < 2 * (medges[1] - medges[0]):
                acc += wcol[j] * np.sum(zw * cdf_j(c - tau[j] * zz))
            else:
                acc += wcol[j] * np.sum(wmu * dens[:, j] * stats.norm.cdf((c - mu) / tau[j]))
        return acc / total

    span = mhi - mlo + 40 * float(tau.max())
    pi_q = [
        optimize.brentq(lambda c, q=q: pred(c) - q, mlo - span, mhi + span, xtol=1e-10)
        for q in (probs[0], probs[2])
    ]
    # Population-averaged proportion m(mu, tau), increasing in mu: P(m <= c | v) = F(mu*(c) | v).
    mgrid = mean_proportion(mu[:, None], tau[None, :])

    def mean_cdf(y):
        acc = 0.0
        for j, (cdf_j, _) in enumerate(col_cdfs):
            lm = special.logit(np.clip(mgrid[:, j], 1e-300, 1 - 1e-16))
            mu_star = np.interp(y, lm, mu, left=medges[0] - 1, right=medges[-1] + 1)
            acc += wcol[j] * cdf_j(mu_star)[0]
        return acc / total

    mean_q = [
        float(special.expit(optimize.brentq(lambda y, q=q: mean_cdf(y) - q, -30, 30, xtol=1e-10)))
        for q in probs
    ]
    return {
        "estimate": float(special.expit(mu_q[1])),
        "ci_low": float(special.expit(mu_q[0])),
        "ci_high": float(special.expit(mu_q[2])),
        "mu": mu_q[1],
        "tau": tau_q[1],
        "tau_ci_low": tau_q[0],
        "tau_ci_high": tau_q[2],
        "pi_low": float(special.expit(pi_q[0])),
        "pi_high": float(special.expit(pi_q[1])),
        "mean_proportion": mean_q[1],
        "mean_proportion_ci_low": mean_q[0],
        "mean_proportion_ci_high": mean_q[2],
        "prob_above": above,
        "log_marginal_likelihood": float(log_ml),
    }


def datasets():
    rng = np.random.default_rng(20261130)
    out = [
        ("all100_k4", [3, 1, 5, 2], [3, 1, 5, 2], "logistic:0:1", "half-normal:1"),
        ("all0_k3", [0, 0, 0], [4, 2, 7], "normal:0:2", "half-normal:0.5"),
        ("k1_interior", [7], [10], "logistic:0:1", "half-normal:1"),
        ("k1_all100_cauchy", [5], [5], "logistic:0:1", "half-cauchy:0.5"),
        ("k1_n5000", [1234], [5000], "normal:0:2", "half-normal:1"),
        (
            "cr_shipped_like",
            [1, 1, 2, 3, 2, 1],
            [1, 1, 2, 3, 3, 3],
            "logistic:0:1",
            "half-normal:1",
        ),
        (
            "big_n_hetero",
            [40, 900, 2500, 300],
            [5000, 3000, 4000, 800],
            "normal:0:2",
            "half-cauchy:1",
        ),
    ]
    for i in range(5):
        k = int(rng.integers(2, 13))
        n = rng.integers(1, 60, size=k) if i < 3 else rng.integers(1, 5001, size=k)
        theta = rng.normal(rng.normal(0.5, 1.5), rng.uniform(0, 1.5), size=k)
        x = rng.binomial(n, special.expit(theta))
        prior_tau = "half-cauchy:0.5" if i % 2 else "half-normal:0.5"
        prior_mu = "normal:0:2.5" if i % 2 else "logistic:0:1"
        out.append((f"random_{i}", x.tolist(), n.tolist(), prior_mu, prior_tau))
    return out


def parse(text):
    parts = text.split(":")
    if len(parts) == 3:
        return parts[0], float(parts[1]), float(parts[2])
    return parts[0], float(parts[1])


def one(item):
    name, x, n, pm, pt = item
    data = list(zip(x, n, strict=True))
    fine = summarise(data, parse(pm), parse(pt), 0.95, (0.5, 0.8), 1.0)
    coarse = summarise(data, parse(pm), parse(pt), 0.95, (0.5, 0.8), 0.6)
    # Largest difference on the proportion scale from a run with 0.6 times the panels: an upper
    # estimate of the reference's own error.
    keys = [k for k in fine if k.endswith(("estimate", "_low", "_high", "proportion"))]
    keys = [k for k in keys if not k.startswith("tau")]
    diff = max(abs(fine[key] - coarse[key]) for key in keys)
    print(name, f"self-check {diff:.2e}", json.dumps(fine), file=sys.stderr, flush=True)
    return {
        "name": name,
        "events": x,
        "n": n,
        "prior_mu": pm,
        "prior_tau": pt,
        "level": 0.95,
        "thresholds": [0.5, 0.8],
        "ranges": "v up to 1 and mu within 3 of the scanned ranges",
        "values": fine,
        "self_check": diff,
    }


def main(names=None):
    """Compute the datasets named (all when none) and write the JSON; named datasets replace
    their entries in an existing JSON, the others are kept."""
    from multiprocessing import Pool

    todo = [d for d in datasets() if not names or d[0] in names]
    with Pool(2) as pool:
        results = pool.map(one, todo, chunksize=1)
    kept = []
    if names and OUT.exists():
        kept = [d for d in json.loads(OUT.read_text())["datasets"] if d["name"] not in names]
    order = [d[0] for d in datasets()]
    merged = sorted(kept + results, key=lambda d: order.index(d["name"]))
    doc = {
        "generator": "tests/reference/bayes_bruteforce.py",
        "scipy": __import__("scipy").__version__,
        "numpy": np.__version__,
        "datasets": merged,
    }
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
