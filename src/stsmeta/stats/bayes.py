"""Bayesian binomial-normal random-effects model: posterior summaries of one dataset
(``posterior``), intervals of many (``batch_intervals``, for the coverage study), and the
``pool(method="bayes")`` result.

Model: events_i ~ Binomial(n_i, expit(theta_i)), theta_i ~ Normal(mu, tau^2), priors on mu
(normal or logistic, logit scale) and tau (half-normal or half-Cauchy); defaults and why in
docs/analysis-plan.md. The posterior is integrated numerically (``stats.bayes_grid``), never
sampled: the same numbers on every run and machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

from stsmeta.stats import chebyshev as cheb
from stsmeta.stats.bayes_grid import (
    _SQRT2,
    _Grid,
    _grid,
    _mu_cdf,
    _mu_moments,
    column_cdf,
    mu_quantiles,
)
from stsmeta.stats.bayes_priors import (
    DEFAULT_PRIOR_MU,
    DEFAULT_PRIOR_TAU,
    Prior,
    parse_prior,
    tau_of,
)
from stsmeta.stats.glmm import _hermite


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


def _tau_quantiles(grid: _Grid, probs) -> np.ndarray:
    """Posterior quantiles of tau (one dataset) through the Chebyshev series of the density of
    v over [v_lo, v_hi]."""
    rule_v = cheb.rule(grid.v.shape[1])
    half = 0.5 * (grid.v_hi[0] - grid.v_lo[0])
    dens = grid.column[0] / grid.total[0]
    # The CDF's series and the density's (padded with a zero), evaluated in one pass.
    coef = np.zeros((2, 1, rule_v.to_cdf.shape[0]))
    coef[0, 0] = rule_v.to_cdf @ dens * half
    coef[1, 0, :-1] = rule_v.to_coef @ dens

    def cdf_pdf(v):
        return cheb.evaluate(coef, (v - grid.v_lo[0]) / half - 1.0)

    targets = np.asarray(probs, dtype=float)
    # Start from the CDF at the nodes (running sums of the node masses), interpolated.
    share = grid.weight[0] * grid.column[0] / grid.total[0]
    start = np.interp(targets, np.cumsum(share) - 0.5 * share, grid.v[0])
    lo, hi = np.full(targets.shape, grid.v_lo[0]), np.full(targets.shape, grid.v_hi[0])
    return cheb.invert(cdf_pdf, targets, lo, hi, start)


def _predictive_cdf(grid: _Grid, c):
    """P(theta_new <= c) and its density, theta_new = mu + tau z (one dataset, c of shape (P,)).

    Per tau node: where tau is at least twice the conditional scale of mu, the normal CDF of
    (c - mu) / tau is smooth on the mu nodes and integrated there; where it is smaller, the
    conditional CDF of mu at c - tau z is smooth in z and integrated by Gauss-Hermite.
    """
    rule_m = cheb.rule(grid.dens.shape[-1])
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
        col_cdf, col_pdf = column_cdf(
            grid.a[0][narrow][None, :, None],
            half[narrow][None, :, None],
            grid.series[:, 0][:, narrow][:, None, :, None],
            grid.panel_mass[0][narrow][None, :, None],
            pts,
        )
        cdf[:, narrow] = (col_cdf * zw).sum(-1)
        pdf[:, narrow] = (col_pdf * zw).sum(-1)
    w = grid.weight[0] / grid.total[0]
    return cdf @ w, pdf @ w


def _predictive_start(grid: _Grid, targets) -> np.ndarray:
    """First guesses for the predictive quantiles: those of the mixture over tau nodes of
    N(m_t, s_t^2 + tau_t^2), m_t and s_t the conditional mean and SD of mu (cheap to invert;
    within about 1e-3 of the predictive CDF, which saves Newton steps on the costly one)."""
    rule_m = cheb.rule(grid.dens.shape[-1])
    half = 0.5 * (grid.b[0] - grid.a[0])  # (T, 2)
    mu = grid.a[0][..., None] + half[..., None] * (1 + rule_m.x)  # (T, 2, M)
    w = grid.dens[0] * rule_m.w * half[..., None]
    col = np.maximum(w.sum(axis=(1, 2)), 1e-300)
    mean = (w * mu).sum(axis=(1, 2)) / col
    var = (w * (mu - mean[:, None, None]) ** 2).sum(axis=(1, 2)) / col
    sd = np.sqrt(var + grid.tau[0] ** 2)
    share = grid.weight[0] * grid.column[0] / grid.total[0]

    def cdf_pdf(c):
        u = (c[:, None] - mean) / sd
        return special.ndtr(u) @ share, (np.exp(-0.5 * u * u) / sd) @ share / math.sqrt(2 * math.pi)

    span = float(np.abs(mean).max() + 40 * sd.max())
    lo, hi = np.full(targets.shape, -span), np.full(targets.shape, span)
    total_mean = float(mean @ share)
    total_sd = math.sqrt(float((sd**2 + (mean - total_mean) ** 2) @ share))
    return cheb.invert(
        cdf_pdf, targets, lo, hi, total_mean + total_sd * special.ndtri(targets), 1e-6
    )


@lru_cache(maxsize=4)
def _laguerre(q: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.laguerre.laggauss(q)


def _mean_proportion(mu, tau):
    """m = E[expit(mu + tau z)], z standard normal, and dm/dmu, to full accuracy for any tau.

    For tau <= 1 Gauss-Hermite over z. For larger tau the sigmoid is a cliff in z, so write
    expit(t) = 1[t > 0] - sign(t) expit(-|t|): m = Phi(mu / tau) + int_0^inf expit(-t)
    (K(-t) - K(t)) dt with K the N(mu, tau^2) density, a smooth integrand for Gauss-Laguerre.
    (In units of tau: with a = mu / tau and b = t / tau, tau K(-/+t) = phi(b +/- a), and the
    derivatives of K in mu are -/+ K (b +/- a) / tau. Written in place: the summaries call
    this on small arrays about ten times, where each array pass costs.)
    """
    shape = np.broadcast_shapes(np.shape(mu), np.shape(tau))
    mu, tau = (np.broadcast_to(a, shape).ravel() for a in (mu, tau))
    m, d = np.empty(mu.size), np.empty(mu.size)
    small = tau <= 1.0  # each branch only where it is used
    zt, zlw = _hermite(48)
    zw = np.exp(zlw - zt * zt) / math.sqrt(math.pi)
    p = special.expit(mu[small, None] + tau[small, None] * _SQRT2 * zt)
    m[small] = p @ zw
    d[small] = (p * (1 - p)) @ zw
    big = ~small
    lt, lw = _laguerre(48)
    t = tau[big]
    a = (mu[big] / t)[:, None]
    b = lt / t[:, None]
    g = lw / (1 + np.exp(-lt))
    plus_arg = b + a  # tau K(-t) = phi(b + a)
    minus_arg = b - a  # tau K(t) = phi(b - a)
    k_minus = np.exp(-0.5 * plus_arg * plus_arg)
    k_plus = np.exp(-0.5 * minus_arg * minus_arg)
    c = 1.0 / (math.sqrt(2 * math.pi) * t)
    a = a[:, 0]
    m[big] = special.ndtr(a) + c * ((k_minus - k_plus) @ g)
    slopes = k_minus * plus_arg
    slopes += k_plus * minus_arg
    d[big] = c * (np.exp(-0.5 * a * a) - (slopes @ g) / t)
    return m.reshape(shape), d.reshape(shape)


class _MeanProportionCdf:
    """P(logit m(mu, tau) <= y) and its density at y (P,): m increases with mu, so for each tau
    node it is the conditional CDF of mu at the mu* where logit m(mu*, tau) = y, found by Newton
    from the previous call's mu* moved to first order (the quantile search moves y little
    between calls, so one or two steps finish it)."""

    def __init__(self, grid: _Grid):
        self.grid = grid
        self.mu = None

    def __call__(self, y):
        grid = self.grid
        tau = grid.tau[0][None, :]  # (1, T)
        yy = y[:, None]
        # logit m(mu, tau) is close to mu / s (the probit approximation): a step is kept within
        # 5 logit units, 5 s in mu. Clipped at 5 in mu, a column of large tau (half-Cauchy
        # priors reach tau ~ 1,000, s ~ 700) took up to the 100-step cap to cross the few
        # hundred units its first guess was off by, and could stop short of its root.
        s = np.sqrt(1 + math.pi / 8 * tau * tau)
        reach = 5 * s
        if self.mu is None:
            mu = yy * s
        else:
            moved = np.divide(
                yy - self.y, self.slope, out=np.zeros(self.mu.shape), where=self.slope > 0
            )
            mu = self.mu + np.clip(moved, -reach, reach)
        for _ in range(100):
            m, dm = _mean_proportion(mu, tau)
            m = np.clip(m, 1e-300, 1 - 1e-16)
            slope = dm / (m * (1 - m))
            step = np.clip((special.logit(m) - yy) / slope, -reach, reach)
            mu = mu - step
            # Newton converges quadratically and logit m is nearly linear in mu: after a step
            # below 1e-7 the root is within ~1e-14, without evaluating m again.
            if np.all(np.abs(step) < 1e-7 * (1 + np.abs(mu))):
                break
        self.mu, self.y, self.slope = mu, yy, slope
        half = 0.5 * (grid.b[0] - grid.a[0])
        cdf, pdf = column_cdf(
            grid.a[0][None], half[None], grid.series[:, 0][:, None], grid.panel_mass[0][None], mu
        )
        pdf = pdf / slope
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
    x = np.atleast_1d(np.asarray(events, dtype=float))
    m = np.atleast_1d(np.asarray(n, dtype=float))
    grid = _grid(x[None, :], m[None, :], pm, pt)
    probs = np.array([(1 - level) / 2, 0.5, (1 + level) / 2])
    mu_q = mu_quantiles(grid, probs)[0]
    mean, sd = (float(v[0]) for v in _mu_moments(grid))
    tau_q = tau_of(pt, _tau_quantiles(grid, probs))
    span = grid.b.max() - grid.a.min() + 40 * grid.tau.max()
    ends = probs[[0, 2]]
    pi_q = cheb.invert(
        lambda c: _predictive_cdf(grid, c),
        ends,
        np.full(2, grid.a.min() - span),
        np.full(2, grid.b.max() + span),
        _predictive_start(grid, ends),
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
    q = special.expit(batch_mu_quantiles(events, n, prior_mu, prior_tau, level))
    return q[:, 1], q[:, 0], q[:, 2]


def batch_mu_quantiles(
    events, n, prior_mu=DEFAULT_PRIOR_MU, prior_tau=DEFAULT_PRIOR_TAU, level=0.95
) -> np.ndarray:
    """The posterior quantiles (1 - level) / 2, 1 / 2 and (1 + level) / 2 of mu (logit scale),
    (B, 3), of ``batch_intervals``' datasets."""
    pm = parse_prior(prior_mu, "mu")
    pt = parse_prior(prior_tau, "tau")
    x = np.atleast_2d(np.asarray(events, dtype=float))
    m = np.broadcast_to(np.asarray(n, dtype=float), x.shape)
    grid = _grid(x, m, pm, pt)
    return mu_quantiles(grid, [(1 - level) / 2, 0.5, (1 + level) / 2])


def pool_bayes(x, m, settings, common, study_rows, level, prior_mu, prior_tau, thresholds, scope):
    """``pool(method="bayes")``: the posterior as a ``PoolResult``. ``mu`` is the posterior median
    of mu and ``se`` its posterior SD; ``tau2`` and its interval are the posterior median and
    interval of tau^2 (tau squared, as the map is monotone); the rest is in ``extra``."""
    from stsmeta.stats.glmm import homogeneity_lrt
    from stsmeta.stats.results import PoolResult

    pm = parse_prior(prior_mu or DEFAULT_PRIOR_MU, "mu")
    pt = parse_prior(prior_tau or DEFAULT_PRIOR_TAU, "tau")
    for t in thresholds:
        # A number, not text that float() would read ("0.5") nor a boolean.
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)):
            raise ValueError(f"threshold {t!r} must be a number, a proportion between 0 and 1")
        if not 0 < float(t) < 1:
            raise ValueError(f"threshold {t} must be a proportion strictly between 0 and 1")
    post = posterior(x, m, pm, pt, level, thresholds)
    pct = f"{level:.0%}"
    settings.update(
        ci="equal-tailed credible",
        pi="posterior predictive",
        prior_mu=pm.text(),
        prior_tau=pt.text(),
        description=(
            f"Bayesian binomial-normal model (mu ~ {pm.label()} on the logit scale, tau ~ "
            f"{pt.label()}; posterior by deterministic quadrature), median and {pct} equal-tailed "
            f"credible interval, {pct} posterior predictive interval, {scope}"
        ),
    )
    warnings = []
    k, sx, sn = int(x.size), int(np.sum(x)), int(np.sum(m))
    if k == 1:
        warnings.append(
            "k = 1: the data say nothing about heterogeneity; tau and the predictive interval "
            "follow the prior on tau"
        )
    if sx in (0, sn):
        share, side = ("100%", "upper") if sx == sn else ("0%", "lower")
        warnings.append(
            f"every study at {share}: the data give no {side} limit, so the estimate and the "
            f"{side} end of its interval rest mainly on the prior on mu (see the prior-sensitivity "
            "analysis)"
        )
    q, q_p = homogeneity_lrt(x, m)
    extra = {
        "tau": post.tau,
        "tau_ci_low": post.tau_ci_low,
        "tau_ci_high": post.tau_ci_high,
        "prob_above": post.prob_above,
        "mean_proportion": post.mean_proportion,
        "mean_proportion_ci_low": post.mean_proportion_ci_low,
        "mean_proportion_ci_high": post.mean_proportion_ci_high,
        "mu_mean": post.mu_mean,
        "log_marginal_likelihood": post.log_marginal_likelihood,
        "q_test": "likelihood ratio (saturated vs common-effect binomial model)",
    }
    return PoolResult(
        settings=settings,
        **common,
        estimate=post.estimate,
        ci_low=post.ci_low,
        ci_high=post.ci_high,
        pi_low=post.pi_low,
        pi_high=post.pi_high,
        mu=post.mu,
        se=post.mu_sd,
        tau2=post.tau**2,
        i2=math.nan,
        q=q,
        q_p=q_p,
        q_df=k - 1 if k > 1 else None,
        warnings=tuple(warnings),
        studies=study_rows(),
        converged=True,
        tau2_ci_low=post.tau_ci_low**2,
        tau2_ci_high=post.tau_ci_high**2,
        extra=extra,
    )
