"""pool(): edge cases, the JSON form, and properties that must hold for any data.

All data here are synthetic.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special, stats

from stsmeta.stats import PoolResult, pool
from stsmeta.stats.intervals import clopper_pearson

JSON_KEYS = {
    "settings",
    "k",
    "events",
    "n",
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
    "warnings",
    "studies",
}
STUDY_KEYS = {"study", "events", "n", "proportion", "ci_low", "ci_high", "weight"}


def _json(res: PoolResult) -> dict:
    text = json.dumps(res.to_dict(), sort_keys=True, allow_nan=False)  # NaN would raise
    return json.loads(text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "glmm"},
        {"method": "glmm", "ci": "t", "pi": "t-k2"},
        {"method": "ivre", "transform": "ft", "tau2": "DL", "ci": "hk", "pi": "t-k1"},
        {"method": "common"},
    ],
)
def test_json_has_the_contract_keys_and_no_nan(kwargs):
    out = _json(pool([3, 1, 5, 2], [6, 4, 8, 7], studies=["a", "b", "c", "d"], **kwargs))
    assert set(out) >= JSON_KEYS
    for key in ("method", "ci", "pi", "level", "study_ci", "description", "tau2", "transform"):
        assert key in out["settings"]
    assert [s["study"] for s in out["studies"]] == ["a", "b", "c", "d"]
    for s in out["studies"]:
        assert set(s) == STUDY_KEYS
    if kwargs["method"] == "ivre":
        assert sum(s["weight"] for s in out["studies"]) == pytest.approx(100)
    else:
        assert all(s["weight"] is None for s in out["studies"])


def test_output_is_deterministic():
    a = json.dumps(pool([3, 1, 5, 2], [6, 4, 8, 7]).to_dict(), sort_keys=True)
    b = json.dumps(pool([3, 1, 5, 2], [6, 4, 8, 7]).to_dict(), sort_keys=True)
    assert a == b


def test_description_names_the_method():
    res = pool([3, 4], [5, 6], method="glmm", ci="z", pi="t-k1")
    assert res.settings["description"].startswith(
        "Binomial-normal GLMM (ML, adaptive Gauss-Hermite quadrature, nodes checked by doubling), "
        "Wald z CI, t(k-1) PI"
    )


@pytest.mark.parametrize(
    "events, n, full", [([3, 1, 5, 2], [3, 1, 5, 2], True), ([0, 0, 0], [4, 2, 7], False)]
)
def test_every_study_100_or_0_percent(events, n, full):
    res = pool(events, n, method="glmm")
    out = _json(res)
    assert out["estimate"] is None and out["ci_low"] is None and out["pi_low"] is None
    assert ("plus infinity" if full else "minus infinity") in out["warnings"][0]
    assert "does not exist" in out["warnings"][0]
    common = pool(events, n, method="common")
    lo, hi = clopper_pearson(sum(events), sum(n))
    assert (common.ci_low, common.ci_high) == pytest.approx((float(lo), float(hi)))
    assert common.estimate == (1.0 if full else 0.0)
    # A one-sided exact bound: (alpha/2)^(1/N) for 100% (Clopper & Pearson 1934).
    if full:
        assert common.ci_low == pytest.approx(0.025 ** (1 / sum(n)))
        assert common.ci_high == 1.0
    else:
        assert common.ci_low == 0.0


def test_mixed_0_and_100_percent_series_have_no_glmm_estimate():
    res = pool([0, 3, 0, 2], [3, 3, 2, 2], method="glmm")
    assert math.isnan(res.estimate)
    assert "tau2 is infinite" in res.warnings[0]
    assert not math.isnan(pool([0, 3, 0, 2], [3, 3, 2, 2], method="ivre").estimate)


def test_every_study_n_1():
    """Issue 12 defect 6: with every n = 1 tau2 is not identifiable, so no tau2, I2, H2 or
    PI is printed (null), only the mean proportion with a warning that says why."""
    res = pool([1, 0, 1, 1], [1, 1, 1, 1], method="glmm")
    assert res.estimate == pytest.approx(0.75)
    for name in ("tau2", "i2", "h2", "pi_low", "pi_high", "tau2_ci_high", "i2_ci_high"):
        assert math.isnan(getattr(res, name)), name
    assert "not identifiable" in res.warnings[0]
    out = res.to_dict()
    assert out["tau2"] is None and out["i2"] is None and out["pi_low"] is None


def test_k_1_glmm_is_the_single_study_logit_wald_interval():
    res = pool([2], [5], method="glmm")
    se = math.sqrt(1 / 2 + 1 / 3)
    z = stats.norm.ppf(0.975)
    assert res.estimate == pytest.approx(0.4)
    assert (res.ci_low, res.ci_high) == pytest.approx(
        special.expit(special.logit(0.4) + np.array([-z, z]) * se)
    )
    assert math.isnan(res.tau2) and math.isnan(res.pi_low)
    assert "k = 1" in res.warnings[-1]
    out = _json(pool([0], [5], method="glmm"))
    assert out["estimate"] is None and "minus infinity" in out["warnings"][0]


def test_k_1_ivre_and_common():
    res = pool([2], [5], method="ivre", transform="logit")
    z = stats.norm.ppf(0.975)
    se = math.sqrt(1 / 2 + 1 / 3)
    assert (res.ci_low, res.ci_high) == pytest.approx(
        special.expit(special.logit(0.4) + np.array([-z, z]) * se)
    )
    assert any("k = 1" in w for w in res.warnings)
    res = pool([2], [5], method="ivre", ci="hk")
    assert math.isnan(res.ci_low) and any("k >= 2" in w for w in res.warnings)
    res = pool([2], [5], method="common")
    assert (res.ci_low, res.ci_high) == pytest.approx(tuple(map(float, clopper_pearson(2, 5))))


def test_prediction_interval_kinds():
    args = ([3, 6, 1, 5, 2], [8, 7, 6, 9, 3])
    z = pool(*args, pi="z")
    t1 = pool(*args, pi="t-k1")
    t2 = pool(*args, pi="t-k2")
    assert z.pi_low > t1.pi_low > t2.pi_low
    half = stats.t.ppf(0.975, 3) * math.sqrt(t2.se**2 + t2.tau2)
    assert t2.pi_low == pytest.approx(special.expit(t2.mu - half))
    res = pool([3, 4], [5, 6], pi="t-k2")
    assert math.isnan(res.pi_low) and any("t(k-2)" in w for w in res.warnings)


def test_raw_scale_with_0_or_100_percent_is_refused_with_a_reason():
    res = pool([0, 3], [4, 5], method="ivre", transform="raw")
    assert math.isnan(res.estimate)
    assert "zero sampling variance" in res.warnings[0]


def test_tau2_on_the_boundary_is_reported():
    res = pool([5, 10, 15], [10, 20, 30], method="ivre", tau2="DL")
    assert res.tau2 == 0.0 and "boundary" in res.warnings[0]


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(events=[3], n=[2]), "events <= n"),
        (dict(events=[1.5], n=[2]), "whole numbers"),
        (dict(events=[-1], n=[2]), "events <= n"),
        (dict(events=[], n=[]), "at least one"),
        # Text and booleans passed as counts through astype(float) (an engine audit).
        (dict(events=["1"], n=[2]), "events must be whole numbers, not text"),
        (dict(events=[True], n=[1]), "events must be whole numbers, not booleans"),
        (dict(events=[1], n=["2"]), "n must be whole numbers, not text"),
        (dict(events=[True, 2], n=[3, 3]), "events must be whole numbers, not booleans"),
    ],
)
def test_bad_counts_raise(bad, message):
    with pytest.raises(ValueError, match=message):
        pool(bad["events"], bad["n"])


def test_bad_options_raise():
    with pytest.raises(ValueError, match="ci for method glmm"):
        pool([1, 2], [3, 4], ci="hk")
    with pytest.raises(ValueError, match="method"):
        pool([1, 2], [3, 4], method="mcmc")


series = st.lists(
    st.integers(min_value=1, max_value=10).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    ),
    min_size=2,
    max_size=6,
)
methods = st.sampled_from(
    [
        {"method": "glmm"},
        {"method": "common"},
        {"method": "ivre", "transform": "logit", "tau2": "REML"},
        {"method": "ivre", "transform": "ft", "tau2": "DL", "ci": "hk", "pi": "t-k1"},
        {"method": "ivre", "transform": "arcsine", "tau2": "PM", "ci": "t", "pi": "t-k1"},
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series, methods)
def test_ci_contains_the_estimate_and_order_does_not_matter(data, kwargs):
    x, n = map(list, zip(*data, strict=True))
    res = pool(x, n, profile=False, **kwargs)
    if math.isnan(res.estimate):
        assert res.warnings
        return
    assert res.ci_low <= res.estimate <= res.ci_high
    if not math.isnan(res.pi_low):
        assert res.pi_low <= res.ci_low + 1e-12 and res.ci_high <= res.pi_high + 1e-12
    perm = np.random.default_rng(len(x)).permutation(len(x))
    other = pool([x[i] for i in perm], [n[i] for i in perm], profile=False, **kwargs)
    for name in ("estimate", "ci_low", "ci_high", "tau2"):
        assert getattr(other, name) == pytest.approx(getattr(res, name), abs=1e-7, nan_ok=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    series,
    st.sampled_from(
        [
            {"method": "glmm"},
            {"method": "common"},
            {"method": "ivre", "transform": "logit", "tau2": "ML"},
            {"method": "ivre", "transform": "arcsine", "tau2": "REML"},
        ]
    ),
)
def test_swapping_events_and_non_events_gives_one_minus_p(data, kwargs):
    # (The Freeman-Tukey back-transform is not symmetric in this sense, so it is left out.)
    x, n = map(list, zip(*data, strict=True))
    a = pool(x, n, profile=False, **kwargs)
    b = pool([m - e for e, m in zip(x, n, strict=True)], n, profile=False, **kwargs)
    assert b.estimate == pytest.approx(1 - a.estimate, abs=1e-7, nan_ok=True)
    assert b.ci_low == pytest.approx(1 - a.ci_high, abs=1e-7, nan_ok=True)
    assert b.ci_high == pytest.approx(1 - a.ci_low, abs=1e-7, nan_ok=True)


def test_profile_interval_reaching_the_edge_of_the_scale_says_so():
    # Mostly 100% series: the profile likelihood never falls by chi2_1(0.95) as p -> 1.
    res = pool([4, 3, 6, 1, 2], [4, 3, 6, 2, 2], method="glmm")
    assert res.profile_ci_high == 1.0
    assert res.profile_ci_low < res.estimate
    assert "extends to 1" in " ".join(res.warnings)


@pytest.mark.parametrize("method", ["glmm", "ivre", "common"])
def test_study_rows_and_their_json_are_the_per_study_numbers(method):
    # SYNTHETIC counts; the rows are built from whole arrays and written out field by field, so
    # check them against the element-by-element definitions and the generic JSON cleaning.
    from dataclasses import fields

    from stsmeta.stats import results
    from stsmeta.stats.intervals import study_intervals

    x = np.array([0, 3, 5, 2, 7])
    n = np.array([4, 3, 9, 2, 12])
    res = pool(x, n, method=method, studies=list("abcde"))
    low, high = study_intervals(x, n)
    for i, row in enumerate(res.studies):
        assert row.study == "abcde"[i]
        assert (row.events, row.n) == (int(x[i]), int(n[i]))
        assert row.proportion == float(x[i] / n[i])
        assert (row.ci_low, row.ci_high) == (float(low[i]), float(high[i]))
        assert (row.weight is None) == (method != "ivre")
        generic = results.json_ready({f.name: getattr(row, f.name) for f in fields(row)})
        assert row.to_dict() == generic
        assert json.dumps(row.to_dict()) == json.dumps(generic)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "glmm", "profile": False},
        {"method": "ivre", "transform": "logit", "tau2": "REML", "ci": "hk"},
        {"method": "ivre", "transform": "ft", "tau2": "DL"},
        {"method": "common"},
    ],
)
def test_pooled_numbers_do_not_depend_on_study_results(kwargs):
    # Leave-one-out and cumulative steps ask for the pooled numbers only.
    events, n = [4, 1, 3, 0, 7, 2], [5, 1, 6, 3, 9, 2]
    full = pool(events, n, **kwargs).to_dict()
    bare = pool(events, n, study_results=False, **kwargs).to_dict()
    assert len(full["studies"]) == 6 and bare["studies"] == []
    full.pop("studies")
    bare.pop("studies")
    assert json.dumps(bare, sort_keys=True) == json.dumps(full, sort_keys=True)


@pytest.mark.parametrize("bad", [["0.5"], [True]])
def test_a_threshold_must_be_a_number(bad):
    with pytest.raises(ValueError, match="must be a number"):
        pool([1, 2], [3, 4], method="bayes", thresholds=bad)
