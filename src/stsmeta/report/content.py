"""What the report says, section by section, built from the pooled JSON, tables and plan.

Nothing here reads files or the clock: the inputs arrive loaded (``ReportData``) and the
result is a list of blocks (``stsmeta.report.document``) that is rendered as HTML and Markdown.
Every number from a pooled result is a ``Num`` that names the JSON value it shows.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import Plan, study_label
from stsmeta.presentation.wording import flag_text, joined_terms, term
from stsmeta.report.document import (
    Block,
    Bullets,
    Cell,
    Code,
    Heading,
    Image,
    Num,
    Paragraph,
    Table,
    cell,
)
from stsmeta.report.previous import Previous
from stsmeta.report.references import REFERENCES, cite, references_for

NBSP_COMMA = ",\u00a0"  # intervals stay on one line in narrow table cells
CENTRE_KEYS = ("n_centres", "n_centers", "centres", "centers")
COMPARATIVE_WORDS = ("control", "random", "trial", "comparative", "comparator")


@dataclass(frozen=True)
class ReportData:
    plan: Plan
    pooled: dict[str, dict[str, dict]]
    studies: dict[str, dict]
    tables: dict[str, list[dict[str, str]]]
    figures: dict[str, tuple[Path, bytes, bytes | None]]  # stem -> (PNG path, PNG, SVG)
    checksums: dict[str, str]
    software: tuple[tuple[str, str], ...]
    previous: Previous | None = None
    coverage: dict | None = None  # summary JSON of `stsmeta coverage-summary`
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------ numbers with sources


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
    return cell("; ".join(str(w) for w in result.get("warnings") or []))


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


# ------------------------------------------------------------------ small helpers


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


# ------------------------------------------------------------------ sections


def header_section(data: ReportData) -> list[Block]:
    plan = data.plan
    title = str(plan.report.get("title") or "stsmeta report")
    authors = plan.report.get("authors") or []
    version = str(plan.report.get("version") or "")
    return [
        Heading(1, title, "top"),
        Paragraph(cell(f"Authors: {joined(authors)}." if authors else "Authors: not given.")),
        Paragraph(cell(f"Version {version}; date: {data_date(plan, data.studies)}.")),
        *unreleased_section(plan),
    ]


def unreleased_section(plan) -> list[Block]:
    """What differs from the published archive of this version (set by the workflow)."""
    changes = plan.report.get("unreleased_changes") or []
    if not changes:
        return []
    return [
        Paragraph(
            cell(
                "These results differ from the published archive of this version ("
                + "; ".join(changes)
                + "): bump report.version before publishing them."
            )
        )
    ]


def question_section(data: ReportData) -> list[Block]:
    plan = data.plan
    question = plan.report.get("question") or {}
    ids = included_ids(data)
    types = sorted(
        {term(t) for s in ids for t in data.studies.get(s, {}).get("calcinosis_types") or []}
    )
    diseases = sorted({term(d) for s in ids for d in data.studies.get(s, {}).get("diseases") or []})
    eligibility = plan.config.get("eligibility") or {}
    routes = joined(eligibility.get("routes") or []) or "any route"
    population = question.get("population") or (
        "People with calcinosis cutis treated in the included studies; calcinosis types: "
        f"{joined(types) or 'not recorded'}; underlying diseases: "
        f"{joined(diseases) or 'not recorded'}."
    )
    intervention = question.get("intervention") or f"Sodium thiosulfate given {routes}."
    comparator = question.get("comparator") or (
        "None: no included study has a comparator group."
        if not comparative_studies(data, ids)
        else "Comparator groups as reported by the comparative studies."
    )
    items = [
        cell(f"Population: {population}"),
        cell(f"Intervention: {intervention}"),
        cell(f"Comparator: {comparator}"),
    ]
    for outcome in plan.outcomes:
        spec = plan.config["outcomes"][outcome] or {}
        role = spec.get("role", "")
        items.append(
            cell(
                f"Outcome ({role}): {plan.outcome_label(outcome)}: "
                f"{str(spec.get('definition') or 'no definition given').strip()}"
            )
        )
    return [Heading(2, "Question", "question"), Bullets(tuple(items))]


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


def methods_section(data: ReportData) -> list[Block]:
    plan = data.plan
    methods = plan.config.get("methods") or {}
    primary_spec = methods.get("primary") or {}
    eligibility = plan.config.get("eligibility") or {}
    blocks: list[Block] = [Heading(2, "Methods", "methods")]
    routes = joined(eligibility.get("routes") or []) or "any"
    systemic = (
        "Studies or patients given systemic sodium thiosulfate at the same time are excluded from "
        "the primary analysis"
        + (
            " and included in a sensitivity scenario."
            if any(
                (s or {}).get("include_systemic_sts")
                for s in (plan.config.get("scenarios") or {}).values()
            )
            else "."
        )
        if eligibility.get("exclude_systemic_sts")
        else "Studies with systemic sodium thiosulfate are not excluded."
    )
    blocks.append(
        Paragraph(
            cell(
                f"Eligibility: route {routes}. {systemic} Each study's inclusion or exclusion is "
                "recorded with its reason (see Excluded studies)."
            )
        )
    )
    settings = method_settings(data, "primary")
    keys = references_for(settings)
    blocks.append(
        Paragraph(
            cell(
                "Primary method: "
                f"{method_text(plan.method_label('primary'), settings.get('description'))}"
                f" {cite(keys)}".strip()
                + "."
            )
        )
    )
    if primary_spec.get("reason"):
        blocks.append(
            Paragraph(cell(f"Why this primary method: {str(primary_spec['reason']).strip()}"))
        )
    items = []
    for name in plan.secondary_methods:
        s = method_settings(data, name)
        items.append(
            cell(
                f"{method_text(plan.method_label(name), s.get('description'))} "
                f"{cite(references_for(s))}".strip()
            )
        )
    if items:
        blocks.append(Paragraph(cell("Secondary methods, shown beside the primary one:")))
        blocks.append(Bullets(tuple(items)))
    study_ci = str(plan.config.get("study_ci") or settings.get("study_ci") or "cp")
    blocks.append(
        Paragraph(
            cell(
                f"Confidence level {level_text(plan)}. Study intervals: "
                f"{'Clopper-Pearson exact' if study_ci == 'cp' else study_ci} "
                "(Clopper & Pearson 1934). Prediction intervals for a new study are shown "
                "where the method gives one (Higgins et al. 2009). Heterogeneity: τ² "
                "(between-study variance on the analysis scale), I² and Cochran's Q with its "
                "p-value."
            )
        )
    )
    if plan.subgroups:
        blocks.append(
            Paragraph(
                cell(
                    "Subgroups (primary method, within each level): "
                    + "; ".join(plan.subgroups.values())
                    + "."
                )
            )
        )
    scenario_items = []
    for name in plan.scenarios:
        spec = (plan.config.get("scenarios") or {}).get(name) or {}
        described = (data.pooled[primary_outcome(plan)].get(name) or {}).get("scenario_description")
        text = str(described).strip().rstrip(".") if described else describe_scenario(spec)
        scenario_items.append(cell(f"{plan.scenario_label(name)} ({name}): {text}."))
    extras = []
    if plan.config.get("leave_one_out"):
        extras.append(cell("Leave-one-out: the primary analysis repeated without each study."))
    if plan.config.get("cumulative_by_year"):
        extras.append(
            cell(
                "Cumulative analysis: the primary method as studies are added in "
                "order of publication year."
            )
        )
    blocks.append(Paragraph(cell("Sensitivity scenarios:")))
    blocks.append(Bullets(tuple(scenario_items + extras)))
    blocks.append(
        Paragraph(
            cell(
                "Risk of bias: the eight questions of Murad et al. for case reports and case "
                "series (Murad et al. 2018). Results can be checked against R metafor "
                "(Viechtbauer 2010)."
            )
        )
    )
    blocks.append(
        Table(
            ("Software", "Version"),
            tuple((cell(n), cell(v)) for n, v in data.software),
            caption="Software and versions",
        )
    )
    blocks.append(Heading(3, "References", "references"))
    blocks.append(Bullets(tuple(cell(text) for text in REFERENCES.values())))
    return blocks


def csv_cell(row: dict[str, str], key: str) -> Cell:
    return cell(str(row.get(key) or ""))


YES_NO = {"true": "yes", "false": "no"}


def csv_order(row: dict[str, str]) -> tuple:
    """Publication order for table rows: year, study id; no year last."""
    year = str(row.get("year") or "")
    return (not year.isdigit(), int(year) if year.isdigit() else 0, row.get("study_id", ""))


def outcome_flags(flags: list[dict[str, str]], outcome: str | None) -> str:
    """The flags of flags.csv that concern a study's row for one outcome, as phrases.

    studies.csv joins a row's flags with '; ', which some flag texts contain too; flags.csv
    keeps them apart, so the cell is built from it.
    """
    own = f"outcomes.{outcome}"
    return "; ".join(
        flag_text(f.get("reason", ""))
        for f in flags
        if not str(f.get("field", "")).startswith("outcomes")
        or f.get("field") == own
        or str(f.get("field", "")).startswith(own + ".")
    )


def studies_section(data: ReportData) -> list[Block]:
    plan = data.plan
    rows = data.tables.get("studies") or []
    first: dict[str, dict[str, str]] = {}
    for row in rows:
        first.setdefault(row.get("study_id", ""), row)
    in_primary = {
        s: [
            plan.outcome_label(o)
            for o in plan.outcomes
            if s in (data.pooled[o]["primary"].get("included") or [])
        ]
        for s in first
    }
    characteristics = tuple(
        (
            csv_cell(r, "label"),
            cell(year_text(r.get("year"))),
            cell(joined_terms(r.get("design"), "design")),
            cell(joined_terms(r.get("calcinosis_type"), "calcinosis_type")),
            cell(joined_terms(r.get("disease"), "disease")),
            cell(joined_terms(r.get("route"), "route")),
            csv_cell(r, "concentration_mg_per_ml"),
            cell(YES_NO.get(r.get("systemic_sts", ""), r.get("systemic_sts", ""))),
            cell(joined_terms(r.get("co_interventions"), "co_intervention") or "none"),
            cell(joined(in_primary[s]) or "none"),
        )
        for s, r in sorted(first.items(), key=lambda kv: csv_order(kv[1]))
    )
    flags_by_study: dict[str, list[dict[str, str]]] = {}
    for flag in data.tables.get("flags") or []:
        flags_by_study.setdefault(flag.get("study_id", ""), []).append(flag)
    outcome_rows = tuple(
        (
            csv_cell(r, "label"),
            cell(plan.outcome_label(r.get("outcome", ""))),
            cell(
                f"{r.get('events')}/{r.get('n')}"
                if r.get("events") and r.get("n")
                else "not reported"
            ),
            cell(term(r.get("unit"), "unit").lower() if r.get("unit") else ""),
            csv_cell(r, "proportion"),
            csv_cell(r, "timepoint_text"),
            csv_cell(r, "derived_from_percent"),
            cell(outcome_flags(flags_by_study.get(r.get("study_id", ""), []), r.get("outcome"))),
        )
        for r in sorted(rows, key=lambda r: csv_order(r) + (r.get("outcome", ""),))
    )
    blocks: list[Block] = [
        Heading(2, "Included studies", "included-studies"),
        Paragraph(
            cell(
                f"{len(first)} studies in results/tables/studies.csv; "
                "the last column names the outcomes for which each study is in the "
                "primary analysis."
            )
        ),
        Table(
            (
                "Study",
                "Year",
                "Design",
                "Calcinosis type",
                "Disease",
                "Route",
                "Concentration (mg/mL)",
                "Systemic STS",
                "Co-interventions",
                "In primary analysis",
            ),
            characteristics,
            caption="Study characteristics",
        ),
        Table(
            (
                "Study",
                "Outcome",
                "Events/N",
                "Unit",
                "Proportion",
                "Time point",
                "Derived from %",
                "Flags",
            ),
            outcome_rows,
            caption="Outcome data (primary reading)",
        ),
    ]
    excluded = []
    for outcome in plan.outcomes:
        for entry in data.pooled[outcome]["primary"].get("excluded") or []:
            sid = str(entry.get("study_id"))
            name = str(entry.get("label") or study_label(sid, data.studies))
            excluded.append(
                (
                    cell(name),
                    cell(plan.outcome_label(outcome)),
                    cell(scenario_words(str(entry.get("reason") or "no reason recorded"), plan)),
                )
            )
    blocks.append(Heading(2, "Excluded studies", "excluded-studies"))
    if excluded:
        blocks.append(
            Table(
                ("Study", "Outcome", "Reason"),
                tuple(excluded),
                caption="Studies excluded from the primary analysis, with reasons",
            )
        )
    else:
        blocks.append(Paragraph(cell("No study was excluded from the primary analysis.")))
    blocks.append(Heading(2, "Extraction decisions and data-quality flags", "decisions"))
    for name, caption in (
        ("decisions", "Extraction decisions (results/tables/decisions.csv)"),
        ("flags", "Data-quality flags (results/tables/flags.csv)"),
    ):
        table_rows = data.tables.get(name) or []
        if not table_rows:
            blocks.append(Paragraph(cell(f"{caption}: none.")))
            continue
        columns = tuple(table_rows[0].keys())
        rank = publication_rank(data)
        blocks.append(
            Table(
                tuple(TABLE_HEADERS.get(c, c) for c in columns),
                tuple(
                    tuple(table_cell(data, r, c) for c in columns)
                    for r in sorted(table_rows, key=lambda r: study_order(rank, r))
                ),
                caption=caption,
            )
        )
    return blocks


TABLE_HEADERS = {
    "study_id": "Study",
    "decision_id": "Decision",
    "id": "Decision",
    "field": "Field",
    "issue": "Issue",
    "chosen": "Chosen",
    "alternatives": "Alternatives",
    "reason": "Reason",
}


def publication_rank(data: ReportData) -> dict[str, int]:
    """Each study's place in publication order (computed once: tables have a row per study)."""
    return {sid: i for i, sid in enumerate(publication_order(data.studies, data.studies))}


def study_order(rank: dict[str, int], row: dict[str, str]) -> tuple:
    """Rows of decisions.csv and flags.csv in publication order, the CSV's order within."""
    sid = row.get("study_id", "")
    return (rank.get(sid, len(rank)), sid)


def table_cell(data: ReportData, row: dict[str, str], column: str) -> Cell:
    value = str(row.get(column) or "")
    if column == "study_id":
        return cell(study_label(value, data.studies))
    if column == "reason" and "decision_id" not in row and "issue" not in row:
        return cell(flag_text(value))  # a flag's reason
    return cell(value)


def figure_block(data: ReportData, stem: str, caption: str) -> list[Block]:
    if stem not in data.figures:
        return [Paragraph(cell(f"Figure {stem} was not provided."))]
    path, png, svg = data.figures[stem]
    return [Image(png=path, png_bytes=png, caption=caption, stem=stem, svg_bytes=svg)]


def results_section(data: ReportData) -> list[Block]:
    plan = data.plan
    blocks: list[Block] = [Heading(2, "Results", "results")]
    for outcome in plan.outcomes:
        label = plan.outcome_label(outcome)
        primary = data.pooled[outcome]["primary"]
        src = file_src(outcome, "primary")
        blocks.append(Heading(3, label, anchor("results", outcome)))
        rows = [result_row(plan.method_label("primary") + " (primary)", primary, src)]
        secondary = primary.get("secondary") or {}
        for name in [m for m in plan.secondary_methods if m in secondary] + [
            m for m in secondary if m not in plan.secondary_methods
        ]:
            rows.append(
                result_row(
                    plan.method_label(name), secondary[name], f"{src}{pointer('secondary', name)}"
                )
            )
        blocks.append(
            Table(
                RESULT_HEADER,
                tuple(rows),
                caption=f"{label}: every method side by side ({level_text(plan)} CI and PI)",
            )
        )
        # Extra statistics of the GLMM, each only when the engine gave a value.
        if any(primary.get(k) is not None for k in ("profile_ci_low", "lrt_stat", "tau2_ci_low")):
            parts: list = []
            if primary.get("profile_ci_low") is not None:
                parts += [
                    "Profile-likelihood CI of the primary method: [",
                    num(primary, src, "profile_ci_low", "bound"),
                    ", ",
                    num(primary, src, "profile_ci_high", "bound"),
                    "]. ",
                ]
            if primary.get("tau2_ci_low") is not None:
                parts += [
                    "τ² CI: [",
                    num(primary, src, "tau2_ci_low", "tau2"),
                    ", ",
                    num(primary, src, "tau2_ci_high", "tau2"),
                    "]. ",
                ]
            if primary.get("lrt_stat") is not None:
                test = f" ({primary['lrt_test']})" if primary.get("lrt_test") else ""
                parts += [
                    f"Likelihood-ratio test of τ² = 0{test}: statistic ",
                    num(primary, src, "lrt_stat", "q_statistic"),
                    ", p = ",
                    num(primary, src, "lrt_p", "p_value"),
                    ". ",
                ]
            if primary.get("q_test"):
                parts += [f"Q of the primary method: {primary['q_test']}."]
            blocks.append(Paragraph(tuple(parts)))
        blocks += figure_block(
            data,
            f"forest_{outcome}",
            f"Forest plot, {label.lower()}: studies, subgroup and pooled "
            "estimates of every method, prediction interval, heterogeneity.",
        )
    return blocks


def subgroups_section(data: ReportData) -> list[Block]:
    plan = data.plan
    blocks: list[Block] = [Heading(2, "Subgroups", "subgroups")]
    for outcome in plan.outcomes:
        primary = data.pooled[outcome]["primary"]
        for variable, var_label in plan.subgroups.items():
            levels = (primary.get("subgroups") or {}).get(variable) or {}
            if not levels:
                blocks.append(
                    Paragraph(
                        cell(f"{plan.outcome_label(outcome)}, {var_label}: no subgroup results.")
                    )
                )
                continue
            rows = []
            for level in sorted(levels):
                result = levels[level] or {}
                src = f"{file_src(outcome, 'primary')}{pointer('subgroups', variable, level)}"
                row = result_row(term(level, variable), result, src)
                rows.append(row)
            blocks.append(
                Table(
                    ("Level",) + RESULT_HEADER[1:],
                    tuple(rows),
                    caption=f"{plan.outcome_label(outcome)} by {var_label.lower()} "
                    f"({plan.method_label('primary')})",
                )
            )
    return blocks


def sensitivity_section(data: ReportData) -> list[Block]:
    plan = data.plan
    blocks: list[Block] = [Heading(2, "Sensitivity analyses", "sensitivity")]
    for outcome in plan.outcomes:
        label = plan.outcome_label(outcome)
        blocks.append(Heading(3, label, anchor("sensitivity", outcome)))
        rows = []
        for scenario in plan.scenarios:
            result = data.pooled[outcome][scenario]
            src = file_src(outcome, scenario)
            estimate, ci, pi = estimate_cells(result, src)
            rows.append(
                (
                    cell(plan.scenario_label(scenario)),
                    cell(num(result, src, "k", "count")),
                    events_cell(result, src),
                    estimate,
                    ci,
                    pi,
                    cell(applied_text(result.get("applied"), data.studies)),
                    cell(str(len(result.get("excluded") or []))),
                    warnings_cell(result),
                )
            )
        blocks.append(
            Table(
                (
                    "Scenario",
                    "k",
                    "Events/N",
                    "Estimate",
                    "CI",
                    "PI",
                    "Applied",
                    "Excluded",
                    "Notes",
                ),
                tuple(rows),
                caption=f"{label}: named scenarios ({plan.method_label('primary')})",
            )
        )
        primary = data.pooled[outcome]["primary"]
        loo = primary.get("leave_one_out") or {}
        if loo:
            src0 = file_src(outcome, "primary")
            loo_rows = []
            for study_id in sorted(loo):
                src = f"{src0}{pointer('leave_one_out', study_id)}"
                estimate, ci, _ = estimate_cells(loo[study_id], src)
                loo_rows.append(
                    (
                        cell(study_label(study_id, data.studies)),
                        cell(num(loo[study_id], src, "k", "count")),
                        events_cell(loo[study_id], src),
                        estimate,
                        ci,
                        warnings_cell(loo[study_id]),
                    )
                )
            blocks.append(
                Table(
                    ("Study left out", "k", "Events/N", "Estimate", "CI", "Notes"),
                    tuple(loo_rows),
                    caption=f"{label}: leave-one-out",
                )
            )
        blocks += figure_block(
            data,
            f"sensitivity_{outcome}",
            f"Sensitivity analyses, {label.lower()}: each scenario and each "
            "study left out against the primary analysis.",
        )
        cumulative = primary.get("cumulative") or []
        if cumulative:
            src0 = file_src(outcome, "primary")
            cum_rows = []
            for i, step in enumerate(cumulative):
                src = f"{src0}{pointer('cumulative', str(i))}"
                estimate, ci, _ = estimate_cells(step, src)
                cum_rows.append(
                    (
                        cell(study_label(str(step.get("added_study")), data.studies)),
                        (
                            cell(num(step, src, "year", "count"))
                            if step.get("year") is not None
                            else cell(NO_YEAR)
                        ),
                        cell(num(step, src, "k", "count")),
                        events_cell(step, src),
                        estimate,
                        ci,
                        warnings_cell(step),
                    )
                )
            blocks.append(
                Table(
                    ("Study added", "Year", "k", "Events/N", "Estimate", "CI", "Notes"),
                    tuple(cum_rows),
                    caption=f"{label}: cumulative analysis by publication year",
                )
            )
        blocks += figure_block(
            data,
            f"cumulative_{outcome}",
            f"Cumulative analysis by publication year, {label.lower()}.",
        )
    return blocks


def risk_of_bias_section(data: ReportData) -> list[Block]:
    from stsmeta.figures.risk_of_bias import QUESTION_TEXT, QUESTIONS, judgement_of

    order = publication_order(data.studies, data.studies)
    summary = tuple(
        (cell(study_label(s, data.studies)),)
        + tuple(cell(judgement_of(data.studies[s], q).label) for q in QUESTIONS)
        for s in order
    )
    reasons = []
    for s in order:
        for q in QUESTIONS:
            entry = (data.studies[s].get("risk_of_bias") or {}).get(q)
            if isinstance(entry, dict) and entry.get("reason"):
                reasons.append(
                    (
                        cell(study_label(s, data.studies)),
                        cell(q.upper()),
                        cell(judgement_of(data.studies[s], q).label),
                        cell(str(entry["reason"])),
                    )
                )
    blocks: list[Block] = [
        Heading(2, "Risk of bias", "risk-of-bias"),
        Paragraph(
            cell(
                "Murad et al. (2018) questions: "
                + " ".join(f"{q.upper()}: {t}" for q, t in QUESTION_TEXT.items())
            )
        ),
        Table(
            ("Study",) + tuple(q.upper() for q in QUESTIONS),
            summary,
            caption="Judgements by study and question",
        ),
    ]
    blocks += figure_block(
        data,
        "risk_of_bias",
        "Risk of bias (Murad et al. 2018) by study and question; colour and symbol "
        "both code the judgement.",
    )
    if reasons:
        blocks.append(
            Table(
                ("Study", "Question", "Judgement", "Reason"),
                tuple(reasons),
                caption="Reasons for each judgement",
            )
        )
    return blocks


def limitations_section(data: ReportData) -> list[Block]:
    plan = data.plan
    outcome = primary_outcome(plan)
    primary = data.pooled[outcome]["primary"]
    src = file_src(outcome, "primary")
    entries = primary.get("studies") or []
    full = sum(1 for e in entries if e.get("n") and e.get("events") == e.get("n"))
    zero = sum(1 for e in entries if e.get("n") and e.get("events") == 0)
    largest = max((e.get("n") or 0 for e in entries), default=0)
    ids = [str(s) for s in primary.get("included") or []]
    designs = Counter(term(data.studies.get(s, {}).get("design") or "not recorded") for s in ids)
    items: list[Cell] = [
        cell(
            f"Few studies: the primary analysis of {plan.outcome_label(outcome).lower()} rests "
            "on k = ",
            num(primary, src, "k", "count"),
            " studies with ",
            num(primary, src, "n", "count"),
            f" units in all; the largest has n = {largest}.",
        ),
        cell(
            f"{full} of {len(entries)} studies report 100% and {zero} report 0% for this "
            "outcome; with so many extreme proportions, inverse-variance methods depend on "
            "continuity corrections and heterogeneity is poorly estimated."
        ),
        cell(
            "Designs: " + (joined(f"{d} ({c})" for d, c in sorted(designs.items())) or "none") + "."
        ),
    ]
    centres = [
        data.studies.get(s, {}).get(key)
        for s in ids
        for key in CENTRE_KEYS
        if data.studies.get(s, {}).get(key) is not None
    ]
    if centres:
        single = sum(1 for c in centres if c == 1 or (isinstance(c, list) and len(c) == 1))
        items.append(
            cell(
                f"Single centres: {single} of {len(centres)} studies that record "
                "their centres come from one centre."
            )
        )
    else:
        settings = [
            f"{study_label(s, data.studies)}: {data.studies[s]['setting']}"
            for s in ids
            if (data.studies.get(s) or {}).get("setting")
        ]
        items.append(
            cell(
                "Single centres: the study files do not record the number of centres"
                + (f"; settings recorded: {'; '.join(settings)}" if settings else "")
                + f" ({len(ids) - len(settings)} of {len(ids)} studies record no setting)."
            )
        )
    if not comparative_studies(data, ids):
        items.append(
            cell(
                "No comparator: no included study has a control group, so the "
                "pooled proportions are uncontrolled response rates; they cannot "
                "separate the effect of sodium thiosulfate from the natural course "
                "or from co-interventions."
            )
        )
    k = primary.get("k")
    if isinstance(k, int) and k < 10:
        items.append(
            cell(
                "With fewer than ten studies, small-study effects (publication bias) "
                "cannot be assessed."
            )
        )
    not_estimable = [
        f"{plan.outcome_label(o)} / {plan.scenario_label(s)}"
        for o in plan.outcomes
        for s in plan.scenarios
        if not numbers.is_estimable(data.pooled[o][s])
    ]
    if not_estimable:
        items.append(cell("Not estimable: " + "; ".join(not_estimable) + "."))
    n_flags, n_decisions = (
        len(data.tables.get("flags") or []),
        len(data.tables.get("decisions") or []),
    )
    items.append(
        cell(
            f"{n_decisions} extraction decisions and {n_flags} data-quality flags "
            "(listed above) rest on judgement; the sensitivity scenarios show their "
            "effect."
        )
    )
    return [Heading(2, "Limitations", "limitations"), Bullets(tuple(items))]


def changes_section(data: ReportData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Changes since the previous version", "changes")]
    previous = data.previous
    if previous is None:
        blocks.append(Paragraph(cell("First version: no previous version was given.")))
        return blocks
    plan = data.plan

    def comparable(study: dict) -> dict:
        return {k: v for k, v in study.items() if not k.startswith("_")}

    added = sorted(set(data.studies) - set(previous.studies))
    removed = sorted(set(previous.studies) - set(data.studies))
    changed = sorted(
        s
        for s in set(data.studies) & set(previous.studies)
        if comparable(data.studies[s]) != comparable(previous.studies[s])
    )
    blocks.append(Paragraph(cell(f"Compared with version {previous.version} ({previous.source}).")))
    blocks.append(
        Bullets(
            (
                cell(
                    "Studies added: "
                    + (joined(study_label(s, data.studies) for s in added) or "none")
                ),
                cell(
                    "Studies removed: "
                    + (joined(study_label(s, previous.studies) for s in removed) or "none")
                ),
                cell(
                    "Studies changed: "
                    + (joined(study_label(s, data.studies) for s in changed) or "none")
                ),
            )
        )
    )
    rows = []
    for outcome in plan.outcomes:
        for scenario in plan.scenarios:
            now = data.pooled[outcome][scenario]
            before = (previous.pooled.get(outcome) or {}).get(scenario)
            before_cell = (
                cell(
                    "k = ",
                    numbers.count(before.get("k")),
                    "; ",
                    numbers.estimate_with_interval(
                        before.get("estimate"), before.get("ci_low"), before.get("ci_high")
                    ),
                )
                if before is not None
                else cell("not in the previous version")
            )
            src = file_src(outcome, scenario)
            rows.append(
                (
                    cell(plan.outcome_label(outcome)),
                    cell(plan.scenario_label(scenario)),
                    before_cell,
                    cell("k = ", num(now, src, "k", "count"), "; ") + estimate_with_ci(now, src),
                )
            )
    blocks.append(
        Table(
            ("Outcome", "Scenario", f"Version {previous.version}", "This version"),
            tuple(rows),
            caption=f"Pooled estimates before and after ({plan.method_label('primary')})",
        )
    )
    return blocks


def fingerprint(data: ReportData) -> str:
    """SHA-256 over the analysis plan and the raw study files: one id for what went in.

    Derived files (pooled JSON, tables) are left out so that the id does not depend on the
    last digit a platform's floating point gives.
    """
    lines = [f"{data.checksums.get(data.plan.path, '')}  {data.plan.path}"]
    lines += [f"{data.studies[s].get('source_sha256') or ''}  {s}" for s in sorted(data.studies)]
    return hashlib.sha256(("\n".join(lines) + "\n").encode("utf-8")).hexdigest()


def citation_section(data: ReportData) -> list[Block]:
    plan = data.plan
    authors = joined(plan.report.get("authors") or []) or "stsmeta contributors"
    title = str(plan.report.get("title") or "stsmeta report")
    version = str(plan.report.get("version") or "")
    return [
        Heading(2, "How to cite these results", "cite"),
        Paragraph(
            cell(
                f"{authors}. {title}. Version {version} ({data_date(plan, data.studies)}). "
                f"Results directory stsmeta-results-{version}, input fingerprint "
                f"sha256:{fingerprint(data)}."
            )
        ),
        Paragraph(
            cell(
                "Cite the version and the fingerprint: they identify the analysis plan "
                "and the study files exactly (the fingerprint is the SHA-256 of the "
                "lines '<sha256 of config>  <config path>' and '<sha256 of study file>  "
                "<study id>', one per study in id order). Cite the methods references "
                "for the methods."
            )
        ),
    ]


def checksums_section(data: ReportData) -> list[Block]:
    rows = tuple((cell(path), cell(sha)) for path, sha in sorted(data.checksums.items()))
    raw = tuple(
        (cell(study_label(s, data.studies)), cell(str(data.studies[s].get("source_sha256") or "")))
        for s in sorted(data.studies)
    )
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(data.checksums.items()))
    return [
        Heading(2, "Checksums of the inputs", "checksums"),
        Table(("File", "SHA-256"), rows, caption="Files this report was made from"),
        Table(
            ("Study", "SHA-256 of the study file"),
            raw,
            caption="Raw study files (as recorded in the normalised studies)",
        ),
        Paragraph(cell("The same list in sha256sum format (check with `sha256sum -c`):")),
        Code(lines.rstrip("\n")),
    ]


def build_report(data: ReportData) -> list[Block]:
    """Every section of the report, in reading order."""
    return (
        header_section(data)
        + summary_section(data)
        + question_section(data)
        + methods_section(data)
        + studies_section(data)
        + results_section(data)
        + subgroups_section(data)
        + sensitivity_section(data)
        + coverage_section(data)
        + risk_of_bias_section(data)
        + limitations_section(data)
        + changes_section(data)
        + citation_section(data)
        + checksums_section(data)
    )


# ------------------------------------------------------------------ summary and coverage


def spelled_interval(result: dict, src: str, low: str, high: str) -> Cell:
    """``0.119 to 0.998``, each end tagged with its source."""
    return cell(num(result, src, low, "bound"), " to ", num(result, src, high, "bound"))


def unit_word(result: dict) -> str:
    """What the pooled counts count ("patients", "lesions", or "units" when mixed)."""
    units = {str(s.get("unit")) for s in result.get("included_studies") or [] if s.get("unit")}
    return units.pop() if len(units) == 1 else "units"


def common_effect_name(result: dict) -> str | None:
    """The secondary method that is the exact common-effect (Clopper-Pearson) pool, if any."""
    for name, sec in sorted((result.get("secondary") or {}).items()):
        if (sec.get("settings") or {}).get("method") == "common":
            return name
    return None


def secondary_range(plan: Plan, result: dict, src: str) -> Cell:
    """The spread of the secondary methods' estimates, in words."""
    secondary = result.get("secondary") or {}
    found = [
        (float(sec["estimate"]), name)
        for name, sec in sorted(secondary.items())
        if numbers.is_estimable(sec)
    ]
    if not found:
        return cell("No secondary method gives an estimate.") if secondary else cell()
    (_, low), (_, high) = min(found), max(found)
    tag = {n: f"{src}{pointer('secondary', n)}" for n in (low, high)}
    if low == high:
        return cell(
            f"The only secondary method with an estimate ({plan.method_label(low)}) gives ",
            num(secondary[low], tag[low], "estimate", "proportion"),
            ".",
        )
    return cell(
        f"The {len(found)} secondary methods with an estimate range from ",
        num(secondary[low], tag[low], "estimate", "proportion"),
        f" ({plan.method_label(low)}) to ",
        num(secondary[high], tag[high], "estimate", "proportion"),
        f" ({plan.method_label(high)}).",
    )


def not_estimable_reason(result: dict) -> str:
    for warning in result.get("warnings") or []:
        return str(warning).removeprefix("not estimable: ").strip().rstrip(".")
    return "no reason recorded"


def outcome_summary(data: ReportData, outcome: str) -> Cell:
    plan = data.plan
    result = data.pooled[outcome]["primary"]
    src = file_src(outcome, "primary")
    role = str((plan.config["outcomes"][outcome] or {}).get("role") or "")
    level = level_text(plan)
    units = unit_word(result)
    head = f"{plan.outcome_label(outcome)}" + (f" ({role} outcome)" if role else "") + ": "
    base = cell(
        " from ",
        num(result, src, "k", "count"),
        " studies with ",
        num(result, src, "events", "count"),
        " events in ",
        num(result, src, "n", "count"),
        f" {units}.",
    )
    if numbers.is_estimable(result):
        parts = cell(
            head,
            "pooled proportion ",
            num(result, src, "estimate", "proportion"),
            f" ({level} CI ",
            *spelled_interval(result, src, "ci_low", "ci_high"),
        )
        if numbers.is_estimable({"estimate": result.get("pi_low")}) and numbers.is_estimable(
            {"estimate": result.get("pi_high")}
        ):
            parts += cell(
                f"; {level} prediction interval for a new study ",
                *spelled_interval(result, src, "pi_low", "pi_high"),
            )
        parts += cell(f") by the primary method, {plan.method_label('primary')},") + base
        return parts + (" ",) + secondary_range(plan, result, src)
    parts = (
        cell(
            head,
            f"the primary method ({plan.method_label('primary')}) gives no estimate: "
            f"{not_estimable_reason(result)}. Data: ",
        )
        + base[1:-1]
        + (f" {units}",)
    )
    events, n = result.get("events"), result.get("n")
    if isinstance(n, int) and n > 0 and events in (0, n):
        parts += cell(f" ({'every one' if events == n else 'none'} of them).")
    else:
        parts += cell(".")
    common = common_effect_name(result)
    sec = (result.get("secondary") or {}).get(common or "") or {}
    if common and numbers.is_estimable(sec):
        csrc = f"{src}{pointer('secondary', common)}"
        parts += cell(
            f" The answer is the exact common-effect result ({plan.method_label(common)}): ",
            num(sec, csrc, "estimate", "proportion"),
            f" ({level} CI ",
            *spelled_interval(sec, csrc, "ci_low", "ci_high"),
            ").",
        )
    return parts + (" ",) + secondary_range(plan, result, src)


def summary_section(data: ReportData) -> list[Block]:
    """The answer first: each outcome's primary estimate, in words."""
    plan = data.plan
    items = [outcome_summary(data, o) for o in plan.outcomes]
    counts = []
    for outcome in plan.outcomes:
        result = data.pooled[outcome]["primary"]
        counts.append(
            cell(
                f"{plan.outcome_label(outcome).lower()}: ",
                num(result, file_src(outcome, "primary"), "k", "count"),
                f" included, {len(result.get('excluded') or [])} excluded",
            )
        )
    studies_item = cell(f"Studies: {len(data.studies)} in the study files; ")
    for i, part in enumerate(counts):
        studies_item += (("; " if i else ""),) + part
    items.append(studies_item + (" (reasons under Excluded studies).",))
    rec = (data.coverage or {}).get("recommendation") or {}
    if data.coverage is not None:
        if rec.get("method"):
            items.append(
                cell(
                    f"Coverage study: for this evidence base, {rec.get('label') or rec['method']} "
                    "gave coverage closest to nominal without failing (see Coverage of the "
                    "intervals)."
                )
            )
        else:
            items.append(
                cell("Coverage study: no method qualified (see Coverage of the intervals).")
            )
    return [Heading(2, "Summary", "summary"), Bullets(tuple(items))]


COVERAGE_SRC = "coverage/summary.json#"  # the --coverage file


def cov_num(doc_value: object, path: tuple, fmt: str) -> Num:
    """A number of the coverage summary JSON, tagged ``coverage/summary.json#<pointer>``."""
    return Num(getattr(numbers, fmt)(doc_value), COVERAGE_SRC + pointer(*map(str, path)), fmt)


def listed(values: list, path: tuple, fmt: str, key: str | None = None) -> Cell:
    """Values of a JSON list (or the ``key`` of each object in it), comma-separated."""
    parts: list = []
    for i, value in enumerate(values):
        where = path + (i,) + ((key,) if key else ())
        parts += ([", "] if i else []) + [cov_num(value, where, fmt)]
    return tuple(parts)


def coverage_section(data: ReportData) -> list[Block]:
    """How well each method's interval covers the truth for a design like this evidence base."""
    blocks: list[Block] = [Heading(2, "Coverage of the intervals", "coverage")]
    doc = data.coverage
    if doc is None:
        blocks.append(
            Paragraph(
                cell(
                    "The coverage study was not run for this report (run `snakemake coverage` "
                    "and pass its summary with --coverage)."
                )
            )
        )
        return blocks
    design, settings = doc.get("design") or {}, doc.get("settings") or {}
    methods, rows = doc.get("methods") or {}, doc.get("summary") or []
    rec = doc.get("recommendation") or {}
    level = settings.get("level")
    design_from = (
        f" ({data.plan.outcome_label(str(settings['outcome']))}, "
        f"{data.plan.scenario_label(str(settings.get('scenario') or 'primary'))})"
        if settings.get("outcome")
        else ""
    )
    sizes = [s.get("n") for s in design.get("studies") or []]
    blocks.append(
        Paragraph(
            cell(
                "Design: datasets were simulated with this evidence base's design"
                f"{design_from}: k = ",
                cov_num(design.get("k"), ("design", "k"), "count"),
                " studies of n = ",
                *listed(sizes, ("design", "studies"), "count", key="n"),
                ". Grid: true pooled proportion ",
                *listed(
                    settings.get("true_proportions") or [],
                    ("settings", "true_proportions"),
                    "grid_value",
                ),
                " by between-study SD τ (logit scale) ",
                *listed(settings.get("taus") or [], ("settings", "taus"), "grid_value"),
                "; ",
                cov_num(settings.get("replicates"), ("settings", "replicates"), "count"),
                " replicates per cell (seed ",
                cov_num(settings.get("seed"), ("settings", "seed"), "count"),
                f"). Model: {settings.get('model') or 'not recorded'}. Each method's nominal "
                "level is ",
                cov_num(level, ("settings", "level"), "level"),
                "; coverage and width are over the replicates in which the method gave an "
                "interval, and a replicate without one counts as a failure.",
            )
        )
    )
    if rec.get("method"):
        blocks.append(
            Paragraph(
                cell(
                    f"Recommended for this evidence base: {rec.get('label') or rec['method']}, "
                    f"with {str(rec.get('reason') or '').strip().rstrip('.')}."
                )
            )
        )
    else:
        blocks.append(
            Paragraph(
                cell(
                    "No method qualifies: "
                    f"{str(rec.get('reason') or 'no reason recorded').strip().rstrip('.')}."
                )
            )
        )
    verdict_index = {str(v.get("method")): i for i, v in enumerate(rec.get("verdicts") or []) if v}
    table_rows = []
    for name in sorted(methods, key=lambda m: (verdict_index.get(m, len(verdict_index)), m)):
        own = [(i, r) for i, r in enumerate(rows) if r.get("method") == name]
        answered = [(i, r) for i, r in own if r.get("coverage") is not None]
        label = str((methods[name] or {}).get("label") or name)
        if name == rec.get("method"):
            label += " (recommended)"

        def at(pick, key, fmt, mcse_fmt, rows_=answered):
            if not rows_:
                return cell(numbers.MISSING)
            i, r = pick(rows_, key=lambda ir: (ir[1].get(key) is None, ir[1].get(key) or 0))
            return cell(
                cov_num(r.get(key), ("summary", i, key), fmt),
                " (",
                cov_num(r.get(f"{key}_mcse"), ("summary", i, f"{key}_mcse"), mcse_fmt),
                ")",
            )

        widths = [r.get("median_width") for _, r in answered if r.get("median_width") is not None]
        vi = verdict_index.get(name)
        verdict = (rec.get("verdicts") or [])[vi] if vi is not None else {}
        table_rows.append(
            (
                cell(label),
                at(min, "coverage", "coverage", "mcse"),
                at(max, "coverage", "coverage", "mcse"),
                cell(
                    cov_num(
                        verdict.get("mean_abs_deviation"),
                        ("recommendation", "verdicts", vi, "mean_abs_deviation"),
                        "coverage",
                    )
                )
                if vi is not None
                else cell(numbers.MISSING),
                at(min, "median_width", "proportion", "mcse")
                + ((" to ",) + at(max, "median_width", "proportion", "mcse") if widths else ()),
                at(max, "failure_rate", "rate", "rate", rows_=own),
                cell(
                    "yes"
                    if verdict.get("eligible")
                    else ("no" if vi is not None else numbers.MISSING)
                ),
            )
        )
    blocks.append(
        Table(
            (
                "Method",
                "Coverage, worst cell (MC SE)",
                "Coverage, best cell (MC SE)",
                "Mean |coverage − nominal|",
                "Median width, range over cells (MC SE)",
                "Failure rate, worst cell (MC SE)",
                "Fails rarely enough",
            ),
            tuple(table_rows),
            caption="Coverage of each method's interval over the simulation grid "
            "(MC SE: Monte Carlo standard error)",
        )
    )
    blocks += figure_block(
        data,
        "coverage",
        "Coverage of each method's interval by true proportion and between-study SD; "
        "the nominal level is the midpoint of the colour scale.",
    )
    return blocks
