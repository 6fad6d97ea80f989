"""Chebyshev interpolation on first-kind nodes: the quadrature, CDFs and quantiles of the Bayesian
model (``stsmeta.stats.bayes``).

A smooth density sampled at the M first-kind Chebyshev nodes of an interval is replaced by its
interpolating polynomial (Trefethen 2019, Approximation Theory and Approximation Practice, ch. 3
and 19): integrating that polynomial is Fejer's first rule, and its running integral is a Chebyshev
series too, so the CDF is known everywhere with the interpolant's (spectral) accuracy, not only at
the nodes. First-kind nodes exclude the interval's ends, where the transformed densities of the
model may be singular (tau = infinity).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial import chebyshev as C

#: CDF error below which ``invert`` takes one last Newton step without checking it.
_CLOSE = 1e-7


@dataclass(frozen=True)
class Rule:
    """M first-kind nodes ``x`` on [-1, 1] (ascending), Fejer weights ``w``, the matrix ``values ->
    coefficients`` (``to_coef``, M x M) and ``values -> coefficients of the integral from -1``
    (``to_cdf``, (M + 1) x M)."""

    x: np.ndarray
    w: np.ndarray
    to_coef: np.ndarray
    to_cdf: np.ndarray


@lru_cache(maxsize=32)
def rule(m: int) -> Rule:
    theta = (2 * np.arange(m) + 1) * np.pi / (2 * m)
    theta = theta[::-1]  # ascending nodes
    x = np.cos(theta)
    kk = np.arange(1, m // 2 + 1)
    w = (2.0 / m) * (
        1.0 - 2.0 * np.sum(np.cos(2 * kk[:, None] * theta[None, :]) / (4 * kk[:, None] ** 2 - 1), 0)
    )
    # Discrete cosine transform: f(x_j) = sum_k a_k T_k(x_j) with a_0 halved.
    to_coef = (2.0 / m) * np.cos(np.arange(m)[:, None] * theta[None, :])
    to_coef[0] *= 0.5
    integrate = C.chebint(np.eye(m), lbnd=-1, axis=0)  # (m + 1) x m
    return Rule(x, w, to_coef, integrate @ to_coef)


def evaluate(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_k coef[..., k] T_k(x) with x broadcast against coef[..., 0]; x is clipped to [-1, 1]
    (callers handle the outside themselves).

    The values T_k(x) are built for all k at once by doubling, T_{m + j} = 2 T_m T_j - T_{m - j}
    (the cosine addition formula: stable on [-1, 1], errors ~ k eps like the recurrence's),
    in about log2(K) steps of a few array passes each, with k the leading (contiguous) axis;
    then one contraction with the coefficients. A posterior evaluates small arrays (100 to
    2,000 points) about 20 times, where Clenshaw's K steps of per-call overhead cost 2 to 3
    times more; every point is still computed on its own (same bits alone or in a batch)."""
    x = np.clip(x, -1.0, 1.0)
    terms = coef.shape[-1]
    basis = np.empty((terms, *x.shape))
    basis[0] = 1.0
    if terms > 1:
        basis[1] = x
    m = 1
    while m + 1 < terms:
        j = min(m, terms - 1 - m)
        block = basis[m + 1 : m + j + 1]
        np.multiply(2.0 * basis[m], basis[1 : j + 1], out=block)
        block -= basis[m - j : m][::-1]
        m += j
    return np.einsum("...k,k...->...", coef, basis)


def invert(cdf_pdf, targets, lo, hi, start=None, tol: float = 1e-11):
    """Solve cdf(c) = target for every target at once by Newton's method inside a bisection
    bracket [lo, hi] (arrays of one shape), which it never leaves: it converges for any monotone
    cdf, and quadratically once close. ``cdf_pdf(c)`` returns (cdf, pdf) at c; ``start``, a first
    guess inside the bracket, saves the bisection steps that find the neighbourhood.

    A Newton step taken from within ``_CLOSE`` of the target is accepted without evaluating the
    cdf again: quadratic convergence puts it within C * 1e-14 of the target, C = |cdf''| /
    (2 pdf^2) (about 20 at a normal's 2.5% point), far inside ``tol``. Each target stops on its
    own (its result never depends on the others solved with it)."""
    a = np.array(lo, dtype=float)
    b = np.array(hi, dtype=float)
    c = 0.5 * (a + b) if start is None else np.clip(start, a, b)
    final = np.zeros(c.shape, dtype=bool)
    for _ in range(200):
        f, d = cdf_pdf(c)
        err = f - targets
        a = np.where(err < 0, c, a)
        b = np.where(err > 0, c, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = c - err / d
        good = np.isfinite(step) & (step > a) & (step < b)
        new = np.where(good, step, 0.5 * (a + b))
        done = (np.abs(err) <= tol) | (b - a <= 1e-13 * (1 + np.abs(c)))
        close = good & (np.abs(err) <= _CLOSE) & ~done
        c = np.where(final | done, c, new)
        final |= done | close
        if final.all():
            break
    return c
