"""The evidence base: every file valid, every count in the tables traceable to its study file.

Expected counts are read from the study files themselves (events, or percent of n), not typed in
here, so that the test checks the pipeline's arithmetic and bookkeeping against the recorded data.
The checks run over every file in data/raw/ (the five seed studies and the later reports), so a
study added to the living review is checked without editing this file.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml

from stsmeta.evidence.model import study_to_dict
from stsmeta.evidence.studyfile import discover, read_study, validate_paths
from stsmeta.evidence.tables import build_tables
from stsmeta.pool.eligibility import build_dataset

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "data" / "raw"
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
SEED_IDS = {
    "strazzula-2013",
    "smith-2013",
    "baumgartner-nielsen-2016",
    "goossens-2017",
    "gunasekera-2017",
}
ALL_IDS = {p.stem for p in discover(RAW)}


@pytest.fixture(scope="module")
def studies():
    return [read_study(path, CONFIG) for path in discover(RAW)]


@pytest.fixture(scope="module")
def tables(studies):
    return {
        name: list(csv.DictReader(io.StringIO(text)))
        for name, text in build_tables(studies).items()
    }


def _raw(study_id: str) -> dict:
    return yaml.safe_load((RAW / f"{study_id}.yaml").read_text(encoding="utf-8"))


def test_seed_studies_present():
    assert {p.stem for p in discover(RAW)} >= SEED_IDS


def test_every_raw_file_is_valid():
    assert [str(p) for p in validate_paths(discover(RAW), CONFIG)] == []


def test_template_is_a_valid_study_file_once_its_placeholders_are_replaced(tmp_path):
    # The template keeps up with the schema: its only problems are its placeholder texts,
    # refused so that a copy left unfilled is never pooled.
    from stsmeta.evidence.sanity import TEMPLATE_PLACEHOLDERS

    template = ROOT / "templates" / "study-template.yaml"
    text = template.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    copy = tmp_path / f"{data['study_id']}.yaml"
    shutil.copy(template, copy)
    problems = [str(p) for p in validate_paths([copy], CONFIG)]
    assert problems and all("template's placeholder" in p for p in problems), problems
    for placeholder in TEMPLATE_PLACEHOLDERS:
        text = re.sub(re.escape(placeholder), "Filled in", text, flags=re.IGNORECASE)
    copy.write_text(text, encoding="utf-8")
    assert [str(p) for p in validate_paths([copy], CONFIG)] == []


def _expected(item: dict) -> tuple[int, int]:
    if "events" in item:
        return item["events"], item["n"]
    return round(item["percent"] * item["n"] / 100), item["n"]


def test_table_counts_trace_to_study_files(tables):
    rows = {(r["study_id"], r["outcome"]): r for r in tables["studies.csv"]}
    checked = 0
    for study_id in sorted(ALL_IDS):
        raw = _raw(study_id)
        for item in raw["outcomes"]:
            row = rows[(study_id, item["outcome"])]
            events, n = _expected(item)
            assert (int(row["events"]), int(row["n"])) == (events, n)
            assert row["unit"] == item["unit"]
            assert (row["source"], row["locator"]) == (item["source"], item["locator"])
            assert float(row["proportion"]) == pytest.approx(events / n)
            alts = {
                f"{a['id']}={_expected(a)[0]}/{a['n']} {a['unit']}"
                for a in item.get("alternatives", [])
            }
            assert set(filter(None, row["alternatives"].split("; "))) == alts
            checked += 1
        for item in raw.get("outcomes_not_reported", []):
            row = rows[(study_id, item["outcome"])]
            assert row["reported"] == "false" and row["events"] == "" and row["n"] == ""
    assert checked >= 9


def test_scenario_alternative_ids_exist(studies):
    # config.yaml scenarios refer to these ids; each must exist in the seed data.
    ids = {a.id for s in studies for o in s.outcomes for a in o.alternatives}
    wanted = {
        alt
        for scenario in CONFIG["scenarios"].values()
        for alt in scenario.get("use_alternatives", [])
    }
    assert wanted | {"with_systemic_sts"} <= ids
    literal = [s.study_id for s in studies if s.concentration.alternative("literal")]
    # Both printed "12.5mg/50mL" figures are kept as sensitivity readings (the source is
    # ambiguous about which report its "probably 12.5g/50ml" concerns).
    assert sorted(literal) == ["gunasekera-2017", "smith-2013"]
    low, high = CONFIG["plausible_concentration_mg_per_ml"]
    for study in studies:
        alternative = study.concentration.alternative("literal")
        if alternative:
            assert not low <= alternative.mg_per_ml <= high
            assert alternative.plausible is False


def test_systemic_sts_only_in_alternatives(studies):
    by_id = {s.study_id: s for s in studies}
    strazzula = by_id["strazzula-2013"]
    assert strazzula.systemic_sts is False
    assert "intravenous_sts" in strazzula.co_interventions
    for outcome in strazzula.outcomes:
        assert outcome.alternative("with_systemic_sts").systemic_sts is True
        assert outcome.alternative("with_systemic_sts").n == strazzula.n_patients


def test_goossens_complete_remission_not_counted(studies):
    goossens = next(s for s in studies if s.study_id == "goossens-2017")
    assert goossens.outcome("complete_remission") is None
    assert goossens.outcome("any_response") is not None


def test_every_fact_names_a_listed_source(studies):
    for study in studies:
        ids = {s["id"] for s in study.sources}
        facts = [o.source for o in study.outcomes] + [p.source for p in study.patients]
        assert set(facts) <= ids and all(o.locator for o in study.outcomes)


def test_flags_table_holds_every_flag(studies, tables):
    assert len(tables["flags.csv"]) == sum(len(s.flags) for s in studies)
    assert {r["study_id"] for r in tables["decisions.csv"]} == {
        s.study_id for s in studies if s.decisions
    }
    assert {r["study_id"] for r in tables["decisions.csv"]} >= SEED_IDS


def test_tables_are_deterministic(studies):
    first = build_tables(studies)
    second = build_tables(list(reversed(studies)))
    assert first == second
    assert all("\r" not in text for text in first.values())


def test_study_id_year_matches_citation(studies):
    # The id ends in the publication year, or in "nd" exactly when the sources give no year.
    for study in studies:
        suffix = study.study_id.rsplit("-", 1)[1]
        if study.year is None:
            assert suffix == "nd", study.study_id
        else:
            assert suffix.rstrip("abcdefghijklmnopqrstuvwxyz") == str(study.year), study.study_id


def test_every_study_accounts_for_every_outcome(studies):
    # The report can say for each outcome why a study is not in it: either counts, or a reason.
    for study in studies:
        given = [o.outcome for o in study.outcomes]
        given += [o.outcome for o in study.outcomes_not_reported]
        assert sorted(given) == sorted(CONFIG["outcomes"]), study.study_id


def test_systemic_outcomes_name_intravenous_sts(studies):
    for study in studies:
        readings = [o.systemic_sts for o in study.outcomes]
        readings += [a.systemic_sts for o in study.outcomes for a in o.alternatives]
        if any(readings):
            assert "intravenous_sts" in study.co_interventions, study.study_id


def _datasets(studies, scenario):
    docs = [study_to_dict(s) for s in studies]
    return {
        outcome: build_dataset(docs, CONFIG, outcome, scenario) for outcome in CONFIG["outcomes"]
    }


def test_primary_inclusion_follows_the_study_files(studies):
    # Expected membership from the files alone: an eligible route, counts for the outcome, and a
    # primary reading without systemic STS; every excluded study carries a reason for each failure.
    routes = set(CONFIG["eligibility"]["routes"])
    for outcome, dataset in _datasets(studies, "primary").items():
        included = {r.study_id for r in dataset.rows}
        excluded = {e.study_id: e for e in dataset.excluded}
        assert included | set(excluded) == ALL_IDS and not included & set(excluded)
        for study in studies:
            entry = study.outcome(outcome)
            expected = []
            if study.route not in routes:
                expected.append("route")
            if entry is None:
                expected.append("outcome_not_reported")
            if entry.systemic_sts if entry else study.systemic_sts:
                expected.append("systemic_sts")
            if not expected:
                assert study.study_id in included, (outcome, study.study_id)
            else:
                assert set(excluded[study.study_id].criteria) == set(expected)
                assert excluded[study.study_id].reason


def test_systemic_studies_return_in_their_scenario(studies):
    # A study left out of the primary analysis only for systemic STS comes back, with its primary
    # counts when those already include systemic STS.
    primary = _datasets(studies, "primary")
    scenario = _datasets(studies, "with_systemic_sts")
    by_id = {s.study_id: s for s in studies}
    for outcome in CONFIG["outcomes"]:
        rows = {r.study_id: r for r in scenario[outcome].rows}
        for exclusion in primary[outcome].excluded:
            if exclusion.criteria != ("systemic_sts",):
                continue
            entry = by_id[exclusion.study_id].outcome(outcome)
            row = rows[exclusion.study_id]
            assert row.systemic_sts is True
            if entry.systemic_sts:
                assert (row.reading, row.events, row.n) == ("primary", entry.events, entry.n)


def _by_id(studies):
    return {s.study_id: s for s in studies}


def test_baumgartner_nielsen_any_response_counts_the_death_as_a_non_event(studies):
    # The NSF patient died before week 12: no observed response (issue 14, correction 1).
    study = _by_id(studies)["baumgartner-nielsen-2016"]
    complete = study.outcome("complete_remission")
    response = study.outcome("any_response")
    assert (complete.events, complete.n) == (3, 6)
    assert (response.events, response.n) == (5, 6)
    assert {a.id: (a.events, a.n, a.unit) for a in response.alternatives} == {
        "evaluable_only": (5, 5, "patients")
    }
    assert [p.outcome for p in study.patients if p.disease == "nephrogenic_systemic_fibrosis"] == [
        "not_evaluable"
    ]
    deaths = study.harms["deaths"]
    assert deaths["status"] == "reported"
    assert [(e["count"], e["attributed_by_authors"]) for e in deaths["events"]] == [(1, False)]


def test_gunasekera_literal_reading_is_a_sensitivity_case(studies):
    # The audit's reading (grams) is inferred and cites no page of the letter: the grams reading
    # is primary and the printed figure stays as the `literal` alternative.
    study = _by_id(studies)["gunasekera-2017"]
    assert study.concentration.mg_per_ml == 250
    literal = study.concentration.alternative("literal")
    assert literal is not None and literal.plausible is False
    assert literal.mg_per_ml == 0.25
    decision = next(d for d in study.decisions if d.id == "gunasekera-concentration")
    assert [a["id"] for a in decision.alternatives] == ["literal"]


def test_calciphylaxis_reports_are_typed_and_list_co_interventions(studies):
    by_id = _by_id(studies)
    for sid in ("galassi-2019", "sanguankeo-2017", "nishiyama-2021", "strazzula-2013"):
        assert by_id[sid].calcinosis_types == ("calciphylaxis",), sid
        for outcome in by_id[sid].outcomes:
            assert outcome.condition == "ulcer_healing", sid
    assert set(by_id["sanguankeo-2017"].co_interventions) >= {
        "intravenous_sts",
        "supplemental_oxygen",
        "antibiotics",
        "surgical_debridement",
        "systemic_steroids",
    }
    assert "multifactorial_management" in by_id["galassi-2019"].co_interventions
    assert "infection_treatment" in by_id["wounds-calciphylaxis-nd"].co_interventions


def test_nishiyama_harms_and_dialysis_status(studies):
    study = _by_id(studies)["nishiyama-2021"]
    events = {e["event"]: e for e in study.harms["adverse_events"]["events"]}
    assert study.harms["adverse_events"]["status"] == "reported"
    consciousness = events["Disturbance of consciousness"]
    assert consciousness["patients"] == 2 and consciousness["attributed_by_authors"] is False
    assert all(e["systemic_sts"] for e in events.values())
    intralesional = [p for p in study.patients if p.in_outcomes]
    assert sorted(p.patient_id for p in intralesional) == ["case1", "case3"]
    assert {p.patient_id: p.disease for p in intralesional} == {
        "case1": "not_reported",
        "case3": "chronic_kidney_disease",
    }


def test_harms_status_matches_the_events(studies, tables):
    for study in studies:
        for kind in ("adverse_events", "deaths"):
            block = study.harms[kind]
            assert (block["status"] == "reported") == bool(block["events"]), (study.study_id, kind)
    rows = tables["harms.csv"]
    assert {(r["study_id"], r["kind"]) for r in rows} == {
        (s.study_id, k) for s in studies for k in ("adverse_event", "death")
    }
    statuses = {(r["study_id"], r["kind"]): r["status"] for r in rows}
    assert statuses[("strazzula-2013", "adverse_event")] == "reported"
    assert statuses[("smith-2013", "adverse_event")] == "not_reported"


def test_sources_read_and_risk_of_bias_domains(studies, tables):
    by_id = _by_id(studies)
    secondary_only = {s.study_id for s in studies if s.evidence_basis == "secondary_summary"}
    assert secondary_only == {
        "smith-2013",
        "baumgartner-nielsen-2016",
        "goossens-2017",
        "gunasekera-2017",
    }
    assert by_id["strazzula-2013"].evidence_basis == "abstract"
    for study in studies:
        rob = study.risk_of_bias
        assert set(rob["domains"]) == {"selection", "ascertainment", "causality", "reporting"}
        assert rob["overall"]["judgement"] in {"low", "some_concerns", "high"}
        assert rob["overall"]["reason"]
        assert rob["q5"]["judgement"] == rob["q6"]["judgement"] == "not_applicable"
    assert len(tables["risk_of_bias.csv"]) == len(studies)


def test_study_in_no_synthesis_is_described(studies):
    cohort = _by_id(studies)["medresarch-cohort-nd"]
    assert cohort.outcomes == () and cohort.n_patients == 38
    assert {o.outcome for o in cohort.outcomes_not_reported} == set(CONFIG["outcomes"])
    assert cohort.other_outcomes and cohort.other_outcomes[0]["result"]
