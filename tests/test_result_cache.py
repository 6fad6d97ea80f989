"""The result cache (stsmeta.result_cache): a hit is the bytes a fresh run writes, anything else
is a miss; the pooling and figures commands use it before their heavy imports.

Study files here are the SYNTHETIC fixtures of tests/fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from stsmeta import result_cache
from stsmeta.cli import main
from stsmeta.outputs import FIGURE_FORMATS, figure_stems

ROOT = Path(__file__).resolve().parents[1]
NORMALISED = ROOT / "tests" / "fixtures" / "normalised"
POOLED = ROOT / "tests" / "fixtures" / "pooled"


def _key(tmp_path, **change):
    data = tmp_path / "a.json"
    if not data.exists():
        data.write_text('{"x": 1}\n')
    files = [(str(data), result_cache.file_sha256(data))]
    options = {"outcome": "o", "outputs": ["out.json"]}
    options.update(change.get("options", {}))
    return result_cache.job_key(
        change.get("stage", "pool"), options, change.get("files", files), ("numpy",)
    )


def test_the_key_follows_every_input(tmp_path, monkeypatch):
    base = _key(tmp_path)
    assert _key(tmp_path) == base  # the same inputs, the same key
    (tmp_path / "a.json").write_text('{"x": 2}\n')  # a file's bytes
    assert _key(tmp_path) != base
    (tmp_path / "a.json").write_text('{"x": 1}\n')
    assert _key(tmp_path) == base
    assert _key(tmp_path, options={"outcome": "p"}) != base  # an option
    moved = [(str(tmp_path / "b.json"), result_cache.file_sha256(tmp_path / "a.json"))]
    assert _key(tmp_path, files=moved) != base  # the same bytes under another path
    assert _key(tmp_path, stage="figures") != base  # another stage's code

    from stsmeta import code_digest

    real = code_digest.stage_code_digest
    monkeypatch.setattr(code_digest, "stage_code_digest", lambda *a: real(*a) + "changed")
    assert _key(tmp_path) != base  # the code
    monkeypatch.undo()
    assert _key(tmp_path) == base
    versions = result_cache.library_versions
    monkeypatch.setattr(
        result_cache,
        "library_versions",
        lambda libs, portable=False: {**versions(libs, portable), "numpy": "0.0"},
    )
    assert _key(tmp_path) != base  # a library's version


def _outputs(folder: Path, contents: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def test_restore_gives_back_what_was_stored_and_nothing_else(tmp_path):
    cache = tmp_path / "cache"
    stored = _outputs(tmp_path / "run1", {"a.json": b'{"a": 1}\n', "b.png": b"\x89PNG\0\1"})
    targets = [tmp_path / "run2" / p.name for p in stored]
    assert not result_cache.restore(cache, "k1", targets)  # no entry: a miss, nothing written
    assert not any(p.exists() for p in targets)
    result_cache.store(cache, "k1", stored)
    assert [p.name for p in cache.iterdir()] == ["k1"]  # no staging folder left behind
    assert result_cache.restore(cache, "k1", targets)
    assert [p.read_bytes() for p in targets] == [p.read_bytes() for p in stored]
    # Another key, other names, or another number of outputs: a miss.
    assert not result_cache.restore(cache, "k2", targets)
    assert not result_cache.restore(cache, "k1", targets[::-1])
    assert not result_cache.restore(cache, "k1", targets[:1])
    # Storing the same key again keeps the first entry.
    other = _outputs(tmp_path / "run3", {"a.json": b"other\n", "b.png": b"other"})
    result_cache.store(cache, "k1", other)
    assert (cache / "k1" / "0").read_bytes() == b'{"a": 1}\n'


def test_a_damaged_entry_is_a_miss_that_writes_nothing(tmp_path):
    cache = tmp_path / "cache"
    stored = _outputs(tmp_path / "run1", {"a.json": b"one\n", "b.json": b"two\n"})
    result_cache.store(cache, "k", stored)
    targets = _outputs(tmp_path / "run2", {"a.json": b"previous a\n", "b.json": b"previous b\n"})
    (cache / "k" / "1").write_bytes(b"tw0\n")  # the second file altered after it was kept
    assert not result_cache.restore(cache, "k", targets)
    assert [p.read_bytes() for p in targets] == [b"previous a\n", b"previous b\n"]
    (cache / "k" / "1").unlink()
    assert not result_cache.restore(cache, "k", targets)
    (cache / "k" / "manifest.json").write_text("{not json")
    assert not result_cache.restore(cache, "k", targets)


def _small_plan(tmp_path: Path) -> Path:
    """config.yaml without leave-one-out, cumulative steps or subgroups, its primary method
    fixed (the coverage rule would need a coverage summary): a quick pooling job."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["leave_one_out"] = False
    raw["cumulative_by_year"] = False
    raw["subgroups"] = {}
    raw["methods"]["selection"] = "fixed"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


def _pool_args(config: Path, studies: list[str], out: Path, cache: Path) -> list[str]:
    return [
        "pool", "--config", str(config), "--outcome", "complete_remission",
        "--scenario", "primary", "--out", str(out), "--cache", str(cache), *studies,
    ]  # fmt: skip


def test_pool_copies_a_result_seen_before_and_pools_anything_new(tmp_path, monkeypatch):
    config = _small_plan(tmp_path)
    studies = tmp_path / "studies"
    shutil.copytree(NORMALISED, studies)
    paths = sorted(str(p) for p in studies.glob("*.json"))
    out, cache = tmp_path / "pool" / "primary.json", tmp_path / "cache"

    assert main(_pool_args(config, paths, out, cache)) == 0
    computed = out.read_bytes()
    assert len(list(cache.iterdir())) == 1
    out.unlink()

    import stsmeta.pool.analysis

    def must_not_pool(*args, **kwargs):
        raise AssertionError("pooled again")

    monkeypatch.setattr(stsmeta.pool.analysis, "analyse", must_not_pool)
    assert main(_pool_args(config, paths, out, cache)) == 0  # the same inputs: copied
    assert out.read_bytes() == computed
    assert json.loads(computed)["included"]

    # One study file's bytes changed (a key reordered): pooled again.
    first = Path(paths[0])
    first.write_text(json.dumps(json.loads(first.read_text()), sort_keys=True, indent=3))
    with pytest.raises(AssertionError, match="pooled again"):
        main(_pool_args(config, paths, out, cache))
    # A study fewer: pooled again.
    with pytest.raises(AssertionError, match="pooled again"):
        main(_pool_args(config, paths[1:], out, cache))


def _figures_args(outdir: Path, cache: Path, pool_dir: Path) -> list[str]:
    return [
        "figures",
        "--config", str(POOLED / "config.yaml"),
        "--pool-dir", str(pool_dir),
        "--studies", *map(str, sorted((POOLED / "results" / "normalised").glob("*.json"))),
        "--outdir", str(outdir),
        "--processes", "2",
        "--cache", str(cache),
    ]  # fmt: skip


def test_figures_are_copied_for_inputs_seen_before(tmp_path, monkeypatch, capsys):
    pool_dir = tmp_path / "pool"
    shutil.copytree(POOLED / "results" / "pool", pool_dir)
    outdir, cache = tmp_path / "figures", tmp_path / "cache"
    assert main(_figures_args(outdir, cache, pool_dir)) == 0
    names = [
        f"{stem}.{fmt}"
        for stem in figure_stems(["complete_remission", "any_response"])
        for fmt in FIGURE_FORMATS
    ]
    drawn = {name: (outdir / name).read_bytes() for name in names}
    assert sorted(p.name for p in outdir.iterdir()) == sorted(names)
    first_listing = capsys.readouterr().out
    shutil.rmtree(outdir)

    import stsmeta.figures

    def must_not_draw(*args, **kwargs):
        raise AssertionError("drawn again")

    monkeypatch.setattr(stsmeta.figures, "write_figures", must_not_draw)
    assert main(_figures_args(outdir, cache, pool_dir)) == 0
    assert {name: (outdir / name).read_bytes() for name in names} == drawn
    assert capsys.readouterr().out == first_listing  # the same paths printed, in order

    # A pooled result changed: drawn again.
    pooled = pool_dir / "any_response" / "primary.json"
    pooled.write_text(json.dumps(json.loads(pooled.read_text()), indent=3))
    with pytest.raises(AssertionError, match="drawn again"):
        main(_figures_args(outdir, cache, pool_dir))


def test_a_users_matplotlib_settings_change_no_figure(tmp_path, inputs):
    # A matplotlibrc (here set in-process, as one would be at import) must not reach the
    # figures: they would differ between machines, and the cache's key does not read it.
    import matplotlib as mpl

    from stsmeta.figures.risk_of_bias import risk_of_bias_plot
    from stsmeta.figures.style import figure_style, save_figure

    _, _, studies = inputs

    def draw(folder: Path) -> bytes:
        with figure_style():
            figure = risk_of_bias_plot(studies).figure
        save_figure(figure, folder, "rob", ("svg",))
        return (folder / "rob.svg").read_bytes()

    plain = draw(tmp_path / "plain")
    hostile = {
        "lines.linewidth": 5,
        "axes.edgecolor": "red",
        "patch.linewidth": 3,
        "axes.facecolor": "yellow",
        "figure.facecolor": "blue",
        "svg.hashsalt": "another",
    }
    with mpl.rc_context(hostile):
        assert draw(tmp_path / "hostile") == plain


def test_an_output_rewritten_in_place_after_it_was_kept_is_a_miss(tmp_path):
    # Entries hard-link the outputs where they can: writing into an output (not replacing it)
    # reaches the kept file, and the manifest's checksum must then refuse it.
    cache = tmp_path / "cache"
    outputs = _outputs(tmp_path / "run1", {"a.svg": b"<svg/>\n"})
    result_cache.store(cache, "k", outputs)
    with open(outputs[0], "r+b") as fh:  # in place: the same inode
        fh.write(b"<SVG")
    target = [tmp_path / "run2" / "a.svg"]
    if (cache / "k" / "0").read_bytes() == b"<SVG/>\n":  # linked (else copied: untouched)
        assert not result_cache.restore(cache, "k", target)
        assert not target[0].exists()
    else:
        assert result_cache.restore(cache, "k", target)
        assert target[0].read_bytes() == b"<svg/>\n"


def test_the_entries_used_last_are_kept(tmp_path):
    import os

    cache = tmp_path / "cache"
    outputs = _outputs(tmp_path / "run", {"a.json": b"a\n"})
    for age, key in enumerate(["k3", "k2", "k1"]):
        result_cache.store(cache, key, outputs, keep=3)
        os.utime(cache / key, (1e9 - age * 100, 1e9 - age * 100))  # k1 the oldest
    (cache / ".k0.abandoned").mkdir()
    os.utime(cache / ".k0.abandoned", (1e9, 1e9))  # a staging folder of a killed job
    target = [tmp_path / "out" / "a.json"]
    assert result_cache.restore(cache, "k1", target)  # k1 used now: k2 is the oldest
    result_cache.store(cache, "k4", outputs, keep=3)
    assert sorted(p.name for p in cache.iterdir()) == ["k1", "k3", "k4"]
    assert result_cache.restore(cache, "k3", target)


def test_the_cache_keeps_within_its_bytes_and_always_the_newest(tmp_path):
    import os

    cache = tmp_path / "cache"
    big = _outputs(tmp_path / "big", {"a.png": b"x" * 1000})
    for age, key in enumerate(["k3", "k2", "k1"]):
        result_cache.store(cache, key, big, keep=10, keep_bytes=10**6)
        os.utime(cache / key, (1e9 - age * 100, 1e9 - age * 100))  # k1 the oldest
    # Entries of ~1,100 bytes (file and manifest) within 2,500: the two used last stay.
    assert result_cache.prune(cache, keep=10, keep_bytes=2500) == [cache / "k1"]
    assert sorted(p.name for p in cache.iterdir()) == ["k2", "k3"]
    # An entry larger than the whole budget: the newest is kept all the same.
    result_cache.store(cache, "k4", big, keep=10, keep_bytes=10)
    assert sorted(p.name for p in cache.iterdir()) == ["k4"]


def test_a_cache_that_cannot_be_written_costs_the_copy_not_the_job(tmp_path, capsys):
    outputs = _outputs(tmp_path / "run", {"a.json": b"a\n"})
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be\n")
    warning = result_cache.store(blocked, "k", outputs)
    assert warning and str(blocked) in warning and "not kept" in warning
    assert outputs[0].read_bytes() == b"a\n"

    config = _small_plan(tmp_path)
    out = tmp_path / "pool" / "primary.json"
    paths = sorted(str(p) for p in NORMALISED.glob("*.json"))
    capsys.readouterr()
    assert main(_pool_args(config, paths, out, blocked)) == 0
    assert json.loads(out.read_text())["included"]
    assert "could not be written" in capsys.readouterr().err
