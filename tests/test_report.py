"""The report: numbers equal the JSON, hostile text is escaped, self-contained, deterministic.

Uses the SYNTHETIC fixtures of tests/fixtures/pooled (see its README). Figures here are tiny
synthetic PNGs written by the test (the figures themselves are tested in test_figures.py and
rendered for real in test_report_browser.py).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from figure_helpers import tiny_svg

from stsmeta.errors import InputError
from stsmeta.outputs import figure_stems
from stsmeta.presentation import numbers
from stsmeta.report import write_report

FIXTURES = Path(__file__).parent / "fixtures" / "pooled"
OUTCOMES = ["complete_remission", "any_response"]
HOSTILE = "<script>alert(1)</script>"


def copy_inputs(tmp: Path) -> Path:
    """A results directory in tmp: fixtures plus synthetic figure SVGs."""
    root = tmp / "in"
    shutil.copytree(FIXTURES / "results", root / "results")
    shutil.copy(FIXTURES / "config.yaml", root / "config.yaml")
    figures = root / "results" / "figures"
    figures.mkdir()
    for i, stem in enumerate(figure_stems(OUTCOMES) + ["coverage"]):
        (figures / f"{stem}.svg").write_bytes(tiny_svg(i))
    return root


COVERAGE = "results/coverage/summary.json"


def build(
    root: Path,
    out: str = "results",
    previous: Path | None = None,
    coverage: str | None = COVERAGE,
    **options,
) -> tuple[str, str]:
    """Build as the workflow does: from the project directory, with relative paths."""
    with contextlib.chdir(root):
        html_path, md_path = write_report(
            config="config.yaml",
            pool_dir="results/pool",
            normalised=sorted(Path("results/normalised").glob("*.json")),
            tables_dir="results/tables",
            figures_dir="results/figures",
            html=f"{out}/report.html",
            md=f"{out}/report.md",
            previous=previous,
            coverage=coverage,
            **options,
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
    """The JSON value a ``data-src`` names (``outcome/scenario.json#/json/pointer``, or
    ``coverage/summary.json#/...`` for the --coverage file)."""
    file, pointer = src.split("#", 1)
    path = root / COVERAGE if file == "coverage/summary.json" else root / "results/pool" / file
    value = json.loads(path.read_text())
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
        primary = json.loads((root / "results/pool" / outcome / "primary.json").read_text())
        for key in ("k", "n", "events", "tau2", "i2", "q", "q_p", "estimate", "ci_low"):
            assert f"{outcome}/primary.json#/{key}" in sources
        for name, result in primary["secondary"].items():
            if result["estimate"] is not None:
                assert f"{outcome}/primary.json#/secondary/{name}/estimate" in sources
                assert f"{outcome}/primary.json#/secondary/{name}/pi_high" in sources
        for variable, levels in primary["subgroups"].items():
            for level in levels:
                assert f"{outcome}/primary.json#/subgroups/{variable}/{level}/k" in sources
        for path in (root / "results/pool" / outcome).glob("*.json"):
            assert f"{outcome}/{path.name}#/k" in sources
    # The coverage section: design, grid, and every method's row of the summary.
    doc = json.loads((root / COVERAGE).read_text())
    cov = "coverage/summary.json#"
    assert f"{cov}/design/k" in sources and f"{cov}/settings/replicates" in sources
    for i in range(len(doc["design"]["studies"])):
        assert f"{cov}/design/studies/{i}/n" in sources
    for key in ("true_proportions", "taus"):
        for i in range(len(doc["settings"][key])):
            assert f"{cov}/settings/{key}/{i}" in sources
    for i, verdict in enumerate(doc["recommendation"]["verdicts"]):
        assert f"{cov}/recommendation/verdicts/{i}/mean_abs_deviation" in sources
        rows = [j for j, r in enumerate(doc["summary"]) if r["method"] == verdict["method"]]
        shown = {j for j in rows if f"{cov}/summary/{j}/coverage" in sources}
        # The worst and best cells are the ones shown, with their Monte Carlo SEs.
        assert {doc["summary"][j]["coverage"] for j in shown} == {
            verdict["min_coverage"],
            verdict["max_coverage"],
        }
        assert all(f"{cov}/summary/{j}/coverage_mcse" in sources for j in shown)
        # The rule's worst cell, with its Monte Carlo SE.
        assert f"{cov}/recommendation/verdicts/{i}/worst_abs_deviation" in sources
        assert f"{cov}/recommendation/verdicts/{i}/worst_coverage_mcse" in sources
        worst = max(doc["summary"][j]["failure_rate"] for j in rows)
        assert any(
            f"{cov}/summary/{j}/failure_rate" in sources
            and doc["summary"][j]["failure_rate"] == worst
            for j in rows
        )


def test_the_runner_up_sentence_has_every_number_from_the_json(built):
    """The synthetic fixture's margin is under 2 MC SEs: the sentence says so and gives both
    methods' estimates for the first outcome, each number tagged with its source (checked
    against the JSON by the test above)."""
    root, html, _ = built
    parser = Numbers()
    parser.feed(html)
    sources = {src for src, _, _ in parser.found}
    doc = json.loads((root / COVERAGE).read_text())
    up = doc["recommendation"]["runner_up"]
    assert not up["separated"]
    for key in ("worst_abs_deviation", "margin", "margin_mcse", "margin_in_mcse", "separation"):
        assert f"coverage/summary.json#/recommendation/runner_up/{key}" in sources
    src = "complete_remission/primary.json#"
    assert f"{src}/secondary/{up['method']}/estimate" in sources
    part = visible_text(section(html, "coverage"))
    assert f"Runner-up by the same rule: {up['label']}, whose worst cell is" in part
    assert "does not clearly separate the choice from the runner-up" in part


def test_tables_are_shown_verbatim(built):
    root, html, md = built
    with open(root / "results/tables/studies.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        cells = re.findall(r"<t[dh](?: scope=\"row\")?>(.*?)</t[dh]>", html)
        assert f"{row['events']}/{row['n']}" in cells
        # The CSV's six decimals shown with three, as every proportion of the report.
        assert f"{float(row['proportion']):.3f}" in cells
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
    for stem in figure_stems(OUTCOMES) + ["coverage"]:
        assert f"(figures/{stem}.svg)" in md


def test_figures_are_inlined_as_svg_and_nothing_is_fetched(built):
    _, html, _ = built
    figures = re.findall(r'<figure id="figure-([^"]+)"><svg ([^>]*)>(.*?)</svg>', html, re.S)
    assert sorted(stem for stem, _, _ in figures) == sorted(figure_stems(OUTCOMES) + ["coverage"])
    assert "<img" not in html
    for stem, attrs, body in figures:
        # Drawing kept; metadata, style sheet and comments dropped; ids unique per figure.
        assert 'viewBox="0 0 40 20"' in attrs and 'role="img"' in attrs
        assert "<path" in body and "<metadata" not in body and "<style" not in body
        assert "<!--" not in body
        assert f'id="{stem}-clip1"' in body and f'clip-path="url(#{stem}-clip1)"' in body
        assert f'xlink:href="#{stem}-glyph"' in body
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
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
        assert f'<th scope="row">{package}</th>' in html
    # Limitations counted from the JSON independently of the report code.
    primary = json.loads((root / "results/pool/complete_remission/primary.json").read_text())
    full = sum(1 for s in primary["studies"] if s["events"] == s["n"])
    zero = sum(1 for s in primary["studies"] if s["events"] == 0)
    assert f"{full} of {len(primary['studies'])} studies report 100% and {zero} report 0%" in html
    assert "No comparator" in html
    sha = hashlib.sha256((root / "config.yaml").read_bytes()).hexdigest()
    assert re.search(rf'<th scope="row">[^<]*config.yaml</th><td>{sha}</td>', html)
    for path in (root / "results/normalised").glob("*.json"):
        assert json.loads(path.read_text())["source_sha256"] in html
    assert "First version" in html
    assert "evidence up to 2021" in html


def test_a_published_version_whose_archive_is_absent_is_named_not_called_first(tmp_path):
    """A fresh clone of a review that published 0.0.9 has no results/archive/: the report must not
    claim to be the first version, and says how to list the changes."""
    root = copy_inputs(tmp_path)
    html, _ = build(root, previous_unavailable="0.0.9")
    assert "First version" not in html
    assert "Version 0.0.9 was published before this one" in html
    assert "stsmeta-results-0.0.9.tar.gz" in html


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
    # Markdown escapes with backslashes: no raw tag, and no HTML entity shown as text.
    assert not re.search(r"(?<!\\)<(?!https?:)", md)
    assert "\\<script\\>alert(1)\\</script\\>" in md
    assert "&amp;" not in md.replace("\\&amp;", "")
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
    members: dict[str, bytes] = {}

    def add(name: str, payload: dict) -> None:
        members[name] = json.dumps(payload).encode()

    old = json.loads((results / "pool/complete_remission/primary.json").read_text())
    old["estimate"], old["k"] = old_estimate, 3
    add("pool/complete_remission/primary.json", old)
    for path in sorted((results / "normalised").glob("*.json")):
        study = json.loads(path.read_text())
        if study["study_id"] == "zeta-2021":
            continue  # added since
        if study["study_id"] == "beta-2013":
            study["design"] = "case series"  # changed since
        add(f"normalised/{path.name}", study)
    # With its manifest, as `stsmeta archive` writes it: the report verifies it before use.
    from stsmeta.archive import tar_gz_bytes
    from stsmeta.archive.texts import manifest_text

    members["MANIFEST.sha256"] = manifest_text(members).encode()
    previous = tmp_path / "stsmeta-results-0.0.1.tar.gz"
    previous.write_bytes(tar_gz_bytes("stsmeta-results-0.0.1", members, 0))
    html, md = build(root, "out", previous=previous)
    assert "Compared with version 0.0.1" in html
    assert "Studies added: Synthetic Zeta 2021" in html
    assert "Studies changed: Synthetic Beta 2013" in html
    assert "Studies removed: none" in html
    assert re.search(rf"k = 3(, \d+/\d+)?; {re.escape(numbers.proportion(old_estimate))}", md)
    assert "not in the previous version" in html  # scenarios absent from the old archive
    assert "First version" not in html
    assert hashlib.sha256(previous.read_bytes()).hexdigest() in html


def test_missing_inputs_are_named(tmp_path):
    root = copy_inputs(tmp_path)
    (root / "results/tables/flags.csv").unlink()
    with pytest.raises(InputError) as info:
        build(root, "out")
    assert str(info.value.problems[0]).endswith("flags.csv: (file): file not found")


class Text(HTMLParser):
    """The visible text of a page (attributes and SVG drawings left out)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._svg = 0

    def handle_starttag(self, tag, attrs):
        self._svg += tag == "svg"

    def handle_endtag(self, tag):
        self._svg -= tag == "svg"

    def handle_data(self, data):
        if not self._svg:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = Text()
    parser.feed(html)
    return " ".join(parser.parts)


def section(html: str, anchor: str) -> str:
    """From the heading with this anchor (h2 or h3) to the next heading of any level 2-3."""
    start = html.index(f' id="{anchor}">')
    ends = [html.find(tag, start + 1) for tag in ("<h2 ", "<h3 ")]
    return html[start : min(e for e in ends if e > 0)]


def test_summary_gives_each_outcome_in_words(built):
    root, html, md = built
    summary = section(html, "summary")
    assert html.index('id="at-a-glance"') < html.index('id="question"')
    for outcome in OUTCOMES:
        result = json.loads((root / "results/pool" / outcome / "primary.json").read_text())
        src = f"{outcome}/primary.json#"
        for key in ("k", "events", "n"):
            assert f'data-src="{src}/{key}"' in summary
        if result["estimate"] is not None:
            for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
                assert f'data-src="{src}/{key}"' in summary
        excluded = len(result["excluded"])
        assert f"</span> included, {excluded} excluded" in summary
        # The spread of the secondary methods, from the JSON independently of the report.
        estimates = {
            name: r["estimate"]
            for name, r in result["secondary"].items()
            if r["estimate"] is not None
        }
        low, high = min(estimates, key=estimates.get), max(estimates, key=estimates.get)
        assert f'data-src="{src}/secondary/{low}/estimate"' in summary
        assert f'data-src="{src}/secondary/{high}/estimate"' in summary
    n_studies = len(list((root / "results/normalised").glob("*.json")))
    assert f"Studies: {n_studies} in the study files" in summary
    assert "Coverage study: for this evidence base, Exact common effect" in summary
    assert "### Statistical summary" in md


def test_summary_answers_with_the_common_effect_when_the_primary_is_not_estimable(tmp_path):
    root = copy_inputs(tmp_path)
    path = root / "results/pool/any_response/primary.json"
    result = json.loads(path.read_text())
    result.update(estimate=None, ci_low=None, ci_high=None, pi_low=None, pi_high=None)
    result["warnings"] = ["not estimable: SYNTHETIC every study at 100%"]
    path.write_text(json.dumps(result))
    html, md = build(root, "out")
    summary = section(html, "summary")
    assert "gives no estimate: SYNTHETIC every study at 100%." in summary
    assert "The answer is the exact common-effect result" in summary
    src = "any_response/primary.json#/secondary/common_exact"
    for key in ("estimate", "ci_low", "ci_high"):
        assert f'data-src="{src}/{key}"' in summary
    assert "gives no estimate: SYNTHETIC every study at 100%." in md


def test_coverage_section_names_the_recommended_method(built, tmp_path):
    root, html, md = built
    doc = json.loads((root / COVERAGE).read_text())
    part = section(html, "coverage")
    rec = doc["recommendation"]
    assert f"Recommended for this evidence base: {rec['label']}, because {rec['reason']}" in part
    assert f"{rec['label']} (recommended)" in part
    assert 'id="figure-coverage"' in part
    for method in doc["methods"].values():
        assert method["label"] in part
    assert "## Coverage of the intervals" in md and "(figures/coverage.svg)" in md
    # Without --coverage the section says the study was not run.
    html2, _ = build(copy_inputs(tmp_path), "out", coverage=None)
    assert "The coverage study was not run" in section(html2, "coverage")
    assert 'id="figure-coverage"' not in html2


def test_a_malformed_coverage_summary_is_named(tmp_path):
    root = copy_inputs(tmp_path)
    (root / COVERAGE).write_text(json.dumps({"design": {}, "summary": {}}))
    with pytest.raises(InputError) as info:
        build(root, "out")
    fields = {p.field for p in info.value.problems}
    assert {"settings", "methods", "summary", "recommendation"} <= fields


def test_labels_years_and_applied_alternatives_read_as_words(built):
    from stsmeta.evidence import vocabulary

    root, html, md = built
    text = visible_text(html)
    for study in (root / "results/normalised").glob("*.json"):
        data = json.loads(study.read_text())
        for kind, ids in (
            (vocabulary.DESIGN, [data["design"]]),
            (vocabulary.DISEASE, data["diseases"]),
            (vocabulary.CALCINOSIS_TYPE, data["calcinosis_types"]),
        ):
            for term in ids:
                assert vocabulary.label(kind, term) in text
                if "_" in term:
                    assert term not in text, term
    # A study without a year: "n.d." in the characteristics and the cumulative table.
    row_head = r'<th scope="row">Synthetic Eta case report \(n\.d\.\)</th><td>n\.d\.</td>'
    assert re.search(row_head, html)
    assert re.search(row_head + "<td>", html)
    assert not re.search(r"\bNone\b(?!: no included study)", text)
    # Applied alternatives in words, not JSON.
    assert (
        "Synthetic Gamma-Longname-With-A-Very-Long-Hyphenated-Author-List 2016: SYNTHETIC" in text
    )
    assert '[{"' not in text and "[{'" not in text
    # The method's label is not said twice.
    assert "Binomial-normal GLMM (ML). Binomial" not in text


def test_markdown_shows_ampersands_as_typed(built):
    _, _, md = built
    assert "Stijnen, Hamza & Özdemir" in md
    assert "&amp;" not in md.replace("\\&amp;", "")


def test_inline_svg_drops_anything_active():
    from stsmeta.report.inline_svg import inline_svg

    hostile = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        b' onload="alert(1)" viewBox="0 0 1 1"><script>alert(2)</script>'
        b'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        b'<a href="https://example.org"><path d="M0 0"/></a>'
        b'<image xlink:href="https://example.org/x.png"/>'
        b'<path style="fill: url(https://example.org/#x)" onclick="alert(3)" d="M0 0"/>'
        b"</svg>"
    )
    out = inline_svg(hostile, "f-", 'label "quoted" <b>')
    for bad in ("script", "onload", "onclick", "foreignObject", "example.org", "<a ", "<b>"):
        assert bad not in out, bad
    assert out.startswith("<svg ") and "<path" in out


def test_subgroup_difference_test_and_left_out_studies_are_reported(tmp_path):
    """SYNTHETIC values injected into the fixture: the test's numbers are printed and traced to
    their JSON pointer, and a study left out of a variable is named with its reason."""
    root = copy_inputs(tmp_path)
    path = root / "results/pool/complete_remission/primary.json"
    doc = json.loads(path.read_text())
    doc["subgroup_differences"] = {
        "calcinosis_type": {"test": "Q between", "statistic": 2.5, "df": 1, "p": 0.114},
        "disease": {"test": "Q between", "statistic": None, "df": None, "p": None,
                    "note": "not computed: fewer than two levels with an estimate"},
    }  # fmt: skip
    study = sorted(doc["included"])[0]
    doc["subgroup_left_out"] = {"disease": [{"study_id": study, "reason": "mixed, no rows"}]}
    path.write_text(json.dumps(doc))
    html, md = build(root)
    assert "Test of subgroup differences: 2.50 on 1 degrees of freedom" in md.replace("\\", "")
    assert 'data-src="complete_remission/primary.json#/subgroup_differences/calcinosis_type/p"' in (
        html
    )
    assert "Test of subgroup differences: not done (fewer than two levels" in md
    assert "Left out of these subgroups:" in md and "(mixed, no rows)" in md


def test_common_tau2_test_and_single_study_levels_are_reported(tmp_path):
    """SYNTHETIC values injected into the fixture: the likelihood-ratio test with a common tau2
    is printed and traced to its JSON pointer (or why it was not computed), the levels of one
    study are named, and a Bayesian primary's subgroup table heads its interval CrI."""
    root = copy_inputs(tmp_path)
    path = root / "results/pool/complete_remission/primary.json"
    doc = json.loads(path.read_text())
    levels = sorted(doc["subgroups"]["calcinosis_type"])
    doc["subgroup_differences"] = {
        "calcinosis_type": {"test": "Q between", "statistic": 2.5, "df": 1, "p": 0.114,
                            "levels": levels, "single_study_levels": levels[:1],
                            "glmm_lrt": {"test": "GLMM LR", "statistic": 3.75, "df": 1,
                                         "p": 0.0528}},
        "disease": {"test": "Q between", "statistic": 1.5, "df": 1, "p": 0.221, "levels": [],
                    "glmm_lrt": {"test": "GLMM LR", "statistic": None, "df": 1, "p": None,
                                 "note": "not computed: synthetic reason"}},
    }  # fmt: skip
    doc.setdefault("settings", {})["method"] = "bayes"
    path.write_text(json.dumps(doc))
    html, md = build(root)
    text = md.replace("\\", "")
    assert "(GLMM with the levels as moderator, likelihood-ratio test): 3.75 on 1 degrees" in text
    assert "p = 0.053" in text
    assert (
        'data-src="complete_remission/primary.json#/subgroup_differences/calcinosis_type/glmm_lrt/p"'
        in html
    )  # noqa: E501
    assert "(GLMM) was not computed (synthetic reason)" in text
    assert "One level has a single study (" in text
    header = next(line for line in md.splitlines() if line.startswith("| Level |"))
    assert "| CrI |" in header and "| CI |" not in header


def test_pdf_structure_ids_are_renumbered_by_rank_keeping_offsets():
    """Chromium's structure-element ids come from a process-wide counter (a print under load
    was off by one): they are renumbered by rank, same length, same order."""
    from stsmeta.report.pdf import fixed_node_ids

    one = b"/ID (node00000230)>> x /ID (node00000235) /Names [(node00000230) 1 0 R]"
    two = b"/ID (node00000231)>> x /ID (node00000236) /Names [(node00000231) 1 0 R]"
    assert fixed_node_ids(one) == fixed_node_ids(two)
    assert len(fixed_node_ids(one)) == len(one)
    assert b"(node00000000)" in fixed_node_ids(one) and b"(node00000001)" in fixed_node_ids(one)


def test_a_pdf_of_an_earlier_report_is_removed_not_left_looking_current(tmp_path):
    import os

    from stsmeta.report.pdf import settle_pdf

    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    html.write_text("<p>new</p>")
    assert "prints the report" in settle_pdf(html, pdf)
    pdf.write_bytes(b"%PDF printed after the report")
    os.utime(pdf, ns=(html.stat().st_mtime_ns + 10**9,) * 2)
    assert "its PDF is" in settle_pdf(html, pdf) and pdf.exists()
    os.utime(html, ns=(pdf.stat().st_mtime_ns + 10**9,) * 2)  # the report rewritten since
    assert "removed" in settle_pdf(html, pdf)
    assert not pdf.exists()
    # Set aside at the start of the run that rewrote the report and not put back
    # (stsmeta.keep_previous): said as removed, as above.
    assert settle_pdf(html, pdf, withheld=True) == (
        f"removed {pdf}, printed from an earlier report; "
        "`snakemake --cores 4 pdf` prints the new one"
    )


@pytest.mark.parametrize("which", ["certainty", "screening"])
def test_review_files_refuse_an_alias_bomb(tmp_path, which):
    # A billion-laughs file (1 KB that expands to 10^9 items under plain yaml.safe_load) is
    # refused by name, before it is expanded.
    from stsmeta.errors import InputError
    from stsmeta.presentation.inputs import InputFiles
    from stsmeta.presentation.screening import load_screening
    from stsmeta.report.certainty import load_certainty

    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = tmp_path / f"{which}.yaml"
    bomb.write_text("\n".join(levels) + "\nrecords: *a8\n", encoding="utf-8")
    with pytest.raises(InputError, match="alias"):
        if which == "certainty":
            load_certainty(bomb, InputFiles(), ["complete_remission"])
        else:
            load_screening(bomb, InputFiles())


def test_markdown_escapes_dollars_so_text_is_not_read_as_mathematics():
    from stsmeta.report.document import md_escape

    assert md_escape("costs $x$ and $5") == r"costs \$x\$ and \$5"


def _previous_archive(tmp_path: Path, pooled: dict, studies: list[dict]) -> Path:
    """A SYNTHETIC previous version 0.0.1 with these pooled results and normalised studies,
    with its manifest as `stsmeta archive` writes it (the report verifies it before use)."""
    from stsmeta.archive import tar_gz_bytes
    from stsmeta.archive.texts import manifest_text

    members = {f"pool/{name}.json": json.dumps(doc).encode() for name, doc in pooled.items()}
    for study in studies:
        members[f"normalised/{study['study_id']}.json"] = json.dumps(study).encode()
    members["MANIFEST.sha256"] = manifest_text(members).encode()
    path = tmp_path / "stsmeta-results-0.0.1.tar.gz"
    path.write_bytes(tar_gz_bytes("stsmeta-results-0.0.1", members, 0))
    return path


def test_changes_compare_the_same_method_when_the_primary_method_changed(tmp_path):
    """Version 0.0.1's rule chose the Bayesian model; this version's primary is the GLMM. The
    "before" column gives 0.0.1's GLMM result, or says it was not computed, and the caption
    says that the primary method changed; the Bayesian number is never shown as the GLMM's."""
    root = copy_inputs(tmp_path)
    results = root / "results"
    glmm = "Binomial-normal GLMM (ML)"
    bayes = "Bayesian binomial-normal (SYNTHETIC)"
    pooled = {}
    for name in ("complete_remission/primary", "any_response/primary"):
        doc = json.loads((results / f"pool/{name}.json").read_text())
        doc.update(estimate=0.111111, k=2, method_label=bayes)
        doc["primary_selection"] = {"rule": "coverage", "method": "bayes", "reason": "SYNTHETIC"}
        pooled[name] = doc
    # 0.0.1 kept the configured primary among its secondary methods for one outcome only.
    configured = {k: v for k, v in pooled["complete_remission/primary"].items() if k != "secondary"}
    configured.update(estimate=0.222222, k=4, label=glmm)
    pooled["complete_remission/primary"]["secondary"]["configured_primary"] = configured
    studies = [json.loads(p.read_text()) for p in sorted((results / "normalised").glob("*.json"))]
    html, md = build(root, "out", previous=_previous_archive(tmp_path, pooled, studies))
    changes = visible_text(section(html, "changes"))
    assert (
        f"Pooled estimates before and after, both by {glmm}: the primary method changed from "
        f"{bayes} in version 0.0.1 to {glmm} in this version"
    ) in changes
    header, rows = changes_table(html)
    before = [row[header.index("Version 0.0.1")] for row in rows]
    assert [b for b in before if b.startswith("k = ")] == [_k_estimate(configured)]
    assert "not computed in version 0.0.1" in before
    assert not any(numbers.proportion(0.111111) in b for b in before)  # not as the GLMM's
    assert "primary method changed" in md


def test_changes_say_when_the_analysis_settings_changed(tmp_path):
    """The previous version pooled the same studies at another confidence level (and another
    tau\u00b2 estimator for one method): the section says so before the estimates, and each
    column of the table names its level, so that a narrower interval is not read as new
    evidence."""
    root = copy_inputs(tmp_path)
    results = root / "results"
    pooled = {}
    for path in sorted((results / "pool").glob("*/*.json")):
        doc = json.loads(path.read_text())
        for method in [doc, *(doc.get("secondary") or {}).values()]:
            method["confidence_level"] = 0.9
            method["settings"] = {**method.get("settings", {}), "level": 0.9}
        doc["secondary"]["ft_dl"]["settings"]["tau2"] = "SYNTHETIC-PM"
        # Chosen per fit from its data, not set by the plan: never told as a change.
        doc["settings"]["n_nodes"] = 241
        pooled[f"{path.parent.name}/{path.stem}"] = doc
    studies = [json.loads(p.read_text()) for p in sorted((results / "normalised").glob("*.json"))]
    html, md = build(root, "out", previous=_previous_archive(tmp_path, pooled, studies))
    changes = visible_text(section(html, "changes"))
    assert "The analysis settings changed since version 0.0.1: " in changes
    # Each change once, though every outcome and scenario pooled with it, with the methods it
    # concerns.
    assert changes.count("interval level 90% → 95% (every method)") == 1
    now = json.loads((results / "pool/complete_remission/primary.json").read_text())
    ft_dl = now["secondary"]["ft_dl"]
    assert (
        f"tau\u00b2 estimator SYNTHETIC-PM → {ft_dl['settings']['tau2']} ({ft_dl['label']})"
    ) in changes
    assert "not like for like" in changes and "not like for like" in md
    assert "nodes" not in changes
    header, _ = changes_table(html)
    assert "Version 0.0.1 (90% intervals)" in header and "This version (95% intervals)" in header


def test_changes_say_nothing_of_settings_when_none_changed(tmp_path):
    root = copy_inputs(tmp_path)
    results = root / "results"
    pooled = {
        f"{p.parent.name}/{p.stem}": json.loads(p.read_text())
        for p in sorted((results / "pool").glob("*/*.json"))
    }
    studies = [json.loads(p.read_text()) for p in sorted((results / "normalised").glob("*.json"))]
    html, _ = build(root, "out", previous=_previous_archive(tmp_path, pooled, studies))
    changes = visible_text(section(html, "changes"))
    assert "analysis settings changed" not in changes
    header, _ = changes_table(html)
    assert "This version" in header and not any("intervals)" in h for h in header)


def test_study_changes_tell_a_changed_file_from_a_record_a_setting_changed(tmp_path):
    """A study file byte-identical to the previous version's is not called a changed study
    file when only its normalised record differs (a setting such as the plausible
    concentration range changes its flags)."""
    root = copy_inputs(tmp_path)
    results = root / "results"
    studies = []
    for path in sorted((results / "normalised").glob("*.json")):
        study = json.loads(path.read_text())
        if study["study_id"] == "beta-2013":
            study["flags"] = [*study.get("flags", []), "SYNTHETIC flag of another setting"]
        if study["study_id"] == "gamma-2016":
            study["source_sha256"] = "f" * 64  # the study file itself was corrected since
        studies.append(study)
    pooled = {
        "complete_remission/primary": json.loads(
            (results / "pool/complete_remission/primary.json").read_text()
        )
    }
    html, _ = build(root, "out", previous=_previous_archive(tmp_path, pooled, studies))
    changes = visible_text(section(html, "changes"))
    gamma = next(s["label"] for s in studies if s["study_id"] == "gamma-2016")
    assert (
        f"Studies changed: {gamma} (study file changed: its record otherwise the same); "
        "Synthetic Beta 2013 (study file unchanged; its normalised record differs through a "
        "setting or the software: only flags changed)"
    ) in changes
    unchanged = {s["study_id"]: s for s in studies}
    unchanged["beta-2013"] = json.loads((results / "normalised/beta-2013.json").read_text())
    unchanged["gamma-2016"] = json.loads((results / "normalised/gamma-2016.json").read_text())
    html, _ = build(
        root, "again", previous=_previous_archive(tmp_path, pooled, list(unchanged.values()))
    )
    assert "Studies changed: none" in visible_text(section(html, "changes"))


# ------------------------------------------------ changes since the previous version: trust gaps

PREVIOUS_SOURCE = "stsmeta-results-0.0.1.tar.gz"


def _reader_text(fragment: str) -> str:
    """An HTML fragment's text as a reader sees it: tags dropped (numbers are spans inside the
    words), entities read."""
    from html import unescape

    return unescape(re.sub(r"<[^>]+>", "", fragment))


def changes_bullets(html: str) -> list[str]:
    return [_reader_text(li) for li in re.findall(r"<li>(.*?)</li>", section(html, "changes"))]


def changes_table(html: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the before-and-after table, each cell as a reader sees it."""
    part = section(html, "changes")
    header = [_reader_text(h) for h in re.findall(r'<th scope="col">(.*?)</th>', part)]
    body = re.search(r"<tbody>(.*?)</tbody>", part).group(1)
    rows = [
        [_reader_text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]
    return header, rows


def _normalised(root: Path) -> dict[str, dict]:
    paths = sorted((root / "results/normalised").glob("*.json"))
    return {p.stem: json.loads(p.read_text()) for p in paths}


def _write_normalised(root: Path, study: dict) -> None:
    (root / "results/normalised" / f"{study['study_id']}.json").write_text(json.dumps(study))


def _pooled(root: Path, *names: str) -> dict[str, dict]:
    return {n: json.loads((root / f"results/pool/{n}.json").read_text()) for n in names}


def _label(root: Path, outcome: str) -> str:
    config = yaml.safe_load((root / "config.yaml").read_text())
    return config["outcomes"][outcome]["label"].lower()


def _k_estimate(result: dict) -> str:
    """``k = 3, 5/9; 0.500 [0.100, 0.900]`` as the table writes a result (its own formatters;
    events/N where the result gives them)."""
    counts = (
        f", {numbers.count(result['events'])}/{numbers.count(result['n'])}"
        if result.get("events") is not None and result.get("n") is not None
        else ""
    )
    return (
        f"k = {numbers.count(result['k'])}{counts}; {numbers.proportion(result['estimate'])} "
        f"[{numbers.bound(result['ci_low'])},\u00a0{numbers.bound(result['ci_high'])}]"
    )


def _check_numbers_of_the_changes(root: Path, html: str, previous_pooled: dict) -> set[str]:
    """Every number of the section equals the JSON value its data-src names: this version's
    pooled JSON, or the previous archive's (``<archive>:pool/<O>/<S>.json#...``). Returns the
    sources that are the previous archive's."""
    parser = Numbers()
    parser.feed(section(html, "changes"))
    earlier = set()
    for src, fmt, text in parser.found:
        if src.startswith(f"{PREVIOUS_SOURCE}:pool/"):
            file, pointer = src[len(f"{PREVIOUS_SOURCE}:pool/") :].split("#", 1)
            value = previous_pooled[file.removesuffix(".json")]
            for token in pointer.split("/")[1:]:
                value = value[token.replace("~1", "/").replace("~0", "~")]
            earlier.add(src)
        else:
            value = resolve(root, src)
        assert text == getattr(numbers, fmt)(value), src
    return earlier


def test_a_study_whose_id_changed_is_reported_as_renamed(tmp_path):
    """The same study under a new id, known by its DOI (case aside) or else its PMID, is
    renamed, not one study removed and another added; a renamed study whose record changed
    too says what changed."""
    root = copy_inputs(tmp_path)
    studies = _normalised(root)
    studies["alpha-2013"]["citation"]["doi"] = "10.9999/synthetic.alpha"
    studies["beta-2013"]["citation"]["pmid"] = "99999901"  # no DOI: matched by PMID
    for name in ("alpha-2013", "beta-2013"):
        _write_normalised(root, studies[name])
    alpha = json.loads(json.dumps(studies["alpha-2013"]))
    alpha.update(study_id="alpha-2012", label="Synthetic Alpha 2012", source_sha256="a" * 64)
    alpha["citation"]["doi"] = "10.9999/SYNTHETIC.Alpha"  # DOIs are case-insensitive
    beta = json.loads(json.dumps(studies["beta-2013"]))
    beta.update(study_id="beta-old", source_sha256="b" * 64)  # the label kept, the id not
    outcome = next(o for o in beta["outcomes"] if o["outcome"] == "complete_remission")
    now = numbers.events_over_n(outcome["events"], outcome["n"])
    outcome["events"] -= 1
    before = numbers.events_over_n(outcome["events"], outcome["n"])
    earlier = [s for k, s in studies.items() if k not in ("alpha-2013", "beta-2013")]
    pooled = _pooled(root, "complete_remission/primary")
    html, _ = build(
        root, "out", previous=_previous_archive(tmp_path, pooled, earlier + [alpha, beta])
    )
    bullets = changes_bullets(html)
    assert "Studies added: none" in bullets and "Studies removed: none" in bullets
    assert (
        # Alpha's DOI was typed in another case: the same DOI, but a changed citation.
        "Studies renamed: Synthetic Alpha 2012 (now Synthetic Alpha 2013; record also changed: "
        "citation); Synthetic Beta 2013 "
        f"(study id beta-old, now beta-2013; record also changed: "
        f"{_label(root, 'complete_remission')} {before} → {now})"
    ) in bullets
    assert "Studies changed: none" in bullets


def test_a_rename_is_never_guessed_from_a_shared_or_a_missing_identifier(tmp_path):
    """Two studies of this version share the DOI of one previous study: which one it became is
    not known, so the previous study is removed and both are added (its PMID, matching one of
    them, does not decide either). Studies without a DOI or PMID are never matched."""
    root = copy_inputs(tmp_path)
    studies = _normalised(root)
    studies["alpha-2013"]["citation"].update(doi="10.9999/synthetic.shared", pmid="99999902")
    studies["zeta-2021"]["citation"]["doi"] = "10.9999/synthetic.shared"
    for name in ("alpha-2013", "zeta-2021"):
        _write_normalised(root, studies[name])
    alpha = dict(studies["alpha-2013"], study_id="alpha-2012", label="Synthetic Alpha 2012")
    gamma = dict(studies["gamma-2016"], study_id="gamma-2015", label="SYNTHETIC Gamma 2015")
    assert not {"doi", "pmid"} & set(gamma["citation"])  # no identifier at all
    earlier = [s for k, s in studies.items() if k not in ("alpha-2013", "gamma-2016", "zeta-2021")]
    pooled = _pooled(root, "complete_remission/primary")
    html, _ = build(
        root, "out", previous=_previous_archive(tmp_path, pooled, earlier + [alpha, gamma])
    )
    bullets = changes_bullets(html)
    added = ", ".join(studies[s]["label"] for s in ("alpha-2013", "gamma-2016", "zeta-2021"))
    assert f"Studies added: {added}" in bullets
    assert "Studies removed: Synthetic Alpha 2012, SYNTHETIC Gamma 2015" in bullets
    assert not any(b.startswith("Studies renamed") for b in bullets)


def test_a_changed_study_says_which_counts_changed(tmp_path):
    """A changed study gives each outcome's events/denominator and its patients before and now
    where they differ, else the other fields that changed: not only "study file changed"."""
    root = copy_inputs(tmp_path)
    studies = _normalised(root)
    earlier = {k: json.loads(json.dumps(s)) for k, s in studies.items()}
    beta = earlier["beta-2013"]  # its study file corrected: one more patient, one fewer event
    beta.update(source_sha256="f" * 64, n_patients=beta["n_patients"] + 1)
    outcome = next(o for o in beta["outcomes"] if o["outcome"] == "complete_remission")
    current = next(
        o for o in studies["beta-2013"]["outcomes"] if o["outcome"] == outcome["outcome"]
    )
    outcome["events"] -= 1
    epsilon = earlier["epsilon-2017"]  # an outcome it did not report before
    epsilon.update(source_sha256="e" * 64)
    epsilon["outcomes"] = [o for o in epsilon["outcomes"] if o["outcome"] != "complete_remission"]
    eps_now = next(
        o for o in studies["epsilon-2017"]["outcomes"] if o["outcome"] == "complete_remission"
    )
    earlier["delta-2017"]["flags"] = [{"field": "design", "reason": "SYNTHETIC flag"}]
    pooled = _pooled(root, "complete_remission/primary")
    html, _ = build(
        root, "out", previous=_previous_archive(tmp_path, pooled, list(earlier.values()))
    )
    remission = _label(root, "complete_remission")
    assert (
        "Studies changed: "
        f"Synthetic Beta 2013 (study file changed: {remission} "
        f"{numbers.events_over_n(outcome['events'], outcome['n'])} → "
        f"{numbers.events_over_n(current['events'], current['n'])}, patients "
        f"{beta['n_patients']} → {studies['beta-2013']['n_patients']}); "
        f"Synthetic Epsilon 2017 (study file changed: {remission} not reported → "
        f"{numbers.events_over_n(eps_now['events'], eps_now['n'])}); "
        "Synthetic Delta 2017 (study file unchanged; its normalised record differs through a "
        "setting or the software: only flags changed)"
    ) in changes_bullets(html)


def test_scenarios_and_outcomes_no_longer_analysed_are_listed(tmp_path):
    """A scenario, or a whole outcome, of the previous version that this version does not
    analyse keeps its row, with the previous result, saying it is not analysed now."""
    root = copy_inputs(tmp_path)
    pooled = _pooled(root, "complete_remission/primary", "any_response/primary")
    dropped = dict(pooled["complete_remission/primary"], scenario="old_subset", k=2)
    dropped.update(scenario_label="SYNTHETIC old subset", estimate=0.3, ci_low=0.1, ci_high=0.6)
    gone = dict(pooled["any_response/primary"], outcome="mortality", k=3)
    gone.update(outcome_label="SYNTHETIC mortality", estimate=0.25, ci_low=0.05, ci_high=0.7)
    pooled.update({"complete_remission/old_subset": dropped, "mortality/primary": gone})
    studies = list(_normalised(root).values())
    html, _ = build(root, "out", previous=_previous_archive(tmp_path, pooled, studies))
    header, rows = changes_table(html)
    assert header == ["Outcome", "Scenario", "Version 0.0.1", "This version"]
    config = yaml.safe_load((root / "config.yaml").read_text())
    primary = config["scenarios"]["primary"]["label"]
    assert rows[-2:] == [
        [
            config["outcomes"]["complete_remission"]["label"],
            "SYNTHETIC old subset",
            _k_estimate(dropped),
            "not analysed in this version",
        ],
        ["SYNTHETIC mortality", primary, _k_estimate(gone), "not analysed in this version"],
    ]
    assert len(rows) == len(config["outcomes"]) * len(config["scenarios"]) + 2
    earlier = _check_numbers_of_the_changes(root, html, pooled)
    assert f"{PREVIOUS_SOURCE}:pool/mortality/primary.json#/estimate" in earlier


def test_the_previous_versions_own_headline_is_shown_when_the_primary_method_changed(tmp_path):
    """Readers of version 0.0.1 saw (and may have cited) its Bayesian estimates: when this
    version's primary method differs, a column gives them, as published, beside the same-method
    comparison; every number is traced to the archive it came from."""
    root = copy_inputs(tmp_path)
    bayes = "Bayesian binomial-normal (SYNTHETIC)"
    pooled = _pooled(root, "complete_remission/primary", "any_response/primary")
    for doc in pooled.values():
        doc.update(estimate=0.111111, ci_low=0.05, ci_high=0.3, k=2, method_label=bayes)
        doc["primary_selection"] = {"rule": "coverage", "method": "bayes", "reason": "SYNTHETIC"}
    studies = list(_normalised(root).values())
    html, _ = build(root, "out", previous=_previous_archive(tmp_path, pooled, studies))
    header, rows = changes_table(html)
    assert header == [
        "Outcome",
        "Scenario",
        f"Version 0.0.1 as published, by {bayes}",
        "Version 0.0.1",
        "This version",
    ]
    config = yaml.safe_load((root / "config.yaml").read_text())
    for outcome in OUTCOMES:
        row = next(
            r
            for r in rows
            if r[:2]
            == [config["outcomes"][outcome]["label"], config["scenarios"]["primary"]["label"]]
        )
        assert row[2] == _k_estimate(pooled[f"{outcome}/primary"])
        assert row[3] == "not computed in version 0.0.1"  # never the Bayesian number
    earlier = _check_numbers_of_the_changes(root, html, pooled)
    assert f"{PREVIOUS_SOURCE}:pool/any_response/primary.json#/estimate" in earlier


def test_the_first_screen_sets_the_question_and_the_answers_apart(built):
    """The style sheet's .question and .answer make the answer stand out from the harms and the
    figure; the renderer gave them to no paragraph."""
    _, html, md = built
    first = html[
        html.index('id="at-a-glance"') : html.index("<figure", html.index('id="at-a-glance"'))
    ]
    assert first.count('<p class="question">Question: ') == 1
    assert first.count('<p class="answer">') == len(OUTCOMES)
    assert "class=" not in md


def test_the_first_screen_figures_text_alternative_names_the_new_study_bar(built):
    root, html, _ = built
    result = json.loads((root / "results/pool/complete_remission/primary.json").read_text())
    figure = html[html.index('id="figure-summary_forest"') :]
    label = figure[
        figure.index('aria-label="') : figure.index('"', figure.index('aria-label="') + 12)
    ]
    has_pi = result.get("pi_low") is not None and result.get("pi_high") is not None
    assert ("where a new study" in label) == has_pi


def test_a_reference_without_a_year_ends_with_one_full_stop():
    from stsmeta.report.citations import full_citation
    from stsmeta.report.document import plain

    study = {"citation": {"authors": ["Unknown"], "title": "A case (SYNTHETIC)", "journal": "J"}}
    assert plain(full_citation(study, "x")) == "Unknown. A case (SYNTHETIC). J n.d."
    study["citation"].update(year=2020, volume="3", pages="1-2")
    assert plain(full_citation(study, "x")) == "Unknown. A case (SYNTHETIC). J 2020;3:1-2."


def test_the_abstract_limitations_name_the_review_s_largest_gaps(built):
    # A statistical review found the abstract's limitations silent on what the discussion says:
    # study reports not read in full (none of the fixture's is).
    root, _, md = built
    line = next(s for s in md.splitlines() if s.startswith("Limitations: "))
    studies = len(list((root / "results" / "normalised").glob("*.json")))
    assert line.endswith(
        f"In the review itself, the full text of {studies} of {studies} study reports was not read."
    )


def test_a_secondary_glmm_shows_its_profile_interval_beside_its_wald_one(tmp_path):
    # A statistical review found the GLMM's Wald interval (0.119 to 0.998) quoted while its
    # profile-likelihood interval sat unshown in the JSON once the GLMM became secondary.
    root = copy_inputs(tmp_path)
    path = root / "results/pool/complete_remission/primary.json"
    doc = json.loads(path.read_text())
    glmm = {k: doc[k] for k in doc if k not in ("secondary", "subgroups", "leave_one_out")}
    glmm.update(profile_ci_low=0.519, profile_ci_high=0.9999, lrt_stat=0.38, lrt_p=0.269)
    glmm["lrt_test"] = "tau2 = 0, likelihood ratio, 50:50 mixture of chi2(0) and chi2(1)"
    doc["secondary"]["configured_primary"] = glmm
    path.write_text(json.dumps(doc))
    html, md = build(root)
    assert (
        "Profile-likelihood 95% CI of " in md and "(the table gives its Wald-type interval)" in md
    )
    assert "Likelihood-ratio test of τ² = 0 (likelihood ratio, 50:50 mixture" in md
    parser = Numbers()
    parser.feed(html)
    src = "complete_remission/primary.json#/secondary/configured_primary"
    shown = {s: text for s, _, text in parser.found}
    assert shown[f"{src}/profile_ci_low"] == "0.519"
    assert shown[f"{src}/profile_ci_high"] == "1.000"
    assert shown[f"{src}/lrt_p"] == numbers.p_value(0.269)


def test_each_method_cites_the_papers_of_what_it_prints():
    # A statistical review listed uncited methods: I2, the Q-profile interval of tau2, the
    # GLMM's adaptive quadrature, the Clopper-Pearson study intervals, the simulation's MC SEs.
    from stsmeta.report.references import REFERENCES, cite, references_for

    glmm = cite(references_for({"method": "glmm", "pi": "t-k1", "study_ci": "cp"}))
    assert "Liu & Pierce 1994" in glmm and "Higgins & Thompson 2002" in glmm
    assert "Clopper & Pearson 1934" in glmm
    ivre = cite(references_for({"method": "ivre", "transform": "logit", "tau2": "REML"}))
    assert "Viechtbauer 2007" in ivre and "Viechtbauer 2005" in ivre
    common = cite(references_for({"method": "common", "study_ci": "cp"}))
    assert "Higgins & Thompson 2002" not in common  # no I2 for a common effect
    for key in ("higgins2002", "viechtbauer2007", "liu1994", "morris2019"):
        assert key in REFERENCES


def test_the_coverage_section_cites_the_simulation_guidance(built):
    _, _, md = built
    assert "Monte Carlo SEs (Morris, White & Crowther 2019)" in md
    assert "Morris TP, White IR, Crowther MJ. Using simulation studies" in md
