"""Whether the figures' PNG and PDF files were drawn from the same inputs as their SVGs.

The default target draws the SVGs (the report inlines them); the PNG and PDF files a journal asks
for are drawn on request (target ``publication``) and for the archive (``stsmeta.outputs``). A
run that redraws the SVGs leaves PNG and PDF files drawn before it in the same folder, looking
current; so would new code or new library versions that draw PNG or PDF differently. The job
that draws them therefore records a stamp of what draws them (the figures stage's code checksum
and the versions of ``FIGURE_LIBRARIES``) and the SHA-256 of every SVG drawn from the same inputs
(the figures are deterministic: the same inputs give the same bytes). At the end of each run that
runs a job, ``settle`` removes them unless the stamp and every SVG still match. A run that
redraws the SVGs sets them aside before it starts (stsmeta.keep_previous) and puts them back at
its end only if their record ``vouches`` for them, so that they are never seen beside SVGs drawn
from other inputs, wherever the run is cut short. No third-party import: the workflow calls it
in its own process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from stsmeta.result_cache import file_sha256, job_key

# The distributions whose versions can change a figure's bytes (matplotlib ships the fonts and
# FreeType it draws with; fontTools subsets the PDF fonts; Pillow writes the PNGs).
FIGURE_LIBRARIES = ("matplotlib", "numpy", "pillow", "fonttools")

AGAIN = "`snakemake --cores 4 publication` draws them"
_STAMP = "# drawn by "


def stamp(code_digest: str | None = None) -> str:
    """What draws the figures: the figures stage's code checksum (``code_digest``, computed when
    not given) and the versions of Python (minor), the machine and ``FIGURE_LIBRARIES``, as the
    result cache's key of a job that reads nothing. Portable: the archive holds the record, and
    a rerun from it with the pinned libraries on another build of Python must write it again."""
    return job_key("figures", {}, [], FIGURE_LIBRARIES, code=code_digest, portable=True)


def write_record(record: Path | str, svgs: Iterable[Path | str], drawn_by: str) -> None:
    """Record ``drawn_by`` (a ``stamp``) and each SVG's SHA-256 (``sha256sum`` format)."""
    lines = [f"{_STAMP}{drawn_by}\n"]
    lines += [f"{file_sha256(svg)}  {Path(svg).as_posix()}\n" for svg in svgs]
    Path(record).write_text("".join(lines), encoding="utf-8", newline="\n")


def _matches(record: Path, current: Callable[[], str]) -> bool:
    """Whether ``record`` has the ``current()`` stamp and every SVG it names is there with the
    recorded bytes."""
    try:
        first, *lines = record.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    if not lines or first != f"{_STAMP}{current()}":
        return False
    for line in lines:
        sha, sep, name = line.partition("  ")
        svg = Path(name)
        if not sep or not svg.is_file() or file_sha256(svg) != sha:
            return False
    return True


def vouches(record: Path | str, current: Callable[[], str]) -> bool:
    """Whether ``record`` (perhaps a copy, set aside) vouches for its PNG and PDF files now: the
    ``current()`` stamp, and every SVG it names there with the recorded bytes."""
    return Path(record).is_file() and _matches(Path(record), current)


def settle(
    record: Path | str,
    prints: Iterable[Path | str],
    current: Callable[[], str],
    folder: Path | str | None = None,
    withheld: int = 0,
) -> str:
    """After a run: keep the PNG and PDF figures (``prints``) when ``record`` vouches for them
    (``current()``: the ``stamp`` of the code and libraries installed now, computed only when
    needed); otherwise remove them and the record. PNG and PDF files in ``folder`` (the
    figures' folder) that are not among ``prints`` belong to no figure drawn now (an outcome
    dropped from the plan): removed whatever the record says. ``withheld``: PNG and PDF files
    set aside by this run that were not put back, as their record no longer vouched for them
    (stsmeta.keep_previous), counted as removed. Returns the sentence to print."""
    record = Path(record)
    wanted = [Path(p) for p in prints]
    orphans = _orphans(folder, wanted) if folder is not None else []
    for path in orphans:
        path.unlink()
    gone = (
        f"removed {len(orphans)} PNG and PDF figure files of figures no longer drawn; "
        if orphans
        else ""
    )
    present = [p for p in wanted if p.is_file()]
    if present and record.is_file() and _matches(record, current):
        kept = f"the figures as PNG and PDF are in {present[0].parent.resolve()}"
        return f"{gone}{_stale(withheld)}; {kept}" if withheld else f"{gone}{kept}"
    for path in present:
        path.unlink()
    record.unlink(missing_ok=True)
    if not present and not withheld:
        return f"{gone}the figures as PNG (300 dpi) and PDF: {AGAIN}"
    return f"{gone}{_stale(len(present) + withheld)}; {AGAIN} again"


def _stale(count: int) -> str:
    return (
        f"removed {count} PNG and PDF figure files not drawn with the current figures (other "
        "inputs, code or libraries)"
    )


def _orphans(folder: Path | str, wanted: list[Path]) -> list[Path]:
    """The PNG and PDF files directly in ``folder`` that are not ``wanted``, by name."""
    keep = {p.resolve() for p in wanted}
    found = [*Path(folder).glob("*.png"), *Path(folder).glob("*.pdf")]
    return sorted(p for p in found if p.is_file() and p.resolve() not in keep)
