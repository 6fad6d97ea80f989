"""The coverage study's shard cache uses an entry only when it is the very file it stored.

A damaged entry (cut short, a byte changed, its checksum lost) is a miss: the shard job refits,
writes the shard an uncached run writes, and repairs the entry, so the run recovers by itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stsmeta.cli import main
from stsmeta.config import effective_config
from stsmeta.coverage import cache

CONFIG = {
    "confidence_level": 0.95,
    "methods": {
        "primary": {"label": "P", "method": "common", "reason": "why"},
        "secondary": {"ft_dl": {"label": "F", "method": "ivre", "transform": "ft", "tau2": "DL"}},
    },
    "coverage": {
        "true_proportions": [0.8, 0.3],
        "taus": [0.0, 0.7],
        "replicates": 12,
        "shards": 2,
        "seed": 3,
        "max_failure_rate": 0.5,
    },
}
FAMILIES = ("common", "ivre")


@pytest.fixture
def project(tmp_path):
    (tmp_path / "config.json").write_text(effective_config(CONFIG, "coverage"), encoding="utf-8")
    design = {"studies": [{"study": f"s{i}", "n": n} for i, n in enumerate((4, 1, 6, 2))]}
    (tmp_path / "design.json").write_text(json.dumps(design), encoding="utf-8")
    return tmp_path


def shard_args(project: Path, shard: int, tag: str, cached: bool) -> list[str]:
    args = ["coverage-shard", "--config", str(project / "config.json")]
    args += ["--design", str(project / "design.json"), "--shard", str(shard)]
    for family in FAMILIES:
        args += ["--family", family, "-o", str(project / tag / family / f"{shard}.csv")]
    return args + (["--cache", str(project / "cache")] if cached else [])


def run_shards(project: Path, tag: str, cached: bool) -> None:
    for shard in range(CONFIG["coverage"]["shards"]):
        assert main(shard_args(project, shard, tag, cached)) == 0


def summarise(project: Path, tag: str) -> tuple[bytes, bytes]:
    shards = sorted(str(p) for p in (project / tag).glob("*/*.csv"))
    out_csv, out_json = project / tag / "summary.csv", project / tag / "summary.json"
    args = ["coverage-summary", "--config", str(project / "config.json")]
    args += ["--design", str(project / "design.json"), "--csv", str(out_csv)]
    assert main([*args, "--json", str(out_json), *shards]) == 0
    return out_csv.read_bytes(), out_json.read_bytes()


def the_entry(project: Path, family: str, shard: int) -> Path:
    (path,) = [
        p
        for p in (project / "cache" / family).glob("*.csv")
        if p.read_bytes() == (project / "fresh" / family / f"{shard}.csv").read_bytes()
    ]
    return path


def truncate(path: Path) -> None:
    # Cut at a line end: still a well-formed CSV, only replicates missing (the summary's
    # "N replicates found, M configured" before the fix).
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\n", 0, len(data) // 2) + 1])


def change_one_byte(path: Path) -> None:
    # A digit of an estimate changed: still parses, silently a wrong number before the fix.
    data = bytearray(path.read_bytes())
    at = next(i for i in range(len(data) - 1, 0, -1) if chr(data[i]).isdigit())
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))


def drop_checksum(path: Path) -> None:
    path.with_name(path.name + ".sha256").unlink()


def empty(path: Path) -> None:
    path.write_bytes(b"")


def not_utf8(path: Path) -> None:
    path.write_bytes(b"\xff\xfe" + path.read_bytes()[2:])


def damage_checksum(path: Path) -> None:
    checksum = path.with_name(path.name + ".sha256")
    checksum.write_text("0" * 64 + "  " + path.name + "\n")


@pytest.mark.parametrize(
    "damage", [truncate, change_one_byte, drop_checksum, empty, not_utf8, damage_checksum]
)
def test_a_damaged_entry_is_refitted_and_repaired(project, capsys, damage):
    run_shards(project, "fresh", cached=False)
    run_shards(project, "first", cached=True)
    expected = summarise(project, "fresh")
    assert summarise(project, "first") == expected
    entry = the_entry(project, "common", 1)
    good = entry.read_bytes()
    damage(entry)
    capsys.readouterr()

    run_shards(project, "again", cached=True)
    err = capsys.readouterr().err
    assert "common shard 1: this design and these settings were fitted before" not in err
    assert "common shard 0: this design and these settings were fitted before" in err
    assert "ivre shard 1: this design and these settings were fitted before" in err
    for family in FAMILIES:
        for shard in (0, 1):
            name = f"{family}/{shard}.csv"
            assert (project / "again" / name).read_bytes() == (
                project / "fresh" / name
            ).read_bytes()
    assert summarise(project, "again") == expected

    # Repaired: the entry is whole again, and the next run copies it.
    assert entry.read_bytes() == good
    assert cache.lookup(project / "cache", "common", entry.stem) == good.decode("utf-8")
    run_shards(project, "third", cached=True)
    assert "common shard 1: this design and these settings were fitted before" in (
        capsys.readouterr().err
    )
    assert summarise(project, "third") == expected


def test_store_writes_a_checksum_sha256sum_reads(tmp_path):
    cache.store(tmp_path, "glmm", "k" * 64, "method,x\nglmm,1.5\n")
    entry = cache.entry(tmp_path, "glmm", "k" * 64)
    checksum = entry.with_name(entry.name + ".sha256")
    digest, name = checksum.read_text().split()
    assert name == entry.name and len(digest) == 64
    assert cache.lookup(tmp_path, "glmm", "k" * 64) == "method,x\nglmm,1.5\n"
    assert cache.lookup(tmp_path, "glmm", "other") is None
    if shutil.which("sha256sum"):  # its format: an entry can be checked by hand
        subprocess.run(["sha256sum", "-c", "--quiet", checksum.name], cwd=entry.parent, check=True)


def test_a_cached_shard_imports_no_numpy(project):
    run_shards(project, "fresh", cached=True)
    code = (
        "import sys; from stsmeta.cli import main; "
        f"assert main({shard_args(project, 1, 'hit', cached=True)!r}) == 0; "
        "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "fitted before" in done.stderr
    assert done.stdout.strip() == "[]"
