"""Bayesian binomial-normal random-effects model, computed by deterministic quadrature (no MCMC).

Model: events_i ~ Binomial(n_i, expit(theta_i)), theta_i ~ Normal(mu, tau^2), with priors on mu
(normal or logistic, logit scale) and tau (half-normal or half-Cauchy); see
``stsmeta.stats.bayes_priors`` and docs/analysis-plan.md for the defaults and why.

The posterior of (mu, tau) is integrated numerically, the same bytes on every run:

* Each study's effect is integrated out by adaptive Gauss-Hermite quadrature centred at the mode of
  its integrand and scaled by its curvature (Liu & Pierce 1994; the code of ``stats.glmm``).
* tau is replaced by its prior CDF v in (0, 1), where its prior is uniform; the posterior of v is
  sampled at T first-kind Chebyshev nodes of an interval [v_lo, v_hi], found by repeated passes
  that cut away the part where the density is below exp(-32) of its peak.
* For each tau node the conditional posterior of mu is log-concave (a log-concave prior times a
  product of Gaussian convolutions of log-concave binomial likelihoods; Prekopa 1973), so Newton
  finds its mode, and the range [a, b] around it is chosen so that the mass outside is provably
  below exp(-32) of the column's: beyond b, log-concavity bounds the density by
  f(b) exp(g(b) (mu - b)), whose integral is f(b) / |g(b)|. Each side of the mode is a panel
  of M first-kind Chebyshev nodes.
* Densities are replaced by their Chebyshev interpolants (``stats.chebyshev``): the marginal
  likelihood is their integral, CDFs are exact integrals of the interpolants, and quantiles are
  found by safeguarded Newton on those CDFs.

Accuracy is checked against scipy brute-force integration (tests/reference/bayes_bruteforce.py)
and JAGS (tests/reference/bayes_jags.R) in tests/test_stats_bayes.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

from stsmeta.stats import chebyshev as cheb
from stsmeta.stats.bayes_priors import (
    DEFAULT_PRIOR_MU,
    DEFAULT_PRIOR_TAU,
    Prior,
    mu_log_density,
    parse_prior,
    tau_of,
)
from stsmeta.stats.glmm import _hermite, collapse_studies, log_choose

#: Quadrature sizes: nodes per adaptive Gauss-Hermite integral, per mu panel, per v interval.
GH_NODES = 16
MU_NODES = 32
V_NODES = 48
#: Mass left outside the integration ranges: below exp(-TAIL) of the total.
TAIL = 32.0
_SQRT2 = math.sqrt(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# Multiples of a column's curvature scale tried as the distance from its mode to each end.
_REACH = np.array([4.0, 6.0, 8.0, 11.0, 15.0, 20.0, 28.0, 40.0, 60.0, 90.0, 140.0, 220.0, 400.0])


@dataclass(frozen=True)
class BayesPosterior:
    """Posterior summaries of one dataset. Proportions are expit of logit-scale quantities; the
    fields shared with ``PoolResult`` have its meaning (``estimate``, ``ci_*``, ``pi_*``, ``mu``),
    with intervals equal-tailed credible intervals at ``level``."""

    k: int
    events: int
    n: int
    level: float
    prior_mu: str
    prior_tau: str
    estimate: float  # posterior median of expit(mu)
    ci_low: float
    ci_high: float
    mu: float  # posterior median of mu
    mu_mean: float
    mu_sd: float
    tau: float  # posterior median of tau
    tau_ci_low: float
    tau_ci_high: float
    pi_low: float  # posterior predictive interval of a new study's true proportion
    pi_high: float
    mean_proportion: float  # posterior median of E[expit(mu + tau z)]
    mean_proportion_ci_low: float
    mean_proportion_ci_high: float
    prob_above: dict[str, float] = field(default_factory=dict)
    log_marginal_likelihood: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class _Grid:
    """The quadrature of a batch of B datasets: T tau nodes, 2 panels of M mu nodes each."""

    v: np.ndarray  # (B, T) prior-CDF values of tau
    v_lo: np.ndarray  # (B,)
    v_hi: np.ndarray
    tau: np.ndarray  # (B, T)
    scale: np.ndarray  # (B, T) curvature scale of mu given tau
    a: np.ndarray  # (B, T, 2) panel ends
    b: np.ndarray
    dens: np.ndarray  # (B, T, 2, M) joint density / exp(ref)
    column: np.ndarray  # (B, T) integral over mu of dens
    weight: np.ndarray  # (B, T) Fejer weights in v (times the interval's half-length)
    total: np.ndarray  # (B,) integral of dens over (mu, v)
    ref: np.ndarray  # (B,) log scale of dens
    cdf_coef: np.ndarray  # (B, T, 2, M + 1) Chebyshev series of each panel's running integral
    pdf_coef: np.ndarray  # (B, T, 2, M) and of its density
    panel_mass: np.ndarray  # (B, T, 2)


def _data(events, n):
    x, m, count = collapse_studies(np.atleast_2d(events), np.atleast_2d(n))
    return x, m, count, log_choose(x, m)


def _integrand_modes(x, n, mu, tau):
    """Mode z and curvature scale of each study's integrand x eta - n log(1 + e^eta) - z^2 / 2,
    eta = mu + tau z, by Newton's method on d = eta - mu (so that tiny tau loses no digits):
    F(d) = x - n expit(mu + d) - d / tau^2 decreases, steps are capped at 3 logit units (the
    sigmoid saturates beyond), and the start is the data's own logit when tau^2 n is large."""
    tau2 = tau * tau
    wide = tau2 * n > 4.0
    d = np.where(wide, special.logit((x + 0.5) / (n + 1.0)) - mu, 0.0)
    for _ in range(60):
        p = special.expit(mu + d)
        slope = n * p * (1 - p) + 1.0 / tau2
        step = np.clip((x - n * p - d / tau2) / slope, -3.0, 3.0)
        d = d + step
        if np.all(np.abs(step) <= 1e-10 * (1 + np.abs(d))):
            break
    p = special.expit(mu + d)
    return d / tau, 1.0 / np.sqrt(tau2 * n * p * (1 - p) + 1.0)


@lru_cache(maxsize=8)
def _legendre01(q: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(q)
    return 0.5 * (t + 1), 0.5 * w


def _stretched_nodes(x, n, mu, tau, zhat, sigma):
    """Nodes and log weights for the integral over z of a study's integrand h: Gauss-Legendre
    on each side of the mode in w, z = zhat -/+ sigma (e^w - 1), w in [0, log(1 + E / sigma)].

    h is concave with curvature at least 1 (its -z^2 / 2 term), so it falls by more than 40
    within E = 9 of the mode. Where it has already fallen by 28 at 8 sigma (a near-normal side,
    e.g. a large study), concavity bounds the rest by the tangent there and E = 10 sigma. The
    logarithmic stretch resolves both the mode's own scale and the unit scale of the normal
    density: with large tau a study at 0% or 100% has a cliff of width ~ 1 / tau on one side of
    its mode and a normal shoulder on the other, which Gauss-Hermite nodes centred on the mode do
    not resolve (their error does not fall steadily with more nodes).
    """
    u, wu = _legendre01(GH_NODES)

    def h(z):
        eta = mu + tau * z
        return x * eta - n * np.logaddexp(0.0, eta) - 0.5 * z * z

    peak = h(zhat)
    nodes, weights = [], []
    for sign in (-1.0, 1.0):
        near = h(zhat + sign * 8 * sigma) <= peak - 28
        extent = np.where(near, 10 * sigma, 9.0)
        span = np.log1p(extent / sigma)[..., None]
        w = span * u
        nodes.append(zhat[..., None] + sign * sigma[..., None] * np.expm1(w))
        weights.append(np.log(sigma[..., None] * span * wu) + w)
    return np.concatenate(nodes, axis=-1), np.concatenate(weights, axis=-1)


def _log_post(data, mu, tau, prior_mu: Prior, derivatives: bool = False):
    """log p(mu) + sum_i log L_i(mu, tau) at mu (B, T, P) and tau (B, T); with ``derivatives``
    also its first and second derivative in mu (posterior moments on the same nodes)."""
    x, n, count, lchoose = (d[:, None, None, :] for d in data)
    mu4 = mu[..., None]
    tau4 = tau[:, :, None, None]
    zhat, sigma = _integrand_modes(x, n, mu4, tau4)
    z, logw = _stretched_nodes(x, n, mu4, tau4, zhat, sigma)
    eta = mu4[..., None] + tau4[..., None] * z
    xq, nq = x[..., None], n[..., None]
    logf = xq * eta - nq * np.logaddexp(0.0, eta) - 0.5 * z * z + logw
    top = logf.max(axis=-1)
    e = np.exp(logf - top[..., None])
    total = e.sum(axis=-1)
    ll = top + np.log(total) - _HALF_LOG_2PI + lchoose
    lp0, g0, h0 = mu_log_density(prior_mu, mu)
    lp = lp0 + (count * ll).sum(axis=-1)
    if not derivatives:
        return lp
    # Derivatives in mu as posterior moments (Louis 1982) of theta = mu + tau z: the score is
    # E[z] / tau and the curvature (Var z - 1) / tau^2, which is stable for large tau; for small
    # tau those cancel, and the binomial form E[r], E[r^2 - info] - E[r]^2 (r = x - n p) is used.
    post = e / total[..., None]
    ez = (post * z).sum(axis=-1)
    vz = (post * (z - ez[..., None]) ** 2).sum(axis=-1)
    g_z = ez / tau4
    h_z = (vz - 1.0) / (tau4 * tau4)
    p = special.expit(eta)
    r = xq - nq * p
    g_r = (post * r).sum(axis=-1)
    h_r = (post * (r * r - nq * p * (1 - p))).sum(axis=-1) - g_r * g_r
    large = tau4 > 0.05
    g = np.where(large, g_z, g_r)
    h = np.where(large, h_z, h_r)
    return lp, g0 + (count * g).sum(axis=-1), h0 + (count * h).sum(axis=-1)


def _column_modes(data, tau, prior_mu, start):
    """Mode of mu given each tau (B, T) and the curvature scale there, by Newton's method kept
    inside a bracket that the sign of the (decreasing) gradient narrows."""
    mu = np.broadcast_to(start[:, None], tau.shape).astype(float)
    lo = np.full(tau.shape, -np.inf)
    hi = np.full(tau.shape, np.inf)
    for _ in range(200):
        _, g, h = _log_post(data, mu[..., None], tau, prior_mu, True)
        g, h = g[..., 0], h[..., 0]
        lo = np.where(g > 0, mu, lo)
        hi = np.where(g < 0, mu, hi)
        scale = 1.0 / np.sqrt(np.maximum(-h, 1e-300))
        step = np.clip(-g / np.minimum(h, -1e-300), -4 * scale, 4 * scale)
        new = mu + step
        outside = (new <= lo) | (new >= hi)
        new = np.where(outside & np.isfinite(lo) & np.isfinite(hi), 0.5 * (lo + hi), new)
        # The mode only places the panels: a thousandth of the scale is plenty.
        done = np.abs(new - mu) <= 1e-3 * scale
        mu = new
        if done.all():
            break
    _, _, h = _log_post(data, mu[..., None], tau, prior_mu, True)
    return mu, 1.0 / np.sqrt(-h[..., 0])


def _panel_ends(data, tau, prior_mu, mode, scale):
    """Each column's ends (a, b): the nearest of mode -/+ _REACH * scale beyond which the
    log-concave tail holds less than exp(-TAIL) of the column's Laplace mass."""
    ladder = np.concatenate([-_REACH[::-1], _REACH])
    points = mode[..., None] + scale[..., None] * ladder
    lp, g, _ = _log_post(data, points, tau, prior_mu, True)
    peak = _log_post(data, mode[..., None], tau, prior_mu)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = lp - np.log(np.abs(g))
    small = peak[..., None] + np.log(scale)[..., None] - TAIL
    right_side = ladder > 0
    # Outer tail bound valid only where the gradient points down the tail.
    ok = np.where(right_side, g < 0, g > 0) & (bound <= small)
    nl = _REACH.size
    left_ok = ok[..., :nl][..., ::-1]  # nearest first
    right_ok = ok[..., nl:]
    left = np.where(left_ok.any(-1), _REACH[np.argmax(left_ok, -1)], _REACH[-1])
    right = np.where(right_ok.any(-1), _REACH[np.argmax(right_ok, -1)], _REACH[-1])
    return mode - left * scale, mode + right * scale


def _build(data, prior_mu, prior_tau, v_lo, v_hi, start):
    rule_v = cheb.rule(V_NODES)
    rule_m = cheb.rule(MU_NODES)
    v = v_lo[:, None] + (v_hi - v_lo)[:, None] * 0.5 * (1 + rule_v.x)
    tau = tau_of(prior_tau, v)
    mode, scale = _column_modes(data, tau, prior_mu, start)
    a_end, b_end = _panel_ends(data, tau, prior_mu, mode, scale)
    a = np.stack([a_end, mode], axis=-1)  # (B, T, 2)
    b = np.stack([mode, b_end], axis=-1)
    half = 0.5 * (b - a)
    mu = a[..., None] + half[..., None] * (1 + rule_m.x)  # (B, T, 2, M)
    shape = mu.shape
    lp = _log_post(data, mu.reshape(shape[0], shape[1], -1), tau, prior_mu).reshape(shape)
    ref = lp.max(axis=(1, 2, 3))
    dens = np.exp(lp - ref[:, None, None, None])
    cdf_coef = np.einsum("btpm,km->btpk", dens, rule_m.to_cdf) * half[..., None]
    pdf_coef = np.einsum("btpm,km->btpk", dens, rule_m.to_coef)
    panel_mass = np.einsum("btpm,m->btp", dens, rule_m.w) * half
    column = panel_mass.sum(axis=-1)
    weight = 0.5 * (v_hi - v_lo)[:, None] * rule_v.w
    total = (weight * column).sum(axis=1)
    return _Grid(
        v,
        v_lo,
        v_hi,
        tau,
        scale,
        a,
        b,
        dens,
        column,
        weight,
        total,
        ref,
        cdf_coef,
        pdf_coef,
        panel_mass,
    )


def _grid(events, n, prior_mu: Prior, prior_tau: Prior, passes: int = 5) -> _Grid:
    """The quadrature of a batch, its v interval narrowed pass by pass to where the posterior
    of v is above exp(-TAIL) of its peak (all datasets in step)."""
    data = _data(events, n)
    x, m, count, _ = data
    start = special.logit(((x * count).sum(1) + 0.5) / ((m * count).sum(1) + 1.0))
    lo = np.zeros(x.shape[0])
    hi = np.ones(x.shape[0])
    for _ in range(passes):
        grid = _build(data, prior_mu, prior_tau, lo, hi, start)
        with np.errstate(divide="ignore"):
            rel = np.log(grid.column) - np.log(grid.column.max(axis=1, keepdims=True))
        big = rel > -TAIL
        first = np.argmax(big, axis=1)
        last = big.shape[1] - 1 - np.argmax(big[:, ::-1], axis=1)
        rows = np.arange(big.shape[0])
        new_lo = np.where(first > 0, grid.v[rows, np.maximum(first - 1, 0)], lo)
        new_hi = np.where(last < big.shape[1] - 1, grid.v[rows, np.minimum(last + 1, -1)], hi)
        shrink = (new_hi - new_lo) < 0.5 * (hi - lo)
        if not shrink.any():
            return grid
        lo = np.where(shrink, new_lo, lo)
        hi = np.where(shrink, new_hi, hi)
    return _build(data, prior_mu, prior_tau, lo, hi, start)


def _mu_cdf(grid: _Grid, c):
    """Posterior CDF and density of mu at c (B, P)."""
    half = 0.5 * (grid.b - grid.a)  # (B, T, 2)
    xs = (c[:, :, None, None] - grid.a[:, None]) / half[:, None] - 1.0  # (B, P, T, 2)
    inside = np.abs(xs) <= 1
    within = cheb.evaluate(grid.cdf_coef[:, None], xs)
    cdf = np.where(xs > 1, grid.panel_mass[:, None], np.where(inside, within, 0.0))
    pdf = np.where(inside, cheb.evaluate(grid.pdf_coef[:, None], xs), 0.0)
    w = grid.weight[:, None, :]
    return (
        np.einsum("bpt,bpt->bp", w, cdf.sum(-1)) / grid.total[:, None],
        np.einsum("bpt,bpt->bp", w, pdf.sum(-1)) / grid.total[:, None],
    )


def mu_quantiles(grid: _Grid, probs) -> np.ndarray:
    """Posterior quantiles of mu (B, len(probs))."""
    targets = np.broadcast_to(np.asarray(probs, dtype=float), (grid.total.size, len(probs)))
    lo = np.broadcast_to(grid.a.min(axis=(1, 2))[:, None], targets.shape)
    hi = np.broadcast_to(grid.b.max(axis=(1, 2))[:, None], targets.shape)
    mean, sd = _mu_moments(grid)
    start = mean[:, None] + sd[:, None] * special.ndtri(targets)
    return cheb.invert(lambda c: _mu_cdf(grid, c), targets, lo, hi, start)


def _mu_moments(grid: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and SD of mu (B,) by the panel quadrature."""
    rule_m = cheb.rule(MU_NODES)
    half = 0.5 * (grid.b - grid.a)
    mu = grid.a[..., None] + half[..., None] * (1 + rule_m.x)
    share = grid.weight / grid.total[:, None]
    w = grid.dens * rule_m.w * half[..., None] * share[..., None, None]
    mean = (w * mu).sum(axis=(1, 2, 3))
    var = (w * (mu - mean[:, None, None, None]) ** 2).sum(axis=(1, 2, 3))
    return mean, np.sqrt(np.maximum(var, 0.0))


def _tau_quantiles(grid: _Grid, probs) -> np.ndarray:
    """Posterior quantiles of tau (one dataset) through the Chebyshev series of the density of
    v over [v_lo, v_hi]."""
    rule_v = cheb.rule(V_NODES)
    half = 0.5 * (grid.v_hi[0] - grid.v_lo[0])
    dens = grid.column[0] / grid.total[0]
    cdf_coef = rule_v.to_cdf @ dens * half
    pdf_coef = rule_v.to_coef @ dens

    def cdf_pdf(v):
        xs = (v - grid.v_lo[0]) / half - 1.0
        return cheb.evaluate(cdf_coef, xs), cheb.evaluate(pdf_coef, xs)

    targets = np.asarray(probs, dtype=float)
    v = cheb.invert(
        cdf_pdf, targets, np.full(targets.shape, grid.v_lo[0]), np.full(targets.shape, grid.v_hi[0])
    )
    return v


def _predictive_cdf(grid: _Grid, c):
    """P(theta_new <= c) and its density, theta_new = mu + tau z (one dataset, c of shape (P,)).

    Per tau node: where tau is at least twice the conditional scale of mu, the normal CDF of
    (c - mu) / tau is smooth on the mu nodes and integrated there; where it is smaller, the
    conditional CDF of mu at c - tau z is smooth in z and integrated by Gauss-Hermite.
    """
    rule_m = cheb.rule(MU_NODES)
    tau = grid.tau[0]
    half = 0.5 * (grid.b[0] - grid.a[0])  # (T, 2)
    mu = grid.a[0][..., None] + half[..., None] * (1 + rule_m.x)  # (T, 2, M)
    wide = tau >= 2 * grid.scale[0]
    cdf = np.zeros((c.size, tau.size))
    pdf = np.zeros((c.size, tau.size))
    if wide.any():
        t = tau[wide][None, :, None, None]
        u = (c[:, None, None, None] - mu[wide][None]) / t
        w = grid.dens[0][wide][None] * rule_m.w * half[wide][None, ..., None]
        cdf[:, wide] = (w * special.ndtr(u)).sum(axis=(-1, -2))
        pdf[:, wide] = (w * np.exp(-0.5 * u * u) / (math.sqrt(2 * math.pi) * t)).sum(axis=(-1, -2))
    narrow = ~wide
    if narrow.any():
        zt, zlw = _hermite(32)
        zw = np.exp(zlw - zt * zt) / math.sqrt(math.pi)
        z = _SQRT2 * zt
        pts = c[:, None, None] - tau[narrow][None, :, None] * z  # (P, Tn, Q)
        a = grid.a[0][narrow][None, :, None, :]
        hh = half[narrow][None, :, None, :]
        xs = (pts[..., None] - a) / hh - 1.0  # (P, Tn, Q, 2)
        inside = np.abs(xs) <= 1
        cc = grid.cdf_coef[0][narrow][None, :, None]
        pc = grid.pdf_coef[0][narrow][None, :, None]
        mass = grid.panel_mass[0][narrow][None, :, None]
        col_cdf = np.where(xs > 1, mass, np.where(inside, cheb.evaluate(cc, xs), 0.0)).sum(-1)
        col_pdf = np.where(inside, cheb.evaluate(pc, xs), 0.0).sum(-1)
        cdf[:, narrow] = (col_cdf * zw).sum(-1)
        pdf[:, narrow] = (col_pdf * zw).sum(-1)
    w = grid.weight[0] / grid.total[0]
    return cdf @ w, pdf @ w


def _mean_proportion(mu, tau):
    """m = E[expit(mu + tau z)], z standard normal, and dm/dmu, to full accuracy for any tau.

    For tau <= 1 Gauss-Hermite over z. For larger tau the sigmoid is a cliff in z, so write
    expit(t) = 1[t > 0] - sign(t) expit(-|t|): m = Phi(mu / tau) + int_0^inf expit(-t)
    (K(-t) - K(t)) dt with K the N(mu, tau^2) density, a smooth integrand for Gauss-Laguerre.
    """
    zt, zlw = _hermite(48)
    zw = np.exp(zlw - zt * zt) / math.sqrt(math.pi)
    tau_s = np.minimum(tau, 1.0)[..., None]
    p = special.expit(mu[..., None] + tau_s * _SQRT2 * zt)
    m_small = (p * zw).sum(-1)
    d_small = (p * (1 - p) * zw).sum(-1)
    lt, lw = np.polynomial.laguerre.laggauss(48)
    big_tau = np.maximum(tau, 1.0)[..., None]
    mu_ = mu[..., None]
    k_minus = np.exp(-0.5 * ((-lt - mu_) / big_tau) ** 2) / (math.sqrt(2 * math.pi) * big_tau)
    k_plus = np.exp(-0.5 * ((lt - mu_) / big_tau) ** 2) / (math.sqrt(2 * math.pi) * big_tau)
    g = lw / (1 + np.exp(-lt))
    m_big = special.ndtr(mu / big_tau[..., 0]) + (g * (k_minus - k_plus)).sum(-1)
    dk_minus = k_minus * (-lt - mu_) / big_tau**2
    dk_plus = k_plus * (lt - mu_) / big_tau**2
    d_big = np.exp(-0.5 * (mu / big_tau[..., 0]) ** 2) / (
        math.sqrt(2 * math.pi) * big_tau[..., 0]
    ) + (g * (dk_minus - dk_plus)).sum(-1)
    small = tau <= 1.0
    return np.where(small, m_small, m_big), np.where(small, d_small, d_big)


class _MeanProportionCdf:
    """P(logit m(mu, tau) <= y) and its density at y (P,): m increases with mu, so for each tau
    node it is the conditional CDF of mu at the mu* where logit m(mu*, tau) = y, found by Newton
    from the previous call's mu* (the quantile search moves y little between calls)."""

    def __init__(self, grid: _Grid):
        self.grid = grid
        self.mu = None

    def __call__(self, y):
        grid = self.grid
        tau = grid.tau[0][None, :]  # (1, T)
        yy = y[:, None]
        mu = yy * np.sqrt(1 + math.pi / 8 * tau * tau) if self.mu is None else self.mu
        for _ in range(100):
            m, dm = _mean_proportion(mu, tau)
            m = np.clip(m, 1e-300, 1 - 1e-16)
            slope = dm / (m * (1 - m))
            step = np.clip((special.logit(m) - yy) / slope, -5, 5)
            mu = mu - step
            if np.all(np.abs(step) < 1e-10 * (1 + np.abs(mu))):
                break
        self.mu = mu
        half = 0.5 * (grid.b[0] - grid.a[0])
        xs = (mu[..., None] - grid.a[0][None]) / half[None] - 1.0  # (P, T, 2)
        inside = np.abs(xs) <= 1
        within = cheb.evaluate(grid.cdf_coef[0], xs)
        cdf = np.where(xs > 1, grid.panel_mass[0][None], np.where(inside, within, 0)).sum(-1)
        pdf = np.where(inside, cheb.evaluate(grid.pdf_coef[0], xs), 0.0).sum(-1) / slope
        w = grid.weight[0] / grid.total[0]
        return cdf @ w, pdf @ w


def posterior(
    events,
    n,
    prior_mu: str | Prior = DEFAULT_PRIOR_MU,
    prior_tau: str | Prior = DEFAULT_PRIOR_TAU,
    level: float = 0.95,
    thresholds=(),
) -> BayesPosterior:
    """The posterior of one dataset (valid whole-number counts, k >= 1; all 0% or all 100%
    included): medians and equal-tailed intervals at ``level`` of expit(mu), tau, the mean
    proportion and a new study's true proportion, P(expit(mu) > t) for each threshold, and the
    log marginal likelihood (binomial coefficients included)."""
    pm = parse_prior(prior_mu, "mu")
    pt = parse_prior(prior_tau, "tau")
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    grid = _grid(x[None, :], m[None, :], pm, pt)
    probs = np.array([(1 - level) / 2, 0.5, (1 + level) / 2])
    mu_q = mu_quantiles(grid, probs)[0]
    mean, sd = (float(v[0]) for v in _mu_moments(grid))
    tau_q = tau_of(pt, _tau_quantiles(grid, probs))
    span = grid.b.max() - grid.a.min() + 40 * grid.tau.max()
    ends = probs[[0, 2]]
    tau_mean = float((grid.weight[0] * grid.column[0] * grid.tau[0]).sum() / grid.total[0])
    pi_q = cheb.invert(
        lambda c: _predictive_cdf(grid, c),
        ends,
        np.full(2, grid.a.min() - span),
        np.full(2, grid.b.max() + span),
        mu_q[[0, 2]] + (mu_q[[0, 2]] - mu_q[1]) * tau_mean / max(sd, 1e-3),
    )
    mean_q = cheb.invert(
        _MeanProportionCdf(grid), probs, np.full(3, -40.0), np.full(3, 40.0), mu_q * 0.9
    )
    above = {}
    if len(thresholds):
        t = np.asarray(thresholds, dtype=float)
        cdf, _ = _mu_cdf(grid, special.logit(t)[None, :])
        above = {f"{ti:g}": float(1 - ci) for ti, ci in zip(t, cdf[0], strict=True)}
    return BayesPosterior(
        k=int(x.size),
        events=int(x.sum()),
        n=int(m.sum()),
        level=float(level),
        prior_mu=pm.text(),
        prior_tau=pt.text(),
        estimate=float(special.expit(mu_q[1])),
        ci_low=float(special.expit(mu_q[0])),
        ci_high=float(special.expit(mu_q[2])),
        mu=float(mu_q[1]),
        mu_mean=mean,
        mu_sd=sd,
        tau=float(tau_q[1]),
        tau_ci_low=float(tau_q[0]),
        tau_ci_high=float(tau_q[2]),
        pi_low=float(special.expit(pi_q[0])),
        pi_high=float(special.expit(pi_q[1])),
        mean_proportion=float(special.expit(mean_q[1])),
        mean_proportion_ci_low=float(special.expit(mean_q[0])),
        mean_proportion_ci_high=float(special.expit(mean_q[2])),
        prob_above=above,
        log_marginal_likelihood=float(math.log(grid.total[0]) + grid.ref[0]),
    )


def batch_intervals(events, n, prior_mu=DEFAULT_PRIOR_MU, prior_tau=DEFAULT_PRIOR_TAU, level=0.95):
    """Posterior median and equal-tailed interval of expit(mu) for many datasets at once:
    events (B, k), n (B, k) or (k,). The same computation as ``posterior`` (so the same numbers
    up to the last bits), vectorised over datasets, for the coverage study."""
    pm = parse_prior(prior_mu, "mu")
    pt = parse_prior(prior_tau, "tau")
    x = np.atleast_2d(np.asarray(events, dtype=float))
    m = np.broadcast_to(np.asarray(n, dtype=float), x.shape)
    grid = _grid(x, m, pm, pt)
    q = special.expit(mu_quantiles(grid, [(1 - level) / 2, 0.5, (1 + level) / 2]))
    return q[:, 1], q[:, 0], q[:, 2]
