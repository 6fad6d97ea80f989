"""Tests of the citable results archive (stsmeta.archive and its two commands).

All results trees here are SYNTHETIC (tests/archive_helpers.py): made-up studies and numbers
that only exercise packing, publishing and verifying.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from archive_helpers import (
    REPO,
    build_in,
    inputs_for,
    make_tree,
    member_bytes,
    members_of,
    rewrite,
    validate_crate_offline,
    with_manifest_recomputed,
)

from stsmeta import archive
from stsmeta.cli import main
from stsmeta.errors import InputError

TOP = "stsmeta-results-9.9.9"


@pytest.fixture
def built(tmp_path: Path) -> bytes:
    return build_in(tmp_path / "repo")


def unpack(data: bytes, where: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(where, filter="data")
    return where / archive.read_archive("x", data).top


def write(tmp_path: Path, data: bytes, name: str = "a.tar.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def published(tmp_path: Path, data: bytes, version: str = "9.9.9") -> tuple[Path, Path]:
    """Publish ``data`` into tmp_path/published with its lock; return (archive, lock)."""
    lock = tmp_path / "archives.lock"
    staging = write(tmp_path, data, "staging.tar.gz")
    outcome = archive.publish(
        staging, tmp_path / "published", version, "config.yaml", lock, "2019-01-01"
    )
    return outcome.path, lock


# ---------------------------------------------------------------------------- reproducibility


def test_identical_inputs_give_identical_bytes_despite_mtimes_and_umask(tmp_path: Path) -> None:
    first = build_in(tmp_path / "one")
    old_umask = os.umask(0o077)
    try:
        given = make_tree(tmp_path / "two")
    finally:
        os.umask(old_umask)
    for path in (tmp_path / "two").rglob("*"):
        os.utime(path, (1_000_000_000, 1_234_567_890))
        if path.is_file():
            path.chmod(0o600)
    second, _ = archive.build_archive(inputs_for(tmp_path / "two", given))
    assert first == second


def test_tar_entries_are_normalised(built: bytes) -> None:
    members = members_of(built)
    names = list(members)
    assert names[0] == TOP
    assert all(n == TOP or n.startswith(TOP + "/") for n in names)
    assert names == sorted(names, key=lambda n: n.split("/"))
    expected_mtime = int(dt.datetime(2019, 1, 1, tzinfo=dt.UTC).timestamp())
    for info in members.values():
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        assert info.mtime == expected_mtime
        assert info.mode == (0o755 if info.isdir() else 0o644)
    # gzip header: bytes 4-7 are the mtime (must be 0); FLG bit 3 (FNAME) must be clear.
    assert built[4:8] == b"\x00\x00\x00\x00"
    assert built[3] & 0x08 == 0
    assert len(gzip.decompress(built)) % tarfile.RECORDSIZE == 0


def test_archive_holds_exactly_the_declared_inputs(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    given = make_tree(root)
    # A file left in results/ by a removed study, not passed by the workflow: never archived.
    (root / "results" / "figures" / "stale_forest.png").write_bytes(b"stale")
    data, _ = archive.build_archive(inputs_for(root, given))
    names = {n[len(TOP) + 1 :] for n, m in members_of(data).items() if m.isfile()}
    assert names == {
        "results/report.html",
        "results/report.md",
        "results/figures/forest.png",
        "results/figures/forest.svg",
        "results/tables/studies.csv",
        "results/pool/complete_remission/primary.json",
        "results/normalised/synthetic_a_2011.json",
        "results/normalised/synthetic_b_2019.json",
        "data/raw/synthetic_a_2011.yaml",
        "data/raw/synthetic_b_2019.yaml",
        "config.yaml",
        "config.effective.json",
        "envs/requirements.lock",
        "pyproject.toml",
        "src/stsmeta/__init__.py",
        "Snakefile",
        "workflow/rules/a.smk",
        "CITATION.cff",
        "ro-crate-metadata.json",
        "README.md",
        "MANIFEST.sha256",
    }


def test_manifest_matches_sha256sum(built: bytes, tmp_path: Path) -> None:
    """The manifest is checked by the coreutils tool itself, an independent implementation."""
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum not installed")
    folder = unpack(built, tmp_path / "x")
    done = subprocess.run(
        ["sha256sum", "--check", "--strict", "MANIFEST.sha256"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {
        line.split("  ", 1)[1] for line in (folder / "MANIFEST.sha256").read_text().split("\n")[:-1]
    }
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert listed == on_disk - {"MANIFEST.sha256"}


# ---------------------------------------------------------------------------- citation and crate


def test_results_citation_carries_licence_date_and_placeholders(built: bytes) -> None:
    text = member_bytes(built, f"{TOP}/CITATION.cff").decode()
    cff = yaml.safe_load(text)
    assert cff["type"] == "dataset" and cff["version"] == "9.9.9"
    assert cff["license"] == "CC-BY-4.0"
    # 2019 is the latest study year in the synthetic data; not today's date.
    assert str(cff["date-released"]) == "2019-01-01"
    assert cff["authors"] == [
        {"name": "stsmeta contributors"},
        {"given-names": "Ada", "family-names": "Example"},
    ]
    assert "# doi: fill in" in text and "# repository-code: fill in" in text
    assert cff["references"][0]["notes"].startswith("Built from a copy that is not a git")


def test_repository_and_doi_go_into_citation_and_crate(tmp_path: Path) -> None:
    data = build_in(
        tmp_path / "r", repository="https://example.org/stsmeta", doi="10.5281/zenodo.1"
    )
    cff = yaml.safe_load(member_bytes(data, f"{TOP}/CITATION.cff"))
    assert cff["doi"] == "10.5281/zenodo.1"
    assert cff["repository-code"] == "https://example.org/stsmeta"
    crate = json.loads(member_bytes(data, f"{TOP}/ro-crate-metadata.json"))
    root = next(e for e in crate["@graph"] if e["@id"] == "./")
    assert root["identifier"] == "https://doi.org/10.5281/zenodo.1"


@pytest.mark.parametrize("which", ["software", "results", "results with DOI"])
def test_cffconvert_accepts_both_citation_files(which: str, built: bytes, tmp_path: Path) -> None:
    if shutil.which("cffconvert") is None:
        pytest.skip("cffconvert not installed (pip install --no-deps cffconvert==2.0.0)")
    path = REPO / "CITATION.cff"
    if which == "results with DOI":
        built = build_in(tmp_path / "r", repository="https://example.org/x", doi="10.5281/z.1")
    if which.startswith("results"):
        path = write(tmp_path, member_bytes(built, f"{TOP}/CITATION.cff"), "CITATION.cff")
    done = subprocess.run(
        ["cffconvert", "--validate", "-i", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid according to schema version 1.2.0" in done.stdout


def test_crate_is_a_workflow_run_crate(built: bytes, tmp_path: Path) -> None:
    folder = unpack(built, tmp_path / "x")
    crate = json.loads((folder / "ro-crate-metadata.json").read_text())
    graph = {e["@id"]: e for e in crate["@graph"]}
    assert graph["ro-crate-metadata.json"]["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.3"}
    root = graph["./"]
    profiles = {ref["@id"] for ref in root["conformsTo"]}
    assert profiles == {
        "https://w3id.org/ro/wfrun/process/0.6",
        "https://w3id.org/ro/wfrun/workflow/0.6",
        "https://w3id.org/workflowhub/workflow-ro-crate/1.1",
    }
    assert all("Profile" in graph[p]["@type"] for p in profiles)
    assert root["datePublished"] == "2019-01-01"
    assert root["license"] == {"@id": "https://spdx.org/licenses/CC-BY-4.0"}
    workflow = graph[root["mainEntity"]["@id"]]
    assert workflow["@id"] == "Snakefile"
    assert set(workflow["@type"]) == {"File", "SoftwareSourceCode", "ComputationalWorkflow"}
    language = graph[workflow["programmingLanguage"]["@id"]]
    assert language["name"] == "Snakemake" and language["version"] == "9.27.1"
    software = graph[workflow["softwareRequirements"]["@id"]]
    assert software["name"] == "stsmeta" and software["softwareVersion"]
    assert "Not built from a git checkout" in software["description"]
    run = graph[root["mentions"]["@id"]]
    assert run["@type"] == "CreateAction" and run["instrument"] == {"@id": "Snakefile"}
    objects = {r["@id"] for r in run["object"]}
    assert {"data/raw/synthetic_a_2011.yaml", "config.yaml", "config.effective.json"} <= objects
    results = {r["@id"] for r in run["result"]}
    assert "results/pool/complete_remission/primary.json" in results
    assert "results/report.html" in results
    # Every file in the archive except the descriptor itself is a data entity.
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    files = {i for i, e in graph.items() if "File" in e["@type"] or e["@type"] == "File"}
    assert files == on_disk - {"ro-crate-metadata.json"}


# roc-validator takes 15-40 s a crate (pyshacl parses its SPARQL shapes): with the slower tests.
@pytest.mark.workflow
def test_roc_validator_finds_no_required_failure_offline(built: bytes, tmp_path: Path) -> None:
    pytest.importorskip("rocrate_validator")
    folder = unpack(built, tmp_path / "x")
    result = validate_crate_offline(folder, tmp_path / "cache")
    failures = [f"{i.check.identifier}: {i.message}" for i in result.get_issues()]
    assert failures == []
    assert result.passed()


@pytest.mark.workflow
def test_roc_validator_catches_a_crate_without_licence(built: bytes, tmp_path: Path) -> None:
    # The validator run above can fail: the same crate without its licence does.
    pytest.importorskip("rocrate_validator")
    folder = unpack(built, tmp_path / "x")
    crate = json.loads((folder / "ro-crate-metadata.json").read_text())
    for entity in crate["@graph"]:
        entity.pop("license", None)
    (folder / "ro-crate-metadata.json").write_text(json.dumps(crate))
    result = validate_crate_offline(folder, tmp_path / "cache")
    assert not result.passed()
    assert any("license" in i.message.lower() for i in result.get_issues())


def test_readme_escapes_the_title(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script> [click](javascript:alert(1)) *bold*'
    data = build_in(tmp_path / "r", title=hostile)
    readme = member_bytes(data, f"{TOP}/README.md").decode()
    first = readme.splitlines()[0]
    assert "<script" not in readme and "&lt;script&gt;" in first
    assert "\\[click\\]\\(javascript:alert\\(1\\)\\)" in first and "\\*bold\\*" in first
    assert "snakemake --cores 4 --forceall all figures_print\n" in readme


def test_software_citation_at_repository_top() -> None:
    text = (REPO / "CITATION.cff").read_text()
    cff = yaml.safe_load(text)
    assert cff["type"] == "software" and cff["license"] == "MIT"
    import stsmeta

    assert cff["version"] == stsmeta.__version__
    assert "# doi: fill in" in text and "# repository-code: fill in" in text


# ---------------------------------------------------------------------------- verify


def test_verify_passes_on_a_published_archive(built: bytes, tmp_path: Path, capsys) -> None:
    path, lock = published(tmp_path, built)
    assert archive.verify_archive(path, lock).ok
    assert main(["verify-archive", str(path), "--lock", str(lock)]) == 0
    assert "OK: 20 files match MANIFEST.sha256 and" in capsys.readouterr().out


def test_verify_names_a_tampered_member(built: bytes, tmp_path: Path, capsys) -> None:
    target = f"{TOP}/results/pool/complete_remission/primary.json"
    tampered = rewrite(built, lambda n, b: b.replace(b"0.5", b"0.9") if n == target else b)
    path = write(tmp_path, tampered)
    result = archive.verify_archive(path)
    assert result.changed == ("results/pool/complete_remission/primary.json",)
    assert main(["verify-archive", str(path), "--manifest-only"]) == 1
    assert "changed: results/pool/complete_remission/primary.json" in capsys.readouterr().out


def test_changed_estimate_with_recomputed_manifest_fails_against_the_lock(
    built: bytes, tmp_path: Path, capsys
) -> None:
    path, lock = published(tmp_path, built)
    target = f"{TOP}/results/pool/complete_remission/primary.json"
    forged = with_manifest_recomputed(
        rewrite(built, lambda n, b: b.replace(b"0.5", b"0.9") if n == target else b)
    )
    path.write_bytes(forged)
    assert archive.verify_archive(path).ok  # its own manifest agrees...
    result = archive.verify_archive(path, lock)  # ...the record of publication does not
    assert not result.ok
    assert any("changed after it was published" in p for p in result.problems)
    assert main(["verify-archive", str(path), "--lock", str(lock)]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_archive_renamed_to_another_version_fails(built: bytes, tmp_path: Path) -> None:
    path, lock = published(tmp_path, built)
    renamed = path.with_name("stsmeta-results-9.9.10.tar.gz")
    shutil.copy(path, renamed)
    result = archive.verify_archive(renamed, lock)
    assert not result.ok
    assert any("it was renamed" in p for p in result.problems)
    assert any("were published as stsmeta-results-9.9.9.tar.gz" in p for p in result.problems)
    # Renaming the top folder too (and recomputing nothing else) still fails the lock.
    retopped = rewrite(built, lambda n, b: b, rename=lambda n: n.replace(TOP, TOP + "0", 1))
    other = write(tmp_path, retopped, "stsmeta-results-9.9.90.tar.gz")
    assert not archive.verify_archive(other, lock).ok


def test_verify_names_missing_and_extra_files(built: bytes, tmp_path: Path) -> None:
    without = rewrite(built, lambda n, b: None if n.endswith("tables/studies.csv") else b)
    assert archive.verify_archive(write(tmp_path, without)).missing == (
        "results/tables/studies.csv",
    )
    unlisted = rewrite(
        built,
        lambda n, b: (
            b"".join(line for line in io.BytesIO(b) if b"report.md" not in line)
            if n.endswith("MANIFEST.sha256")
            else b
        ),
    )
    assert archive.verify_archive(write(tmp_path, unlisted, "b.tgz")).extra == (
        "results/report.md",
    )


def test_verify_rejects_garbage_and_missing_manifest(built: bytes, tmp_path: Path) -> None:
    assert not archive.verify_archive(write(tmp_path, b"not an archive")).ok
    assert not archive.verify_archive(write(tmp_path, built[: len(built) // 2], "half.tgz")).ok
    assert not archive.verify_archive(tmp_path / "absent.tar.gz").ok
    no_manifest = rewrite(built, lambda n, b: None if n.endswith("MANIFEST.sha256") else b)
    result = archive.verify_archive(write(tmp_path, no_manifest, "c.tar.gz"))
    assert any("MANIFEST.sha256 is missing" in p for p in result.problems)


# ---------------------------------------------------------------------------- publish


def test_publish_records_the_archive_and_then_is_a_noop(built: bytes, tmp_path: Path) -> None:
    path, lock = published(tmp_path, built)
    assert path.read_bytes() == built
    (entry,) = archive.read_lock(lock)
    assert entry == archive.LockEntry(
        "9.9.9", path.name, hashlib.sha256(built).hexdigest(), "2019-01-01"
    )
    inode = path.stat().st_ino
    again = archive.publish(
        write(tmp_path, built, "s2.tgz"), path.parent, "9.9.9", "config.yaml", lock, "2019-01-01"
    )
    assert again.status == "unchanged" and path.stat().st_ino == inode
    assert len(archive.read_lock(lock)) == 1


def test_publish_refuses_different_content_and_keeps_the_old(tmp_path: Path) -> None:
    old = build_in(tmp_path / "old", events=3)
    new = build_in(tmp_path / "new", events=4)
    path, lock = published(tmp_path, old)
    lock_before = lock.read_bytes()
    with pytest.raises(InputError) as caught:
        archive.publish(
            write(tmp_path, new, "new.tgz"), path.parent, "9.9.9", "config.yaml", lock, "x"
        )
    message = str(caught.value)
    assert message.startswith("config.yaml: report.version: ")
    assert "bump report.version" in message and "results/tables/studies.csv" in message
    assert path.read_bytes() == old and lock.read_bytes() == lock_before
    # In a fresh clone the published file is absent, but the lock still refuses, without
    # claiming the results differ (they cannot be compared): it says how to find out.
    path.unlink()
    with pytest.raises(InputError, match="records stsmeta-results-9.9.9.tar.gz") as caught:
        archive.publish(
            write(tmp_path, new, "new.tgz"), path.parent, "9.9.9", "config.yaml", lock, "x"
        )
    message = str(caught.value)
    assert "results differ" not in message
    assert "not in" in message and "Put it there" in message and "bump report.version" in message
    assert not path.exists() and lock.read_bytes() == lock_before


def test_archive_command_end_to_end(tmp_path: Path, monkeypatch, capsys) -> None:
    given = make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = ["archive", "--config", "results/config/archive.json", "--results", "results"]
    # The study and result files as the workflow passes them: @FILE, one argument a line.
    listed = [a for p in given["results"] for a in ("--result", str(p.relative_to(tmp_path)))]
    listed += [a for p in given["raw"] for a in ("--raw", str(p.relative_to(tmp_path)))]
    (tmp_path / "arguments.txt").write_text("".join(f"{a}\n" for a in listed))
    argv += ["@arguments.txt"]
    argv += ["--config-file", "config.yaml", "--workflow-base", str(tmp_path)]
    for name in ("Snakefile", "pyproject.toml", "envs/requirements.lock"):
        argv += ["--workflow-file", name]
    argv += ["--package-dir", "src/stsmeta", "--package-file", "__init__.py"]
    argv += ["--staging", "results/archive/staging/s.tar.gz", "--publish-dir", "results/archive"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "recorded in" in out
    lock = tmp_path / "archives.lock"
    published_path = tmp_path / "results/archive/stsmeta-results-9.9.9.tar.gz"
    assert main(["verify-archive", str(published_path), "--lock", str(lock)]) == 0
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    (tmp_path / "results" / "report.md").write_text("# Synthetic report, changed\n")
    assert main(argv) == 2
    assert "bump report.version" in capsys.readouterr().err
    effective = tmp_path / "results" / "config" / "archive.json"
    effective.write_text(effective.read_text().replace('"9.9.9"', '"9.10.0"'))
    assert main(argv) == 0
    assert [e.version for e in archive.read_lock(lock)] == ["9.9.9", "9.10.0"]


# ---------------------------------------------------------------------------- input errors


def test_missing_parts_are_named(tmp_path: Path) -> None:
    given = make_tree(tmp_path)
    (tmp_path / "results" / "report.html").unlink()
    inputs = inputs_for(tmp_path, given)
    with pytest.raises(InputError) as caught:
        archive.build_archive(inputs)
    assert str(tmp_path / "results" / "report.html") in {p.file for p in caught.value.problems}


def test_stale_normalised_study_is_refused(tmp_path: Path) -> None:
    given = make_tree(tmp_path)
    given["raw"] = [p for p in given["raw"] if "synthetic_b" not in p.name]
    with pytest.raises(InputError) as caught:
        archive.build_archive(inputs_for(tmp_path, given))
    (problem,) = caught.value.problems
    assert problem.field == "source_sha256" and problem.file.endswith("synthetic_b_2019.json")


@pytest.mark.parametrize("version", ["", "../x", "1 0", None, 1.0])
def test_bad_version_is_an_input_error(tmp_path: Path, version) -> None:
    given = make_tree(tmp_path)
    effective = tmp_path / "results" / "config" / "archive.json"
    document = json.loads(effective.read_text())
    document["config"]["report"]["version"] = version
    effective.write_text(json.dumps(document))
    with pytest.raises(InputError) as caught:
        archive.build_archive(inputs_for(tmp_path, given))
    assert caught.value.problems[0].field == "report.version"


def test_version_order_is_numeric() -> None:
    versions = ["0.10.0", "0.2.0", "0.9.1", "1.0.0"]
    assert sorted(versions, key=archive.version_sort_key) == ["0.2.0", "0.9.1", "0.10.0", "1.0.0"]


def test_release_date_never_reads_the_clock(monkeypatch) -> None:
    report = {"version": "1.0"}
    studies = [("a.json", {"year": 2013}), ("b.json", {"citation": {"year": 2021}})]
    assert archive.release_date(report, studies, "c.yaml")[0] == dt.date(2021, 1, 1)
    assert archive.release_date({"date": "2024-05-06"}, studies, "c.yaml")[0] == dt.date(2024, 5, 6)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert archive.release_date(report, [], "c.yaml")[0] == archive.FALLBACK_DATE
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(24 * 3600 * 365))
    assert archive.release_date(report, [], "c.yaml")[0] == dt.date(1971, 1, 1)
    with pytest.raises(InputError, match=r"^c\.yaml: report\.date: "):
        archive.release_date({"date": "soon"}, studies, "c.yaml")


def test_git_commit_or_a_clear_not_a_git_checkout(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    assert archive.git_commit(tmp_path) == archive.NOT_A_GIT_CHECKOUT
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t")
    env["GIT_COMMITTER_EMAIL"] = "t@t"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=tmp_path, env=env, capture_output=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.decode().strip()

    git("init", "-q")
    (tmp_path / "Snakefile").write_text("# synthetic\n")
    (tmp_path / "archives.lock").write_text("# synthetic lock\n")
    git("add", "Snakefile", "archives.lock")
    git("commit", "-qm", "synthetic")
    head = git("rev-parse", "HEAD")
    assert archive.git_commit(tmp_path) == head
    # Publishing records the archive in archives.lock: not a change of the code or data.
    (tmp_path / "archives.lock").write_text("# synthetic lock\n0.1.0 ...\n")
    assert archive.git_commit(tmp_path) == head
    (tmp_path / "Snakefile").write_text("# changed\n")
    assert archive.git_commit(tmp_path) == f"{head} with uncommitted changes"
    # A folder inside the repository is not a checkout of its own.
    (tmp_path / "sub").mkdir()
    assert archive.git_commit(tmp_path / "sub") == archive.NOT_A_GIT_CHECKOUT


def test_separate_processes_agree_whatever_hash_seed_and_time_zone(tmp_path: Path) -> None:
    given = make_tree(tmp_path)
    args = [a for p in given["results"] for a in ("--result", str(p))]
    args += [a for p in given["raw"] for a in ("--raw", str(p))]
    for name in ("Snakefile", "pyproject.toml", "envs/requirements.lock"):
        args += ["--workflow-file", name]
    args += ["--package-dir", "src/stsmeta", "--package-file", "__init__.py"]
    digests = []
    for seed, zone in (("1", "UTC"), ("2", "Asia/Tokyo")):
        env = dict(os.environ, PYTHONHASHSEED=seed, TZ=zone)
        env.pop("SOURCE_DATE_EPOCH", None)
        out = f"s{seed}.tar.gz"
        subprocess.run(
            [sys.executable, "-m", "stsmeta", "archive", "--config", "config.yaml", *args]
            + ["--staging", out],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
        )
        digests.append(hashlib.sha256((tmp_path / out).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


# ---------------------------------------------------------------------------- previous version


def test_report_reads_the_previous_version_through_the_archive_reader(
    built: bytes, tmp_path: Path
) -> None:
    from stsmeta.report.previous import load_previous

    path = write(tmp_path, built, "stsmeta-results-9.9.9.tar.gz")
    previous = load_previous(path, path.read_bytes())
    assert previous.version == "9.9.9"
    assert previous.pooled["complete_remission"]["primary"]["estimate"] == 0.5
    assert sorted(previous.studies) == ["synthetic_a_2011", "synthetic_b_2019"]


def test_a_corrupt_previous_version_is_a_clear_error_that_deletes_nothing(
    built: bytes, tmp_path: Path
) -> None:
    from stsmeta.report.previous import load_previous

    target = f"{TOP}/results/pool/complete_remission/primary.json"
    tampered = rewrite(built, lambda n, b: b.replace(b"0.5", b"0.9") if n == target else b)
    path = write(tmp_path, tampered, "stsmeta-results-9.9.9.tar.gz")
    with pytest.raises(InputError) as caught:
        load_previous(path, tampered)
    assert "failed verification" in str(caught.value)
    assert "changed: results/pool/complete_remission/primary.json" in str(caught.value)
    assert path.read_bytes() == tampered


def test_release_status_labels_unreleased_changes(built: bytes, tmp_path: Path) -> None:
    path, lock = published(tmp_path, built)
    contents = archive.read_archive(path)
    config = json.loads(contents.files["config.effective.json"])["config"]
    raw = {
        n.split("/")[-1]: hashlib.sha256(b).hexdigest()
        for n, b in contents.files.items()
        if n.startswith("data/raw/")
    }
    same = archive.release_status(lock, path.parent, "9.9.9", raw, config)
    assert same == archive.ReleaseStatus(None, "9.9.9", (), published=path)
    assert same.compare_with is None  # nothing changed: the previous version's (none here)
    # A review file the report reads (certainty, screening) that the archive does not hold as it
    # is now (this fixture archive holds none; the workflow test edits one it holds).
    review = {"data/certainty.yaml": b"# SYNTHETIC\n"}
    status = archive.release_status(lock, path.parent, "9.9.9", raw, config, review)
    assert status.changes == ("review files changed: data/certainty.yaml",)
    assert status.label == "9.9.9+unreleased changes"
    # The report then lists the changes since this version's own archive.
    assert status.compare_with == path and status.previous is None
    raw["synthetic_c_2020.yaml"] = hashlib.sha256(b"# SYNTHETIC\n").hexdigest()
    changed = dict(config, confidence_level=0.9)
    status = archive.release_status(lock, path.parent, "9.9.9", raw, changed)
    assert status.label == "9.9.9+unreleased changes"
    assert status.changes == (
        "study files added: synthetic_c_2020.yaml",
        "configuration changed: confidence_level",
    )
    del raw["synthetic_a_2011.yaml"]
    raw["synthetic_b_2019.yaml"] = hashlib.sha256(b"# corrected\n").hexdigest()
    status = archive.release_status(lock, path.parent, "9.9.9", raw, config)
    assert status.changes == (
        "study files added: synthetic_c_2020.yaml",
        "study files removed: 1",
        "study files changed: synthetic_b_2019.yaml",
    )
    # The next version compares with 9.9.9, verified first.
    assert archive.release_status(lock, path.parent, "9.10.0", raw, config).previous == path
    path.write_bytes(built[:-50])
    with pytest.raises(InputError, match="failed verification"):
        archive.release_status(lock, path.parent, "9.10.0", raw, config)
    path.unlink()
    # A fresh clone has no results/: not an error, and the report says what it cannot list.
    status = archive.release_status(lock, path.parent, "9.10.0", raw, config)
    assert status.previous is None and status.previous_unavailable == "9.9.9"


def test_a_rebuild_from_another_commit_with_the_same_results_keeps_the_published(
    built: bytes, tmp_path: Path
) -> None:
    path, lock = published(tmp_path, built)
    other_code = rewrite(
        built, lambda n, b: b + b"# changed\n" if n.endswith("src/stsmeta/__init__.py") else b
    )
    other_code = with_manifest_recomputed(other_code)
    outcome = archive.publish(
        write(tmp_path, other_code, "s.tgz"), path.parent, "9.9.9", "c.yaml", lock, "x"
    )
    assert outcome.status == "same results"
    assert path.read_bytes() == built and len(archive.read_lock(lock)) == 1
    # A different result is refused all the same.
    target = f"{TOP}/results/pool/complete_remission/primary.json"
    other_result = with_manifest_recomputed(
        rewrite(other_code, lambda n, b: b.replace(b"0.5", b"0.9") if n == target else b)
    )
    with pytest.raises(InputError, match="bump report.version"):
        archive.publish(
            write(tmp_path, other_result, "s2.tgz"), path.parent, "9.9.9", "c.yaml", lock, "x"
        )


def test_this_versions_label_is_checked_when_the_previous_archive_is_absent(
    built: bytes, tmp_path: Path
) -> None:
    """The previous version's archive missing (a fresh clone of an older release) must not drop
    this version's '+unreleased changes' label when this version's archive is here."""
    path, lock = published(tmp_path, built)
    earlier = archive.archive_name("9.9.8")
    lock.write_text(
        f"9.9.8 {earlier} {'0' * 64} 2018-01-01\n" + lock.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    contents = archive.read_archive(path)
    config = json.loads(contents.files["config.effective.json"])["config"]
    raw = {
        n.split("/")[-1]: hashlib.sha256(b).hexdigest()
        for n, b in contents.files.items()
        if n.startswith("data/raw/")
    }
    raw["synthetic_c_2020.yaml"] = hashlib.sha256(b"# SYNTHETIC\n").hexdigest()
    status = archive.release_status(lock, path.parent, "9.9.9", raw, config)
    assert status.previous is None and status.previous_unavailable == "9.9.8"
    assert status.label == "9.9.9+unreleased changes"
    assert status.changes == ("study files added: synthetic_c_2020.yaml",)


# ---------------------------------------------------------------------------- rerun command


def _rerun_config(folder: Path) -> str:
    """The effective configuration Snakemake would give the README's rerun command in
    ``folder`` (an unpacked archive): config.yaml, then each --configfile in order, merged as
    Snakemake merges them, then checked and filled as the workflow does (common.smk)."""
    from snakemake.common.configfile import load_configfile
    from snakemake.utils import update_config

    from stsmeta.config import effective_config, load_config

    readme = (folder / "README.md").read_text(encoding="utf-8")
    (command,) = [line for line in readme.splitlines() if line.startswith("snakemake ")]
    words = command.split()
    given = [words[i + 1] for i, w in enumerate(words) if w == "--configfile"]
    config = load_configfile(folder / "config.yaml")
    overwrite: dict = {}
    for name in given:
        update_config(overwrite, load_configfile(folder / name))
    update_config(config, overwrite)
    checked, problems = load_config(config)
    assert problems == []
    config.update(checked)
    return effective_config(config, "archive")


def _archive_with(root: Path, given: dict, effective: dict, config_files=None) -> bytes:
    """The archive of the SYNTHETIC tree under ``root``, its run having computed with
    ``effective`` (as the workflow writes results/config/archive.json)."""
    from stsmeta.config import effective_config

    (root / "results" / "config" / "archive.json").write_text(
        effective_config(effective, "archive")
    )
    inputs = inputs_for(root, given)
    if config_files is not None:
        inputs = dataclasses.replace(inputs, config_files=tuple(config_files))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return archive.build_archive(inputs)[0]
    finally:
        os.chdir(cwd)


def test_the_rerun_command_computes_with_the_runs_command_line_overrides(tmp_path: Path) -> None:
    """A run given `--config confidence_level=0.9`: the README's rerun command must compute
    with 0.9 too, or 42 of its results differ from the archived ones."""
    from stsmeta.config import load_config

    root = tmp_path / "repo"
    given = make_tree(root)
    config, _ = load_config(root / "config.yaml")
    assert config["confidence_level"] != 0.9
    data = _archive_with(root, given, dict(config, confidence_level=0.9))
    assert data == _archive_with(root, given, dict(config, confidence_level=0.9))
    folder = unpack(data, tmp_path / "unpacked")
    overrides = yaml.safe_load((folder / "config.overrides.yaml").read_text(encoding="utf-8"))
    assert overrides == {"confidence_level": 0.9}
    assert _rerun_config(folder) == (folder / "config.effective.json").read_text()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "--forceall all figures_print --configfile config.overrides.yaml\n" in readme
    assert "command-line overrides (`snakemake --config`) of `confidence_level`" in readme
    crate = json.loads((folder / "ro-crate-metadata.json").read_text(encoding="utf-8"))
    run = next(e for e in crate["@graph"] if e.get("@type") == "CreateAction")
    assert {"@id": "config.overrides.yaml"} in run["object"]
    # Without overrides, no such file and no such note.
    plain = unpack(_archive_with(root, given, config), tmp_path / "plain")
    assert not (plain / "config.overrides.yaml").exists()
    assert "overrides" not in (plain / "README.md").read_text(encoding="utf-8")
    assert _rerun_config(plain) == (plain / "config.effective.json").read_text()


def test_the_rerun_command_passes_the_config_files_in_the_runs_order(tmp_path: Path) -> None:
    """`--configfile b.yaml --configfile a.yaml`: a later file wins, so the order is kept; what
    the files give is not mistaken for a command-line override."""
    from stsmeta.config import load_config

    root = tmp_path / "repo"
    given = make_tree(root)
    (root / "b.yaml").write_text("confidence_level: 0.8\n")
    (root / "a.yaml").write_text("confidence_level: 0.9\n")
    config, _ = load_config(root / "config.yaml")
    files = [root / "b.yaml", root / "a.yaml", root / "config.yaml"]
    data = _archive_with(root, given, dict(config, confidence_level=0.9), files)
    folder = unpack(data, tmp_path / "unpacked")
    assert "--forceall all figures_print --configfile b.yaml --configfile a.yaml\n" in (
        folder / "README.md"
    ).read_text(encoding="utf-8")
    assert not (folder / "config.overrides.yaml").exists()
    assert _rerun_config(folder) == (folder / "config.effective.json").read_text()


def test_stale_judgements_name_the_file_the_field_and_the_value_to_set() -> None:
    """The one check behind the archive job's refusal and the workflow's start-up refusal."""
    from stsmeta.presentation.certainty import certainty_outcomes, stale_judgements

    a, b, c = "a" * 64, "b" * 64, "c" * 64
    outcomes = certainty_outcomes(
        "# SYNTHETIC\noutcomes:\n"
        f"  complete_remission:\n    certainty: low\n    judged_on: {a}\n"
        "  any_response:\n    certainty: low\n".encode()
    )
    assert sorted(outcomes) == ["any_response", "complete_remission"]
    file = "data/certainty.yaml"
    # Judged on these results (or one of the values still possible): nothing to say.
    assert stale_judgements(file, outcomes, {"complete_remission": [a]}) == []
    assert stale_judgements(file, outcomes, {"complete_remission": [b, a]}) == []
    # A judgement without judged_on, or of an outcome not pooled, is not checked.
    assert stale_judgements(file, outcomes, {"any_response": [b]}) == []
    (one,) = stale_judgements(file, outcomes, {"complete_remission": [b]})
    assert str(one).startswith(f"{file}: outcomes.complete_remission.judged_on: ")
    assert str(one).endswith(
        f"re-check it against this version's results, then set judged_on to {b}"
    )
    # Several values still possible (the coverage study has yet to choose the method), or a
    # result recording none: where to read it once the workflow has run.
    for keys in ([b, c], []):
        (one,) = stale_judgements(file, outcomes, {"complete_remission": keys})
        assert "set judged_on to the judged_sha256 of results/pool/complete_remission/" in str(one)
    # A file that cannot be read is reported by the checks that validate it, not here.
    assert certainty_outcomes(b"outcomes: [unclosed\n") == {}
    assert certainty_outcomes(b"\xff") == {}
    assert certainty_outcomes(b"- a list\n") == {}


def test_no_archive_of_a_certainty_judgement_made_on_other_data(tmp_path: Path) -> None:
    """A GRADE judgement made on earlier study data or plan settings (judged_on is not the
    results' judged_sha256) is refused by name, field and fix; judged on these, it is archived."""
    import dataclasses

    root = tmp_path / "repo"
    given = make_tree(root)
    certainty = root / "data" / "certainty.yaml"
    judged = "a" * 64
    certainty.write_text(
        "# SYNTHETIC\noutcomes:\n  complete_remission:\n    certainty: low\n"
        f"    judged_on: {judged}\n"
    )
    inputs = dataclasses.replace(inputs_for(root, given), data_files=(Path("data/certainty.yaml"),))
    pooled = root / "results" / "pool" / "complete_remission" / "primary.json"
    pooled.write_text(json.dumps({"synthetic": True, "judged_sha256": "b" * 64}) + "\n")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with pytest.raises(InputError) as caught:
            archive.build_archive(inputs)
        message = str(caught.value)
        assert "data/certainty.yaml: outcomes.complete_remission.judged_on:" in message
        assert f"set judged_on to {'b' * 64}" in message
        pooled.write_text(json.dumps({"synthetic": True, "judged_sha256": judged}) + "\n")
        data, _ = archive.build_archive(inputs)
    finally:
        os.chdir(cwd)
    assert archive.read_archive("x", data).files["data/certainty.yaml"] == certainty.read_bytes()
