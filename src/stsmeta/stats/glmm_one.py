"""One dataset's GLMM fit without the batch machinery (issue 16: a single fit, k = 6 with its
Wald interval, at least 50x faster than metafor's ``rma.glmm``).

The algorithm is that of ``glmm_fit.glmm_batch`` and ``glmm_check.glmm_batch_checked`` for one
row, step for step: the same start, Levenberg-shifted Newton steps, steepest-ascent steps where
those do not ascend, step halving, stopping rules, restarts, boundary rule, quadrature check and
refits with more nodes. What differs is only how it is computed. For one small dataset the
batch code spends its time in numpy calls on arrays of a few elements (fancy indexing of the
active rows, reductions over six studies), so here:

- (mu, tau), the score, the 2x2 Hessian and the Newton step are Python floats;
- each study's mode is found by scalar Newton (about a microsecond per study and iteration,
  where numpy's per-call overhead made the vectorised loop over six studies cost ~15 us per
  iteration), started from the previous mode moved to first order by the Newton step;
- the five posterior sums over the nodes are one matrix product with [1, t, t^2], the moments
  in z following from z = mode + sqrt(2) * sigma * t;
- at tau = 0 (the boundary fit, 6 in 10 small datasets) the likelihood, score and Hessian are
  those of the binomial model in closed form, which the quadrature gives to rounding.

The results equal the batch path's to rounding: tests/test_stats_glmm_one.py checks 1e-10 on
many random datasets (1e-8 in the SE of a very flat likelihood, where the batch path's own
rounding moves it by 1e-9). Rows that are not fitted (every study at 0% or 100%, every n <= 1)
or whose counts cannot be collapsed into distinct pairs go through the batch path itself.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache

import numpy as np

from stsmeta.prior_spec import expit as _expit
from stsmeta.stats.glmm import (
    _HALF_LOG_2PI,
    _MU_MAX,
    _TAU_MAX,
    BOUNDARY_LOGLIK,
    DEFAULT_NODES,
    MAX_NODES,
    STATUS_DIVERGES,
    STATUS_NO_CONVERGENCE,
    STATUS_NOT_PD,
    STATUS_OK,
    _hermite,
    _modes,
    first_restart_kept,
    log_choose,
)
from stsmeta.stats.glmm_check import QUADRATURE_TOL, QuadratureCheck, glmm_fit_checked
from stsmeta.stats.glmm_fit import GlmmBatchFit

_SQRT2 = math.sqrt(2.0)
# Above this many distinct (events, n) pairs the vectorised mode search is the faster one.
_SCALAR_MODES_MAX = 24


@lru_cache(maxsize=16)
def _node_table(n_nodes: int):
    """Nodes t, log(w) + t^2, the (Q, 3) matrix [1, t, t^2] of the posterior moments, the node
    nearest 0, and how far log(w) + t^2 rises above its value there."""
    t, logw = _hermite(n_nodes)
    powers = np.stack([np.ones_like(t), t, t * t], axis=1)
    centre = int(np.argmin(np.abs(t)))
    return t, logw, powers, centre, float(logw.max() - logw[centre])


def _mode(x, n, mu, tau, previous, d_mu, d_tau) -> tuple[float, float, float, float]:
    """``glmm._modes`` for one study: safeguarded Newton on z = tau * (x - n * p).

    Starts from the mode at the previous (mu, tau), ``previous`` = (mode, scale, tau * q, r)
    there (q = n p (1 - p), r = x - n p), moved to first order by (d_mu, d_tau): implicit
    differentiation of z = tau * r gives dz = (r dtau - tau q (dmu + z dtau)) / (1 + tau^2 q),
    and 1 / (1 + tau^2 q) = scale^2 / 2. Returns the same four at (mu, tau), with the node
    scale sqrt(2) * sigma.
    """
    z, scale, tq, r = previous
    z += (r * d_tau - tq * (d_mu + z * d_tau)) * (0.5 * scale * scale)
    tn = tau * n
    t2n = tau * tn
    tx = tau * x
    hi = abs(tn) + 1e-12
    lo = -hi
    z = min(max(z, lo), hi)
    for _ in range(100):
        eta = mu + tau * z
        if eta >= 0:
            p = 1.0 / (1.0 + math.exp(-eta))
        else:
            p = math.exp(eta)
            p = p / (1.0 + p)
        pq = p * (1 - p)
        g = tx - tn * p - z
        step = g / (t2n * pq + 1.0)
        if g > 0:
            lo = z
        elif g < 0:
            hi = z
        znew = z + step
        # As in glmm._modes: bisect off the bracket, or onto its end by a saturated step.
        if not lo < znew < hi and (znew < lo or znew > hi or abs(step) > 1e-12 * (1 + abs(znew))):
            znew = 0.5 * (lo + hi)
        z = znew
        if abs(step) <= 1e-12 * (1 + abs(z)):
            break
    # The curvature at the last iterate but one: it moved z by at most 1e-12 (relative).
    return z, _SQRT2 / math.sqrt(t2n * pq + 1.0), tn * pq, x - n * p


class _Dataset:
    """One dataset's distinct (events, n) pairs, their counts, and the log-likelihood terms."""

    def __init__(self, x: np.ndarray, n: np.ndarray, counts: np.ndarray):
        self.x, self.n, self.w = x, n, counts
        self.xs, self.ns = x.tolist(), n.tolist()
        self.xq, self.nq = x[:, None], n[:, None]
        self.lchoose = log_choose(x, n)
        self.ws, self.lchoose_list = counts.tolist(), self.lchoose.tolist()
        self.constant = float(counts @ (self.lchoose - _HALF_LOG_2PI))
        self.scalar = x.size <= _SCALAR_MODES_MAX
        # The modes at the start (z = 0): what ``modes`` moves from.
        self.start = [(0.0, _SQRT2, 0.0, 0.0)] * x.size if self.scalar else np.zeros(x.size)

    def modes(self, mu: float, tau: float, previous, d_mu: float, d_tau: float):
        """Each study's mode in z, the node scale sqrt(2) * sigma, and the state that the
        next call starts from (``previous``: that of a call at (mu - d_mu, tau - d_tau))."""
        if not self.scalar:
            zhat, sigma = _modes(self.x, self.n, mu, tau, previous)
            return zhat, _SQRT2 * sigma, zhat
        xs, ns = self.xs, self.ns
        state = [_mode(xs[i], ns[i], mu, tau, previous[i], d_mu, d_tau) for i in range(len(xs))]
        both = np.array(state)
        return both[:, 0], both[:, 1], state

    def at_zero(self, mu: float, derivatives: bool):
        """``evaluate`` at tau = 0 in closed form: every node has eta = mu, the posterior of z
        is the standard normal one (E z = 0, E z^2 = 1), and the likelihood is binomial; the
        quadrature gives the same up to rounding."""
        p = _expit(mu)
        log1pexp = max(mu, 0.0) + math.log1p(math.exp(-abs(mu)))
        ll = g_mu = h_mm = h_tt = 0.0
        residuals = []
        for a, b, w, lc in zip(self.xs, self.ns, self.ws, self.lchoose_list, strict=True):
            r = a - b * p
            info = b * (p * (1 - p))
            ll += w * (lc + a * mu - b * log1pexp)
            g_mu += w * r
            h_mm -= w * info
            h_tt += w * (r * r - info)
            residuals.append(r)
        state = [(0.0, _SQRT2, 0.0, r) for r in residuals] if self.scalar else np.zeros(self.x.size)
        if not derivatives:
            return ll, None, None, (mu, 0.0, state)
        return ll, (g_mu, 0.0), (h_mm, 0.0, h_tt), (mu, 0.0, state)

    def evaluate(self, mu: float, tau: float, previous, n_nodes: int, derivatives=True):
        """``glmm._evaluate`` for this one dataset: (loglik, (d_mu, d_tau), (h_mm, h_mt, h_tt),
        state) with floats; the score and Hessian are None without ``derivatives``. The modes
        are searched from those of ``previous``, the state of an earlier call (None: z = 0)."""
        if tau == 0.0:
            return self.at_zero(mu, derivatives)
        ll, state, parts = self.loglik_parts(mu, tau, previous, n_nodes)
        if not derivatives:
            return ll, None, None, (mu, tau, state)
        grad, hess = self.score_hessian(parts)
        return ll, grad, hess, (mu, tau, state)

    def loglik_parts(self, mu: float, tau: float, previous, n_nodes: int):
        """``evaluate`` at tau != 0 without the derivatives: (loglik, the modes' state, the
        node arrays for ``score_hessian``, which works in them in place: use them once)."""
        if previous is None:
            zhat, scale, state = self.modes(mu, tau, self.start, 0.0, 0.0)
        else:
            mu0, tau0, state0 = previous
            zhat, scale, state = self.modes(mu, tau, state0, mu - mu0, tau - tau0)
        t, logw, powers, centre, lift = _node_table(n_nodes)
        z = np.multiply.outer(scale, t)
        z += zhat[:, None]
        eta = tau * z
        eta += mu
        logf = self.xq * eta
        log1pexp = np.logaddexp(0.0, eta)
        logf -= self.nq * log1pexp
        logf -= 0.5 * (z * z)
        logf += logw
        # Shift for the log-sum-exp: each integrand is at most its value at the mode, so no
        # node exceeds the node nearest the mode by more than ``lift`` (a max over the nodes
        # would do too, at twice the cost).
        top = logf[:, centre] + lift
        logf -= top[:, None]
        e = np.exp(logf, out=logf)
        total = e.sum(axis=1)
        ll = self.constant + float(self.w @ (top + np.log(total * scale)))
        return ll, state, (eta, log1pexp, e, total, zhat, scale, powers)

    def score_hessian(self, parts):
        """The score and Hessian of ``evaluate`` from the node arrays of ``loglik_parts``."""
        eta, log1pexp, e, total, zhat, scale, powers = parts
        # Complete-data score r = x - n p and information n p (1 - p) at each node, weighted by
        # the posterior over the nodes, e / total (Louis 1982, as in glmm._evaluate). p is
        # exp(eta - log(1 + e^eta)) from the logarithm at hand: one exp instead of an expit.
        eta -= log1pexp
        p = np.exp(eta, out=eta)
        np_ = self.nq * p
        r = self.xq - np_
        terms = np.empty((2,) + e.shape)
        np.multiply(e, r, out=terms[0])
        np.multiply(terms[0], r, out=terms[1])
        np_ -= np_ * p
        np_ *= e
        terms[1] -= np_
        # Moments in t of both terms, then in z = zhat + scale * t, summed over the studies.
        m = (terms.reshape(-1, e.shape[1]) @ powers).reshape(2, -1, 3)
        m /= total[:, None]
        g_mu = g_tau = h_mm = h_mt = h_tt = 0.0
        for w, zh, sc, (r0, r1, _), (c0, c1, c2) in zip(
            self.ws, zhat.tolist(), scale.tolist(), *m.tolist(), strict=True
        ):
            s_tau = zh * r0 + sc * r1
            cz = zh * c0 + sc * c1
            g_mu += w * r0
            g_tau += w * s_tau
            h_mm += w * (c0 - r0 * r0)
            h_mt += w * (cz - r0 * s_tau)
            h_tt += w * (zh * (cz + sc * c1) + sc * sc * c2 - s_tau * s_tau)
        return (g_mu, g_tau), (h_mm, h_mt, h_tt)


def _newton_step(grad, hess, tau: float) -> tuple[float, float]:
    """The Levenberg-shifted, capped Newton step of ``glmm_fit._newton``."""
    i_mm, i_mt, i_tt = -hess[0], -hess[1], -hess[2]
    tr = i_mm + i_tt
    dt = i_mm * i_tt - i_mt * i_mt
    lam_min = tr / 2 - math.sqrt(max(tr * tr / 4 - dt, 0.0))
    shift = 0.0 if lam_min > 1e-8 else 1e-4 - lam_min + 1e-3 * abs(tr)
    a = i_mm + shift
    c = i_tt + shift
    d = a * c - i_mt * i_mt
    if d == 0 or not math.isfinite(d):
        return math.nan, math.nan
    s_mu = (c * grad[0] - i_mt * grad[1]) / d
    s_tau = (a * grad[1] - i_mt * grad[0]) / d
    return _capped(s_mu, s_tau, tau)


def _ascent_step(grad, hess, tau: float) -> tuple[float, float]:
    """The steepest-ascent step of ``glmm_fit._newton``: the score over the largest absolute
    eigenvalue of the Hessian, capped as the Newton step is."""
    i_mm, i_mt, i_tt = -hess[0], -hess[1], -hess[2]
    tr = i_mm + i_tt
    dt = i_mm * i_tt - i_mt * i_mt
    radius = abs(tr) / 2 + math.sqrt(max(tr * tr / 4 - dt, 0.0))
    if not radius > 0:
        return math.nan, math.nan
    return _capped(grad[0] / radius, grad[1] / radius, tau)


def _capped(s_mu: float, s_tau: float, tau: float) -> tuple[float, float]:
    """A step capped as in ``glmm_fit._newton`` (NaN, NaN where it is not finite)."""
    if not (math.isfinite(s_mu) and math.isfinite(s_tau)):
        return math.nan, math.nan
    scale = min(
        min(1.0, 2.0 / max(abs(s_mu), 1e-300)), max(2.0, abs(tau)) / max(abs(s_tau), 1e-300)
    )
    s_mu *= scale
    s_tau *= scale
    if tau * (tau + s_tau) < 0:
        s_tau = -0.9 * tau
    return s_mu, s_tau


def _search(data: _Dataset, point, step, n_nodes: int):
    """The step halving of ``glmm_fit._newton`` from ``point`` = (mu, tau, ll, grad, hess,
    state) along ``step``: (accepted, the factor s, gain, the new point or ``point``)."""
    mu, tau, ll, _, _, z = point
    s_mu, s_tau = step
    s = 1.0
    if math.isfinite(s_mu):
        for _ in range(40):
            cm, ct = mu + s * s_mu, tau + s * s_tau
            cl, cg, ch, cz = data.evaluate(cm, ct, z, n_nodes)
            if cl >= ll - 1e-12 * (1 + abs(ll)) and math.isfinite(cl):
                return True, s, cl - ll, (cm, ct, cl, cg, ch, cz)
            s *= 0.5
    return False, s, 0.0, point


def _step_and_stop(data: _Dataset, point, step, n_nodes: int, tol: float):
    """``_search`` along ``step``, and whether the run stops there (the stopping rule of
    ``glmm_fit._newton``): (stops, the new point)."""
    accepted, s, gain, after = _search(data, point, step, n_nodes)
    moved = max(abs(s * step[0]), abs(s * step[1])) if accepted else 0.0
    return moved < tol or not accepted or (gain < 1e-13 and moved < 1e-6), after


def _newton(data: _Dataset, mu: float, n_nodes: int, max_iter: int, tol: float, tau0: float = 0.5):
    """``glmm_fit._newton`` for one dataset: (mu, signed tau, loglik, hess, iterations, status,
    state of the last evaluation, whether a steepest-ascent step was taken)."""
    tau = tau0
    ll, grad, hess, z = data.evaluate(mu, tau, None, n_nodes)
    status = STATUS_NO_CONVERGENCE.format(iters=max_iter)
    iterations = 0
    turned = False
    for it in range(1, max_iter + 1):
        iterations = it
        before = (mu, tau, ll, grad, hess, z)
        step = _newton_step(grad, hess, tau)
        done, after = _step_and_stop(data, before, step, n_nodes, tol)
        # As in glmm_fit._newton: a stop on a Newton step that does not ascend is no stop.
        if done and not grad[0] * step[0] + grad[1] * step[1] > 0 and grad != (0.0, 0.0):
            turned = True
            done, after = _step_and_stop(data, before, _ascent_step(grad, hess, tau), n_nodes, tol)
        mu, tau, ll, grad, hess, z = after
        if abs(tau) > _TAU_MAX or abs(mu) > _MU_MAX:
            status = STATUS_DIVERGES
            break
        if done:
            status = STATUS_OK
            break
    return mu, tau, ll, hess, iterations, status, z, turned


def _standard_error(hess, boundary: bool) -> float:
    """SE of mu from the observed information, NaN where it is not positive definite."""
    a, b, c = -hess[0], -hess[1], -hess[2]
    det = a * c - b * b
    pd = a > 0 and (boundary or (c > 0 and det > 0))
    if not pd:
        return math.nan
    return math.sqrt(1.0 / a if boundary else c / det)


def _fit(data: _Dataset, binomial, n_nodes: int, max_iter: int = 200, tol: float = 1e-10):
    """``glmm_batch`` of one fitted row: (mu, tau >= 0, loglik, se, iterations, status, state)."""
    mu_common, ll_common = binomial
    mu, tau, ll, hess, iters, status, state, turned = _newton(
        data, mu_common, n_nodes, max_iter, tol
    )

    def run(tau0):
        restart = _newton(data, mu_common, n_nodes, max_iter, tol, tau0=tau0)
        return restart[5] == STATUS_OK, restart[2], restart

    # The restarts of glmm_fit._fit_interior, in the same order, kept by the same rule: the
    # first that beats the boundary, or the fit itself where it is above the boundary.
    restart = first_restart_kept(ll, ll_common, turned, run)
    if restart is not None:
        mu, tau, ll, hess, iters, status, state = restart[:7]
    # The boundary rule of glmm_fit._fit_interior (a NaN log-likelihood is not "worse").
    if ll < ll_common + BOUNDARY_LOGLIK:
        mu, tau = mu_common, 0.0
        ll, _, hess, state = data.evaluate(mu, tau, None, n_nodes)
    se = _standard_error(hess, tau == 0.0)
    if math.isnan(se) and status == STATUS_OK:
        status = STATUS_NOT_PD
    return mu, abs(tau), ll, se, iters, status, state


def _quadrature_change(data: _Dataset, fitted, state, finer: int) -> float:
    """``glmm_check.quadrature_change`` of one fitted row: fitted = (mu, tau >= 0, loglik, se);
    ``state``: that of the fit's last evaluation (the modes do not depend on the nodes)."""
    mu, tau, ll, se = fitted
    ll_f, grad, hess, _ = data.evaluate(mu, tau, state, finer)
    a, b, c = (np.float64(-h) for h in hess)
    boundary = tau == 0.0
    det = a * c - b * b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if boundary:
            step_mu, step_tau = grad[0] / a, 0.0
            var = 1.0 / a
        else:
            step_mu = (c * grad[0] - b * grad[1]) / det
            step_tau = (a * grad[1] - b * grad[0]) / det
            var = c / det
        step_tau2 = abs(2 * tau * step_tau + step_tau**2) / max(tau * tau, 1.0)
        se_fine = np.sqrt(var)
        # np.max, not max: a NaN part must make the change NaN (then inf), as in the batch.
        worst = np.max([abs(ll_f - ll), abs(step_mu), step_tau2, abs(se_fine / se - 1.0)])
    wrong_shape = (a <= 0) or (boundary and c < -1e-9) or (not boundary and det <= 0)
    if wrong_shape or not np.isfinite(worst):
        return math.inf
    return float(worst)


def _one_row_fit(mu, se, tau2, ll, ll_common, ll_sat, iters, status, n_nodes) -> GlmmBatchFit:
    ok = status == STATUS_OK
    return GlmmBatchFit(
        mu=np.array([mu if ok else math.nan]),
        se=np.array([se if ok else math.nan]),
        tau2=np.array([tau2 if ok else math.nan]),
        loglik=np.array([ll]),
        loglik_common=np.array([ll_common if ok else math.nan]),
        loglik_saturated=np.array([ll_sat]),
        iterations=np.array([iters]),
        status=np.array([status], dtype=object),
        n_nodes=n_nodes,
        tau2_identifiable=np.array([True]),
    )


def _distinct_pairs(x: list[float], n: list[float]):
    """((n, events), count) of each distinct pair with n > 0, sorted as ``collapse_studies``
    sorts them; None where the batch path is to take the dataset: counts that are not whole
    numbers in [0, n] below 2**26 (it raises or fits them uncollapsed), or rows that are not
    fitted (every study at 0%, at 100%, or at either; every n <= 1)."""
    if not all(
        0 <= a <= b < 2**26 and a == int(a) and b == int(b) for a, b in zip(x, n, strict=True)
    ):
        return None
    sx, sn = sum(x), sum(n)
    if (
        sx == 0
        or sx == sn
        or all(b <= 1 for b in n)
        or all(a in (0, b) for a, b in zip(x, n, strict=True))
    ):
        return None
    return sorted(Counter((b, a) for a, b in zip(x, n, strict=True) if b > 0).items())


def _xlogy(a: float, b: float) -> float:
    return 0.0 if a == 0 else a * math.log(b)


def _binomial(data: _Dataset, sx: float, sn: float) -> tuple[float, float, float]:
    """``glmm_fit._binomial_logliks`` of one row: (logit of the pooled proportion, its
    common-effect log-likelihood, the saturated log-likelihood)."""
    p = sx / sn
    ll_common = ll_sat = 0.0
    for a, b, w, lc in zip(data.xs, data.ns, data.ws, data.lchoose_list, strict=True):
        ll_sat += w * (lc + _xlogy(a, a / b) + _xlogy(b - a, 1 - a / b))
        ll_common += w * (lc + _xlogy(a, p) + _xlogy(b - a, 1 - p))
    return math.log(p / (1 - p)), ll_common, ll_sat


def glmm_fit_one(
    events, n, *, n_nodes: int = DEFAULT_NODES, tol: float = QUADRATURE_TOL
) -> tuple[GlmmBatchFit, QuadratureCheck]:
    """``glmm_check.glmm_fit_checked`` (one dataset, nodes checked by doubling), fast."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    pairs = None
    if x.ndim == 1 and x.shape == m.shape:
        xs, ns = x.tolist(), m.tolist()
        pairs = _distinct_pairs(xs, ns)
    if pairs is None:
        return glmm_fit_checked(events, n, n_nodes=n_nodes, tol=tol)
    data = _Dataset(
        np.array([a for (_, a), _ in pairs]),
        np.array([b for (b, _), _ in pairs]),
        np.array([float(c) for _, c in pairs]),
    )
    mu_common, ll_common, ll_sat = _binomial(data, sum(xs), sum(ns))
    nodes = n_nodes
    while True:
        mu, tau, ll, se, iters, status, state = _fit(data, (mu_common, ll_common), nodes)
        change = 0.0
        if status == STATUS_OK:
            change = _quadrature_change(data, (mu, tau, ll, se), state, 2 * nodes - 1)
        if change <= tol or 2 * nodes - 1 > MAX_NODES:
            break
        nodes = 2 * nodes - 1
    # n_nodes of the returned fit is the starting number, as glmm_batch_checked leaves it.
    fit = _one_row_fit(mu, se, tau * tau, ll, ll_common, ll_sat, iters, status, n_nodes)
    return fit, QuadratureCheck(nodes, 2 * nodes - 1, change, change <= tol)
