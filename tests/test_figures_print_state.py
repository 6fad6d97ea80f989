"""PNG and PDF figures are kept only beside the SVGs they were drawn with (figures.print_state).

The files here are SYNTHETIC stand-ins: the module compares bytes, it never reads a figure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stsmeta.figures.print_state import FIGURE_LIBRARIES, settle, stamp, write_record

DRAWN_BY = "a" * 64  # a stand-in stamp: what drew the files


def current(value: str = DRAWN_BY):
    return lambda: value


@pytest.fixture
def drawn(tmp_path, monkeypatch) -> tuple[Path, list[Path], list[Path]]:
    """Two figures as SVG, PNG and PDF, and the record the print job writes (relative paths, as
    the workflow runs in its working directory)."""
    monkeypatch.chdir(tmp_path)
    figures = Path("results/figures")
    figures.mkdir(parents=True)
    svgs, prints = [], []
    for stem in ("forest", "risk_of_bias"):
        (figures / f"{stem}.svg").write_text(f"<svg>{stem}</svg>")
        svgs.append(figures / f"{stem}.svg")
        for ext in ("png", "pdf"):
            (figures / f"{stem}.{ext}").write_bytes(f"{stem} {ext}".encode())
            prints.append(figures / f"{stem}.{ext}")
    record = figures / "print-record.sha256"
    write_record(record, svgs, DRAWN_BY)
    return record, svgs, prints


def test_prints_of_the_current_svgs_are_kept(drawn):
    record, _, prints = drawn
    said = settle(record, prints, current())
    assert all(p.is_file() for p in prints) and record.is_file()
    assert "are in" in said and "results/figures" in said


def test_a_redrawn_svg_removes_every_print_and_the_record(drawn):
    record, svgs, prints = drawn
    svgs[1].write_text("<svg>risk of bias, one study more</svg>")
    said = settle(record, prints, current())
    assert not any(p.exists() for p in prints) and not record.exists()
    assert said.startswith("removed 4 PNG and PDF figure files") and "publication" in said
    # Nothing left to remove: the next run says how to draw them.
    assert "draws them" in settle(record, prints, current()) and not record.exists()


def test_prints_drawn_by_other_code_or_libraries_are_removed(drawn):
    """The same SVGs, but PNG and PDF drawn by code or libraries that would draw them otherwise
    now (an upgrade): they go too."""
    record, _, prints = drawn
    settle(record, prints, current("b" * 64))
    assert not any(p.exists() for p in prints) and not record.exists()


def test_the_stamp_follows_the_code_and_the_libraries(monkeypatch):
    import stsmeta.result_cache

    assert stamp("code 1") == stamp("code 1") != stamp("code 2")
    before = stamp("code 1")
    real = stsmeta.result_cache.library_versions

    def upgraded(names, portable=False):
        assert tuple(names) == FIGURE_LIBRARIES
        return {**real(names, portable), "pillow": "99.0"}

    monkeypatch.setattr(stsmeta.result_cache, "library_versions", upgraded)
    assert stamp("code 1") != before


@pytest.mark.parametrize(
    "damage", ["svg removed", "record removed", "record empty", "stamp only", "garbled"]
)
def test_prints_whose_svgs_cannot_be_confirmed_are_removed(drawn, damage):
    """Files from an earlier version of the workflow (no record), or a record that does not
    vouch for every SVG, count as stale: a figure that may not match the report never stays."""
    record, svgs, prints = drawn
    if damage == "svg removed":
        svgs[0].unlink()
    elif damage == "record removed":
        record.unlink()
    elif damage == "record empty":
        record.write_text("")
    elif damage == "stamp only":
        record.write_text(record.read_text().splitlines()[0] + "\n")
    else:
        record.write_bytes(b"\xff\xfe not a record")
    settle(record, prints, current())
    assert not any(p.exists() for p in prints)


def test_without_prints_the_record_goes_too(drawn):
    record, _, prints = drawn
    for path in prints:
        path.unlink()
    assert "snakemake --cores 4 publication" in settle(record, prints, current())
    assert not record.exists()


def test_prints_of_a_figure_no_longer_drawn_are_removed_whatever_the_record(drawn):
    """An outcome dropped from the plan: its PNG and PDF files are not among the figures drawn
    now, so no record can vouch for them; the run removes them and says so, and keeps the
    current ones its record vouches for. Other files of the folder stay."""
    record, _, prints = drawn
    figures = record.parent
    current_prints, dropped = prints[2:], prints[:2]  # "forest" is no longer drawn
    (figures / "notes.txt").write_text("the reviewer's own file")
    said = settle(record, current_prints, current(), folder=figures)
    assert not any(p.exists() for p in dropped)
    assert all(p.is_file() for p in current_prints) and record.is_file()
    assert said.startswith("removed 2 PNG and PDF figure files of figures no longer drawn; ")
    assert "are in" in said
    assert (figures / "notes.txt").is_file() and (figures / "forest.svg").is_file()
    # Without the folder (as before), such files were not looked at.
    for path in dropped:
        path.write_bytes(b"left over")
    settle(record, current_prints, current())
    assert all(p.is_file() for p in dropped)


def test_the_stamp_does_not_follow_the_interpreters_build(monkeypatch):
    """The archive holds the record: a rerun from it on another build or patch release of the
    same Python, with the pinned libraries, writes the same stamp (the result cache's keys, on
    this machine only, still follow the build)."""
    import sys

    from stsmeta.result_cache import job_key

    before, cached = stamp("code 1"), job_key("figures", {}, [], FIGURE_LIBRARIES, code="code 1")
    monkeypatch.setattr(sys, "version", "3.11.2 (main, another build) [GCC 12.2.0]")
    assert stamp("code 1") == before
    assert job_key("figures", {}, [], FIGURE_LIBRARIES, code="code 1") != cached
