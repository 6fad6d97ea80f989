"""Errors that name the file, the field and the fix.

Every problem a user can cause with their input is reported as
``<file>: <field path>: <what is wrong, and what is allowed>`` so that it can be
found and mended without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def printable(text: str) -> str:
    """``text`` with control and format characters shown as escapes (``\\x1b``, ``\\u202e``):
    a file name or value is printed to a terminal as what it is, never as a command to it."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


@dataclass(frozen=True)
class Problem:
    """One problem in one input file."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return printable(f"{self.file}: {self.field or '(file)'}: {self.message}")


class InputError(Exception):
    """Bad input: one or more problems, each naming file, field and fix."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def field_path(parts: Iterable[Any]) -> str:
    """A field's path as every message shows it: ``['outcomes', 0, 'events']`` ->
    ``'outcomes[0].events'`` (study files, configuration and every other input alike)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
