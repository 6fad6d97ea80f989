"""Summaries of the coverage study: per method and grid cell, coverage, median width, bias and
failure rate with their Monte Carlo SEs (Morris, White & Crowther 2019, Stat Med 38:2074-2102),
and the method recommended by the declared rule, with how firmly the simulation separates it from
the runner-up (the margin between their worst cells, in Monte Carlo SEs).

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
    # The cell whose |coverage - level| is worst_abs_deviation (of several, the one with the
    # largest coverage MC SE, then the first by proportion and tau), and that coverage's MC SE.
    worst_proportion: float = math.nan
    worst_tau: float = math.nan
    worst_coverage_mcse: float = math.nan


@dataclass(frozen=True)
class Margin:
    """How far the recommended method's worst cell is ahead of the runner-up's: the next eligible
    method by the rule's own ranking. Reporting only: the rule never reads it."""

    runner_up: str
    runner_up_worst_abs_deviation: float
    margin: float  # the runner-up's worst |coverage - level| minus the winner's (< 0 in a tie)
    mcse: float  # its Monte Carlo SE (margin_mcse)
    same_cell: bool  # both worst cells are one grid cell, whose datasets both methods fitted
    tied: bool  # less than TIE further from nominal than the nearest: the mean width decided
    # The runner-up's intervals are narrower on average: it would win a tie by the rule.
    runner_up_narrower: bool = False

    @property
    def in_mcse(self) -> float:
        """The margin in Monte Carlo SEs (NaN when the SE is 0 or unknown)."""
        return self._in_mcse(self.margin)

    @property
    def deciding_margin(self) -> float:
        """The part of the margin that keeps the choice: the rule counts worst cells less than
        ``TIE`` apart as a tie, won by the narrower intervals; when those are the runner-up's, a
        margin shrunk by ``TIE`` would already hand it the choice."""
        return self.margin - TIE if self.runner_up_narrower and not self.tied else self.margin

    @property
    def deciding_in_mcse(self) -> float:
        return self._in_mcse(self.deciding_margin)

    def _in_mcse(self, margin: float) -> float:
        if not (math.isfinite(self.mcse) and self.mcse > 0):
            return math.nan
        return margin / self.mcse

    @property
    def separated(self) -> bool:
        """Whether the deciding margin is at least ``SEPARATION`` Monte Carlo SEs. An SE of 0
        (both worst cells at coverage 0 or 1, as every cell is with one replicate) measures no
        precision, so it separates nothing (it used to separate any positive margin)."""
        return bool(self.deciding_in_mcse >= SEPARATION)


@dataclass(frozen=True)
class Recommendation:
    """The method whose coverage is closest to nominal among those that (almost) never fail."""

    method: str | None
    level: float
    max_failure_rate: float
    verdicts: tuple[MethodVerdict, ...]
    reason: str
    margin: Margin | None = None  # None without a recommended method or without a runner-up


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

#: A recommended method ahead of its runner-up by fewer Monte Carlo SEs than this is reported as
#: not clearly separated from it by the simulation's precision: about the 1.96 of a two-sided 95%
#: interval, so a margin of at least 2 MC SEs is one whose Monte Carlo interval excludes zero.
#: The report says it in words; the rule does not read it (docs/analysis-plan.md).
SEPARATION = 2.0


def worst_cell(cells: Sequence[CellSummary], level: float) -> CellSummary:
    """The cell whose coverage is farthest from ``level``; of equally far cells, the one with the
    largest coverage MC SE (the least precise, so that a margin's SE is not understated), then the
    first by proportion and tau. Cells with no coverage are skipped (there must be one with)."""
    finite = [c for c in cells if math.isfinite(c.coverage)]
    return min(
        finite,
        key=lambda c: (-abs(c.coverage - level), -c.coverage_mcse, c.proportion, c.tau),
    )


def margin_mcse(winner: MethodVerdict, runner_up: MethodVerdict) -> tuple[float, bool]:
    """(Monte Carlo SE of the margin between two methods' worst deviations, same cell or not).

    Each worst deviation is taken as its worst cell's |coverage - level| with that cell fixed, so
    its SE is that cell's coverage MC SE (sqrt(c (1 - c) / answered)). This ignores that with
    another seed another cell might be the worst (the maximum over cells of noisy coverages lies a
    little farther from nominal than the worst true coverage, for both methods alike); Morris,
    White & Crowther (2019) give no closed form for the SE of a maximum over cells.

    - Different cells: their datasets are independent (every replicate has its own random
      stream, keyed by its cell: ``simulate.replicate_seed``), so the SE is sqrt(a^2 + b^2),
      exact up to the fixed-cell approximation.
    - The same cell: every method is fitted to the same datasets, so the two coverages are
      correlated, by an amount the summaries do not record. Datasets hard for one method tend
      to be hard for another (positive correlation), which would make sqrt(a^2 + b^2) too large
      when both coverages lie on the same side of nominal but too small when they lie on
      opposite sides (the deviations then move in opposite directions). The SE is therefore
      a + b, the largest any correlation allows (Cauchy-Schwarz): never too small, at the cost
      of calling some clear margins unclear.
    """
    same = (winner.worst_proportion, winner.worst_tau) == (
        runner_up.worst_proportion,
        runner_up.worst_tau,
    )
    a, b = winner.worst_coverage_mcse, runner_up.worst_coverage_mcse
    return (a + b if same else math.hypot(a, b)), same


def _span(values: Sequence[float]) -> str:
    """A grid axis as words: its one value, or its first to last."""
    return f"{values[0]:g}" if len(values) == 1 else f"{values[0]:g} to {values[-1]:g}"


def recommend(
    summaries: Sequence[CellSummary], level: float, max_failure_rate: float
) -> Recommendation:
    """The declared rule (config ``methods.selection: coverage``; docs/analysis-plan.md): among
    methods failing in at most ``max_failure_rate`` of the replicates of every cell, the one
    whose worst cell's coverage is closest to ``level`` (smallest max |coverage - level|);
    methods whose worst cells are less than ``TIE`` further from it than that smallest are tied
    with it, and a tie goes to the smaller mean interval width, then to the name.

    The recommendation also records the runner-up (the rule's choice among the other eligible
    methods)
    and the margin between the two worst cells with its Monte Carlo SE (``Margin``,
    ``margin_mcse``), so that the report can say how firmly the simulation separates the choice;
    they never change it.
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
        worst = worst_cell(cells, level) if complete else None
        verdicts.append(
            MethodVerdict(
                method=method,
                mean_abs_deviation=float(np.mean(np.abs(cov - level))) if complete else math.nan,
                min_coverage=float(finite.min()) if finite.size else math.nan,
                max_coverage=float(finite.max()) if finite.size else math.nan,
                max_failure_rate=float(fail),
                eligible=bool(fail <= max_failure_rate and complete),
                worst_abs_deviation=abs(worst.coverage - level) if worst else math.nan,
                mean_width=float(np.mean(widths)) if complete else math.nan,
                worst_proportion=worst.proportion if worst else math.nan,
                worst_tau=worst.tau if worst else math.nan,
                worst_coverage_mcse=worst.coverage_mcse if worst else math.nan,
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

    ranked = _ranked(eligible)
    best = ranked[0]
    nearest = min(v.worst_abs_deviation for v in eligible)
    # The claim holds over the grid only: its bounds go with it wherever the reason is printed.
    props = sorted({s.proportion for s in summaries})
    taus = sorted({s.tau for s in summaries})
    grid = f"true proportion {_span(props)}, τ {_span(taus)}"
    tied = [v for v in ranked[1:] if _within_tie(v.worst_abs_deviation, nearest)]
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
            f"{best.max_coverage:.3f} over the grid of {grid}) among methods failing in at most "
            f"{max_failure_rate:.1%} of replicates in every cell{tie_note}"
        ),
        margin=_margin(best, ranked[1], tied=_within_tie(ranked[1].worst_abs_deviation, nearest))
        if len(ranked) > 1
        else None,
    )


def _within_tie(deviation: float, nearest: float) -> bool:
    """Less than ``TIE`` further from nominal than the nearest (rounded: coverages are counts
    over replicates, and 0.040 - 0.035 must not fall a hair below 0.005)."""
    return round(deviation - nearest, 12) < TIE


def _ranked(eligible: Sequence[MethodVerdict]) -> list[MethodVerdict]:
    """The eligible methods in the order the rule picks them: its choice, then its choice among
    the rest, and so on (a tie is relative to the nearest worst cell of those left)."""
    rest = list(eligible)
    order = []
    while rest:
        nearest = min(v.worst_abs_deviation for v in rest)
        tied = [v for v in rest if _within_tie(v.worst_abs_deviation, nearest)]
        pick = min(tied, key=lambda v: (v.mean_width, v.method))
        order.append(pick)
        rest.remove(pick)
    return order


def _margin(best: MethodVerdict, runner_up: MethodVerdict, tied: bool) -> Margin:
    se, same = margin_mcse(best, runner_up)
    return Margin(
        runner_up=runner_up.method,
        runner_up_worst_abs_deviation=runner_up.worst_abs_deviation,
        margin=runner_up.worst_abs_deviation - best.worst_abs_deviation,
        mcse=se,
        same_cell=same,
        tied=tied,
        runner_up_narrower=runner_up.mean_width < best.mean_width,
    )
