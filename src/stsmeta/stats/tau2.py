"""Between-study variance tau2 of the inverse-variance model: estimators and Q-profile CIs.

Estimators (intercept-only model y_i ~ N(mu, v_i + tau2), v_i known), as R metafor's ``rma``:
- DL: DerSimonian & Laird 1986 (Control Clin Trials 7:177-188), truncated at 0.
- HE: Hedges 1983 (Psychol Bull 93:388-395), unweighted method of moments, truncated at 0.
- HS: Hunter & Schmidt 2004 (Methods of Meta-Analysis, 2nd ed.), (Q - k) / sum(w), truncated.
- SJ: Sidik & Jonkman 2005 (J Biopharm Stat 15:823-838), one step from var(y) (k - 1) / k.
- PM: Paule & Mandel 1982 (J Res NBS 87:377-385): generalised Q = k - 1.
- EB: empirical Bayes (Morris 1983, JASA 78:47-55); without moderators its estimating equation
  is that of PM (Viechtbauer et al. 2015, Res Synth Methods 6:114-126), so the value is PM's.
- ML and REML (Viechtbauer 2005, J Educ Behav Stat 30:261-293): the GLOBAL maximum of the
  (restricted) log-likelihood over tau2 >= 0. The score at 0 being <= 0 does not make 0 the
  maximum (the likelihood of two studies of very different precision can rise again), so the
  likelihood is scanned on a grid that covers every stationary point and the best one refined.

Q-profile confidence interval for tau2 (Viechtbauer 2007, Stat Med 26:37-52): the tau2 at which
the generalised Q statistic sum w_i(tau2) (y_i - mu(tau2))^2 equals the chi2(k-1) quantiles, as
metafor's ``confint()``; the intervals for tau, I2 and H2 are its monotone transforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stsmeta.stats.distributions import chi2_ppf

TAU2_METHODS = ("DL", "REML", "PM", "ML", "HE", "HS", "SJ", "EB")
_GRID = np.concatenate([[0.0], np.geomspace(1e-10, 1.0, 300)])


def _fixed(yi, wi):
    mu = np.sum(wi * yi) / np.sum(wi)
    return mu, np.sum(wi * (yi - mu) ** 2)


def generalised_q(yi, vi, tau2):
    """sum w_i (y_i - mu_w)^2 with w_i = 1 / (v_i + tau2), for one tau2 or an array of them."""
    t2 = np.atleast_1d(np.asarray(tau2, dtype=float))
    w = 1 / (vi[None, :] + t2[:, None])
    mu = (w * yi).sum(1) / w.sum(1)
    q = (w * (yi[None, :] - mu[:, None]) ** 2).sum(1)
    return q if np.ndim(tau2) else float(q[0])


def log_likelihood(yi, vi, tau2, reml: bool):
    """(Restricted) log-likelihood of tau2 with mu profiled out, up to a constant."""
    t2 = np.atleast_1d(np.asarray(tau2, dtype=float))
    v = vi[None, :] + t2[:, None]
    w = 1 / v
    sw = w.sum(1)
    mu = (w * yi).sum(1) / sw
    ll = -0.5 * (np.log(v).sum(1) + (w * (yi[None, :] - mu[:, None]) ** 2).sum(1))
    if reml:
        ll -= 0.5 * np.log(sw)
    return ll if np.ndim(tau2) else float(ll[0])


def _score(yi, vi, t2: float, reml: bool) -> float:
    """d(log-likelihood)/d(tau2), up to a factor 1/2 (Viechtbauer 2005, eq. 8 and 11)."""
    wi = 1 / (vi + t2)
    mu = np.sum(wi * yi) / np.sum(wi)
    s = -np.sum(wi) + np.sum(wi**2 * (yi - mu) ** 2)
    if reml:
        s += np.sum(wi**2) / np.sum(wi)
    return float(s)


def _brentq(f, lo: float, hi: float) -> float:
    from scipy import optimize  # here: slow to load, and only the iterative tau2 needs it

    return optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)


def _bracket_root(f, lo: float, f_lo: float) -> float:
    """Root of a decreasing-at-infinity function positive at lo: expand until the sign changes."""
    hi = max(1.0, 2 * lo)
    for _ in range(200):
        if f(hi) < 0:
            return _brentq(f, lo, hi)
        lo, hi = hi, hi * 2
    return np.inf


def _likelihood_max(yi, vi, reml: bool) -> float:
    """Global maximiser of the (restricted) likelihood over tau2 >= 0.

    Every stationary point lies below ``upper``: there the weights differ by < 10% and each
    squared residual is < 1/4 of v_i + tau2, so the score is negative. The grid (0 and 300
    geometric points up to ``upper``) is dense enough that the best grid point neighbours the
    global maximum; the score root between its neighbours is then that maximum.
    """
    span = float(np.ptp(yi))
    upper = 10 * (4 * span**2 + float(np.max(vi)))
    while _score(yi, vi, upper, reml) >= 0:  # a guard: the bound above should hold
        upper *= 4
    grid = _GRID * upper
    ll = log_likelihood(yi, vi, grid, reml)
    best = int(np.argmax(ll))
    lo = grid[max(best - 1, 0)]
    hi = grid[min(best + 1, grid.size - 1)]
    candidates = [float(grid[best])]
    s_lo, s_hi = _score(yi, vi, lo, reml), _score(yi, vi, hi, reml)
    if s_lo > 0 > s_hi:
        candidates.append(_brentq(lambda t: _score(yi, vi, t, reml), lo, hi))
    values = log_likelihood(yi, vi, np.array(candidates), reml)
    return float(candidates[int(np.argmax(values))])


def estimate_tau2(yi, vi, method: str) -> tuple[float, bool]:
    """Between-study variance by ``method`` (see TAU2_METHODS); (tau2, converged)."""
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.size
    if method not in TAU2_METHODS:
        raise ValueError(f"tau2 estimator must be one of {', '.join(TAU2_METHODS)}")
    if k < 2:
        return 0.0, True
    wi = 1 / vi
    if method == "DL":
        _, q = _fixed(yi, wi)
        c = np.sum(wi) - np.sum(wi**2) / np.sum(wi)
        return max(0.0, float((q - (k - 1)) / c)), True
    if method == "HS":
        _, q = _fixed(yi, wi)
        return max(0.0, float((q - k) / np.sum(wi))), True
    if method == "HE":
        rss = np.sum((yi - yi.mean()) ** 2)
        return max(0.0, float((rss - np.sum(vi) * (k - 1) / k) / (k - 1))), True
    if method == "SJ":
        tau0 = float(np.var(yi))  # var(y) (k - 1) / k, metafor's starting value
        if tau0 == 0:
            return 0.0, True
        return float(tau0 * _fixed(yi, 1 / (vi + tau0))[1] / (k - 1)), True
    if method in ("PM", "EB"):

        def excess(t2):
            return _fixed(yi, 1 / (vi + t2))[1] - (k - 1)

        f0 = excess(0.0)
        if f0 <= 0:
            return 0.0, True
        root = _bracket_root(excess, 0.0, f0)
        return float(root), bool(np.isfinite(root))
    return _likelihood_max(yi, vi, method == "REML"), True


def _q_root(yi, vi, target: float) -> float:
    """tau2 > 0 where the generalised Q equals ``target`` (< Q(0)): Newton from 0, with
    dQ/dtau2 = -sum w^2 (y - mu_w)^2, kept inside a bracket (bisection if it leaves it)."""
    lo, hi, t = 0.0, np.inf, 0.0
    for _ in range(200):
        w = 1 / (vi + t)
        r = yi - np.dot(w, yi) / w.sum()
        wr2 = w * r * r
        f = wr2.sum() - target
        if f > 0:
            lo = t
        else:
            hi = t
        slope = -np.dot(w, wr2)
        new = t - f / slope if slope < 0 else np.inf
        if not lo < new < hi:
            new = 0.5 * (lo + hi) if np.isfinite(hi) else max(2 * t, 1.0)
        if abs(new - t) <= 1e-15 * (1 + t) or f == 0:
            return float(new)
        t = new
    return float(t)


@dataclass(frozen=True)
class Tau2Interval:
    """Q-profile CI for tau2 (NaN where undefined) and the ends of tau, I2 (percent) and H2."""

    tau2_low: float
    tau2_high: float
    tau_low: float
    tau_high: float
    i2_low: float
    i2_high: float
    h2_low: float
    h2_high: float


def typical_variance(vi) -> float:
    """metafor's typical within-study variance (k-1) sum(w) / (sum(w)^2 - sum(w^2))."""
    w = 1 / np.asarray(vi, dtype=float)
    return float((w.size - 1) * w.sum() / (w.sum() ** 2 - np.sum(w**2)))


def i2_h2(tau2, typical: float):
    """I2 (percent) and H2 of tau2 against the typical within-study variance."""
    return 100 * tau2 / (typical + tau2), tau2 / typical + 1


def q_profile_interval(yi, vi, level: float = 0.95) -> Tau2Interval:
    """Q-profile CI (Viechtbauer 2007), as metafor's confint() for rma: tau2 where the
    generalised Q equals chi2(k-1) at (1 + level)/2 (lower end) and (1 - level)/2 (upper end);
    an end is 0 when Q(0) is already below its quantile."""
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.size
    nan = float("nan")
    if k < 2:
        return Tau2Interval(*([nan] * 8))
    q0 = generalised_q(yi, vi, 0.0)
    ends = []
    for p in ((1 + level) / 2, (1 - level) / 2):
        target = float(chi2_ppf(p, k - 1))
        ends.append(0.0 if q0 <= target else _q_root(yi, vi, target))
    low, high = ends
    typical = typical_variance(vi)
    (i2_low, h2_low), (i2_high, h2_high) = i2_h2(low, typical), i2_h2(high, typical)
    return Tau2Interval(
        low, high, float(np.sqrt(low)), float(np.sqrt(high)), i2_low, i2_high, h2_low, h2_high
    )
