"""The input files of ``stsmeta pool --input``: the counts CSV (``study,events,n``) and the
moderators CSV of ``--mods``, read with every problem named by file, row and field."""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from stsmeta.errors import InputError, Problem

REQUIRED = ("study", "events", "n")
MAX_COUNT = 2**53


def _count(value: str, file: str, field: str, row: int) -> tuple[int | None, Problem | None]:
    text = (value or "").strip()
    # Decimal, not float: "9007199254740993" must not be rounded on the way in.
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value():
        return None, Problem(
            file,
            f"row {row}: {field}",
            f"{text!r} is not a whole number; {field} must be a count (0, 1, 2, ...)",
        )
    if number < 0:
        return None, Problem(
            file,
            f"row {row}: {field}",
            f"{text} is negative; {field} must be a count (0, 1, 2, ...)",
        )
    if number > MAX_COUNT:
        return None, Problem(
            file,
            f"row {row}: {field}",
            f"{text} is too large: counts above 2**53 = {MAX_COUNT} cannot be computed "
            "exactly; check the value (a patient count this large is a data-entry error)",
        )
    return int(number), None


def _read_text(path: str) -> str:
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(Problem(file, "", f"cannot be read ({exc.strerror})")) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            Problem(
                file,
                f"line {line}",
                f"is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the CSV as UTF-8 "
                "(for example 'CSV UTF-8' in a spreadsheet, or iconv -f latin1 -t utf-8)",
            )
        ) from None


def _rows_with_columns(path: str, needed, message) -> csv.DictReader:
    """The CSV's rows by header name (names stripped of spaces); InputError with
    ``message(missing, header)`` when a needed column is absent."""
    reader = csv.DictReader(_read_text(path).splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in needed if c not in header]
    if missing:
        raise InputError(Problem(str(path), "header", message(missing, header)))
    reader.fieldnames = header
    return reader


def read_counts(path: str) -> tuple[list[str], list[int], list[int]]:
    """Read study,events,n; raise InputError naming the file, row and fix for every problem."""
    file = str(path)
    reader = _rows_with_columns(
        path,
        REQUIRED,
        lambda missing, header: (
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"the CSV needs a header with columns {', '.join(REQUIRED)} "
            "(other columns are ignored)"
        ),
    )
    problems: list[Problem] = []
    studies: list[str] = []
    events: list[int] = []
    sizes: list[int] = []
    for row_number, row in enumerate(reader, start=1):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        study = (row.get("study") or "").strip() or f"row {row_number}"
        x, p1 = _count(row.get("events"), file, "events", row_number)
        n, p2 = _count(row.get("n"), file, "n", row_number)
        problems += [p for p in (p1, p2) if p]
        if x is None or n is None:
            continue
        if n < 1:
            problems.append(
                Problem(file, f"row {row_number}: n", f"n is {n}; every study needs n >= 1")
            )
        elif x > n:
            problems.append(
                Problem(
                    file,
                    f"row {row_number}: events",
                    f"events ({x}) exceed n ({n}) for study {study!r}; "
                    "events must be between 0 and n",
                )
            )
        studies.append(study)
        events.append(x)
        sizes.append(n)
    if problems:
        raise InputError(problems)
    if not studies:
        raise InputError(Problem(file, "", "has no data rows; give one row per study"))
    return studies, events, sizes


def read_moderators(path: str, names: list[str]) -> dict[str, list[str]]:
    """The named extra columns of the CSV (same rows as ``read_counts``), as text."""
    file = str(path)
    reader = _rows_with_columns(
        path,
        names,
        lambda missing, header: (
            f"no column {', '.join(missing)} for --mods; add it or fix "
            f"the name (columns: {', '.join(header)})"
        ),
    )
    columns: dict[str, list[str]] = {c: [] for c in names}
    problems = []
    for row_number, row in enumerate(reader, start=1):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        for c in names:
            value = (row.get(c) or "").strip()
            if not value:
                problems.append(
                    Problem(
                        file,
                        f"row {row_number}: {c}",
                        "is empty; meta-regression needs "
                        "a value of every moderator for every study",
                    )
                )
            columns[c].append(value)
    if problems:
        raise InputError(problems)
    return columns
