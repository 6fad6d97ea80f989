"""Exact common-effect interval: Clopper-Pearson on total events / total n.

Treats all patients as one binomial sample (Clopper & Pearson 1934, Biometrika 26:404-413); it
exists whatever the data, including when every series is 0% or 100%, and ignores between-study
heterogeneity, which is why it is a secondary analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stsmeta.stats.intervals import clopper_pearson


@dataclass(frozen=True)
class CommonExact:
    events: int
    n: int
    estimate: float
    ci_low: float
    ci_high: float


def common_exact(events, n, level: float = 0.95) -> CommonExact:
    x = int(np.sum(events))
    m = int(np.sum(n))
    low, high = clopper_pearson(x, m, level)
    return CommonExact(x, m, x / m, float(low), float(high))
