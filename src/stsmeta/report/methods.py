"""The question and the methods: eligibility, pooling methods, subgroups, sensitivity scenarios,
software.
"""

from __future__ import annotations

from stsmeta.presentation.wording import term
from stsmeta.report.base import (
    ReportData,
    comparative_studies,
    data_date,
    describe_scenario,
    included_ids,
    joined,
    level_text,
    method_settings,
    method_text,
    primary_outcome,
)
from stsmeta.report.document import (
    Block,
    Bullets,
    Heading,
    Paragraph,
    Table,
    cell,
)
from stsmeta.report.references import REFERENCES, cite, references_for


def header_section(data: ReportData) -> list[Block]:
    plan = data.plan
    title = str(plan.report.get("title") or "stsmeta report")
    authors = plan.report.get("authors") or []
    version = str(plan.report.get("version") or "")
    return [
        Heading(1, title, "top"),
        Paragraph(cell(f"Authors: {joined(authors)}." if authors else "Authors: not given.")),
        Paragraph(cell(f"Version {version}; date: {data_date(plan, data.studies)}.")),
    ]


def question_section(data: ReportData) -> list[Block]:
    plan = data.plan
    question = plan.config.get("question") or plan.report.get("question") or {}
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
