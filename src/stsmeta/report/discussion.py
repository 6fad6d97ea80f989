"""The discussion (interpretation, limitations of the evidence and of the review process,
implications) and the declarations (registration, funding, competing interests, data and code
availability), from the results and ``review`` in config.yaml.
"""

from __future__ import annotations

from collections import Counter

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import study_label
from stsmeta.presentation.wording import noun, plural, term, unit_noun
from stsmeta.report.base import (
    CENTRE_KEYS,
    ReportData,
    comparative_studies,
    file_src,
    joined,
    num,
    primary_outcome,
    searched_a_database,
    unit_word,
)
from stsmeta.report.document import (
    Block,
    Bullets,
    Cell,
    Heading,
    Paragraph,
    cell,
)


def evidence_limitations(data: ReportData) -> list[Cell]:
    """Limitations of the evidence: size, extreme proportions, designs, centres."""
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
            f" {noun(primary.get('k'), 'study', 'studies')} with ",
            num(primary, src, "n", "count"),
            f" {unit_noun(primary.get('n'), unit_word(primary))} in all; the largest has "
            f"n = {largest}.",
        ),
        cell(
            f"{full} of {plural(len(entries), 'study', 'studies')} report 100% and {zero} "
            "report 0% for this "
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
    return items + design_limitations(data, ids, primary)


def design_limitations(data: ReportData, ids: list[str], primary: dict) -> list[Cell]:
    """No comparator, too few studies, not estimable results, judgements."""
    plan = data.plan
    items: list[Cell] = []
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
    # Only a decision with an alternative reading that a scenario puts in force is tested.
    testing = [
        plan.scenario_label(name)
        for name in plan.scenarios
        if any(
            ((plan.config.get("scenarios") or {}).get(name) or {}).get(key)
            for key in ("use_alternatives", "concentration_reading", "include_systemic_sts")
        )
    ]
    tested = (
        "the sensitivity scenarios test only the decisions that record an alternative reading ("
        + "; ".join(testing)
        + "); the others, and the flags, are not tested"
        if testing
        else "no sensitivity scenario tests them"
    )
    items.append(
        cell(
            f"{n_decisions} extraction decisions and {n_flags} data-quality flags "
            f"(appendix) record judgements and gaps in the sources: {tested}."
        )
    )
    return items


def full_text_unread(data: ReportData) -> list[str]:
    """Studies whose own report (the primary paper) was not read in full."""
    return [
        s
        for s, study in data.studies.items()
        if not any(
            isinstance(src, dict)
            and src.get("read") == "full_text"
            and src.get("role") in ("primary_paper",)
            for src in study.get("sources") or []
        )
    ]


def review_limitations(data: ReportData) -> list[Cell]:
    """Limitations of the review process, from the screening records and the study files."""
    items: list[Cell] = []
    if data.screening is None:
        items.append(cell("The search and screening were not recorded (no screening records)."))
    elif not searched_a_database(data):
        items.append(
            cell(
                "No bibliographic database or trial register was searched: eligible studies "
                "may have been missed, and the flow counts describe what was found, not what "
                "exists."
            )
        )
    partial = full_text_unread(data)
    if partial:
        items.append(
            cell(
                f"For {len(partial)} of {len(data.studies)} studies the full text of the study "
                "report was not read: their data come from abstracts, parts of the text or "
                "summaries in other articles."
            )
        )
    unsearched = not_hand_searched(data.screening)
    if len(unsearched) == 1:
        items.append(
            cell(
                "1 review found by the search was screened out without its reference list "
                "being hand-searched: studies it cites may have been missed."
            )
        )
    elif unsearched:
        items.append(
            cell(
                f"{len(unsearched)} reviews found by the search were screened out without their "
                "reference lists being hand-searched: studies they cite may have been missed."
            )
        )
    items.append(
        cell(
            "Selection and extraction: "
            + str(
                (data.plan.config.get("review") or {}).get("selection_process")
                or "who screened and extracted, and whether independently, is not recorded"
            ).strip()
        )
    )
    return items


def not_hand_searched(screening: dict | None) -> list[str]:
    """Records screened out for a reason that says their reference list was not hand-searched
    (the screening file's own wording of its reasons)."""
    if not isinstance(screening, dict):
        return []
    words = screening.get("reasons") or {}
    return [
        str(r.get("id"))
        for r in screening.get("records") or []
        if isinstance(r, dict)
        and str(r.get("decision", "")).startswith("excluded")
        and "not hand-searched" in str(words.get(r.get("reason"), ""))
    ]


def interpretation(data: ReportData) -> Cell:
    plan = data.plan
    outcome = primary_outcome(plan)
    block = ((data.certainty or {}).get("outcomes") or {}).get(outcome) or {}
    level = str(block.get("certainty") or "not assessed").replace("_", " ")
    named = [plan.outcome_label(o).lower() for o in plan.outcomes]
    outcomes = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
    return cell(
        f"The proportions describe how often {outcomes} "
        f"{'were' if len(named) > 1 else 'was'} reported after intralesional "
        "sodium thiosulfate in small, uncontrolled studies; they are not effects against a "
        "comparison. The certainty of the "
        f"evidence for the main outcome is {level}: the true rate may differ substantially."
    )


def discussion_section(data: ReportData) -> list[Block]:
    review = data.plan.config.get("review") or {}
    implications = str(
        review.get("implications") or "Not stated in the configuration (review.implications)."
    ).strip()
    other = str(
        review.get("other_reviews") or "Not stated in the configuration (review.other_reviews)."
    ).strip()
    return [
        Heading(2, "Discussion", "discussion"),
        Heading(3, "Interpretation", "interpretation"),
        Paragraph(interpretation(data)),
        Heading(3, "Other reviews", "other-reviews"),
        Paragraph(cell(other)),
        Heading(3, "Limitations of the evidence", "limitations"),
        Bullets(tuple(evidence_limitations(data))),
        Heading(3, "Limitations of the review process", "review-limitations"),
        Bullets(tuple(review_limitations(data))),
        Heading(3, "Implications", "implications"),
        Paragraph(cell(implications)),
    ]


DECLARATIONS = (
    ("registration", "Registration and protocol", "Not registered; no protocol was published."),
    ("funding", "Funding", "Not stated."),
    ("competing_interests", "Competing interests", "Not stated."),
    ("data_availability", "Data availability", "Not stated."),
    ("code_availability", "Code availability", "Not stated."),
)


def declarations_section(data: ReportData) -> list[Block]:
    review = data.plan.config.get("review") or {}
    blocks: list[Block] = [Heading(2, "Declarations", "declarations")]
    for key, title, absent in DECLARATIONS:
        anchor = key.replace("_", "-")
        text = str(review.get(key) or f"{absent} (review.{key} is not set in config.yaml)")
        blocks += [Heading(3, title, anchor), Paragraph(cell(text.strip()))]
    return blocks
