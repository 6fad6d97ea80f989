"""Names and small helpers shared by the pooling methods (``api`` and the per-method modules)."""

from __future__ import annotations

import math

from stsmeta.stats.distributions import norm_ppf, t_ppf
from stsmeta.stats.results import NUMERIC_FIELDS

NAN = math.nan
# The numeric fields of a result that has no estimate.
NO_ESTIMATE = dict.fromkeys(NUMERIC_FIELDS, NAN)

TRANSFORM_LABELS = {
    "logit": "logit",
    "ft": "Freeman-Tukey double arcsine (Miller 1978 back-transform, harmonic mean n)",
    "arcsine": "arcsine",
    "raw": "untransformed",
    "log": "log",
}
CI_LABELS = {
    "z": "Wald z CI",
    "t": "t(k-1) CI",
    "hk": "Hartung-Knapp CI",
    "hk-adhoc": "Hartung-Knapp CI with the ad hoc correction (never narrower than z)",
}


def crit(level: float, df: float) -> float:
    """Two-sided critical value: normal for df = inf, else t with df degrees of freedom."""
    q = 0.5 + level / 2
    return float(norm_ppf(q)) if math.isinf(df) else float(t_ppf(q, df))
