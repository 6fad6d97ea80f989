"""The review process as PRISMA 2020 asks for it: information sources, search, selection, data
collection (which sources were actually read), risk of bias, reporting bias and certainty
assessment. Facts come from the screening records, the study files, the certainty file and
``review`` in config.yaml; what is absent is said to be absent.
"""

from __future__ import annotations

from collections import Counter

from stsmeta.presentation.wording import plural
from stsmeta.report.base import ReportData, publication_order, searched_a_database
from stsmeta.report.certainty import rules_of
from stsmeta.report.citations import reference_numbers, study_link
from stsmeta.report.document import Block, Bullets, Cell, Heading, Paragraph, Table, cell

NOT_RECORDED = "not recorded"
READ_WORDS = {
    "full_text": "full text",
    "partial_text": "part of the text",
    "abstract": "abstract",
    "citation_only": "citation only",
    "not_read": "not read",
    "secondary_summary": "a secondary summary",
}


def review_text(data: ReportData, key: str, absent: str) -> str:
    value = (data.plan.config.get("review") or {}).get(key)
    return str(value).strip() if value else absent


def information_sources(data: ReportData) -> list[Block]:
    blocks: list[Block] = [Heading(3, "Information sources", "information-sources")]
    sources = (data.screening or {}).get("information_sources") or []
    if not sources:
        blocks.append(Paragraph(cell("Information sources: not recorded (no screening records).")))
        return blocks
    rows = tuple(
        (
            cell(str(s.get("name") or s.get("id") or NOT_RECORDED).strip()),
            cell(str(s.get("kind") or NOT_RECORDED).replace("_", " ")),
            cell(str(s.get("covers_to") or NOT_RECORDED)),
            cell(str(s.get("date_used") or NOT_RECORDED)),
            cell(str(s.get("limits") or "").strip()),
        )
        for s in sources
        if isinstance(s, dict)
    )
    if not searched_a_database(data):
        blocks.append(
            Paragraph(
                cell(
                    "No bibliographic database (such as MEDLINE or Embase) and no trial register "
                    "was searched systematically. The studies come from the sources below; the "
                    "flow counts say what was found this way, not what exists."
                )
            )
        )
    blocks.append(
        Table(
            ("Source", "Kind", "Covers up to", "Last used", "Limits"),
            rows,
            caption="Information sources",
        )
    )
    return blocks


def search_blocks(data: ReportData) -> list[Block]:
    searches = (data.screening or {}).get("searches") or []
    blocks: list[Block] = [Heading(3, "Search strategy", "search")]
    if not searches:
        blocks.append(Paragraph(cell("Search strategy: not recorded.")))
        return blocks
    without = sum(1 for s in searches if isinstance(s, dict) and not s.get("string"))
    blocks.append(
        Paragraph(
            cell(
                f"{len(searches)} searches or look-ups are recorded; {without} have no search "
                "string (reference lists read in full, or strings not recorded). The full list, "
                "with every string as typed, is in the appendix."
            )
        )
    )
    return blocks


def search_appendix(data: ReportData) -> list[Block]:
    searches = [s for s in (data.screening or {}).get("searches") or [] if isinstance(s, dict)]
    if not searches:
        return []
    rows = tuple(
        (
            cell(str(s.get("id") or "")),
            cell(str(s.get("source") or NOT_RECORDED)),
            cell(str(s.get("date") or NOT_RECORDED)),
            cell(
                str(s.get("string") or "no string") + (f" ({s['note']})" if s.get("note") else "")
            ),
        )
        for s in searches
    )
    return [
        Heading(2, "Search strings", "search-strings", role="appendix"),
        Table(("Search", "Source", "Date", "String"), rows, caption="Every search as recorded"),
    ]


def selection_blocks(data: ReportData) -> list[Block]:
    records = [r for r in (data.screening or {}).get("records") or [] if isinstance(r, dict)]
    assessed_on = Counter(
        READ_WORDS.get(str(r.get("assessed_on")), str(r.get("assessed_on")).replace("_", " "))
        for r in records
        if r.get("assessed_on")
    )
    basis = "; ".join(f"{what}: {n}" for what, n in sorted(assessed_on.items()))
    return [
        Heading(3, "Selection process", "selection"),
        Paragraph(
            cell(
                review_text(
                    data,
                    "selection_process",
                    "How records were screened (by whom, how many reviewers, independently or "
                    "not) is not described in the configuration (review.selection_process).",
                )
            )
        ),
        Paragraph(
            cell(
                "What eligibility assessments rested on, per record: "
                + (basis or NOT_RECORDED)
                + "."
            )
        ),
    ]


def sources_read_cell(study: dict) -> Cell:
    parts = []
    for source in study.get("sources") or []:
        if not isinstance(source, dict):
            continue
        role = str(source.get("role") or "source").replace("_", " ")
        read = READ_WORDS.get(str(source.get("read")), "extent read not recorded")
        # The source's id too: two sources of one role (a paper's abstract page and a copy of
        # its first page) read as one repeated line without it.
        named = f" ({source['id']})" if source.get("id") else ""
        parts.append(f"{role}{named}: {read}")
    return cell("; ".join(parts) or NOT_RECORDED)


def data_collection_blocks(data: ReportData) -> list[Block]:
    numbers = reference_numbers(data)
    rows = tuple(
        (study_link(data, s, numbers), sources_read_cell(data.studies[s]))
        for s in publication_order(data.studies, data.studies)
    )
    return [
        Heading(3, "Data collection process", "data-collection"),
        Paragraph(
            cell(
                review_text(
                    data,
                    "data_collection_process",
                    "Who extracted the data, and whether a second person checked it, is not "
                    "described in the configuration (review.data_collection_process).",
                ),
                " Every number in a study file names its source and the place in it; "
                "ambiguities are recorded as extraction decisions with their alternatives "
                "(appendix), and each alternative is a sensitivity scenario.",
            )
        ),
        Table(
            ("Study", "Sources and how much of each was read"),
            rows,
            caption="Sources read per study",
        ),
    ]


def included_counts(data: ReportData) -> dict[str, int]:
    """Each outcome's label and the number of studies in its primary analysis."""
    plan = data.plan
    return {
        plan.outcome_label(o): len(data.pooled[o]["primary"].get("included") or [])
        for o in plan.outcomes
    }


def small_study_words(data: ReportData) -> tuple[str, str]:
    """Why small-study effects were not assessed: the PRISMA checklist's note and the end of the
    methods' sentence. This pipeline has no such test, so when an outcome reaches the plan's
    number of studies the reason is that, not too few studies."""
    least = rules_of(data.plan.config)["small_study_tests_min_k"]
    reached = [label.lower() for label, k in included_counts(data).items() if k >= least]
    if not reached:
        return (
            f"Not done: fewer than {least} studies per synthesis",
            f", fewer than the {least} such tests need.",
        )
    return (
        f"Not done: no such test in this pipeline ({', '.join(reached)}: at least {least} studies)",
        f". The plan tests them from {least} studies, which {', '.join(reached)} "
        f"{'reaches' if len(reached) == 1 else 'reach'}, but this pipeline has no such test: "
        "they are to be assessed outside it.",
    )


def appraisal_blocks(data: ReportData) -> list[Block]:
    plan = data.plan
    ks = included_counts(data)
    rules = rules_of(plan.config)
    certainty = data.certainty or {}
    return [
        Heading(3, "Risk of bias in studies", "risk-of-bias-methods"),
        Paragraph(
            cell(
                "The eight questions of Murad et al. for case reports and case series (Murad et "
                "al. 2018), answered per study with a reason, grouped into domains (selection, "
                "ascertainment, causality, reporting) and an overall judgement where the study "
                "files give them. The overall judgement is the reviewer's, recorded with its "
                "reason, and not a score summed from the answers, which Murad et al. advise "
                "against; no rule maps the domains to it."
            )
        ),
        Heading(3, "Reporting bias assessment", "reporting-bias-methods"),
        Paragraph(
            cell(
                "Small-study effects (funnel plots, Egger-type tests) were not assessed: "
                + "; ".join(
                    f"{label.lower()} has {plural(k, 'study', 'studies')}"
                    for label, k in ks.items()
                )
                + small_study_words(data)[1]
                + " Selective outcome reporting within studies is recorded per study as outcomes "
                "not reported (left out, never counted as zero)."
            )
        ),
        Heading(3, "Certainty assessment", "certainty-methods"),
        Bullets(
            (
                cell(
                    "Approach: "
                    + str(
                        certainty.get("approach")
                        or "GRADE adapted to single-arm evidence (Iorio et al. 2015)"
                    ).strip()
                ),
                cell("Assessed by: " + str(certainty.get("assessed_by") or NOT_RECORDED).strip()),
                cell(
                    "Proposals from the data, shown beside each judgement: imprecision serious "
                    "when the interval is wider than "
                    f"{100 * rules['imprecision_serious_width']:.0f} percentage points "
                    "(very serious above "
                    f"{100 * rules['imprecision_very_serious_width']:.0f}); inconsistency "
                    f"serious when τ exceeds {rules['inconsistency_serious_tau']:g} on the logit "
                    f"scale (very serious above {rules['inconsistency_very_serious_tau']:g}). "
                    "They inform the judgement; they never replace it."
                ),
            )
        ),
    ]


def review_methods_blocks(data: ReportData) -> list[Block]:
    return (
        information_sources(data)
        + search_blocks(data)
        + selection_blocks(data)
        + data_collection_blocks(data)
        + appraisal_blocks(data)
    )
