"""``stsmeta pool``: the command line over a CSV (synthetic data)."""

from __future__ import annotations

import json

import pytest

from stsmeta.cli import main
from stsmeta.stats import pool

CSV = (
    "study,events,n,year\nAlpha (synthetic),3,11,2001\nBeta (synthetic),6,17,2002\n"
    "Gamma (synthetic),10,21,2003\nDelta (synthetic),1,6,2004\n"
)


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text(CSV)
    return path


def test_json_output_equals_the_library(csv_file, capsys):
    argv = [
        "pool",
        "--input",
        str(csv_file),
        "--method",
        "ivre",
        "--transform",
        "ft",
        "--tau2",
        "DL",
        "--ci",
        "hk",
        "--pi",
        "t-k2",
        "--level",
        "0.9",
        "--study-ci",
        "wilson",
        "--json",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    out = json.loads(text)
    ref = pool(
        [3, 6, 10, 1],
        [11, 17, 21, 6],
        method="ivre",
        transform="ft",
        tau2="DL",
        ci="hk",
        pi="t-k2",
        level=0.9,
        study_ci="wilson",
        studies=["Alpha (synthetic)", "Beta (synthetic)", "Gamma (synthetic)", "Delta (synthetic)"],
    ).to_dict()
    assert out == json.loads(json.dumps(ref))
    assert text == json.dumps(out, sort_keys=True, indent=2) + "\n"  # sorted keys
    assert out["settings"]["transform"] == "ft" and out["settings"]["pi"] == "t-k2"


def test_missing_estimate_is_null_with_a_warning(tmp_path, capsys):
    path = tmp_path / "all100.csv"
    path.write_text("study,events,n\na,3,3\nb,2,2\n")
    assert main(["pool", "--input", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] is None and out["ci_low"] is None
    assert "does not exist" in out["warnings"][0]
    assert main(["pool", "--input", str(path), "--method", "common", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] == 1.0 and 0 < out["ci_low"] < 1


def test_table_output(csv_file, capsys):
    assert main(["pool", "--input", str(csv_file)]) == 0
    text = capsys.readouterr().out
    assert "Binomial-normal GLMM" in text
    assert "Gamma (synthetic)" in text
    assert "pooled proportion 0.3636" in text


@pytest.mark.parametrize(
    "content, field, words",
    [
        ("study,events,size\na,1,2\n", "header", "missing column n"),
        ("study,events,n\na,1,2\nb,7,5\n", "row 2: events", "exceed n"),
        ("study,events,n\na,-1,2\n", "row 1: events", "negative"),
        ("study,events,n\na,1,2.5\n", "row 1: n", "not a whole number"),
        ("study,events,n\na,1,x\n", "row 1: n", "not a whole number"),
        ("study,events,n\na,0,0\n", "row 1: n", "n >= 1"),
        ("study,events,n\n", "(file)", "no data rows"),
    ],
)
def test_bad_csv_names_file_row_and_fix(tmp_path, capsys, content, field, words):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["pool", "--input", str(path), "--json"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: {field}: " in err
    assert words in err


def test_hk_is_refused_for_the_glmm(csv_file, capsys):
    assert main(["pool", "--input", str(csv_file), "--ci", "hk"]) == 2
    assert "ivre only" in capsys.readouterr().err
