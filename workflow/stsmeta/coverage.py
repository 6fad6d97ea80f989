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
replicates are split into shards, on the grid's order, or on which other cells exist. Summaries
sort the replicate rows before aggregating, so they are byte-identical for any number of shards.

Everything here is a pure function over arrays (no I/O); the command line lives in
``stsmeta.cli.coverage``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from stsmeta.errors import InputError, Problem

#: A batch fitter: events (m datasets x k studies) and n (k,) -> estimate, ci_low, ci_high and a
#: failure reason per dataset ("" when the method gave an answer). NaN marks no answer.
Fitter = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]

# Keys of a configured method that describe it rather than being pool() arguments.
_DESCRIPTIVE_KEYS = ("label", "reason")

_MILLIONTHS = 1_000_000


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a true pooled proportion and a between-study tau (logit scale)."""

    proportion: float
    tau: float

    def key(self) -> tuple[int, int]:
        """The cell's part of every replicate's spawn key (values in millionths)."""
        return (round(self.proportion * _MILLIONTHS), round(self.tau * _MILLIONTHS))


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


@dataclass(frozen=True)
class MethodVerdict:
    """One method across the whole grid: how far its coverage strays from nominal."""

    method: str
    mean_abs_deviation: float  # mean over cells of |coverage - level|
    min_coverage: float
    max_coverage: float
    max_failure_rate: float
    eligible: bool  # failed no more often than allowed in every cell


@dataclass(frozen=True)
class Recommendation:
    """The method whose coverage is closest to nominal among those that (almost) never fail."""

    method: str | None
    level: float
    max_failure_rate: float
    verdicts: tuple[MethodVerdict, ...]
    reason: str


def grid(proportions: Iterable[float], taus: Iterable[float]) -> tuple[Cell, ...]:
    """Every (proportion, tau) pair, sorted, as cells."""
    return tuple(Cell(float(p), float(t)) for p in sorted(proportions) for t in sorted(taus))


def replicate_seed(seed: int, cell: Cell, replicate: int) -> np.random.SeedSequence:
    """The random stream of one replicate: depends on (seed, cell, replicate index) only."""
    return np.random.SeedSequence(seed, spawn_key=(*cell.key(), int(replicate)))


def shard_replicates(replicates: int, shards: int, shard: int) -> range:
    """Replicate indices of one shard: contiguous, near-equal blocks covering 0..replicates-1."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    start = replicates * shard // shards
    stop = replicates * (shard + 1) // shards
    return range(start, stop)


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

    ``progress(done, total)`` is called after each cell and method with the number of fits so far.
    """
    n_arr = np.asarray(n, dtype=np.int64)
    reps = np.asarray(list(replicates), dtype=np.int64)
    total = len(cells) * len(fitters) * reps.size
    done = 0
    blocks: list[Replicates] = []
    for cell in cells:
        events = simulate_events(n_arr, cell, reps, seed)
        for name in sorted(fitters):
            est, lo, hi, failure = fitters[name](events, n_arr)
            blocks.append(
                Replicates(
                    method=name,
                    cell=cell,
                    replicate=reps.copy(),
                    estimate=np.asarray(est, dtype=float),
                    ci_low=np.asarray(lo, dtype=float),
                    ci_high=np.asarray(hi, dtype=float),
                    failure=tuple(failure),
                )
            )
            done += reps.size
            if progress is not None:
                progress(done, total)
    return blocks


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
            )
        )
    return out


def recommend(
    summaries: Sequence[CellSummary], level: float, max_failure_rate: float
) -> Recommendation:
    """Pick the method whose coverage is closest to nominal, among those that do not fail.

    A method is eligible when its failure rate is at most ``max_failure_rate`` in every cell;
    eligible methods are ranked by mean absolute deviation of coverage from ``level`` over the
    grid, then by their worst cell's coverage (higher is better), then by name.
    """
    by_method: dict[str, list[CellSummary]] = {}
    for s in summaries:
        by_method.setdefault(s.method, []).append(s)
    verdicts = []
    for method in sorted(by_method):
        cells = by_method[method]
        cov = np.array([c.coverage for c in cells], dtype=float)
        fail = max(c.failure_rate for c in cells)
        finite = cov[np.isfinite(cov)]
        verdicts.append(
            MethodVerdict(
                method=method,
                mean_abs_deviation=float(np.mean(np.abs(cov - level)))
                if finite.size == cov.size
                else math.nan,
                min_coverage=float(finite.min()) if finite.size else math.nan,
                max_coverage=float(finite.max()) if finite.size else math.nan,
                max_failure_rate=float(fail),
                eligible=bool(fail <= max_failure_rate and finite.size == cov.size),
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
    best = min(eligible, key=lambda v: (v.mean_abs_deviation, -v.min_coverage, v.method))
    return Recommendation(
        method=best.method,
        level=level,
        max_failure_rate=max_failure_rate,
        verdicts=tuple(verdicts),
        reason=(
            f"coverage closest to the nominal {level:.0%} (mean absolute deviation "
            f"{best.mean_abs_deviation:.3f} over the grid; worst cell {best.min_coverage:.3f}) "
            f"among methods failing in at most {max_failure_rate:.1%} of replicates in every cell"
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


def glmm_batch_fitter(spec: Mapping[str, object], level: float) -> Fitter:
    """The configured GLMM fitted by ``stsmeta.stats.glmm_batch``, one replicate per call.

    Gives the estimate and Wald interval that ``pool(method="glmm")`` reports (expit of
    mu -/+ crit * se; crit normal for ci "z", t on k-1 df for "t") without the profile-likelihood
    intervals that pool() also computes and the study does not use (about 150 times faster).
    Each replicate is fitted on its own: a vectorised fit's last bits depend on which rows share
    the batch, and a replicate's result must not depend on how replicates were sharded.
    One study (k = 1) goes through pool(), which treats it apart. tests/test_coverage.py checks
    that both paths agree.
    """
    kwargs = pool_arguments(spec, level)
    ci = str(kwargs.get("ci", "z"))
    extra = {} if kwargs.get("n_nodes") is None else {"n_nodes": int(kwargs["n_nodes"])}

    def fit(events: np.ndarray, n: np.ndarray):
        from scipy import special, stats

        from stsmeta.stats import glmm_batch

        k = n.size
        if k == 1:
            return pool_fitter(spec, level)(events, n)
        q = 0.5 + level / 2
        crit = float(stats.norm.ppf(q) if ci == "z" else stats.t.ppf(q, k - 1))
        m = events.shape[0]
        mu = np.full(m, np.nan)
        se = np.full(m, np.nan)
        failure = [""] * m
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(m):
                res = glmm_batch(events[i : i + 1], n[None, :], **extra)
                status = str(res.status[0])
                if status != "ok" or not (np.isfinite(res.mu[0]) and np.isfinite(res.se[0])):
                    failure[i] = short_reason(status)
                    continue
                mu[i], se[i] = res.mu[0], res.se[0]
        return (
            special.expit(mu),
            special.expit(mu - crit * se),
            special.expit(mu + crit * se),
            failure,
        )

    return fit


def fitter_for(spec: Mapping[str, object], level: float) -> Fitter:
    """The fastest fitter that gives what pool() gives for this configured method."""
    if spec.get("method", "glmm") == "glmm" and spec.get("ci", "z") in ("z", "t"):
        return glmm_batch_fitter(spec, level)
    return pool_fitter(spec, level)


def short_reason(text: str) -> str:
    """The head of a stats warning (up to its first colon or parenthesis), for the shard files."""
    head = text.split(":")[0].split("(")[0].strip()
    return head[:80] or "not estimable"


def family_of(spec: Mapping[str, object]) -> str:
    """The method family of a configured method (its pool() ``method``): one job per family."""
    return str(spec.get("method", "glmm"))


# --- The study's settings and design, read from already-parsed documents -----------------------


@dataclass(frozen=True)
class Settings:
    """The ``coverage`` section of config.yaml, with the methods it fits resolved."""

    outcome: str
    scenario: str
    proportions: tuple[float, ...]
    taus: tuple[float, ...]
    replicates: int
    shards: int
    seed: int
    level: float
    max_failure_rate: float
    methods: tuple[tuple[str, dict], ...]  # (name, configured spec), sorted by name

    def cells(self) -> tuple[Cell, ...]:
        return grid(self.proportions, self.taus)

    def families(self) -> tuple[str, ...]:
        return tuple(sorted({family_of(spec) for _, spec in self.methods}))

    def methods_of(self, family: str) -> dict[str, dict]:
        return {name: spec for name, spec in self.methods if family_of(spec) == family}

    def fingerprint(self, family: str | None = None) -> str:
        """What a job reads of these settings (``family`` None: every method), as canonical JSON.

        For the Snakefile's ``params``: a shard reruns when this changes, not on other edits.
        """
        return json.dumps(
            {
                "grid": [list(self.proportions), list(self.taus)],
                "replicates": self.replicates,
                "shards": self.shards,
                "seed": self.seed,
                "level": self.level,
                "methods": dict(self.methods) if family is None else self.methods_of(family),
            },
            sort_keys=True,
        )


def _number_list(value, file, field, low, high, open_low, open_high, problems):
    if not isinstance(value, list) or not value:
        problems.append(Problem(file, field, "must be a non-empty list of numbers"))
        return ()
    out = []
    for i, v in enumerate(value):
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if ok:
            ok = (v > low if open_low else v >= low) and (v < high if open_high else v <= high)
        if not ok:
            lo_b = "(" if open_low else "["
            hi_b = ")" if open_high else "]"
            problems.append(
                Problem(
                    file, f"{field}[{i}]", f"{v!r} is not a number in {lo_b}{low}, {high}{hi_b}"
                )
            )
        else:
            out.append(float(v))
    if len(set(out)) != len(out):
        problems.append(Problem(file, field, "has repeated values; each must occur once"))
    return tuple(out)


def _positive_int(value, file, field, problems, minimum=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.append(Problem(file, field, f"{value!r} is not a whole number >= {minimum}"))
        return minimum
    return value


def settings_from_config(config: Mapping, file: str = "config.yaml") -> Settings:
    """The coverage settings of a parsed config.yaml; every problem names its field.

    Raises ``InputError`` listing each problem as ``file: field: what is wrong and allowed``.
    """
    problems: list[Problem] = []
    section = config.get("coverage")
    if not isinstance(section, Mapping):
        raise InputError(Problem(file, "coverage", "missing: add the coverage section"))
    known = {
        "outcome",
        "scenario",
        "true_proportions",
        "taus",
        "replicates",
        "shards",
        "seed",
        "methods",
        "max_failure_rate",
    }
    for key in sorted(set(section) - known):
        problems.append(
            Problem(
                file, f"coverage.{key}", f"unknown setting; allowed: {', '.join(sorted(known))}"
            )
        )
    proportions = _number_list(
        section.get("true_proportions"),
        file,
        "coverage.true_proportions",
        0,
        1,
        True,
        True,
        problems,
    )
    taus = _number_list(section.get("taus"), file, "coverage.taus", 0, 10, False, True, problems)
    replicates = _positive_int(section.get("replicates"), file, "coverage.replicates", problems)
    shards = _positive_int(section.get("shards"), file, "coverage.shards", problems)
    seed = _positive_int(section.get("seed"), file, "coverage.seed", problems, minimum=0)
    if not problems and shards > replicates:
        problems.append(
            Problem(
                file,
                "coverage.shards",
                f"{shards} shards for {replicates} replicates: at most one shard per replicate",
            )
        )
    max_fail = section.get("max_failure_rate", 0.0)
    if not isinstance(max_fail, int | float) or isinstance(max_fail, bool) or not 0 <= max_fail < 1:
        problems.append(
            Problem(file, "coverage.max_failure_rate", f"{max_fail!r} is not a number in [0, 1)")
        )
        max_fail = 0.0
    level = config.get("confidence_level", 0.95)
    if not isinstance(level, int | float) or not 0 < level < 1:
        problems.append(Problem(file, "confidence_level", f"{level!r} is not a number in (0, 1)"))
        level = 0.95
    configured = _configured_methods(config, file, problems)
    chosen = section.get("methods")
    if chosen is None:
        methods = configured
    elif not isinstance(chosen, list) or not chosen:
        problems.append(
            Problem(
                file,
                "coverage.methods",
                "must be a non-empty list of method names "
                f"(allowed: {', '.join(sorted(configured))}) or left out for all",
            )
        )
        methods = configured
    else:
        methods = {}
        for i, name in enumerate(chosen):
            if name not in configured:
                problems.append(
                    Problem(
                        file,
                        f"coverage.methods[{i}]",
                        f"{name!r} is not a configured method; "
                        f"allowed: {', '.join(sorted(configured))}",
                    )
                )
            else:
                methods[name] = configured[name]
    if problems:
        raise InputError(problems)
    return Settings(
        outcome=str(section.get("outcome", "complete_remission")),
        scenario=str(section.get("scenario", "primary")),
        proportions=tuple(sorted(proportions)),
        taus=tuple(sorted(taus)),
        replicates=replicates,
        shards=shards,
        seed=seed,
        level=float(level),
        max_failure_rate=float(max_fail),
        methods=tuple(sorted(methods.items())),
    )


def _configured_methods(config: Mapping, file: str, problems: list[Problem]) -> dict[str, dict]:
    """config ``methods``: the primary (named ``primary``) and every secondary, by name."""
    section = config.get("methods")
    if not isinstance(section, Mapping) or not isinstance(section.get("primary"), Mapping):
        problems.append(Problem(file, "methods.primary", "missing: the primary method is needed"))
        return {}
    methods = {"primary": dict(section["primary"])}
    for name, spec in sorted((section.get("secondary") or {}).items()):
        if not isinstance(spec, Mapping):
            problems.append(Problem(file, f"methods.secondary.{name}", "must be a mapping"))
            continue
        methods[str(name)] = dict(spec)
    return methods


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


def report_text(doc: Mapping) -> str:
    """Markdown for the report's section on how well each interval works for this evidence base.

    ``doc`` is the summary JSON of ``stsmeta coverage-summary``. Names the recommended method
    (or says that none qualifies) and gives each method's coverage range and worst failure rate.
    """
    rec = doc["recommendation"]
    level = float(doc["settings"]["level"])
    k = doc["design"]["k"]
    sizes = ", ".join(str(s["n"]) for s in doc["design"]["studies"])
    reps = doc["settings"]["replicates"]
    props = ", ".join(f"{p:g}" for p in doc["settings"]["true_proportions"])
    taus = ", ".join(f"{t:g}" for t in doc["settings"]["taus"])
    lines = [
        f"We simulated {reps:,} datasets for each combination of a true pooled proportion "
        f"({props}) and a between-study SD on the logit scale ({taus}), each with this evidence "
        f"base's design ({k} studies of {sizes} patients), and fitted every method to each. "
        f"A {level:.0%} interval should contain the true proportion in {level:.0%} of datasets.",
        "",
    ]
    if rec["method"]:
        lines.append(f"**Interval to trust for these data: {rec['label']}**, with {rec['reason']}.")
    else:
        lines.append(f"**No method qualifies:** {rec['reason']}.")
    lines += [
        "",
        "| method | coverage (range over the grid) | mean distance from nominal | "
        "worst failure rate |",
        "| --- | --- | --- | --- |",
    ]
    labels = {name: m["label"] for name, m in doc["methods"].items()}
    for v in rec["verdicts"]:
        cov_range = (
            "n/a"
            if v["min_coverage"] is None
            else f"{v['min_coverage']:.3f} to {v['max_coverage']:.3f}"
        )
        dev = "n/a" if v["mean_abs_deviation"] is None else f"{v['mean_abs_deviation']:.3f}"
        lines.append(
            f"| {labels.get(v['method'], v['method'])} | {cov_range} | {dev} | "
            f"{v['max_failure_rate']:.1%} |"
        )
    lines += [
        "",
        "Coverage, width and bias are over the datasets where a method gave an answer; a method "
        "that gives none (for example a GLMM when every study is at 100%) is counted as failing. "
        "Monte Carlo standard errors are in results/coverage/summary.csv.",
    ]
    return "\n".join(lines) + "\n"
