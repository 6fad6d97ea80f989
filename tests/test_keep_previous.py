"""The previous results kept around failed and cut-short runs (stsmeta.keep_previous).

Each test plays the workflow's part by hand, in the order its handlers and Snakemake run them
(onstart, Snakemake deleting a job's outputs, the job, onsuccess or onerror, the next start),
and cuts it where a signal, a kill or a full disk could. The files are SYNTHETIC stand-ins: the
module compares bytes, it never reads a figure or a report.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stsmeta import keep_previous
from stsmeta.figures import print_state
from stsmeta.keep_previous import OUT_OF_DATE, restore_missing, take_snapshot

# (Names the module had before it kept derived files are imported; the others are looked up
# as the tests run. On the older module these tests fail on its API, not on behaviour: the
# workflow tests in test_workflow.py show the behaviour the change fixed.)

DRAWN_BY = "a" * 64  # a stand-in stamp of what draws the PNG and PDF files
FIGURES = Path("results/figures")
RECORD = FIGURES / "print-record.sha256"
STEMS = ("forest", "risk_of_bias", "coverage")
SVGS = [FIGURES / f"{stem}.svg" for stem in STEMS]
PRINTS = [FIGURES / f"{stem}.{ext}" for stem in STEMS for ext in ("png", "pdf")]
HTML, PDF = Path("results/report.html"), Path("results/report.pdf")
STORE = Path(".snakemake/stsmeta/previous-outputs")


def current() -> str:
    return DRAWN_BY


def is_print(path: Path) -> bool:
    return path.parent == FIGURES and (path.suffix in (".png", ".pdf") or path == RECORD)


def derived():
    """The derived files, as workflow/rules/common.smk defines them."""
    kind = keep_previous.Derived
    return (
        kind(owns=is_print, vouched=lambda store: print_state.vouches(store / RECORD, current)),
        kind(
            owns=lambda path: path == PDF,
            vouched=lambda store: keep_previous.unchanged(HTML, store),
        ),
    )


def _publication_run() -> None:
    """What a finished `publication` run leaves: SVGs, their PNG and PDF with the record, the
    report and its PDF (relative paths, as the workflow runs in its working directory)."""
    FIGURES.mkdir(parents=True)
    for svg in SVGS:
        svg.write_text(f"<svg>{svg.stem}, 12 studies</svg>")
    for path in PRINTS:
        path.write_bytes(f"{path.name} drawn from 12 studies".encode())
    print_state.write_record(RECORD, SVGS, DRAWN_BY)
    HTML.write_text("<html>12 studies</html>")
    PDF.write_bytes(b"%PDF of the report of 12 studies")


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _publication_run()
    return tmp_path


def _contents(paths) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths if p.is_file()}


def _onstart(to_run=("figures", "report")) -> None:
    outputs = [*SVGS] if "figures" in to_run else []
    aside = [*PRINTS, RECORD] if "figures" in to_run else []
    if "report" in to_run:
        outputs.append(HTML)
        aside.append(PDF)
    take_snapshot(outputs, "results", STORE, set_aside=aside)


def _end_of_run(succeeded: bool) -> None:
    done = restore_missing(STORE, derived(), only_derived=succeeded)
    print_state.settle(RECORD, PRINTS, current, folder=FIGURES)
    if not done.failed:
        keep_previous.discard(STORE)


def _next_start() -> None:
    state, _ = keep_previous.left_by(STORE)
    assert state != "running"
    if state == "unfinished":
        assert not restore_missing(STORE, derived()).failed


def _nothing_stale_looks_current() -> None:
    """Every PNG or PDF figure beside the SVGs is vouched for by its record; the report's PDF
    is the one printed from the report that is there."""
    prints = [p for p in FIGURES.iterdir() if p.suffix in (".png", ".pdf")]
    if prints:
        assert print_state.vouches(RECORD, current), sorted(map(str, prints))
        assert all(b"12 studies" in svg.read_bytes() for svg in SVGS)
    if PDF.exists():
        assert HTML.read_text() == "<html>12 studies</html>"


def _steps(new_svg: str, new_html: str):
    """A run that redraws the SVGs and rewrites the report, as Snakemake runs it."""

    def delete_outputs():  # Snakemake, before each job
        for path in [*SVGS, HTML]:
            path.unlink()

    def write(path, text):
        return lambda: path.write_text(text)

    return [
        _onstart,
        delete_outputs,
        *(write(svg, new_svg.format(svg.stem)) for svg in SVGS),
        write(HTML, new_html),
        lambda: _end_of_run(succeeded=True),
    ]


@pytest.mark.parametrize("changed", [True, False], ids=["new-figures", "same-figures"])
def test_no_cut_in_a_run_leaves_print_files_beside_svgs_they_were_not_drawn_from(results, changed):
    """Cut after every step (Ctrl-C inside onsuccess, kill -9 mid-job), then start again:
    at no point is a PNG, PDF or report PDF seen beside figures or a report it was not made
    from; and the ones that still match are never lost."""
    new_svg = "<svg>{}, 13 studies</svg>" if changed else "<svg>{}, 12 studies</svg>"
    new_html = "<html>13 studies</html>" if changed else "<html>12 studies</html>"
    before = _contents([*PRINTS, RECORD, PDF])
    steps = _steps(new_svg, new_html)
    for cut in range(len(steps) + 1):
        shutil.rmtree("results")
        shutil.rmtree(".snakemake", ignore_errors=True)
        _publication_run()
        for step in steps[:cut]:
            step()
            if changed:
                _nothing_stale_looks_current()
        _next_start()
        if changed:
            _nothing_stale_looks_current()
        else:  # the same figures and report: their PNG, PDF and report PDF are all kept
            assert _contents([*PRINTS, RECORD, PDF]) == before, f"cut after step {cut}"
        assert keep_previous.left_by(STORE)[0] == "unfinished" or cut in (0, len(steps))


def test_print_files_are_out_of_results_while_the_svgs_are_redrawn(results):
    """The audit's case: new SVGs written, Ctrl-C before the end of the run settles the PNG
    and PDF files. They were set aside before any job ran, and the next start does not put
    them back beside SVGs drawn from other inputs."""
    _onstart()
    for svg in SVGS:
        svg.unlink()
        svg.write_text(f"<svg>{svg.stem}, 13 studies</svg>")
    # Interrupted here: onsuccess never ran.
    assert not [p for p in FIGURES.iterdir() if p.suffix in (".png", ".pdf")]
    assert not RECORD.exists() and not PDF.exists()
    done = restore_missing(STORE, derived())  # the next start
    assert sorted(done.withheld) == sorted([*PRINTS, RECORD])
    assert not done.restored
    assert done.put_back == [PDF]  # the report was not rewritten: its PDF still matches it
    assert not [p for p in FIGURES.iterdir() if p.suffix in (".png", ".pdf")]


def test_the_end_of_a_run_says_withheld_print_files_were_removed(results):
    _onstart(("figures",))
    for svg in SVGS:
        svg.write_text(f"<svg>{svg.stem}, 13 studies</svg>")
    done = restore_missing(STORE, derived(), only_derived=True)
    withheld = sum(p.suffix in (".png", ".pdf") for p in done.withheld)
    said = print_state.settle(RECORD, PRINTS, current, folder=FIGURES, withheld=withheld)
    assert said.startswith("removed 6 PNG and PDF figure files not drawn with the current")
    assert "publication" in said


def test_a_job_that_fails_gets_its_outputs_back_marked_out_of_date(results):
    before = _contents(SVGS)
    _onstart(("figures",))
    for svg in SVGS:
        svg.unlink()  # Snakemake, before and after the failed job
    done = restore_missing(STORE, derived())
    assert sorted(done.restored) == sorted(SVGS)
    assert sorted(done.put_back) == sorted([*PRINTS, RECORD])  # they match the SVGs put back
    assert _contents(SVGS) == before
    assert all(svg.stat().st_mtime == OUT_OF_DATE for svg in SVGS)
    # The PNG and PDF files keep their times: the SVGs, out of date, are what is rebuilt.
    assert all(p.stat().st_mtime != OUT_OF_DATE for p in PRINTS)


def _fail_copies_of(names, monkeypatch):
    """Hard links fail (another file system) and the copy of each of ``names`` runs out of
    space half-way, as shutil.copy2 does on a full disk."""
    real_copy = shutil.copy2

    def no_link(source, target, *args, **kwargs):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(source), None, str(target))

    def copy(source, target, *args, **kwargs):
        if Path(source).name in names:
            Path(target).write_bytes(Path(source).read_bytes()[:3])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(shutil, "copy2", copy)


def test_a_full_disk_leaves_no_truncated_file_and_the_other_files_are_put_back(
    results, monkeypatch
):
    """The audit's case: results/ on another file system (copies, not links), full as the
    figures job failed. A copy that fails leaves no file at all (it went to a temporary name),
    every other file is put back, and the one that was not is named with the reason; the
    snapshot keeps it for the next start, which puts it back once there is space."""
    before = _contents(SVGS)
    take_snapshot(SVGS, "results", STORE)
    for svg in SVGS:
        svg.unlink()
    with monkeypatch.context() as patch:
        _fail_copies_of({"risk_of_bias.svg"}, patch)
        done = restore_missing(STORE)
    lost = FIGURES / "risk_of_bias.svg"
    assert done.failed == [(lost, os.strerror(errno.ENOSPC))]
    assert not lost.exists()
    assert sorted(p.name for p in FIGURES.iterdir() if p.name.startswith(".")) == []
    assert sorted(done.restored) == sorted(s for s in SVGS if s != lost)
    assert "risk_of_bias.svg (No space left on device)" in keep_previous.named(done.failed)
    assert (STORE / lost).is_file()  # kept
    # Space freed: the next start puts it back, marked out of date.
    assert restore_missing(STORE).restored == [lost]
    assert _contents(SVGS) == before and lost.stat().st_mtime == OUT_OF_DATE


def test_a_file_that_cannot_be_kept_stops_the_run_before_anything_is_set_aside(
    results, monkeypatch
):
    before = _contents([*SVGS, *PRINTS, RECORD, PDF])
    with monkeypatch.context() as patch:
        _fail_copies_of({"forest.png"}, patch)
        with pytest.raises(keep_previous.SnapshotError) as raised:
            _onstart()
    assert raised.value.failed == [(FIGURES / "forest.png", os.strerror(errno.ENOSPC))]
    assert _contents([*SVGS, *PRINTS, RECORD, PDF]) == before
    assert keep_previous.left_by(STORE) == ("none", "") and not STORE.exists()


def test_a_killed_run_is_recognised_and_a_running_one_is_left_alone(results):
    _onstart()
    # This process took it: not a run going on elsewhere.
    assert keep_previous.left_by(STORE)[0] == "unfinished"
    mark = keep_previous.owner_file(STORE)
    host = mark.read_text().split()[0]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    mark.write_text(f"{host} {dead.stdout.strip()}\n")
    assert keep_previous.left_by(STORE)[0] == "unfinished"
    # A Snakemake of this folder still running (its lock removed by hand): not touched.
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "snakemake"])
    try:
        deadline = time.monotonic() + 10
        while b"snakemake" not in Path(f"/proc/{alive.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        mark.write_text(f"{host} {alive.pid}\n")
        assert keep_previous.left_by(STORE) == ("running", f"{host} {alive.pid}")
    finally:
        alive.kill()
        alive.wait()
    keep_previous.discard(STORE)
    assert keep_previous.left_by(STORE) == ("none", "")


def test_logs_are_never_kept(results):
    log = Path("results/logs/figures.log")
    log.parent.mkdir()
    log.write_text("the failed run's own log")
    assert take_snapshot([log, *SVGS], "results", STORE) == len(SVGS)
    log.unlink()
    assert log not in restore_missing(STORE).restored and not log.exists()


def test_a_copy_cut_short_in_the_snapshot_is_never_put_back(results):
    take_snapshot(SVGS, "results", STORE)
    leftover = STORE / FIGURES / ".forest.svg.x1y2.partial"  # a kill during a copy
    leftover.write_text("<svg>forest, 12 st")
    for svg in SVGS:
        svg.unlink()
    assert sorted(restore_missing(STORE).restored) == sorted(SVGS)
    assert not list(FIGURES.glob(".*"))


def test_files_made_from_outputs_that_cannot_be_put_back_wait_for_them(results, monkeypatch):
    """The disk is full as the figures job fails: the SVGs cannot be put back, so their PNG and
    PDF files, set aside, cannot be judged against them. They are neither put back nor taken
    for stale: they wait in the snapshot, and come back with the SVGs at the next start."""
    before = _contents([*SVGS, *PRINTS, RECORD])
    _onstart(("figures",))
    for svg in SVGS:
        svg.unlink()
    with monkeypatch.context() as patch:
        _fail_copies_of({svg.name for svg in SVGS}, patch)
        done = restore_missing(STORE, derived())
    assert sorted(path for path, _ in done.failed) == sorted(SVGS)
    assert sorted(done.deferred) == sorted([*PRINTS, RECORD])
    assert not done.withheld and not done.put_back
    done = restore_missing(STORE, derived())  # the next start, with space
    assert sorted(done.restored) == sorted(SVGS)
    assert sorted(done.put_back) == sorted([*PRINTS, RECORD])
    assert _contents([*SVGS, *PRINTS, RECORD]) == before
