"""Checks of a study file that its schema cannot express: values every later step can use, and
studies that are possible at all.

``value_problems`` runs on the parsed YAML before the schema: numbers that are numbers (no
``.nan`` or ``.inf``, which would be written into JSON as bare ``NaN``), counts below
``MAX_COUNT``, and text that the figures, tables and terminals can show (``stsmeta.text_rules``).

``semantic_problems`` runs on the normalised study: counts that contradict each other or the
patient rows, publication years that cannot be, a study id whose year is not the citation's.
Where a reader could legitimately disagree (patient rows against counts when the file records a
decision), the finding is a flag, shown in the tables and the report, not an error.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from stsmeta.errors import Problem, field_path
from stsmeta.evidence import vocabulary as vocab
from stsmeta.evidence.model import Flag, Study
from stsmeta.evidence.studyfile import REQUIRED_HINTS
from stsmeta.text_rules import strings, text_problem

# Far above any case series of intralesional STS (the largest has tens of patients), and below
# what the coverage study's simulations handle; 10**30 passed the schema and failed there.
MAX_COUNT = 100_000
COUNT_KEYS = {"n", "events", "patients", "lesions"}
FACT_COUNTS = {"n_patients", "n_lesions"}
# Text that must be one line: identifiers, references between fields, vocabulary terms.
ONE_LINE_KEYS = {
    "study_id",
    "id",
    "source",
    "decision",
    "locator",
    "outcome",
    "unit",
    "role",
    "read",
    "doi",
    "tool",
    "judgement",
    "related",
    "sex",
    "condition",
    "status",
}
EARLIEST_YEAR = 1900


def _field(path: tuple[Any, ...]) -> str:
    return field_path(path)


def _numbers(node: Any, path: tuple[Any, ...] = ()):
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _numbers(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, (*path, i))


def _yaml_float(number: float) -> str:
    """How YAML writes NaN and the infinities."""
    if math.isnan(number):
        return "'.nan'"
    return "'.inf'" if number > 0 else "'-.inf'"


def _is_count(path: tuple[Any, ...]) -> bool:
    if not path:
        return False
    last = path[-1]
    return last in COUNT_KEYS or (last == "value" and len(path) > 1 and path[-2] in FACT_COUNTS)


# The placeholder texts of templates/study-template.yaml: a copy with them left in would pool the
# template's made-up counts as a study (a copy validated unchanged).
TEMPLATE_PLACEHOLDERS = frozenset(
    {"title of the paper", "journal abbreviation", "author x. title of the review. where, when."}
)
# A locator that says nothing of where: a note to self left in.
PLACEHOLDER_LOCATORS = frozenset({"todo", "tbd", "tbc", "fixme", "xxx", "?", "??", "...", "-"})


def _placeholder_problem(path: tuple[Any, ...], text: str) -> str | None:
    said = " ".join(text.split()).lower()
    if said in TEMPLATE_PLACEHOLDERS:
        return (
            f"{text!r} is the template's placeholder; replace every value of the template with "
            "the study's (templates/study-template.yaml; docs/data-dictionary.md)"
        )
    if path and path[-1] == "locator" and said in PLACEHOLDER_LOCATORS:
        return (
            f"locator {text!r} does not say where in the source this is; give it, e.g. "
            "'abstract', 'p. 3, table 2' or 'line 10'"
        )
    return None


def value_problems(data: Mapping[str, Any], file: str) -> list[Problem]:
    """Numbers and text of a parsed study file that no later step could use."""
    problems = []
    for path, number in _numbers(data):
        if isinstance(number, float) and not math.isfinite(number):
            problems.append(
                Problem(
                    file,
                    _field(path),
                    f"{_yaml_float(number)} is not a number; give the number, or null (or leave"
                    " the field out) when the source does not report it",
                )
            )
        elif _is_count(path) and abs(number) > MAX_COUNT:
            problems.append(
                Problem(
                    file,
                    _field(path),
                    f"count {number:g} is implausibly large; at most {MAX_COUNT:,}"
                    " (check for a typing error)",
                )
            )
    for path, text, is_key in strings(data):
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        message = text_problem(
            text,
            label=path == ("label",),
            one_line=is_key or key in ONE_LINE_KEYS,
        )
        if message and not is_key and key in REQUIRED_HINTS and not text.strip():
            # Blank where the schema requires text: "leave the field out" would be wrong.
            problems.append(Problem(file, _field(path), f"is blank; {REQUIRED_HINTS[key]}"))
        elif message:
            what = "field name" if is_key else "text"
            problems.append(Problem(file, _field(path), f"{what} {message}"))
        elif not is_key and (placeholder := _placeholder_problem(path, text)):
            problems.append(Problem(file, _field(path), placeholder))
    return problems


def _raw_index(raw: Mapping[str, Any], outcome: str) -> int | None:
    """Index in the file's ``outcomes`` of the entry normalised to ``outcome``."""
    for i, item in enumerate(raw.get("outcomes", [])):
        try:
            if vocab.canonical(vocab.OUTCOME, item.get("outcome")) == outcome:
                return i
        except vocab.UnknownTerm:
            continue
    return None


def _response_order(study: Study, raw: Mapping[str, Any], file: str) -> list[Problem]:
    """Complete remission is a response: never more remissions than responses of the same
    patients (same unit and denominator)."""
    by_name = {o.outcome: o for o in study.outcomes}
    remission, response = by_name.get("complete_remission"), by_name.get("any_response")
    if not (remission and response):
        return []
    if (remission.unit, remission.n) != (response.unit, response.n):
        return []
    if response.events >= remission.events:
        return []
    i = _raw_index(raw, "any_response")
    return [
        Problem(
            file,
            f"outcomes[{i}].events",
            f"any_response ({response.events}/{response.n}) is lower than complete_remission"
            f" ({remission.events}/{remission.n}) of the same {remission.n} {remission.unit};"
            " every complete remission is a response: correct one of the counts",
        )
    ]


RESPONDED = {"complete_remission", "partial_response", "any_response"}


def _patient_rows(study: Study, raw: Mapping[str, Any], file: str):
    """Counts against patient rows, when the rows are every patient and say each outcome."""
    rows = study.patients
    if not rows or len(rows) != study.n_patients:
        return [], []
    if any(p.outcome in {"not_reported", "not_evaluable"} for p in rows):
        return [], []
    counted = {
        "complete_remission": [p for p in rows if p.outcome == "complete_remission"],
        "any_response": [p for p in rows if p.outcome in RESPONDED],
    }
    problems, flags = [], []
    for outcome in study.outcomes:
        if outcome.unit != "patients" or outcome.n != len(rows):
            continue
        if outcome.outcome not in counted:
            continue
        from_rows = len(counted[outcome.outcome])
        if from_rows == outcome.events:
            continue
        said = (
            f"{outcome.outcome} is {outcome.events}/{outcome.n} patients, but the patient rows"
            f" give {from_rows} of {len(rows)}"
        )
        if outcome.decision:
            flags.append(
                Flag(
                    f"outcomes.{outcome.outcome}.events",
                    f"{said}; kept by decision {outcome.decision!r}",
                )
            )
        else:
            i = _raw_index(raw, outcome.outcome)
            problems.append(
                Problem(
                    file,
                    f"outcomes[{i}].events",
                    f"{said}; correct the count or the rows' outcome, or record a 'decision'"
                    " that explains the difference (e.g. another time point)",
                )
            )
    return problems, flags


_ID_YEAR = re.compile(r"-(\d{4}|nd)[a-z]?$")


def _years(study: Study, raw: Mapping[str, Any], file: str, today: dt.date) -> list[Problem]:
    problems = []
    year = study.year
    if year is not None and year > today.year:
        problems.append(
            Problem(
                file,
                "citation.year",
                f"publication year {year} is in the future (today is {today.isoformat()});"
                " give the year the study was published",
            )
        )
    if year is not None and year < EARLIEST_YEAR:
        problems.append(
            Problem(file, "citation.year", f"publication year {year} is before {EARLIEST_YEAR}")
        )
    epub = str((raw.get("citation") or {}).get("epub_date") or "")
    if epub:
        # The schema checks the YYYY-MM-DD shape; a real calendar day, not after today.
        try:
            day = dt.date.fromisoformat(epub)
        except ValueError:
            problems.append(
                Problem(
                    file,
                    "citation.epub_date",
                    f"{epub!r} is not a date of the calendar; give it as YYYY-MM-DD",
                )
            )
        else:
            if day > today:
                problems.append(
                    Problem(
                        file,
                        "citation.epub_date",
                        f"{epub} is in the future (today is {today.isoformat()}); give the "
                        "date the study was first published online",
                    )
                )
    match = _ID_YEAR.search(study.study_id)
    if not match:
        return problems
    id_year = match.group(1)
    if id_year == "nd" and year is not None:
        problems.append(
            Problem(
                file,
                "study_id",
                f"study id {study.study_id!r} says the year is unknown ('nd') but citation.year"
                f" is {year}; rename the file and the id to end in -{year}",
            )
        )
    elif id_year != "nd" and year is None:
        problems.append(
            Problem(
                file,
                "citation.year",
                f"citation.year is empty but study id {study.study_id!r} gives {id_year};"
                f" give the year, or end the id in -nd if the sources do not give it",
            )
        )
    elif id_year != "nd" and int(id_year) != year and not epub.startswith(id_year):
        problems.append(
            Problem(
                file,
                "study_id",
                f"the year in study id {study.study_id!r} ({id_year}) differs from citation.year"
                f" ({year}); correct citation.year, or rename the file and the id to the"
                f" citation's year (keep an unused letter suffix if that id is taken)",
            )
        )
    return problems


def semantic_problems(
    study: Study, raw: Mapping[str, Any], file: str, today: dt.date | None = None
) -> tuple[list[Problem], list[Flag]]:
    """Impossible studies (problems) and findings a reader could weigh otherwise (flags)."""
    problems = _response_order(study, raw, file)
    row_problems, flags = _patient_rows(study, raw, file)
    problems += row_problems
    problems += _years(study, raw, file, today or dt.date.today())
    return problems, flags
