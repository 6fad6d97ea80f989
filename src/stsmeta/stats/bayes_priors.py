"""Priors of the Bayesian binomial-normal model: ``normal:MEAN:SD`` or ``logistic:LOC:SCALE`` for
mu (logit scale), ``half-normal:SCALE`` or ``half-cauchy:SCALE`` for tau.

tau enters the quadrature through a variable u in which the posterior density is smooth and
bounded, linear in tau near 0 (where the posterior density of tau is positive):
* half-normal: u = asinh(tau / scale), logarithmic in the tail, so that a light tail keeps its
  digits when the data push tau into it (its prior CDF would round to 1 there);
* half-Cauchy: u = its prior CDF, (2 / pi) atan(tau / scale), on [0, 1]. In asinh(tau / scale)
  its e^-u tail holds mass 1e-5 as far out as u = 12 (up to u = 31 before the density is
  negligible), which 48 nodes did not resolve together with the bulk (errors up to 2e-3 in the
  quantiles); in the CDF the whole tail is the end of a short interval, where the posterior
  density tends smoothly to the prior's (the likelihood has a limit as tau grows).
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
    """tau at the quadrature variable u (module docstring)."""
    if prior.family == "half-cauchy":
        return prior.scale * np.tan(0.5 * math.pi * np.asarray(u, dtype=float))
    return prior.scale * np.sinh(u)


def tau_log_density(prior: Prior, u):
    """log of the prior density of the quadrature variable u: log p(tau) + log(dtau / du)."""
    u = np.asarray(u, dtype=float)
    if prior.family == "half-cauchy":
        return np.zeros_like(u)  # u is the prior CDF: uniform
    r = np.sinh(u)
    return 0.5 * math.log(2 / math.pi) - 0.5 * r * r + np.log(np.cosh(u))


def u_max(prior: Prior) -> float:
    """The upper end of u: the half-Cauchy's CDF ends at 1; for the half-normal, beyond u_max the
    prior density of u is below exp(-60) of its value at 0. The quadrature then narrows the
    interval to where the posterior is."""
    if prior.family == "half-cauchy":
        return 1.0
    return float(np.arcsinh(math.sqrt(120.0)))
