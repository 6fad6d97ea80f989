"""A design-matched coverage study: how well does each interval work for this evidence base?

Datasets are simulated with the primary analysis's design (k studies, each with its own n) from the
binomial-normal model that the random-effects methods assume: for a true pooled proportion ``p``
and between-study standard deviation ``tau`` (logit scale), study ``i`` has
``logit(p_i) ~ N(logit(p), tau^2)`` and ``events_i ~ Binomial(n_i, p_i)``. The target of every
interval is ``p`` itself, the proportion at the centre of the distribution (what the GLMM and the
logit model estimate; for tau = 0 every method's target). Every configured method is fitted to every
replicate and, per method and grid cell, we report coverage, median width, bias and the rate of
failures to give an answer, each with its Monte Carlo standard error (Morris, White & Crowther 2019,
"Using simulation studies to evaluate statistical methods", Stat Med 38:2074-2102).

The simulation and its reproducibility are in ``coverage.simulate``, the summaries and the
recommendation in ``coverage.summary``; this module has the fitters of the configured methods.

Everything here is a pure function over arrays (no I/O); the command line lives in
``stsmeta.cli.coverage``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Mapping

import numpy as np

from stsmeta.coverage.plan import (  # noqa: F401 - re-exported: the study's public names
    FIT_BLOCK,
    Cell,
    Settings,
    family_of,
    grid,
    settings_from_config,
)
from stsmeta.coverage.simulate import Fitter, multiset_key, per_dataset

# Keys of a configured method that describe it rather than being pool() arguments.
_DESCRIPTIVE_KEYS = ("label", "reason")


def pool_arguments(spec: Mapping[str, object], level: float) -> dict[str, object]:
    """pool() keyword arguments of a configured method (its label and reason dropped)."""
    kwargs = {k: v for k, v in spec.items() if k not in _DESCRIPTIVE_KEYS}
    # The study judges the pooled estimate's interval only; a prediction interval that cannot be
    # formed (k = 2 with t-k2, say) must not count against a method.
    kwargs.pop("pi", None)
    kwargs["level"] = level
    return kwargs


def pool_fitter(spec: Mapping[str, object], level: float) -> Fitter:
    """A batch fitter that calls ``stsmeta.stats.pool`` with a configured method's arguments.

    pool() answers every valid dataset, with NaN and a warning where an estimate does not exist
    (0% everywhere, say): that is a failure to give an answer, its first warning the reason. An
    exception means a wrong call or a bug, so it stops the study rather than counting as failure.
    """
    kwargs = pool_arguments(spec, level)

    def fit(events: np.ndarray, n: np.ndarray):
        from stsmeta.stats import pool

        m = events.shape[0]
        est = np.full(m, np.nan)
        lo = np.full(m, np.nan)
        hi = np.full(m, np.nan)
        failure = [""] * m
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # Non-convergence on a 0/n or n/n dataset is a result here, not a log line.
            warnings.simplefilter("ignore")
            for i in range(m):
                res = pool(events[i], n, **kwargs)
                values = (res.estimate, res.ci_low, res.ci_high)
                if any(v is None or not math.isfinite(v) for v in values):
                    failure[i] = short_reason(res.warnings[0] if res.warnings else "not estimable")
                    continue
                est[i], lo[i], hi[i] = values
        return est, lo, hi, failure

    return fit


def _wald_crit(ci: str, level: float, k: int) -> float:
    """The critical value of the GLMM's Wald interval: normal for ci "z", t on k - 1 df for "t"."""
    from stsmeta.stats.distributions import norm_ppf, t_ppf

    q = 0.5 + level / 2
    return float(norm_ppf(q) if ci == "z" else t_ppf(q, k - 1))


def _wald_interval(mu: np.ndarray, se: np.ndarray, crit: float):
    """expit of mu and of mu -/+ crit * se (NaN where the fit gave no answer)."""
    from scipy import special

    with np.errstate(all="ignore"):
        return special.expit(mu), special.expit(mu - crit * se), special.expit(mu + crit * se)


def glmm_batch_fitter(spec: Mapping[str, object], level: float) -> Fitter:
    """The configured GLMM fitted by ``stsmeta.stats.glmm_batch``, all replicates of a call at once.

    Gives the estimate and Wald interval that ``pool(method="glmm")`` reports (expit of
    mu -/+ crit * se; crit normal for ci "z", t on k-1 df for "t") without the profile-likelihood
    intervals that pool() also computes and the study does not use. The replicates of one call
    are fitted in one vectorised ``glmm_batch`` (several times faster per replicate than one at a
    time); the last bits of a row's fit depend on which rows share the batch, so ``run_shard``
    calls this once per fixed block of replicate indices (``FIT_BLOCK``), which makes the result
    independent of sharding. Replicates of a call with the same multiset of (events, n) pairs are
    fitted once (with small designs many coincide); nothing is kept between calls, as that would
    make a block's batch depend on which blocks came before it in the shard. One study (k = 1)
    goes through pool(), which treats it apart. tests/test_coverage.py checks that the batched
    numbers agree with pool()'s to within rounding and that the failures are the same.
    """
    kwargs = pool_arguments(spec, level)
    ci = str(kwargs.get("ci", "z"))
    extra = {} if kwargs.get("n_nodes") is None else {"n_nodes": int(kwargs["n_nodes"])}

    def fit(events: np.ndarray, n: np.ndarray):

        from stsmeta.stats.glmm_check import glmm_batch_checked

        k = n.size
        if k == 1:
            return pool_fitter(spec, level)(events, n)
        m = events.shape[0]
        if m == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0), []
        crit = _wald_crit(ci, level, k)
        # Each distinct multiset of pairs once, in order of first occurrence (deterministic).
        slot_of: dict[bytes, int] = {}
        slot = np.array(
            [slot_of.setdefault(multiset_key(events[i], n), len(slot_of)) for i in range(m)]
        )
        first = np.unique(slot, return_index=True)[1]
        distinct = events[first]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # With the nodes checked as pool() checks them (issue 12), so the numbers agree.
            res = glmm_batch_checked(distinct, np.broadcast_to(n, distinct.shape), **extra)[0]
        status = np.asarray(res.status, dtype=object)
        ok = (status == "ok") & np.isfinite(res.mu) & np.isfinite(res.se)
        mu = np.where(ok, res.mu, np.nan)[slot]
        se = np.where(ok, res.se, np.nan)[slot]
        reasons = [
            "" if good else short_reason(str(st)) for good, st in zip(ok, status, strict=True)
        ]
        return (*_wald_interval(mu, se, crit), [reasons[j] for j in slot])

    return fit


# Designs that allow at most this many distinct datasets have their GLMM fitted one dataset at a
# time by pool()'s own fit (glmm_one), each distinct dataset once per process: case reports and
# small series allow few (the shipped design, n = 1, 1, 1, 1, 3, 6: 140), where fitting each once
# beats the vectorised per-block fits (which refit a dataset in every block it appears in,
# ~8,000 fits for those 140) by 10-50x. Above it, where most replicates differ, the vectorised
# path (~0.3 ms a dataset against ~0.4) stays. The choice depends on the design alone, never on
# the sharding, so each replicate's numbers still do not.
SCALAR_GLMM_DESIGNS_MAX = 5000


def possible_datasets(n, cap: int = 10**9) -> int:
    """How many distinct datasets the design allows (at most ``cap``): studies of equal n are
    exchangeable, so a dataset is, per group of c studies of size n, a multiset of c event
    counts from 0..n, of which there are C(n + c, c)."""
    total = 1
    for size, count in sorted(Counter(int(v) for v in np.asarray(n).reshape(-1)).items()):
        total *= math.comb(size + count, count)
        if total > cap:
            return cap
    return total


# GLMM fits by glmm_one, for the life of the process: (nodes, multiset of pairs) -> (mu, se,
# failure reason).
_GLMM_ONE_FITS: dict[tuple[int, bytes], tuple[float, float, str]] = {}


def glmm_one_fitter(spec: Mapping[str, object], level: float) -> Fitter:
    """The configured GLMM's estimate and Wald interval as ``pool(method="glmm")`` computes them
    (``glmm_one.glmm_fit_one``, nodes checked), each distinct dataset fitted once per process.

    glmm_fit_one is a function of the dataset alone (rows arrive canonicalised by
    ``simulate.fit_distinct``), so remembering its fits across blocks and cells changes no bit.
    Unlike the Bayesian fitter, this one does not reflect a dataset's fit into its mirror image's
    (events counted as non-events): the model is symmetric under theta -> -theta, but the fit is
    so only to rounding, and where Newton stopped short it was not at all (n = 2, 40, 40: events
    2, 4, 8 ended at tau2 = 0, their mirror image 0, 32, 36 at tau2 = 0.026, until the fit was
    made to stop only where the score is 0; tests/test_coverage_mirror.py). The study judges the
    method as pool() computes it for each dataset.
    """
    kwargs = pool_arguments(spec, level)
    ci = str(kwargs.get("ci", "z"))
    nodes = int(kwargs["n_nodes"]) if kwargs.get("n_nodes") is not None else None

    def fit(events: np.ndarray, n: np.ndarray):

        from stsmeta.stats.glmm import DEFAULT_NODES
        from stsmeta.stats.glmm_one import glmm_fit_one

        k = n.size
        if k == 1:
            return pool_fitter(spec, level)(events, n)
        m = events.shape[0]
        n_nodes = DEFAULT_NODES if nodes is None else nodes
        crit = _wald_crit(ci, level, k)

        def fitted(row: np.ndarray) -> tuple[float, float, str]:
            key = (n_nodes, multiset_key(row, n))
            known = _GLMM_ONE_FITS.get(key)
            if known is None:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = glmm_fit_one(row, n, n_nodes=n_nodes)[0]
                status, f_mu, f_se = str(res.status[0]), float(res.mu[0]), float(res.se[0])
                good = status == "ok" and math.isfinite(f_mu) and math.isfinite(f_se)
                known = (f_mu, f_se, "") if good else (math.nan, math.nan, short_reason(status))
                _GLMM_ONE_FITS[key] = known
            return known

        mu = np.full(m, np.nan)
        se = np.full(m, np.nan)
        reasons = [""] * m
        for i in range(m):
            mu[i], se[i], reasons[i] = fitted(events[i])
        return (*_wald_interval(mu, se, crit), reasons)

    return per_dataset(fit)


def _configuration_check(kwargs: Mapping[str, object]) -> Callable[[np.ndarray, np.ndarray], None]:
    """Calls pool() on one replicate, so a wrong configuration is refused as pool() would; once
    per design, as fitters are called once per block and pool() costs most at large k."""
    checked: set[bytes] = set()

    def check(events_row: np.ndarray, n: np.ndarray) -> None:
        from stsmeta.stats import pool

        design = np.asarray(n, dtype=np.int64).tobytes()
        if design not in checked:
            pool(events_row, n, **kwargs)
            checked.add(design)

    return check


def common_fitter(spec: Mapping[str, object], level: float) -> Fitter:
    """``pool(method="common")`` over all replicates at once: Clopper-Pearson on each replicate's
    total events out of the total n, the same element-wise computation pool() does one at a time
    (so the same numbers), without pool()'s per-study intervals."""
    kwargs = pool_arguments(spec, level)
    check_configuration = _configuration_check(kwargs)

    def fit(events: np.ndarray, n: np.ndarray):
        from stsmeta.stats.intervals import clopper_pearson

        m = events.shape[0]
        if m == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0), []
        check_configuration(events[0], n)
        total_events = events.astype(np.int64).sum(axis=1)
        total_n = int(np.sum(n))
        low, high = clopper_pearson(total_events, total_n, float(kwargs["level"]))
        est = total_events / total_n
        ok = np.isfinite(est) & np.isfinite(low) & np.isfinite(high)
        failure = ["" if good else short_reason("not estimable") for good in ok]
        nan = np.full(m, np.nan)
        return (
            np.where(ok, est, nan),
            np.where(ok, low, nan),
            np.where(ok, high, nan),
            failure,
        )

    # Clopper-Pearson element by element: a dataset's numbers do not depend on its call.
    return per_dataset(fit)


def ivre_fitter(spec: Mapping[str, object], level: float) -> Fitter:
    """``pool(method="ivre")``'s estimate and CI for all the datasets of a call at once, by
    ``stsmeta.stats.ivre_batch`` (the single path's computation on arrays of datasets x studies);
    the rows it leaves to the single path (data it refuses or treats apart, PM and EB, a
    likelihood search off its usual course, no answer) go one at a time through ``ivre_values``,
    the part of pool() that computes the pooled numbers, so their numbers and reasons are pool()'s
    own. tests/test_stats_ivre_batch.py checks the two paths agree to 1e-12. Both compute each
    dataset row by row, so a dataset's numbers do not depend on its call: ``per_dataset``, each
    cell's distinct datasets in one call."""
    kwargs = pool_arguments(spec, level)
    transform = str(kwargs.get("transform", "logit"))
    tau2 = str(kwargs.get("tau2", "REML"))
    ci = str(kwargs.get("ci", "z"))
    pi = str(kwargs.get("pi", "z"))
    lvl = float(kwargs["level"])
    cc_add = kwargs.get("cc_add")
    cc = {
        "cc_add": None if cc_add is None else float(cc_add),
        "cc_to": kwargs.get("cc_to", "only0"),
    }
    check_configuration = _configuration_check(kwargs)

    def fit(events: np.ndarray, n: np.ndarray):
        from stsmeta.stats.api import ivre_values
        from stsmeta.stats.ivre_batch import fit_ivre_batch

        m = events.shape[0]
        failure = [""] * m
        if m == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0), failure
        check_configuration(events[0], n)
        x_all = np.asarray(events, dtype=np.int64)
        n_arr = np.asarray(n, dtype=np.int64)
        batch = fit_ivre_batch(x_all, n_arr, transform=transform, tau2=tau2, ci=ci, level=lvl, **cc)
        est, lo, hi = batch.estimate.copy(), batch.ci_low.copy(), batch.ci_high.copy()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in np.flatnonzero(~batch.followed).tolist():
                values, notes, _, _ = ivre_values(
                    x_all[i], n_arr, transform, tau2, ci, pi, lvl, **cc
                )
                row = (values["estimate"], values["ci_low"], values["ci_high"])
                if any(not math.isfinite(v) for v in row):
                    failure[i] = short_reason(notes[0] if notes else "not estimable")
                    continue
                est[i], lo[i], hi[i] = row
        return est, lo, hi, failure

    return per_dataset(fit)


def fitter_for(spec: Mapping[str, object], level: float, n=None) -> Fitter:
    """The fastest fitter that gives what pool() gives for this configured method, for the
    design ``n`` when given (see SCALAR_GLMM_DESIGNS_MAX)."""
    method = spec.get("method", "glmm")
    if method == "glmm" and spec.get("ci", "z") in ("z", "t"):
        if n is not None and possible_datasets(n) <= SCALAR_GLMM_DESIGNS_MAX:
            return glmm_one_fitter(spec, level)
        return glmm_batch_fitter(spec, level)
    if method == "common":
        return common_fitter(spec, level)
    if method == "ivre":
        return ivre_fitter(spec, level)
    if method == "bayes":
        from stsmeta.coverage.bayes_fitter import bayes_fitter

        return bayes_fitter(spec, level)
    return pool_fitter(spec, level)


def short_reason(text: str) -> str:
    """The head of a stats warning (up to its first colon or parenthesis), for the shard files."""
    head = text.split(":")[0].split("(")[0].strip()
    return head[:80] or "not estimable"
