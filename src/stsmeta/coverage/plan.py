"""The coverage study's plan: its grid, methods, replicates and shards, read from config.yaml.

Apart from stsmeta.coverage (the simulation and fits, which need numpy) so that the workflow can
read the plan at start-up, on every run, without importing numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stsmeta.errors import InputError, Problem

_MILLIONTHS = 1_000_000

#: Replicates are fitted in global blocks of this many indices, [FIT_BLOCK*j, FIT_BLOCK*(j+1)):
#: a vectorised fit (glmm_batch) is several times faster per row than one row at a time, but its
#: last bits depend on which rows share the batch, so the batches must not depend on sharding.
#: 100 was fastest at k = 545 (50 and 200 slower: bigger arrays leave the cache) and keeps k = 6,
#: where many replicates coincide and are fitted once per block, as fast as one-at-a-time fits.
FIT_BLOCK = 100


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a true pooled proportion and a between-study tau (logit scale)."""

    proportion: float
    tau: float

    def key(self) -> tuple[int, int]:
        """The cell's part of every replicate's spawn key (values in millionths)."""
        return (round(self.proportion * _MILLIONTHS), round(self.tau * _MILLIONTHS))


def grid(proportions: Iterable[float], taus: Iterable[float]) -> tuple[Cell, ...]:
    """Every (proportion, tau) pair, sorted, as cells."""
    return tuple(Cell(float(p), float(t)) for p in sorted(proportions) for t in sorted(taus))


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
        ``FIT_BLOCK`` is in it because it sets which replicates a shard holds.
        """
        return json.dumps(
            {
                "fit_block": FIT_BLOCK,
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


# The settings of the config's coverage section.
_KNOWN_SETTINGS = frozenset(
    {
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
)


def settings_from_config(config: Mapping, file: str = "config.yaml") -> Settings:
    """The coverage settings of a parsed config.yaml; every problem names its field.

    Raises ``InputError`` listing each problem as ``file: field: what is wrong and allowed``.
    """
    problems: list[Problem] = []
    section = config.get("coverage")
    if not isinstance(section, Mapping):
        raise InputError(Problem(file, "coverage", "missing: add the coverage section"))
    for key in sorted(set(section) - _KNOWN_SETTINGS):
        allowed = ", ".join(sorted(_KNOWN_SETTINGS))
        problems.append(Problem(file, f"coverage.{key}", f"unknown setting; allowed: {allowed}"))
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
    methods = _chosen_methods(section.get("methods"), configured, file, problems)
    # The design's outcome and scenario are named here, not by a command line.
    for key, plan_key, default in (
        ("outcome", "outcomes", "complete_remission"),
        ("scenario", "scenarios", "primary"),
    ):
        defined = config.get(plan_key)
        name = section.get(key, default)
        if isinstance(defined, Mapping) and name not in defined:
            problems.append(
                Problem(
                    file,
                    f"coverage.{key}",
                    f"no {key} {name!r} in {plan_key}; defined: {', '.join(sorted(defined))}",
                )
            )
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


def _chosen_methods(
    chosen, configured: dict[str, dict], file: str, problems: list[Problem]
) -> dict[str, dict]:
    """coverage ``methods``: the configured methods it names (None: all of them)."""
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
    return methods


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
