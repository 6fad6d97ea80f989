"""Inverse-variance random-effects fits of many datasets of one design at once.

The coverage study fits every configured ``ivre`` method to thousands of small datasets that
share their study sizes n (k studies each). ``ivre_pool.ivre_values`` fits one at a time, and
with k of 6 its cost is numpy's overhead on tiny arrays. Here the same computation runs on arrays
of shape (m datasets, k studies), step for step as the single path does it: the continuity
correction and transform of ``ivre.transform_proportions``, tau2 by the closed forms of
``tau2.estimate_tau2`` (DL, HS, HE, SJ) or by the same global likelihood search as
``tau2._likelihood_max`` (ML, REML: the same grid, the same score, and scipy's brentq iteration
transcribed row by row, so every row reaches the very root the single path reaches), the CIs of
``ivre.fit_ivre`` and the back-transforms of ``ivre.back_transform``. Row sums are taken along
the last axis of C-ordered arrays, which numpy adds in the same order as a 1-D sum, so the
numbers are the single path's to the last bit in practice (tests/test_stats_ivre_batch.py checks
agreement to 1e-12 on the proportion scale).

What this module does not follow is left to the single path: ``followed`` is False for a row
whose data the single path refuses or treats apart (a non-finite estimate or a zero variance,
k = 1), for an estimator without a vectorised form here (PM, EB), for a likelihood search that
leaves its usual course (the guard on the search bound, a NaN, no convergence in brentq's
iterations) and for a row without a finite estimate and CI, so that its reason is the single
path's own. Pure functions over arrays, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stsmeta.stats import ivre as ivre_mod
from stsmeta.stats.tau2 import _GRID

#: tau2 estimators computed here; the others (PM, EB) are left to the single path.
BATCH_TAU2 = ("DL", "HS", "HE", "SJ", "ML", "REML")
# scipy.optimize.brentq's settings in tau2._brentq.
_XTOL = 1e-15
_RTOL = 4 * np.finfo(float).eps
_MAXITER = 500
# tau2._likelihood_max quadruples its search bound while the score there is >= 0 (a guard that
# should never act); rows that need it more often than this go to the single path.
_MAX_BOUND_STEPS = 60
# Elements of one (rows, grid, k) temporary of the likelihood scan (16 MB of floats).
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class IvreBatch:
    """Pooled proportion and CI per dataset (NaN where not ``followed``)."""

    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    followed: np.ndarray  # bool: False where the single path must fit the row

    FIELDS = ("estimate", "ci_low", "ci_high", "followed")


def transform_batch(events, n, transform: str, add: float, to: str):
    """``ivre.transform_proportions`` of every row of ``events`` (m x k) with study sizes ``n``:
    (yi, vi), both m x k. ``add`` is the continuity correction (not None)."""
    x = np.asarray(events, dtype=float)
    m = np.broadcast_to(np.asarray(n, dtype=float), x.shape)
    if to not in ivre_mod.CC_TO:
        raise ValueError(f"continuity correction 'to' must be one of {', '.join(ivre_mod.CC_TO)}")
    extreme = (x == 0) | (x == m)
    if to == "only0":
        chosen = extreme
    elif to == "all":
        chosen = np.ones_like(extreme)
    elif to == "if0all":
        chosen = np.broadcast_to(extreme.any(axis=1, keepdims=True), x.shape)
    else:
        chosen = np.zeros_like(extreme)
    x, m = np.where(chosen, x + add, x), np.where(chosen, m + 2 * add, m)
    return ivre_mod.transformed(x, m, transform)


def _fixed(yi, wi):
    """Row-wise ``tau2._fixed``: weighted mean and Q, each of shape (m,)."""
    mu = np.sum(wi * yi, axis=1) / np.sum(wi, axis=1)
    return mu, np.sum(wi * (yi - mu[:, None]) ** 2, axis=1)


def tau2_closed_form(yi, vi, method: str) -> np.ndarray:
    """Row-wise DL, HS, HE or SJ estimate of ``tau2.estimate_tau2`` (k >= 2)."""
    k = yi.shape[1]
    wi = 1 / vi
    if method == "DL":
        _, q = _fixed(yi, wi)
        sw = np.sum(wi, axis=1)
        c = sw - np.sum(wi**2, axis=1) / sw
        return np.maximum(0.0, (q - (k - 1)) / c)
    if method == "HS":
        _, q = _fixed(yi, wi)
        return np.maximum(0.0, (q - k) / np.sum(wi, axis=1))
    if method == "HE":
        rss = np.sum((yi - yi.mean(axis=1, keepdims=True)) ** 2, axis=1)
        return np.maximum(0.0, (rss - np.sum(vi, axis=1) * (k - 1) / k) / (k - 1))
    if method == "SJ":
        tau0 = np.var(yi, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = tau0 * _fixed(yi, 1 / (vi + tau0[:, None]))[1] / (k - 1)
        return np.where(tau0 == 0, 0.0, step)
    raise ValueError(f"no closed form for tau2 estimator {method}")


def score(yi, vi, t2, reml: bool) -> np.ndarray:
    """Row-wise ``tau2._score`` at one tau2 per row (``t2`` of shape (m,))."""
    wi = 1 / (vi + t2[:, None])
    sw = np.sum(wi, axis=1)
    mu = np.sum(wi * yi, axis=1) / sw
    s = -sw + np.sum(wi**2 * (yi - mu[:, None]) ** 2, axis=1)
    if reml:
        s += np.sum(wi**2, axis=1) / sw
    return s


def log_likelihood(yi, vi, t2, reml: bool) -> np.ndarray:
    """Row-wise ``tau2.log_likelihood`` at several tau2 per row (``t2`` (m, g)): (m, g).

    In chunks of rows whose (rows, g, k) temporaries stay near _CHUNK_ELEMENTS, so that large k
    (thousands of studies) costs no more memory than the single path's (g, k)."""
    m, g = t2.shape
    rows = max(1, _CHUNK_ELEMENTS // max(1, g * yi.shape[1]))
    if m <= rows:
        return _log_likelihood(yi, vi, t2, reml)
    parts = [
        _log_likelihood(yi[a : a + rows], vi[a : a + rows], t2[a : a + rows], reml)
        for a in range(0, m, rows)
    ]
    return np.concatenate(parts, axis=0)


def _log_likelihood(yi, vi, t2, reml: bool) -> np.ndarray:
    v = vi[:, None, :] + t2[:, :, None]
    w = 1 / v
    sw = w.sum(2)
    mu = (w * yi[:, None, :]).sum(2) / sw
    ll = -0.5 * (np.log(v).sum(2) + (w * (yi[:, None, :] - mu[:, :, None]) ** 2).sum(2))
    if reml:
        ll -= 0.5 * np.log(sw)
    return ll


def brentq_rows(f, lo, hi, f_lo, f_hi):
    """scipy.optimize.brentq (scipy/optimize/Zeros/brentq.c, Brent 1973) on many brackets at once,
    with tau2._brentq's tolerances: every row takes the steps the scalar C loop takes, so it ends
    at the same root. ``f(x, rows)`` gives the function at x (one per row) for the given rows.
    Needs f_lo and f_hi nonzero and of opposite signs. Returns (root, converged)."""
    size = lo.size
    xpre, xcur, fpre, fcur = lo.copy(), hi.copy(), f_lo.copy(), f_hi.copy()
    xblk, fblk, spre, scur = (np.zeros(size) for _ in range(4))
    root = np.full(size, np.nan)
    done = np.zeros(size, dtype=bool)
    act = np.arange(size)
    for _ in range(_MAXITER):
        sign_change = (fpre != 0) & (fcur != 0) & (np.signbit(fpre) != np.signbit(fcur))
        xblk = np.where(sign_change, xpre, xblk)
        fblk = np.where(sign_change, fpre, fblk)
        spre = np.where(sign_change, xcur - xpre, spre)
        scur = np.where(sign_change, xcur - xpre, scur)
        swap = np.abs(fblk) < np.abs(fcur)
        xpre, xcur, xblk = np.where(swap, xcur, xpre), np.where(swap, xblk, xcur), xblk
        xblk = np.where(swap, xpre, xblk)
        fpre, fcur, fblk = np.where(swap, fcur, fpre), np.where(swap, fblk, fcur), fblk
        fblk = np.where(swap, fpre, fblk)
        delta = (_XTOL + _RTOL * np.abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        finished = (fcur == 0) | (np.abs(sbis) < delta)
        root[act[finished]] = xcur[finished]
        done[act[finished]] = True
        keep = ~finished
        if not keep.any():
            break
        state = (xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, delta, sbis, act)
        xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, delta, sbis, act = (a[keep] for a in state)
        spre, scur = _brent_step(xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, delta, sbis)
        xpre, fpre = xcur, fcur
        xcur = np.where(np.abs(scur) > delta, xcur + scur, xcur + np.where(sbis > 0, delta, -delta))
        fcur = f(xcur, act)
    return root, done


def _brent_step(xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, delta, sbis):
    """The (spre, scur) of one step of brentq.c: inverse quadratic extrapolation or secant
    interpolation when short enough, else bisection."""
    with np.errstate(all="ignore"):
        interpolate = -fcur * (xcur - xpre) / (fcur - fpre)
        dpre = (fpre - fcur) / (xpre - xcur)
        dblk = (fblk - fcur) / (xblk - xcur)
        extrapolate = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
    stry = np.where(xpre == xblk, interpolate, extrapolate)
    tried = (np.abs(spre) > delta) & (np.abs(fcur) < np.abs(fpre))
    good = tried & (2 * np.abs(stry) < np.minimum(np.abs(spre), 3 * np.abs(sbis) - delta))
    return np.where(good, scur, sbis), np.where(good, stry, sbis)


def likelihood_max(yi, vi, reml: bool):
    """Row-wise ``tau2._likelihood_max``: (tau2, followed), the grid scan of the (restricted)
    likelihood and the brentq refinement of the score between the best point's neighbours."""
    m = yi.shape[0]
    followed = np.ones(m, dtype=bool)
    # Python's float ** 2 (C pow) and numpy's square can differ in the last bit: squared as the
    # single path squares its Python float, so the grid is the same to the bit.
    span_squared = np.array([span**2 for span in np.ptp(yi, axis=1).tolist()], dtype=float)
    upper = 10 * (4 * span_squared + np.max(vi, axis=1))
    for _ in range(_MAX_BOUND_STEPS):
        rising = score(yi, vi, upper, reml) >= 0
        if not rising.any():
            break
        upper = np.where(rising, upper * 4, upper)
    else:
        followed &= ~rising
    grid = _GRID[None, :] * upper[:, None]
    ll = log_likelihood(yi, vi, grid, reml)
    followed &= ~np.isnan(ll).any(axis=1) & np.isfinite(upper)
    best = np.argmax(ll, axis=1)
    rows = np.arange(m)
    at_best = grid[rows, best]
    lo = grid[rows, np.maximum(best - 1, 0)]
    hi = grid[rows, np.minimum(best + 1, _GRID.size - 1)]
    s_lo, s_hi = score(yi, vi, lo, reml), score(yi, vi, hi, reml)
    # scipy's brentq raises on a NaN score: the single path would not get past it either.
    followed &= ~(np.isnan(s_lo) | np.isnan(s_hi))
    tau2 = at_best.copy()
    refine = np.flatnonzero((s_lo > 0) & (s_hi < 0) & followed)
    if refine.size:

        def f(x, at):
            return score(yi[refine[at]], vi[refine[at]], x, reml)

        root, converged = brentq_rows(f, lo[refine], hi[refine], s_lo[refine], s_hi[refine])
        candidates = np.stack([at_best[refine], root], axis=1)
        with np.errstate(all="ignore"):
            values = log_likelihood(yi[refine], vi[refine], candidates, reml)
        followed[refine] &= converged & ~np.isnan(values).any(axis=1)
        tau2[refine] = candidates[np.arange(refine.size), np.argmax(values, axis=1)]
    return tau2, followed


def fit_ivre_batch(
    events,
    n,
    *,
    transform: str,
    tau2: str,
    ci: str,
    level: float,
    cc_add: float | None = None,
    cc_to: str = "only0",
) -> IvreBatch:
    """The estimate and CI of ``ivre_values`` (so of pool(method="ivre")) for every row of
    ``events`` (m x k, valid counts) with study sizes ``n`` (k,). See the module docstring for
    the rows left to the single path (``followed`` False).

    Every step is row by row, so a row's numbers do not depend on the other rows of the call;
    rows are fitted in chunks of about _CHUNK_ELEMENTS / k, which bounds the memory at large k."""
    events = np.asarray(events)
    m, k = events.shape
    if ci not in ivre_mod.CI_METHODS:
        raise ValueError(f"ci must be one of {', '.join(ivre_mod.CI_METHODS)}")
    nan = np.full(m, np.nan)
    if k < 2 or tau2 not in BATCH_TAU2 or m == 0:
        return IvreBatch(nan, nan.copy(), nan.copy(), np.zeros(m, dtype=bool))
    add = ivre_mod.DEFAULT_CC[transform] if cc_add is None else float(cc_add)
    step = max(1, _CHUNK_ELEMENTS // (8 * k))
    parts = [
        _fit_rows(events[a : a + step], n, transform, tau2, ci, level, add, cc_to)
        for a in range(0, m, step)
    ]
    return IvreBatch(*(np.concatenate([getattr(p, f) for p in parts]) for f in IvreBatch.FIELDS))


def _fit_rows(events, n, transform, tau2, ci, level, add, cc_to) -> IvreBatch:
    """``fit_ivre_batch`` of one chunk of rows."""
    m = events.shape[0]
    with np.errstate(all="ignore"):
        yi, vi = transform_batch(events, n, transform, add, cc_to)
        vi = np.broadcast_to(vi, yi.shape).astype(float)
        # The rows ivre_values refuses (no finite estimate or a zero variance) are its to answer.
        usable = np.all(vi > 0, axis=1) & np.all(np.isfinite(yi), axis=1)
        yi_ok = np.where(usable[:, None], yi, 0.0)
        vi_ok = np.where(usable[:, None], vi, 1.0)
        if tau2 in ("ML", "REML"):
            t2, followed = likelihood_max(yi_ok, vi_ok, tau2 == "REML")
        else:
            t2, followed = tau2_closed_form(yi_ok, vi_ok, tau2), np.ones(m, dtype=bool)
        mu, low, high = _interval(yi_ok, vi_ok, t2, ci, level)
        back = ivre_mod.back_transform(np.stack([mu, low, high], axis=1), transform, n)
    followed &= usable & np.all(np.isfinite(back), axis=1)
    back = np.where(followed[:, None], back, np.nan)
    return IvreBatch(back[:, 0].copy(), back[:, 1].copy(), back[:, 2].copy(), followed)


def _interval(yi, vi, t2, ci: str, level: float):
    """Row-wise mu and CI ends of ``ivre.fit_ivre`` on the model scale, given tau2."""
    k = yi.shape[1]
    wi = 1 / (vi + t2[:, None])
    sw = np.sum(wi, axis=1)
    mu = np.sum(wi * yi, axis=1) / sw
    se = np.sqrt(1 / sw)
    df = np.inf
    if ci in ("hk", "hk-adhoc"):
        df = k - 1
        factor = np.sum(wi * (yi - mu[:, None]) ** 2, axis=1) / (k - 1)
        if ci == "hk-adhoc":
            factor = np.maximum(factor, 1.0)
        se = np.sqrt(factor / sw)
    elif ci == "t":
        df = k - 1
    crit = ivre_mod._critical(level, df)
    return mu, mu - crit * se, mu + crit * se
