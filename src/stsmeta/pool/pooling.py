"""Pooling the rows of a dataset with one method of the plan: the engine's result as JSON, or a
result of the same shape with null numbers saying why it is not estimable."""

from __future__ import annotations

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
