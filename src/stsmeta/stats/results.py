"""The pooled result and its JSON form (the contract of ``stsmeta pool --json``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

# Warnings that say a method's estimate or interval is known to mislead with these data (not
# only that a statistic sits at a boundary): the report leaves such methods out of the range it
# quotes for the secondary methods, and says so.
HK_BELOW_ONE = (
    "Hartung-Knapp variance factor below 1: the interval is narrower than the z-based one, which "
    "with few studies is too narrow (Röver, Knapp & Friede 2015); ci hk-adhoc keeps the factor "
    "at least 1"
)
FT_UNEQUAL_N = (
    "Freeman-Tukey back-transformation with the harmonic mean n of studies of unequal size: it "
    "can be seriously misleading (Schwarzer et al. 2019)"
)
# Equal study estimates: the Hartung-Knapp interval has no width at all, the extreme of the
# factor below 1.
HK_ZERO_SE = "Hartung-Knapp standard error is 0 (all study estimates equal)"
MISLEADING_WARNINGS = (HK_BELOW_ONE, HK_ZERO_SE, FT_UNEQUAL_N)


def json_ready(value: Any) -> Any:
    """JSON-ready: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# The numeric fields of a pooled result, each NaN (null in JSON) when there is no estimate.
NUMERIC_FIELDS = (
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "mu",
    "se",
    "tau2",
    "i2",
    "q",
    "q_p",
)


def ci_fields(tau2_ends, i2_ends, h2_ends) -> dict[str, float]:
    """The PoolResult keyword arguments of the heterogeneity CIs from (low, high) pairs."""
    tau2_low, tau2_high = (float(v) for v in tau2_ends)
    return {
        "tau2_ci_low": tau2_low,
        "tau2_ci_high": tau2_high,
        "tau_ci_low": math.sqrt(tau2_low) if tau2_low >= 0 else math.nan,
        "tau_ci_high": math.sqrt(tau2_high) if tau2_high >= 0 else math.nan,
        "i2_ci_low": float(i2_ends[0]),
        "i2_ci_high": float(i2_ends[1]),
        "h2_ci_low": float(h2_ends[0]),
        "h2_ci_high": float(h2_ends[1]),
    }


@dataclass(frozen=True)
class StudyResult:
    """One study: observed proportion, its own CI, and its weight in percent (None if the model
    has no weights)."""

    study: str
    events: int
    n: int
    proportion: float
    ci_low: float
    ci_high: float
    weight: float | None = None

    def to_dict(self) -> dict[str, Any]:
        # What json_ready gives for these fields, written out: a result holds a row per study and
        # leave-one-out steps repeat them, so the generic walk was a large share of the run.
        return {
            "study": self.study,
            "events": json_ready(self.events),
            "n": json_ready(self.n),
            "proportion": _finite_or_none(self.proportion),
            "ci_low": _finite_or_none(self.ci_low),
            "ci_high": _finite_or_none(self.ci_high),
            "weight": None if self.weight is None else _finite_or_none(self.weight),
        }


@dataclass(frozen=True)
class PoolResult:
    """A pooled proportion. ``estimate``, CI and PI are on the proportion scale; ``mu`` and
    ``se`` on the model scale (logit for the GLMM); ``i2`` in percent; missing values are NaN
    here and None in ``to_dict()``, with the reason in ``warnings``."""

    settings: dict[str, Any]
    k: int
    events: int
    n: int
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    mu: float
    se: float
    tau2: float
    i2: float
    q: float
    q_p: float
    warnings: tuple[str, ...]
    studies: tuple[StudyResult, ...]
    h2: float = math.nan
    q_df: int | None = None
    converged: bool | None = None
    # GLMM only: profile-likelihood CI for the pooled proportion and for tau2, and the
    # likelihood-ratio test of tau2 = 0.
    profile_ci_low: float = math.nan
    profile_ci_high: float = math.nan
    tau2_ci_low: float = math.nan
    tau2_ci_high: float = math.nan
    # Confidence intervals for tau (square roots of the tau2 ends), I2 (percent) and H2: the
    # profile-likelihood interval for the GLMM, the Q-profile interval for "ivre".
    tau_ci_low: float = math.nan
    tau_ci_high: float = math.nan
    i2_ci_low: float = math.nan
    i2_ci_high: float = math.nan
    h2_ci_low: float = math.nan
    h2_ci_high: float = math.nan
    lrt_stat: float = math.nan
    lrt_p: float = math.nan
    loglik: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN becomes None, floats are Python floats."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("studies", "extra"):
                continue
            out[f.name] = json_ready(getattr(self, f.name))
        out["studies"] = [s.to_dict() for s in self.studies]
        out.update(json_ready(self.extra))
        return out
