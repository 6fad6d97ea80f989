"""Analysis tables from normalised studies: studies.csv, patients.csv, flags.csv, decisions.csv,
harms.csv and risk_of_bias.csv.

Deterministic by construction: rows sorted by study and then by their own key, columns fixed,
multi-valued cells joined with ``"; "`` in sorted order, floats written with ``format(x, ".6g")``,
UTF-8 and LF line endings. Each file is written to a temporary name and renamed into place only
when every table has been built, so a failure leaves earlier tables untouched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from stsmeta.atomic_write import write_text_atomically
from stsmeta.evidence.model import Study

STUDIES_COLUMNS = (
    "study_id",
    "label",
    "year",
    "design",
    "calcinosis_type",
    "disease",
    "route",
    "concentration_mg_per_ml",
    "concentration_plausible",
    "systemic_sts",
    "co_interventions",
    "outcome",
    "reported",
    "events",
    "n",
    "unit",
    "proportion",
    "timepoint_weeks",
    "timepoint_text",
    "timepoint_class",
    "condition",
    "evidence_basis",
    "derived_from_percent",
    "alternatives",
    "source",
    "locator",
    "flags",
)
PATIENTS_COLUMNS = (
    "study_id",
    "patient_id",
    "age",
    "sex",
    "disease",
    "calcinosis_type",
    "site",
    "lesions",
    "outcome",
    "systemic_sts",
    "in_outcomes",
    "source",
    "locator",
    "note",
)
# One row per adverse event or death; a study without events has one row per kind with its
# status, so that "none occurred" and "not reported" stay apart.
HARMS_COLUMNS = (
    "study_id",
    "label",
    "kind",
    "status",
    "event",
    "patients",
    "serious",
    "attributed_by_authors",
    "systemic_sts",
    "n_patients",
    "evidence_basis",
    "source",
    "locator",
    "note",
)
RISK_OF_BIAS_COLUMNS = (
    "study_id",
    "label",
    "evidence_basis",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "q7",
    "q8",
    "selection",
    "ascertainment",
    "causality",
    "reporting",
    "overall",
    "overall_reason",
)
FLAGS_COLUMNS = ("study_id", "field", "reason")
DECISIONS_COLUMNS = (
    "study_id",
    "decision_id",
    "field",
    "issue",
    "chosen",
    "alternatives",
    "reason",
)


def cell(value: Any) -> str:
    """One CSV cell: fixed float format, lower-case booleans, empty for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, list | tuple | set):
        return "; ".join(sorted(str(v) for v in value))
    return str(value)


def _flags_about(study: Study, prefix: str) -> list[str]:
    return [f.reason for f in study.flags if f.field.startswith(prefix)]


def studies_rows(studies: Iterable[Study]) -> list[dict[str, Any]]:
    """One row per study and outcome (primary reading); unreported outcomes with reported=false."""
    rows = []
    for study in studies:
        common = {
            "study_id": study.study_id,
            "label": study.label,
            "year": study.year,
            "design": study.design,
            "calcinosis_type": list(study.calcinosis_types),
            "disease": list(study.diseases),
            "route": study.route,
            "concentration_mg_per_ml": study.concentration.mg_per_ml,
            "concentration_plausible": study.concentration.plausible,
            "systemic_sts": study.systemic_sts,
            "co_interventions": list(study.co_interventions),
            "evidence_basis": study.evidence_basis,
        }
        study_flags = [f.reason for f in study.flags if not f.field.startswith("outcomes.")]
        for outcome in study.outcomes:
            prefix = f"outcomes.{outcome.outcome}"
            rows.append(
                {
                    **common,
                    "outcome": outcome.outcome,
                    "reported": True,
                    "events": outcome.events,
                    "n": outcome.n,
                    "unit": outcome.unit,
                    "proportion": outcome.events / outcome.n if outcome.n else None,
                    "timepoint_weeks": outcome.timepoint_weeks,
                    "timepoint_text": outcome.timepoint_text,
                    "timepoint_class": outcome.timepoint_class,
                    "condition": outcome.condition,
                    "derived_from_percent": outcome.derived_from_percent,
                    "alternatives": [
                        f"{a.id}={a.events}/{a.n} {a.unit}" for a in outcome.alternatives
                    ],
                    "source": outcome.source,
                    "locator": outcome.locator,
                    "flags": study_flags + _flags_about(study, prefix + "."),
                }
            )
        for missing in study.outcomes_not_reported:
            rows.append(
                {
                    **common,
                    "outcome": missing.outcome,
                    "reported": False,
                    "source": missing.source,
                    "locator": missing.locator,
                    "flags": study_flags + _flags_about(study, f"outcomes.{missing.outcome}."),
                }
            )
    return sorted(rows, key=lambda r: (r["study_id"], r["outcome"]))


def patients_rows(studies: Iterable[Study]) -> list[dict[str, Any]]:
    rows = []
    for study in studies:
        for p in study.patients:
            rows.append(
                {
                    "study_id": study.study_id,
                    "patient_id": p.patient_id,
                    "age": p.age,
                    "sex": p.sex,
                    "disease": p.disease,
                    "calcinosis_type": p.calcinosis_type,
                    "site": p.site,
                    "lesions": p.lesions,
                    "outcome": p.outcome,
                    "systemic_sts": p.systemic_sts,
                    "in_outcomes": p.in_outcomes,
                    "source": p.source,
                    "locator": p.locator,
                    "note": " ".join(p.note.split()) if p.note else None,
                }
            )
    return sorted(rows, key=lambda r: (r["study_id"], r["patient_id"]))


_HARM_KINDS = {"adverse_events": "adverse_event", "deaths": "death"}


def harms_rows(studies: Iterable[Study]) -> list[dict[str, Any]]:
    """Adverse events and deaths; a row with the status alone where a study lists none."""
    rows = []
    for study in studies:
        for key, kind in _HARM_KINDS.items():
            block = study.harms[key]
            common = {
                "study_id": study.study_id,
                "label": study.label,
                "kind": kind,
                "status": block["status"],
                "n_patients": study.n_patients,
                "evidence_basis": study.evidence_basis,
            }
            if not block["events"]:
                rows.append(
                    {
                        **common,
                        "source": block.get("source"),
                        "locator": block.get("locator"),
                        "note": block.get("note"),
                    }
                )
            for event in block["events"]:
                rows.append(
                    {
                        **common,
                        "event": event.get("event") or event.get("cause"),
                        "patients": event.get("patients", event.get("count")),
                        "serious": event.get("serious"),
                        "attributed_by_authors": event.get("attributed_by_authors"),
                        "systemic_sts": event.get("systemic_sts"),
                        "source": event["source"],
                        "locator": event["locator"],
                        "note": event.get("note"),
                    }
                )
    return sorted(rows, key=lambda r: (r["study_id"], r["kind"], r.get("event") or ""))


def risk_of_bias_rows(studies: Iterable[Study]) -> list[dict[str, Any]]:
    """Murad et al. 2018 judgements per study: questions, domains, overall, and what was read."""
    rows = []
    for study in studies:
        rob = study.risk_of_bias
        row = {"study_id": study.study_id, "label": study.label}
        row["evidence_basis"] = study.evidence_basis
        for q in (f"q{k}" for k in range(1, 9)):
            row[q] = (rob.get(q) or {}).get("judgement")
        for domain, item in (rob.get("domains") or {}).items():
            row[domain] = item["judgement"]
        row["overall"] = (rob.get("overall") or {}).get("judgement")
        row["overall_reason"] = (rob.get("overall") or {}).get("reason")
        rows.append(row)
    return sorted(rows, key=lambda r: r["study_id"])


def flags_rows(studies: Iterable[Study]) -> list[dict[str, Any]]:
    rows = [
        {"study_id": s.study_id, "field": f.field, "reason": f.reason}
        for s in studies
        for f in s.flags
    ]
    return sorted(rows, key=lambda r: (r["study_id"], r["field"], r["reason"]))


def decisions_rows(studies: Iterable[Study]) -> list[dict[str, Any]]:
    rows = []
    for s in studies:
        for d in s.decisions:
            alternatives = [
                f"{a['id']}: {a['reading']}" if a.get("id") else a["reading"]
                for a in d.alternatives
            ]
            rows.append(
                {
                    "study_id": s.study_id,
                    "decision_id": d.id,
                    "field": d.field,
                    "issue": d.issue,
                    "chosen": d.chosen,
                    "alternatives": " | ".join(alternatives),
                    "reason": d.reason,
                }
            )
    return sorted(rows, key=lambda r: (r["study_id"], r["decision_id"]))


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """CSV text with a header, fixed columns, LF line endings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                cell(" ".join(v.split()) if isinstance(v, str) else v)
                for v in (row.get(c) for c in columns)
            ]
        )
    return buffer.getvalue()


def build_tables(studies: Sequence[Study]) -> dict[str, str]:
    """File name -> CSV text of every table."""
    ordered = sorted(studies, key=lambda s: s.study_id)
    return {
        "studies.csv": to_csv(STUDIES_COLUMNS, studies_rows(ordered)),
        "patients.csv": to_csv(PATIENTS_COLUMNS, patients_rows(ordered)),
        "flags.csv": to_csv(FLAGS_COLUMNS, flags_rows(ordered)),
        "decisions.csv": to_csv(DECISIONS_COLUMNS, decisions_rows(ordered)),
        "harms.csv": to_csv(HARMS_COLUMNS, harms_rows(ordered)),
        "risk_of_bias.csv": to_csv(RISK_OF_BIAS_COLUMNS, risk_of_bias_rows(ordered)),
    }


def write_atomically(path: str | Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename into place."""
    write_text_atomically(path, text)
