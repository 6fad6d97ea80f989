"""Harms: adverse events and deaths per study, with the status of each (reported, none
occurred, not reported), from the study files (``stsmeta.presentation.harms``).
"""

from __future__ import annotations

from stsmeta.presentation.harms import Harms, harms_of
from stsmeta.report.base import ReportData, publication_order
from stsmeta.report.citations import reference_numbers, study_link
from stsmeta.report.document import Block, Cell, Heading, Paragraph, Table, cell
from stsmeta.report.first_screen import harms_line

SERIOUS = {True: "serious", False: "not serious"}


def attribution(value: bool | None) -> str:
    return {True: "attributed", False: "not attributed"}.get(value, "attribution not stated")


def events_cell(harms: Harms) -> Cell:
    if harms.status != "reported":
        note = f" ({harms.note.strip().rstrip('.')})" if harms.note else ""
        return cell(f"{harms.status_text[:1].upper()}{harms.status_text[1:]}{note}")
    parts = []
    for event in harms.events:
        count = (
            f"{event.patients} patient{'s' if event.patients != 1 else ''}"
            if (event.patients is not None)
            else "number of patients not given"
        )
        serious = {True: "serious", False: "not serious"}.get(
            event.serious, "seriousness not stated"
        )
        systemic = "; with intravenous STS at the same time" if event.systemic else ""
        parts.append(
            f"{event.what.strip().rstrip('.')} ({count}; {serious}; "
            f"{attribution(event.attributed)} to the treatment in the source{systemic})"
        )
    return cell("Reported: " + "; ".join(parts) + ".")


def harms_section(data: ReportData) -> list[Block]:
    numbers = reference_numbers(data)
    rows = []
    for study_id in publication_order(data.studies, data.studies):
        study = data.studies[study_id]
        rows.append(
            (
                study_link(data, study_id, numbers),
                events_cell(harms_of(study, "adverse_events")),
                events_cell(harms_of(study, "deaths")),
            )
        )
    return [
        Heading(2, "Harms", "harms"),
        Paragraph(harms_line(data)[:-2]),
        Paragraph(
            cell(
                "Status per study: reported (the events are listed), none occurred (the study "
                "says so), not reported (the sources read are silent), not extracted (reported "
                "in a part of the study not read). Attribution is as the source read gives it: the "
                "study authors' own, or a review's account of it (the study file names the "
                "source of each event)."
            )
        ),
        Table(
            ("Study", "Adverse events", "Deaths"),
            tuple(rows),
            caption="Adverse events and deaths by study",
        ),
    ]
