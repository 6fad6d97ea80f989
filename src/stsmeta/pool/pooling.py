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

# Scenarios that select the same studies, and a subgroup or step that is the whole dataset, pool
# the same rows with the same method: each such result is computed once per process (9 of the
# 74 pooling calls of a shipped outcome, a GLMM with profile intervals among them). Bounded, so
# that the steps of a 10,000-study run do not accumulate.
_MEMO: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_MEMO_SIZE = 512


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
    call = [[(r.study_id, r.events, r.n) for r in rows], _method_kwargs(settings)]
    call += [level, study_ci, profile]
    digest = hashlib.sha256(json.dumps(call, sort_keys=True, default=repr).encode()).digest()
    key = (pool_fn, digest)
    if key in _MEMO:
        _MEMO.move_to_end(key)
    else:
        _MEMO[key] = _pool_rows(rows, settings, level=level, study_ci=study_ci, pool_fn=pool_fn,
                                profile=profile)  # fmt: skip
        if len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    # A copy: callers add to their results.
    return copy.deepcopy(_MEMO[key])


def _pool_rows(
    rows: Sequence[StudyRow],
    settings: Mapping,
    *,
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
