"""Adverse events and deaths of a normalised study, in one shape whatever the study file's form.

Study files record harms in one of two forms, and this module reads both (and an absent field):
- ``harms: {adverse_events: {status, events: [{event, patients, serious,
  attributed_by_authors}]}, deaths: {status, events: [{count, cause, attributed_by_authors}]}}``
  with a status (``reported``, ``none_occurred``, ``not_reported``, ``not_extracted``);
- the older ``adverse_events: [{description, patients, serious, related}]`` and
  ``deaths: [{patients, cause, related}]`` lists, where an empty list cannot tell "none
  occurred" from "not reported": it is read as not reported.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUS_WORDS = {
    "reported": "reported",
    "none_occurred": "none occurred",
    "not_reported": "not reported",
    "not_extracted": "not extracted",
}


@dataclass(frozen=True)
class HarmEvent:
    what: str  # the event, or the cause of a death
    patients: int | None
    serious: bool | None
    attributed: bool | None  # attributed to the treatment by the study's authors
    systemic: bool = False  # occurred while systemic (intravenous) STS was also given


@dataclass(frozen=True)
class Harms:
    kind: str  # "adverse_events" or "deaths"
    status: str  # a key of STATUS_WORDS
    events: tuple[HarmEvent, ...]
    note: str = ""

    @property
    def status_text(self) -> str:
        return STATUS_WORDS.get(self.status, self.status.replace("_", " "))

    @property
    def patients(self) -> int | None:
        """Patients with an event, when every event gives its count."""
        counts = [e.patients for e in self.events]
        if not counts or any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None)


def _attributed(entry: dict) -> bool | None:
    if "attributed_by_authors" in entry:
        value = entry.get("attributed_by_authors")
        return value if isinstance(value, bool) else None
    related = str(entry.get("related") or "").lower()
    return {"yes": True, "no": False}.get(related)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _event(entry: dict, kind: str) -> HarmEvent:
    if kind == "deaths":
        what = str(entry.get("cause") or "cause not given")
        patients = _count(entry.get("count", entry.get("patients")))
        serious: bool | None = True
    else:
        what = str(entry.get("event") or entry.get("description") or "not described")
        patients = _count(entry.get("patients"))
        serious = entry.get("serious") if isinstance(entry.get("serious"), bool) else None
    return HarmEvent(
        what=what,
        patients=patients,
        serious=serious,
        attributed=_attributed(entry),
        systemic=entry.get("systemic_sts") is True,
    )


def harms_of(study: dict, kind: str) -> Harms:
    """The adverse events (``kind="adverse_events"``) or deaths (``"deaths"``) of a study."""
    block = (study.get("harms") or {}).get(kind) if isinstance(study.get("harms"), dict) else None
    if isinstance(block, dict):
        entries = [e for e in block.get("events") or [] if isinstance(e, dict)]
        status = str(block.get("status") or ("reported" if entries else "not_reported"))
        return Harms(
            kind, status, tuple(_event(e, kind) for e in entries), str(block.get("note") or "")
        )
    entries = [e for e in study.get(kind) or [] if isinstance(e, dict)]
    status = "reported" if entries else "not_reported"
    return Harms(kind, status, tuple(_event(e, kind) for e in entries))
