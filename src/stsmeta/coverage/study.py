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

Reproducibility: each replicate has its own random stream, ``SeedSequence(seed, spawn_key=(p, tau,
replicate))`` with p and tau in millionths, so a replicate's data do not depend on how
replicates are split into shards, on the grid's order, or on which other cells exist. Fits are
made in fixed blocks of replicate indices, [FIT_BLOCK * j, FIT_BLOCK * (j + 1)), one fitter call
per block, and shard boundaries fall on block boundaries: a vectorised fit's last bits depend on
which replicates share its batch, and this way they share it with the same replicates whatever
the number of shards, so each replicate's fitted numbers do not depend on sharding either.
Summaries sort the replicate rows before aggregating, so they are byte-identical for any number
of shards.

Everything here is a pure function over arrays (no I/O); the command line lives in
``stsmeta.cli.coverage``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from stsmeta.coverage.plan import (  # noqa: F401 - re-exported: the study's public names
    FIT_BLOCK,
    Cell,
    Settings,
    family_of,
    grid,
    settings_from_config,
)
from stsmeta.errors import InputError, Problem

#: A batch fitter: events (m datasets x k studies) and n (k,) -> estimate, ci_low, ci_high and a
#: failure reason per dataset ("" when the method gave an answer). NaN marks no answer.
Fitter = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]

# Keys of a configured method that describe it rather than being pool() arguments.
_DESCRIPTIVE_KEYS = ("label", "reason")


@dataclass(frozen=True)
class Replicates:
    """The fitted intervals of one method in one cell, for a run of replicate indices."""

    method: str
    cell: Cell
    replicate: np.ndarray  # int, replicate indices
    estimate: np.ndarray  # float, NaN when the method gave no answer
    ci_low: np.ndarray
    ci_high: np.ndarray
    failure: tuple[str, ...]  # "" or the reason the method gave no answer


@dataclass(frozen=True)
class CellSummary:
    """How one method's interval behaved in one grid cell, with Monte Carlo SEs."""

    method: str
    proportion: float
    tau: float
    replicates: int
    answered: int
    failure_rate: float
    failure_rate_mcse: float
    coverage: float
    coverage_mcse: float
    median_width: float
    median_width_mcse: float
    bias: float
    bias_mcse: float
    mean_width: float = math.nan
    mean_width_mcse: float = math.nan


@dataclass(frozen=True)
class MethodVerdict:
    """One method across the whole grid: how far its coverage strays from nominal."""

    method: str
    mean_abs_deviation: float  # mean over cells of |coverage - level|
    min_coverage: float
    max_coverage: float
    max_failure_rate: float
    eligible: bool  # failed no more often than allowed in every cell
    worst_abs_deviation: float = math.nan  # max over cells of |coverage - level|
    mean_width: float = math.nan  # mean over cells of the mean interval width


@dataclass(frozen=True)
class Recommendation:
    """The method whose coverage is closest to nominal among those that (almost) never fail."""

    method: str | None
    level: float
    max_failure_rate: float
    verdicts: tuple[MethodVerdict, ...]
    reason: str


def replicate_seed(seed: int, cell: Cell, replicate: int) -> np.random.SeedSequence:
    """The random stream of one replicate: depends on (seed, cell, replicate index) only."""
    return np.random.SeedSequence(seed, spawn_key=(*cell.key(), int(replicate)))


def shard_replicates(replicates: int, shards: int, shard: int) -> range:
    """Replicate indices of one shard: contiguous runs of whole fitting blocks covering
    0..replicates-1.

    Boundaries fall on multiples of ``FIT_BLOCK`` so that every shard fits the same blocks as a
    single job would (see ``fit_blocks``); shards may therefore be uneven, and empty when there
    are fewer blocks than shards.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    blocks = -(-replicates // FIT_BLOCK)
    start = min(FIT_BLOCK * (blocks * shard // shards), replicates)
    stop = min(FIT_BLOCK * (blocks * (shard + 1) // shards), replicates)
    return range(start, stop)


def fit_blocks(replicates: np.ndarray) -> list[slice]:
    """Positions of ``replicates`` split where the global block index ``r // FIT_BLOCK`` changes.

    A fitter sees one block per call. Sorted, block-aligned runs (what ``shard_replicates``
    gives) are thereby cut into the blocks [FIT_BLOCK * j, FIT_BLOCK * (j + 1)) whatever the
    number of shards, so every replicate has the same batch companions in every sharding.
    """
    block = np.asarray(replicates, dtype=np.int64) // FIT_BLOCK
    cuts = np.flatnonzero(block[1:] != block[:-1]) + 1
    edges = [0, *cuts.tolist(), int(block.size)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def simulate_events(
    n: Sequence[int], cell: Cell, replicates: Iterable[int], seed: int
) -> np.ndarray:
    """Simulated event counts (len(replicates) x k) under the binomial-normal model.

    logit(p_i) = logit(p) + tau * z_i with z_i standard normal, events_i ~ Binomial(n_i, p_i)
    (the data-generating model of Stijnen, Hamza & Ozdemir 2010, Stat Med 29:3046-3067).
    """
    n_arr = np.asarray(n, dtype=np.int64)
    mu = math.log(cell.proportion / (1.0 - cell.proportion))
    rows = []
    for r in replicates:
        rng = np.random.default_rng(replicate_seed(seed, cell, r))
        theta = mu + cell.tau * rng.standard_normal(n_arr.size)
        p_i = 1.0 / (1.0 + np.exp(-theta))
        rows.append(rng.binomial(n_arr, p_i))
    if not rows:
        return np.zeros((0, n_arr.size), dtype=np.int64)
    return np.vstack(rows).astype(np.int64)


def run_shard(
    n: Sequence[int],
    cells: Sequence[Cell],
    fitters: Mapping[str, Fitter],
    replicates: Sequence[int],
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[Replicates]:
    """Fit every method to every replicate of every cell; returns one block per (method, cell).

    Each fitter is called once per fitting block (``fit_blocks``), so its results for a
    replicate depend on the replicate's block alone, not on the other replicates of the shard.

    ``progress(done, total)`` is called after each cell and method with the number of fits so far.
    """
    n_arr = np.asarray(n, dtype=np.int64)
    reps = np.asarray(list(replicates), dtype=np.int64)
    blocks_of_reps = fit_blocks(reps)
    total = len(cells) * len(fitters) * reps.size
    done = 0
    blocks: list[Replicates] = []
    for cell in cells:
        events = simulate_events(n_arr, cell, reps, seed)
        for name in sorted(fitters):
            parts = [fitters[name](events[rows], n_arr) for rows in blocks_of_reps]
            failure = [f for part in parts for f in part[3]]
            blocks.append(
                Replicates(
                    method=name,
                    cell=cell,
                    replicate=reps.copy(),
                    estimate=_joined(parts, 0),
                    ci_low=_joined(parts, 1),
                    ci_high=_joined(parts, 2),
                    failure=tuple(failure),
                )
            )
            done += reps.size
            if progress is not None:
                progress(done, total)
    return blocks


def _joined(parts, column: int) -> np.ndarray:
    """One output column of a fitter's per-block results, joined in replicate order."""
    if not parts:
        return np.zeros(0)
    return np.concatenate([np.asarray(p[column], dtype=float) for p in parts])


def mcse_proportion(rate: float, m: int) -> float:
    """Monte Carlo SE of an estimated rate (coverage, failure): sqrt(rate (1 - rate) / m)."""
    if m <= 0:
        return math.nan
    return math.sqrt(rate * (1.0 - rate) / m)


def mcse_mean(values: np.ndarray) -> float:
    """Monte Carlo SE of a mean (e.g. bias): sample SD / sqrt(m) (Morris et al. 2019, Table 6)."""
    m = values.size
    if m < 2:
        return math.nan
    return float(np.std(values, ddof=1) / math.sqrt(m))


def mcse_median(values: np.ndarray, z: float = 1.959963984540054) -> float:
    """Monte Carlo SE of a median from its distribution-free confidence interval.

    The order statistics at m/2 -/+ z sqrt(m)/2 bound a 95% interval for the median (binomial
    argument; Conover 1999, Practical Nonparametric Statistics, 3.2); their half-distance / z is the
    SE. Free of any assumption about the shape of the width distribution, which is skewed here.
    """
    m = values.size
    if m < 2:
        return math.nan
    ordered = np.sort(values)
    half = z * math.sqrt(m) / 2.0
    lo = max(int(math.floor(m / 2.0 - half)), 0)
    hi = min(int(math.ceil(m / 2.0 + half)), m - 1)
    return float((ordered[hi] - ordered[lo]) / (2.0 * z))


def _answered(block: Replicates) -> np.ndarray:
    ok = np.isfinite(block.estimate) & np.isfinite(block.ci_low) & np.isfinite(block.ci_high)
    return ok & np.array([f == "" for f in block.failure], dtype=bool)


def summarise(blocks: Iterable[Replicates]) -> list[CellSummary]:
    """Per method and cell: coverage, median width, bias and failure rate, each with its MC SE.

    Blocks of the same method and cell (from different shards) are merged and sorted by replicate
    index first, so the result does not depend on how the replicates were sharded. Coverage,
    width and bias are over the replicates that gave an answer; failures are counted separately.
    """
    merged: dict[tuple[str, Cell], list[Replicates]] = {}
    for block in blocks:
        merged.setdefault((block.method, block.cell), []).append(block)
    out = []
    for (method, cell), parts in sorted(
        merged.items(), key=lambda kv: (kv[0][0], kv[0][1].proportion, kv[0][1].tau)
    ):
        rep = np.concatenate([b.replicate for b in parts])
        order = np.argsort(rep, kind="stable")
        if np.unique(rep).size != rep.size:
            raise ValueError(f"{method} at {cell}: a replicate index occurs twice")
        est = np.concatenate([b.estimate for b in parts])[order]
        lo = np.concatenate([b.ci_low for b in parts])[order]
        hi = np.concatenate([b.ci_high for b in parts])[order]
        ok = np.concatenate([_answered(b) for b in parts])[order]
        total = int(rep.size)
        answered = int(ok.sum())
        fail_rate = (total - answered) / total if total else math.nan
        covered = (lo[ok] <= cell.proportion) & (cell.proportion <= hi[ok])
        coverage = float(covered.mean()) if answered else math.nan
        width = hi[ok] - lo[ok]
        error = est[ok] - cell.proportion
        out.append(
            CellSummary(
                method=method,
                proportion=cell.proportion,
                tau=cell.tau,
                replicates=total,
                answered=answered,
                failure_rate=fail_rate,
                failure_rate_mcse=mcse_proportion(fail_rate, total),
                coverage=coverage,
                coverage_mcse=mcse_proportion(coverage, answered),
                median_width=float(np.median(width)) if answered else math.nan,
                median_width_mcse=mcse_median(width),
                bias=float(error.mean()) if answered else math.nan,
                bias_mcse=mcse_mean(error),
                mean_width=float(width.mean()) if answered else math.nan,
                mean_width_mcse=mcse_mean(width),
            )
        )
    return out


#: Worst-cell deviations from nominal that differ by less than this count as a tie (about one
#: Monte Carlo SE of a 95% coverage at 1,000 replicates), broken by the mean interval width.
TIE = 0.005


def recommend(
    summaries: Sequence[CellSummary], level: float, max_failure_rate: float
) -> Recommendation:
    """The declared rule (config ``methods.selection: coverage``; docs/analysis-plan.md): among
    methods failing in at most ``max_failure_rate`` of the replicates of every cell, the one
    whose worst cell's coverage is closest to ``level`` (smallest max |coverage - level|, in
    steps of ``TIE``), ties broken by the smaller mean interval width, then by name.
    """
    by_method: dict[str, list[CellSummary]] = {}
    for s in summaries:
        by_method.setdefault(s.method, []).append(s)
    verdicts = []
    for method in sorted(by_method):
        cells = by_method[method]
        cov = np.array([c.coverage for c in cells], dtype=float)
        widths = np.array([c.mean_width for c in cells], dtype=float)
        fail = max(c.failure_rate for c in cells)
        finite = cov[np.isfinite(cov)]
        complete = finite.size == cov.size
        verdicts.append(
            MethodVerdict(
                method=method,
                mean_abs_deviation=float(np.mean(np.abs(cov - level))) if complete else math.nan,
                min_coverage=float(finite.min()) if finite.size else math.nan,
                max_coverage=float(finite.max()) if finite.size else math.nan,
                max_failure_rate=float(fail),
                eligible=bool(fail <= max_failure_rate and complete),
                worst_abs_deviation=float(np.max(np.abs(cov - level))) if complete else math.nan,
                mean_width=float(np.mean(widths)) if complete else math.nan,
            )
        )
    eligible = [v for v in verdicts if v.eligible]
    if not eligible:
        return Recommendation(
            method=None,
            level=level,
            max_failure_rate=max_failure_rate,
            verdicts=tuple(verdicts),
            reason=(
                f"every method failed to give an answer in more than {max_failure_rate:.1%} "
                "of the replicates of some cell"
            ),
        )

    def rank(v: MethodVerdict):
        return (round(v.worst_abs_deviation / TIE), v.mean_width, v.method)

    best = min(eligible, key=rank)
    tied = [v for v in eligible if v is not best and rank(v)[0] == rank(best)[0]]
    tie_note = (
        f"; tied with {', '.join(v.method for v in tied)} within {TIE} and narrower on average "
        f"(mean width {best.mean_width:.3f})"
        if tied
        else ""
    )
    return Recommendation(
        method=best.method,
        level=level,
        max_failure_rate=max_failure_rate,
        verdicts=tuple(verdicts),
        reason=(
            f"its worst cell's coverage is the closest to the nominal {level:.0%} "
            f"(at most {best.worst_abs_deviation:.3f} away; coverage {best.min_coverage:.3f} to "
            f"{best.max_coverage:.3f} over the grid) among methods failing in at most "
            f"{max_failure_rate:.1%} of replicates in every cell{tie_note}"
        ),
    )


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


def _multiset_key(events_row: np.ndarray, n: np.ndarray) -> bytes:
    """The sorted (events, n) pairs of one dataset, as bytes: equal exactly for datasets that
    differ only in the order of their studies (events and n below 2**31)."""
    pair = (n.astype(np.int64) << 32) + events_row.astype(np.int64)
    return np.sort(pair).tobytes()


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
        from scipy import special

        from stsmeta.stats.distributions import norm_ppf, t_ppf
        from stsmeta.stats.glmm_check import glmm_batch_checked

        k = n.size
        if k == 1:
            return pool_fitter(spec, level)(events, n)
        m = events.shape[0]
        if m == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0), []
        q = 0.5 + level / 2
        crit = float(norm_ppf(q) if ci == "z" else t_ppf(q, k - 1))
        # Each distinct multiset of pairs once, in order of first occurrence (deterministic).
        slot_of: dict[bytes, int] = {}
        slot = np.array(
            [slot_of.setdefault(_multiset_key(events[i], n), len(slot_of)) for i in range(m)]
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
        with np.errstate(all="ignore"):
            return (
                special.expit(mu),
                special.expit(mu - crit * se),
                special.expit(mu + crit * se),
                [reasons[j] for j in slot],
            )

    return fit


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

    return fit


def ivre_fitter(spec: Mapping[str, object], level: float) -> Fitter:
    """``pool(method="ivre")`` one replicate at a time through ``ivre_values``, the part of
    pool() that computes the pooled numbers, so without the per-study rows and intervals that
    cost most at large k; the numbers and reasons are pool()'s own."""
    kwargs = pool_arguments(spec, level)
    transform = str(kwargs.get("transform", "logit"))
    tau2 = str(kwargs.get("tau2", "REML"))
    ci = str(kwargs.get("ci", "z"))
    pi = str(kwargs.get("pi", "z"))
    lvl = float(kwargs["level"])
    check_configuration = _configuration_check(kwargs)

    def fit(events: np.ndarray, n: np.ndarray):
        from stsmeta.stats.api import ivre_values

        m = events.shape[0]
        est = np.full(m, np.nan)
        lo = np.full(m, np.nan)
        hi = np.full(m, np.nan)
        failure = [""] * m
        if m == 0:
            return est, lo, hi, failure
        check_configuration(events[0], n)
        x_all = np.asarray(events, dtype=np.int64)
        n_arr = np.asarray(n, dtype=np.int64)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(m):
                values, notes, _, _ = ivre_values(x_all[i], n_arr, transform, tau2, ci, pi, lvl)
                row = (values["estimate"], values["ci_low"], values["ci_high"])
                if any(not math.isfinite(v) for v in row):
                    failure[i] = short_reason(notes[0] if notes else "not estimable")
                    continue
                est[i], lo[i], hi[i] = row
        return est, lo, hi, failure

    return fit


def fitter_for(spec: Mapping[str, object], level: float) -> Fitter:
    """The fastest fitter that gives what pool() gives for this configured method."""
    method = spec.get("method", "glmm")
    if method == "glmm" and spec.get("ci", "z") in ("z", "t"):
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


def design_from_pooled(doc: Mapping, file: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Study ids and sizes (n) of a pooled result's ``studies`` list: the design to simulate."""
    studies = doc.get("studies") if isinstance(doc, Mapping) else None
    if not isinstance(studies, list) or not studies:
        raise InputError(Problem(file, "studies", "missing or empty: the design needs >= 1 study"))
    ids, sizes, problems = [], [], []
    for i, s in enumerate(studies):
        n = s.get("n") if isinstance(s, Mapping) else None
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            problems.append(Problem(file, f"studies[{i}].n", f"{n!r} is not a whole number >= 1"))
            continue
        ids.append(str(s.get("study", s.get("study_id", f"study {i + 1}"))))
        sizes.append(n)
    if problems:
        raise InputError(problems)
    return tuple(ids), tuple(sizes)
