"""Priors of the Bayesian binomial-normal model: ``normal:MEAN:SD`` or ``logistic:LOC:SCALE`` for
mu (logit scale), ``half-normal:SCALE`` or ``half-cauchy:SCALE`` for tau.

tau enters the quadrature as u = asinh(tau / scale): linear in tau near 0 (where the posterior
density of tau is positive) and logarithmic in its tail, so that a heavy tail (half-Cauchy) is a
short interval and a light one (half-normal) keeps its digits when the data push tau into it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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


def mu_log_density(prior: Prior, mu):
    """log p(mu), d/dmu and d2/dmu2 (both families are log-concave)."""
    u = (np.asarray(mu, dtype=float) - prior.loc) / prior.scale
    s = prior.scale
    if prior.family == "normal":
        return (
            -0.5 * u * u - math.log(s) - 0.5 * math.log(2 * math.pi),
            -u / s,
            np.full_like(u, -1.0 / (s * s)),
        )
    a = np.abs(u)
    th = np.tanh(0.5 * u)
    return -a - 2 * np.log1p(np.exp(-a)) - math.log(s), -th / s, -0.5 * (1 - th * th) / (s * s)


def tau_of(prior: Prior, u):
    """tau at u = asinh(tau / scale)."""
    return prior.scale * np.sinh(u)


def tau_log_density(prior: Prior, u):
    """log of the prior density of u = asinh(tau / scale): log p(tau) + log(dtau / du)."""
    u = np.asarray(u, dtype=float)
    r = np.sinh(u)
    if prior.family == "half-normal":
        log_p = 0.5 * math.log(2 / math.pi) - 0.5 * r * r
    else:
        log_p = math.log(2 / math.pi) - np.log1p(r * r)
    return log_p + np.log(np.cosh(u))


def u_max(prior: Prior) -> float:
    """An upper end for u beyond which the prior density of u is below exp(-60) of its value at
    0; the quadrature then narrows the interval to where the posterior is."""
    if prior.family == "half-normal":
        return float(np.arcsinh(math.sqrt(120.0)))
    return float(np.arcsinh(math.exp(30.0)))
