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
    from stsmeta.presentation.risk_of_bias import QUESTION_TEXT, QUESTIONS, judgement_of

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
    blocks += domain_blocks(data)
    if reasons:
        blocks.append(
            Table(
                ("Study", "Question", "Judgement", "Reason"),
                tuple(reasons),
                caption="Reasons for each judgement",
            )
        )
    return blocks


DOMAIN_NAMES = ("selection", "ascertainment", "causality", "reporting")


def judgement_text(entry: object) -> str:
    if not isinstance(entry, dict):
        return "not judged"
    return str(entry.get("judgement") or "not judged").replace("_", " ")


def domain_blocks(data: ReportData) -> list[Block]:
    """Domain and overall judgements, where the study files give them."""
    from stsmeta.report.citations import reference_numbers, study_link

    order = publication_order(data.studies, data.studies)
    judged = [
        s
        for s in order
        if isinstance((data.studies[s].get("risk_of_bias") or {}).get("overall"), dict)
        or (data.studies[s].get("risk_of_bias") or {}).get("domains")
    ]
    if not judged:
        return [
            Paragraph(
                cell(
                    "Domain and overall judgements: not recorded in the study files (only the "
                    "eight questions)."
                )
            )
        ]
    refs = reference_numbers(data)
    rows = []
    for s in judged:
        rob = data.studies[s].get("risk_of_bias") or {}
        domains = rob.get("domains") or {}
        overall = rob.get("overall")
        reason = str(overall.get("reason") or "") if isinstance(overall, dict) else ""
        rows.append(
            (study_link(data, s, refs),)
            + tuple(cell(judgement_text(domains.get(d))) for d in DOMAIN_NAMES)
            + (cell(judgement_text(overall)), cell(reason.strip()))
        )
    return [
        Table(
            ("Study", "Selection", "Ascertainment", "Causality", "Reporting", "Overall", "Why"),
            tuple(rows),
            caption="Risk of bias by domain, and overall",
        )
    ]
