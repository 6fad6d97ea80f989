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

import numpy as np

from stsmeta.prior_spec import (  # noqa: F401 (re-exported: one place to import priors)
    DEFAULT_PRIOR_MU,
    DEFAULT_PRIOR_TAU,
    MU_FAMILIES,
    TAU_FAMILIES,
    Prior,
    parse_prior,
)


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
