"""Included and excluded studies: characteristics and outcome data per study."""

from __future__ import annotations

from stsmeta.presentation.inputs import study_label
from stsmeta.presentation.wording import flag_text, joined_terms, term
from stsmeta.report.base import (
    YES_NO,
    ReportData,
    csv_cell,
    csv_order,
    joined,
    publication_rank,
    scenario_words,
    study_order,
    year_text,
)
from stsmeta.report.document import (
    Block,
    Cell,
    Heading,
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


def table_cell(data: ReportData, row: dict[str, str], column: str) -> Cell:
    value = str(row.get(column) or "")
    if column == "study_id":
        return cell(study_label(value, data.studies))
    if column == "reason" and "decision_id" not in row and "issue" not in row:
        return cell(flag_text(value))  # a flag's reason
    return cell(value)
