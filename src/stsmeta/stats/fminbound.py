"""Bounded scalar minimisation: Brent's method (golden section with parabolic interpolation;
Brent 1973, "Algorithms for Minimization without Derivatives", ch. 5; Forsythe, Malcolm & Moler
1977, ``fmin``), transcribed operation for operation from SciPy's
``optimize.minimize_scalar(method="bounded")`` (``_minimize_scalar_bounded``), so that it returns
the very same point and value.

Why not SciPy's: importing ``scipy.optimize`` costs ~0.14 s, and the GLMM profile-likelihood
search, which needs this as a fallback in a few of its inner maximisations, runs in every pooling
job (issue 16). tests/test_stats_fminbound.py checks equality with SciPy's result, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from math import sqrt

import numpy as np

_SQRT_EPS = sqrt(2.2e-16)
_GOLDEN_MEAN = 0.5 * (3.0 - sqrt(5.0))


def minimize_bounded(
    func: Callable[[float], float], lo: float, hi: float, xatol: float = 1e-5, maxiter: int = 500
) -> tuple[float, float]:
    """(x, func(x)) at a local minimum of ``func`` on [lo, hi], as SciPy's bounded method."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("the bounds must be finite")
    if lo > hi:
        raise ValueError("the lower bound exceeds the upper bound")
    a, b = lo, hi
    fulc = a + _GOLDEN_MEAN * (b - a)
    nfc, xf = fulc, fulc
    rat = e = 0.0
    x = xf
    fx = func(x)
    num = 1
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = _SQRT_EPS * np.abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while np.abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = 1
        if np.abs(e) > tol1:  # try a parabolic step
            golden = 0
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = np.abs(q)
            r = e
            e = rat
            if (np.abs(p) < np.abs(0.5 * q * r)) and (p > q * (a - xf)) and (p < q * (b - xf)):
                rat = (p + 0.0) / q
                x = xf + rat
                if ((x - a) < tol2) or ((b - x) < tol2):
                    si = np.sign(xm - xf) + ((xm - xf) == 0)
                    rat = tol1 * si
            else:
                golden = 1
        if golden:  # a golden-section step
            e = a - xf if xf >= xm else b - xf
            rat = _GOLDEN_MEAN * e
        si = np.sign(rat) + (rat == 0)
        x = xf + si * np.maximum(np.abs(rat), tol1)
        fu = func(x)
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if (fu <= fnfc) or (nfc == xf):
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            # == as SciPy compares (`in` would also match a NaN by identity).
            elif (fu <= ffulc) or (fulc == xf) or (fulc == nfc):  # noqa: SIM109
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = _SQRT_EPS * np.abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= maxiter:
            break
    return xf, fx
