"""The analysis extract of a normalised study: the fields that pooling and the figures read.

A study's normalised record is mostly text for readers (locators, notes, reasons, citations).
The pool stage and the figures read only counts, readings, eligibility terms, labels, years and
risk-of-bias judgements. The workflow hands them this extract instead of the whole record, so
that fixing a typo in a locator or a note reruns only what prints that text (tables, report),
not the analyses, the coverage study or the figures.

Sound by construction: ``stsmeta.pool.analysis.read_extracts`` passes every study through
``analysis_extract`` whatever file it was given (a normalised record or an extract), so a field
left out here is a field the analysis never sees, in the workflow and by hand alike; tests check
that pooling the extracts gives what pooling the records gave. The extract holds nothing that
depends on the configuration (``concentration.plausible`` is left out: pooling reads the
plausible range from its own configuration), so an extract computed under one configuration is
the extract under any.

Pure Python, no numpy: the workflow computes extracts in Snakemake's own process at start-up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# field -> True (kept whole), or a nested spec applied to a mapping or to each item of a list.
_ALTERNATIVE = {"id": True, "events": True, "n": True, "unit": True, "systemic_sts": True,
                "decision": True}  # fmt: skip
SPEC: dict[str, Any] = {
    "study_id": True,
    "label": True,
    "year": True,
    "route": True,
    "systemic_sts": True,
    "calcinosis_types": True,
    "diseases": True,
    "co_interventions": True,
    "outcomes": {
        "outcome": True,
        "timepoint_weeks": True,
        "events": True,
        "n": True,
        "unit": True,
        "systemic_sts": True,
        # A scenario can restrict by them (exclude_conditions, exclude_timepoint_classes).
        "condition": True,
        "timepoint_class": True,
        "alternatives": _ALTERNATIVE,
    },
    # Subgroup counts come from the patient rows (stsmeta.pool.subgroups).
    "patients": {
        "disease": True,
        "calcinosis_type": True,
        "outcome": True,
        "systemic_sts": True,
        "in_outcomes": True,
    },
    # The reason is printed in the pooled result's list of excluded studies.
    "outcomes_not_reported": {"outcome": True, "reason": True},
    "concentration": {
        "mg_per_ml": True,
        "reading": True,
        "alternatives": {"id": True, "mg_per_ml": True, "reported": True},
    },
    # Judgements only (the figures chart them); the reasons are text for the report.
    "risk_of_bias": "judgements",
}

# Keys of risk-of-bias entries that are text for readers, never charted.
_RISK_OF_BIAS_TEXT = frozenset({"reason", "support", "locator", "source", "sources", "note"})


def _judgements(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _judgements(v) for k, v in value.items() if str(k) not in _RISK_OF_BIAS_TEXT}
    if isinstance(value, list):
        return [_judgements(v) for v in value]
    return value


def _project(value: Any, spec: Any) -> Any:
    if spec is True:
        return value
    if spec == "judgements":
        return _judgements(value)
    if isinstance(value, list):
        return [_project(item, spec) for item in value]
    if isinstance(value, Mapping):
        return {k: _project(value[k], spec[k]) for k in spec if k in value}
    return value


def analysis_extract(study: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a normalised study that pooling and the figures read (idempotent)."""
    return _project(study, SPEC)


def extract_text(study: Mapping[str, Any]) -> str:
    """The extract as the workflow writes it: canonical JSON (sorted keys), trailing newline."""
    return json.dumps(analysis_extract(study), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def extract_sha256(study: Mapping[str, Any]) -> str:
    """SHA-256 of ``extract_text``: the checksum a pooled result records for the study."""
    return hashlib.sha256(extract_text(study).encode("utf-8")).hexdigest()
