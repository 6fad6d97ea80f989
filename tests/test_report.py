"""The report: numbers equal the JSON, hostile text is escaped, self-contained, deterministic.

Uses the SYNTHETIC fixtures of tests/fixtures/pooled (see its README). Figures here are tiny
synthetic PNGs written by the test (the figures themselves are tested in test_figures.py and
rendered for real in test_report_browser.py).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import re
import shutil
import struct
import tarfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from stsmeta.errors import InputError
from stsmeta.figures import figure_stems
from stsmeta.report import numbers, write_report

FIXTURES = Path(__file__).parent / "fixtures" / "pooled"
OUTCOMES = ["complete_remission", "any_response"]
HOSTILE = "<script>alert(1)</script>"


def tiny_png(seed: int) -> bytes:
    """A valid 2x1 RGB PNG (synthetic stand-in for a figure)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00" + bytes([seed % 256, 0, 0, 0, seed % 256, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def copy_inputs(tmp: Path) -> Path:
    """A results directory in tmp: fixtures plus synthetic figure PNGs."""
    root = tmp / "in"
    shutil.copytree(FIXTURES / "results", root / "results")
    shutil.copy(FIXTURES / "config.yaml", root / "config.yaml")
    figures = root / "results" / "figures"
    figures.mkdir()
    for i, stem in enumerate(figure_stems(OUTCOMES)):
        (figures / f"{stem}.png").write_bytes(tiny_png(i))
    return root


def build(root: Path, out: str = "results", previous: Path | None = None) -> tuple[str, str]:
    """Build as the workflow does: from the project directory, with relative paths."""
    with contextlib.chdir(root):
        html_path, md_path = write_report(
            config="config.yaml",
            pooled_dir="results/pooled",
            normalised_dir="results/normalised",
            tables_dir="results/tables",
            figures_dir="results/figures",
            html=f"{out}/report.html",
            md=f"{out}/report.md",
            previous=previous,
        )
        return html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    root = copy_inputs(tmp)
    html, md = build(root)
    return root, html, md


class Numbers(HTMLParser):
    """Collects every ``<span class="num">`` with its source, format and text."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "span" and attrs.get("class") == "num":
            self._open = {"src": attrs["data-src"], "fmt": attrs["data-format"], "text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.found.append((self._open["src"], self._open["fmt"], self._open["text"]))
            self._open = None


def resolve(root: Path, src: str):
    """The JSON value a ``data-src`` names (``outcome/scenario.json#/json/pointer``)."""
    file, pointer = src.split("#", 1)
    value = json.loads((root / "results" / "pooled" / file).read_text())
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        value = value[int(token)] if isinstance(value, list) else value[token]
    return value


def test_every_number_in_the_report_equals_the_pooled_json(built):
    root, html, _ = built
    parser = Numbers()
    parser.feed(html)
    assert len(parser.found) > 300
    for src, fmt, text in parser.found:
        assert text == getattr(numbers, fmt)(resolve(root, src)), src
    sources = {src for src, _, _ in parser.found}
    # Coverage: every method of every outcome, every scenario, every subgroup level.
    for outcome in OUTCOMES:
        primary = json.loads((root / "results/pooled" / outcome / "primary.json").read_text())
        for key in ("k", "n", "events", "tau2", "i2", "q", "q_p", "estimate", "ci_low"):
            assert f"{outcome}/primary.json#/{key}" in sources
        for name, result in primary["secondary"].items():
            if result["estimate"] is not None:
                assert f"{outcome}/primary.json#/secondary/{name}/estimate" in sources
                assert f"{outcome}/primary.json#/secondary/{name}/pi_high" in sources
        for variable, levels in primary["subgroups"].items():
            for level in levels:
                assert f"{outcome}/primary.json#/subgroups/{variable}/{level}/k" in sources
        for path in (root / "results/pooled" / outcome).glob("*.json"):
            assert f"{outcome}/{path.name}#/k" in sources


def test_tables_are_shown_verbatim(built):
    root, html, md = built
    with open(root / "results/tables/studies.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        cells = re.findall(r"<td>(.*?)</td>", html)
        assert f"{row['events']}/{row['n']}" in cells
        assert row["proportion"] in cells
    with open(root / "results/tables/decisions.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            assert row["reason"] in html


def test_markdown_carries_the_same_numbers_and_sections(built):
    _, html, md = built
    parser = Numbers()
    parser.feed(html)
    for _, _, text in parser.found:
        assert text.replace("[", "\\[") in md or text in md
    html_sections = re.findall(r"<h2 id=\"[^\"]*\">(.*?)</h2>", html)
    md_sections = re.findall(r"^## (.*)$", md, flags=re.M)
    assert html_sections == md_sections
    assert len(html_sections) >= 10
    for stem in figure_stems(OUTCOMES):
        assert f"(figures/{stem}.png)" in md


def test_figures_are_embedded_and_nothing_is_fetched(built):
    root, html, _ = built
    images = re.findall(
        r'<figure id="figure-([^"]+)"><img src="data:image/png;base64,([^"]+)"', html
    )
    assert sorted(stem for stem, _ in images) == sorted(figure_stems(OUTCOMES))
    assert len(images) == html.count("<img")
    for stem, data in images:
        assert base64.b64decode(data) == (root / "results/figures" / f"{stem}.png").read_bytes()
    assert "<script" not in html.lower()
    assert not re.search(r'\s(src|href)="(?!data:|#)', html)
    assert "http://" not in html and "https://" not in html


def test_not_estimable_results_say_so_with_the_reason(built):
    _, html, md = built
    assert "not estimable: SYNTHETIC: too few studies" in html
    assert "not estimable: SYNTHETIC: too few studies" in md
    assert "k = 1: a random-effects model needs at least two studies" in html


def test_methods_limitations_checksums_and_first_version(built):
    root, html, _ = built
    config = yaml.safe_load((root / "config.yaml").read_text())
    assert config["methods"]["primary"]["reason"] in html
    for ref in (
        "Clopper CJ, Pearson ES",
        "Stijnen T",
        "DerSimonian R",
        "Freeman MF",
        "Miller JJ",
        "Hartung J",
        "IntHout J",
        "Higgins JPT",
        "metafor package",
        "Murad MH",
    ):
        assert ref in html
    for package in ("numpy", "scipy", "pandas", "matplotlib", "snakemake", "stsmeta"):
        assert f"<td>{package}</td>" in html
    # Limitations counted from the JSON independently of the report code.
    primary = json.loads((root / "results/pooled/complete_remission/primary.json").read_text())
    full = sum(1 for s in primary["studies"] if s["events"] == s["n"])
    zero = sum(1 for s in primary["studies"] if s["events"] == 0)
    assert f"{full} of {len(primary['studies'])} studies report 100% and {zero} report 0%" in html
    assert "No comparator" in html
    sha = hashlib.sha256((root / "config.yaml").read_bytes()).hexdigest()
    assert re.search(rf"<td>[^<]*config.yaml</td><td>{sha}</td>", html)
    for path in (root / "results/normalised").glob("*.json"):
        assert json.loads(path.read_text())["source_sha256"] in html
    assert "First version" in html
    assert "evidence up to 2021" in html


def test_report_is_byte_identical_across_runs(built, tmp_path):
    _, html, md = built
    html2, md2 = build(copy_inputs(tmp_path))  # a second clean tree elsewhere
    assert html2 == html
    assert md2 == md


def test_hostile_strings_are_escaped(tmp_path):
    root = copy_inputs(tmp_path)
    results = root / "results"
    study = results / "normalised" / "beta-2013.json"
    data = json.loads(study.read_text())
    data["label"] = HOSTILE
    data["risk_of_bias"]["q1"]["reason"] = HOSTILE
    study.write_text(json.dumps(data))
    table = results / "tables" / "studies.csv"
    table.write_text(table.read_text().replace("Synthetic Beta 2013", HOSTILE))
    decisions = results / "tables" / "decisions.csv"
    decisions.write_text(decisions.read_text().replace("SYNTHETIC reason", HOSTILE))
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["report"]["title"] = HOSTILE
    config["outcomes"]["complete_remission"]["definition"] = HOSTILE
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    html, md = build(root, "out")
    assert HOSTILE not in html and "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;") >= 5
    assert "<script" not in md
    # The scenario label of the fixture config holds '<b>&amp;</b>': shown as typed.
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html and "<b>" not in html


def test_date_comes_from_the_config_when_given(tmp_path):
    root = copy_inputs(tmp_path)
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["report"]["date"] = "2026-11-01"
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    html, md = build(root, "out")
    assert "date: 2026-11-01" in html and "date: 2026-11-01" in md


def test_changes_since_a_previous_archive(tmp_path):
    root = copy_inputs(tmp_path)
    results = root / "results"
    old_estimate = 0.654321
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:

        def add(name: str, payload: dict) -> None:
            data = json.dumps(payload).encode()
            info = tarfile.TarInfo(f"stsmeta-results-0.0.1/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        old = json.loads((results / "pooled/complete_remission/primary.json").read_text())
        old["estimate"], old["k"] = old_estimate, 3
        add("pooled/complete_remission/primary.json", old)
        for path in sorted((results / "normalised").glob("*.json")):
            study = json.loads(path.read_text())
            if study["study_id"] == "zeta-2021":
                continue  # added since
            if study["study_id"] == "beta-2013":
                study["design"] = "case series"  # changed since
            add(f"normalised/{path.name}", study)
    previous = tmp_path / "stsmeta-results-0.0.1.tar.gz"
    previous.write_bytes(buffer.getvalue())
    html, md = build(root, "out", previous=previous)
    assert "Compared with version 0.0.1" in html
    assert "Studies added: Synthetic Zeta 2021" in html
    assert "Studies changed: Synthetic Beta 2013" in html
    assert "Studies removed: none" in html
    assert f"k = 3; {numbers.proportion(old_estimate)}" in html
    assert "not in the previous version" in html  # scenarios absent from the old archive
    assert "First version" not in html
    assert hashlib.sha256(previous.read_bytes()).hexdigest() in html


def test_missing_inputs_are_named(tmp_path):
    root = copy_inputs(tmp_path)
    (root / "results/tables/flags.csv").unlink()
    with pytest.raises(InputError) as info:
        build(root, "out")
    assert str(info.value.problems[0]).endswith("flags.csv: (file): file not found")
