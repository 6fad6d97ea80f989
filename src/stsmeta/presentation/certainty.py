"""Whether a certainty (GRADE) judgement was made on the results it sits beside: read by the
report, which marks a judgement made on other study data, and by the archive, which refuses to
publish one."""

from __future__ import annotations

STALE = "judged on an earlier version of the study files: to be checked again"


def judged_on_other_data(block: dict | None, result: dict) -> bool:
    """Whether the judgement names the data it was made on (``judged_on``), and the pooled
    ``result`` is of other data (its ``data_sha256``)."""
    judged = (block or {}).get("judged_on")
    return bool(judged) and judged != result.get("data_sha256")
