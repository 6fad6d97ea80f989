"""Whether the figures' PNG and PDF files were drawn from the same inputs as their SVGs.

The default target draws the SVGs (the report inlines them); the PNG and PDF files a journal asks
for are drawn on request (target ``publication``) and for the archive (``stsmeta.outputs``). A
run that redraws the SVGs leaves PNG and PDF files drawn before it in the same folder, looking
current. The job that draws them therefore records the SHA-256 of every SVG drawn from the same
inputs (the figures are deterministic: the same inputs give the same bytes); after each run,
``settle`` removes them when an SVG no longer matches its record. Standard library only: the
workflow calls it at the end of every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

AGAIN = "`snakemake --cores 4 publication` draws them"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_record(record: Path | str, svgs: Iterable[Path | str]) -> None:
    """Record each SVG's SHA-256 (``sha256sum`` format) in ``record``."""
    lines = [f"{_sha256(Path(svg))}  {Path(svg).as_posix()}\n" for svg in svgs]
    Path(record).write_text("".join(lines), encoding="utf-8", newline="\n")


def _matches(record: Path) -> bool:
    """Whether every SVG named in ``record`` is there with the recorded bytes."""
    try:
        lines = record.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    for line in lines:
        sha, sep, name = line.partition("  ")
        svg = Path(name)
        if not sep or not svg.is_file() or _sha256(svg) != sha:
            return False
    return bool(lines)


def settle(record: Path | str, prints: Iterable[Path | str]) -> str:
    """After a run: keep the PNG and PDF figures (``prints``) when the SVGs are those they were
    drawn with; otherwise remove them and the record. Returns the sentence to print."""
    record = Path(record)
    present = [Path(p) for p in prints if Path(p).is_file()]
    if not present:
        record.unlink(missing_ok=True)
        return f"the figures as PNG (300 dpi) and PDF: {AGAIN}"
    if record.is_file() and _matches(record):
        return f"the figures as PNG and PDF are in {present[0].parent.resolve()}"
    for path in present:
        path.unlink()
    record.unlink(missing_ok=True)
    return (
        f"removed {len(present)} PNG and PDF figure files drawn before the figures changed; "
        f"{AGAIN} again"
    )
