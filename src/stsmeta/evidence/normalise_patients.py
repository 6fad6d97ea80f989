"""Harms (adverse events and deaths) and patient-level rows of a study file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stsmeta.evidence import vocabulary as vocab
from stsmeta.evidence.model import Patient
from stsmeta.evidence.normalise_common import Collector, duplicates

# Harms: the fields of an adverse event and of a death, as written in the study file.
_HARM_FIELDS = {
    "adverse_events": ("event", "patients", "serious", "attributed_by_authors", "systemic_sts"),
    "deaths": ("cause", "count", "attributed_by_authors", "systemic_sts"),
}
_HARM_REQUIRED = {"adverse_events": ("event",), "deaths": ("cause", "count")}


def read_harms(raw_harms: Mapping[str, Any], n_patients: int, c: Collector) -> dict[str, Any]:
    """Adverse events and deaths with a status that tells 'none occurred' from 'not reported'."""
    harms: dict[str, Any] = {}
    for kind, fields in _HARM_FIELDS.items():
        block = raw_harms[kind]
        where = f"harms.{kind}"
        status = c.term(vocab.HARM_STATUS, block["status"], f"{where}.status")
        events = []
        for i, item in enumerate(block["events"]):
            at = f"{where}.events[{i}]"
            foreign = sorted(set(item) - {*fields, "source", "locator", "note"})
            for key in foreign:
                c.problem(f"{at}.{key}", f"not a field of {kind}; allowed: {', '.join(fields)}")
            for key in _HARM_REQUIRED[kind]:
                if key not in item:
                    c.problem(f"{at}.{key}", f"missing required field for {kind}")
            affected = item.get("patients") if kind == "adverse_events" else item.get("count")
            if isinstance(affected, int) and affected > n_patients:
                c.problem(
                    f"{at}.{'patients' if kind == 'adverse_events' else 'count'}",
                    f"{affected} exceeds the study's n_patients ({n_patients})",
                )
            entry = {key: item.get(key) for key in fields}
            entry["systemic_sts"] = bool(item.get("systemic_sts", False))
            entry.update(
                source=item["source"],
                locator=item["locator"],
                note=" ".join(item["note"].split()) if item.get("note") else None,
            )
            events.append(entry)
        if status == "reported" and not events:
            c.problem(f"{where}.events", "status 'reported' needs the events listed")
        if status != "reported" and events:
            c.problem(
                f"{where}.status", f"events are listed, so the status is 'reported', not {status!r}"
            )
        if kind == "deaths":
            total = sum(e["count"] or 0 for e in events)
            if total > n_patients:
                c.problem(
                    f"{where}.events", f"{total} deaths in all, more than {n_patients} patients"
                )
        harms[kind] = {
            "status": status,
            "source": block.get("source"),
            "locator": block.get("locator"),
            "note": " ".join(block["note"].split()) if block.get("note") else None,
            "events": events,
        }
    return harms


def read_patients(
    raw_patients: Sequence[Mapping[str, Any]], n_patients: int, c: Collector
) -> list[Patient]:
    """Patient-level rows, when the study reports them."""
    patients = []
    patient_ids = [p["id"] for p in raw_patients]
    for dup in sorted(duplicates(patient_ids)):
        c.problem("patients", f"duplicate patient id {dup!r}")
    if len(patient_ids) > n_patients:
        c.problem("patients", f"{len(patient_ids)} patient rows but n_patients is {n_patients}")
    for i, p in enumerate(raw_patients):
        field = f"patients[{i}]"
        patients.append(
            Patient(
                patient_id=p["id"],
                age=p.get("age"),
                sex=c.term(vocab.SEX, p.get("sex") or "not_reported", f"{field}.sex"),
                disease=c.term(
                    vocab.DISEASE, p.get("disease") or "not_reported", f"{field}.disease"
                ),
                calcinosis_type=c.term(
                    vocab.CALCINOSIS_TYPE,
                    p.get("calcinosis_type") or "not_reported",
                    f"{field}.calcinosis_type",
                ),
                site=p.get("site"),
                lesions=p.get("lesions"),
                outcome=c.term(vocab.PATIENT_OUTCOME, p["outcome"], f"{field}.outcome"),
                systemic_sts=bool(p.get("systemic_sts", False)),
                source=p["source"],
                locator=p["locator"],
                note=p.get("note"),
                in_outcomes=bool(p.get("in_outcomes", True)),
            )
        )
    return patients
