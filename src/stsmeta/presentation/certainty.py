"""Whether a certainty (GRADE) judgement was made on the results it sits beside: read by the
report, which marks a judgement made on other study data or plan settings, and by the archive,
which refuses to publish one."""

from __future__ import annotations

STALE = (
    "judged on an earlier version of the study files or of the analysis plan: to be checked again"
)


def judged_key(result: dict) -> str | None:
    """What ``judged_on`` is compared with: the result's ``judged_sha256`` (its data and the
    plan's settings, ``pool.analysis.judged_sha256``)."""
    return result.get("judged_sha256")


def judged_on_other_data(block: dict | None, result: dict) -> bool:
    """Whether the judgement names what it was made on (``judged_on``), and the pooled
    ``result`` comes from other data or other plan settings (its ``judged_sha256``)."""
    judged = (block or {}).get("judged_on")
    return bool(judged) and judged != judged_key(result)
