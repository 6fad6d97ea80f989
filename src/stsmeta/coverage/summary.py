"""Summaries of the coverage study: per method and grid cell, coverage, median width, bias and
failure rate with their Monte Carlo SEs (Morris, White & Crowther 2019, Stat Med 38:2074-2102),
and the method recommended by the declared rule.

Summaries sort the replicate rows before aggregating, so they are byte-identical for any number
of shards. Pure functions over arrays (no I/O).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from stsmeta.coverage.plan import Cell
from stsmeta.coverage.simulate import Replicates


class RepeatedReplicate(ValueError):
    """A replicate index found twice for one method and cell: blocks of different runs."""


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
            raise RepeatedReplicate(f"{method} at {cell}: a replicate index occurs twice")
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
