"""The vectorised ivre fits (stsmeta.stats.ivre_batch) against the single path, ivre_values.

The batch follows the single path step by step, so its numbers are expected to be the single
path's to the last bit; the requirement checked here is 1e-12 on the proportion scale (ATOL), on
seeded random datasets with studies at 0% and 100%, all-0% and all-100% datasets, k from 2 to 50,
tau2 at its boundary 0 and every dataset of the shipped design. Rows the batch leaves to the
single path (``followed`` False) must be exactly those it cannot follow, and the coverage fitter
that combines both must report pool()'s numbers and failure reasons.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import optimize

from stsmeta.coverage import study as cov
from stsmeta.stats import ivre_batch
from stsmeta.stats.api import ivre_values
from stsmeta.stats.ivre import CI_METHODS, TRANSFORMS, transform_proportions
from stsmeta.stats.tau2 import TAU2_METHODS, estimate_tau2

ATOL = 1e-12
LEVEL = 0.95
# The shipped design's study sizes (results/coverage/design.json of the shipped studies).
SHIPPED_N = np.array([1, 3, 6, 1, 1, 1])


def random_events(rng, n, rows: int) -> np.ndarray:
    """Binomial-normal datasets (logit sd 0, 0.5 or 2) plus one all-0%, one all-100%, rows with
    one study at 0% and one at 100%, and rows with none at 0% or 100% where every n >= 2."""
    k = n.size
    centre = rng.uniform(-3, 3, size=(rows, 1))
    tau = rng.choice([0.0, 0.5, 2.0], size=(rows, 1))
    p = 1 / (1 + np.exp(-(centre + tau * rng.standard_normal((rows, k)))))
    events = rng.binomial(n, p)
    events[0] = 0
    events[1] = n
    events[2, 0] = 0
    events[3, -1] = n[-1]
    # Rows with every study strictly between 0% and 100% (n >= 2): even raw answers them.
    events[4:8] = rng.integers(1, np.maximum(n, 2), size=(4, k))
    return events


def single(events_row, n, transform, tau2, ci, **cc):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values, notes, _, _ = ivre_values(events_row, n, transform, tau2, ci, "z", LEVEL, **cc)
    return np.array([values["estimate"], values["ci_low"], values["ci_high"]]), notes


def assert_agrees(events, n, transform, tau2, ci, **cc) -> int:
    """Every followed row within ATOL of ivre_values (which has an answer there); returns the
    number of followed rows."""
    batch = ivre_batch.fit_ivre_batch(
        events, n, transform=transform, tau2=tau2, ci=ci, level=LEVEL, **cc
    )
    got = np.stack([batch.estimate, batch.ci_low, batch.ci_high], axis=1)
    for i in range(events.shape[0]):
        want, _ = single(events[i], n, transform, tau2, ci, **cc)
        if batch.followed[i]:
            assert np.all(np.isfinite(want)), (events[i], transform, tau2, ci)
            np.testing.assert_allclose(got[i], want, rtol=0, atol=ATOL, err_msg=str(events[i]))
        else:
            assert np.all(np.isnan(got[i]))
    return int(batch.followed.sum())


@pytest.mark.parametrize("k", [2, 3, 6, 50])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_batch_agrees_with_single_path(k, transform):
    rng = np.random.default_rng(1000 + 7 * k + TRANSFORMS.index(transform))
    n = rng.integers(2, 25, size=k)
    events = random_events(rng, n, 16)
    followed = 0
    for j, tau2 in enumerate(TAU2_METHODS):
        ci = CI_METHODS[j % len(CI_METHODS)]
        followed += assert_agrees(events, n, transform, tau2, ci)
    # The batch answers rows itself (it does not hand everything back): all but PM and EB, and
    # for raw (no continuity correction by default) the datasets without a study at 0% or 100%.
    assert followed >= (16 * 3 if transform != "raw" else 4 * 6)


@pytest.mark.parametrize("ci", CI_METHODS)
@pytest.mark.parametrize(("transform", "tau2"), [("logit", "REML"), ("ft", "DL")])
def test_shipped_methods_on_every_dataset_of_the_shipped_design(transform, tau2, ci):
    events = np.array(list(itertools.product(*(range(v + 1) for v in SHIPPED_N))))
    assert events.shape == (2 * 4 * 7 * 2 * 2 * 2, 6)
    assert assert_agrees(events, SHIPPED_N, transform, tau2, ci) == events.shape[0]


def test_tau2_boundary_and_likelihood_refinement_both_occur():
    # The REML rows of the shipped design include tau2 = 0 and interior maxima refined by brentq;
    # both agree with the single path (test above), and here they are shown to be present.
    events = np.array(list(itertools.product(*(range(v + 1) for v in SHIPPED_N))))
    yi, vi = ivre_batch.transform_batch(events, SHIPPED_N, "logit", 0.5, "only0")
    tau2, followed = ivre_batch.likelihood_max(yi, np.broadcast_to(vi, yi.shape), True)
    assert followed.all()
    single_tau2 = []
    for row in events:
        y1, v1 = transform_proportions(row, SHIPPED_N, "logit")
        single_tau2.append(estimate_tau2(y1, v1, "REML")[0])
    np.testing.assert_allclose(tau2, single_tau2, rtol=0, atol=1e-15)
    assert (tau2 == 0).sum() > 50
    assert (tau2 > 0).sum() > 50


def test_brentq_rows_is_scipy_brentq_row_by_row():
    # Independent of the meta-analysis: cubic and exponential roots from many brackets, each row
    # the very number scipy's scalar brentq returns with the same tolerances.
    rng = np.random.default_rng(5)
    c = rng.uniform(0.01, 50, size=40)
    lo = np.zeros(40)
    hi = c + rng.uniform(0.5, 4, size=40)

    def f(x, rows):
        return np.exp(-x) * (c[rows] - x) + (c[rows] - x) ** 3 / 10

    root, converged = ivre_batch.brentq_rows(f, lo, hi, f(lo, np.arange(40)), f(hi, np.arange(40)))
    assert converged.all()
    for i in range(40):
        want = optimize.brentq(
            lambda x, i=i: np.exp(-x) * (c[i] - x) + (c[i] - x) ** 3 / 10,
            lo[i],
            hi[i],
            xtol=1e-15,
            rtol=4 * np.finfo(float).eps,
            maxiter=500,
        )
        assert root[i] == want


def test_rows_left_to_the_single_path():
    n = np.array([4, 5, 6])
    events = np.array([[0, 2, 3], [1, 2, 3], [4, 5, 6]])
    raw = ivre_batch.fit_ivre_batch(events, n, transform="raw", tau2="DL", ci="z", level=LEVEL)
    # raw has no variance at 0% or 100%: the single path refuses those rows with its reason.
    assert raw.followed.tolist() == [False, True, False]
    pm = ivre_batch.fit_ivre_batch(events, n, transform="logit", tau2="PM", ci="z", level=LEVEL)
    assert not pm.followed.any()
    one = ivre_batch.fit_ivre_batch(
        events[:, :1], n[:1], transform="logit", tau2="DL", ci="z", level=LEVEL
    )
    assert not one.followed.any()


def test_likelihood_scan_in_chunks_gives_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(9)
    n = rng.integers(1, 20, size=12)
    events = random_events(rng, n, 30)
    whole = ivre_batch.fit_ivre_batch(events, n, transform="logit", tau2="ML", ci="t", level=0.9)
    monkeypatch.setattr(ivre_batch, "_CHUNK_ELEMENTS", 301 * 12 * 4)
    chunked = ivre_batch.fit_ivre_batch(events, n, transform="logit", tau2="ML", ci="t", level=0.9)
    for a, b in zip(
        (whole.estimate, whole.ci_low, whole.ci_high),
        (chunked.estimate, chunked.ci_low, chunked.ci_high),
        strict=True,
    ):
        assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize(
    "spec",
    [
        {"method": "ivre", "transform": "logit", "tau2": "REML", "ci": "hk", "pi": "t-k1"},
        {"method": "ivre", "transform": "log", "tau2": "DL", "ci": "z"},
        {"method": "ivre", "transform": "raw", "tau2": "SJ", "ci": "t"},
        {"method": "ivre", "transform": "logit", "tau2": "REML", "cc_add": 0.25, "cc_to": "all"},
        {"method": "ivre", "transform": "ft", "tau2": "ML", "cc_add": 1, "cc_to": "if0all"},
    ],
    ids=lambda s: "-".join(map(str, s.values())),
)
def test_coverage_fitter_reports_pools_numbers_and_reasons(spec):
    # The coverage fitter (batch plus single-path rows) against pool() itself, including the
    # failures of raw at 0% / 100% and a configured continuity correction.
    rng = np.random.default_rng(17)
    n = np.array([2, 3, 3, 8, 1])
    events = random_events(rng, n, 40)
    fast = cov.ivre_fitter(spec, LEVEL)(events, n)
    slow = cov.pool_fitter(spec, LEVEL)(events, n)
    for a, b in zip(fast[:3], slow[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL, equal_nan=True)
    assert fast[3] == slow[3]
    if spec["transform"] == "raw":
        assert any(fast[3])


@pytest.mark.parametrize("tau2", ["REML", "DL", "PM"])
def test_a_rows_numbers_do_not_depend_on_the_other_rows_of_its_call(tau2, monkeypatch):
    # What lets the coverage study give the fitter each cell whole (simulate.per_dataset): every
    # row alone, and the rows in small chunks, give the same bits as all rows in one call.
    spec = {"method": "ivre", "transform": "logit", "tau2": tau2, "ci": "hk"}
    fitter = cov.ivre_fitter(spec, LEVEL)
    assert getattr(fitter, "per_dataset", False)
    rng = np.random.default_rng(23)
    n = rng.integers(1, 15, size=9)
    events = random_events(rng, n, 60)
    together = fitter(events, n)
    alone = [fitter(events[i : i + 1], n) for i in range(events.shape[0])]
    monkeypatch.setattr(ivre_batch, "_CHUNK_ELEMENTS", 8 * 9 * 7)
    chunked = fitter(events, n)
    for column in range(3):
        by_row = np.concatenate([a[column] for a in alone])
        assert np.array_equal(together[column], by_row, equal_nan=True)
        assert np.array_equal(together[column], chunked[column], equal_nan=True)
    assert together[3] == [f for a in alone for f in a[3]] == chunked[3]
