"""Whether a certainty (GRADE) judgement was made on the results it sits beside: read by the
report, which marks a judgement made on other study data or plan settings, and by the archive,
which refuses to publish one (the archive job, and the workflow's start-up check before any job
runs when the archive is to be packed)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from stsmeta.errors import Problem

STALE = (
    "judged on an earlier version of the study files or of the analysis plan: to be checked again"
)


def judged_key(result: dict) -> str | None:
    """What ``judged_on`` is compared with: the result's ``judged_sha256`` (its data and the
    plan's settings, ``pool.analysis.judged_sha256``)."""
    return result.get("judged_sha256")


def _made_on_other(judged: Any, keys: Collection[str]) -> bool:
    """A judgement that names what it was made on (``judged_on``), which is none of ``keys``."""
    return bool(judged) and judged not in keys


def judged_on_other_data(block: dict | None, result: dict) -> bool:
    """Whether the judgement names what it was made on (``judged_on``), and the pooled
    ``result`` comes from other data or other plan settings (its ``judged_sha256``)."""
    key = judged_key(result)
    return _made_on_other((block or {}).get("judged_on"), [key] if key else [])


def certainty_outcomes(data: bytes) -> Mapping[str, Any]:
    """The ``outcomes`` of a certainty file's bytes; empty when the file cannot be read (the
    workflow's start-up check and the report job name what is wrong with it)."""
    from stsmeta.yaml_limits import load_checked

    try:
        document = load_checked(data.decode("utf-8"))
    except Exception:  # noqa: BLE001 - validated elsewhere, with the file, field and fix
        return {}
    outcomes = document.get("outcomes") if isinstance(document, Mapping) else None
    return outcomes if isinstance(outcomes, Mapping) else {}


def stale_judgements(
    file: str, outcomes: Mapping[str, Any], expected: Mapping[str, Collection[str]]
) -> list[Problem]:
    """The judgements of a certainty file (its ``outcomes``) made on other study data or plan
    settings than the primary pooled results: each outcome's ``judged_on`` against the
    ``judged_sha256`` its result has, or will have (``expected``: one value; several while the
    primary method is still to be chosen by the coverage study; none when the result records
    none). Outcomes not in ``expected``, and judgements without ``judged_on``, are not checked.
    The archive refuses these, by file, field and fix: its job, and the workflow at start-up."""
    problems = []
    for outcome, block in sorted(outcomes.items()):
        if outcome not in expected or not isinstance(block, Mapping):
            continue
        keys = sorted(expected[outcome])
        if not _made_on_other(block.get("judged_on"), keys):
            continue
        now = (
            keys[0]
            if len(keys) == 1
            else f"the judged_sha256 of results/pool/{outcome}/primary.json once the workflow "
            "has rerun"
        )
        problems.append(
            Problem(
                file,
                f"outcomes.{outcome}.judged_on",
                "this certainty judgement was made on other study data or plan settings than "
                "the results being archived (the report marks it 'to be checked again'): "
                f"re-check it against this version's results, then set judged_on to {now}",
            )
        )
    return problems
