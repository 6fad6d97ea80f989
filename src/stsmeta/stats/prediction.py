"""Prediction intervals for the true effect in a new study.

mu +/- crit * sqrt(se^2 + tau2) on the model scale, with crit from the normal distribution, from
t with k - 1 df, or from t with k - 2 df as proposed by Higgins, Thompson & Spiegelhalter 2009
(JRSS A 172:137-159, eq. 4).
"""

from __future__ import annotations

import math

from stsmeta.stats.distributions import norm_ppf, t_ppf

PI_METHODS = ("z", "t-k1", "t-k2")
PI_LABELS = {"z": "normal (z) PI", "t-k1": "t(k-1) PI", "t-k2": "t(k-2) PI (Higgins 2009)"}


def prediction_interval(
    mu: float, se: float, tau2: float, k: int, *, method: str = "z", level: float = 0.95
) -> tuple[float, float, str | None]:
    """(low, high, problem) on the model scale; NaN bounds and a reason when not defined."""
    if method not in PI_METHODS:
        raise ValueError(f"pi must be one of {', '.join(PI_METHODS)}")
    nan = float("nan")
    if not all(math.isfinite(v) for v in (mu, se, tau2)):
        return nan, nan, "prediction interval not available: the estimate or tau2 is missing"
    q = 0.5 + level / 2
    if method == "z":
        crit = float(norm_ppf(q))
    else:
        df = k - 1 if method == "t-k1" else k - 2
        if df < 1:
            return (
                nan,
                nan,
                (
                    f"prediction interval by {PI_LABELS[method]} needs at least "
                    f"{k - df + 1} studies (k = {k})"
                ),
            )
        crit = float(t_ppf(q, df))
    half = crit * math.sqrt(se * se + tau2)
    return mu - half, mu + half, None
