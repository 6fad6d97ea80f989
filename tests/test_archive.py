"""Tests of the citable results archive (stsmeta.archive and its two commands).

All results trees here are SYNTHETIC: made-up studies and numbers that only exercise packing,
publishing and verifying; they say nothing about sodium thiosulfate.
"""

from __future__ import annotations

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

from stsmeta import archive
from stsmeta.cli import main
from stsmeta.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def _synthetic_config() -> str:
    """SYNTHETIC config for tests of the archive: the shipped plan with a synthetic report."""
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["report"] = {
        "title": "Synthetic results (test only)",
        "authors": ["stsmeta contributors", {"given-names": "Ada", "family-names": "Example"}],
        "version": "9.9.9",
    }
    return "# SYNTHETIC config for tests of the archive\n" + yaml.safe_dump(config, sort_keys=False)


SYNTHETIC_CONFIG = _synthetic_config()


def make_tree(root: Path, *, version: str = "9.9.9", events: int = 3) -> dict[str, Path]:
    """Write a SYNTHETIC repository with results under ``root``; return the paths to pass."""
    raw = root / "data" / "raw"
    raw.mkdir(parents=True)
    studies = {}
    for study, year in (("synthetic_a_2011", 2011), ("synthetic_b_2019", 2019)):
        text = f"# SYNTHETIC study file\nstudy_id: {study}\nyear: {year}\n"
        (raw / f"{study}.yaml").write_text(text)
        studies[study] = (year, hashlib.sha256(text.encode()).hexdigest())
    (raw / ".gitkeep").write_text("")  # hidden: must not be archived
    results = root / "results"
    for sub in ("normalised", "tables", "figures", "pool/complete_remission"):
        (results / sub).mkdir(parents=True)
    for study, (year, digest) in studies.items():
        doc = {"study_id": study, "year": year, "source_sha256": digest, "synthetic": True}
        (results / "normalised" / f"{study}.json").write_text(
            json.dumps(doc, sort_keys=True, indent=2) + "\n"
        )
    (results / "tables" / "studies.csv").write_text(f"study_id,events\nsynthetic_a_2011,{events}\n")
    (results / "figures" / "forest.svg").write_text("<svg><!-- synthetic --></svg>\n")
    (results / "figures" / "forest.png").write_bytes(bytes(range(256)) * 4)
    (results / "pool" / "complete_remission" / "primary.json").write_text(
        json.dumps({"synthetic": True, "events": events}) + "\n"
    )
    (results / "report.md").write_text("# Synthetic report\n")
    (results / "report.html").write_text("<html><body>Synthetic report</body></html>\n")
    config = root / "config.yaml"
    config.write_text(SYNTHETIC_CONFIG.replace("9.9.9", version))
    (root / "envs").mkdir()
    lock = root / "envs" / "requirements.lock"
    lock.write_text("# synthetic lock\nnumpy==2.4.6\n")
    (root / "Snakefile").write_text("# synthetic Snakefile\nrule all:\n    input: []\n")
    (root / "workflow" / "rules").mkdir(parents=True)
    (root / "workflow" / "rules" / "archive.smk").write_text("# synthetic rule file\n")
    return {"results": results, "config": config, "raw": raw, "lock": lock}


def inputs_for(root: Path, paths: dict[str, Path]) -> archive.ArchiveInputs:
    return archive.ArchiveInputs(
        results_dir=paths["results"],
        config_path=paths["config"],
        raw_dir=paths["raw"],
        env_files=(paths["lock"],),
        # Relative to the repository, as the workflow passes them.
        # config.yaml as the lead's rule passes it: already archived, must not clash.
        workflow_files=(Path("Snakefile"), Path("config.yaml"), Path("workflow/rules/archive.smk")),
    )


def build_in(root: Path, **kwargs) -> bytes:
    paths = make_tree(root, **kwargs)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        data, _ = archive.build_archive(inputs_for(root, paths))
    finally:
        os.chdir(cwd)
    return data


def members_of(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def member_bytes(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


def rewrite(data: bytes, change) -> bytes:
    """Repack an archive after ``change(name, bytes) -> bytes | None`` (None drops a file)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src,
        tarfile.open(fileobj=out, mode="w:gz") as dst,
    ):
        for member in src.getmembers():
            if member.isfile():
                handle = src.extractfile(member)
                assert handle is not None
                content = change(member.name, handle.read())
                if content is None:
                    continue
                member.size = len(content)
                dst.addfile(member, io.BytesIO(content))
            else:
                dst.addfile(member)
    return out.getvalue()


@pytest.fixture
def built(tmp_path: Path) -> bytes:
    return build_in(tmp_path / "repo")


# ---------------------------------------------------------------------------- reproducibility


def test_identical_inputs_give_identical_bytes_despite_mtimes_and_umask(tmp_path: Path) -> None:
    first = build_in(tmp_path / "one")
    old_umask = os.umask(0o077)
    try:
        paths = make_tree(tmp_path / "two")
    finally:
        os.umask(old_umask)
    # Different file times and permissions on the second tree must not leak into the archive.
    for path in (tmp_path / "two").rglob("*"):
        os.utime(path, (1_000_000_000, 1_234_567_890))
        if path.is_file():
            path.chmod(0o600)
    cwd = os.getcwd()
    os.chdir(tmp_path / "two")
    try:
        second, _ = archive.build_archive(inputs_for(tmp_path / "two", paths))
    finally:
        os.chdir(cwd)
    assert first == second
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_tar_entries_are_normalised(built: bytes) -> None:
    members = members_of(built)
    names = list(members)
    top = "stsmeta-results-9.9.9"
    assert names[0] == top
    assert all(n == top or n.startswith(top + "/") for n in names)
    assert names == sorted(names, key=lambda n: n.split("/"))
    expected_mtime = int(dt.datetime(2019, 1, 1, tzinfo=dt.UTC).timestamp())
    for info in members.values():
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        assert info.mtime == expected_mtime
        assert info.mode == (0o755 if info.isdir() else 0o644)
        assert info.isdir() or info.isfile()
    # gzip header: bytes 4-7 are the mtime (must be 0); FLG bit 3 (FNAME) must be clear.
    assert built[:2] == b"\x1f\x8b"
    assert built[4:8] == b"\x00\x00\x00\x00"
    assert built[3] & 0x08 == 0


def test_archive_holds_every_required_part(built: bytes) -> None:
    top = "stsmeta-results-9.9.9/"
    names = {n[len(top) :] for n, m in members_of(built).items() if m.isfile()}
    assert names == {
        "report.html",
        "report.md",
        "figures/forest.png",
        "figures/forest.svg",
        "tables/studies.csv",
        "pool/complete_remission/primary.json",
        "normalised/synthetic_a_2011.json",
        "normalised/synthetic_b_2019.json",
        "raw/synthetic_a_2011.yaml",
        "raw/synthetic_b_2019.yaml",
        "config.yaml",
        "config.effective.json",
        "envs/requirements.lock",
        "Snakefile",
        "workflow/rules/archive.smk",
        "CITATION.cff",
        "ro-crate-metadata.json",
        "README.md",
        "MANIFEST.sha256",
    }


def test_manifest_matches_sha256sum(built: bytes, tmp_path: Path) -> None:
    """The manifest is checked by the coreutils tool itself, an independent implementation."""
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum not installed")
    with tarfile.open(fileobj=io.BytesIO(built), mode="r:gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    folder = tmp_path / "x" / "stsmeta-results-9.9.9"
    done = subprocess.run(
        ["sha256sum", "--check", "--strict", "MANIFEST.sha256"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {
        line.split("  ", 1)[1] for line in (folder / "MANIFEST.sha256").read_text().splitlines()
    }
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert listed == on_disk - {"MANIFEST.sha256"}
    lines = (folder / "MANIFEST.sha256").read_text().splitlines()
    assert lines == sorted(lines, key=lambda line: line.split("  ", 1)[1])


def test_gzip_stream_is_what_python_writes_without_name_or_time(built: bytes) -> None:
    tar_bytes = gzip.decompress(built)
    assert len(tar_bytes) % tarfile.RECORDSIZE == 0


# ---------------------------------------------------------------------------- citation and crate


def test_results_citation_is_cff_with_date_from_the_data(built: bytes) -> None:
    cff = yaml.safe_load(member_bytes(built, "stsmeta-results-9.9.9/CITATION.cff"))
    for key in ("cff-version", "message", "title", "authors", "version", "date-released"):
        assert key in cff
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "dataset"
    assert cff["version"] == "9.9.9"
    assert cff["title"] == "Synthetic results (test only)"
    # 2019 is the latest study year in the synthetic data; not today's date.
    assert str(cff["date-released"]) == "2019-01-01"
    assert cff["authors"] == [
        {"name": "stsmeta contributors"},
        {"given-names": "Ada", "family-names": "Example"},
    ]
    assert cff["references"][0]["title"] == "stsmeta"


def test_config_date_overrides_the_data(tmp_path: Path) -> None:
    paths = make_tree(tmp_path)
    paths["config"].write_text(
        SYNTHETIC_CONFIG.replace("report:\n", "report:\n  date: 2026-03-01\n")
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _, meta = archive.collect_inputs(inputs_for(tmp_path, paths))
    finally:
        os.chdir(cwd)
    assert meta.date_released == dt.date(2026, 3, 1)


def test_ro_crate_is_a_workflow_run_crate(built: bytes, tmp_path: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(built), mode="r:gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    folder = tmp_path / "x" / "stsmeta-results-9.9.9"
    crate = json.loads((folder / "ro-crate-metadata.json").read_text())
    graph = {e["@id"]: e for e in crate["@graph"]}
    root = graph["./"]
    assert graph["ro-crate-metadata.json"]["about"] == {"@id": "./"}
    profiles = {ref["@id"] for ref in root["conformsTo"]}
    assert "https://w3id.org/ro/wfrun/workflow/0.6" in profiles
    assert root["datePublished"] == "2019-01-01"
    main_id = root["mainEntity"]["@id"]
    assert main_id == "Snakefile"
    assert "ComputationalWorkflow" in graph[main_id]["@type"]
    run = graph[root["mentions"][0]["@id"]]
    assert run["@type"] == "CreateAction"
    assert run["instrument"] == {"@id": main_id}
    # Every file in the archive except the descriptor itself is a data entity, and vice versa.
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    files = {i for i, e in graph.items() if "File" in e["@type"] or e["@type"] == "File"}
    assert files == on_disk - {"ro-crate-metadata.json"}
    # The rocrate package (an independent reader) loads it and finds the same main entity.
    from rocrate.rocrate import ROCrate

    loaded = ROCrate(folder)
    assert loaded.mainEntity.id == "Snakefile"
    assert loaded.root_dataset["datePublished"] == "2019-01-01"


def test_software_citation_at_repository_top() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    for key in ("cff-version", "message", "title", "authors", "version", "license", "type"):
        assert key in cff, key
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert cff["license"] == "MIT"
    import stsmeta

    assert cff["version"] == stsmeta.__version__
    assert all(isinstance(a, dict) and ("name" in a or "family-names" in a) for a in cff["authors"])


# ---------------------------------------------------------------------------- verify


def write(tmp_path: Path, data: bytes, name: str = "a.tar.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_verify_passes_on_a_fresh_archive(built: bytes, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, built)
    result = archive.verify_archive(path)
    assert result.ok
    assert result.checked == 18
    assert main(["verify-archive", str(path)]) == 0
    assert "OK: 18 files" in capsys.readouterr().out


def test_verify_names_a_tampered_member(built: bytes, tmp_path: Path, capsys) -> None:
    target = "stsmeta-results-9.9.9/pool/complete_remission/primary.json"
    tampered = rewrite(built, lambda n, b: b.replace(b"3", b"4") if n == target else b)
    path = write(tmp_path, tampered)
    result = archive.verify_archive(path)
    assert result.changed == ("pool/complete_remission/primary.json",)
    assert not result.missing and not result.extra and not result.ok
    assert main(["verify-archive", str(path)]) == 1
    assert "changed: pool/complete_remission/primary.json" in capsys.readouterr().out


def test_verify_names_missing_and_extra_files(built: bytes, tmp_path: Path, capsys) -> None:
    dropped = "stsmeta-results-9.9.9/tables/studies.csv"
    without = rewrite(built, lambda n, b: None if n == dropped else b)
    result = archive.verify_archive(write(tmp_path, without))
    assert result.missing == ("tables/studies.csv",)

    manifest = "stsmeta-results-9.9.9/MANIFEST.sha256"
    unlisted = rewrite(
        built,
        lambda n, b: (
            b"".join(line for line in io.BytesIO(b) if b"report.md" not in line)
            if n == manifest
            else b
        ),
    )
    path = write(tmp_path, unlisted, "b.tar.gz")
    result = archive.verify_archive(path)
    assert result.extra == ("report.md",)
    assert main(["verify-archive", str(path)]) == 1
    assert "extra: report.md" in capsys.readouterr().out


def test_verify_rejects_garbage_and_missing_manifest(built: bytes, tmp_path: Path) -> None:
    assert not archive.verify_archive(write(tmp_path, b"not an archive")).ok
    assert not archive.verify_archive(write(tmp_path, built[: len(built) // 2], "half.tgz")).ok
    assert not archive.verify_archive(tmp_path / "absent.tar.gz").ok
    no_manifest = rewrite(built, lambda n, b: None if n.endswith("MANIFEST.sha256") else b)
    result = archive.verify_archive(write(tmp_path, no_manifest, "c.tar.gz"))
    assert not result.ok
    assert any("MANIFEST.sha256 is missing" in p for p in result.problems)


# ---------------------------------------------------------------------------- publish


def test_publish_then_same_content_is_a_noop(built: bytes, tmp_path: Path) -> None:
    staging = write(tmp_path, built, "staging.tar.gz")
    out = tmp_path / "published"
    first = archive.publish(staging, out, "9.9.9", "config.yaml")
    assert first.status == "published"
    assert first.path == out / "stsmeta-results-9.9.9.tar.gz"
    assert first.path.read_bytes() == built
    before = first.path.stat()
    second = archive.publish(staging, out, "9.9.9", "config.yaml")
    assert second.status == "unchanged"
    assert first.path.stat().st_ino == before.st_ino
    assert sorted(p.name for p in out.iterdir()) == ["stsmeta-results-9.9.9.tar.gz"]


def test_publish_refuses_different_content_and_keeps_the_old(tmp_path: Path) -> None:
    old = build_in(tmp_path / "old", events=3)
    new = build_in(tmp_path / "new", events=4)
    assert old != new
    out = tmp_path / "published"
    archive.publish(write(tmp_path, old, "old.tgz"), out, "9.9.9", "config.yaml")
    with pytest.raises(InputError) as caught:
        archive.publish(write(tmp_path, new, "new.tgz"), out, "9.9.9", "config.yaml")
    message = str(caught.value)
    assert message.startswith("config.yaml: report.version: ")
    assert "stsmeta-results-9.9.9.tar.gz" in message
    assert "bump report.version" in message
    assert "pool/complete_remission/primary.json" in message
    assert (out / "stsmeta-results-9.9.9.tar.gz").read_bytes() == old
    assert sorted(p.name for p in out.iterdir()) == ["stsmeta-results-9.9.9.tar.gz"]


def test_archive_command_end_to_end(tmp_path: Path, monkeypatch, capsys) -> None:
    paths = make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = [
        "archive",
        "--results",
        "results",
        "--config",
        "config.yaml",
        "--raw-dir",
        "data/raw",
        "--lock",
        "envs/requirements.lock",
        "--workflow-file",
        "Snakefile",
        "--workflow-file",
        "workflow/rules/archive.smk",
        "--staging",
        "results/archive/staging/stsmeta-results-9.9.9.tar.gz",
        "--publish-dir",
        "results/archive",
    ]
    assert main(argv) == 0
    published = tmp_path / "results/archive/stsmeta-results-9.9.9.tar.gz"
    staged = tmp_path / "results/archive/staging/stsmeta-results-9.9.9.tar.gz"
    assert published.read_bytes() == staged.read_bytes()
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    # A changed result under the same version: refused, exit 2, published bytes untouched.
    before = published.read_bytes()
    (paths["results"] / "report.md").write_text("# Synthetic report, changed\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: config.yaml: report.version:" in err and "bump report.version" in err
    assert published.read_bytes() == before
    # Bumping the version publishes a second archive next to the first.
    paths["config"].write_text(SYNTHETIC_CONFIG.replace("9.9.9", "9.10.0"))
    argv[argv.index("results/archive/staging/stsmeta-results-9.9.9.tar.gz")] = "s.tar.gz"
    assert main(argv) == 0
    assert [v for v, _ in archive.published_archives(tmp_path / "results/archive")] == [
        "9.9.9",
        "9.10.0",
    ]
    assert archive.previous_archive(tmp_path / "results/archive", "9.10.0") == published
    assert main(["verify-archive", "results/archive/stsmeta-results-9.10.0.tar.gz"]) == 0


# ---------------------------------------------------------------------------- input errors


def test_missing_parts_are_named(tmp_path: Path, monkeypatch) -> None:
    paths = make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    shutil.rmtree(paths["results"] / "figures")
    (paths["results"] / "report.html").unlink()
    with pytest.raises(InputError) as caught:
        archive.build_archive(inputs_for(tmp_path, paths))
    files = {p.file for p in caught.value.problems}
    assert str(paths["results"] / "figures") in files
    assert str(paths["results"] / "report.html") in files


def test_stale_normalised_study_is_refused(tmp_path: Path, monkeypatch) -> None:
    paths = make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    (paths["raw"] / "synthetic_b_2019.yaml").unlink()
    with pytest.raises(InputError) as caught:
        archive.build_archive(inputs_for(tmp_path, paths))
    (problem,) = caught.value.problems
    assert problem.field == "source_sha256"
    assert problem.file.endswith("synthetic_b_2019.json")


@pytest.mark.parametrize("version", ["", "../x", "1 0", None, 1.0])
def test_bad_version_is_an_input_error(tmp_path: Path, monkeypatch, version) -> None:
    paths = make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load(paths["config"].read_text())
    config["report"]["version"] = version
    paths["config"].write_text(yaml.safe_dump(config))
    with pytest.raises(InputError) as caught:
        archive.build_archive(inputs_for(tmp_path, paths))
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
    assert archive.release_date(report, [("a.json", {"year": None})], "c.yaml")[0] == (
        archive.FALLBACK_DATE
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(24 * 3600 * 365))
    assert archive.release_date(report, [], "c.yaml")[0] == dt.date(1971, 1, 1)
    with pytest.raises(InputError) as caught:
        archive.release_date({"date": "soon"}, studies, "c.yaml")
    assert str(caught.value).startswith("c.yaml: report.date: ")


# The parts of the official CFF 1.2.0 JSON schema (https://citation-file-format.github.io/1.2.0/schema)
# that our files use, transcribed: root keys, required keys, person/entity, reference, date.
_CFF_DATE = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])$"}
_CFF_COMMON = ["address", "alias", "city", "country", "email", "fax", "orcid", "post-code"]
_CFF_COMMON += ["region", "tel", "website"]
_CFF_PERSON = {
    "type": "object",
    "additionalProperties": False,
    "properties": dict.fromkeys(
        _CFF_COMMON
        + ["affiliation", "family-names", "given-names", "name-particle", "name-suffix"],
        {"type": "string", "minLength": 1},
    ),
}
_CFF_ENTITY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": dict.fromkeys(
        _CFF_COMMON + ["location", "name"], {"type": "string", "minLength": 1}
    )
    | {"date-end": _CFF_DATE, "date-start": _CFF_DATE},
}
_CFF_AUTHORS = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"anyOf": [_CFF_PERSON, _CFF_ENTITY]},
}
CFF_SUBSCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["authors", "cff-version", "message", "title"],
    "properties": {
        "abstract": {"type": "string", "minLength": 1},
        "authors": _CFF_AUTHORS,
        "cff-version": {"type": "string", "pattern": "^1\\.2\\.0$"},
        "commit": {"type": "string", "minLength": 1},
        "date-released": _CFF_DATE,
        "keywords": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "license": {"type": "string"},
        "message": {"type": "string", "minLength": 1},
        "references": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["authors", "title", "type"],
                "properties": {"authors": _CFF_AUTHORS, "commit": {"type": "string"}},
            },
        },
        "title": {"type": "string", "minLength": 1},
        "type": {"enum": ["dataset", "software"]},
        "version": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]},
    },
}


@pytest.mark.parametrize("which", ["software", "results"])
def test_citation_files_follow_the_cff_schema(which: str, built: bytes) -> None:
    import jsonschema

    if which == "software":
        text = (REPO / "CITATION.cff").read_text()
    else:
        text = member_bytes(built, "stsmeta-results-9.9.9/CITATION.cff").decode()
    # CFF tools read YAML dates as strings (the schema's own note); BaseLoader keeps all as text.
    cff = yaml.load(text, Loader=yaml.BaseLoader)
    jsonschema.validate(cff, CFF_SUBSCHEMA)


def test_author_mapping_must_be_a_cff_person_or_entity(tmp_path: Path, monkeypatch) -> None:
    paths = make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load(paths["config"].read_text())
    config["report"]["authors"] = [{"name": "A team", "given-names": "Ada"}]
    paths["config"].write_text(yaml.safe_dump(config))
    with pytest.raises(InputError) as caught:
        archive.build_archive(inputs_for(tmp_path, paths))
    assert caught.value.problems[0].field == "report.authors[0]"


def test_long_and_non_ascii_names_stay_reproducible(tmp_path: Path, monkeypatch) -> None:
    """PAX headers (names over 100 bytes, non-ASCII) must not carry times or owners either."""
    built = []
    for run in ("one", "two"):
        root = tmp_path / run
        paths = make_tree(root)
        deep = paths["results"] / "figures" / ("x" * 60) / ("y" * 60)
        deep.mkdir(parents=True)
        (deep / "forêt-ç.svg").write_text("<svg/>\n")
        stamp = 1_000_000_000 if run == "one" else 1_500_000_000
        os.utime(deep / "forêt-ç.svg", (stamp, stamp))
        monkeypatch.chdir(root)
        built.append(archive.build_archive(inputs_for(root, paths))[0])
    assert built[0] == built[1]
    path = write(tmp_path, built[0])
    result = archive.verify_archive(path)
    assert result.ok and result.checked == 19


def test_separate_processes_agree_whatever_hash_seed_and_time_zone(tmp_path: Path) -> None:
    make_tree(tmp_path)
    digests = []
    for seed, zone in (("1", "UTC"), ("2", "Asia/Tokyo")):
        env = dict(os.environ, PYTHONHASHSEED=seed, TZ=zone)
        env.pop("SOURCE_DATE_EPOCH", None)
        out = f"s{seed}.tar.gz"
        subprocess.run(
            [sys.executable, "-m", "stsmeta", "archive", "--lock", "envs/requirements.lock"]
            + ["--workflow-file", "Snakefile", "--staging", out],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
        )
        digests.append(hashlib.sha256((tmp_path / out).read_bytes()).hexdigest())
    assert digests[0] == digests[1]
