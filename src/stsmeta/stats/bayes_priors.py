"""Priors of the Bayesian binomial-normal model: ``normal:MEAN:SD`` or ``logistic:LOC:SCALE`` for
mu (logit scale), ``half-normal:SCALE`` or ``half-cauchy:SCALE`` for tau.

tau enters the quadrature as u = asinh(tau / scale): linear in tau near 0 (where the posterior
density of tau is positive) and logarithmic in its tail, so that a heavy tail (half-Cauchy) is a
short interval and a light one (half-normal) keeps its digits when the data push tau into it.
"""

from __future__ import annotations

import math

import numpy as np

from stsmeta.stats.prior_spec import (  # noqa: F401 (re-exported: one place to import priors)
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
