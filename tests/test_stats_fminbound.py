"""``stats.fminbound.minimize_bounded`` against SciPy's ``minimize_scalar(method="bounded")``:
the same point and value, bit for bit (it is a transcription; issue 16)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from stsmeta.stats.fminbound import minimize_bounded


def _functions():
    rng = np.random.default_rng(20261130)
    for _ in range(60):
        c, s, q = rng.normal(0, 3), rng.uniform(0.1, 5), rng.uniform(-1, 1)
        yield (lambda x, c=c, s=s, q=q: s * (x - c) ** 2 + q * (x - c) ** 3 / 10), c
    yield (lambda x: math.cos(3 * x) + 0.1 * x * x), 0.0  # several local minima
    yield (lambda x: abs(x - 0.3)), 0.3  # not smooth
    yield (lambda x: x), 0.0  # minimum at the lower bound
    yield (lambda x: -x), 0.0  # at the upper bound
    yield (lambda x: 1.0), 0.0  # flat
    yield (lambda x: -math.log1p(math.exp(-x)) + 0.01 * x * x), 0.0


@pytest.mark.parametrize("xatol", [1e-5, 1e-10])
def test_the_same_point_and_value_as_scipy(xatol):
    checked = 0
    for f, centre in _functions():
        for lo, hi in ((centre - 2.0, centre + 3.0), (0.0, 4.0), (-7.5, -1.0)):
            ref = optimize.minimize_scalar(
                f, bounds=(lo, hi), method="bounded", options={"xatol": xatol}
            )
            x, fun = minimize_bounded(f, lo, hi, xatol=xatol)
            assert (x, fun) == (ref.x, ref.fun), (lo, hi)
            checked += 1
    assert checked == 66 * 3


def test_few_iterations_stop_where_scipy_stops():
    f = lambda x: (x - 1.234) ** 2  # noqa: E731
    ref = optimize.minimize_scalar(f, bounds=(-5, 5), method="bounded", options={"maxiter": 4})
    assert minimize_bounded(f, -5, 5, maxiter=4) == (ref.x, ref.fun)


@pytest.mark.parametrize(("lo", "hi"), [(1.0, 0.0), (0.0, math.inf), (math.nan, 1.0)])
def test_bad_bounds_are_refused(lo, hi):
    with pytest.raises(ValueError):
        minimize_bounded(lambda x: x * x, lo, hi)
