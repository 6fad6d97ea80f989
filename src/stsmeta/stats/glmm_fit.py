"""ML fits of the binomial-normal model (``stats.glmm``) to many datasets at once.

Newton-Raphson on (mu, tau) vectorised over a batch of datasets (rows), on the adaptive
Gauss-Hermite quadrature of ``stats.glmm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from stsmeta.stats.glmm import (
    _MU_MAX,
    _TAU_MAX,
    BOUNDARY_LOGLIK,
    DEFAULT_NODES,
    RESTART_TAUS,
    STATUS_ALL_FULL,
    STATUS_ALL_ZERO,
    STATUS_DIVERGES,
    STATUS_NO_CONVERGENCE,
    STATUS_NOT_PD,
    STATUS_OK,
    STATUS_TAU_DIVERGES,
    _can_collapse,
    _evaluate,
    collapse_studies,
    log_choose,
)


@dataclass(frozen=True)
class GlmmBatchFit:
    """ML fits of many datasets. ``status`` is "ok" or the reason the estimate is missing."""

    mu: np.ndarray
    se: np.ndarray
    tau2: np.ndarray
    loglik: np.ndarray
    loglik_common: np.ndarray
    loglik_saturated: np.ndarray
    iterations: np.ndarray
    status: np.ndarray  # dtype object (str)
    n_nodes: int
    # False where every study has n = 1: tau2 is then not identifiable and fixed at 0.
    tau2_identifiable: np.ndarray


def glmm_batch(
    events_2d,
    n_2d,
    *,
    n_nodes: int = DEFAULT_NODES,
    max_iter: int = 200,
    tol: float = 1e-10,
    collapse: bool = True,
) -> GlmmBatchFit:
    """Fit the binomial-normal model by ML to every row of ``events_2d``/``n_2d`` at once.

    Rows may be padded with n = 0 studies. Newton-Raphson on (mu, tau) with the analytic score
    and Hessian of the marginal likelihood (evaluated on the adaptive nodes), step halving on
    the likelihood, a Levenberg shift when the Hessian is not negative definite, and a
    steepest-ascent step where the capped Newton step does not ascend and would end the run.

    Rows where every study is at 0% or 100% are not fitted: for such data E[p^n] <= E[p] for any
    distribution of p, with equality only for mass at 0 and 1, so the likelihood's supremum is
    the limit tau -> infinity; when every n is 1 there is equality everywhere and tau2 is not
    identifiable (fitted at tau2 = 0 instead).

    The likelihood is summed over each row's distinct (events, n) pairs weighted by their counts
    (``collapse_studies``); ``collapse=False`` sums over every study as given, which is the same
    in exact arithmetic and is there for the tests that check so.
    """
    x, n = _as_batch(events_2d, n_2d)
    m_sets = x.shape[0]
    sx = x.sum(1)
    sn = n.sum(1)
    status, bernoulli = _initial_status(x, n, sx, sn)

    # From here on every sum over studies is over the distinct pairs, so the fit is a function of
    # the multiset of (events, n) pairs alone, whatever the order of the studies.
    weights = None
    if collapse and _can_collapse(x, n):
        x, n, weights = collapse_studies(x, n)
    lchoose = log_choose(x, n)
    p_pool, mu_common, ll_sat, ll_common = _binomial_logliks(x, n, lchoose, weights, sx, sn)

    fit_rows = np.flatnonzero((status == STATUS_OK) & ~bernoulli)
    mu = np.full(m_sets, np.nan)
    tau = np.full(m_sets, np.nan)
    ll = np.full(m_sets, np.nan)
    se = np.full(m_sets, np.nan)
    iters = np.zeros(m_sets, dtype=int)
    if fit_rows.size:
        fx, fn, flc, fw = x[fit_rows], n[fit_rows], lchoose[fit_rows], _take(weights, fit_rows)
        r_mu, r_tau, r_ll, r_se, r_iter, r_status = _fit_interior(
            fx, fn, flc, fw, mu_common[fit_rows], ll_common[fit_rows], n_nodes, max_iter, tol
        )
        mu[fit_rows] = r_mu
        tau[fit_rows] = np.abs(r_tau)
        ll[fit_rows] = r_ll
        iters[fit_rows] = r_iter
        status[fit_rows] = r_status
        se[fit_rows] = r_se
    if np.any(bernoulli):
        rows = np.flatnonzero(bernoulli)
        mu[rows] = mu_common[rows]
        tau[rows] = 0.0
        ll[rows] = ll_common[rows]
        se[rows] = 1.0 / np.sqrt(sn[rows] * p_pool[rows] * (1 - p_pool[rows]))
    bad = status != STATUS_OK
    mu[bad] = np.nan
    se[bad] = np.nan
    tau2 = tau * tau
    tau2[bad] = np.nan
    return GlmmBatchFit(
        mu=mu,
        se=se,
        tau2=tau2,
        loglik=ll,
        loglik_common=np.where(bad, np.nan, ll_common),
        loglik_saturated=ll_sat,
        iterations=iters,
        status=status,
        n_nodes=n_nodes,
        tau2_identifiable=~bernoulli,
    )


def _as_batch(events_2d, n_2d) -> tuple[np.ndarray, np.ndarray]:
    """Events and n as 2-D float arrays, checked."""
    x = np.atleast_2d(np.asarray(events_2d, dtype=float))
    n = np.atleast_2d(np.asarray(n_2d, dtype=float))
    if x.shape != n.shape:
        raise ValueError("events and n must have the same shape")
    if np.any(n < 0) or np.any(x < 0) or np.any(x > n):
        raise ValueError("need 0 <= events <= n")
    return x, n


def _initial_status(x, n, sx, sn) -> tuple[np.ndarray, np.ndarray]:
    """The status of each row before fitting, and which rows have every n <= 1 (Bernoulli)."""
    status = np.full(x.shape[0], STATUS_OK, dtype=object)
    status[sx == 0] = STATUS_ALL_ZERO
    status[(sx == sn) & (sn > 0)] = STATUS_ALL_FULL
    extreme = ((x == 0) | (x == n)).all(1)
    # With every n = 1 the likelihood depends on (mu, tau) only through the marginal mean, so
    # tau2 is not identifiable: fit the common-effect model (tau2 = 0) and say so.
    bernoulli = (n <= 1).all(1) & (status == STATUS_OK)
    status[extreme & ~bernoulli & (status == STATUS_OK)] = STATUS_TAU_DIVERGES
    return status, bernoulli


def _binomial_logliks(x, n, lchoose, weights, sx, sn):
    """(pooled proportion, its logit, saturated and common-effect binomial log-likelihoods)."""
    counts = np.ones_like(x) if weights is None else weights
    with np.errstate(divide="ignore", invalid="ignore"):
        p_pool = sx / sn
        mu_common = special.logit(p_pool)
        # Saturated and common-effect binomial log-likelihoods (0 * log 0 = 0).
        ph = np.where(n > 0, x / np.where(n > 0, n, 1), 0.0)
        ll_sat = (counts * (lchoose + special.xlogy(x, ph) + special.xlogy(n - x, 1 - ph))).sum(1)
        ll_common = (
            counts
            * (
                lchoose
                + special.xlogy(x, p_pool[:, None])
                + special.xlogy(n - x, 1 - p_pool[:, None])
            )
        ).sum(1)
    return p_pool, mu_common, ll_sat, ll_common


def _fit_interior(fx, fn, flc, fw, mu_common, ll_common, n_nodes, max_iter, tol):
    """Newton fits of the rows to fit, kept at the boundary tau = 0 where that is as good.

    Returns (mu, signed tau, loglik, se, iterations, status) of those rows.
    """
    res = _newton(fx, fn, flc, mu_common, n_nodes, max_iter, tol, fw)
    r_mu, r_tau, r_ll, r_hess, r_iter, r_status, turned = res
    # Rows Newton took to the boundary: started again further out (RESTART_TAUS), in case a
    # higher maximum lies there; a restart is kept only if it beats the boundary. So are rows
    # whose run needed a steepest-ascent step (_newton): the likelihood is not concave along
    # their path, and the maximum it reached need not be the highest (events 2, 4, 8 of
    # n = 2, 50, 50: from tau = 0.5 a maximum at tau2 = 0.020, from tau = 2 a higher one at
    # tau2 = 1.62); a restart is kept there only if it beats the fit.
    floor = ll_common + BOUNDARY_LOGLIK
    again = np.flatnonzero((r_ll < floor) | turned)
    floor = np.where(r_ll >= floor, r_ll + BOUNDARY_LOGLIK, floor)
    for tau0 in RESTART_TAUS:
        if again.size == 0:
            break
        s_mu, s_tau, s_ll, s_hess, s_iter, s_status, _ = _newton(
            fx[again], fn[again], flc[again], mu_common[again], n_nodes, max_iter, tol,
            _take(fw, again), tau0=tau0,
        )  # fmt: skip
        better = (s_status == STATUS_OK) & (s_ll >= floor[again])
        rows = again[better]
        r_mu[rows], r_tau[rows], r_ll[rows] = s_mu[better], s_tau[better], s_ll[better]
        r_hess[rows], r_status[rows] = s_hess[better], s_status[better]
        r_iter[rows] = s_iter[better]  # those of the Newton run whose fit is reported
        again = again[~better]
    # The boundary tau = 0 is the common-effect model; keep whichever is higher, in case
    # Newton stopped at a worse interior stationary point. Newton also stops short of the
    # boundary (tau2 ~ 1e-9, or ~1e-5 where the likelihood is flat to order tau^4) with no
    # likelihood gained over tau = 0, and the information matrix there is nearly singular
    # (an SE inflated up to 100-fold): a fit that gains less than BOUNDARY_LOGLIK is the
    # boundary fit. One rule decides both what is reported as tau2 = 0 and which SE is used.
    worse = r_ll < ll_common + BOUNDARY_LOGLIK
    r_tau = np.where(worse, 0.0, r_tau)
    r_mu = np.where(worse, mu_common, r_mu)
    if np.any(worse):
        idx = np.flatnonzero(worse)
        l2, _, h2, _ = _evaluate(
            fx[idx],
            fn[idx],
            flc[idx],
            r_mu[idx],
            r_tau[idx],
            np.zeros_like(fx[idx]),
            n_nodes,
            weights=_take(fw, idx),
        )
        r_ll[idx] = l2
        r_hess[idx] = h2
    info = -r_hess
    a = info[:, 0, 0]
    b = info[:, 0, 1]
    c = info[:, 1, 1]
    det = a * c - b * b
    boundary = r_tau == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # On the boundary the mu-tau cross term vanishes by symmetry, and the tau
        # curvature may be ~0: the mu variance is then 1/a.
        var = np.where(boundary, 1.0 / a, c / det)
    pd = (a > 0) & (boundary | ((c > 0) & (det > 0)))
    r_se = np.where(pd, np.sqrt(np.where(pd, var, 1.0)), np.nan)
    r_status[(~pd) & (r_status == STATUS_OK)] = STATUS_NOT_PD
    return r_mu, r_tau, r_ll, r_se, r_iter, r_status


def _take(weights, rows):
    """The weights of some rows (None stays None: one study per column)."""
    return None if weights is None else weights[rows]


def _newton(x, n, lchoose, mu0, n_nodes, max_iter, tol, weights=None, tau0=0.5):
    m_sets = x.shape[0]
    mu = mu0.copy()
    tau = np.full(m_sets, tau0)  # not 0: tau = 0 is always a stationary point
    z = np.zeros_like(x)
    ll, grad, hess, z = _evaluate(x, n, lchoose, mu, tau, z, n_nodes, weights=weights)
    active = np.ones(m_sets, dtype=bool)
    iters = np.zeros(m_sets, dtype=int)
    status = np.full(m_sets, STATUS_OK, dtype=object)
    turned = np.zeros(m_sets, dtype=bool)

    def search(idx, step):
        """Step halving of rows ``idx`` along ``step``, moving the rows that gain or lose less
        than rounding: (accepted, the factor s, gain)."""
        s = np.ones(idx.size)
        accepted = np.zeros(idx.size, dtype=bool)
        gain = np.zeros(idx.size)
        # Candidates are evaluated with derivatives: nearly every first step is accepted, so
        # this saves a second pass over the nodes.
        for _ in range(40):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            rows = idx[todo]
            cm = mu[rows] + s[todo] * step[todo, 0]
            ct = tau[rows] + s[todo] * step[todo, 1]
            w_rows = _take(weights, rows)
            cl, cg, ch, cz = _evaluate(
                x[rows], n[rows], lchoose[rows], cm, ct, z[rows], n_nodes, weights=w_rows
            )
            ok = cl >= ll[rows] - 1e-12 * (1 + np.abs(ll[rows]))
            ok &= np.isfinite(cl)
            acc_rows = rows[ok]
            gain[todo[ok]] = cl[ok] - ll[acc_rows]
            mu[acc_rows], tau[acc_rows], ll[acc_rows] = cm[ok], ct[ok], cl[ok]
            grad[acc_rows], hess[acc_rows], z[acc_rows] = cg[ok], ch[ok], cz[ok]
            accepted[todo[ok]] = True
            s[todo[~ok]] *= 0.5
        return accepted, s, gain

    def stops(idx, step):
        """``search`` along ``step``, and which rows stop there."""
        accepted, s, gain = search(idx, step)
        moved = np.where(accepted, np.abs(s[:, None] * step).max(1), 0.0)
        # The analytic score is that of the integral, not of its quadrature with moving nodes,
        # so near the optimum steps of ~1e-9 can creep on; a negligible likelihood gain ends it.
        return (moved < tol) | (~accepted) | ((gain < 1e-13) & (moved < 1e-6))

    for it in range(1, max_iter + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        g = grad[idx]
        h = hess[idx]
        i_mm, i_mt, i_tt = -h[:, 0, 0], -h[:, 0, 1], -h[:, 1, 1]
        # Levenberg shift so that the Newton system is positive definite.
        tr = i_mm + i_tt
        dt = i_mm * i_tt - i_mt * i_mt
        lam_min = tr / 2 - np.sqrt(np.maximum(tr * tr / 4 - dt, 0.0))
        shift = np.where(lam_min > 1e-8, 0.0, 1e-4 - lam_min + 1e-3 * np.abs(tr))
        a = i_mm + shift
        c = i_tt + shift
        d = a * c - i_mt * i_mt
        step = np.empty((idx.size, 2))
        step[:, 0] = (c * g[:, 0] - i_mt * g[:, 1]) / d
        step[:, 1] = (a * g[:, 1] - i_mt * g[:, 0]) / d
        t_now = tau[idx]
        _cap(step, t_now)
        # The shifted Newton direction ascends, but setting the tau step to -0.9 tau in _cap can
        # turn it downhill (where -H is not positive definite the step is long and mostly along
        # tau). No halving then gains, and the step test below would stop where the score is
        # not 0. Where it would, the step is taken again from the same point as steepest ascent
        # (the score over the largest absolute eigenvalue of -H), which _cap cannot turn
        # downhill. Where Newton ascends, or gains enough to go on, nothing changes.
        downhill = ~(g[:, 0] * step[:, 0] + g[:, 1] * step[:, 1] > 0) & (g != 0).any(1)
        kept = idx[downhill]
        before = mu[kept], tau[kept], ll[kept], grad[kept], hess[kept], z[kept]
        done = stops(idx, step)
        retry = np.flatnonzero(done[downhill])
        if retry.size:
            rows, turn = kept[retry], np.flatnonzero(downhill)[retry]
            turned[rows] = True
            mu[rows], tau[rows], ll[rows], grad[rows], hess[rows], z[rows] = (
                part[retry] for part in before
            )
            t_r = tr[turn]
            radius = np.abs(t_r) / 2 + np.sqrt(np.maximum(t_r * t_r / 4 - dt[turn], 0.0))
            ascent = g[turn] / np.where(radius > 0, radius, np.nan)[:, None]
            _cap(ascent, t_now[turn])
            done[turn] = stops(rows, ascent)
        iters[idx] = it
        diverged = (np.abs(tau[idx]) > _TAU_MAX) | (np.abs(mu[idx]) > _MU_MAX)
        status[idx[diverged]] = STATUS_DIVERGES
        active[idx[done | diverged]] = False
    status[active] = STATUS_NO_CONVERGENCE.format(iters=max_iter)
    return mu, tau, ll, hess, iters, status, turned


def _cap(step, t_now):
    """Cap steps in place: 2 on mu, and tau may at most double (lets a diverging tau be seen
    quickly). Never let tau jump across 0: the likelihood is even in tau, so the mirror point
    ties and Newton could bounce between +tau and -tau forever."""
    size = np.abs(step)
    scale = np.minimum(
        np.minimum(1.0, 2.0 / np.maximum(size[:, 0], 1e-300)),
        np.maximum(2.0, np.abs(t_now)) / np.maximum(size[:, 1], 1e-300),
    )
    step *= scale[:, None]
    crossing = t_now * (t_now + step[:, 1]) < 0
    if crossing.any():
        step[crossing, 1] = -0.9 * t_now[crossing]
