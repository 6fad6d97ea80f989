"""The whole workflow, run by Snakemake on temporary copies of the repository.

These tests are what a user does: run the pipeline, add a study, drop in a broken file, kill a
run half-way, run it twice. They are the slowest in the suite (a few Snakemake runs), so every
test shares the runs made by the module-scoped fixtures.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from screening_helpers import screening_follows

ROOT = Path(__file__).resolve().parents[1]
# What a user's checkout holds that the workflow reads.
COPIED = [
    "Snakefile",
    "config.yaml",
    "workflow",
    "data",
    "profiles",
    "envs",
    "pyproject.toml",
    "README.md",
    "CITATION.cff",
]
# A synthetic study (tests only): a small case series that a user might add to the review.
SYNTHETIC_STUDY = ROOT / "tests" / "fixtures" / "studies" / "synthetic-2020.yaml"

pytestmark = pytest.mark.workflow


def _copy_repo(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    # The coverage study at a test size: the DAG is the same, the simulation 20x smaller.
    config = dest / "config.yaml"
    text, count = re.subn(r"(?m)^(  replicates:) \d+$", r"\1 50", config.read_text())
    assert count == 1, "config.yaml: coverage.replicates not found"
    config.write_text(text)
    return dest


def _rejudge(work: Path) -> None:
    """Set each GRADE judgement's judged_on to its results (README step 5): at the test size of
    the coverage study the selection rule may pick another primary method, whose numbers the
    repository's judgements were not made on, and the archive refuses those."""
    certainty = work / "data" / "certainty.yaml"
    text = certainty.read_text()
    for outcome in ("complete_remission", "any_response"):
        pooled = work / "results" / "pool" / outcome / "primary.json"
        now = json.loads(pooled.read_text())["judged_sha256"]
        start = text.index(f"  {outcome}:\n")
        rest = re.sub(r"judged_on: [0-9a-f]{64}", f"judged_on: {now}", text[start:], count=1)
        text = text[:start] + rest
    certainty.write_text(text)


def _snakemake(
    workdir: Path, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    # The job server says which jobs it ran (test_the_job_server_runs_the_jobs...).
    env = dict(env or os.environ, STSMETA_JOB_SERVER_LOG=str(workdir / "job-server.log"))
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def _result_hashes(workdir: Path) -> dict[str, str]:
    """sha256 of every result file, logs (they hold timings and paths) and caches (they keep
    what earlier runs made) left out."""
    results = workdir / "results"
    return {
        str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(results.rglob("*"))
        if p.is_file() and not {"logs", "staging", "cache"} & set(p.relative_to(results).parts)
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A copy of the repository on which `snakemake --cores 2` and the archive target have run."""
    work = _copy_repo(tmp_path_factory.mktemp("run-a"))
    _snakemake(work)
    _rejudge(work)
    _snakemake(work, "archive")
    return work


def test_default_target_builds_tables_pooled_figures_and_report(built):
    results = built / "results"
    studies = sorted(p.stem for p in (built / "data" / "raw").glob("*.yaml"))
    assert sorted(p.stem for p in (results / "normalised").glob("*.json")) == studies
    for name in ["studies", "patients", "flags", "decisions"]:
        assert (results / "tables" / f"{name}.csv").stat().st_size > 0
    assert (results / "pool" / "complete_remission" / "primary.json").exists()
    assert (results / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert list((results / "archive").glob("stsmeta-results-*.tar.gz"))


def test_no_op_rerun_runs_nothing(built):
    proc = _snakemake(built, "--dry-run")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_adding_a_study_reruns_only_that_study(built, tmp_path):
    work = tmp_path / "run-c"
    shutil.copytree(
        built, work, symlinks=True
    )  # copy2 keeps mtimes: Snakemake sees an up-to-date run
    before = {
        p.name: p.stat().st_mtime_ns for p in (work / "results" / "normalised").glob("*.json")
    }
    shutil.copy(SYNTHETIC_STUDY, work / "data" / "raw" / SYNTHETIC_STUDY.name)
    screening_follows(work, added=[SYNTHETIC_STUDY.stem])

    dry = _snakemake(work, "--dry-run", "--quiet", "rules").stdout
    _snakemake(work)

    after = {p.name: p.stat().st_mtime_ns for p in (work / "results" / "normalised").glob("*.json")}
    assert set(after) == set(before) | {"synthetic-2020.json"}
    assert {k: after[k] for k in before} == before, "another study's normalisation ran again"
    # The dry run's job table lists exactly one normalisation job.
    normalise_rows = [
        line.split() for line in dry.splitlines() if line.strip().startswith("normalise")
    ]
    assert normalise_rows and normalise_rows[0][1] == "1", dry
    studies_csv = (work / "results" / "tables" / "studies.csv").read_text()
    assert "synthetic-2020" in studies_csv


def _job_table(dry_run_stdout: str) -> dict[str, int]:
    """{rule: jobs} of `snakemake --dry-run --quiet rules`, without the `all` and total rows."""
    rows = re.findall(r"^(\w+)\s+(\d+)$", dry_run_stdout, flags=re.M)
    return {rule: int(n) for rule, n in rows if rule not in ("all", "total")}


def _mtimes(results: Path, *patterns: str) -> dict[str, int]:
    return {
        str(p.relative_to(results)): p.stat().st_mtime_ns
        for pattern in patterns
        for p in sorted(results.glob(pattern))
    }


def test_a_typo_in_free_text_reruns_only_what_prints_it(built, tmp_path):
    """Issue 16: a locator fixed in one study reruns its normalisation, the tables and the
    report; no analysis, coverage or figure job (they read the analysis extracts)."""
    work = tmp_path / "run-typo"
    shutil.copytree(built, work, symlinks=True)
    raw = sorted((work / "data" / "raw").glob("*.yaml"))[0]
    text, count = re.subn(r"(?m)^(\s*locator: )(.+)$", r"\1\2 (checked)", raw.read_text(), count=1)
    assert count == 1
    raw.write_text(text)
    results = work / "results"
    untouched = ["extract/*.json", "pool/*/*.json", "figures/*", "coverage/**/*.*", "config/*"]
    before = _mtimes(results, *untouched)
    # The archive drew the PNG and PDF figures: no figure changes, so they stay.
    assert list((results / "figures").glob("*.png")) and list((results / "figures").glob("*.pdf"))

    dry = _snakemake(work, "--dry-run", "--quiet", "rules").stdout
    jobs = _job_table(dry)
    # The PDF is printed from the report (when a Chromium is installed).
    jobs.pop("report_pdf", None)
    assert jobs == {"normalise": 1, "tables": 1, "report": 1}, dry
    _snakemake(work)
    assert _mtimes(results, *untouched) == before
    normalised = json.loads((results / "normalised" / f"{raw.stem}.json").read_text())
    assert "(checked)" in json.dumps(normalised)


def test_png_and_pdf_figures_are_drawn_on_request_and_never_left_stale(built, tmp_path):
    """The default target draws the figures as SVG; the archive (and target `publication`) adds
    PNG and PDF, which a run that redraws the figures removes rather than leave beside them
    (figures/print_state.py); asked for again, they are drawn from the new evidence."""
    work = tmp_path / "run-print"
    shutil.copytree(built, work, symlinks=True)
    figures = work / "results" / "figures"
    svgs = sorted(p.stem for p in figures.glob("*.svg"))
    prints = sorted(p.name for p in figures.iterdir() if p.suffix in {".png", ".pdf"})
    assert prints == sorted(f"{stem}.{ext}" for stem in svgs for ext in ("pdf", "png"))

    # A study outside the coverage study's design: pooling and the figures rerun.
    outside = SYNTHETIC_STUDY.read_text().replace("value: intralesional", "value: intravenous")
    (work / "data" / "raw" / "synthetic-2020.yaml").write_text(outside)
    screening_follows(work, added=["synthetic-2020"])
    jobs = _job_table(_snakemake(work, "--dry-run", "--quiet", "rules").stdout)
    assert "figures" in jobs and "figures_print" not in jobs, jobs
    # Asked for, they come with everything of the default target, the report among it, even
    # without a Chromium (whose PDF of the report would otherwise pull the report along).
    without_chromium = dict(os.environ, STSMETA_CHROMIUM=str(tmp_path / "no-chromium"))
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "publication", "--cores", "2", "-n", "-q", "rules"],
        cwd=work, env=without_chromium, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert {"figures", "figures_print", "report"} <= set(_job_table(dry.stdout)), dry.stdout
    assert "report_pdf" not in _job_table(dry.stdout)
    proc = _snakemake(work)
    assert f"removed {len(prints)} PNG and PDF figure files" in proc.stdout, proc.stdout
    assert not [p for p in figures.iterdir() if p.suffix in {".png", ".pdf"}]
    assert not (figures / "print-record.sha256").exists()

    drawn = _snakemake(work, "results/figures/print-record.sha256")
    assert "PNG and PDF are in" in drawn.stdout, drawn.stdout
    assert sorted(p.name for p in figures.iterdir() if p.suffix in {".png", ".pdf"}) == prints
    for line in (figures / "print-record.sha256").read_text().splitlines()[1:]:
        sha, name = line.split("  ")
        assert hashlib.sha256((work / name).read_bytes()).hexdigest() == sha, name


def test_png_and_pdf_of_a_figure_no_longer_drawn_are_removed(built, tmp_path):
    """An outcome dropped from the plan leaves its PNG and PDF figures (SYNTHETIC stand-ins
    here) that no current figure and no record vouch for: the next run that runs a job removes
    them and says so, and keeps the current ones."""
    work = tmp_path / "run-orphan"
    shutil.copytree(built, work, symlinks=True)
    figures = work / "results" / "figures"
    prints = sorted(p.name for p in figures.iterdir() if p.suffix in {".png", ".pdf"})
    assert prints
    orphans = [figures / "forest_dropped_outcome.png", figures / "forest_dropped_outcome.pdf"]
    for path in orphans:
        path.write_bytes(b"SYNTHETIC: drawn for an outcome the plan no longer has")
    raw = sorted((work / "data" / "raw").glob("*.yaml"))[0]
    text, count = re.subn(r"(?m)^(\s*locator: )(.+)$", r"\1\2 (checked)", raw.read_text(), count=1)
    assert count == 1
    raw.write_text(text)  # a job to run: the end of the run settles the figures
    proc = _snakemake(work)
    assert "removed 2 PNG and PDF figure files of figures no longer drawn" in proc.stdout
    assert not any(p.exists() for p in orphans)
    assert sorted(p.name for p in figures.iterdir() if p.suffix in {".png", ".pdf"}) == prints


# `snakemake` whose end-of-run check of the PNG and PDF figures is cut by Ctrl-C as it starts:
# the audit's interruption inside onsuccess, a few ms after the report job, made certain.
_CTRL_C_AT_SETTLE = """
import sys
import stsmeta.figures.print_state as print_state
def ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt
print_state.settle = ctrl_c
from snakemake.cli import main
main(sys.argv[1:])
"""


def _print_files(figures: Path) -> dict[str, bytes]:
    """The PNG and PDF figures and their record, by name."""
    return {
        p.name: p.read_bytes()
        for p in sorted(figures.iterdir())
        if p.suffix in {".png", ".pdf"} or p.name == "print-record.sha256"
    }


def _redraw_the_figures(work: Path) -> None:
    """A study outside the coverage study's design: pooling and the figures rerun."""
    outside = SYNTHETIC_STUDY.read_text().replace("value: intralesional", "value: intravenous")
    (work / "data" / "raw" / "synthetic-2020.yaml").write_text(outside)
    screening_follows(work, added=["synthetic-2020"])


def test_ctrl_c_as_the_run_ends_leaves_no_png_or_pdf_beside_redrawn_svgs(built, tmp_path):
    """Ctrl-C after the last job, as the run checks its PNG and PDF figures: those drawn from
    the SVGs it replaced are not left beside the new ones looking current (they were set aside
    before any job ran), not after the next no-op run either (which runs no check), and the
    next run that runs a job says they were not put back."""
    work = tmp_path / "run-ctrl-c"
    shutil.copytree(built, work, symlinks=True)
    figures = work / "results" / "figures"
    assert len(_print_files(figures)) > 1  # the archive drew them
    _redraw_the_figures(work)
    cut = subprocess.run(
        [sys.executable, "-c", _CTRL_C_AT_SETTLE, "--cores", "2"],
        cwd=work, capture_output=True, text=True,
    )  # fmt: skip
    assert cut.returncode != 0 and "stsmeta: the report is" in cut.stdout, cut.stderr
    assert _print_files(figures) == {}
    assert "Nothing to be done" in _output(_snakemake(work))
    assert _print_files(figures) == {}
    raw = sorted((work / "data" / "raw").glob("*.yaml"))[0]
    text, count = re.subn(r"(?m)^(\s*locator: )(.+)$", r"\1\2 (checked)", raw.read_text(), count=1)
    assert count == 1
    raw.write_text(text)  # a job to run
    said = _output(_snakemake(work))
    assert "made on request before the last run" in said and "were not put back" in said
    assert _print_files(figures) == {}


def _python_for_the_figures_job(tmp_path: Path, started: Path) -> dict[str, str]:
    """An environment whose `python` (what the jobs' shell commands run) hangs or fails in the
    figures job when STSMETA_TEST_FIGURES says so, and runs every other command as usual."""
    folder = tmp_path / "bin"
    folder.mkdir()
    shim = folder / "python"
    shim.write_text(
        "#!/bin/sh\n"
        'case "$*" in *"stsmeta figures "*"--formats svg"*)\n'
        f'  touch "{started}"\n'
        '  if [ "$STSMETA_TEST_FIGURES" = hang ]; then exec sleep 600; fi\n'
        '  if [ "$STSMETA_TEST_FIGURES" = fail ]; then echo SYNTHETIC failure >&2; exit 1; fi\n'
        "esac\n"
        f'exec {sys.executable} "$@"\n'
    )
    shim.chmod(0o755)
    return dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_a_run_killed_mid_figures_loses_nothing_when_the_next_run_fails_too(built, tmp_path):
    """kill -9 of the whole run while the figures job redraws the figures (Snakemake deleted
    the SVGs before it): the next run puts them back (out of date) at its start, before its own
    snapshot, so that its figures job failing too leaves the previous figures, with the PNG and
    PDF files that match them; mended, the run after rebuilds everything."""
    from stsmeta.keep_previous import OUT_OF_DATE

    work = tmp_path / "run-killed"
    shutil.copytree(built, work, symlinks=True)
    figures = work / "results" / "figures"
    svgs = {p.name: p.read_bytes() for p in sorted(figures.glob("*.svg"))}
    prints = _print_files(figures)
    _redraw_the_figures(work)
    started = tmp_path / "figures-started"
    env = _python_for_the_figures_job(tmp_path, started)
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2"], cwd=work,
        env=dict(env, STSMETA_TEST_FIGURES="hang"), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not started.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the figures job never ran"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list(figures.glob("*.svg"))
    left_by_the_kill = _print_files(figures)
    _snakemake(work, "--unlock")

    failed = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2"], cwd=work,
        env=dict(env, STSMETA_TEST_FIGURES="fail"), capture_output=True, text=True,
    )  # fmt: skip
    said = _output(failed)
    assert failed.returncode != 0 and "Traceback" not in said
    assert {p.name: p.read_bytes() for p in sorted(figures.glob("*.svg"))} == svgs
    assert "the last run did not end cleanly" in said
    assert all(p.stat().st_mtime == OUT_OF_DATE for p in figures.glob("*.svg"))
    assert _print_files(figures) == prints
    # While the figures were being redrawn, their PNG and PDF files were set aside.
    assert left_by_the_kill == {}

    said = _output(_snakemake(work))
    assert f"removed {len(prints) - 1} PNG and PDF figure files" in said, said
    assert _print_files(figures) == {}
    redrawn = {p.name: p.read_bytes() for p in sorted(figures.glob("*.svg"))}
    assert redrawn.keys() == svgs.keys() and redrawn != svgs
    assert all(p.stat().st_mtime > OUT_OF_DATE for p in figures.glob("*.svg"))
    assert "Nothing to be done" in _output(_snakemake(work, "--dry-run"))
    assert not (work / ".snakemake" / "stsmeta" / "previous-outputs.run").exists()


def test_the_screening_records_the_review_names_are_the_ones_checked(built, tmp_path):
    """review.screening_records names another file: the screening check and its PRISMA tables
    read that file, as the figures and the report do (it read the usual place regardless); a
    named file that is missing stops the run, naming it (it fell back to the usual place)."""
    work = tmp_path / "run-screening"
    shutil.copytree(built, work, symlinks=True)
    other = work / "data" / "screening" / "other.yaml"
    shutil.copy(work / "data" / "screening" / "screening.yaml", other)
    (work / "review.yaml").write_text(
        "review:\n  screening_records: data/screening/other.yaml\n", encoding="utf-8"
    )
    dry = _snakemake(work, "--dry-run", "--printshellcmds", "--configfile", "review.yaml").stdout
    commands = [line for line in dry.splitlines() if "stsmeta screening " in line]
    assert commands and all("data/screening/other.yaml" in c for c in commands), dry
    assert not any("data/screening/screening.yaml" in c for c in commands)
    other.unlink()
    proc = _snakemake(work, "--dry-run", "--configfile", "review.yaml", check=False)
    assert proc.returncode != 0
    assert (
        "config.yaml: review.screening_records: data/screening/other.yaml not found" in proc.stderr
    ), proc.stderr


def test_certainty_judgements_of_a_dropped_outcome_stop_the_run_before_any_job(built, tmp_path):
    """config.yaml drops an outcome that data/certainty.yaml still judges: the run stops at
    start-up, naming the file and the outcome, with every result as it was (it stopped at the
    report job, after pooling and the figures had rerun)."""
    work = tmp_path / "run-certainty"
    shutil.copytree(built, work, symlinks=True)
    config = work / "config.yaml"
    text = config.read_text()
    start, end = text.index("  any_response:\n"), text.index("\neligibility:")
    config.write_text(text[:start] + text[end + 1 :])
    results = work / "results"
    before = _mtimes(results, "pool/*/*.json", "figures/*", "report.html")
    proc = _snakemake(work, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "data/certainty.yaml: outcomes.any_response: no such outcome" in out, out
    assert "nothing was run and no result was changed" in out
    assert ".smk" not in out and "WorkflowError" not in out and "Traceback" not in out
    assert _mtimes(results, "pool/*/*.json", "figures/*", "report.html") == before
    # Stopped cleanly: Snakemake's lock is released, the next run is not refused for it.
    assert not list((work / ".snakemake" / "locks").glob("*"))


def test_no_archive_is_packed_without_the_previous_versions(built, tmp_path):
    """Version 0.1.0 is published (archives.lock) but its archive is not in results/archive/
    (a fresh clone): `snakemake archive` of the next version stops before any job, naming the
    file to put there (it packed an archive that differed by what was on disk); the report
    alone still builds, saying the changes are not listed."""
    work = tmp_path / "run-previous"
    shutil.copytree(built, work, symlinks=True)
    (published,) = (work / "results" / "archive").glob("stsmeta-results-*.tar.gz")
    published.unlink()
    (work / "next.yaml").write_text('report:\n  version: "0.2.0"\n', encoding="utf-8")
    lock = (work / "archives.lock").read_bytes()
    proc = _snakemake(work, "archive", "--configfile", "next.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"results/archive/{published.name} is not here" in out, out
    assert ".smk" not in out and "Traceback" not in out
    assert not list((work / "results" / "archive").glob("*.tar.gz"))
    assert (work / "archives.lock").read_bytes() == lock
    dry = _snakemake(work, "--dry-run", "--configfile", "next.yaml")
    assert dry.returncode == 0


def test_a_study_file_restored_with_its_older_time_stamp_is_normalised_again(built, tmp_path):
    """A backup put back with cp -p (tar, rsync -a) is older than the record made from the edit
    it undoes: time stamps alone would keep that record; its SHA-256 reruns the normalisation."""
    work = tmp_path / "run-restore"
    shutil.copytree(built, work, symlinks=True)
    raw = sorted((work / "data" / "raw").glob("*.yaml"))[0]
    backup = tmp_path / raw.name
    shutil.copy2(raw, backup)  # keeps the time stamp
    text, count = re.subn(r"(?m)^(\s*locator: )(.+)$", r"\1\2 (edited)", raw.read_text(), count=1)
    assert count == 1
    raw.write_text(text)
    _snakemake(work)
    record = work / "results" / "normalised" / f"{raw.stem}.json"
    assert "(edited)" in record.read_text()
    shutil.copy2(backup, raw)  # put back, with its older time stamp
    assert raw.stat().st_mtime < record.stat().st_mtime
    jobs = _job_table(_snakemake(work, "--dry-run", "--quiet", "rules").stdout)
    assert jobs.get("normalise") == 1, jobs
    _snakemake(work)
    restored = json.loads(record.read_text())
    assert "(edited)" not in json.dumps(restored)
    assert restored["source_sha256"] == hashlib.sha256(backup.read_bytes()).hexdigest()


def test_the_coverage_study_reruns_only_for_a_new_design(built, tmp_path):
    """Issue 16: a study outside the primary analysis changes no design and reruns no shard; one
    inside does; removing it and adding it again copies the shards fitted the first time, and
    the pooled results and figures made the first time (stsmeta.result_cache)."""
    work = tmp_path / "run-design"
    shutil.copytree(built, work, symlinks=True)
    raw = work / "data" / "raw"
    design = work / "results" / "coverage" / "design.json"
    first = design.read_text()

    # Given by a route the plan does not pool: the design (and every shard) stays as it is.
    outside = SYNTHETIC_STUDY.read_text().replace("value: intralesional", "value: intravenous")
    (raw / "synthetic-2020.yaml").write_text(outside)
    screening_follows(work, added=["synthetic-2020"])
    jobs = _job_table(_snakemake(work, "--dry-run", "--quiet", "rules").stdout)
    assert "coverage_shard" not in jobs and "coverage_design" not in jobs, jobs
    assert {"normalise", "extract", "pool", "figures", "report"} <= set(jobs), jobs
    _snakemake(work)
    assert design.read_text() == first

    # Intralesional: it enters the primary analysis, the design grows by one study.
    shutil.copy(SYNTHETIC_STUDY, raw / "synthetic-2020.yaml")
    jobs = _job_table(_snakemake(work, "--dry-run", "--quiet", "rules").stdout)
    assert jobs.get("coverage_shard") and jobs.get("coverage_design") == 1, jobs
    # The heat map is redrawn by the figures job (one job fewer on the path to the report).
    jobs.pop("report_pdf", None)
    assert set(jobs) == {
        *("normalise", "extract", "screening", "tables", "pool", "figures", "report"),
        *("coverage_design", "coverage_shard", "coverage_summary"),
    }, jobs
    assert jobs["figures"] == 1, jobs
    _snakemake(work)
    grown = json.loads(design.read_text())
    assert grown["k"] == json.loads(first)["k"] + 1
    fitted = _result_hashes(work)

    (raw / "synthetic-2020.yaml").unlink()
    screening_follows(work, removed=["synthetic-2020"])
    _snakemake(work)
    assert design.read_text() == first
    shutil.copy(SYNTHETIC_STUDY, raw / "synthetic-2020.yaml")
    screening_follows(work, added=["synthetic-2020"])
    _snakemake(work)
    # One job per shard, every family of it copied from the cache, none fitted again.
    logs = sorted((work / "results" / "logs" / "coverage").glob("shard-*.log"))
    families = [d for d in (work / "results" / "coverage" / "shards").iterdir() if d.is_dir()]
    assert logs and families, (logs, families)
    for log in logs:
        text = log.read_text()
        assert text.count("fitted before") == len(families) and "fits of" not in text, text
    logs = work / "results" / "logs"
    for log in [*sorted((logs / "pool").glob("*.log")), logs / "figures.log"]:
        assert "copied from the result cache" in log.read_text(), log
    assert _result_hashes(work) == fitted


def test_without_the_params_trigger_nothing_runs(built, tmp_path):
    """Extracts, design and configuration files are kept current through params: a run that
    would not see their changes refuses to start rather than compute from stale inputs."""
    work = tmp_path / "run-triggers"
    shutil.copytree(built, work, symlinks=True)
    shutil.copy(SYNTHETIC_STUDY, work / "data" / "raw" / SYNTHETIC_STUDY.name)
    screening_follows(work, added=[SYNTHETIC_STUDY.stem])
    before = _result_hashes(work)
    proc = _snakemake(work, "--rerun-triggers", "mtime", check=False)
    assert proc.returncode != 0
    assert "--rerun-triggers must include params" in proc.stdout + proc.stderr
    assert _result_hashes(work) == before


def test_a_bad_study_file_stops_the_run_and_changes_nothing(built, tmp_path):
    work = tmp_path / "run-d"
    shutil.copytree(built, work, symlinks=True)
    before = _result_hashes(work)
    bad = work / "data" / "raw" / "broken-2020.yaml"
    bad.write_text("study_id: broken-2020\ncitation: [unclosed\n")
    # Touching a real study too: without the up-front check its jobs would rerun.
    next((work / "data" / "raw").glob("s*.yaml")).touch()

    proc = _snakemake(work, check=False)
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "broken-2020.yaml" in said
    # The message alone: no trail of the workflow's own files and lines, no traceback.
    assert ".smk" not in said and "WorkflowError" not in said and "Traceback" not in said
    assert _result_hashes(work) == before


def test_another_clone_killed_midway_and_resumed_is_byte_identical(built, tmp_path):
    """A second clean clone, killed half-way and resumed as the README says, ends with the same
    bytes as the first: runs are reproducible across clones and interruptions."""
    work = _copy_repo(tmp_path / "run-e")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1"]
    proc = subprocess.Popen(
        cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    pooled = work / "results" / "pool"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(pooled.rglob("*.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _snakemake(work, "--unlock")  # a killed Snakemake leaves its lock behind, as a user would see
    _snakemake(work, "--rerun-incomplete")
    _rejudge(work)
    _snakemake(work, "archive", "--rerun-incomplete")
    expected = _result_hashes(built)
    got = _result_hashes(work)
    assert got == expected


def test_the_job_server_runs_the_jobs_and_changes_no_byte(built, tmp_path):
    """The run's jobs ran in forks of the job server (stsmeta.cli.job_server), none refused; a clone
    run with the server off (every job a process of its own) ends with the same bytes."""
    log = (built / "job-server.log").read_text().splitlines()
    jobs = [line for line in log if not line.startswith("preload ")]
    served = [line.split()[1] for line in jobs if line.startswith("served ")]
    ended = [line.split()[1] for line in jobs if line.startswith("ended ")]
    assert len(served) + len(ended) == len(jobs), log  # none refused
    # Every served job ended with status 0 (the log is a run's timeline).
    assert sorted(served) == sorted(ended), log
    assert all(" status 0 at " in line for line in jobs if line.startswith("ended ")), log
    commands = set(served)
    assert {"coverage-shard", "coverage-summary", "pool", "figures", "report"} <= commands
    work = _copy_repo(tmp_path / "run-off")
    off = dict(os.environ, STSMETA_JOB_SERVER="off")
    _snakemake(work, env=off)
    _rejudge(work)
    _snakemake(work, "archive", env=off)
    assert not (work / "job-server.log").exists()
    assert _result_hashes(work) == _result_hashes(built)


def _mentions(results: Path, needle: str) -> list[str]:
    """Result files (logs left out) whose bytes contain `needle`."""
    return sorted(
        str(p.relative_to(results))
        for p in results.rglob("*")
        if p.is_file()
        and "logs" not in p.relative_to(results).parts
        and needle.encode() in p.read_bytes()
    )


def _only_in_changes(path: Path, needle: str) -> bool:
    """The report names ``needle`` only in "Changes since the previous version"."""
    if path.name not in ("report.md", "report.html"):
        return False
    text = path.read_text(encoding="utf-8")
    heading, after = (
        ("\n## Changes since", "\n## ") if path.suffix == ".md" else ('<h2 id="changes"', "<h2")
    )
    start = text.find(heading)
    if start < 0:
        return False
    end = text.find(after, start + len(heading))
    end = len(text) if end < 0 else end
    return needle in text[start:end] and needle not in text[:start] + text[end:]


def test_a_removed_and_a_renamed_study_leave_no_trace(built, tmp_path):
    work = tmp_path / "run-f"
    shutil.copytree(built, work, symlinks=True)
    raw = work / "data" / "raw"
    removed, renamed = sorted(p.stem for p in raw.glob("*.yaml"))[:2]
    (raw / f"{removed}.yaml").unlink()
    author, year = renamed.rsplit("-", 1)
    new_id = f"{author}x-{year}"
    text = (raw / f"{renamed}.yaml").read_text()
    assert f"study_id: {renamed}\n" in text
    # Renamed as a user would: the id everywhere in its file (it may also name sources).
    (raw / f"{new_id}.yaml").write_text(text.replace(renamed, new_id))
    (raw / f"{renamed}.yaml").unlink()
    screening_follows(work, removed=[removed], renamed={renamed: new_id})

    _snakemake(work)
    results = work / "results"
    for old in (removed, renamed):
        # Only the stale normalised file and analysis extract, which no job reads, and the
        # result cache's entries of the earlier state (read only by a job given those very
        # inputs again) still name the old study; and the report's list of what changed since
        # the published version, which must (a study renamed, a study removed).
        stale = [
            m
            for m in _mentions(results, old)
            if not m.startswith("cache/") and not _only_in_changes(results / m, old)
        ]
        assert stale == [f"extract/{old}.json", f"normalised/{old}.json"], old
    assert _mentions(results, new_id)
    _snakemake(work, "clean_stale")
    for old in (removed, renamed):
        left = [m for m in _mentions(results, old) if not _only_in_changes(results / m, old)]
        assert left == [], old


def test_config_overrides_reach_the_jobs(built, tmp_path):
    """--config and --configfile change what the jobs compute, and rerun only what they affect."""
    work = tmp_path / "run-g"
    shutil.copytree(built, work, symlinks=True)
    pooled = work / "results" / "pool" / "complete_remission" / "primary.json"
    before = json.loads(pooled.read_text())
    assert before["confidence_level"] == 0.95

    dry = _snakemake(work, "--dry-run", "--quiet", "rules", "--config", "confidence_level=0.9")
    rerun = {line.split()[0] for line in dry.stdout.splitlines() if line.strip()}
    assert "normalise" not in rerun and "tables" not in rerun, dry.stdout
    assert {"pool", "figures", "report"} <= rerun, dry.stdout
    _snakemake(work, "--config", "confidence_level=0.9")
    after = json.loads(pooled.read_text())
    assert after["confidence_level"] == 0.9
    assert after["settings"]["level"] == 0.9
    assert all(m["settings"]["level"] == 0.9 for m in after["secondary"].values())

    # The same method (the exact common effect, which depends on no selection) at 90% gives a
    # narrower interval around the same estimate. (The primary method may change: the coverage
    # study that selects it is run at the configured level.)
    def common(doc):
        return next(m for m in doc["secondary"].values() if m["settings"]["method"] == "common")

    assert common(after)["estimate"] == pytest.approx(common(before)["estimate"])
    width = {
        k: common(d)["ci_high"] - common(d)["ci_low"] for k, d in (("a", after), ("b", before))
    }
    assert width["a"] < width["b"]
    report = (work / "results" / "report.md").read_text()
    # CI, or CrI when the primary method is Bayesian.
    assert re.search(r"90% Cr?I", report) and not re.search(r"95% Cr?I", report)

    other = work / "other.yaml"
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["report"]["title"] = "Another title for a test of --configfile"
    config["confidence_level"] = 0.8
    other.write_text(yaml.safe_dump(config, sort_keys=False))
    _snakemake(work, "--configfile", str(other))
    assert json.loads(pooled.read_text())["confidence_level"] == 0.8
    report = (work / "results" / "report.md").read_text()
    assert "Another title for a test of --configfile" in report
    assert re.search(r"80% Cr?I", report) and not re.search(r"90% Cr?I", report)
    effective = json.loads((work / "results" / "config" / "report.json").read_text())
    assert effective["config"]["confidence_level"] == 0.8


def test_a_failed_reprint_of_an_unchanged_report_keeps_its_pdf(built, tmp_path, monkeypatch):
    """`snakemake pdf` printing the same report again (report_pdf alone: -R report_pdf) and
    failing (Chromium crashed): the PDF Snakemake deleted before the job was printed from this
    very report.html, and comes back as it was; it is not said to be of an earlier report."""
    work = tmp_path / "run-reprint"
    shutil.copytree(built, work, symlinks=True)
    html, pdf = work / "results" / "report.html", work / "results" / "report.pdf"
    pdf.write_bytes(b"%PDF- the report as printed (SYNTHETIC)")  # printed after report.html
    assert pdf.stat().st_mtime_ns >= html.stat().st_mtime_ns
    monkeypatch.setenv("STSMETA_CHROMIUM", "/bin/false")
    failed = _snakemake(work, "pdf", "--forcerun", "report_pdf", check=False)
    assert failed.returncode != 0
    assert pdf.read_bytes() == b"%PDF- the report as printed (SYNTHETIC)", _output(failed)
    assert "printed from an earlier report" not in _output(failed)


def test_a_report_rebuilt_with_the_same_bytes_keeps_its_pdf(built, tmp_path):
    """`--forcerun report` writes report.html again, byte for byte: the PDF set aside at the
    start matches it and comes back dated after it, so the end of the run does not take it for
    a PDF of an earlier report (it compared dates) and remove it."""
    work = tmp_path / "run-same-report"
    shutil.copytree(built, work, symlinks=True)
    html, pdf = work / "results" / "report.html", work / "results" / "report.pdf"
    pdf.write_bytes(b"%PDF- the report as printed (SYNTHETIC)")
    before = html.read_bytes()
    run = _snakemake(work, "--forcerun", "report")
    assert html.read_bytes() == before
    assert pdf.read_bytes() == b"%PDF- the report as printed (SYNTHETIC)", _output(run)
    assert pdf.stat().st_mtime_ns >= html.stat().st_mtime_ns
    assert "printed from an earlier report" not in _output(run)
