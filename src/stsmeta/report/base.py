"""Shared pieces of the report's sections: the loaded inputs, numbers tagged with their source, and
small wording helpers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import Plan, study_label
from stsmeta.presentation.wording import term
from stsmeta.report.document import (
    Block,
    Cell,
    Image,
    Num,
    Paragraph,
    cell,
)
from stsmeta.report.previous import Previous
from stsmeta.selection import CONFIGURED_PRIMARY

NBSP_COMMA = ",\u00a0"  # intervals stay on one line in narrow table cells

CENTRE_KEYS = ("n_centres", "n_centers", "centres", "centers")

COMPARATIVE_WORDS = ("control", "random", "trial", "comparative", "comparator")


@dataclass(frozen=True)
class ReportData:
    plan: Plan
    pooled: dict[str, dict[str, dict]]
    studies: dict[str, dict]
    tables: dict[str, list[dict[str, str]]]
    figures: dict[str, tuple[Path, bytes]]  # stem -> (SVG path, SVG bytes)
    checksums: dict[str, str]
    software: tuple[tuple[str, str], ...]
    previous: Previous | None = None
    coverage: dict | None = None  # summary JSON of `stsmeta coverage-summary`
    screening: dict | None = None  # screening records (stsmeta.presentation.screening)
    certainty: dict | None = None  # GRADE judgements (stsmeta.report.certainty)
    extra: dict = field(default_factory=dict)


def pointer(*keys: str) -> str:
    """A JSON pointer (RFC 6901) to a value."""
    return "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in keys)


def num(result: dict, src: str, key: str, fmt: str) -> Num:
    """The value ``result[key]`` formatted by ``numbers.<fmt>``, tagged with its source."""
    return Num(getattr(numbers, fmt)(result.get(key)), f"{src}{pointer(key)}", fmt)


def estimate_cells(result: dict, src: str) -> tuple[Cell, Cell, Cell]:
    """(estimate, confidence interval, prediction interval) cells."""
    if not numbers.is_estimable(result):
        return cell(numbers.NOT_ESTIMABLE), cell(), cell()
    ci = cell(
        "[",
        num(result, src, "ci_low", "bound"),
        NBSP_COMMA,
        num(result, src, "ci_high", "bound"),
        "]",
    )
    if result.get("pi_low") is None and result.get("pi_high") is None:
        pi = cell(numbers.MISSING)
    else:
        pi = cell(
            "[",
            num(result, src, "pi_low", "bound"),
            NBSP_COMMA,
            num(result, src, "pi_high", "bound"),
            "]",
        )
    return cell(num(result, src, "estimate", "proportion")), ci, pi


def estimate_with_ci(result: dict, src: str) -> Cell:
    estimate, ci, _ = estimate_cells(result, src)
    return estimate + ((" ",) + ci if ci else ())


def events_cell(result: dict, src: str) -> Cell:
    return cell(num(result, src, "events", "count"), "/", num(result, src, "n", "count"))


def warnings_cell(result: dict) -> Cell:
    """The result's warnings as links to the notes that hold them (each written out once)."""
    from stsmeta.report.notes import notes_cell

    return notes_cell(result.get("warnings") or [])


def file_src(outcome: str, scenario: str) -> str:
    return f"{outcome}/{scenario}.json#"


RESULT_HEADER = (
    "Method",
    "k",
    "Events/N",
    "Estimate",
    "CI",
    "PI",
    "τ²",
    "I²",
    "Q",
    "p (Q)",
    "Notes",
)


def result_row(label: str, result: dict, src: str) -> tuple[Cell, ...]:
    estimate, ci, pi = estimate_cells(result, src)
    return (
        cell(label),
        cell(num(result, src, "k", "count")),
        events_cell(result, src),
        estimate,
        ci,
        pi,
        cell(num(result, src, "tau2", "tau2")),
        cell(num(result, src, "i2", "i2")),
        cell(num(result, src, "q", "q_statistic")),
        cell(num(result, src, "q_p", "p_value")),
        warnings_cell(result),
    )


def anchor(*parts: str) -> str:
    return "-".join(str(p).lower().replace(" ", "-").replace("_", "-") for p in parts)


def data_date(plan: Plan, studies: dict[str, dict]) -> str:
    """The report's date: ``report.date`` in config.yaml, else the latest publication year."""
    if plan.report.get("date"):
        return str(plan.report["date"])
    years = [s.get("year") for s in studies.values() if isinstance(s.get("year"), int)]
    if years:
        return f"evidence up to {max(years)} (latest publication year in the study files)"
    return "undated (set report.date in config.yaml)"


def joined(values) -> str:
    return ", ".join(str(v) for v in values)


def author_names(authors) -> str:
    """``report.authors`` as a reader sees them (a Citation File Format person as "given-names
    family-names", not the mapping's text), comma-separated."""
    from stsmeta.archive.metadata import author_name

    return ", ".join(author_name(a) for a in authors or [])


NO_YEAR = "n.d."  # as in reference lists: a study whose publication year is not known


def year_text(value: object) -> str:
    """A publication year, or ``n.d.``."""
    text = "" if value is None else str(value).strip()
    return text or NO_YEAR


def publication_order(study_ids, studies: dict[str, dict]) -> list[str]:
    """Studies by year, then id; studies without a year last (as in the pooled JSON)."""

    def key(s: str):
        year = (studies.get(s) or {}).get("year")
        return (not isinstance(year, int), year if isinstance(year, int) else 0, s)

    return sorted(study_ids, key=key)


def scenario_words(text: str, plan: Plan) -> str:
    """Reasons name scenarios by id ("scenario with_systemic_sts"); show their labels."""
    for name in plan.scenarios:
        text = text.replace(f"scenario {name}", f"scenario '{plan.scenario_label(name)}'")
    return text


def level_text(plan: Plan) -> str:
    return f"{100 * plan.confidence_level:g}%"


def primary_outcome(plan: Plan) -> str:
    return plan.outcomes[0]


def searched_a_database(data: ReportData) -> bool:
    """Whether the screening records name a bibliographic database or a trial register."""
    sources = (data.screening or {}).get("information_sources") or []
    kinds = {str(s.get("kind")) for s in sources if isinstance(s, dict)}
    return bool(kinds & {"database", "register"})


def included_ids(data: ReportData) -> list[str]:
    """Studies in the primary analysis of any outcome, sorted."""
    ids = set()
    for outcome in data.plan.outcomes:
        ids.update(str(s) for s in data.pooled[outcome]["primary"].get("included") or [])
    return sorted(ids)


def joined_list(value, kind: str) -> str:
    values = value if isinstance(value, list) else [value]
    return ", ".join(term(v, kind) for v in values)


def describe_scenario(spec: dict) -> str:
    """A sentence from a scenario's config entry."""
    parts = []
    for key, value in (spec or {}).items():
        # Empty lists and false flags are the schema's defaults: they change nothing.
        if key == "label" or value is False or value == []:
            continue
        if key == "use_alternatives":
            parts.append(f"applies the recorded extraction alternatives {joined(value)}")
        elif key == "concentration_reading":
            parts.append(f"reads concentrations as {value}")
        elif key == "exclude_implausible_concentration" and value:
            parts.append("excludes studies with an implausible concentration")
        elif key == "exclude_calcinosis_types":
            parts.append(f"excludes calcinosis types {joined_list(value, 'calcinosis_type')}")
        elif key == "exclude_diseases":
            parts.append(f"excludes underlying diseases {joined_list(value, 'disease')}")
        elif key == "exclude_co_interventions":
            parts.append(
                "excludes studies reporting any of these co-interventions: "
                f"{joined_list(value, 'co_intervention')}"
            )
        elif key == "include_systemic_sts" and value:
            parts.append("includes patients and studies given systemic STS at the same time")
        elif key == "exclude_studies":
            parts.append(f"excludes studies {joined(value)}")
        elif key == "count_units":
            if value != ["patients"]:  # the default: an analysis of patients
                parts.append(f"admits counts of {' and '.join(map(str, value))}")
        else:
            parts.append(f"{key}: {json.dumps(value, sort_keys=True, ensure_ascii=False)}")
    return "; ".join(parts) if parts else "the analysis plan as configured"


def applied_text(applied, studies: dict[str, dict]) -> str:
    """What a scenario changed: the ``applied`` list of the pooled JSON, in words."""
    if not applied:
        return ""
    if isinstance(applied, str):
        return applied
    if isinstance(applied, list):
        parts = []
        for entry in applied:
            if isinstance(entry, dict):
                who = study_label(str(entry.get("study_id")), studies)
                what = entry.get("detail") or (
                    f"{entry.get('field') or 'value'} read as {entry.get('alternative')!s}"
                )
                excluded = " (study then excluded)" if entry.get("included") is False else ""
                parts.append(f"{who}: {what}{excluded}")
            else:
                parts.append(str(entry))
        return "; ".join(parts)
    return json.dumps(applied, sort_keys=True, ensure_ascii=False)


def comparative_studies(data: ReportData, ids: list[str]) -> list[str]:
    found = []
    for study_id in ids:
        study = data.studies.get(study_id) or {}
        design = str(study.get("design") or "").lower()
        if study.get("comparator") or any(w in design for w in COMPARATIVE_WORDS):
            found.append(study_id)
    return found


def method_text(label: str, description: object) -> str:
    """A method's configured label and the engine's description, without saying the name twice.

    The description usually starts with the method's name ("Binomial-normal GLMM (ML, adaptive
    ...") and then says more than the label, so it is shown alone.
    """
    description = str(description or "").strip()
    if not description:
        return label
    head = label.split("(")[0].strip().lower()
    if head and description.lower().startswith(head):
        return description
    return f"{label}: {description}"


def method_settings(data: ReportData, name: str) -> dict:
    """The settings a method actually ran with (from the primary outcome's primary JSON)."""
    primary = data.pooled[primary_outcome(data.plan)]["primary"]
    result = primary if name == "primary" else (primary.get("secondary") or {}).get(name) or {}
    return result.get("settings") or {}


def csv_cell(row: dict[str, str], key: str) -> Cell:
    return cell(str(row.get(key) or ""))


YES_NO = {"true": "yes", "false": "no"}


def csv_order(row: dict[str, str]) -> tuple:
    """Publication order for table rows: year, study id; no year last."""
    year = str(row.get("year") or "")
    return (not year.isdigit(), int(year) if year.isdigit() else 0, row.get("study_id", ""))


def publication_rank(data: ReportData) -> dict[str, int]:
    """Each study's place in publication order (computed once: tables have a row per study)."""
    return {sid: i for i, sid in enumerate(publication_order(data.studies, data.studies))}


def study_order(rank: dict[str, int], row: dict[str, str]) -> tuple:
    """Rows of decisions.csv and flags.csv in publication order, the CSV's order within."""
    sid = row.get("study_id", "")
    return (rank.get(sid, len(rank)), sid)


def figure_block(data: ReportData, stem: str, caption: str, alt: str = "") -> list[Block]:
    """A figure; ``alt`` says what it shows for screen readers (the caption when empty)."""
    if stem not in data.figures:
        return [Paragraph(cell(f"Figure {stem} was not provided."))]
    path, svg = data.figures[stem]
    return [Image(svg=path, svg_bytes=svg, caption=caption, stem=stem, alt=alt)]


def spelled_interval(result: dict, src: str, low: str, high: str) -> Cell:
    """``0.119 to 0.998``, each end tagged with its source."""
    return cell(num(result, src, low, "bound"), " to ", num(result, src, high, "bound"))


def unit_word(result: dict) -> str:
    """What the pooled counts count ("patients", "lesions", or "units" when mixed)."""
    units = {str(s.get("unit")) for s in result.get("included_studies") or [] if s.get("unit")}
    return units.pop() if len(units) == 1 else "units"


def primary_label(data: ReportData) -> str:
    """The primary method's label as the pooled JSON gives it (the engine may choose it)."""
    result = data.pooled[primary_outcome(data.plan)]["primary"]
    return str(result.get("method_label") or data.plan.method_label("primary"))


def primary_reason(data: ReportData) -> str:
    """Why the primary method was chosen, from the pooled JSON, else the analysis plan."""
    result = data.pooled[primary_outcome(data.plan)]["primary"]
    spec = (data.plan.config.get("methods") or {}).get("primary") or {}
    return str(result.get("method_reason") or spec.get("reason") or "").strip()


# One method's result in a pooled JSON: (name in the plan, label or None, the result, the
# result's JSON pointer in the file).
PooledMethod = tuple[str, str | None, dict, str]


def pooled_methods(doc: dict) -> list[PooledMethod]:
    """Every method of a pooled result, the primary first, named as the plan names them: the
    primary by the method the plan's rule chose, the configured primary as "primary" wherever
    the rule put it (among the secondary methods as CONFIGURED_PRIMARY)."""
    chosen = (doc.get("primary_selection") or {}).get("method") or "primary"
    found: list[PooledMethod] = [(str(chosen), doc.get("method_label"), doc, "")]
    for name, result in (doc.get("secondary") or {}).items():
        if isinstance(result, dict):
            plan_name = "primary" if name == CONFIGURED_PRIMARY else str(name)
            found.append((plan_name, result.get("label"), result, pointer("secondary", name)))
    return found
