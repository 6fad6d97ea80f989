"""What the report says, section by section, in reading order.

Nothing here reads files or the clock: the inputs arrive loaded (``ReportData``) and the result
is a list of blocks (``stsmeta.report.document``) rendered as HTML and Markdown. Each section
lives in its own module; every number from a pooled result is a ``Num`` naming its JSON value.
"""

from __future__ import annotations

from stsmeta.report.appendix import changes_section, checksums_section, citation_section
from stsmeta.report.appraisal import risk_of_bias_section
from stsmeta.report.base import ReportData
from stsmeta.report.coverage import coverage_section
from stsmeta.report.discussion import limitations_section
from stsmeta.report.document import Block
from stsmeta.report.methods import header_section, methods_section, question_section
from stsmeta.report.results import results_section, sensitivity_section, subgroups_section
from stsmeta.report.studies import studies_section
from stsmeta.report.summary import summary_section

__all__ = ["ReportData", "build_report"]


def build_report(data: ReportData) -> list[Block]:
    """Every section of the report, in reading order."""
    return (
        header_section(data)
        + summary_section(data)
        + question_section(data)
        + methods_section(data)
        + studies_section(data)
        + results_section(data)
        + subgroups_section(data)
        + sensitivity_section(data)
        + coverage_section(data)
        + risk_of_bias_section(data)
        + limitations_section(data)
        + changes_section(data)
        + citation_section(data)
        + checksums_section(data)
    )
