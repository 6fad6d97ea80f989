"""Screening records (``data/screening/screening.yaml``): the PRISMA 2020 flow and its sources.

Validated like the study files: YAML syntax, the JSON Schema
``stsmeta/schemas/screening.schema.yaml``, then the meaning: ids unique, every source and
reason referred to exists, included records name study files that exist and every study file
has an included record, and every number of the declared ``flow`` equals the count the records
give. Every problem names the file and the field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from stsmeta.errors import InputError, Problem
from stsmeta.schemas import read_schema

# Where the workflow and `stsmeta validate` look for the screening records.
SCREENING_FILE = Path("data/screening/screening.yaml")

DECISIONS = (
    "excluded_at_screening",
    "excluded_after_assessment",
    "awaiting_classification",
    "ongoing",
    "included",
)


@cache
def _validator():
    import jsonschema

    # The format checker makes "format: date" a check (a real day, not 2026-11-31).
    return jsonschema.Draft202012Validator(
        read_schema("screening"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def computed_flow(data: Mapping[str, Any]) -> dict[str, Any]:
    """The PRISMA flow numbers the records give."""
    records = data["records"]
    identified = Counter(s for r in records for s in r["identified_via"])
    decisions = Counter(r["decision"] for r in records)
    assessed = [r for r in records if r["decision"] != "excluded_at_screening"]
    included = [r for r in records if r["decision"] == "included"]
    assessed_on = Counter(r.get("assessed_on") for r in assessed)
    after = Counter(
        r.get("reason") for r in records if r["decision"] == "excluded_after_assessment"
    )
    return {
        "identified": {s["id"]: identified.get(s["id"], 0) for s in data["information_sources"]},
        "duplicates_removed": sum(identified.values()) - len(records),
        "screened": len(records),
        "excluded_at_screening": decisions["excluded_at_screening"],
        "assessed": len(assessed),
        "assessed_on": {
            k: assessed_on.get(k, 0)
            for k in ("abstract", "partial_text", "secondary_summary", "full_text")
        },
        "excluded_after_assessment": dict(sorted(after.items())),
        "awaiting_classification": decisions["awaiting_classification"],
        "ongoing": decisions["ongoing"],
        "included_reports": len(included),
        "included_studies": len({r["study_id"] for r in included}),
    }


def _flow_problems(data: Mapping[str, Any], file: str) -> list[Problem]:
    declared = data["flow"]
    problems = []
    for key, value in computed_flow(data).items():
        given = declared.get(key)
        if isinstance(value, dict):
            given = {k: v for k, v in (given or {}).items() if v or k in value}
            value = {k: v for k, v in value.items() if v or k in given}
        if given != value:
            problems.append(
                Problem(
                    file,
                    f"flow.{key}",
                    f"declared {given!r} but the records give {value!r}; correct the number"
                    " (or the records)",
                )
            )
    return problems


def _reference_problems(
    data: Mapping[str, Any], file: str, studies: Mapping[str, bool] | None
) -> list[Problem]:
    problems: list[Problem] = []
    sources = [s["id"] for s in data["information_sources"]]
    reasons = set(data.get("reasons") or {})
    for kind, ids in (
        ("information source", sources),
        ("search", [s["id"] for s in data["searches"]]),
        ("record", [r["id"] for r in data["records"]]),
    ):
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(Problem(file, kind, f"duplicate id {dup!r}; each id once"))
    for i, search in enumerate(data["searches"]):
        if search["source"] not in sources:
            problems.append(
                Problem(file, f"searches[{i}].source", f"unknown source {search['source']!r}")
            )
    for i, record in enumerate(data["records"]):
        where = f"records[{i}] ({record['id']})"
        for source in record["identified_via"]:
            if source not in sources:
                problems.append(
                    Problem(
                        file,
                        f"{where}.identified_via",
                        f"unknown source {source!r}; sources: {', '.join(sources)}",
                    )
                )
        decision = record["decision"]
        reason = record.get("reason")
        if decision != "included" and reason not in reasons:
            problems.append(
                Problem(
                    file,
                    f"{where}.reason",
                    f"{decision} needs a reason listed under 'reasons' (got {reason!r})",
                )
            )
        if decision == "included" and not record.get("study_id"):
            problems.append(
                Problem(file, f"{where}.study_id", "an included record names its study")
            )
        if decision != "excluded_at_screening" and not record.get("assessed_on"):
            problems.append(
                Problem(file, f"{where}.assessed_on", "say what the assessment rested on")
            )
    if studies is not None:
        known = set(studies)
        included = {r["study_id"] for r in data["records"] if r["decision"] == "included"}
        for sid in sorted(included - known):
            problems.append(
                Problem(
                    file,
                    "records",
                    f"included study {sid!r} has no study file in data/raw; remove or correct its"
                    " record(s) and the flow numbers",
                )
            )
        for sid in sorted(known - included):
            problems.append(
                Problem(
                    file,
                    "records",
                    f"study file {sid!r} has no included screening record; add one (decision:"
                    f" included, study_id: {sid}) and update the flow numbers",
                )
            )
        no_synthesis = sorted(sid for sid, pooled in studies.items() if not pooled)
        declared = sorted(data["flow"]["studies_in_no_synthesis"])
        if declared != no_synthesis:
            problems.append(
                Problem(
                    file,
                    "flow.studies_in_no_synthesis",
                    f"declared {declared} but the study files without outcome counts are"
                    f" {no_synthesis}",
                )
            )
    return problems


def screening_problems(
    path: str | Path, studies: Mapping[str, bool] | None = None
) -> list[Problem]:
    """Every problem of the screening file.

    ``studies`` maps each study id of data/raw to whether it has outcome counts (is in some
    synthesis); given, the records are checked against the study files too.
    """
    from stsmeta.evidence.studyfile import _schema_problem

    file = str(path)
    try:
        data = _load(path)
    except InputError as exc:
        return list(exc.problems)
    errors = sorted(
        _validator().iter_errors(data), key=lambda e: (list(map(str, e.path)), e.message)
    )
    if errors:
        return [_schema_problem(file, e) for e in errors]
    return _reference_problems(data, file, studies) or _flow_problems(data, file)


def read_screening(path: str | Path, studies: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """The checked screening records; InputError with every problem otherwise."""
    problems = screening_problems(path, studies)
    if problems:
        raise InputError(problems)
    return _load(path)


def _load(path: str | Path) -> Any:
    from stsmeta.yaml_limits import MAX_SCREENING_BYTES, load_yaml

    return load_yaml(path, MAX_SCREENING_BYTES, "the screening records file")[0]


RECORD_COLUMNS = (
    "record_id",
    "decision",
    "reason",
    "reason_text",
    "assessed_on",
    "study_id",
    "identified_via",
    "reference",
    "location",
    "note",
)


def records_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per screening record, in record order, with the reason in words."""
    reasons = data.get("reasons") or {}
    return [
        {
            "record_id": r["id"],
            "decision": r["decision"],
            "reason": r.get("reason"),
            "reason_text": reasons.get(r.get("reason") or ""),
            "assessed_on": r.get("assessed_on"),
            "study_id": r.get("study_id"),
            "identified_via": r["identified_via"],
            "reference": r["reference"],
            "location": r.get("location"),
            "note": r.get("note"),
        }
        for r in data["records"]
    ]


def flow_document(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the report needs for the PRISMA 2020 flow diagram and its methods paragraph."""
    return {
        "flow": {
            **computed_flow(data),
            "studies_in_no_synthesis": data["flow"]["studies_in_no_synthesis"],
        },
        "information_sources": data["information_sources"],
        "searches": data["searches"],
        "reasons": data.get("reasons") or {},
        "ongoing": [r for r in data["records"] if r["decision"] == "ongoing"],
        "awaiting_classification": [
            r for r in data["records"] if r["decision"] == "awaiting_classification"
        ],
    }
