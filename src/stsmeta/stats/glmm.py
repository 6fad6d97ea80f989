"""Binomial-normal random-intercept logistic model, fitted by maximum likelihood.

Model (Stijnen, Hamza & Ozdemir 2010, Stat Med 29:3046-3067; Hamza, van Houwelingen & Stijnen
2008, J Clin Epidemiol 61:41-51): events_i ~ Binomial(n_i, expit(mu + b_i)), b_i ~ N(0, tau2).
This is what R metafor's ``rma.glmm(measure="PLO")`` fits through lme4's ``glmer``.

The marginal likelihood of each study is an integral over b_i, computed by adaptive Gauss-Hermite
quadrature (Liu & Pierce 1994, Biometrika 81:624-629; Pinheiro & Bates 1995, J Comput Graph Stat
4:12-35): the nodes are centred on the mode of each study's integrand and scaled by its curvature.
Quadrature error grows with tau2 (each study's integrand then has a sigmoid "cliff"), so the
default is 61 nodes: on the reference datasets (k = 2..18, n = 1..400, tau2 up to about 12) the
pooled proportion is then within about 2e-6 of a 151-node fit, and within 1e-7 when tau2 < 3
(checked in the tests). lme4's default of 7 nodes, used by metafor, is off by up to ~1e-2 there.

Everything is vectorised over a batch of datasets (rows); a study with n = 0 contributes nothing,
so ragged batches can be padded with zero columns. Studies with the same (events, n) contribute
the same term, so each dataset is fitted on its distinct pairs weighted by their counts: with
series of a few patients the cost depends on how many pairs occur, not on the number of studies.

The optimiser works on (mu, tau) with tau unrestricted in sign: the likelihood is an even,
smooth function of tau, so tau2 = 0 on the boundary is an ordinary stationary point, not a corner.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special

from stsmeta.stats.distributions import chi2_ppf, chi2_sf

DEFAULT_NODES = 61
# Beyond these the estimate is taken not to exist (diverging to infinity).
_MU_MAX = 30.0
_TAU_MAX = 200.0
# A fit whose log-likelihood exceeds that at tau2 = 0 by less than this is the boundary fit
# tau2 = 0 (see glmm_batch).
BOUNDARY_LOGLIK = 1e-9
# Starting values of tau for a second Newton run where the first (from tau = 0.5) ends at the
# boundary tau2 = 0. The likelihood can have a local maximum there and a higher one far out:
# a large study beside single-patient ones (0/1, 1/3, 462/500: tau2 = 0 has log-likelihood
# -9.311, tau2 = 3.12 has -8.086, as rma.glmm finds). Each start is tried in turn; the first
# fit that beats the boundary by BOUNDARY_LOGLIK is kept. They are tried too where the first
# run needed a steepest-ascent step (glmm_fit._newton), and kept only if they beat its fit.
RESTART_TAUS = (2.0, 6.0)
_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


# The most nodes a fit may use (``n_nodes``); the checks of a fit at n nodes use 2n - 1.
MAX_NODES = 2001
_MAX_CHECK_NODES = 2 * MAX_NODES - 1


def first_restart_kept(loglik, loglik_boundary, turned, run):
    """The restarts of one fit (``glmm_fit._fit_interior``'s rule): where the Newton run from
    tau = 0.5 ends below the boundary tau = 0 (``loglik_boundary``) by BOUNDARY_LOGLIK, or
    ``turned`` (it took a steepest-ascent step), Newton is run again from each of RESTART_TAUS in
    turn by ``run(tau0)`` -> (converged, loglik, result), and the ``result`` of the first run that
    converged and beats the boundary (where the fit was below it) or the fit (where it was not)
    by BOUNDARY_LOGLIK is returned; None where no restart is tried or kept."""
    floor = loglik_boundary + BOUNDARY_LOGLIK
    if not (loglik < floor or turned):
        return None
    if loglik >= floor:
        floor = loglik + BOUNDARY_LOGLIK
    for tau0 in RESTART_TAUS:
        converged, restart_loglik, result = run(tau0)
        if converged and restart_loglik >= floor:
            return result
    return None


def _log_weight_plus_square(t: np.ndarray, n_nodes: int) -> np.ndarray:
    """log(w_j) + t_j^2 without forming w_j, which underflows beyond about 150 nodes.

    w_j exp(t_j^2) = 1 / sum_{i < n} psi_i(t_j)^2 (the Christoffel function of the orthonormal
    Hermite functions psi_i), with psi_i by their three-term recurrence, rescaled as it grows.
    """
    log_scale = -0.5 * t * t - 0.25 * np.log(np.pi)
    prev = np.zeros_like(t)
    cur = np.ones_like(t)
    total = np.ones_like(t)
    for i in range(1, n_nodes):
        prev, cur = cur, np.sqrt(2.0 / i) * t * cur - np.sqrt((i - 1) / i) * prev
        total += cur * cur
        big = np.abs(cur) > 1e100
        if big.any():
            factor = np.where(big, 1e-100, 1.0)
            prev, cur, total = prev * factor, cur * factor, total * factor * factor
            log_scale += np.where(big, 100 * np.log(10.0), 0.0)
    return -(np.log(total) + 2 * log_scale)


@lru_cache(maxsize=16)
def _hermite(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes t_j and log(w_j) + t_j^2 (physicists' weight exp(-t^2)).

    numpy's hermgauss is exact to rounding up to 150 nodes; beyond, its weights underflow to 0
    (and from about 400 nodes it returns NaN), so the nodes come from scipy's asymptotic
    algorithm and the log-weights from ``_log_weight_plus_square``.
    """
    if not 1 <= n_nodes <= _MAX_CHECK_NODES:
        raise ValueError(f"the number of quadrature nodes must be between 1 and {MAX_NODES}")
    if n_nodes <= 150:
        t, w = np.polynomial.hermite.hermgauss(n_nodes)
        return t, np.log(w) + t * t
    t = special.roots_hermite(n_nodes)[0]
    return t, _log_weight_plus_square(t, n_nodes)


def _log1pexp(eta: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, eta)


def _modes(x, n, mu, tau, z0):
    """Mode and curvature of each study's integrand in z, b = tau * z.

    h(z) = x*eta - n*log(1+e^eta) - z^2/2 with eta = mu + tau*z is strictly concave; its mode
    satisfies z = tau*(x - n*p), so it lies in [-|tau|*n, |tau|*n]. Newton with bisection
    safeguard inside that bracket.
    """
    # Products that do not change over the iterations (arrays here are small, so the number of
    # numpy calls per iteration is what costs).
    tn = tau * n
    t2n = tau * tn
    tx = tau * x
    a = np.abs(tn) + 1e-12
    lo, hi = -a, a
    z = np.clip(z0, lo, hi)
    for _ in range(100):
        p = special.expit(mu + tau * z)
        g = tx - tn * p - z
        step = g / (t2n * (p * (1 - p)) + 1.0)
        lo = np.where(g > 0, z, lo)
        hi = np.where(g < 0, z, hi)
        znew = z + step
        # Newton from z always moves into (lo, hi) in exact arithmetic; bisect if it does not.
        # Landing exactly on an end by a step that is not negligible means p saturated to 0
        # or 1 in floats (n p (1 - p) = 0): without bisection Newton then jumps between the
        # two ends until the iterations run out, and the nodes sit far from the mode.
        bad = (znew < lo) | (znew > hi)
        bad |= ((znew == lo) | (znew == hi)) & (np.abs(step) > 1e-12 * (1 + np.abs(znew)))
        if bad.any():
            znew = np.where(bad, 0.5 * (lo + hi), znew)
        z = znew
        if (np.abs(step) <= 1e-12 * (1 + np.abs(z))).all():
            break
    p = special.expit(mu + tau * z)
    curv = t2n * (p * (1 - p)) + 1.0
    return z, 1.0 / np.sqrt(curv)


def _evaluate(x, n, lchoose, mu, tau, z0, n_nodes, derivatives=True, weights=None):
    """Log-likelihood per dataset and, optionally, its gradient and Hessian in (mu, tau).

    x, n, lchoose: (m, k); mu, tau: (m,). Returns ll (m,), grad (m, 2), hess (m, 2, 2), modes.
    The score and Hessian are the posterior moments of the complete-data derivatives
    (Louis 1982, JRSS B 44:226-233), computed on the same adaptive nodes. ``weights`` (m, k):
    how many studies each column stands for (see ``collapse_studies``); None means one each.
    """
    t, logw = _hermite(n_nodes)
    mu_ = mu[:, None]
    tau_ = tau[:, None]
    zhat, sigma = _modes(x, n, mu_, tau_, z0)
    z = zhat[..., None] + np.sqrt(2.0) * sigma[..., None] * t  # (m, k, Q)
    eta = mu_[..., None] + tau_[..., None] * z
    xq = x[..., None]
    nq = n[..., None]
    logf = xq * eta - nq * _log1pexp(eta) - 0.5 * z * z + logw
    # log-sum-exp by hand: the shifted exponentials are the posterior weights too.
    top = logf.max(axis=-1)
    e = np.exp(logf - top[..., None])
    total = e.sum(axis=-1)
    lse = top + np.log(total)
    ll_study = lchoose + lse + np.log(np.sqrt(2.0) * sigma) - _HALF_LOG_2PI
    if weights is not None:
        ll_study = weights * ll_study
    ll = ll_study.sum(axis=1)
    if not derivatives:
        return ll, None, None, zhat
    post = e / total[..., None]
    p = special.expit(eta)
    r = xq - nq * p
    info = nq * p * (1 - p)
    pr = post * r
    s_mu = pr.sum(-1)
    s_tau = (pr * z).sum(-1)
    # E[d2 log f] + Var[d log f] under each study's posterior over the nodes.
    pc = post * (r * r - info)
    pcz = pc * z
    h_mm = pc.sum(-1) - s_mu * s_mu
    h_mt = pcz.sum(-1) - s_mu * s_tau
    h_tt = (pcz * z).sum(-1) - s_tau * s_tau
    if weights is not None:
        s_mu, s_tau = weights * s_mu, weights * s_tau
        h_mm, h_mt, h_tt = weights * h_mm, weights * h_mt, weights * h_tt
    grad = np.stack([s_mu.sum(1), s_tau.sum(1)], axis=-1)
    hess = np.empty((mu.shape[0], 2, 2))
    hess[:, 0, 0] = h_mm.sum(1)
    hess[:, 0, 1] = hess[:, 1, 0] = h_mt.sum(1)
    hess[:, 1, 1] = h_tt.sum(1)
    return ll, grad, hess, zhat


def collapse_studies(events_2d, n_2d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's distinct (events, n) pairs and how many studies have each: (x, n, count).

    Studies with the same pair contribute identical terms to the likelihood, its score and its
    Hessian, so a fit on the distinct pairs weighted by their counts is the same fit with fewer
    terms: with small series the cost stops growing with k. Pairs are sorted by (n, events), so
    the result does not depend on the order of the studies; rows are padded with n = 0,
    count 0 columns, and studies with n = 0 are dropped. Counts must be whole numbers below
    2**26 (``_can_collapse``).
    """
    x = np.atleast_2d(np.asarray(events_2d, dtype=float))
    n = np.atleast_2d(np.asarray(n_2d, dtype=float))
    m_sets = x.shape[0]
    base = (n.max() + 1.0) if n.size else 1.0
    # One exact integer per pair (events <= n < base); padding sorts last.
    key = np.where(n > 0, n * base + x, np.inf)
    key.sort(axis=1)
    valid = np.isfinite(key)
    first = valid.copy()
    first[:, 1:] &= key[:, 1:] != key[:, :-1]
    group = np.cumsum(first, axis=1) - 1
    width = max(int(first.sum(axis=1).max()) if m_sets else 0, 1)
    rows = np.broadcast_to(np.arange(m_sets)[:, None], key.shape)
    count = np.zeros((m_sets, width))
    np.add.at(count, (rows[valid], group[valid]), 1.0)
    unique_key = np.zeros((m_sets, width))
    unique_key[rows[first], group[first]] = key[first]
    un = np.floor(unique_key / base)
    return unique_key - un * base, un, count


def _can_collapse(x: np.ndarray, n: np.ndarray) -> bool:
    """Whole-number counts small enough for ``collapse_studies``'s exact integer keys."""
    return bool(np.all(x == np.floor(x)) and np.all(n == np.floor(n)) and np.all(n < 2**26))


def log_choose(events, n) -> np.ndarray:
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    return special.gammaln(m + 1) - special.gammaln(x + 1) - special.gammaln(m - x + 1)


def marginal_loglik(events, n, mu, tau, n_nodes: int = DEFAULT_NODES) -> np.ndarray:
    """Marginal log-likelihood of (mu, tau) for each dataset (rows of events, n)."""
    x = np.atleast_2d(np.asarray(events, dtype=float))
    m = np.atleast_2d(np.asarray(n, dtype=float))
    mu = np.broadcast_to(np.asarray(mu, dtype=float), (x.shape[0],)).copy()
    tau = np.broadcast_to(np.asarray(tau, dtype=float), (x.shape[0],)).copy()
    ll, *_ = _evaluate(x, m, log_choose(x, m), mu, tau, np.zeros_like(x), n_nodes, False)
    return ll


STATUS_OK = "ok"
STATUS_ALL_ZERO = (
    "every study has 0 events: the ML estimate of mu is minus infinity, so the GLMM "
    "estimate does not exist (the exact common-effect interval still applies)"
)
STATUS_ALL_FULL = (
    "every study has all n events (100%): the ML estimate of mu is plus infinity, so the GLMM "
    "estimate does not exist (the exact common-effect interval still applies)"
)
STATUS_TAU_DIVERGES = (
    "the ML estimate of tau2 is infinite (every study is at 0% or 100%, some each way), so "
    "the GLMM estimate does not exist"
)
STATUS_DIVERGES = "the ML fit diverged (|mu| or tau grew without bound)"
STATUS_NO_CONVERGENCE = "the ML fit did not converge within {iters} Newton iterations"
STATUS_NOT_PD = "the observed information matrix at the ML estimate is not positive definite"


def homogeneity_lrt(events, n) -> tuple[float, float]:
    """Likelihood-ratio test of a common proportion against one per study (df = k - 1).

    Uses exact binomial likelihoods, so 0% and 100% studies need no correction; it is what
    metafor reports as ``QE.LRT`` for ``rma.glmm``.
    """
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    k = x.size
    p = x.sum() / m.sum()
    ph = x / m
    stat = 2 * float(
        np.sum(special.xlogy(x, ph) + special.xlogy(m - x, 1 - ph))
        - np.sum(special.xlogy(x, p) + special.xlogy(m - x, 1 - p))
    )
    stat = max(stat, 0.0)
    if k < 2:
        return np.nan, np.nan
    return stat, float(chi2_sf(stat, k - 1))


class _Profiler:
    """Profile log-likelihood of one dataset: maximise over one parameter with the other fixed.

    Newton in the free parameter with step halving, warm-started from the previous solution.
    The derivative of the profile in the fixed parameter is the partial derivative at the
    inner maximum (envelope theorem), which the outer root search uses.
    """

    def __init__(self, x, n, n_nodes, collapse=True):
        self.x = x[None, :]
        self.n = n[None, :]
        self.weights = None
        if collapse and _can_collapse(self.x, self.n):
            self.x, self.n, self.weights = collapse_studies(self.x, self.n)
        self.lc = log_choose(self.x, self.n)
        self.n_nodes = n_nodes
        self.z = np.zeros_like(self.x)

    def eval(self, mu, tau, derivatives=True):
        ll, g, h, z = _evaluate(
            self.x,
            self.n,
            self.lc,
            np.array([mu]),
            np.array([tau]),
            self.z,
            self.n_nodes,
            derivatives,
            self.weights,
        )
        self.z = z
        return ll[0], (None if g is None else g[0]), (None if h is None else h[0])

    def _brent(self, theta, free, ll):
        # SciPy's bounded Brent, transcribed (fminbound.py): scipy.optimize takes 0.14 s to load.
        from stsmeta.stats.fminbound import minimize_bounded

        width = 2.0 + abs(theta[free])
        lo = max(theta[free] - width, 0.0) if free == 1 else theta[free] - width
        hi = theta[free] + width

        def neg(v):
            t = theta.copy()
            t[free] = v
            return -self.eval(*t, derivatives=False)[0]

        x, fun = minimize_bounded(neg, lo, hi, xatol=1e-10)
        if -fun > ll:
            theta = theta.copy()
            theta[free] = x
            ll = -fun
        return theta, ll

    def maximise(self, theta, free):
        """theta = [mu, tau]; returns (profile loglik, d loglik / d fixed, theta at the max)."""
        theta = np.array(theta, dtype=float)
        fixed = 1 - free
        ll, g, h = self.eval(*theta)
        for _ in range(50):
            curv = -h[free, free]
            step = g[free] / curv if curv > 1e-8 else np.sign(g[free]) * 0.5
            step = float(np.clip(step, -2.0, 2.0))
            s = 1.0
            for _ in range(40):
                cand = theta.copy()
                cand[free] += s * step
                ll_c, *_ = self.eval(*cand, derivatives=False)
                if ll_c >= ll - 1e-13 * (1 + abs(ll)):
                    break
                s *= 0.5
            else:
                # At large tau the score of the integral and the slope of its quadrature part
                # ways; finish with a derivative-free search on the quadrature itself.
                theta, ll = self._brent(theta, free, ll)
                _, g, h = self.eval(*theta)
                break
            gain = ll_c - ll
            theta = cand
            ll, g, h = self.eval(*theta)
            # Only the profile value matters here, so a negligible gain ends the search even
            # on a flat ridge where the maximiser itself is poorly determined.
            if abs(s * step) < 1e-10 or gain < 1e-12:
                break
        if abs(g[free]) > 1e-6 * (1 + abs(h[free, free])):
            theta, ll = self._brent(theta, free, ll)
            _, g, h = self.eval(*theta)
        if free == 1 and theta[1] != 0.0:
            ll0, g0, _ = self.eval(theta[0], 0.0)
            if ll0 >= ll:
                theta[1] = 0.0
                ll, g = ll0, g0
        return ll, g[fixed], theta


def _solve_signed_root(profile, theta_hat, ll_hat, side, crit, scale, lower, limit):
    """Root of the signed root deviance: the end of the profile-likelihood interval on ``side``.

    r(theta) = sign(theta - theta_hat) * sqrt(2 * (ll_hat - l_p(theta))) is close to linear,
    so Newton converges in a few steps; a bracket keeps it safe. NaN if the end lies beyond
    ``limit`` (the interval is unbounded there).
    """
    target = side * np.sqrt(crit)
    inner, outer = theta_hat, None
    if side < 0 and lower is not None:
        outer = lower
    theta = theta_hat + side * np.sqrt(crit) * scale
    if outer is not None and side * (theta - outer) >= 0:
        theta = 0.5 * (inner + outer)
    for _ in range(100):
        lp, dlp = profile(theta)
        dev = max(2 * (ll_hat - lp), 0.0)
        g = side * np.sqrt(dev)
        r = g - target
        if abs(r) < 1e-9:
            return float(theta)
        if side * r < 0:
            inner = theta
        else:
            outer = theta
        cand = np.nan
        if g != 0 and dlp != 0:
            cand = theta - r / (-dlp / g)
        if outer is None:
            if not np.isfinite(cand) or side * (cand - inner) <= 0:
                cand = inner + side * 2 * (abs(inner - theta_hat) + scale)
            if abs(cand) > limit:
                if abs(theta) >= limit:
                    return np.nan
                cand = side * limit
        elif not (np.isfinite(cand) and min(inner, outer) < cand < max(inner, outer)):
            cand = 0.5 * (inner + outer)
        if outer is not None and abs(outer - inner) < 1e-11:
            return float(0.5 * (inner + outer))
        theta = cand
    return np.nan


@dataclass(frozen=True)
class ProfileIntervals:
    """Profile-likelihood intervals (Venzon & Moolgavkar 1988, Appl Stat 37:87-94).

    NaN for an end that is not reached within the search limits (an unbounded interval).
    """

    mu_low: float
    mu_high: float
    tau2_low: float
    tau2_high: float


def profile_intervals(
    events,
    n,
    mu_hat: float,
    tau2_hat: float,
    loglik_hat: float,
    se_hat: float,
    *,
    level: float = 0.95,
    n_nodes: int = DEFAULT_NODES,
    collapse: bool = True,
) -> ProfileIntervals:
    """Profile-likelihood CIs for mu and tau2 of one dataset: {theta : 2 * (l_hat - l_p) <=
    chi2_1(level)}. ``collapse`` as in ``glmm_batch``."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    prof = _Profiler(x, m, n_nodes, collapse)
    return profile_ends(prof, mu_hat, tau2_hat, loglik_hat, se_hat, level)


def profile_ends(prof, mu_hat, tau2_hat, loglik_hat, se_hat, level) -> ProfileIntervals:
    """``profile_intervals`` on a profiler: ``_Profiler`` or one with the same ``maximise``
    over a faster evaluation (``glmm_profile_one``)."""
    crit = float(chi2_ppf(level, 1))
    tau_hat = float(np.sqrt(tau2_hat))
    state = {"tau": max(tau_hat, 0.3), "mu": mu_hat}

    def over_tau(mu):
        ll, d, theta = prof.maximise([mu, state["tau"] or 0.3], free=1)
        state["tau"] = theta[1]
        return ll, d

    def over_mu(tau):
        ll, d, theta = prof.maximise([state["mu"], tau], free=0)
        state["mu"] = theta[0]
        return ll, d

    scale = se_hat if np.isfinite(se_hat) and se_hat > 0 else 1.0
    mu_low = _solve_signed_root(over_tau, mu_hat, loglik_hat, -1, crit, scale, None, _MU_MAX)
    state["tau"] = max(tau_hat, 0.3)
    mu_high = _solve_signed_root(over_tau, mu_hat, loglik_hat, 1, crit, scale, None, _MU_MAX)
    ll_zero = over_mu(0.0)[0]
    if 2 * (loglik_hat - ll_zero) <= crit:
        tau_low = 0.0
    else:
        state["mu"] = mu_hat
        tau_low = _solve_signed_root(over_mu, tau_hat, loglik_hat, -1, crit, 0.5, 0.0, _TAU_MAX)
    state["mu"] = mu_hat
    tau_high = _solve_signed_root(over_mu, tau_hat, loglik_hat, 1, crit, 0.5, None, _TAU_MAX)
    return ProfileIntervals(mu_low, mu_high, tau_low**2, tau_high**2)
