"""The question and the methods: eligibility, pooling methods, subgroups, sensitivity scenarios,
software.
"""

from __future__ import annotations

from stsmeta.presentation.wording import term
from stsmeta.report.base import (
    ReportData,
    author_names,
    comparative_studies,
    data_date,
    describe_scenario,
    included_ids,
    joined,
    level_text,
    method_settings,
    method_text,
    primary_label,
    primary_outcome,
    primary_reason,
)
from stsmeta.report.coverage import runner_up_paragraph
from stsmeta.report.document import (
    Block,
    Bullets,
    Heading,
    Paragraph,
    Table,
    cell,
)
from stsmeta.report.prior_sensitivity import prior_methods_paragraph
from stsmeta.report.references import REFERENCES, cite, references_for


def header_section(data: ReportData) -> list[Block]:
    plan = data.plan
    title = str(plan.report.get("title") or "stsmeta report")
    authors = plan.report.get("authors") or []
    version = str(plan.report.get("version") or "")
    return [
        Heading(1, title, "top"),
        Paragraph(cell(f"Authors: {author_names(authors)}." if authors else "Authors: not given.")),
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
    blocks: list[Block] = [Heading(2, "Question", "question")]
    # PRISMA 2020 items 3 and 4: why the review, and what it asks, before the PICO bullets.
    for key, lead in (("rationale", "Rationale"), ("sentence", "Question")):
        if question.get(key):
            blocks.append(Paragraph(cell(f"{lead}: {str(question[key]).strip()}")))
    return blocks + [Bullets(tuple(items))]


def eligibility_blocks(data: ReportData) -> list[Block]:
    plan = data.plan
    eligibility = plan.config.get("eligibility") or {}
    routes = joined(eligibility.get("routes") or []) or "any"
    with_systemic = any(
        (s or {}).get("include_systemic_sts") for s in (plan.config.get("scenarios") or {}).values()
    )
    systemic = (
        "Studies or patients given systemic sodium thiosulfate at the same time are excluded from "
        "the primary analysis"
        + (" and included in a sensitivity scenario." if with_systemic else ".")
        if eligibility.get("exclude_systemic_sts")
        else "Studies with systemic sodium thiosulfate are not excluded."
    )
    return [
        Heading(3, "Eligibility criteria", "eligibility"),
        Paragraph(
            cell(
                f"Route of sodium thiosulfate: {routes}. {systemic} Any design reporting "
                "treated patients (case reports, case series, cohorts, trials). Each study's "
                "inclusion in or exclusion from each synthesis is recorded with its reason "
                "(see Included studies and Excluded studies)."
            )
        ),
    ]


def chosen_by_coverage(data: ReportData) -> bool:
    """Whether the pooled results' primary method is the one the coverage summary recommends,
    chosen by the rule (``methods.selection: coverage``)."""
    selected = data.pooled[primary_outcome(data.plan)]["primary"].get("primary_selection") or {}
    rec = (data.coverage or {}).get("recommendation") or {}
    return (
        selected.get("rule") == "coverage"
        and rec.get("method") is not None
        and selected.get("method") == rec["method"]
    )


def synthesis_blocks(data: ReportData) -> list[Block]:
    plan = data.plan
    settings = method_settings(data, "primary")
    keys = references_for(settings)
    label = primary_label(data)
    blocks: list[Block] = [
        Heading(3, "Synthesis methods", "synthesis-methods"),
        Paragraph(
            cell(
                "Primary method: "
                f"{method_text(label, settings.get('description'))}"
                f" {cite(keys)}".strip()
                + "."
            )
        ),
    ]
    reason = primary_reason(data)
    if reason:
        blocks.append(Paragraph(cell(f"Why this primary method: {reason}")))
    if chosen_by_coverage(data):
        blocks += runner_up_paragraph(data)
    if settings.get("method") in ("bayes", "glmm"):
        blocks.append(
            Paragraph(
                cell(
                    "What the pooled proportion is: expit(μ), the median of the studies' true "
                    "proportions, that is the rate in a typical study; the report's 'N in 10 "
                    "patients' reads it so. When rates vary between studies, the average over "
                    "studies (mean_proportion in the pooled results) lies closer to 50%."
                )
            )
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
    blocks += prior_methods_paragraph(data)
    study_ci = str(plan.config.get("study_ci") or settings.get("study_ci") or "cp")
    blocks.append(
        Paragraph(
            cell(
                f"Confidence level {level_text(plan)}. Study intervals: "
                f"{'Clopper-Pearson exact' if study_ci == 'cp' else study_ci} "
                "(Clopper & Pearson 1934). Prediction intervals for a new study are shown "
                "where the method gives one (Higgins et al. 2009); a t(k-1) interval uses k-1 "
                "degrees of freedom, as metafor's predict() does after a t or Hartung-Knapp "
                "test, where Higgins et al. proposed k-2 (t-k2 in the plan). Heterogeneity: τ² "
                "(between-study variance on the analysis scale; for the Bayesian model the "
                "square of τ's posterior median), I², and Q with its p-value: Cochran's Q for "
                "the inverse-variance methods, a likelihood-ratio statistic (saturated against "
                "common-effect binomial model) for the GLMM and the Bayesian model. With studies "
                "of one or a few patients the chi-squared p-values are rough, and a test of no "
                "spread has almost no power: not finding spread is not evidence of none. Results "
                "can be checked against R metafor (Viechtbauer 2010)."
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
    return blocks + scenario_blocks(data)


def scenario_blocks(data: ReportData) -> list[Block]:
    plan = data.plan
    scenario_items = []
    for name in plan.scenarios:
        spec = (plan.config.get("scenarios") or {}).get(name) or {}
        described = (data.pooled[primary_outcome(plan)].get(name) or {}).get("scenario_description")
        text = str(described).strip().rstrip(".") if described else describe_scenario(spec)
        scenario_items.append(cell(f"{plan.scenario_label(name)} ({name}): {text}."))
    if plan.config.get("leave_one_out"):
        scenario_items.append(
            cell("Leave-one-out: the primary analysis repeated without each study.")
        )
    if plan.config.get("cumulative_by_year"):
        scenario_items.append(
            cell(
                "Cumulative analysis: the primary method as studies are added in "
                "order of publication year (within a year by study id); studies without a "
                "known year come last, which says nothing about when they were published."
            )
        )
    return [Paragraph(cell("Sensitivity scenarios:")), Bullets(tuple(scenario_items))]


def software_blocks(data: ReportData) -> list[Block]:
    return [
        Heading(3, "Software", "software"),
        Table(
            ("Software", "Version"),
            tuple((cell(n), cell(v)) for n, v in data.software),
            caption="Software and versions",
        ),
    ]


def methods_references(data: ReportData) -> list[Block]:
    return [
        Heading(3, "Methods references", "references"),
        Bullets(tuple(cell(text) for text in REFERENCES.values())),
    ]


def methods_section(data: ReportData) -> list[Block]:
    from stsmeta.report.review_methods import review_methods_blocks

    return (
        [Heading(2, "Methods", "methods")]
        + eligibility_blocks(data)
        + review_methods_blocks(data)
        + synthesis_blocks(data)
        + software_blocks(data)
    )
