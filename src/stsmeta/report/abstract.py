"""The structured abstract (PRISMA 2020 for Abstracts, Page et al. 2021, Table 2).

Every sentence is built from what the report shows elsewhere (the plan, the screening records,
the pooled results, the certainty file, the declarations), so that the abstract of a living
review never says what its sections no longer do. Pooled numbers carry their JSON source like
every other number of the report.
"""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.presentation.certainty import STALE, judged_on_other_data
from stsmeta.presentation.wording import noun, plural, term
from stsmeta.report.base import (
    ReportData,
    file_src,
    included_ids,
    level_text,
    num,
    searched_a_database,
)
from stsmeta.report.discussion import full_text_unread, interpretation
from stsmeta.report.document import Block, Cell, Heading, Paragraph, cell
from stsmeta.report.first_screen import harms_line
from stsmeta.report.methods import chosen_by_coverage
from stsmeta.report.review_methods import review_text


def _first_sentence(text: str) -> str:
    head = text.split(". ")[0].strip()
    return head if head.endswith(".") else head + "."


def _sources_text(data: ReportData) -> str:
    screening = data.screening or {}
    sources = [s for s in screening.get("information_sources") or [] if isinstance(s, dict)]
    if not sources:
        return "Information sources: not recorded."
    kinds = sorted({str(s.get("kind") or "source").replace("_", " ") for s in sources})
    dates = sorted(
        str(s.get("date"))
        for s in screening.get("searches") or []
        if isinstance(s, dict) and s.get("date")
    )
    last = f"; last searched {dates[-1]}" if dates else ""
    none = "" if searched_a_database(data) else "; no bibliographic database was searched"
    return (
        f"Information sources: {plural(len(sources), 'source')} ({', '.join(kinds)}){last}{none}."
    )


def how_chosen(data: ReportData) -> str:
    """How the primary method came to be, in brackets, for the abstract ("" when fixed)."""
    if chosen_by_coverage(data):
        return " (the method the analysis plan's rule chose from a coverage study of this design)"
    rec = (data.coverage or {}).get("recommendation") or {}
    by_rule = (data.plan.config.get("methods") or {}).get("selection") == "coverage"
    if by_rule and "method" in rec and rec["method"] is None:
        # The rule ran, but no method met its criteria: the configured method stands.
        return " (the configured method: no method met the coverage study's criteria)"
    return ""


def _methods(data: ReportData) -> Cell:
    plan = data.plan
    eligibility = plan.config.get("eligibility") or {}
    routes = " or ".join(term(r, "route").lower() for r in eligibility.get("routes") or [])
    tools = sorted(
        {
            str((s.get("risk_of_bias") or {}).get("tool"))
            for s in data.studies.values()
            if (s.get("risk_of_bias") or {}).get("tool")
        }
    )
    tool = "Murad et al. 2018" if tools == ["murad-2018"] else (", ".join(tools) or "none")
    secondary = (plan.config.get("methods") or {}).get("secondary") or {}
    # The Bayesian model under other priors is a prior-sensitivity variant, not another method.
    primary_spec = (plan.config.get("methods") or {}).get("primary") or {}
    priors = [n for n, m in secondary.items() if (m or {}).get("method") == "bayes"]
    if primary_spec.get("method") != "bayes" and priors:
        priors = priors[1:]  # the first Bayesian method is the model itself
    others = len(secondary) - len(priors)
    scenarios = [s for s in plan.scenarios if s != "primary"]
    return cell(
        f"Eligibility: reports of any design of patients with calcinosis cutis or "
        f"calciphylaxis treated with sodium thiosulfate ({routes or 'any route'})"
        + (
            ", patients given systemic sodium thiosulfate left out of the primary analyses. "
            if eligibility.get("exclude_systemic_sts")
            else ". "
        )
        + _sources_text(data)
        + f" Risk of bias: {tool}. Synthesis: proportions pooled by "
        f"{plan.method_label('primary')}"
        + how_chosen(data)
        + (f", beside {plural(others, 'other method')}" if others else "")
        + (
            f"{' and' if others else ', beside'} {plural(len(priors), 'alternative prior')}"
            if priors
            else ""
        )
        + "; "
        f"{plural(len(scenarios), 'sensitivity scenario')}; certainty of evidence by GRADE "
        "adapted to single-arm evidence."
    )


def _bias_and_harms(data: ReportData) -> Cell:
    """Overall risk of bias in counts, then the harms line of the first screen (its sentence
    without the link)."""
    overall = [
        str(((s.get("risk_of_bias") or {}).get("overall") or {}).get("judgement") or "")
        for s in data.studies.values()
    ]
    high = sum(j == "high" for j in overall)
    parts = cell(f"Risk of bias: high in {high} of {len(overall)} studies. ")
    # The first screen's sentence without its link to the Harms section.
    harms = [p for p in harms_line(data)[:-2] if isinstance(p, str)]
    return parts + cell("".join(harms).strip())


def _result_cell(data: ReportData, outcome: str) -> Cell:
    plan = data.plan
    result = data.pooled[outcome]["primary"]
    src = file_src(outcome, "primary")
    label = plan.outcome_label(outcome)
    block = ((data.certainty or {}).get("outcomes") or {}).get(outcome) or {}
    certainty = block.get("certainty")
    # As in the Summary of findings: a rating made on other study data says so.
    stale = f" ({STALE})" if certainty and judged_on_other_data(block, result) else ""
    grade = (
        f"; {str(certainty).replace('_', ' ')} certainty{stale}"
        if certainty
        else "; certainty not assessed"
    )
    k, n = result.get("k"), result.get("n")
    size = cell(
        num(result, src, "k", "count"),
        f" {noun(k, 'study', 'studies')}, ",
        num(result, src, "n", "count"),
        f" {noun(n, 'patient')}",
    )
    if not numbers.is_estimable(result):
        return cell(f"{label}: not estimable (", *size, f"{grade}).")
    kind = numbers.interval_kind(result)[0]
    return cell(
        f"{label}, proportion in a typical study: ",
        num(result, src, "estimate", "proportion"),
        f" ({level_text(plan)} {kind} ",
        num(result, src, "ci_low", "bound"),
        " to ",
        num(result, src, "ci_high", "bound"),
        "; ",
        *size,
        f"{grade}).",
    )


def _process_gaps(data: ReportData) -> str:
    """The review process's largest gaps, for the abstract (the discussion gives them all):
    no database searched, study reports not read in full."""
    gaps = []
    if data.screening is not None and not searched_a_database(data):
        gaps.append("no bibliographic database or trial register was searched")
    unread = full_text_unread(data)
    if unread:
        gaps.append(
            f"the full text of {len(unread)} of {plural(len(data.studies), 'study report')} "
            "was not read"
        )
    if not gaps:
        return ""
    text = "; ".join(gaps)
    return f" In the review itself, {text}."


def abstract_section(data: ReportData) -> list[Block]:
    plan = data.plan
    question = plan.config.get("question") or {}
    included = included_ids(data)
    patients = sum(
        int(s.get("n_patients"))
        for s in data.studies.values()
        if isinstance(s.get("n_patients"), int) and not isinstance(s.get("n_patients"), bool)
    )
    results = cell(
        f"{plural(len(data.studies), 'study', 'studies')} ({plural(patients, 'patient')}) in "
        f"the review, {plural(len(included), 'study', 'studies')} in at least one primary "
        "analysis. "
    )
    for i, outcome in enumerate(plan.outcomes):
        results += cell(" " if i else "") + _result_cell(data, outcome)
    background = str(question.get("rationale") or "Not stated (question.rationale).").strip()
    objective = str(question.get("sentence") or "Not stated (question.sentence).").strip()
    block = ((data.certainty or {}).get("outcomes") or {}).get(plan.outcomes[0]) or {}
    limitations = str(
        block.get("main_reason") or "Not stated (the certainty file's main_reason)."
    ).strip()
    return [
        Heading(2, "Abstract", "abstract"),
        Paragraph(cell(f"Background: {background}")),
        Paragraph(cell(f"Objectives: {objective}")),
        Paragraph(cell("Methods: ") + _methods(data)),
        Paragraph(cell("Results: ") + results + cell(" ") + _bias_and_harms(data)),
        Paragraph(cell(f"Limitations: {_first_sentence(limitations)}{_process_gaps(data)}")),
        Paragraph(cell("Interpretation: ") + interpretation(data)),
        Paragraph(
            cell(
                "Funding: "
                + _first_sentence(review_text(data, "funding", "Not stated."))
                + " Registration: "
                + review_text(data, "registration", "Not stated.")
            )
        ),
    ]
