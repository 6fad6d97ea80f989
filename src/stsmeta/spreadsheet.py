"""Text cells of CSV files made safe to open in a spreadsheet, and read back unchanged.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK("http://evil.example", "Smith 2013")``, in
a study label, became a live link). Following the OWASP guidance on CSV injection, such a text
cell is written with a leading single quote, which spreadsheets show as text and do not
display. Numbers are written as numbers, never quoted: only text cells pass through here.

The quote is added also to a cell that begins with a quote followed by such a cell, so that
``original_cell(safe_cell(text)) == text`` for every text, and the report, which reads the
tables, shows the text as the study file gives it.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _needs_quote(text: str) -> bool:
    if text.startswith(FORMULA_STARTS):
        return True
    return text.startswith("'") and _needs_quote(text[1:])


def safe_cell(text: str) -> str:
    """A text cell that no spreadsheet runs as a formula."""
    return "'" + text if _needs_quote(text) else text


def original_cell(text: str) -> str:
    """The text that ``safe_cell`` was given."""
    return text[1:] if text.startswith("'") and _needs_quote(text[1:]) else text
