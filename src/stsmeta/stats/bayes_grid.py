"""The quadrature of the Bayesian binomial-normal model (``stsmeta.stats.bayes``), no MCMC.

Model: events_i ~ Binomial(n_i, expit(theta_i)), theta_i ~ Normal(mu, tau^2), with priors on mu
(normal or logistic, logit scale) and tau (half-normal or half-Cauchy); see
``stsmeta.stats.bayes_priors`` and docs/analysis-plan.md for the defaults and why.

The posterior of (mu, tau) is integrated numerically, the same bytes on every run:

* Each study's effect is integrated out. At a column's panel nodes, where it is cheaper, all
  studies at once by a Gaussian convolution on a shared theta grid, or Gauss-Hermite for tau
  near 0 (``stats.bayes_conv``); elsewhere (column modes, panel ends, large studies) by
  quadrature adapted to each integrand: Gauss-Legendre on a logarithmic stretch each side of
  its mode, and for a study at 0% or 100% with tau >= 1.5 an exact split at the cliff of its
  likelihood (``stats.bayes_study``).
* tau is replaced by a variable v linear near tau = 0, where the posterior density of tau is
  positive (``bayes_priors``: asinh(tau / scale) for the half-normal, its prior CDF for the
  half-Cauchy). The posterior of v is sampled at T first-kind Chebyshev nodes of an interval
  [v_lo, v_hi], starting from the whole prior range and narrowed by repeated passes that cut
  away the part where the density is below exp(-32) of its peak.
* For each tau node the conditional posterior of mu is log-concave (a log-concave prior times a
  product of Gaussian convolutions of log-concave binomial likelihoods; Prekopa 1973), so Newton
  finds its mode, and the range [a, b] around it is chosen so that the mass outside is provably
  below exp(-32) of the column's: beyond b, log-concavity bounds the density by
  f(b) exp(g(b) (mu - b)), whose integral is f(b) / |g(b)|, and |g(b)| is at least the slope
  of the chord from the mode. Each side of the mode is a panel of M first-kind Chebyshev nodes.
* Densities are replaced by their Chebyshev interpolants (``stats.chebyshev``): the marginal
  likelihood is their integral, CDFs are exact integrals of the interpolants, and quantiles are
  found by safeguarded Newton on those CDFs.

Accuracy is checked against scipy brute-force integration (tests/reference/bayes_bruteforce.py),
JAGS (tests/reference/bayes_jags.R) and the same quadrature with every rule doubled, in
tests/test_stats_bayes.py. Every step is taken per dataset (Newton iterations, range passes,
blocks of rows), so a dataset's numbers are the same bits alone or in a batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from stsmeta.stats import bayes_conv as conv
from stsmeta.stats import bayes_study as study
from stsmeta.stats import chebyshev as cheb
from stsmeta.stats.bayes_priors import Prior, mu_log_density, tau_log_density, tau_of, u_max
from stsmeta.stats.glmm import collapse_studies, log_choose

#: Quadrature sizes: nodes per mu panel, per v interval (per study integral: bayes_study).
MU_NODES = 32
#: Per tau prior: doubling from these (tests/test_stats_bayes.py::test_quadrature_has_converged)
#: moves no proportion by more than 1e-6 for the half-normal (24 nodes: 2e-5); the half-Cauchy's
#: posteriors have a longer tail in u and keep 48.
V_NODES = {"half-normal": 32, "half-cauchy": 48}
#: Mass left outside the integration ranges: below exp(-TAIL) of the total.
TAIL = 32.0
#: A column's mode search stops after a Newton step below this many curvature scales (the
#: mode only splits the column into its two panels; see ``_column_modes``).
MODE_TOL = 0.5
#: Study integrals per block of ``_log_post`` (a whole k = 6 posterior grid is one block).
ROW_BLOCK = 16384
_SQRT2 = math.sqrt(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# Multiples of a column's curvature scale tried as the distance from its mode to each end.
_REACH = np.array([5.0, 8.0, 12.0, 18.0, 28.0, 45.0, 80.0, 150.0, 400.0])


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
    # (2, B, T, 2, M + 1) Chebyshev series of each panel's running integral ([0]) and of its
    # density ([1], padded with a zero), evaluated together in one Clenshaw pass.
    series: np.ndarray
    panel_mass: np.ndarray  # (B, T, 2)


def _data(events, n):
    x, m, count = collapse_studies(np.atleast_2d(events), np.atleast_2d(n))
    return x, m, count, log_choose(x, m)


def _log_post(data, mu, tau, prior_mu: Prior, derivatives: bool = False):
    """log p(mu) + sum_i log L_i(mu, tau) at mu (B, T, P) and tau (B, T); with ``derivatives``
    also its first and second derivative in mu (``bayes_study``).

    Batches are taken in blocks of (b, t) rows of about ROW_BLOCK study integrals, so that the
    arrays stay small (see ``bayes_study``); every row is computed alone, so the blocks never
    change a number."""
    rows_b, rows_t, points = mu.shape
    # The derivatives are computed on whole node arrays (2 GH_NODES per integral): smaller
    # blocks keep those arrays near CHUNK too.
    per_block = ROW_BLOCK // 8 if derivatives else ROW_BLOCK
    block = max(1, per_block // (points * data[0].shape[1]))
    if rows_b * rows_t <= block:
        return _log_post_rows(data, mu, tau, prior_mu, derivatives)
    rows = np.repeat(np.arange(rows_b), rows_t)
    mu_rows = mu.reshape(-1, 1, points)
    tau_rows = tau.reshape(-1, 1)
    parts = [
        _log_post_rows(
            tuple(d[rows[s : s + block]] for d in data),
            mu_rows[s : s + block],
            tau_rows[s : s + block],
            prior_mu,
            derivatives,
        )
        for s in range(0, rows.size, block)
    ]
    if not derivatives:
        return np.concatenate(parts).reshape(mu.shape)
    return tuple(np.concatenate(r).reshape(mu.shape) for r in zip(*parts, strict=True))


def _log_post_rows(data, mu, tau, prior_mu: Prior, derivatives: bool):
    x, n, count, lchoose = (d[:, None, None, :] for d in data)
    mu4 = mu[..., None]
    tau4 = tau[:, :, None, None]
    lp0, g0, h0 = mu_log_density(prior_mu, mu)
    if not derivatives:
        ll = study.log_integrals(x, n, mu4, tau4)
        return lp0 + (count * (ll - _HALF_LOG_2PI + lchoose)).sum(axis=-1)
    ll, g, h = study.log_integrals_with_derivatives(x, n, mu4, tau4)
    lp = lp0 + (count * (ll - _HALF_LOG_2PI + lchoose)).sum(axis=-1)
    return lp, g0 + (count * g).sum(axis=-1), h0 + (count * h).sum(axis=-1)


def _column_log_post(data, mu, tau, prior_mu: Prior):
    """``_log_post`` at points mu (B, T, P) of each column: by the shared theta grid or
    Gauss-Hermite (``bayes_conv``) where that is cheaper, per study integral (``bayes_study``)
    in the other columns. Decided per column of each dataset alone."""
    out = np.empty(mu.shape)
    lo, hi = mu.min(axis=-1), mu.max(axis=-1)
    todo = []
    for row in range(mu.shape[0]):
        one = tuple(d[row] for d in data)
        sums, done = conv.column_log_likelihoods(one, mu[row], tau[row], lo[row], hi[row])
        out[row] = sums
        todo.append(np.flatnonzero(~done))
    out += mu_log_density(prior_mu, mu)[0]
    rows = np.repeat(np.arange(mu.shape[0]), [t.size for t in todo])
    cols = np.concatenate(todo)
    if rows.size:
        sub = tuple(d[rows] for d in data)
        lp = _log_post(sub, mu[rows, cols][:, None], tau[rows, cols][:, None], prior_mu)
        out[rows, cols] = lp[:, 0]
    return out


def _column_modes(data, tau, prior_mu, start):
    """Mode of mu given each tau (B, T) (the last point Newton evaluated, within about
    MODE_TOL scales of it), the curvature scale and the log density there, by
    Newton's method kept inside a bracket that the sign of the (decreasing) gradient narrows.
    Each column stops at its own convergence (the rest go on without it)."""
    shape = tau.shape
    rows = np.repeat(np.arange(shape[0]), shape[1])
    taus = tau.ravel()
    mu = start[rows].astype(float)
    lo = np.full(mu.shape, -np.inf)
    hi = np.full(mu.shape, np.inf)
    active = np.arange(mu.size)
    # The last point where each column was evaluated, with its log density and curvature.
    at, lp_at, h_at = mu.copy(), np.empty(mu.size), np.empty(mu.size)
    for _ in range(200):
        sub = tuple(d[rows[active]] for d in data)
        m = mu[active]
        lp, g, h = _log_post(sub, m[:, None, None], taus[active, None], prior_mu, True)
        g, h = g[:, 0, 0], h[:, 0, 0]
        at[active], lp_at[active], h_at[active] = m, lp[:, 0, 0], h
        lo[active] = np.where(g > 0, m, lo[active])
        hi[active] = np.where(g < 0, m, hi[active])
        scale = 1.0 / np.sqrt(np.maximum(-h, 1e-300))
        step = np.clip(-g / np.minimum(h, -1e-300), -4 * scale, 4 * scale)
        new = m + step
        la, ha = lo[active], hi[active]
        bisect = ((new <= la) | (new >= ha)) & np.isfinite(la) & np.isfinite(ha)
        # Midpoints of the finite brackets only: an open one (-inf + inf) would warn in a log.
        new = np.where(bisect, 0.5 * (np.where(bisect, la, 0.0) + np.where(bisect, ha, 0.0)), new)
        mu[active] = new
        # The mode only places the panels: the evaluated point m is about |step| from it, so
        # stopping when the step is below MODE_TOL scales keeps the split within half a scale
        # of the mode. From the first guess (the pooled logit) that takes one derivative pass
        # for most columns, where a tenth took two: results move by up to 1.2e-6 and stay as
        # near to doubled rules (1.6e-6; 1.4e-6 with a tenth). Not a bisection step: where the
        # log density is nearly linear (a logistic prior's tail, with tau so large that the
        # data hardly bend it) the scale is huge and any step is "small" in it, far from the
        # mode.
        active = active[bisect | (np.abs(new - m) > MODE_TOL * scale)]
        if active.size == 0:
            break
    # The last evaluated point is within about MODE_TOL scales of the mode: it serves as the
    # panels' split (any point does; the chord bound of ``_panel_ends`` holds from any point
    # left or right of the end, and a peak a little low only makes it stricter).
    scale = 1.0 / np.sqrt(np.maximum(-h_at, 1e-300))
    return at.reshape(shape), scale.reshape(shape), lp_at.reshape(shape)


def _panel_ends(data, tau, prior_mu, mode, scale, peak):
    """Each column's ends (a, b): the nearest of mode -/+ _REACH * scale beyond which the
    log-concave tail holds less than exp(-TAIL) of the column's Laplace mass (``peak`` is the
    log density at the mode).

    Beyond a point b right of the mode, log-concavity bounds the density by
    f(b) exp(g(b) (mu - b)), and g(b) is at most the slope s of the chord from the mode to b
    (also < 0), so the tail holds at most f(b) / |s|: a bound from two values of log f and no
    derivative (the same on the left, mirrored). It falls monotonically with the distance, so
    the nearest rung that satisfies it is found by a search that thirds the rungs (the
    outermost if none does)."""
    side = np.array([-1.0, 1.0])
    lo = np.zeros(mode.shape + (2,), dtype=int)
    hi = np.full(mode.shape + (2,), _REACH.size - 1)
    small = (peak + np.log(scale) - TAIL)[..., None, None]
    while (lo < hi).any():
        # Two rungs per side and call (the nine rungs take two calls).
        probe = lo[..., None] + (hi - lo)[..., None] * np.array([1, 2]) // 3  # (B, T, 2, 2)
        reach = _REACH[probe] * scale[..., None, None]
        points = mode[..., None, None] + side[:, None] * reach
        shape = points.shape
        lp = _log_post(data, points.reshape(*shape[:2], 4), tau, prior_mu).reshape(shape)
        drop = peak[..., None, None] - lp
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (drop > 0) & (lp - np.log(drop / reach) <= small)
        first, second = ok[..., 0], ok[..., 1]
        new_hi = np.where(first, probe[..., 0], np.where(second, probe[..., 1], hi))
        new_lo = np.where(first, lo, np.where(second, probe[..., 0] + 1, probe[..., 1] + 1))
        lo, hi = np.minimum(new_lo, new_hi), new_hi
    reach = _REACH[lo]
    return mode - reach[..., 0] * scale, mode + reach[..., 1] * scale


def _build(data, prior_mu, prior_tau, v_lo, v_hi, start):
    rule_v = cheb.rule(V_NODES[prior_tau.family])
    rule_m = cheb.rule(MU_NODES)
    v = v_lo[:, None] + (v_hi - v_lo)[:, None] * 0.5 * (1 + rule_v.x)
    tau = tau_of(prior_tau, v)
    prior_v = tau_log_density(prior_tau, v)  # (B, T)
    mode, scale, peak = _column_modes(data, tau, prior_mu, start)
    a_end, b_end = _panel_ends(data, tau, prior_mu, mode, scale, peak)
    a = np.stack([a_end, mode], axis=-1)  # (B, T, 2)
    b = np.stack([mode, b_end], axis=-1)
    half = 0.5 * (b - a)
    mu = a[..., None] + half[..., None] * (1 + rule_m.x)  # (B, T, 2, M)
    shape = mu.shape
    lp = _column_log_post(data, mu.reshape(shape[0], shape[1], -1), tau, prior_mu)
    lp = lp.reshape(shape) + prior_v[..., None, None]
    ref = lp.max(axis=(1, 2, 3))
    dens = np.exp(lp - ref[:, None, None, None])
    series = np.zeros((2, *dens.shape[:-1], dens.shape[-1] + 1))
    series[0] = np.einsum("btpm,km->btpk", dens, rule_m.to_cdf) * half[..., None]
    series[1, ..., :-1] = np.einsum("btpm,km->btpk", dens, rule_m.to_coef)
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
        series,
        panel_mass,
    )


def _grid(events, n, prior_mu: Prior, prior_tau: Prior, passes: int = 5) -> _Grid:
    """The quadrature of a batch, its v interval narrowed pass by pass to where the posterior
    of v is above exp(-TAIL) of its peak (all datasets in step)."""
    data = _data(events, n)
    x, m, count, _ = data
    start = special.logit(((x * count).sum(1) + 0.5) / ((m * count).sum(1) + 1.0))
    lo = np.zeros(x.shape[0])
    hi = np.full(x.shape[0], u_max(prior_tau))
    for _ in range(passes):
        grid = _build(data, prior_mu, prior_tau, lo, hi, start)
        with np.errstate(divide="ignore"):
            rel = np.log(grid.column) - np.log(grid.column.max(axis=1, keepdims=True))
        big = rel > -TAIL
        first = np.argmax(big, axis=1)
        last = big.shape[1] - 1 - np.argmax(big[:, ::-1], axis=1)
        rows = np.arange(big.shape[0])
        new_lo = np.where(first > 0, grid.v[rows, np.maximum(first - 1, 0)], lo)
        new_hi = np.where(
            last < big.shape[1] - 1, grid.v[rows, np.minimum(last + 1, big.shape[1] - 1)], hi
        )
        shrink = (new_hi - new_lo) < 0.5 * (hi - lo)
        if not shrink.any():
            return grid
        lo = np.where(shrink, new_lo, lo)
        hi = np.where(shrink, new_hi, hi)
    return _build(data, prior_mu, prior_tau, lo, hi, start)


def column_cdf(a, half, series, mass, c):
    """Conditional CDF (in the column's mass units) and density of mu at points c, for columns
    whose panels are given by ``a``, ``half`` (..., 2), ``series`` (2, ..., 2, M + 1) and
    ``mass`` (..., 2), broadcast against c (...). Each point is evaluated in the one panel that
    holds it (left of the mode or right), with the left panel's mass added on the right: the
    same sums as over both panels, at half the Clenshaw work."""
    right = c > a[..., 1]
    a_sel = np.where(right, a[..., 1], a[..., 0])
    half_sel = np.where(right, half[..., 1], half[..., 0])
    coef = np.where(right[..., None], series[..., 1, :], series[..., 0, :])
    xs = (c - a_sel) / half_sel - 1.0
    inside = np.abs(xs) <= 1
    within = cheb.evaluate(coef, xs)
    end = np.where(right, mass[..., 1], mass[..., 0])
    cdf = np.where(xs > 1, end, np.where(inside, within[0], 0.0))
    cdf = np.where(right, mass[..., 0] + cdf, cdf)
    return cdf, np.where(inside, within[1], 0.0)


def _mu_cdf(grid: _Grid, c):
    """Posterior CDF and density of mu at c (B, P)."""
    half = 0.5 * (grid.b - grid.a)  # (B, T, 2)
    cdf, pdf = column_cdf(
        grid.a[:, None],
        half[:, None],
        grid.series[:, :, None],
        grid.panel_mass[:, None],
        c[:, :, None],
    )  # (B, P, T)
    w = grid.weight[:, None, :]
    return (
        np.einsum("bpt,bpt->bp", w, cdf) / grid.total[:, None],
        np.einsum("bpt,bpt->bp", w, pdf) / grid.total[:, None],
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
    rule_m = cheb.rule(grid.dens.shape[-1])
    half = 0.5 * (grid.b - grid.a)
    mu = grid.a[..., None] + half[..., None] * (1 + rule_m.x)
    share = grid.weight / grid.total[:, None]
    w = grid.dens * rule_m.w * half[..., None] * share[..., None, None]
    mean = (w * mu).sum(axis=(1, 2, 3))
    var = (w * (mu - mean[:, None, None, None]) ** 2).sum(axis=(1, 2, 3))
    return mean, np.sqrt(np.maximum(var, 0.0))
