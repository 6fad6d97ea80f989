"""Notes to the tables: an engine's warning is written out once, and cited by number elsewhere.

A warning such as "not estimable: every study has all n events (100%): ..." applied to dozens
of cells (every scenario, every study left out); the report now prints each distinct warning
once, in the "Notes to the tables" appendix, and a cell says "note 3" with a link to it. The
notebook of the report being built is a context variable set by ``build_report``, so the
sections keep their signatures and two builds never share numbers.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from stsmeta.report.document import Block, Cell, Heading, Link, Numbered, Paragraph, cell

_NOTES: ContextVar[dict[str, int] | None] = ContextVar("report_notes", default=None)


@contextmanager
def notebook():
    token = _NOTES.set({})
    try:
        yield
    finally:
        _NOTES.reset(token)


def note_ref(text: str) -> Cell:
    """A link to the note holding ``text`` (numbered in order of first use)."""
    notes = _NOTES.get()
    if notes is None:  # outside build_report: the text itself
        return cell(text)
    number = notes.setdefault(text, len(notes) + 1)
    return cell(Link(f"note {number}", f"#note-{number}"))


def notes_cell(warnings: list) -> Cell:
    parts: list = []
    for i, warning in enumerate(str(w) for w in warnings or []):
        parts += (["; "] if i else []) + list(note_ref(warning))
    return tuple(parts)


def notes_section() -> list[Block]:
    notes = _NOTES.get() or {}
    blocks: list[Block] = [Heading(2, "Notes to the tables", "notes", role="appendix")]
    if not notes:
        return blocks + [Paragraph(cell("No table carries a note."))]
    ordered = sorted(notes.items(), key=lambda kv: kv[1])
    return blocks + [
        Numbered(tuple(cell(text) for text, _ in ordered), tuple(f"note-{n}" for _, n in ordered))
    ]
