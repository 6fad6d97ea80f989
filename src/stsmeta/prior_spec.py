"""What a prior of the Bayesian binomial-normal model is, as text and as a value: ``normal:MEAN:SD``
or ``logistic:LOC:SCALE`` for mu (logit scale), ``half-normal:SCALE`` or ``half-cauchy:SCALE`` for
tau. Plain Python (no numpy), so that the report and the configuration check can read priors
without loading the engine; the densities are in ``stsmeta.stats.bayes_priors``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MU_FAMILIES = ("normal", "logistic")
TAU_FAMILIES = ("half-normal", "half-cauchy")
# Defaults (docs/analysis-plan.md): a uniform prior on the median proportion expit(mu), and a
# half-normal prior on tau that gives heterogeneity up to about 2 on the logit scale 95% mass.
DEFAULT_PRIOR_MU = "logistic:0:1"
DEFAULT_PRIOR_TAU = "half-normal:1"


@dataclass(frozen=True)
class Prior:
    family: str
    loc: float
    scale: float

    def text(self) -> str:
        if self.family in TAU_FAMILIES:
            return f"{self.family}:{self.scale:g}"
        return f"{self.family}:{self.loc:g}:{self.scale:g}"

    def label(self) -> str:
        names = {
            "normal": f"Normal(mean {self.loc:g}, SD {self.scale:g})",
            "logistic": f"Logistic(location {self.loc:g}, scale {self.scale:g})",
            "half-normal": f"half-normal(scale {self.scale:g})",
            "half-cauchy": f"half-Cauchy(scale {self.scale:g})",
        }
        return names[self.family]


def parse_prior(text: str | Prior, role: str) -> Prior:
    """``normal:MEAN:SD`` / ``logistic:LOC:SCALE`` (role "mu") or ``half-normal:SCALE`` /
    ``half-cauchy:SCALE`` (role "tau"); ValueError saying what is allowed otherwise."""
    if isinstance(text, Prior):
        return text
    families = MU_FAMILIES if role == "mu" else TAU_FAMILIES
    forms = (
        "normal:MEAN:SD or logistic:LOC:SCALE"
        if role == "mu"
        else "half-normal:SCALE or half-cauchy:SCALE"
    )
    parts = str(text).strip().split(":")
    family = parts[0].strip().lower()
    expected = 3 if role == "mu" else 2
    try:
        numbers = [float(p) for p in parts[1:]]
    except ValueError:
        numbers = []
    ok = family in families and len(parts) == expected and len(numbers) == expected - 1
    ok = ok and all(math.isfinite(v) for v in numbers) and numbers[-1] > 0
    if not ok:
        raise ValueError(
            f"prior for {role} {text!r} is not valid; give {forms} with a positive scale"
        )
    loc = numbers[0] if role == "mu" else 0.0
    return Prior(family, loc, numbers[-1])


def expit(x: float) -> float:
    """1 / (1 + e^-x) without overflow (a prior as wide as normal:0:400 reaches x = -784)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
