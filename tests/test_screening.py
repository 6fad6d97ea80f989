"""Screening records: the PRISMA flow adds up, and every problem names file and field."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from stsmeta.cli import main
from stsmeta.evidence.model import study_to_json
from stsmeta.evidence.screening import computed_flow, screening_problems
from stsmeta.evidence.studyfile import discover, read_study

ROOT = Path(__file__).resolve().parent.parent
SCREENING = ROOT / "data" / "screening" / "screening.yaml"


@pytest.fixture(scope="module")
def studies():
    return {p.stem: bool(read_study(p).outcomes) for p in discover(ROOT / "data" / "raw")}


@pytest.fixture()
def data():
    return yaml.safe_load(SCREENING.read_text(encoding="utf-8"))


def _problems(tmp_path, data, studies):
    path = tmp_path / "screening.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return [(p.field, p.message) for p in screening_problems(path, studies)]


def test_shipped_records_are_valid_and_add_up(studies, data):
    assert screening_problems(SCREENING, studies) == []
    flow = computed_flow(data)
    identified = sum(flow["identified"].values())
    assert identified - flow["duplicates_removed"] == flow["screened"] == len(data["records"])
    assert flow["screened"] - flow["excluded_at_screening"] == flow["assessed"]
    after = sum(flow["excluded_after_assessment"].values())
    rest = flow["awaiting_classification"] + flow["ongoing"] + flow["included_reports"]
    assert flow["assessed"] == after + rest
    assert sum(flow["assessed_on"].values()) == flow["assessed"]
    assert flow["included_studies"] == len(studies)


def test_no_database_search_is_claimed(data):
    kinds = {s["kind"] for s in data["information_sources"]}
    assert "database" not in kinds
    for search in data["searches"]:
        assert search["string"] is None or search["source"] == "stored-pages-2026-11-30"


def test_a_wrong_count_is_named(tmp_path, data, studies):
    data["flow"]["screened"] += 1
    assert _problems(tmp_path, data, studies) == [
        (
            "flow.screened",
            f"declared {len(data['records']) + 1} but the records give {len(data['records'])};"
            " correct the number (or the records)",
        )
    ]


def test_records_must_match_the_study_files(tmp_path, data, studies):
    changed = copy.deepcopy(data)
    record = next(r for r in changed["records"] if r.get("study_id") == "smith-2013")
    record["decision"], record["reason"] = "excluded_after_assessment", "no_outcomes"
    fields = [f for f, _ in _problems(tmp_path, changed, studies)]
    assert "records" in fields
    unknown = copy.deepcopy(data)
    unknown["records"][0]["identified_via"] = ["pubmed"]
    problems = _problems(tmp_path, unknown, studies)
    assert problems[0][0] == "records[0] (r01).identified_via"
    assert "unknown source 'pubmed'" in problems[0][1]
    no_synthesis = copy.deepcopy(data)
    no_synthesis["flow"]["studies_in_no_synthesis"] = ["medresarch-cohort-nd"]
    assert [f for f, _ in _problems(tmp_path, no_synthesis, studies)] == [
        "flow.studies_in_no_synthesis"
    ]


def test_cli_writes_the_flow_and_fails_cleanly(tmp_path, capsys):
    normalised = []
    for path in discover(ROOT / "data" / "raw"):
        out = tmp_path / f"{path.stem}.json"
        out.write_text(study_to_json(read_study(path)), encoding="utf-8")
        normalised.append(str(out))
    flow, records = tmp_path / "flow.json", tmp_path / "screening.csv"
    args = [
        "screening",
        str(SCREENING),
        *normalised,
        "--flow",
        str(flow),
        "--records",
        str(records),
    ]
    assert main(args) == 0
    document = json.loads(flow.read_text(encoding="utf-8"))
    assert document["flow"]["included_studies"] == len(normalised)
    assert [r["id"] for r in document["ongoing"]] == ["r21", "r22"]
    assert records.read_text(encoding="utf-8").count("\n") == 1 + document["flow"]["screened"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nrecords: [\n", encoding="utf-8")
    assert main(["screening", str(bad), *normalised, "--flow", "f", "--records", "r"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: line") and "Traceback" not in err


def test_a_large_review_screening_thousands_of_references_is_accepted(tmp_path, studies, data):
    # The records grow with the review (one per reference screened): a file over the 1 MB limit
    # of a study file must still be read (10,000 synthetic studies stopped at rule screening).
    template = next(r for r in data["records"] if r["decision"] == "excluded_at_screening")
    extra = [
        {
            **copy.deepcopy(template),
            "id": f"synthetic-r{i:05d}",
            "reference": f"SYNTHETIC reference {i:05d} " * 4,
        }
        for i in range(8000)
    ]
    data["records"] = data["records"] + extra
    data["flow"] = {
        **computed_flow(data),
        **{"studies_in_no_synthesis": data["flow"]["studies_in_no_synthesis"]},
    }
    path = tmp_path / "screening.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert path.stat().st_size > 1_000_000
    assert screening_problems(path, studies) == []


def test_a_source_listed_twice_in_a_record_is_named_not_counted(tmp_path, data, studies):
    """A doubled identified_via would be counted twice and the flow check would advise changing
    the flow numbers: it is refused for what it is."""
    record = data["records"][0]
    record["identified_via"] = [record["identified_via"][0]] * 2
    problems = _problems(tmp_path, data, studies)
    assert problems == [
        (
            "records[0].identified_via",
            f"{record['identified_via'][0]!r} is listed more than once; list each only once",
        )
    ]


def test_a_series_its_authors_sent_is_a_kind_of_source_of_its_own(tmp_path, data, studies):
    """A clinician's own series has a kind that says so (guessing another recorded a false
    provenance), and the flow diagram names it."""
    from stsmeta.figures.prisma import prisma_flow_plot
    from stsmeta.presentation.screening import flow_counts

    data = copy.deepcopy(data)
    source = data["information_sources"][0]
    source["kind"] = "author_submission"
    assert _problems(tmp_path, data, studies) == []
    source["kind"] = "clinic_records"
    assert any(field.endswith("kind") for field, _ in _problems(tmp_path, data, studies))
    source["kind"] = "author_submission"
    figure = prisma_flow_plot(flow_counts(data), [("Complete remission", 6)], len(studies))
    assert any("Submitted by authors" in text for text in figure.texts)


def test_the_flow_diagram_says_how_the_reports_were_read_and_sets_apart_what_is_not_excluded(
    data, studies
):
    from collections import Counter

    from matplotlib.patches import FancyArrowPatch

    from stsmeta.figures.prisma import prisma_flow_plot
    from stsmeta.presentation.screening import flow_counts

    counts = flow_counts(data)
    figure = prisma_flow_plot(counts, [("Complete remission", 6)], len(studies))
    text = "\n".join(figure.texts)
    read = Counter(
        r["assessed_on"]
        for r in data["records"]
        if r["decision"] not in ("excluded_at_screening", "not_retrieved")
    )
    assert sum(read.values()) == counts.assessed
    assert f"– Full text: {read.get('full_text', 0)}" in text
    assert f"– Abstract only: {read.get('abstract', 0)}" in text
    assert "Neither excluded nor included:" in text
    assert f"– Ongoing studies: {counts.ongoing}" in text
    # Every box row has an arrow down into it and one out to the right, but the last: the
    # syntheses beside the included studies are no exit from the flow.
    arrows = [a for a in figure.figure.artists if isinstance(a, FancyArrowPatch)]
    rows = 5
    assert len(arrows) == (rows - 1) + (rows - 1)


def test_a_date_that_is_no_day_of_the_calendar_is_refused(tmp_path):
    """Quoted, 2026-11-31 has the YYYY-MM-DD shape; it is still no date (unquoted, YAML
    itself cannot read it: tests/corpus date-impossible)."""
    from stsmeta.evidence.screening import screening_problems

    text = SCREENING.read_text(encoding="utf-8")
    first = re.search(r'date_used: "(\d{4}-\d{2}-\d{2})"', text)
    assert first
    path = tmp_path / "screening.yaml"
    path.write_text(text.replace(first.group(0), 'date_used: "2026-11-31"', 1), encoding="utf-8")
    problems = screening_problems(path)
    assert [p.field for p in problems] == ["information_sources[0].date_used"], problems
    assert "'2026-11-31' is not a day of the calendar" in problems[0].message
