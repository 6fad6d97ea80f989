"""Confidence intervals for a single binomial proportion (one study).

- Clopper-Pearson, the "exact" interval from inverting two one-sided binomial tests
  (Clopper & Pearson 1934, Biometrika 26:404-413), written with beta quantiles.
- Wilson score interval without continuity correction (Wilson 1927, JASA 22:209-212;
  method 3 of Newcombe 1998, Stat Med 17:857-872).
- Jeffreys interval: equal-tailed Beta(x + 1/2, n - x + 1/2) posterior interval, with the
  lower bound set to 0 when x = 0 and the upper bound to 1 when x = n
  (Brown, Cai & DasGupta 2001, Stat Sci 16:101-133, section 4.1.2).
- Agresti-Coull interval: Wald around (x + z^2/2) / (n + z^2) (Agresti & Coull 1998, Am Stat
  52:119-126), cut to [0, 1]; meta's method.ci = "AC".
- Wilson score interval with continuity correction (Newcombe 1998 method 4), as R's
  ``prop.test(correct = TRUE)`` except at x = n/2, where prop.test drops the correction and
  Newcombe's formula keeps it (3/6: 0.1395 to 0.8605 here, 0.1876 to 0.8124 there); meta's
  method.ci = "WSCC".
- Mid-p exact interval (Lancaster 1961, JASA 56:223-234; Berry & Armitage 1995, Statistician
  44:417-423): Clopper-Pearson with half the probability of the observed count.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from stsmeta.stats.distributions import norm_ppf

STUDY_CI_METHODS = ("cp", "wilson", "jeffreys", "ac", "wilson-cc")


def _as_counts(events, n) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    x, m = np.broadcast_arrays(x, m)
    if np.any(m < 1) or np.any(x < 0) or np.any(x > m):
        raise ValueError("need 0 <= events <= n and n >= 1 for every study")
    return x, m


def clopper_pearson(events, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson interval (Clopper & Pearson 1934) for events/n."""
    x, m = _as_counts(events, n)
    alpha = 1.0 - level
    with np.errstate(invalid="ignore"):
        low = np.where(x > 0, special.betaincinv(x, m - x + 1, alpha / 2), 0.0)
        high = np.where(x < m, special.betaincinv(x + 1, m - x, 1 - alpha / 2), 1.0)
    return low, high


def wilson(events, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (Wilson 1927; Newcombe 1998 method 3)."""
    x, m = _as_counts(events, n)
    z = norm_ppf(0.5 + level / 2)
    p = x / m
    centre = (p + z * z / (2 * m)) / (1 + z * z / m)
    half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
    # At x = 0 (or n) the bound is exactly 0 (or 1); rounding would leave ~1e-17.
    low = np.where(x == 0, 0.0, centre - half)
    high = np.where(x == m, 1.0, centre + half)
    return low, high


def jeffreys(events, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval with the boundary modification of Brown, Cai & DasGupta (2001)."""
    x, m = _as_counts(events, n)
    alpha = 1.0 - level
    low = np.where(x > 0, special.betaincinv(x + 0.5, m - x + 0.5, alpha / 2), 0.0)
    high = np.where(x < m, special.betaincinv(x + 0.5, m - x + 0.5, 1 - alpha / 2), 1.0)
    return low, high


def agresti_coull(events, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Agresti-Coull interval (Agresti & Coull 1998), cut to [0, 1]."""
    x, m = _as_counts(events, n)
    z = norm_ppf(0.5 + level / 2)
    m_tilde = m + z * z
    p = (x + z * z / 2) / m_tilde
    half = z * np.sqrt(p * (1 - p) / m_tilde)
    return np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)


def wilson_cc(events, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval with continuity correction (Newcombe 1998, method 4)."""
    x, m = _as_counts(events, n)
    z = norm_ppf(0.5 + level / 2)
    p = x / m
    denom = 2 * (m + z * z)
    with np.errstate(invalid="ignore"):
        low = (
            2 * m * p + z * z - 1 - z * np.sqrt(z * z - 2 - 1 / m + 4 * p * (m * (1 - p) + 1))
        ) / denom
        high = (
            2 * m * p + z * z + 1 + z * np.sqrt(z * z + 2 - 1 / m + 4 * p * (m * (1 - p) - 1))
        ) / denom
    low = np.where(x == 0, 0.0, np.maximum(low, 0.0))
    high = np.where(x == m, 1.0, np.minimum(high, 1.0))
    return low, high


def _mid_p_tail(p, x, m, upper: bool):
    """P(X > x) + P(X = x) / 2 (upper) or P(X < x) + P(X = x) / 2, X ~ Binomial(m, p)."""
    at_least = special.betainc(x, m - x + 1, p) if x > 0 else 1.0  # P(X >= x)
    above = special.betainc(x + 1, m - x, p) if x < m else 0.0  # P(X > x)
    if upper:
        return 0.5 * (at_least + above)
    return 1.0 - 0.5 * (at_least + above)


def mid_p(events, n, level: float = 0.95) -> tuple[float, float]:
    """Mid-p exact interval for one proportion events/n (pooled counts: Python ints)."""
    from scipy import optimize  # here: slow to load, and only this interval needs it

    x, m = float(events), float(n)
    half_alpha = (1 - level) / 2
    low = 0.0
    if x > 0:
        low = optimize.brentq(
            lambda p: _mid_p_tail(p, x, m, True) - half_alpha, 0.0, 1.0, xtol=1e-15, rtol=1e-15
        )
    high = 1.0
    if x < m:
        high = optimize.brentq(
            lambda p: _mid_p_tail(p, x, m, False) - half_alpha, 0.0, 1.0, xtol=1e-15, rtol=1e-15
        )
    return float(low), float(high)


def study_intervals(
    events, n, method: str = "cp", level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Per-study confidence limits for events/n: ``method`` is one of STUDY_CI_METHODS."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    funcs = {
        "cp": clopper_pearson,
        "wilson": wilson,
        "jeffreys": jeffreys,
        "ac": agresti_coull,
        "wilson-cc": wilson_cc,
    }
    if method not in funcs:
        raise ValueError(f"study CI method must be one of {', '.join(STUDY_CI_METHODS)}")
    low, high = funcs[method](events, n, level)
    return np.atleast_1d(low).astype(float), np.atleast_1d(high).astype(float)
