"""The first screen, for the clinician: the question, the answers, how sure we are, the harms.

In plain words: percentages and natural frequencies ("about 9 in 10 patients"), the number of
studies and patients, the certainty of the evidence in one word with its main reason (from the
certainty file, never computed here), the forest plot of the primary outcome and the harms in
one line. The statistics follow in the later sections.
"""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.presentation.certainty import STALE, judged_on_other_data
from stsmeta.presentation.harms import harms_of
from stsmeta.presentation.wording import noun, unit_noun
from stsmeta.report.base import (
    ReportData,
    figure_block,
    file_src,
    level_text,
    num,
    primary_outcome,
    unit_word,
)
from stsmeta.report.certainty import level_word
from stsmeta.report.document import Block, Cell, Heading, Link, Paragraph, cell
from stsmeta.report.summary import common_effect_name

UNIT_WORDS = {"patients": "patients", "lesions": "lesions", "units": "patients or lesions"}


def question_sentence(data: ReportData) -> str:
    question = data.plan.config.get("question") or {}
    if question.get("sentence"):
        return str(question["sentence"]).strip()
    label = data.plan.outcome_label(primary_outcome(data.plan)).lower()
    return f"How often does the treatment under review lead to {label}?"


def in_ten_interval(result: dict, src: str, unit: str) -> Cell:
    """``about 9 in 10 patients (95% interval 1 to 10 in 10)``."""
    return cell(
        "about ",
        num(result, src, "estimate", "in_ten"),
        f" in 10 {unit} (",
        num(result, src, "estimate", "percent"),
        f"; {level_text_of(result)} interval ",
        num(result, src, "ci_low", "percent"),
        " to ",
        num(result, src, "ci_high", "percent"),
        ")",
    )


def level_text_of(result: dict) -> str:
    level = result.get("confidence_level")
    return numbers.level(level) if isinstance(level, int | float) else "95%"


def certainty_cell(data: ReportData, outcome: str) -> Cell:
    block = ((data.certainty or {}).get("outcomes") or {}).get(outcome)
    if not block:
        return cell(
            " How sure we are: ",
            Link("not assessed", "#summary-of-findings"),
            " (no certainty judgement was recorded for this outcome).",
        )
    stale = f" ({STALE})" if judged_on_other_data(block, data.pooled[outcome]["primary"]) else ""
    return cell(
        " How sure we are: ",
        Link(level_word(block["certainty"]).lower(), "#summary-of-findings"),
        f" certainty{stale}. {str(block['main_reason']).strip().rstrip('.')}.",
    )


def answer(data: ReportData, outcome: str) -> Cell:
    plan = data.plan
    result = data.pooled[outcome]["primary"]
    src = file_src(outcome, "primary")
    unit = UNIT_WORDS.get(unit_word(result), unit_word(result))
    role = (plan.config["outcomes"][outcome] or {}).get("role")
    head = cell(
        f"{plan.outcome_label(outcome)}" + (" (main outcome)" if role == "primary" else "") + ": "
    )
    base = cell(
        " From ",
        num(result, src, "k", "count"),
        f" {noun(result.get('k'), 'study', 'studies')} with ",
        num(result, src, "n", "count"),
        f" {unit_noun(result.get('n'), unit)}.",
    )
    if numbers.is_estimable(result):
        # The pooled proportion is the rate in a typical study (the median of the studies'
        # proportions for the binomial-normal models), not a share of all patients counted.
        return (
            head + cell("in a typical study, ") + in_ten_interval(result, src, unit) + cell(".")
        ) + base
    events, n = result.get("events"), result.get("n")
    if not result.get("k"):
        return head + cell("no study in the review gives counts for this outcome.")
    if isinstance(n, int) and n > 0 and events in (0, n):
        why = (
            f"{'every one' if events == n else 'none'} of the {n} {unit} had this outcome, "
            "so the main statistical model cannot put limits on the rate."
        )
    else:
        why = "the main statistical model could not be fitted to these studies."
    parts = head + cell(f"no pooled rate could be estimated: {why}")
    common = common_effect_name(result)
    sec = (result.get("secondary") or {}).get(common or "") or {}
    if common and numbers.is_estimable(sec):
        csrc = f"{src}/secondary/{common}"
        parts += (
            cell(" Counting all their patients together: ")
            + in_ten_interval(sec, csrc, unit)
            + cell(".")
        )
    return parts + base


def short_event(text: str) -> str:
    """The first clause of an event's description, in lower case."""
    first = text.split(";")[0].split(". ")[0].strip().rstrip(".")
    return first[:1].lower() + first[1:]


def _event_list(kinds: list[str]) -> str:
    more = "; …" if len(kinds) > 3 else ""
    return "; ".join(kinds[:3]) + more


def harms_line(data: ReportData) -> Cell:
    """The harms in one sentence: what was reported, by which route of STS, how serious, and how
    many studies were silent (not reported) or not read for harms (not extracted): a study not
    read says nothing about whether it had harms, so the two are counted apart."""
    studies = data.studies
    adverse = {s: harms_of(studies[s], "adverse_events") for s in studies}
    deaths = {s: harms_of(studies[s], "deaths") for s in studies}
    reported = [s for s, h in adverse.items() if h.status == "reported"]
    none = [s for s, h in adverse.items() if h.status == "none_occurred"]
    not_extracted = [s for s, h in adverse.items() if h.status == "not_extracted"]
    silent = len(studies) - len(reported) - len(none) - len(not_extracted)
    events = [e for s in reported for e in adverse[s].events]
    # Events with intralesional STS alone first: that is the intervention of this review.
    local = sorted({short_event(e.what) for e in events if not e.systemic})
    systemic = sorted({short_event(e.what) for e in events if e.systemic} - set(local))
    text = f"Harms: {len(reported)} of {len(studies)} studies reported side effects"
    groups = []
    if local:
        groups.append(f"With intralesional STS: {_event_list(local)}")
    if systemic:
        n_systemic = sum(any(e.systemic for e in adverse[s].events) for s in reported)
        groups.append(
            f"With intravenous STS given at the same time ({n_systemic} "
            f"stud{'y' if n_systemic == 1 else 'ies'}): {_event_list(systemic)}"
        )
    if groups:
        text += ". " + ". ".join(groups)
        seriousness = {e.serious for e in events}
        if True in seriousness:
            text += ". Some were serious"
        elif None in seriousness:
            text += ". Seriousness was not stated for some"
        else:
            text += ". None was described as serious"
    said_none = f"{len(none)} said there were none" if none else "No study said there were none"
    text += f". {said_none}; {silent} did not report on side effects"
    if not_extracted:
        text += (
            f"; in {len(not_extracted)} the part of the study that reports harms was not read "
            "(not extracted)"
        )
    text += "."
    died = [(s, e) for s, h in deaths.items() for e in h.events]
    if died:
        total = sum(e.patients or 1 for _, e in died)
        linked = [e for _, e in died if e.attributed]
        text += f" {total} death{'s' if total != 1 else ''} recorded" + (
            ", none attributed to the treatment in the sources read."
            if not linked
            else f", {len(linked)} attributed to the treatment in the sources read."
        )
    else:
        text += " No deaths were recorded in the study files."
    return cell(text + " ", Link("Details", "#harms"), ".")


def first_screen_section(data: ReportData) -> list[Block]:
    plan = data.plan
    outcome = primary_outcome(plan)
    blocks: list[Block] = [
        Heading(2, "At a glance", "at-a-glance", role="first-screen"),
        Paragraph(cell(f"Question: {question_sentence(data)}"), role="question"),
    ]
    for name in plan.outcomes:
        # The answers stand out from the harms and the figure (style sheet: .answer).
        blocks.append(Paragraph(answer(data, name) + certainty_cell(data, name), role="answer"))
    blocks.append(Paragraph(harms_line(data)))
    result = data.pooled[outcome]["primary"]
    k = numbers.count(result.get("k"))
    label = plan.outcome_label(outcome).lower()
    # Say only what the figure draws: no diamond without an estimate, no bar without a
    # prediction interval (a common-effect primary has none).
    pooled = numbers.is_number(result.get("estimate"))
    bar = pooled and all(numbers.is_number(result.get(k)) for k in ("pi_low", "pi_high"))
    parts = [f"each study (square, with its {level_text(plan)} interval)"]
    parts += ["all studies combined (diamond)"] if pooled else []
    parts += ["where a new study's true rate may lie (bar)"] if bar else []
    shown = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    rows = f"{k} {noun(result.get('k'), 'study', 'studies')}"
    alt = [f"one row per study ({rows}) with the percentage of patients and its "
           f"{level_text(plan)} interval"]  # fmt: skip
    alt += ["all studies combined as a diamond"] if pooled else []
    alt += ["where a new study's true rate may lie as a bar"] if bar else []
    blocks += figure_block(
        data,
        "summary_forest",
        f"{plan.outcome_label(outcome)}: {shown}. The full forest plot, with every method, is "
        "under Results.",
        alt=f"Forest plot of {label}: "
        + ", then ".join(alt[:2])
        + (f", and {alt[2]}." if len(alt) > 2 else "."),
    )
    return blocks
