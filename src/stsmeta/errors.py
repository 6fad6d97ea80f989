"""Errors that name the file, the field and the fix.

Every problem a user can cause with their input is reported as
``<file>: <field path>: <what is wrong, and what is allowed>`` so that it can be
found and mended without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem in one input file."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field or '(file)'}: {self.message}"


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
