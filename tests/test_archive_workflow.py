"""The archive target run by Snakemake on temporary copies of the repository: rerun from the
archive alone, from another working directory, unreleased changes, a corrupt previous archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from screening_helpers import screening_follows
from test_workflow import SYNTHETIC_STUDY, _copy_repo, _rejudge, _result_hashes, _snakemake

from stsmeta import archive
from stsmeta.code_digest import stage_code_digest
from stsmeta.figures.print_state import settle, stamp

pytestmark = pytest.mark.workflow

ARCHIVE = "results/archive/stsmeta-results-0.1.0.tar.gz"


def _snakemake_elsewhere(workdir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake on ``workdir``'s workflow, started from another working directory."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2"]
    cmd += ["--snakefile", str(workdir / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".snakemake" not in p.parts
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A copy on which the workflow ran and the archive target published 0.1.0, started from
    another working directory."""
    work = _copy_repo(tmp_path_factory.mktemp("published"))
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    for target in ([], ["archive"]):
        proc = _snakemake_elsewhere(work, elsewhere, *target)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        if not target:
            _rejudge(work)  # at the test size of the coverage study (README step 5)
    # The run says where the archive is and what to do with it (the job's log is not read).
    said = proc.stdout + proc.stderr
    assert f"stsmeta: published {ARCHIVE}" in said, said
    assert f"stsmeta verify-archive {ARCHIVE}" in said and "commit archives.lock" in said
    assert not any(elsewhere.iterdir()), "nothing may be written to the working directory"
    return work


def test_archive_is_recorded_and_verifies(published: Path) -> None:
    lock = archive.read_lock(published / "archives.lock")
    assert [e.version for e in lock] == ["0.1.0"]
    done = subprocess.run(
        [sys.executable, "-m", "stsmeta", "verify-archive", ARCHIVE],
        cwd=published,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_published_crate_passes_roc_validator_offline(published: Path, tmp_path: Path) -> None:
    from archive_helpers import validate_crate_offline

    with tarfile.open(published / ARCHIVE) as tar:
        tar.extractall(tmp_path, filter="data")
    result = validate_crate_offline(tmp_path / "stsmeta-results-0.1.0", tmp_path / "cache")
    assert [f"{i.check.identifier}: {i.message}" for i in result.get_issues()] == []
    assert result.passed()


@pytest.fixture(scope="module")
def second_version(published: Path, tmp_path_factory) -> Path:
    """The published copy with report.version bumped to 0.2.0, run and archived: its archive
    holds the previous version that its report compares with."""
    work = tmp_path_factory.mktemp("second") / "w"
    shutil.copytree(published, work, symlinks=True)
    config = work / "config.yaml"
    config.write_text(re.sub(r'version: "0\.1\.0"', 'version: "0.2.0"', config.read_text()))
    _snakemake(work)
    _snakemake(work, "archive")
    return work


def test_results_rebuilt_from_the_archive_alone_are_byte_identical(
    second_version: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the archive's README says: unpack, rebuild every result, compare."""
    name = "results/archive/stsmeta-results-0.2.0.tar.gz"
    with tarfile.open(second_version / name) as tar:
        tar.extractall(tmp_path, filter="data")
    folder = tmp_path / "stsmeta-results-0.2.0"
    readme = (folder / "README.md").read_text()
    assert "snakemake --cores 4 --forceall all figures_print\n" in readme
    archived = {
        n: b
        for n, b in archive.read_archive(second_version / name).files.items()
        if n.startswith("results/")
    }
    assert "results/archive/stsmeta-results-0.1.0.tar.gz" in archived
    assert "Compared with version 0.1.0" in archived["results/report.md"].decode()
    # The PNG and PDF figures come with the record that vouches for them: a run in the unpacked
    # archive keeps them (figures/print_state.py), as drawn by the archived code.
    figures = [n for n in archived if n.startswith("results/figures/")]
    prints = [n for n in figures if n.endswith((".png", ".pdf"))]
    assert len(prints) == 2 * sum(n.endswith(".svg") for n in figures), prints
    code = stage_code_digest(folder / "src" / "stsmeta", "figures")
    monkeypatch.chdir(folder)  # the record names the SVGs as the workflow does, from its folder
    kept = settle("results/figures/print-record.sha256", prints, lambda: stamp(code))
    assert "are in" in kept and all((folder / n).is_file() for n in prints), kept
    # Every result rebuilt from scratch: stale copies cannot pass for rebuilt ones.
    for rel in archived:
        if not rel.startswith("results/archive/"):
            (folder / rel).unlink()
    _rebuild_and_compare(folder, ["--cores", "2", "--forceall", "all", "figures_print"], archived)
    # The README's own check, with the coreutils tool.
    if shutil.which("sha256sum"):
        lines = (folder / "MANIFEST.sha256").read_text().splitlines()
        checked = subprocess.run(
            ["sha256sum", "-c", "-"],
            cwd=folder,
            input="\n".join(line for line in lines if "  results/" in line) + "\n",
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout


def test_unreleased_changes_are_labelled_and_refused(published: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    shutil.copytree(published, work, symlinks=True)
    before = (work / ARCHIVE).read_bytes(), (work / "archives.lock").read_bytes()
    shutil.copy(SYNTHETIC_STUDY, work / "data" / "raw" / SYNTHETIC_STUDY.name)
    screening_follows(work, added=[SYNTHETIC_STUDY.stem])
    _snakemake(work)
    report = (work / "results" / "report.md").read_text()
    assert "Version 0.1.0+unreleased changes" in report
    assert f"study files added: {SYNTHETIC_STUDY.name}" in report
    results = _result_hashes(work)
    proc = _snakemake(work, "archive", check=False)
    assert proc.returncode != 0
    # Known at start: the published version may not be packed again. Refused before any job
    # (an outside audit: the archive job refused it only after every other job had rewritten
    # the results), naming the file the user edits, not the effective configuration.
    said = proc.stdout + proc.stderr
    assert "config.yaml: report.version: 0.1.0 is published (archives.lock)" in said, said
    assert "bump report.version" in said and "nothing was run" in said
    assert "Traceback" not in said and "results/config" not in said
    assert _result_hashes(work) == results
    assert ((work / ARCHIVE).read_bytes(), (work / "archives.lock").read_bytes()) == before
    # A new version: then the certainty judgements, made on the data before the study was
    # added, stop the archive target, before any job too, naming the value to set: the results
    # the default target built.
    config = work / "config.yaml"
    config.write_text(re.sub(r'version: "0\.1\.0"', 'version: "0.2.0"', config.read_text()))
    proc = _snakemake(work, "archive", check=False)
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    pooled = work / "results" / "pool" / "complete_remission" / "primary.json"
    now = json.loads(pooled.read_text())["judged_sha256"]
    assert "data/certainty.yaml: outcomes.complete_remission.judged_on:" in said, said
    assert f"set judged_on to {now}" in said, said
    assert "Traceback" not in said
    assert _result_hashes(work) == results
    assert ((work / ARCHIVE).read_bytes(), (work / "archives.lock").read_bytes()) == before


def test_a_judgement_made_on_other_counts_is_refused_before_any_job(
    published: Path, tmp_path: Path
) -> None:
    """A study's count corrected (a valid edit) and a new version archived: the GRADE
    judgements were made on the old counts, and `snakemake archive` refuses them at start,
    naming the file, the field and the value to set, with every result as it was (an outside
    audit: the archive job refused them only after every other job had rebuilt the results from
    the new data). Without the archive target the run goes on and the report marks them."""
    work = tmp_path / "w"
    shutil.copytree(published, work, symlinks=True)
    study = work / "data" / "raw" / "baumgartner-nielsen-2016.yaml"
    text = study.read_text()
    assert text.count("  - outcome: any_response\n    events: 5\n") == 1
    study.write_text(
        text.replace(
            "  - outcome: any_response\n    events: 5\n",
            "  - outcome: any_response\n    events: 4\n",
        )
    )
    config = work / "config.yaml"
    config.write_text(re.sub(r'version: "0\.1\.0"', 'version: "0.2.0"', config.read_text()))
    results = _tree_hashes(work / "results")
    lock = (work / "archives.lock").read_bytes()
    proc = _snakemake(work, "archive", check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0, said
    assert "Traceback" not in said and "Error in rule" not in said and ".smk" not in said, said
    assert "nothing was run and no result was changed" in said, said
    # Both outcomes: the extract of the study, whose any-response count changed, is what both
    # pooled results record (docs/analysis-plan.md, judged_sha256).
    found = {}
    for outcome in ("any_response", "complete_remission"):
        match = re.search(
            rf"data/certainty\.yaml: outcomes\.{outcome}\.judged_on: [^\n]*re-check it against "
            r"this version's results, then set judged_on to ([0-9a-f]{64})\n",
            said,
        )
        assert match, said
        found[outcome] = match.group(1)
    assert _tree_hashes(work / "results") == results
    assert (work / "archives.lock").read_bytes() == lock
    # The default target builds the results and the report (the judgements marked stale);
    # the value the refusal named is the new results' judged_sha256, and set, it is archived.
    _snakemake(work)
    assert "to be checked again" in (work / "results" / "report.md").read_text()
    for outcome, now in found.items():
        pooled = work / "results" / "pool" / outcome / "primary.json"
        assert json.loads(pooled.read_text())["judged_sha256"] == now
    _rejudge(work)
    done = _snakemake(work, "archive")
    assert (
        "stsmeta: published results/archive/stsmeta-results-0.2.0.tar.gz"
        in done.stdout + done.stderr
    )


def test_a_review_file_edited_after_publication_is_an_unreleased_change_listed_since_it(
    published: Path, tmp_path: Path
) -> None:
    """A certainty judgement edited after 0.1.0 was published: the report is no longer the
    published 0.1.0, says so, and lists the changes since 0.1.0 (there is no earlier version to
    compare with: it said "First version" before)."""
    work = tmp_path / "w"
    shutil.copytree(published, work, symlinks=True)
    certainty = work / "data" / "certainty.yaml"
    certainty.write_text(certainty.read_text() + "# re-checked\n")
    shutil.copy(SYNTHETIC_STUDY, work / "data" / "raw" / SYNTHETIC_STUDY.name)
    screening_follows(work, added=[SYNTHETIC_STUDY.stem])
    _snakemake(work)
    report = (work / "results" / "report.md").read_text()
    assert "Version 0.1.0+unreleased changes" in report
    assert "review files changed: data/certainty.yaml" in report
    assert "Compared with version 0.1.0 (stsmeta-results-0.1.0.tar.gz)" in report
    assert "First version" not in report
    changes = report[report.index("## Changes since") :]
    assert "Studies added: " in changes and "Studies added: none" not in changes


def test_corrupt_previous_archive_stops_the_run_and_deletes_nothing(
    published: Path, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    shutil.copytree(published, work, symlinks=True)
    config = work / "config.yaml"
    config.write_text(re.sub(r'version: "0\.1\.0"', 'version: "0.2.0"', config.read_text()))
    good = (work / ARCHIVE).read_bytes()
    (work / ARCHIVE).write_bytes(good[:-100])
    hashes = _tree_hashes(work / "results")
    proc = _snakemake(work, check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "stsmeta-results-0.1.0.tar.gz" in output and "failed verification" in output
    assert "Traceback" not in output
    assert _tree_hashes(work / "results") == hashes
    # Restored, the report compares with the verified previous version.
    (work / ARCHIVE).write_bytes(good)
    _snakemake(work)
    report = (work / "results" / "report.md").read_text()
    assert "Compared with version 0.1.0 (stsmeta-results-0.1.0.tar.gz)" in report


def test_an_archive_made_with_config_overrides_reruns_from_its_readme(
    published: Path, tmp_path: Path
) -> None:
    """`snakemake archive --config confidence_level=0.9`: the README's own rerun command, run in
    the unpacked archive, rebuilds every result byte for byte (it computed with 0.95 before)."""
    work = tmp_path / "w"
    shutil.copytree(published, work, symlinks=True)
    config = work / "config.yaml"
    config.write_text(re.sub(r'version: "0\.1\.0"', 'version: "0.2.0"', config.read_text()))
    # Another level gives other numbers than the GRADE judgements were made on: the archive
    # refuses them, before any job, until they are checked again against the results of that
    # level (README step 5).
    refused = _snakemake(work, "archive", "--config", "confidence_level=0.9", check=False)
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "data/certainty.yaml: outcomes.complete_remission.judged_on:" in said, said
    _snakemake(work, "--config", "confidence_level=0.9")
    _rejudge(work)
    _snakemake(work, "archive", "--config", "confidence_level=0.9")
    name = "results/archive/stsmeta-results-0.2.0.tar.gz"
    with tarfile.open(work / name) as tar:
        tar.extractall(tmp_path, filter="data")
    folder = tmp_path / "stsmeta-results-0.2.0"
    readme = (folder / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if line.startswith("snakemake ")]
    archived = {
        n: b for n, b in archive.read_archive(work / name).files.items() if n.startswith("results/")
    }
    for rel in archived:
        if not rel.startswith("results/archive/"):
            (folder / rel).unlink()
    args = command.split()[1:]
    args[args.index("--cores") + 1] = "2"
    _rebuild_and_compare(folder, args, archived)


def _rebuild_and_compare(folder: Path, args: list[str], archived: dict[str, bytes]) -> None:
    """Run Snakemake with ``args`` in an unpacked archive, with the archive's own package
    source (PYTHONPATH points into it, not at the test's), and compare every archived result."""
    env = dict(os.environ, PYTHONPATH=str(folder / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    differing = sorted(n for n, b in archived.items() if (folder / n).read_bytes() != b)
    assert not differing, f"rebuilt files differ from the archived ones: {differing}"
