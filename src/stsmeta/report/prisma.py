"""PRISMA 2020: the study selection (flow diagram and its counts) and the 27-item checklist.

The counts are those of ``stsmeta.presentation.screening.flow_counts`` (the figure draws the
same); the checklist points each item to the section that addresses it, or says "not done" or
"not applicable" with the reason (Page et al. 2021, BMJ 372:n71).
"""

from __future__ import annotations

from stsmeta.presentation.screening import (
    assessed_on_counts,
    declared_differences,
    flow_counts,
)
from stsmeta.presentation.wording import plural
from stsmeta.report.base import ReportData, figure_block, searched_a_database
from stsmeta.report.document import Block, Cell, Heading, Link, Paragraph, Table, cell
from stsmeta.report.review_methods import small_study_words


def synthesis_counts(data: ReportData) -> list[tuple[str, int]]:
    plan = data.plan
    return [
        (plan.outcome_label(o), len(data.pooled[o]["primary"].get("included") or []))
        for o in plan.outcomes
    ]


def in_no_synthesis(data: ReportData) -> list[str]:
    used = set()
    for outcome in data.plan.outcomes:
        for scenario in data.plan.scenarios:
            used.update(str(s) for s in data.pooled[outcome][scenario].get("included") or [])
    return sorted(set(data.studies) - used)


def flow_rows(data: ReportData) -> list[tuple[Cell, ...]]:
    counts = flow_counts(data.screening or {})
    rows = [
        ("Records identified (counted once per source)", counts.identified),
        ("Duplicate records removed", counts.duplicates),
        ("Records screened", counts.screened),
        ("Records excluded at screening", sum(counts.excluded_screening.values())),
        ("Reports sought for retrieval", counts.sought),
        ("Reports not retrieved", counts.not_retrieved),
        ("Reports assessed for eligibility", counts.assessed),
        # How much of each was read: none in full is not "0 not retrieved" (a review's finding).
        *((f"– read as: {words}", n) for words, n in assessed_on_counts(counts)),
        ("Reports excluded after assessment", sum(counts.excluded_assessment.values())),
        ("Reports awaiting classification", counts.awaiting),
        ("Reports of ongoing studies", counts.ongoing),
        ("Reports of included studies", counts.included_reports),
        ("Studies included in the review (screening records)", len(counts.included_studies)),
    ]
    return [(cell(label), cell(str(n))) for label, n in rows]


def study_selection_section(data: ReportData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Study selection", "study-selection")]
    syntheses = synthesis_counts(data)
    review = len(data.studies)
    text = (
        f"{plural(review, 'study', 'studies')} {'is' if review == 1 else 'are'} included in "
        "the review (one study file each); in "
        "the primary analyses, "
        + "; ".join(f"{label.lower()}: {plural(k, 'study', 'studies')}" for label, k in syntheses)
        + "."
    )
    outside = in_no_synthesis(data)
    if outside:
        text += (
            f" {plural(len(outside), 'included study', 'included studies')} in no synthesis "
            "(see Included studies)."
        )
    blocks.append(Paragraph(cell(text)))
    if data.screening is None:
        blocks.append(
            Paragraph(
                cell(
                    "No screening records were given: the records identified, screened and "
                    "excluded are not reported (PRISMA items 16a and 16b are not addressed)."
                )
            )
        )
    else:
        counts = flow_counts(data.screening)
        problems = counts.problems() + declared_differences(data.screening, counts)
        known = set(counts.included_studies)
        unmatched = sorted(set(data.studies) - known)
        if unmatched:
            problems.append(
                f"{plural(len(unmatched), 'study file')} without an included screening record "
                "(the flow counts come from the records): " + ", ".join(unmatched)
            )
        if problems:
            blocks.append(
                Paragraph(cell("Check of the screening records: " + "; ".join(problems) + "."))
            )
        blocks.append(
            Table(
                ("Box of the flow diagram", "Count"),
                tuple(flow_rows(data)),
                caption="PRISMA 2020 flow counts, from the screening records",
            )
        )
    blocks += figure_block(
        data,
        "prisma_flow",
        "PRISMA 2020 flow diagram: records identified and screened, reports assessed, studies "
        "included in the review and in each synthesis.",
        alt="Flow diagram from identification through screening to inclusion: "
        + "; ".join(
            f"{label}: {plural(k, 'study', 'studies')} in the synthesis" for label, k in syntheses
        )
        + f"; {plural(review, 'study', 'studies')} in the review.",
    )
    return blocks


# (item, topic, anchor of the section that addresses it, or None with what is said instead)
CHECKLIST: tuple[tuple[str, str, str | None, str], ...] = (
    ("1", "Title", "top", ""),
    ("2", "Abstract", "abstract", "PRISMA 2020 for Abstracts headings"),
    ("3", "Rationale", "question", ""),
    ("4", "Objectives", "question", ""),
    ("5", "Eligibility criteria", "eligibility", ""),
    ("6", "Information sources", "information-sources", ""),
    ("7", "Search strategy", "search", ""),
    ("8", "Selection process", "selection", ""),
    ("9", "Data collection process", "data-collection", ""),
    ("10a", "Data items: outcomes", "question", ""),
    ("10b", "Data items: other variables", "included-studies", ""),
    ("11", "Study risk of bias assessment", "risk-of-bias-methods", ""),
    ("12", "Effect measures", "synthesis-methods", "Proportions (single-arm)"),
    ("13a-13f", "Synthesis methods", "synthesis-methods", ""),
    ("14", "Reporting bias assessment", "reporting-bias-methods", ""),
    ("15", "Certainty assessment", "certainty-methods", ""),
    ("16a", "Study selection: flow", "study-selection", ""),
    ("16b", "Excluded studies", "excluded-studies", ""),
    ("17", "Study characteristics", "included-studies", ""),
    ("18", "Risk of bias in studies", "risk-of-bias", ""),
    ("19", "Results of individual studies", "results", ""),
    ("20a", "Results of syntheses: characteristics and risk of bias", "results", ""),
    ("20b", "Results of statistical syntheses", "results", ""),
    ("20c", "Investigations of heterogeneity", "subgroups", ""),
    ("20d", "Sensitivity analyses", "sensitivity", ""),
    ("21", "Reporting biases", None, ""),
    ("22", "Certainty of evidence", "summary-of-findings", ""),
    ("23a-23d", "Discussion", "discussion", ""),
    ("24a-24c", "Registration and protocol", "registration", ""),
    ("25", "Support (funding)", "funding", ""),
    ("26", "Competing interests", "competing-interests", ""),
    ("27", "Availability of data, code and other materials", "data-availability", ""),
)
# Declarations (config review.<key>) an item rests on: the checklist says when one is missing.
DECLARED_IN = {
    "24a-24c": "registration",
    "25": "funding",
    "26": "competing_interests",
    "27": "data_availability",
}


def not_declared(data: ReportData, key: str) -> bool:
    text = str((data.plan.config.get("review") or {}).get(key) or "").strip()
    return not text or text.lower().startswith("not yet declared")


# Items addressed in a second section too: (anchor, link text).
ALSO_IN = {"20d": ("prior-sensitivity", "prior sensitivity")}


def checklist_section(data: ReportData) -> list[Block]:
    rows = []
    for item, topic, where, note in CHECKLIST:
        if item in ("14", "21"):
            note = small_study_words(data)[0]
        if item == "16a" and data.screening is None:
            where, note = None, "Not done: no screening records"
        if item == "1" and not searched_a_database(data):
            note = "partly: no bibliographic database was searched, so the title does not say "
            note += "systematic review"
        declared = DECLARED_IN.get(item)
        if declared and not_declared(data, declared):
            note = "not yet declared by the review's authors"
        location: Cell = (
            cell(Link("see section", f"#{where}"), f" ({note})" if note else "")
            + (("; ", Link(ALSO_IN[item][1], f"#{ALSO_IN[item][0]}")) if item in ALSO_IN else ())
            if where
            else cell(note or "Not applicable")
        )
        rows.append((cell(item), cell(topic), location))
    return [
        Heading(2, "PRISMA 2020 checklist", "prisma-checklist", role="appendix"),
        Paragraph(
            cell(
                "Each item of the PRISMA 2020 checklist (Page et al. 2021) and where this report "
                "addresses it, or what was not done and why."
            )
        ),
        Table(("Item", "Topic", "Where addressed"), tuple(rows), caption="PRISMA 2020 checklist"),
    ]
