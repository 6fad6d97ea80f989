"""Per-study intervals (stsmeta.stats.intervals) against published values and R."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from stsmeta.stats import pool, study_intervals
from stsmeta.stats.intervals import clopper_pearson, jeffreys, wilson

REFERENCE = Path(__file__).parent / "reference" / "metafor_reference.json"


@lru_cache(maxsize=1)
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


# Newcombe 1998 (Stat Med 17:857-872), Table I, 95% limits for the four worked examples:
# method 3 (Wilson score, no continuity correction) and method 5 (Clopper-Pearson "exact").
NEWCOMBE_TABLE_I = [
    # events, n, (Wilson low, high), (Clopper-Pearson low, high)
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0000, 0.1611), (0.0000, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize("x, n, wilson_ci, cp_ci", NEWCOMBE_TABLE_I)
def test_newcombe_1998_table_i(x, n, wilson_ci, cp_ci):
    lo, hi = study_intervals([x], [n], "wilson")
    assert (lo[0], hi[0]) == pytest.approx(wilson_ci, abs=5e-5)
    lo, hi = study_intervals([x], [n], "cp")
    assert (lo[0], hi[0]) == pytest.approx(cp_ci, abs=5e-5)


def test_clopper_pearson_equals_r_binom_test():
    """Every study of every reference dataset, against R's binom.test()$conf.int."""
    checked = 0
    for d in reference()["datasets"]:
        x = np.atleast_1d(d["events"])
        n = np.atleast_1d(d["n"])
        lo, hi = study_intervals(x, n, "cp")
        ref = d["fits"]["study_cp"]
        np.testing.assert_allclose(lo, np.atleast_1d(ref["low"]), rtol=0, atol=1e-9)
        np.testing.assert_allclose(hi, np.atleast_1d(ref["high"]), rtol=0, atol=1e-9)
        checked += x.size
    assert checked > 500


GRID = [(x, n) for n in range(1, 31) for x in range(n + 1)]


def test_wilson_equals_statsmodels():
    x, n = np.array(GRID).T
    lo, hi = wilson(x, n)
    ref_lo, ref_hi = proportion_confint(x, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)


def test_jeffreys_equals_statsmodels_inside_and_is_modified_at_the_ends():
    x, n = np.array(GRID).T
    lo, hi = jeffreys(x, n, 0.9)
    ref_lo, ref_hi = proportion_confint(x, n, alpha=0.1, method="jeffreys")
    inside = (x > 0) & (x < n)
    np.testing.assert_allclose(lo[inside], ref_lo[inside], atol=1e-12)
    np.testing.assert_allclose(hi[inside], ref_hi[inside], atol=1e-12)
    # Brown, Cai & DasGupta (2001): lower limit 0 at x = 0, upper limit 1 at x = n.
    assert np.all(lo[x == 0] == 0) and np.all(hi[x == n] == 1)
    np.testing.assert_allclose(hi[x == 0], ref_hi[x == 0], atol=1e-12)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="study CI method"):
        study_intervals([1], [2], "wald")
    with pytest.raises(ValueError, match="events <= n"):
        study_intervals([3], [2])
    with pytest.raises(ValueError, match="level"):
        study_intervals([1], [2], level=95)


counts = st.integers(min_value=1, max_value=60).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


@settings(max_examples=100, deadline=None)
@given(
    counts, st.sampled_from(["cp", "wilson", "jeffreys"]), st.sampled_from([0.8, 0.9, 0.95, 0.99])
)
def test_interval_contains_the_proportion_and_flips_with_non_events(xn, method, level):
    x, n = xn
    lo, hi = study_intervals([x], [n], method, level)
    assert 0 <= lo[0] <= x / n <= hi[0] <= 1
    lo2, hi2 = study_intervals([n - x], [n], method, level)
    assert lo2[0] == pytest.approx(1 - hi[0], abs=1e-12)
    assert hi2[0] == pytest.approx(1 - lo[0], abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(counts)
def test_clopper_pearson_bounds_rise_with_events(xn):
    x, n = xn
    if x == n:
        return
    lo, hi = clopper_pearson([x, x + 1], [n, n])
    assert lo[1] > lo[0]
    assert hi[1] > hi[0] or hi[1] == hi[0] == 1


def test_common_effect_equals_r_binom_test_on_pooled_counts():
    """method="common" against binom.test(sum(x), sum(n)) for every reference dataset."""
    for d in reference()["datasets"]:
        ref = d["fits"]["common"]
        res = pool(d["events"], d["n"], method="common")
        assert res.estimate == pytest.approx(ref["estimate"], abs=1e-12)
        assert res.ci_low == pytest.approx(ref["ci_low"], abs=1e-9)
        assert res.ci_high == pytest.approx(ref["ci_high"], abs=1e-9)
