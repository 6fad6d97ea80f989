"""Anchors shared by the figures and the report: a study's reference is ``#study-<id>``."""

from __future__ import annotations

import re


def study_anchor(study_id: str) -> str:
    """The report's anchor of a study's reference (lower case letters, digits, hyphens)."""
    return "study-" + re.sub(r"[^a-z0-9-]", "-", str(study_id).lower())
