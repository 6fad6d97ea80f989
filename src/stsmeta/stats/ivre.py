"""Inverse-variance random-effects meta-analysis of single proportions on a transformed scale.

Transforms (as R metafor's ``escalc``):
- ``logit``: log(x / (n - x)), variance 1/x + 1/(n - x), with 1/2 added to events and non-events
  only in studies with 0 or n events (Gart & Zweifel 1967, Biometrika 54:181-187).
- ``ft``: Freeman-Tukey double arcsine (Freeman & Tukey 1950, Ann Math Stat 21:607-611) on
  metafor's half scale, (asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1)))) / 2, variance 1/(4n+2);
  back-transformed by Miller's inversion (Miller 1978, Am Stat 32:138) with the harmonic mean of n.
- ``arcsine``: asin(sqrt(x/n)), variance 1/(4n).
- ``raw``: x/n, variance p(1-p)/n (zero at 0% and 100%: such data are refused with a reason).
- ``log``: log(x/n), variance 1/x - 1/n (metafor "PLN"), back-transformed by exp, capped at 1.
Continuity corrections (``add``, ``to``) as escalc's: see ``corrected_counts`` and DEFAULT_CC.

tau2 estimators: see ``stsmeta.stats.tau2`` (DL, REML, ML, PM, HE, HS, SJ, EB).
CIs: Wald z, t with k-1 df, or Hartung & Knapp 2001 (Stat Med 20:3875-3889) /
Sidik & Jonkman 2002 (Stat Med 21:3153-3159), without truncation (metafor's ``test="knha"``).
I2 and H2 as Higgins & Thompson 2002 (Stat Med 21:1539-1558), with the typical within-study
variance of metafor (``(k-1) * sum(w) / (sum(w)^2 - sum(w^2))``), so that I2 matches metafor
for every tau2 estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from stsmeta.stats import tau2 as tau2_mod
from stsmeta.stats.distributions import chi2_sf, norm_ppf, t_ppf
from stsmeta.stats.tau2 import _fixed, estimate_tau2

TRANSFORMS = ("logit", "ft", "arcsine", "raw", "log")
CI_METHODS = ("z", "t", "hk", "hk-adhoc")
TAU2_METHODS = tau2_mod.TAU2_METHODS


CC_TO = ("only0", "all", "if0all", "none")
# metafor escalc's default continuity correction per transform: add 1/2 to events and
# non-events of 0% and 100% studies for logit and log, nothing for ft and arcsine. For raw
# metafor also adds 1/2; here raw is left uncorrected by default, so 0% and 100% studies are
# refused with a reason instead of being given an invented variance.
DEFAULT_CC = {"logit": 0.5, "log": 0.5, "ft": 0.0, "arcsine": 0.0, "raw": 0.0}


def corrected_counts(events, n, add: float, to: str) -> tuple[np.ndarray, np.ndarray]:
    """Events and n after metafor escalc's continuity correction: ``add`` to the events and the
    non-events of the studies chosen by ``to`` (only0: studies at 0% or 100%; all; if0all: all
    studies if any is at 0% or 100%; none)."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    if to not in CC_TO:
        raise ValueError(f"continuity correction 'to' must be one of {', '.join(CC_TO)}")
    extreme = (x == 0) | (x == m)
    chosen = {
        "only0": extreme,
        "all": np.ones_like(extreme),
        "if0all": np.full_like(extreme, bool(extreme.any())),
        "none": np.zeros_like(extreme),
    }[to]
    return np.where(chosen, x + add, x), np.where(chosen, m + 2 * add, m)


def transform_proportions(
    events, n, transform: str, *, add: float | None = None, to: str = "only0"
) -> tuple[np.ndarray, np.ndarray]:
    """Study estimates and sampling variances on the model scale (as metafor's escalc, with its
    ``add`` and ``to``; ``add`` None is the transform's default, DEFAULT_CC)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}")
    add = DEFAULT_CC[transform] if add is None else float(add)
    x, m = corrected_counts(events, n, add, to)
    return transformed(x, m, transform)


def transformed(x: np.ndarray, m: np.ndarray, transform: str) -> tuple[np.ndarray, np.ndarray]:
    """(yi, vi) of corrected counts ``x`` out of ``m`` (arrays of any shape, element by element:
    the batch fitter, ``ivre_batch``, calls it on datasets x studies)."""
    if transform == "logit":
        return np.log(x / (m - x)), 1 / x + 1 / (m - x)
    if transform == "log":
        return np.log(x / m), 1 / x - 1 / m
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
        n_harmonic = float(1 / np.mean(1 / np.asarray(n, dtype=float)))
        return ft_to_proportion(v, n_harmonic)
    if transform == "arcsine":
        return np.where(v < 0, 0.0, np.where(v > np.pi / 2, 1.0, np.sin(v) ** 2))
    if transform == "raw":
        return v
    if transform == "log":
        return np.minimum(np.exp(v), 1.0)
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
    # Hartung-Knapp's variance factor before any ad hoc floor (nan for other CI methods): below
    # 1 the interval is narrower than the z-based one.
    hk_factor: float = float("nan")


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
    hk_factor = float("nan")
    if ci in ("hk", "hk-adhoc"):
        df = k - 1
        # Hartung-Knapp: the z variance times sum w (y - mu)^2 / (k - 1); the ad hoc correction
        # (Knapp & Hartung 2003, Stat Med 22:2693-2710; metafor test="adhoc") keeps that factor
        # at least 1, so the interval is never narrower than the z-based one's variance.
        factor = float(np.sum(wi * (yi - mu) ** 2) / (k - 1)) if k > 1 else np.nan
        hk_factor = factor
        if ci == "hk-adhoc":
            factor = max(factor, 1.0)
        se = float(np.sqrt(factor / np.sum(wi)))
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
        hk_factor=hk_factor,
    )


def _critical(level: float, df: float) -> float:
    if np.isinf(df):
        return float(norm_ppf(0.5 + level / 2))
    if df < 1:
        return np.nan
    return float(t_ppf(0.5 + level / 2, df))
