"""Inverse-variance random-effects meta-analysis of single proportions on a transformed scale.

Transforms (as R metafor's ``escalc``):
- ``logit``: log(x / (n - x)), variance 1/x + 1/(n - x), with 1/2 added to events and non-events
  only in studies with 0 or n events (Gart & Zweifel 1967, Biometrika 54:181-187).
- ``ft``: Freeman-Tukey double arcsine (Freeman & Tukey 1950, Ann Math Stat 21:607-611) on
  metafor's half scale, (asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1)))) / 2, variance 1/(4n+2);
  back-transformed by Miller's inversion (Miller 1978, Am Stat 32:138) with the harmonic mean of n.
- ``arcsine``: asin(sqrt(x/n)), variance 1/(4n).
- ``raw``: x/n, variance p(1-p)/n (zero at 0% and 100%: such data are refused with a reason).

tau2 estimators: DerSimonian & Laird 1986 (Control Clin Trials 7:177-188), truncated at 0;
REML and ML (Viechtbauer 2005, J Educ Behav Stat 30:261-293); Paule & Mandel 1982 (J Res NBS
87:377-385). CIs: Wald z, t with k-1 df, or Hartung & Knapp 2001 (Stat Med 20:3875-3889) /
Sidik & Jonkman 2002 (Stat Med 21:3153-3159), without truncation (metafor's ``test="knha"``).
I2 and H2 as Higgins & Thompson 2002 (Stat Med 21:1539-1558), with the typical within-study
variance of metafor (``(k-1) * sum(w) / (sum(w)^2 - sum(w^2))``), so that I2 matches metafor
for every tau2 estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from stsmeta.stats.distributions import chi2_sf, norm_ppf, t_ppf

TRANSFORMS = ("logit", "ft", "arcsine", "raw")
TAU2_METHODS = ("DL", "REML", "PM", "ML")
CI_METHODS = ("z", "t", "hk")


def transform_proportions(events, n, transform: str) -> tuple[np.ndarray, np.ndarray]:
    """Study estimates and sampling variances on the model scale (as metafor's escalc)."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    if transform == "logit":
        extreme = (x == 0) | (x == m)
        xa = np.where(extreme, x + 0.5, x)
        ya = np.where(extreme, m - x + 0.5, m - x)
        return np.log(xa / ya), 1 / xa + 1 / ya
    if transform == "ft":
        yi = 0.5 * (np.arcsin(np.sqrt(x / (m + 1))) + np.arcsin(np.sqrt((x + 1) / (m + 1))))
        return yi, 1 / (4 * m + 2)
    if transform == "arcsine":
        return np.arcsin(np.sqrt(x / m)), 1 / (4 * m)
    if transform == "raw":
        p = x / m
        return p, p * (1 - p) / m
    raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}")


def ft_to_proportion(t, n_harmonic: float):
    """Miller (1978) inverse of the Freeman-Tukey double arcsine, on metafor's half scale.

    Values beyond the transforms of p = 0 and p = 1 at ``n_harmonic`` map to 0 and 1, as in
    metafor's ``transf.ipft.hm``.
    """
    t = np.asarray(t, dtype=float)
    nh = float(n_harmonic)
    s = np.sin(2 * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1 - (s + (s - 1 / s) / nh) ** 2
        p = 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(inner))
    t_zero = 0.5 * np.arcsin(np.sqrt(1 / (nh + 1)))
    t_one = 0.5 * (np.arcsin(np.sqrt(nh / (nh + 1))) + np.pi / 2)
    p = np.where(t > t_one, 1.0, np.where(t < t_zero, 0.0, p))
    return p


def back_transform(values, transform: str, n=None):
    """Model scale to proportion scale (clamped to [0, 1])."""
    v = np.asarray(values, dtype=float)
    if transform == "logit":
        return special.expit(v)
    if transform == "ft":
        n_harmonic = 1 / np.mean(1 / np.asarray(n, dtype=float))
        return ft_to_proportion(v, n_harmonic)
    if transform == "arcsine":
        return np.where(v < 0, 0.0, np.where(v > np.pi / 2, 1.0, np.sin(v) ** 2))
    if transform == "raw":
        return v
    raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}")


@dataclass(frozen=True)
class IvreFit:
    """Random-effects fit on the model scale. ``se`` is that of the chosen CI method."""

    mu: float
    se: float
    tau2: float
    ci_low: float
    ci_high: float
    df: float  # inf for z
    q: float
    q_p: float
    i2: float  # percent
    h2: float
    weights: np.ndarray  # percent, sum to 100
    yi: np.ndarray
    vi: np.ndarray
    tau2_converged: bool


def _fixed(yi, wi):
    mu = np.sum(wi * yi) / np.sum(wi)
    return mu, np.sum(wi * (yi - mu) ** 2)


def _bracket_root(f, lo: float, f_lo: float) -> float:
    """Root of a function positive at lo: expand the upper end until the sign changes."""
    from scipy import optimize  # here: slow to load, and only the iterative tau2 needs it

    hi = max(1.0, 2 * lo)
    for _ in range(200):
        if f(hi) < 0:
            return optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
        lo, hi = hi, hi * 2
    return np.inf


def estimate_tau2(yi, vi, method: str) -> tuple[float, bool]:
    """Between-study variance by DL, REML, PM or ML; (tau2, converged). Truncated at 0."""
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.size
    if k < 2:
        return 0.0, True
    if method == "DL":
        wi = 1 / vi
        _, q = _fixed(yi, wi)
        c = np.sum(wi) - np.sum(wi**2) / np.sum(wi)
        return max(0.0, (q - (k - 1)) / c), True

    if method == "PM":

        def score(t2):
            return _fixed(yi, 1 / (vi + t2))[1] - (k - 1)
    elif method in ("REML", "ML"):
        reml = method == "REML"

        def score(t2):
            # d(log-likelihood)/d(tau2), up to a factor 1/2 (Viechtbauer 2005, eq. 8 and 11).
            wi = 1 / (vi + t2)
            mu = np.sum(wi * yi) / np.sum(wi)
            s = -np.sum(wi) + np.sum(wi**2 * (yi - mu) ** 2)
            if reml:
                s += np.sum(wi**2) / np.sum(wi)
            return s
    else:
        raise ValueError(f"tau2 estimator must be one of {', '.join(TAU2_METHODS)}")
    s0 = score(0.0)
    if s0 <= 0:
        return 0.0, True
    root = _bracket_root(score, 0.0, s0)
    return float(root), bool(np.isfinite(root))


def fit_ivre(yi, vi, *, tau2_method: str = "REML", ci: str = "z", level: float = 0.95) -> IvreFit:
    """Inverse-variance random-effects fit of study estimates ``yi`` with variances ``vi``."""
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.size
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {', '.join(CI_METHODS)}")
    tau2, converged = estimate_tau2(yi, vi, tau2_method)
    w_fixed = 1 / vi
    _, q = _fixed(yi, w_fixed)
    q_p = float(chi2_sf(q, k - 1)) if k > 1 else np.nan
    sw = np.sum(w_fixed)
    if k > 1:
        typical_v = (k - 1) * sw / (sw**2 - np.sum(w_fixed**2))
        i2 = 100 * tau2 / (typical_v + tau2)
        h2 = tau2 / typical_v + 1
    else:
        i2 = h2 = np.nan
    wi = 1 / (vi + tau2)
    mu = float(np.sum(wi * yi) / np.sum(wi))
    se = float(np.sqrt(1 / np.sum(wi)))
    df = np.inf
    if ci == "hk":
        df = k - 1
        se = (
            float(np.sqrt(np.sum(wi * (yi - mu) ** 2) / ((k - 1) * np.sum(wi))))
            if k > 1
            else np.nan
        )
    elif ci == "t":
        df = k - 1
    crit = _critical(level, df)
    return IvreFit(
        mu=mu,
        se=se,
        tau2=float(tau2),
        ci_low=mu - crit * se,
        ci_high=mu + crit * se,
        df=float(df),
        q=float(q),
        q_p=q_p,
        i2=float(i2),
        h2=float(h2),
        weights=100 * wi / np.sum(wi),
        yi=yi,
        vi=vi,
        tau2_converged=converged,
    )


def _critical(level: float, df: float) -> float:
    if np.isinf(df):
        return float(norm_ppf(0.5 + level / 2))
    if df < 1:
        return np.nan
    return float(t_ppf(0.5 + level / 2, df))
