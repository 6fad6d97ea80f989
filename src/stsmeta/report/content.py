"""What the report says, section by section, in reading order.

Nothing here reads files or the clock: the inputs arrive loaded (``ReportData``) and the result
is a list of blocks (``stsmeta.report.document``) rendered as HTML and Markdown. Each section
lives in its own module; every number from a pooled result is a ``Num`` naming its JSON value.

Order: the clinician's first screen, the Summary of Findings and the harms; then the question,
methods, study selection (PRISMA), studies, results (with subgroups, sensitivity analyses and
the prior sensitivity of the Bayesian model), discussion and declarations; references;
and the long tables in appendices at the end.
"""

from __future__ import annotations

from stsmeta.report.abstract import abstract_section
from stsmeta.report.appendix import changes_section, checksums_section, citation_section
from stsmeta.report.appraisal import risk_of_bias_section
from stsmeta.report.base import ReportData
from stsmeta.report.citations import study_references_section
from stsmeta.report.coverage import coverage_section
from stsmeta.report.discussion import declarations_section, discussion_section
from stsmeta.report.document import Block
from stsmeta.report.first_screen import first_screen_section
from stsmeta.report.harms import harms_section
from stsmeta.report.methods import (
    header_section,
    methods_references,
    methods_section,
    question_section,
)
from stsmeta.report.notes import notebook, notes_section
from stsmeta.report.prior_sensitivity import prior_sensitivity_section
from stsmeta.report.prisma import checklist_section, study_selection_section
from stsmeta.report.results import results_section, sensitivity_section, subgroups_section
from stsmeta.report.review_methods import search_appendix
from stsmeta.report.sof import sof_section
from stsmeta.report.studies import decisions_appendix, studies_section

__all__ = ["ReportData", "build_report"]


def build_report(data: ReportData) -> list[Block]:
    """Every section of the report, in reading order."""
    with notebook():
        main = (
            header_section(data)
            + first_screen_section(data)
            + abstract_section(data)
            + sof_section(data)
            + harms_section(data)
            + question_section(data)
            + methods_section(data)
            + study_selection_section(data)
            + studies_section(data)
            + results_section(data)
            + subgroups_section(data)
            + sensitivity_section(data)
            + prior_sensitivity_section(data)
            + coverage_section(data)
            + risk_of_bias_section(data)
            + discussion_section(data)
            + declarations_section(data)
            + changes_section(data)
            + citation_section(data)
            + study_references_section(data)
            + methods_references(data)
        )
        return (
            main
            + checklist_section(data)
            + notes_section()
            + decisions_appendix(data)
            + search_appendix(data)
            + checksums_section(data)
        )
