"""Common-effect interval on total events / total n: Clopper-Pearson (exact), Wilson or mid-p.

Treats all patients as one binomial sample (Clopper & Pearson 1934, Biometrika 26:404-413); it
exists whatever the data, including when every series is 0% or 100%, and ignores between-study
heterogeneity, which is why it is a secondary analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stsmeta.stats.intervals import clopper_pearson, mid_p, wilson

COMMON_CI_METHODS = ("cp", "wilson", "midp")
COMMON_CI_LABELS = {"cp": "Clopper-Pearson", "wilson": "Wilson score", "midp": "mid-p exact"}


@dataclass(frozen=True)
class CommonExact:
    events: int
    n: int
    estimate: float
    ci_low: float
    ci_high: float


def common_exact(events, n, level: float = 0.95, method: str = "cp") -> CommonExact:
    """Total events / total n with a Clopper-Pearson (default), Wilson or mid-p interval."""
    # Python ints: exact sums whatever the counts (numpy int64 could overflow).
    x = sum(int(v) for v in np.asarray(events).tolist())
    m = sum(int(v) for v in np.asarray(n).tolist())
    ends: tuple[Any, Any]
    if method == "midp":
        ends = mid_p(x, m, level)
    elif method == "wilson":
        ends = wilson(x, m, level)
    elif method == "cp":
        ends = clopper_pearson(x, m, level)
    else:
        raise ValueError(f"common-effect CI must be one of {', '.join(COMMON_CI_METHODS)}")
    return CommonExact(x, m, x / m, float(ends[0]), float(ends[1]))
