"""Risk of bias of the included studies (Murad et al. 2018)."""

from __future__ import annotations

from stsmeta.presentation.inputs import study_label
from stsmeta.report.base import (
    ReportData,
    figure_block,
    publication_order,
)
from stsmeta.report.document import (
    Block,
    Heading,
    Paragraph,
    Table,
    cell,
)


def risk_of_bias_section(data: ReportData) -> list[Block]:
    from stsmeta.figures.risk_of_bias import QUESTION_TEXT, QUESTIONS, judgement_of

    order = publication_order(data.studies, data.studies)
    summary = tuple(
        (cell(study_label(s, data.studies)),)
        + tuple(cell(judgement_of(data.studies[s], q).label) for q in QUESTIONS)
        for s in order
    )
    reasons = []
    for s in order:
        for q in QUESTIONS:
            entry = (data.studies[s].get("risk_of_bias") or {}).get(q)
            if isinstance(entry, dict) and entry.get("reason"):
                reasons.append(
                    (
                        cell(study_label(s, data.studies)),
                        cell(q.upper()),
                        cell(judgement_of(data.studies[s], q).label),
                        cell(str(entry["reason"])),
                    )
                )
    blocks: list[Block] = [
        Heading(2, "Risk of bias", "risk-of-bias"),
        Paragraph(
            cell(
                "Murad et al. (2018) questions: "
                + " ".join(f"{q.upper()}: {t}" for q, t in QUESTION_TEXT.items())
            )
        ),
        Table(
            ("Study",) + tuple(q.upper() for q in QUESTIONS),
            summary,
            caption="Judgements by study and question",
        ),
    ]
    blocks += figure_block(
        data,
        "risk_of_bias",
        "Risk of bias (Murad et al. 2018) by study and question; colour and symbol "
        "both code the judgement.",
    )
    if reasons:
        blocks.append(
            Table(
                ("Study", "Question", "Judgement", "Reason"),
                tuple(reasons),
                caption="Reasons for each judgement",
            )
        )
    return blocks
