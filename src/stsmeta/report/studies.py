"""Included and excluded studies: characteristics and outcome data per study."""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import study_label
from stsmeta.presentation.screening import records_with
from stsmeta.presentation.wording import flag_text, joined_terms, term
from stsmeta.report.base import (
    YES_NO,
    ReportData,
    csv_cell,
    csv_order,
    joined,
    publication_order,
    publication_rank,
    scenario_words,
    study_order,
    year_text,
)
from stsmeta.report.citations import reference_numbers, study_link
from stsmeta.report.document import (
    Block,
    Cell,
    Heading,
    Link,
    Paragraph,
    Table,
    cell,
)


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


def in_syntheses(data: ReportData, study_id: str) -> str:
    """The outcomes whose primary analysis includes the study, else why it is in none."""
    plan = data.plan
    outcomes = [
        plan.outcome_label(o)
        for o in plan.outcomes
        if study_id in (data.pooled[o]["primary"].get("included") or [])
    ]
    return joined(outcomes) or "none"


def patients_text(study: dict) -> str:
    """The study's number of patients as recorded, or a dash."""
    n = study.get("n_patients")
    return str(n) if isinstance(n, int) and not isinstance(n, bool) else "–"


def other_outcomes_blocks(data: ReportData) -> list[Block]:
    """Outcomes no pooled analysis uses (global scores, pain), as each study file records them:
    a study in no synthesis is still reported, with what it found."""
    refs = reference_numbers(data)
    rows = []
    for s in publication_order(data.studies, data.studies):
        for item in data.studies[s].get("other_outcomes") or []:
            if not isinstance(item, dict):
                continue
            n = item.get("n")
            rows.append(
                (
                    study_link(data, s, refs),
                    cell(str(item.get("outcome") or "–")),
                    cell(str(item.get("result") or "–").strip()),
                    cell(str(item.get("timepoint") or "not stated")),
                    cell(str(n) if isinstance(n, int) else "not given"),
                    cell(" ".join(str(item.get("note") or "").split()) or "–"),
                )
            )
    if not rows:
        return []
    return [
        Paragraph(
            cell(
                "Outcomes that no pooled analysis uses, as the studies report them (no "
                "harmonised counts): these are the results of studies that are in no synthesis."
            )
        ),
        Table(
            ("Study", "Outcome", "Result", "Time point", "Patients", "Note"),
            tuple(rows),
            caption="Other outcomes reported by the studies",
        ),
    ]


def characteristics_table(data: ReportData, first: dict[str, dict[str, str]]) -> Table:
    refs = reference_numbers(data)
    rows = [
        (
            study_link(data, s, refs),
            cell(year_text(r.get("year"))),
            cell(patients_text(data.studies.get(s) or {})),
            cell(joined_terms(r.get("design"), "design")),
            cell(joined_terms(r.get("calcinosis_type"), "calcinosis_type")),
            cell(joined_terms(r.get("disease"), "disease")),
            cell(joined_terms(r.get("route"), "route")),
            csv_cell(r, "concentration_mg_per_ml"),
            cell(YES_NO.get(r.get("systemic_sts", ""), r.get("systemic_sts", ""))),
            cell(joined_terms(r.get("co_interventions"), "co_intervention") or "none"),
            cell(in_syntheses(data, s)),
        )
        for s, r in sorted(first.items(), key=lambda kv: csv_order(kv[1]))
    ]
    # Studies in the review without a row in studies.csv (no harmonised outcome).
    for s in publication_order(set(data.studies) - set(first), data.studies):
        study = data.studies[s]
        rows.append(
            (
                study_link(data, s, refs),
                cell(year_text(study.get("year"))),
                cell(patients_text(study)),
            )
            + tuple(cell("–") for _ in range(7))
            + (cell("none (no harmonised outcome reported)"),)
        )
    return Table(
        (
            "Study",
            "Year",
            "Patients",
            "Design",
            "Calcinosis type",
            "Disease",
            "Route",
            "Concentration (mg/mL)",
            "Primary counts include systemic STS",
            "Co-interventions",
            "In primary analysis of",
        ),
        tuple(rows),
        caption="Study characteristics",
    )


def outcome_table(data: ReportData, rows: list[dict[str, str]]) -> Table:
    plan = data.plan
    refs = reference_numbers(data)
    flags_by_study: dict[str, list[dict[str, str]]] = {}
    for flag in data.tables.get("flags") or []:
        flags_by_study.setdefault(flag.get("study_id", ""), []).append(flag)
    outcome_rows = tuple(
        (
            study_link(data, r.get("study_id", ""), refs),
            cell(plan.outcome_label(r.get("outcome", ""))),
            cell(
                f"{r.get('events')}/{r.get('n')}"
                if r.get("events") and r.get("n")
                else "not reported"
            ),
            cell(term(r.get("unit"), "unit").lower() if r.get("unit") else ""),
            # Three decimals, as every proportion of the report (the CSV keeps six).
            _proportion_cell(r.get("proportion")),
            csv_cell(r, "timepoint_text"),
            csv_cell(r, "derived_from_percent"),
            cell(outcome_flags(flags_by_study.get(r.get("study_id", ""), []), r.get("outcome"))),
        )
        for r in sorted(rows, key=lambda r: csv_order(r) + (r.get("outcome", ""),))
    )
    return Table(
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
    )


def _proportion_cell(text: str | None) -> Cell:
    """A proportion of the outcome table (six decimals in the CSV) with three, as every
    proportion of the report."""
    try:
        return cell(numbers.proportion(float(text))) if text else cell()
    except ValueError:
        return cell(str(text))


def studies_section(data: ReportData) -> list[Block]:
    rows = data.tables.get("studies") or []
    first: dict[str, dict[str, str]] = {}
    for row in rows:
        first.setdefault(row.get("study_id", ""), row)
    return [
        Heading(2, "Included studies", "included-studies"),
        Paragraph(
            cell(
                f"{len(data.studies)} studies are included in the review. Being in the review "
                "is not being in every synthesis: the last column names the outcomes whose "
                "primary analysis includes each study; the numbers in brackets link to the "
                "full references."
            )
        ),
        characteristics_table(data, first),
        outcome_table(data, rows),
        *other_outcomes_blocks(data),
    ] + excluded_section(data)


def excluded_section(data: ReportData) -> list[Block]:
    plan = data.plan
    refs = reference_numbers(data)
    excluded = []
    for outcome in plan.outcomes:
        for entry in data.pooled[outcome]["primary"].get("excluded") or []:
            sid = str(entry.get("study_id"))
            excluded.append(
                (
                    study_link(data, sid, refs),
                    cell(plan.outcome_label(outcome)),
                    cell(scenario_words(str(entry.get("reason") or "no reason recorded"), plan)),
                )
            )
    blocks: list[Block] = [Heading(2, "Excluded studies", "excluded-studies")]
    review_level = records_with(data.screening, "excluded_after_assessment")
    if data.screening is not None:
        blocks.append(
            Paragraph(
                cell(
                    f"From the review: {len(review_level)} report(s) excluded after assessment, "
                    f"{len(records_with(data.screening, 'awaiting_classification'))} awaiting "
                    f"classification and {len(records_with(data.screening, 'ongoing'))} ongoing "
                    "studies, each cited with its reason under ",
                    Link("References", "#study-references"),
                    ".",
                )
            )
        )
    if excluded:
        blocks.append(
            Table(
                ("Study", "Outcome", "Reason"),
                tuple(excluded),
                caption="Studies in the review but not in a synthesis (primary analysis), "
                "with reasons",
            )
        )
    else:
        blocks.append(Paragraph(cell("No study was excluded from the primary analysis.")))
    return blocks


def decisions_appendix(data: ReportData) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, "Extraction decisions and data-quality flags", "decisions", role="appendix")
    ]
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


def table_cell(data: ReportData, row: dict[str, str], column: str) -> Cell:
    value = str(row.get(column) or "")
    if column == "study_id":
        return cell(study_label(value, data.studies))
    if column == "reason" and "decision_id" not in row and "issue" not in row:
        return cell(flag_text(value))  # a flag's reason
    return cell(value)
