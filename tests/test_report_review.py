"""The report's review parts: Summary of Findings, certainty file, harms, PRISMA flow, references.

Built from the SYNTHETIC fixtures (tests/fixtures/pooled) with their synthetic screening records
and certainty judgements. Numbers are traced: every number of the Summary of Findings names the
pooled JSON value it shows; harms and flow counts are recomputed here from the study files and
the screening records, independently of the report's code.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from figure_helpers import tiny_svg

from stsmeta.cli import main
from stsmeta.errors import InputError
from stsmeta.outputs import figure_stems
from stsmeta.presentation import numbers
from stsmeta.report import write_report

FIXTURES = Path(__file__).parent / "fixtures" / "pooled"
OUTCOMES = ["complete_remission", "any_response"]


def copy_inputs(root: Path) -> Path:
    shutil.copytree(FIXTURES / "results", root / "results")
    for name in ("config.yaml", "screening.yaml", "certainty.yaml"):
        shutil.copy(FIXTURES / name, root / name)
    figures = root / "results" / "figures"
    figures.mkdir(exist_ok=True)
    for i, stem in enumerate(figure_stems(OUTCOMES)):
        (figures / f"{stem}.svg").write_bytes(tiny_svg(i))
    # Harms in both forms of the study files: the newer `harms` block and the older lists.
    alpha = root / "results/normalised/alpha-2013.json"
    study = json.loads(alpha.read_text())
    study["citation"] = {
        "authors": ["Alpha A", "Beta B"],
        "year": 2013,
        "title": "SYNTHETIC title",
        "journal": "Synth J",
        "volume": "1",
        "issue": "2",
        "pages": "3-4",
        "doi": "10.1000/synthetic.1",
        "pmid": "12345678",
    }
    study["harms"] = {
        "adverse_events": {
            "status": "reported",
            "events": [
                {
                    "event": "SYNTHETIC burning",
                    "patients": 2,
                    "serious": False,
                    "attributed_by_authors": True,
                },
            ],
        },
        "deaths": {"status": "none_occurred", "events": []},
    }
    alpha.write_text(json.dumps(study))
    gamma = root / "results/normalised/gamma-2016.json"
    study = json.loads(gamma.read_text())
    study["adverse_events"] = []
    study["deaths"] = [{"patients": 1, "cause": "SYNTHETIC cause", "related": "no"}]
    gamma.write_text(json.dumps(study))
    return root


def build(root: Path, **extra) -> str:
    options = {"screening": "screening.yaml", "certainty": "certainty.yaml", **extra}
    with contextlib.chdir(root):
        html, _ = write_report(
            config="config.yaml",
            pool_dir="results/pool",
            normalised=sorted(Path("results/normalised").glob("*.json")),
            tables_dir="results/tables",
            figures_dir="results/figures",
            html="results/report.html",
            md="results/report.md",
            **options,
        )
        return html.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = copy_inputs(tmp_path_factory.mktemp("review"))
    return root, build(root)


def section(html: str, anchor: str) -> str:
    start = html.index(f' id="{anchor}">')
    end = html.find("<h2 ", start + 1)
    return html[start : end if end > 0 else None]


class Nums(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "span" and attrs.get("class") == "num":
            self._open = [attrs["data-src"], attrs["data-format"], ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.found.append(tuple(self._open))
            self._open = None


def resolve(root: Path, src: str):
    file, pointer = src.split("#", 1)
    value = json.loads((root / "results/pool" / file).read_text())
    for token in pointer.split("/")[1:]:
        value = value[int(token)] if isinstance(value, list) else value[token]
    return value


def test_percentages_and_natural_frequencies_for_readers():
    assert numbers.percent(0.884) == "88%"
    assert numbers.percent(0.996) == ">99%" and numbers.percent(1.0) == "100%"
    assert numbers.percent(0.004) == "<1%" and numbers.percent(0.0) == "0%"
    assert numbers.percent(0.125) == "13%"  # half up, not to even
    assert numbers.percent(None) == numbers.NOT_ESTIMABLE
    assert numbers.in_ten(0.884) == "9" and numbers.in_ten(0.05) == "1"
    assert numbers.in_ten(0.04) == "0" and numbers.in_ten(None) == numbers.MISSING


def test_summary_of_findings_numbers_trace_to_the_pooled_json(built):
    root, html = built
    sof = section(html, "summary-of-findings")
    parser = Nums()
    parser.feed(sof)
    assert parser.found
    for src, fmt, text in parser.found:
        assert text == getattr(numbers, fmt)(resolve(root, src)), src
    shown = {(src, fmt) for src, fmt, _ in parser.found}
    for outcome in OUTCOMES:
        result = json.loads((root / "results/pool" / outcome / "primary.json").read_text())
        src = f"{outcome}/primary.json#"
        assert (f"{src}/k", "count") in shown and (f"{src}/n", "count") in shown
        if result["estimate"] is not None:
            for key in ("estimate", "ci_low", "ci_high"):
                assert (f"{src}/{key}", "percent") in shown
                assert (f"{src}/{key}", "in_ten") in shown
    # The judgement is the certainty file's, with the reason of each downgrade.
    assert "Very low" in sof and "SYNTHETIC risk of bias" in sof
    # An outcome without a judgement says so.
    assert "Not assessed (no certainty judgement recorded)" in sof


def test_first_screen_answers_in_plain_words(built):
    root, html = built
    first = section(html, "at-a-glance")
    result = json.loads((root / "results/pool/complete_remission/primary.json").read_text())
    assert "about <span" in first and "in 10" in first
    assert numbers.percent(result["estimate"]) in first
    assert "very low</a> certainty. SYNTHETIC main reason." in first
    for jargon in ("GLMM", "τ²", "I²", "CI ", "heterogeneity"):
        text = re.sub(r"<svg.*?</svg>", "", first, flags=re.S)
        assert jargon not in text, jargon
    assert 'id="figure-summary_forest"' in first


def test_harms_table_and_line_count_what_the_study_files_say(built):
    root, html = built
    harms = section(html, "harms")
    studies = [json.loads(p.read_text()) for p in (root / "results/normalised").glob("*.json")]
    reported = sum(
        1
        for s in studies
        if (s.get("harms") or {}).get("adverse_events", {}).get("status") == "reported"
        or s.get("adverse_events")
    )
    deaths = sum(
        d.get("patients") or d.get("count") or 1
        for s in studies
        for d in (s.get("deaths") or (s.get("harms") or {}).get("deaths", {}).get("events") or [])
    )
    line = f"Harms: {reported} of {len(studies)} studies reported side effects"
    assert line in harms and line in section(html, "at-a-glance")
    assert f"{deaths} death recorded, none attributed to the treatment" in harms
    assert "Reported: SYNTHETIC burning (2 patients; not serious; attributed" in harms
    assert "None occurred" in harms  # alpha's deaths: the study says none
    assert "Reported: SYNTHETIC cause (1 patient; serious; not attributed" in harms
    assert harms.count("<tr>") == len(studies) + 1


def test_flow_counts_add_up_and_match_the_records(built):
    root, html = built
    records = yaml.safe_load((root / "screening.yaml").read_text())["records"]
    identified = sum(len(r["identified_via"]) for r in records)
    decisions = Counter(r["decision"] for r in records)
    expected = {
        "Records identified (counted once per source)": identified,
        "Duplicate records removed": identified - len(records),
        "Records screened": len(records),
        "Records excluded at screening": decisions["excluded_at_screening"],
        "Reports sought for retrieval": len(records) - decisions["excluded_at_screening"],
        "Reports assessed for eligibility": len(records) - decisions["excluded_at_screening"],
        "Reports excluded after assessment": decisions["excluded_after_assessment"],
        "Reports awaiting classification": decisions["awaiting_classification"],
        "Reports of ongoing studies": decisions["ongoing"],
        "Reports of included studies": decisions["included"],
        "Studies included in the review (screening records)": len(
            {r["study_id"] for r in records if r["decision"] == "included"}
        ),
    }
    flow = section(html, "study-selection")
    for label, count in expected.items():
        assert f'<th scope="row">{label}</th><td>{count}</td>' in flow, label
    assert (
        expected["Reports assessed for eligibility"]
        - expected["Reports excluded after assessment"]
        - expected["Reports awaiting classification"]
        - expected["Reports of ongoing studies"]
        == expected["Reports of included studies"]
    )
    assert "Check of the screening records" not in flow  # nothing unmatched
    # What the assessed reports were read as, beside "not retrieved" (a review read "0 not
    # retrieved" as every report read): the rows add up to the reports assessed.
    assessed = [r for r in records if r["decision"] != "excluded_at_screening"]
    read_as = Counter(r["assessed_on"] for r in assessed)
    from stsmeta.presentation.screening import ASSESSED_ON_WORDS

    for kind, words in ASSESSED_ON_WORDS.items():
        row = f'<th scope="row">– read as: {words}</th><td>{read_as.get(kind, 0)}</td>'
        assert row in flow, kind
    assert sum(read_as.values()) == expected["Reports assessed for eligibility"]


def test_flow_figure_shows_the_same_counts(inputs):
    from stsmeta.figures import flow_figure

    plan, pooled, studies = inputs
    screening = yaml.safe_load((FIXTURES / "screening.yaml").read_text())
    texts = "\n".join(flow_figure(plan, pooled, studies, screening).texts)
    assert "Records identified (n = 15)" in texts and "Records screened (n = 13)" in texts
    assert "Studies included in review (n = 7)" in texts
    k = len(pooled["complete_remission"]["primary"]["included"])
    assert f"Complete remission: {k} studies" in texts
    unrecorded = "\n".join(flow_figure(plan, pooled, studies, None).texts)
    assert "not recorded" in unrecorded and "(n = 0)" not in unrecorded


def test_studies_are_cited_in_full_and_linked(built):
    _, html = built
    refs = section(html, "study-references")
    assert (
        '<li id="study-alpha-2013">Alpha A, Beta B. SYNTHETIC title. Synth J 2013;1(2):3-4.' in refs
    )
    assert '<a href="https://doi.org/10.1000/synthetic.1">' in refs
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/12345678/">' in refs
    for record in ("r11", "r12", "r13"):
        assert f'<li id="record-{record}">' in refs
    # Every study link of a table row lands on a reference.
    targets = set(re.findall(r'href="#(study-[^"]+)"', html))
    assert targets and all(f'id="{t}"' in html for t in targets)
    characteristics = section(html, "included-studies")
    assert characteristics.count('href="#study-') >= 7


def test_prisma_checklist_points_to_sections_that_exist(built):
    _, html = built
    checklist = section(html, "prisma-checklist")
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>", checklist)
    assert len(rows) == 32 and rows[0] == "1" and rows[-1] == "27"
    for anchor in re.findall(r'href="#([^"]+)"', checklist):
        assert f'id="{anchor}"' in html, anchor
    assert "Not done: fewer than 10 studies per synthesis" in checklist


def test_reporting_bias_says_no_test_exists_when_an_outcome_has_enough_studies(tmp_path):
    # A config audit: with the threshold at 2 the report said "6 studies, fewer than the 2 such
    # tests need". The pipeline has no small-study test: that is then the reason.
    root = copy_inputs(tmp_path)
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    config.setdefault("review", {}).setdefault("certainty_rules", {})
    config["review"]["certainty_rules"]["small_study_tests_min_k"] = 2
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    html = build(root)
    methods = section(html, "reporting-bias-methods")
    assert "fewer than the 2" not in methods
    assert "but this pipeline has no such test" in methods
    checklist = section(html, "prisma-checklist")
    assert "Not done: no such test in this pipeline" in checklist
    assert "fewer than 10 studies" not in checklist


def test_analyses_the_plan_turns_off_are_said_to_be_off_not_shown_empty(tmp_path):
    # A config audit: with cumulative_by_year and leave_one_out off and no subgroups, the report
    # still embedded the cumulative figure (axes only), captioned each study left out, and kept
    # an empty Subgroups heading.
    root = copy_inputs(tmp_path)
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    config.update(cumulative_by_year=False, leave_one_out=False, subgroups={})
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    html = build(root)
    sensitivity = section(html, "sensitivity")
    assert "cumulative_" not in sensitivity and "each study left out" not in sensitivity
    assert "Not run, as the plan sets (config.yaml): leave-one-out; cumulative analysis" in (
        sensitivity
    )
    assert "No subgroups: the plan names none" in section(html, "subgroups")


def test_without_review_files_the_report_says_what_is_missing(tmp_path):
    root = copy_inputs(tmp_path)
    html = build(root, screening=None, certainty=None)
    assert "No screening records were given" in html
    assert "No certainty file was given" in html
    assert "Information sources: not recorded" in html


def certainty_problem(tmp_path: Path, change) -> str:
    root = copy_inputs(tmp_path)
    doc = yaml.safe_load((root / "certainty.yaml").read_text())
    change(doc)
    (root / "certainty.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as raised:
        build(root)
    return "\n".join(str(p) for p in raised.value.problems)


def test_certainty_that_does_not_follow_from_the_downgrades_is_refused(tmp_path):
    def raise_it(doc):
        doc["outcomes"]["complete_remission"]["certainty"] = "moderate"

    text = certainty_problem(tmp_path, raise_it)
    assert "certainty.yaml" in text and "outcomes.complete_remission.certainty" in text
    assert "does not follow" in text and "'very_low'" in text


def test_certainty_file_errors_name_the_field(tmp_path):
    def bad_rating(doc):
        doc["outcomes"]["complete_remission"]["domains"]["imprecision"]["rating"] = "huge"

    assert "domains.imprecision.rating" in certainty_problem(tmp_path / "a", bad_rating)

    def unknown_outcome(doc):
        doc["outcomes"]["mortality"] = copy.deepcopy(doc["outcomes"]["complete_remission"])

    assert "outcomes.mortality: no such outcome" in certainty_problem(
        tmp_path / "b", unknown_outcome
    )


def test_a_bad_certainty_file_is_a_clear_error_without_traceback(tmp_path, capsys):
    root = copy_inputs(tmp_path)
    (root / "certainty.yaml").write_text("schema_version: 1\noutcomes: {complete_remission: 3}\n")
    with contextlib.chdir(root):
        code = main(
            [
                "report",
                "--config",
                "config.yaml",
                "--pool-dir",
                "results/pool",
                "--studies",
                *map(str, sorted(Path("results/normalised").glob("*.json"))),
                "--tables",
                "results/tables",
                "--figures-dir",
                "results/figures",
                "--certainty",
                "certainty.yaml",
                "--html",
                "out.html",
                "--md",
                "out.md",
            ]
        )
    err = capsys.readouterr().err
    assert code == 2 and "certainty.yaml" in err and "Traceback" not in err


def test_figure_links_may_only_point_at_references():
    from stsmeta.report.inline_svg import inline_svg

    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<a xlink:href="#study-alpha-2013" target="_blank"><text>Alpha</text></a>'
        b'<a xlink:href="https://example.org/x"><text>Out</text></a>'
        b'<a xlink:href="javascript:alert(1)" onclick="x()"><text>Bad</text></a></svg>'
    )
    out = inline_svg(svg, "f-", "a figure")
    assert 'xlink:href="#study-alpha-2013"' in out and "_blank" not in out
    assert "example.org" not in out and "javascript" not in out and "onclick" not in out
    assert out.count("<a") == 3 and out.count("href") == 1


def test_a_judgement_made_on_other_data_is_flagged(tmp_path):
    root = copy_inputs(tmp_path)
    doc = yaml.safe_load((root / "certainty.yaml").read_text())
    doc["outcomes"]["complete_remission"]["judged_on"] = "f" * 64
    (root / "certainty.yaml").write_text(yaml.safe_dump(doc))
    html = build(root)
    stale = "judged on an earlier version of the study files or of the analysis plan"
    assert stale in section(html, "summary-of-findings")
    assert stale in section(html, "at-a-glance")
    assert stale in section(html, "abstract")  # an abstract quoted alone says it too
    # Judged on these results (the fixture's SYNTHETIC checksum): nothing is marked.
    pooled = root / "results/pool/complete_remission/primary.json"
    result = json.loads(pooled.read_text())
    result["judged_sha256"] = "e" * 64
    pooled.write_text(json.dumps(result))
    doc["outcomes"]["complete_remission"]["judged_on"] = "e" * 64
    (root / "certainty.yaml").write_text(yaml.safe_dump(doc))
    assert stale not in build(root)


@pytest.mark.workflow
def test_snakemake_report_may_not_overwrite_ours():
    import subprocess
    import sys

    repo = Path(__file__).parents[1]
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--report", "results/report.html", "-n"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    assert "snakemake --report results/snakemake-report.zip" in run.stdout + run.stderr


def test_first_screen_forest_plot_speaks_in_percent_without_jargon(inputs):
    from stsmeta.figures import summary_figure
    from stsmeta.figures.glyphs import GlyphText

    plan, pooled, studies = inputs
    plot = summary_figure(plan, pooled, studies)
    result = pooled[plan.outcomes[0]]["primary"]
    assert len(plot.rows_of("study")) == len(result["studies"])
    [pooled_row] = plot.rows_of("pooled")
    assert pooled_row.row.cells["events"] == f"{result['events']} of {result['n']}"
    assert pooled_row.row.cells["estimate"].startswith(numbers.percent(result["estimate"]))
    [glyphs] = [a for a in plot.figure.artists if isinstance(a, GlyphText)]
    text = " ".join(glyphs.get_texts())
    for jargon in ("GLMM", "τ", "I²", "Clopper", "CI", "heterogeneity", "estimate of mu"):
        assert jargon not in text, jargon


def _text(parts) -> str:
    return "".join(p if isinstance(p, str) else getattr(p, "text", "") for p in parts)


def test_harms_line_counts_unread_studies_apart_and_names_intralesional_events_first():
    """A study whose harms were not read says nothing about harms: it is not counted as silent.
    Events with intralesional STS come before those with intravenous STS, and an event whose
    seriousness is not stated is not summed up as 'none described as serious'."""
    from types import SimpleNamespace

    from stsmeta.report.first_screen import harms_line

    def study(status, events=()):
        return {
            "harms": {
                "adverse_events": {"status": status, "events": list(events)},
                "deaths": {"status": "not_reported", "events": []},
            }
        }

    studies = {
        "a": study("reported", [{"event": "Zeta effect", "serious": None, "systemic_sts": True}]),
        "b": study("reported", [{"event": "Alpha pain", "serious": False}]),
        "c": study("not_extracted"),
        "d": study("not_reported"),
        "e": study("not_reported"),
    }
    text = _text(harms_line(SimpleNamespace(studies=studies)))
    assert "2 of 5 studies reported side effects" in text
    local = text.index("With intralesional STS: alpha pain")
    assert local < text.index("With intravenous STS given at the same time (1 study): zeta effect")
    assert "Seriousness was not stated for some" in text
    assert "none described as serious" not in text.lower()
    assert "No study said there were none; 2 did not report on side effects" in text
    assert "in 1 the part of the study that reports harms was not read" in text


def test_a_scenarios_own_notes_reach_its_row(tmp_path):
    """What a scenario's dataset is (e.g. counts that mix lesions and patients) is printed in
    the scenario's row, not only kept in the pooled JSON."""
    root = copy_inputs(tmp_path)
    path = root / "results/pool/complete_remission/baumgartner_per_lesion.json"
    doc = json.loads(path.read_text())
    doc["scenario_notes"] = ["SYNTHETIC counts mix units"]
    path.write_text(json.dumps(doc))
    html = build(root)
    notes = section(html, "notes")
    number = re.search(r'id="note-(\d+)">SYNTHETIC counts mix units', notes)
    assert number, notes[:2000]
    assert f'href="#note-{number.group(1)}"' in section(html, "sensitivity")


def test_counts_agree_with_their_nouns():
    from stsmeta.presentation.wording import noun, plural, unit_noun

    assert plural(1, "study", "studies") == "1 study"
    assert plural(2, "study", "studies") == "2 studies"
    assert noun(0, "event") == "events"
    assert unit_noun(1, "patients or lesions") == "patient or lesion"
    assert unit_noun(3, "patients") == "patients"


def test_a_level_the_subgroup_test_leaves_out_is_named(tmp_path):
    """The degrees of freedom must add up for a reader: a level shown in the table but not in
    the test (e.g. 'not reported') is named under the table."""
    root = copy_inputs(tmp_path)
    path = root / "results/pool/complete_remission/primary.json"
    doc = json.loads(path.read_text())
    variable = "disease"
    shown = sorted(doc["subgroups"][variable])
    assert len(shown) >= 3, shown
    doc.setdefault("subgroup_differences", {})[variable] = {
        "statistic": 1.5,
        "df": len(shown) - 2,
        "p": 0.47,
        "levels": shown[1:],
        "test": "SYNTHETIC test",
    }
    path.write_text(json.dumps(doc))
    html = build(root)
    assert f"The test compares {len(shown) - 1} of the {len(shown)} levels in the table" in html


def test_rationale_other_reviews_hand_search_and_undeclared_items(tmp_path):
    """PRISMA 2020 items 3, 23a and 25-26 and the limits of the search, each from its record."""
    root = copy_inputs(tmp_path)
    config = yaml.safe_load((root / "config.yaml").read_text())
    config.setdefault("question", {})["rationale"] = "SYNTHETIC rationale."
    config.setdefault("review", {})["other_reviews"] = "SYNTHETIC other reviews."
    config["review"]["funding"] = "Not yet declared by the review's authors."
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    screening = yaml.safe_load((root / "screening.yaml").read_text())
    words = screening.setdefault("reasons", {})
    for record in screening["records"]:
        if record.get("reason"):
            words.setdefault(record["reason"], f"SYNTHETIC {record['reason']}")
    words["review"] = "Review; its reference list was not hand-searched"
    (root / "screening.yaml").write_text(yaml.safe_dump(screening, sort_keys=False))
    html = build(root)
    assert "Rationale: SYNTHETIC rationale." in section(html, "question")
    assert "SYNTHETIC other reviews." in section(html, "discussion")
    assert "1 review found by the search" in section(html, "discussion")
    checklist = section(html, "prisma-checklist")
    funding_row = checklist[checklist.index(">25<") :].split("</tr>")[0]
    assert "not yet declared" in funding_row


def test_a_structured_abstract_built_from_the_results(built):
    """PRISMA 2020 for Abstracts: each heading present, and the results are the pooled ones."""
    root, html = built
    abstract = section(html, "abstract")
    for heading in ("Background:", "Objectives:", "Methods:", "Results:", "Limitations:"):
        assert heading in abstract, heading
    assert "Interpretation:" in abstract and "Registration:" in abstract
    primary = json.loads((root / "results/pool/complete_remission/primary.json").read_text())
    shown = numbers.proportion(primary["estimate"])
    assert "Complete remission, proportion in a typical study: " in abstract
    assert shown in abstract
    assert 'href="#abstract"' in section(html, "prisma-checklist")


def test_other_outcomes_and_the_number_of_patients_are_shown(tmp_path):
    """A study in no synthesis is still reported with what it found (its other outcomes), and
    every study's number of patients is in the characteristics table."""
    root = copy_inputs(tmp_path)
    path = root / "results/normalised/gamma-2016.json"
    study = json.loads(path.read_text())
    study["other_outcomes"] = [
        {
            "outcome": "SYNTHETIC global score",
            "result": "SYNTHETIC mean fell 2.7 points",
            "timepoint": "week 3",
            "n": None,
            "source": "x",
            "locator": "p. 1",
            "note": "SYNTHETIC note",
        }
    ]
    path.write_text(json.dumps(study))
    html = build(root)
    included = section(html, "included-studies")
    assert "Other outcomes reported by the studies" in included
    assert "SYNTHETIC mean fell 2.7 points" in included and "not given" in included
    assert "<th>Patients</th>" in included or ">Patients<" in included
    assert f">{study['n_patients']}<" in included


def test_authors_given_as_citation_file_format_people_are_named_not_dumped(tmp_path):
    # The schema allows CFF persons and entities; the report printed the mapping's text.
    root = copy_inputs(tmp_path)
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    config["report"]["authors"] = [
        {
            "given-names": "Ann",
            "family-names": "Lee",
            "orcid": "https://orcid.org/0000-0002-1825-0097",
        },
        {"name": "SYNTHETIC Review Group"},
        "B. Plain",
    ]
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    html = build(root)
    assert "Authors: Ann Lee, SYNTHETIC Review Group, B. Plain." in html
    assert "given-names" not in html and "{&#x27;" not in html and "{'" not in html


def test_the_first_figure_caption_names_only_what_is_drawn(tmp_path):
    # A config audit: with a common-effect primary (no prediction interval) the caption still
    # promised a bar for a new study's true rate.
    root = copy_inputs(tmp_path)
    for path in (root / "results" / "pool").glob("*/primary.json"):
        doc = json.loads(path.read_text())
        doc["pi_low"] = doc["pi_high"] = None
        path.write_text(json.dumps(doc))
    glance = section(build(root), "at-a-glance")
    assert "all studies combined (diamond)" in glance
    assert "(bar)" not in glance and "as a bar" not in glance


@pytest.mark.parametrize("name", ["certainty.yaml", "screening.yaml"])
def test_a_review_file_with_a_yaml_syntax_error_is_named_with_its_line(tmp_path, name):
    # An outside audit: the message said "not valid UTF-8 YAML" for a UTF-8 file and printed
    # PyYAML's text with literal line breaks, with no fix.
    root = copy_inputs(tmp_path)
    path = root / name
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "  broken: [unclosed")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        build(root)
    (problem,) = caught.value.problems
    assert problem.file == name and problem.field.startswith("line ")
    assert "malformed YAML (column" in problem.message and "fix the syntax" in problem.message
    assert "\\n" not in problem.message and "UTF-8" not in problem.message


@pytest.mark.parametrize(("k", "rows"), [(1, "(1 study)"), (6, "(6 studies)")])
def test_first_screen_forest_alt_text_agrees_with_its_count(k, rows):
    # A scenario or review with one study read "one row per study (1 studies)".
    from dataclasses import replace

    from test_report_runner_up import make_data

    from stsmeta.report.document import Image
    from stsmeta.report.first_screen import first_screen_section

    data = make_data("absent")
    for outcome in data.pooled.values():
        outcome["primary"]["k"] = k
    data = replace(data, figures={"summary_forest": ("figures/summary_forest.svg", b"<svg/>")})
    (image,) = [b for b in first_screen_section(data) if isinstance(b, Image)]
    assert f"one row per study {rows} with the percentage" in image.alt


def test_one_study_is_one_study_in_the_limitations_and_the_certainty_proposal():
    # With one study in the primary analysis the report read "k = 1 studies with 1 patients"
    # and "1 studies: too few for tests of small-study effects".
    from test_report_runner_up import make_data

    from stsmeta.report.certainty import propose, rules_of
    from stsmeta.report.discussion import evidence_limitations
    from stsmeta.report.document import plain

    data = make_data("absent")
    primary = data.pooled["complete_remission"]["primary"]
    primary.update(k=1, n=1, events=1, studies=[{"events": 1, "n": 1}])
    primary["included_studies"] = [{"unit": "patients"}]
    size, extremes = (plain(c) for c in evidence_limitations(data)[:2])
    assert "rests on k = 1 study with 1 patient in all; the largest has n = 1." in size
    assert "1 of 1 study report 100%" in extremes
    proposal = propose(primary, rules_of(data.plan.config), "low")["publication_bias"]
    assert proposal.reason.startswith("1 study: too few for tests of small-study effects")
