"""Issue 16's narrow inputs give what the wide ones gave.

The analysis extract must hold everything pooling reads (pooling the extracts chooses the same
rows, exclusions and readings as pooling the whole records, for every outcome and scenario of
the shipped plan and studies), nothing that a free-text fix or the configuration changes, and
the coverage study's design must be the pooled analysis's studies. Shards cached by design must
be the very files a fit writes. No timing here (that lives in benchmarks/bench_loop.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from stsmeta.cli import main
from stsmeta.config import effective_config, load_config
from stsmeta.coverage import cache
from stsmeta.coverage.design import design_document, design_sizes
from stsmeta.evidence.model import study_to_json
from stsmeta.evidence.studyfile import read_study
from stsmeta.pool.analysis import read_extracts
from stsmeta.pool.eligibility import build_dataset
from stsmeta.pool.extract import analysis_extract, extract_sha256, extract_text

ROOT = Path(__file__).resolve().parents[1]
RAW = sorted((ROOT / "data" / "raw").glob("*.yaml"))


@pytest.fixture(scope="module")
def config() -> dict:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    checked, problems = load_config(raw)
    assert problems == []
    return checked


@pytest.fixture(scope="module")
def records(config) -> list[dict]:
    """The shipped studies' normalised records, as their JSON files hold them."""
    return [json.loads(study_to_json(read_study(p, config))) for p in RAW]


def test_pooling_the_extracts_chooses_what_pooling_the_records_chose(records, config):
    extracts = [analysis_extract(r) for r in records]
    assert any(
        len(json.dumps(e)) < len(json.dumps(r)) / 3 for e, r in zip(extracts, records, strict=True)
    )
    for outcome in config["outcomes"]:
        for scenario in config["scenarios"]:
            whole = build_dataset(records, config, outcome, scenario)
            narrow = build_dataset(extracts, config, outcome, scenario)
            assert narrow == whole, (outcome, scenario)


def test_the_extract_is_idempotent_and_read_alike_from_either_file(records, tmp_path):
    record = records[0]
    assert analysis_extract(analysis_extract(record)) == analysis_extract(record)
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(record))
    narrow = tmp_path / "narrow.json"
    narrow.write_text(extract_text(record))
    (a,), sha_a = read_extracts([whole])
    (b,), sha_b = read_extracts([narrow])
    assert a == b
    assert sha_a == sha_b == {record["study_id"]: extract_sha256(record)}


def test_a_locator_typo_changes_the_record_but_not_the_extract(config, tmp_path):
    raw = RAW[0]
    text, count = re.subn(r"(?m)^(\s*locator: )(.+)$", r"\1\2 (checked)", raw.read_text(), count=1)
    assert count == 1
    fixed = tmp_path / raw.name
    fixed.write_text(text)
    before = json.loads(study_to_json(read_study(raw, config)))
    after = json.loads(study_to_json(read_study(fixed, config)))
    assert before != after
    assert extract_text(before) == extract_text(after)


def test_a_count_or_label_change_changes_the_extract(records):
    record = json.loads(json.dumps(records[0]))
    before = extract_text(record)
    record["label"] += " (corrected)"
    assert extract_text(record) != before
    record = json.loads(json.dumps(records[0]))
    record["outcomes"][0]["n"] += 1
    assert extract_text(record) != before


def test_the_extract_does_not_depend_on_the_configuration(config):
    # The plausible range sets each normalised record's `plausible` flags; pooling reads the
    # range from its own configuration, and the extract leaves the flags out.
    other = {**config, "plausible_concentration_mg_per_ml": [1, 2]}
    for path in RAW:
        a = json.loads(study_to_json(read_study(path, config)))
        b = json.loads(study_to_json(read_study(path, other)))
        assert extract_text(a) == extract_text(b), path.name


def test_the_design_is_the_pooled_analysis_studies(records, config):
    cov = config["coverage"]
    design = design_document(records, config, cov["outcome"], cov["scenario"])
    rows = build_dataset(records, config, cov["outcome"], cov["scenario"]).rows
    assert design["k"] == len(rows) > 0
    ids, n = design_sizes(design, "design.json")
    assert ids == tuple(r.study_id for r in rows)
    assert n == tuple(r.n for r in rows)
    # The pooled result's `studies` list reads the same way.
    pooled = {"studies": [{"study": r.study_id, "n": r.n, "events": r.events} for r in rows]}
    assert design_sizes(pooled, "pooled.json") == (ids, n)


def test_the_cache_key_changes_with_everything_a_shard_depends_on():
    settings = json.dumps({"seed": 1, "replicates": 10, "shards": 2})
    key = cache.shard_key((4, 1, 6), settings, "glmm", 0)
    assert key == cache.shard_key([4, 1, 6], settings, "glmm", 0)
    assert key != cache.shard_key((4, 1, 7), settings, "glmm", 0)
    assert key != cache.shard_key((1, 4, 6), settings, "glmm", 0)
    assert key != cache.shard_key((4, 1, 6), settings, "glmm", 1)
    assert key != cache.shard_key((4, 1, 6), settings, "ivre", 0)
    assert key != cache.shard_key((4, 1, 6), settings.replace("1,", "2,"), "glmm", 0)


def test_a_cached_shard_is_the_file_a_fit_writes(tmp_path, config, capsys):
    coverage = {**config, "coverage": {**config["coverage"], "replicates": 20, "shards": 2}}
    (tmp_path / "coverage.json").write_text(effective_config(coverage, "coverage"))
    design = {"k": 3, "studies": [{"study": f"s{i}", "n": n} for i, n in enumerate((4, 1, 6))]}
    (tmp_path / "design.json").write_text(json.dumps(design))
    args = ["coverage-shard", "--config", str(tmp_path / "coverage.json"), "--design",
            str(tmp_path / "design.json"), "--family", "common", "--shard", "1"]  # fmt: skip
    fresh, copied = tmp_path / "fresh.csv", tmp_path / "copied.csv"
    assert main([*args, "--cache", str(tmp_path / "cache"), "-o", str(fresh)]) == 0
    assert "fitted before" not in capsys.readouterr().err
    assert main([*args, "--cache", str(tmp_path / "cache"), "-o", str(copied)]) == 0
    assert "fitted before" in capsys.readouterr().err
    assert copied.read_bytes() == fresh.read_bytes()
    assert len(list((tmp_path / "cache" / "common").glob("*.csv"))) == 1


def test_one_shard_job_for_every_family_writes_what_one_job_per_family_writes(
    tmp_path, config, capsys
):
    # Issue 16: the families share a job (the replicates are simulated once); each family's file
    # is the one a job fitting it alone writes, and a family cached before is copied, not refitted.
    coverage = {**config, "coverage": {**config["coverage"], "replicates": 30, "shards": 1}}
    (tmp_path / "coverage.json").write_text(effective_config(coverage, "coverage"))
    design = {"k": 3, "studies": [{"study": f"s{i}", "n": n} for i, n in enumerate((4, 1, 6))]}
    (tmp_path / "design.json").write_text(json.dumps(design))
    args = ["coverage-shard", "--config", str(tmp_path / "coverage.json"), "--design",
            str(tmp_path / "design.json"), "--shard", "0"]  # fmt: skip
    families = ("common", "glmm", "ivre")
    alone = {}
    for family in families:
        alone[family] = tmp_path / f"alone-{family}.csv"
        assert main([*args, "--family", family, "-o", str(alone[family])]) == 0
    together = []
    for family in families:
        together += ["--family", family, "-o", str(tmp_path / f"together-{family}.csv")]
    cache_dir = str(tmp_path / "cache")
    # glmm cached beforehand: the shared job copies it and fits the other two.
    assert (
        main([*args, "--family", "glmm", "-o", str(tmp_path / "g.csv"), "--cache", cache_dir]) == 0
    )
    capsys.readouterr()
    assert main([*args, *together, "--cache", cache_dir]) == 0
    err = capsys.readouterr().err
    assert "glmm shard 0: this design and these settings were fitted before" in err
    assert "common shard 0: 360 fits" in err and "ivre shard 0: 720 fits" in err
    for family in families:
        assert (tmp_path / f"together-{family}.csv").read_bytes() == alone[family].read_bytes()
        assert len(list((tmp_path / "cache" / family).glob("*.csv"))) == 1


def test_a_shard_job_needs_one_output_per_family(tmp_path, config, capsys):
    (tmp_path / "coverage.json").write_text(effective_config(config, "coverage"))
    design = {"k": 2, "studies": [{"study": "a", "n": 3}, {"study": "b", "n": 5}]}
    (tmp_path / "design.json").write_text(json.dumps(design))
    code = main(["coverage-shard", "--config", str(tmp_path / "coverage.json"), "--design",
                 str(tmp_path / "design.json"), "--shard", "0", "--family", "common",
                 "--family", "glmm", "-o", str(tmp_path / "only-one.csv")])  # fmt: skip
    assert code != 0
    err = capsys.readouterr().err
    assert "--family/-o" in err and "give one -o" in err and "Traceback" not in err
    assert not (tmp_path / "only-one.csv").exists()


def test_one_pool_job_writes_each_scenario_as_its_own_job_would(records, tmp_path):
    from stsmeta.config import effective_config as effective

    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["methods"]["selection"] = "fixed"  # the coverage rule needs a coverage summary
    checked, _ = load_config(raw)
    (tmp_path / "pool.json").write_text(effective(checked, "pool"))
    studies = []
    for record in records:
        path = tmp_path / f"{record['study_id']}.json"
        path.write_text(extract_text(record))
        studies.append(str(path))
    base = ["pool", "--config", str(tmp_path / "pool.json"), "--outcome", "any_response"]
    together = [a for s in ("primary", "per_lesion") for a in
                ("--scenario", s, "--out", str(tmp_path / f"both-{s}.json"))]  # fmt: skip
    assert main([*base, *together, *studies]) == 0
    assert main([*base, "--scenario", "per_lesion", "--out", str(tmp_path / "one.json"),
                 *studies]) == 0  # fmt: skip
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "both-per_lesion.json").read_bytes()
    assert main([*base, "--scenario", "primary", *together[4:], *studies]) == 2


def test_normalisation_is_chunked_only_for_thousands_of_studies_and_chunks_are_stable():
    # SYNTHETIC ids. Up to PER_STUDY_JOBS_UP_TO studies: one job each. Above: chunks of about
    # CHUNK_SIZE, and adding a study changes one chunk only (until the count doubles).
    from stsmeta.outputs import CHUNK_SIZE, PER_STUDY_JOBS_UP_TO, normalise_chunks

    few = [f"synthetic-s{i:05d}-2020" for i in range(PER_STUDY_JOBS_UP_TO)]
    assert normalise_chunks(few) == {}
    many = [f"synthetic-s{i:05d}-2020" for i in range(1000)]
    chunks = normalise_chunks(many)
    assert sorted(s for ids in chunks.values() for s in ids) == sorted(many)
    assert len(chunks) == 16 and max(map(len, chunks.values())) < 2 * CHUNK_SIZE
    added = normalise_chunks([*many, "synthetic-new-2021"])
    changed = [c for c in added if added[c] != chunks.get(c)]
    assert len(changed) == 1 and "synthetic-new-2021" in added[changed[0]]
