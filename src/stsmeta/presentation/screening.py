"""The screening records (data/screening/screening.yaml) and the PRISMA 2020 flow counts.

The records file lists the information sources, the searches and one record per report found,
with the sources that led to it (``identified_via``) and the decision taken on it (see
docs/data-dictionary.md, "Screening records"). Every count of the flow diagram is computed here
from those records, once, for the figure and the report alike; ``FlowCounts.problems`` says
where the boxes would not add up. Fields are read defensively: a missing field counts as absent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stsmeta.errors import InputError, Problem

DECISIONS = (
    "excluded_at_screening",
    "not_retrieved",
    "excluded_after_assessment",
    "awaiting_classification",
    "ongoing",
    "included",
)
DATABASE_KINDS = frozenset({"database", "register", "trial_register"})
REASON_WORDS = {
    "background": "background article",
    "review": "review (no new patients)",
    "topical_route": "topical sodium thiosulfate only",
    "intravenous_only": "intravenous sodium thiosulfate only",
    "no_outcomes": "no patient outcomes",
    "route_not_verified": "route of sodium thiosulfate not verified",
    "no_results": "no results yet",
}


#: What a report assessed for eligibility was read as (a record's ``assessed_on``), in words.
ASSESSED_ON_WORDS = {
    "full_text": "Full text",
    "partial_text": "Part of the text",
    "abstract": "Abstract only",
    "secondary_summary": "A summary in another source only",
}


def assessed_on_counts(counts: FlowCounts) -> list[tuple[str, int]]:
    """(what was read, reports) for every basis of assessment, the known ones first (with 0)."""
    known = [(words, counts.assessed_on.get(kind, 0)) for kind, words in ASSESSED_ON_WORDS.items()]
    return known + [
        (str(kind).replace("_", " "), n)
        for kind, n in sorted(counts.assessed_on.items(), key=lambda kv: str(kv[0]))
        if kind not in ASSESSED_ON_WORDS
    ]


def reason_text(reason: object, reasons: dict | None = None) -> str:
    """A reason id in words: the screening file's own ``reasons`` first, then ours."""
    text = str(reason or "no reason recorded")
    own = (reasons or {}).get(text)
    if own:
        return str(own).strip().rstrip(".")
    return REASON_WORDS.get(text, text.replace("_", " "))


@dataclass(frozen=True)
class FlowCounts:
    """The boxes of the PRISMA 2020 flow diagram, from the screening records."""

    by_source: tuple[tuple[str, str, int], ...]  # (source name, kind, records it led to)
    identified: int  # records counted once per source that led to them
    duplicates: int
    screened: int
    excluded_screening: Counter = field(default_factory=Counter)
    not_retrieved: int = 0
    excluded_assessment: Counter = field(default_factory=Counter)
    awaiting: int = 0
    ongoing: int = 0
    included_reports: int = 0
    included_studies: tuple[str, ...] = ()
    databases_searched: bool = False
    # What each report assessed for eligibility was read as (records' assessed_on).
    assessed_on: Counter = field(default_factory=Counter)

    @property
    def sought(self) -> int:
        return self.screened - sum(self.excluded_screening.values())

    @property
    def assessed(self) -> int:
        return self.sought - self.not_retrieved

    def problems(self) -> list[str]:
        """Where the boxes do not add up (empty when they do)."""
        found = []
        if self.identified - self.duplicates != self.screened:
            found.append("identified minus duplicates differs from records screened")
        rest = (
            self.assessed
            - sum(self.excluded_assessment.values())
            - self.awaiting
            - self.ongoing
            - self.included_reports
        )
        if rest:
            found.append(f"{rest} assessed records have no decision")
        return found


def load_screening(path: Path | str | None, files) -> dict | None:
    """The screening records as a dict (checksum recorded by ``files``), or None without a path."""
    if path is None:
        return None

    from stsmeta.yaml_limits import load_checked_bytes

    doc = load_checked_bytes(files.read_bytes(path), str(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
        raise InputError(Problem(str(path), "records", "missing: list one record per report found"))
    for i, record in enumerate(doc["records"]):
        decision = record.get("decision") if isinstance(record, dict) else None
        if decision not in DECISIONS:
            raise InputError(
                Problem(
                    str(path),
                    f"records[{i}].decision",
                    f"{decision!r} is not one of: {', '.join(DECISIONS)}",
                )
            )
    return doc


def flow_counts(screening: dict) -> FlowCounts:
    """Every box of the flow diagram from the records."""
    sources = {
        str(s.get("id")): s
        for s in screening.get("information_sources") or []
        if isinstance(s, dict)
    }
    records = [r for r in screening.get("records") or [] if isinstance(r, dict)]
    led_to: Counter = Counter()
    for record in records:
        for source in record.get("identified_via") or ["not recorded"]:
            led_to[str(source)] += 1
    by_source = tuple(
        (
            str((sources.get(s) or {}).get("name") or s).strip(),
            str((sources.get(s) or {}).get("kind") or "not recorded"),
            n,
        )
        for s, n in led_to.items()
    )
    decided = {d: [r for r in records if r.get("decision") == d] for d in DECISIONS}
    included = decided["included"]
    words = screening.get("reasons") if isinstance(screening.get("reasons"), dict) else {}
    return FlowCounts(
        by_source=by_source,
        identified=sum(led_to.values()),
        duplicates=sum(led_to.values()) - len(records),
        screened=len(records),
        excluded_screening=Counter(
            reason_text(r.get("reason"), words) for r in decided["excluded_at_screening"]
        ),
        not_retrieved=len(decided["not_retrieved"]),
        excluded_assessment=Counter(
            reason_text(r.get("reason"), words) for r in decided["excluded_after_assessment"]
        ),
        awaiting=len(decided["awaiting_classification"]),
        ongoing=len(decided["ongoing"]),
        included_reports=len(included),
        included_studies=tuple(sorted({str(r.get("study_id")) for r in included})),
        databases_searched=any(str(s.get("kind")) in DATABASE_KINDS for s in sources.values()),
        assessed_on=Counter(
            str(r.get("assessed_on") or "not recorded")
            for r in records
            if r.get("decision") not in ("excluded_at_screening", "not_retrieved")
        ),
    )


def records_with(screening: dict | None, *decisions: str) -> list[dict]:
    """The records with one of these decisions, in file order."""
    if not screening:
        return []
    return [
        r
        for r in screening.get("records") or []
        if isinstance(r, dict) and r.get("decision") in decisions
    ]


def declared_differences(screening: dict, counts: FlowCounts) -> list[str]:
    """Where the file's declared ``flow`` (if any) differs from the counts of its records."""
    declared = screening.get("flow")
    if not isinstance(declared, dict):
        return []
    ours = {
        "duplicates_removed": counts.duplicates,
        "screened": counts.screened,
        "excluded_at_screening": sum(counts.excluded_screening.values()),
        "assessed": counts.assessed,
        "awaiting_classification": counts.awaiting,
        "ongoing": counts.ongoing,
        "included_reports": counts.included_reports,
        "included_studies": len(counts.included_studies),
    }
    return [
        f"{key}: declared {declared[key]}, records give {value}"
        for key, value in ours.items()
        if key in declared and declared[key] != value
    ]
