"""Pooling the rows of a dataset with one method of the plan: the engine's result as JSON, or a
result of the same shape with null numbers saying why it is not estimable."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Plain Python (no numpy): the numeric fields of a pooled result and its JSON form.
from stsmeta.pool.eligibility import StudyRow
from stsmeta.stats.results import NUMERIC_FIELDS, json_ready

METHOD_KEYS = (
    "method",
    "transform",
    "tau2",
    "ci",
    "pi",
    "cc_add",
    "cc_to",
    "common_ci",
    "prior_mu",
    "prior_tau",
    "thresholds",
)

PoolFunction = Callable[..., Any]


class _Memo:
    """Full pooled results by call, bounded in entries and in the study rows they hold.

    Scenarios that select the same studies, and subgroup levels that select the same studies,
    pool the same rows with the same method: each such result is computed once per process (9 of
    the 74 pooling calls of a shipped outcome, a GLMM with profile intervals among them). Full
    results only: leave-one-out and cumulative steps are kept by the analysis's own step memory
    (by counts; pool/analysis.py), and a key costs a pass over the rows, which thousands of steps
    of thousands of studies would pay. The row bound keeps a 10,000-study run from holding its
    results (a row per study) twice.
    """

    def __init__(self, entries: int = 512, rows: int = 20_000) -> None:
        self.entries, self.rows = entries, rows
        self._held: OrderedDict[tuple, tuple[int, dict[str, Any]]] = OrderedDict()
        self._rows_held = 0

    def get(self, key: tuple) -> dict[str, Any] | None:
        if key not in self._held:
            return None
        self._held.move_to_end(key)
        return copy.deepcopy(self._held[key][1])  # a copy: callers add to their results

    def put(self, key: tuple, n_rows: int, result: Mapping[str, Any]) -> None:
        if n_rows > self.rows:
            return
        self._held[key] = (n_rows, copy.deepcopy(dict(result)))
        self._rows_held += n_rows
        while len(self._held) > self.entries or self._rows_held > self.rows:
            self._rows_held -= self._held.popitem(last=False)[1][0]


_MEMO = _Memo()


def _method_kwargs(settings: Mapping) -> dict[str, Any]:
    return {k: settings[k] for k in METHOD_KEYS if k in settings}


def not_estimable(
    rows: Sequence[StudyRow], settings: Mapping, *, level: float, study_ci: str, reason: str
) -> dict[str, Any]:
    """A result of the pooled-result shape whose numbers are null, saying why."""
    result: dict[str, Any] = {
        "settings": {**_method_kwargs(settings), "level": level, "study_ci": study_ci},
        "k": len(rows),
        "events": sum(r.events for r in rows),
        "n": sum(r.n for r in rows),
        "studies": [],
        "warnings": [f"not estimable: {reason}"],
    }
    result.update(dict.fromkeys(NUMERIC_FIELDS))
    return result


def pool_rows(
    rows: Sequence[StudyRow],
    settings: Mapping,
    *,
    level: float,
    study_ci: str,
    pool_fn: PoolFunction,
    profile: bool = True,
) -> dict[str, Any]:
    """Pool the rows with one method; the result's ``to_dict()``, JSON-safe.

    ``profile=False`` skips the GLMM's profile-likelihood intervals (the slow part of a fit) for
    results that show only the estimate and its Wald CI (leave-one-out and cumulative steps).

    With no rows, or when the engine rejects the data (``ValueError``, for example too few
    studies for a random-effects model), the result has null numbers and a warning.
    """
    if not rows:
        return not_estimable(rows, settings, level=level, study_ci=study_ci, reason="no study")
    if not profile:
        return _pool_rows(rows, settings, level, study_ci, pool_fn, profile=False)
    call = [[(r.study_id, r.events, r.n) for r in rows], _method_kwargs(settings)]
    call += [level, study_ci]
    digest = hashlib.sha256(json.dumps(call, sort_keys=True, default=repr).encode()).digest()
    key = (pool_fn, digest)
    result = _MEMO.get(key)
    if result is None:
        result = _pool_rows(rows, settings, level, study_ci, pool_fn, profile=True)
        _MEMO.put(key, len(rows), result)
    return result


def _pool_rows(
    rows: Sequence[StudyRow],
    settings: Mapping,
    level: float,
    study_ci: str,
    pool_fn: PoolFunction,
    profile: bool,
) -> dict[str, Any]:
    try:
        result = pool_fn(
            [r.events for r in rows],
            [r.n for r in rows],
            **_method_kwargs(settings),
            level=level,
            study_ci=study_ci,
            studies=[r.study_id for r in rows],
            # Steps (profile=False) show pooled numbers only: no profile intervals, no study rows.
            **({} if profile else {"profile": False, "study_results": False}),
        )
    except ValueError as exc:
        return not_estimable(rows, settings, level=level, study_ci=study_ci, reason=str(exc))
    return json_ready(result.to_dict())


def default_pool() -> PoolFunction:
    """The statistics engine's ``pool`` (imported only when a job pools)."""
    from stsmeta.stats import pool

    return pool
