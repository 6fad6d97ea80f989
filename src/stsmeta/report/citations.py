"""The studies as references: every included, excluded, awaiting and ongoing study cited in full.

Included studies (the study files) come first in publication order, then the records of the
screening file that were excluded after assessment, await classification or are ongoing. Each
reference has a number and an anchor (``study-<id>`` or ``record-<id>``); ``study_link`` gives
the "Strazzula 2013 [3]" cell that tables use, linked to the reference. DOIs and PMIDs are links.
"""

from __future__ import annotations

import re

from stsmeta.presentation.inputs import study_label
from stsmeta.presentation.links import study_anchor
from stsmeta.presentation.screening import reason_text, records_with
from stsmeta.report.base import ReportData, publication_order
from stsmeta.report.document import Block, Cell, Heading, Link, Numbered, Paragraph, cell

_DOI = re.compile(r"^10\.\d{4,9}/[^\s\"<>]+$")
_PMID = re.compile(r"^\d{1,9}$")
_HTTPS = re.compile(r"^https://[^\s\"<>]+$")
OTHER_GROUPS = (
    ("excluded_after_assessment", "Studies excluded after assessment"),
    ("awaiting_classification", "Studies awaiting classification"),
    ("ongoing", "Ongoing studies"),
)


def record_anchor(record_id: str) -> str:
    return "record-" + re.sub(r"[^a-z0-9-]", "-", str(record_id).lower())


def reference_numbers(data: ReportData) -> dict[str, int]:
    """Anchor -> reference number, in the order of the reference list."""
    anchors = [study_anchor(s) for s in publication_order(data.studies, data.studies)]
    for decision, _ in OTHER_GROUPS:
        anchors += [record_anchor(r.get("id")) for r in records_with(data.screening, decision)]
    return {a: i for i, a in enumerate(anchors, 1)}


def study_link(data: ReportData, study_id: str, numbers: dict[str, int] | None = None) -> Cell:
    """``Strazzula 2013 [3]``, the number linked to the reference."""
    numbers = reference_numbers(data) if numbers is None else numbers
    anchor = study_anchor(study_id)
    label = study_label(study_id, data.studies)
    if anchor not in numbers:
        return cell(label)
    return cell(label, " ", Link(f"[{numbers[anchor]}]", f"#{anchor}"))


def identifiers(doi: object, pmid: object) -> Cell:
    parts: list = []
    doi_text = str(doi or "").strip()
    pmid_text = str(pmid or "").strip()
    if doi_text:
        parts += [" doi: "]
        parts += [
            Link(doi_text, f"https://doi.org/{doi_text}") if _DOI.match(doi_text) else doi_text
        ]
        parts += ["."]
    if pmid_text:
        parts += [" PMID: "]
        parts += [
            Link(pmid_text, f"https://pubmed.ncbi.nlm.nih.gov/{pmid_text}/")
            if _PMID.match(pmid_text)
            else pmid_text
        ]
        parts += ["."]
    return tuple(parts)


def full_citation(study: dict, study_id: str) -> Cell:
    """Authors. Title. Journal Year;Volume(Issue):Pages. doi, PMID (what the study file gives)."""
    c = study.get("citation") if isinstance(study.get("citation"), dict) else {}
    authors = ", ".join(str(a) for a in c.get("authors") or []) or "Authors not recorded"
    title = str(c.get("title") or "Title not recorded").strip().rstrip(".")
    year = c.get("year") or study.get("year") or "n.d."
    where = str(c.get("journal") or "Journal not recorded")
    place = f"{where} {year}"
    if c.get("volume"):
        place += f";{c['volume']}"
        if c.get("issue"):
            place += f"({c['issue']})"
    if c.get("pages"):
        place += f":{c['pages']}"
    # "n.d." ends with its own full stop (a reference list never shows "n.d..").
    text = f"{authors.rstrip('.')}. {title}. {place.rstrip('.')}."
    epub = c.get("epub_date")
    if epub:
        text += f" Published online {epub}."
    return cell(text) + identifiers(c.get("doi"), c.get("pmid"))


def record_citation(record: dict, reasons: dict | None = None) -> Cell:
    text = str(record.get("reference") or "Reference not recorded").strip()
    parts: list = [text if text.endswith(".") else text + "."]
    location = str(record.get("location") or "").strip()
    if location:
        parts += [" "]
        parts += [Link(location, location) if _HTTPS.match(location) else location]
        parts += ["."]
    if record.get("reason"):
        parts += [f" Reason: {reason_text(record['reason'], reasons)}."]
    if record.get("note"):
        parts += [f" {str(record['note']).strip()}"]
    return tuple(parts)


def study_references_section(data: ReportData) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, "References", "study-references"),
        Heading(3, "Studies included in the review", "references-included"),
    ]
    numbers = reference_numbers(data)
    order = publication_order(data.studies, data.studies)
    blocks.append(
        Numbered(
            tuple(full_citation(data.studies[s], s) for s in order),
            tuple(study_anchor(s) for s in order),
        )
    )
    if data.screening is None:
        blocks.append(
            Paragraph(
                cell(
                    "No screening records were given (review.screening_records in "
                    "config.yaml): excluded, awaiting and ongoing studies are not listed."
                )
            )
        )
    for decision, title in OTHER_GROUPS:
        records = records_with(data.screening, decision)
        if data.screening is None:
            continue
        blocks.append(Heading(3, title, f"references-{decision.replace('_', '-')}"))
        if not records:
            blocks.append(Paragraph(cell("None.")))
            continue
        ids = tuple(record_anchor(r.get("id")) for r in records)
        # The list continues the numbering of the one before.
        start = numbers.get(ids[0], 1)
        reasons = (data.screening or {}).get("reasons")
        cited = tuple(
            record_citation(r, reasons if isinstance(reasons, dict) else None) for r in records
        )
        blocks.append(Numbered(cited, ids, start=start))
    return blocks
