"""The GRADE Summary of Findings table, adapted to single-arm evidence.

Per outcome: the pooled proportion of the primary method with its interval and as a natural
frequency, the studies and patients, the certainty declared in the certainty file with the reason
for each downgrade, and beside it what the pipeline proposes from the data
(``stsmeta.report.certainty.propose``), so that a reader sees where judgement and data differ.
Approach: GRADE for estimates of event rates (Iorio et al. 2015, BMJ 350:h870), adapted to case
series (data/certainty.yaml, ``approach``).
"""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.presentation.certainty import STALE, judged_on_other_data
from stsmeta.report.base import ReportData, file_src, level_text, num, unit_word
from stsmeta.report.certainty import (
    DOMAIN_WORDS,
    DOMAINS,
    level_word,
    propose,
    rating_word,
    rules_of,
)
from stsmeta.report.document import Block, Cell, Heading, Paragraph, Table, cell


def estimate_cell(result: dict, src: str) -> Cell:
    if not numbers.is_estimable(result):
        return cell("not estimable (see below)")
    return cell(
        num(result, src, "estimate", "percent"),
        " (",
        num(result, src, "ci_low", "percent"),
        " to ",
        num(result, src, "ci_high", "percent"),
        ")",
    )


def per_ten_cell(result: dict, src: str) -> Cell:
    if not numbers.is_estimable(result):
        return cell("–")
    return cell(
        num(result, src, "estimate", "in_ten"),
        " in 10 (",
        num(result, src, "ci_low", "in_ten"),
        " to ",
        num(result, src, "ci_high", "in_ten"),
        ")",
    )


def downgrades_text(block: dict) -> str:
    reasons = [
        f"{DOMAIN_WORDS[d]} ({rating_word(block['domains'][d]['rating'])}): "
        f"{str(block['domains'][d]['reason']).strip().rstrip('.')}"
        for d in DOMAINS
        if block["domains"][d]["rating"] not in ("not_serious", "undetected")
    ]
    return "; ".join(reasons) + "." if reasons else "No downgrade."


def sof_rows(data: ReportData) -> list[tuple[Cell, ...]]:
    plan = data.plan
    rows = []
    for outcome in plan.outcomes:
        result = data.pooled[outcome]["primary"]
        src = file_src(outcome, "primary")
        block = ((data.certainty or {}).get("outcomes") or {}).get(outcome)
        certainty = (
            cell(level_word(block["certainty"]))
            if block
            else cell("Not assessed (no certainty judgement recorded)")
        )
        if block and judged_on_other_data(block, result):
            certainty += (f" ({STALE})",)
        rows.append(
            (
                cell(plan.outcome_label(outcome)),
                cell(
                    num(result, src, "k", "count"),
                    " (",
                    num(result, src, "n", "count"),
                    f" {unit_word(result)})",
                ),
                estimate_cell(result, src),
                per_ten_cell(result, src),
                certainty,
                cell(downgrades_text(block) if block else "–"),
            )
        )
    return rows


def domain_rows(data: ReportData) -> list[tuple[Cell, ...]]:
    """Each domain: the declared rating and reason, and the pipeline's proposal."""
    plan = data.plan
    rules = rules_of(plan.config)
    rows = []
    for outcome in plan.outcomes:
        result = data.pooled[outcome]["primary"]
        block = ((data.certainty or {}).get("outcomes") or {}).get(outcome) or {}
        proposals = propose(result, rules, level_text(plan))
        for domain in DOMAINS:
            declared = (block.get("domains") or {}).get(domain)
            proposal = proposals.get(domain)
            if proposal is None:
                proposed = "nothing to derive from the data"
            else:
                proposed = f"{rating_word(proposal.rating)}: {proposal.reason}"
                if declared and proposal.rating not in (declared["rating"], "not_assessable"):
                    proposed += " (differs from the judgement; see its reason)"
            rows.append(
                (
                    cell(plan.outcome_label(outcome)),
                    cell(DOMAIN_WORDS[domain]),
                    cell(rating_word(declared["rating"]) if declared else "not assessed"),
                    cell(str(declared["reason"]).strip() if declared else "–"),
                    cell(proposed),
                )
            )
    return rows


def sof_section(data: ReportData) -> list[Block]:
    plan = data.plan
    level = level_text(plan)
    kind = numbers.interval_kind(data.pooled[plan.outcomes[0]]["primary"])
    blocks: list[Block] = [
        Heading(2, "Summary of findings", "summary-of-findings"),
        Paragraph(
            cell(
                "Sodium thiosulfate injected into or around the lesions, in single-arm studies "
                "(no comparison group). Proportions by the primary method, "
                f"{plan.method_label('primary')}, with {level} {kind[1]}s. GRADE "
                "certainty: high, moderate, low or very low; the judgements are the review "
                "team's, recorded with their reasons in the certainty file."
            )
        ),
        Table(
            (
                "Outcome",
                "Studies (patients)",
                f"Proportion ({level} {kind[0]})",
                "Per 10 patients (typical study)",
                "Certainty (GRADE)",
                "Reasons for downgrading",
            ),
            tuple(sof_rows(data)),
            caption="Summary of findings (GRADE, adapted to single-arm evidence)",
        ),
    ]
    not_estimable = [
        o for o in plan.outcomes if not numbers.is_estimable(data.pooled[o]["primary"])
    ]
    for outcome in not_estimable:
        result = data.pooled[outcome]["primary"]
        events, n = result.get("events"), result.get("n")
        if not result.get("k"):
            why = "no study in the review gives counts for this outcome"
        elif isinstance(n, int) and n > 0 and events in (0, n):
            why = (
                "every patient of every study has the outcome (or none has), so the primary "
                "method has no finite estimate; the statistical summary under Results gives the "
                "exact result on the pooled counts instead"
            )
        else:
            why = "the primary method gave no estimate (the notes to the tables say why)"
        blocks.append(
            Paragraph(cell(f"Not estimable ({plan.outcome_label(outcome).lower()}): {why}."))
        )
    if data.certainty is None:
        blocks.append(
            Paragraph(
                cell(
                    "No certainty file was given (review.certainty in config.yaml): the "
                    "certainty of the evidence is not assessed in this report."
                )
            )
        )
    blocks.append(
        Table(
            ("Outcome", "Domain", "Judgement", "Reason", "Proposed from the data"),
            tuple(domain_rows(data)),
            caption="Certainty of the evidence by GRADE domain: judgement and data",
        )
    )
    return blocks
