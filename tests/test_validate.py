"""Bad input: one test per class of the issue, each checking that the message names file and field.

The bad files are made from the SYNTHETIC fixture tests/fixtures/studies/synthetic-2020.yaml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stsmeta.cli import main
from stsmeta.evidence.studyfile import validate_paths

FIXTURES = Path(__file__).parent / "fixtures" / "studies"
VALID = FIXTURES / "synthetic-2020.yaml"


def _valid() -> dict:
    return yaml.safe_load(VALID.read_text(encoding="utf-8"))


def _write(directory: Path, data: dict, name: str | None = None) -> Path:
    path = directory / (name or f"{data['study_id']}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    return [str(p) for p in validate_paths([path])]


def _assert_reported(problems: list[str], path: Path, field: str, *words: str) -> None:
    hits = [p for p in problems if p.startswith(f"{path}: {field}: ")]
    assert hits, f"no problem for {field!r} in {problems}"
    for word in words:
        assert any(word in hit for hit in hits), f"{word!r} not in {hits}"


def test_valid_fixture_passes():
    assert validate_paths([VALID]) == []


def test_cli_reports_and_exits_nonzero(tmp_path, capsys):
    data = _valid()
    data["outcomes"][1]["events"] = 9
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: outcomes[1].events: " in err


def test_malformed_yaml_names_line(tmp_path):
    path = tmp_path / "malformed-2020.yaml"
    shutil.copy(FIXTURES / "malformed.yaml", path)
    problems = _problems(path)
    _assert_reported(problems, path, "line 5", "malformed YAML")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "holds no fields (it is empty or only comments)"),
        ("# to fill in\n", "holds no fields (it is empty or only comments)"),
        ("- events: 1\n", "expected a mapping of fields at the top, got a list"),
    ],
)
def test_a_file_that_is_no_study_says_how_to_start_one(tmp_path, text, words):
    # A study file created and not yet filled in (the audit: "an empty study file gives no fix").
    path = tmp_path / "empty-2020.yaml"
    path.write_text(text, encoding="utf-8")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}: (file): ")
    assert words in problem
    assert "copy templates/study-template.yaml over it" in problem
    assert "or remove the file" in problem


def test_duplicate_yaml_key_is_malformed(tmp_path):
    path = tmp_path / "synthetic-2020.yaml"
    path.write_text(VALID.read_text(encoding="utf-8") + "label: Again\n", encoding="utf-8")
    problems = _problems(path)
    assert any("duplicate key 'label'" in p and p.startswith(f"{path}: line ") for p in problems)


def test_missing_required_field(tmp_path):
    data = _valid()
    del data["outcomes"][0]["unit"]
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[0].unit", "missing required field")


def test_missing_top_level_field(tmp_path):
    data = _valid()
    del data["risk_of_bias"]
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "risk_of_bias", "missing required field")


def test_wrong_type(tmp_path):
    data = _valid()
    data["n_patients"]["value"] = "four"
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "n_patients.value", "wrong type", "whole number")


def test_events_over_denominator(tmp_path):
    data = _valid()
    data["outcomes"][1]["events"] = 5
    path = _write(tmp_path, data)
    problems = _problems(path)
    _assert_reported(problems, path, "outcomes[1].events", "exceed", "0 to n")
    # The outcome is given, with a problem of its own: not also said to be missing.
    assert not [p for p in problems if "outcomes_not_reported" in p], problems


def test_alternative_events_over_denominator(tmp_path):
    data = _valid()
    data["outcomes"][0]["alternatives"][0]["events"] = 7
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[0].alternatives[0].events", "exceed")


def test_negative_count(tmp_path):
    data = _valid()
    data["outcomes"][1]["events"] = -1
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[1].events", "negative", "0 or more")


def test_zero_denominator(tmp_path):
    data = _valid()
    data["outcomes"][1].update(events=0, n=0)
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[1].n", "at least 1")


def test_percentage_over_100(tmp_path):
    data = _valid()
    data["outcomes"][0]["percent"] = 120
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[0].percent", "over 100", "0 to 100")


def test_percentage_not_a_count(tmp_path):
    data = _valid()
    data["n_patients"]["value"] = 5
    data["outcomes"][0]["n"] = 5  # 50% of 5 = 2.5
    data["outcomes"][1].update(events=5, n=5)
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[0].percent", "not a whole number", "decision")


def test_percentage_resolved_by_decision(tmp_path):
    data = _valid()
    data["n_patients"]["value"] = 5
    data["outcomes"][0].update(n=5, events=3)  # keeps its decision
    data["outcomes"][1].update(events=5, n=5)
    path = _write(tmp_path, data)
    assert _problems(path) == []


def test_unknown_vocabulary_value(tmp_path):
    data = _valid()
    data["calcinosis_types"][0]["value"] = "crystalline"
    path = _write(tmp_path, data)
    _assert_reported(
        _problems(path), path, "calcinosis_types[0].value", "crystalline", "dystrophic", "tumoral"
    )


def test_unknown_disease_in_patient_row(tmp_path):
    data = _valid()
    data["patients"][0]["disease"] = "gout-ish"
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "patients[0].disease", "systemic_sclerosis")


def test_unknown_unit(tmp_path):
    data = _valid()
    data["intervention"]["concentration"]["reported"] = "250 mmol/L"
    path = _write(tmp_path, data)
    _assert_reported(
        _problems(path), path, "intervention.concentration.reported", "unknown mass unit", "mg/mL"
    )


def test_duplicate_study_id(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _write(tmp_path / "a", _valid())
    second = _write(tmp_path / "b", _valid())
    problems = [str(p) for p in validate_paths([first, second])]
    _assert_reported(problems, second, "study_id", "duplicate study id", str(first))


def test_file_name_differs_from_study_id(tmp_path):
    path = _write(tmp_path, _valid(), name="other-2020.yaml")
    _assert_reported(_problems(path), path, "study_id", "differs from the file name")


@pytest.mark.parametrize("bad_id", ["../evil-2020", "Smith 2013", "smith-13", "smith--2013"])
def test_unsafe_study_id(tmp_path, bad_id):
    data = _valid()
    data["study_id"] = bad_id
    path = _write(tmp_path, data, name="synthetic-2020.yaml")
    _assert_reported(_problems(path), path, "study_id", "not a safe file name")


def test_unknown_source_reference(tmp_path):
    data = _valid()
    data["outcomes"][1]["source"] = "nowhere"
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[1].source", "unknown source")


def test_alternative_must_be_declared_by_its_decision(tmp_path):
    data = _valid()
    data["outcomes"][0]["alternatives"][0]["id"] = "per_wart"
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[0].alternatives[0].id", "per_lesion")


def test_all_problems_listed_at_once(tmp_path):
    data = _valid()
    data["outcomes"][1]["events"] = 9
    data["diseases"][0]["value"] = "unknown-disease-x"
    path = _write(tmp_path, data)
    problems = _problems(path)
    assert any("outcomes[1].events" in p for p in problems)
    assert any("diseases[0].value" in p for p in problems)


def test_failing_study_writes_nothing_and_keeps_earlier_result(tmp_path):
    out = tmp_path / "results" / "synthetic-2020.json"
    assert main(["normalise", str(VALID), "-o", str(out)]) == 0
    before = out.read_bytes()
    data = _valid()
    data["outcomes"][1]["events"] = 9
    bad = _write(tmp_path, data)
    assert main(["normalise", str(bad), "-o", str(out)]) == 2
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["synthetic-2020.json"]
    fresh = tmp_path / "results" / "never.json"
    assert main(["normalise", str(bad), "-o", str(fresh)]) == 2
    assert not fresh.exists()


def test_duplicate_label_across_files(tmp_path):
    """Two studies named alike could not be told apart in a forest plot: the second is refused,
    naming the first file and the fix; case and spacing do not make labels differ."""
    first_data = _valid()
    second_data = _valid()
    second_data["study_id"] = f"{first_data['study_id']}b"
    second_data["label"] = f"  {first_data['label'].upper()} "
    first = _write(tmp_path, first_data)
    second = _write(tmp_path, second_data)
    problems = [str(p) for p in validate_paths([first, second])]
    _assert_reported(problems, second, "label", "is also the label of", str(first), "must differ")
    assert not [p for p in problems if p.startswith(f"{first}: ")]
    second_data["label"] = f"{first_data['label']}b"
    _write(tmp_path, second_data)
    assert validate_paths([first, second]) == []
    # "ü" as one character or as "u" and a combining diaeresis reads the same (a fuzzer's pair).
    first_data["label"] = "M\u00fcller 2020 (SYNTHETIC)"
    second_data["label"] = "Mu\u0308ller 2020 (SYNTHETIC)"
    first, second = _write(tmp_path, first_data), _write(tmp_path, second_data)
    problems = [str(p) for p in validate_paths([first, second])]
    _assert_reported(problems, second, "label", "is also the label of", str(first))


def test_validate_refuses_a_folder_whose_coverage_analysis_has_no_study(
    tmp_path, monkeypatch, capsys
):
    """Valid files, each alone, whose complete-remission counts are all left out of the primary
    analysis (systemic STS): the workflow stops at start-up, so validate, run on the folder as
    the workflow reads it, says so too, with why each study is left out (a fuzzer's folder)."""
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "config.yaml", tmp_path / "config.yaml")
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    data = _valid()
    _write(raw, data)
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 0
    for outcome in data["outcomes"]:
        if outcome["outcome"] == "complete_remission":
            outcome["systemic_sts"] = True
    _write(raw, data)
    assert validate_paths([raw / f"{data['study_id']}.yaml"]) == []  # valid alone
    capsys.readouterr()
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "error: config.yaml: coverage.outcome: no study enters the analysis" in err
    assert f"left out by systemic STS: {data['label']}" in err


@pytest.mark.parametrize(
    ("patients", "words"),
    [(0, ("no patient had", "remove the entry")), (50, ("50 exceeds the study's n_patients",))],
)
def test_co_intervention_patients_within_the_study(tmp_path, patients, words):
    data = _valid()
    data["intervention"]["co_interventions"] = [
        {"value": "intravenous STS", "patients": patients, "source": "x", "locator": "p. 1"}
    ]
    data["intervention"]["co_interventions"][0]["source"] = data["sources"][0]["id"]
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "intervention.co_interventions[0].patients", *words)


def test_an_outcome_neither_given_nor_listed_is_named(tmp_path):
    """Each harmonised outcome is either counted or listed as not reported, with a reason: one
    left out without a word would vanish from the tables and the report."""
    data = _valid()
    data["outcomes"] = [o for o in data["outcomes"] if o["outcome"] == "complete_remission"]
    data.pop("outcomes_not_reported", None)
    path = _write(tmp_path, data)
    _assert_reported(
        _problems(path), path, "outcomes_not_reported", "any_response is neither", "the reason"
    )


@pytest.mark.parametrize(
    ("epub", "words"),
    [("2020-02-30", ("not a date of the calendar",)), ("2999-01-01", ("is in the future",))],
)
def test_epub_date_is_a_real_past_day(tmp_path, epub, words):
    data = _valid()
    data.setdefault("citation", {})["epub_date"] = epub
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "citation.epub_date", *words)


@pytest.mark.parametrize("timepoint", ["0 weeks", "1000 years"])
def test_an_implausible_time_point_is_flagged_not_changed(tmp_path, timepoint):
    from stsmeta.evidence.studyfile import read_study

    data = _valid()
    data["outcomes"][0]["timepoint"] = timepoint
    path = _write(tmp_path, data)
    study = read_study(str(path))
    assert any(
        "implausible for an outcome" in f.reason and f.field.endswith(".timepoint")
        for f in study.flags
    )
    changed = data["outcomes"][0]["outcome"]
    assert [o.timepoint_text for o in study.outcomes if o.outcome == changed] == [timepoint]


def test_a_file_checked_before_is_not_parsed_again_until_its_bytes_change(tmp_path, monkeypatch):
    # The workflow checks every new study file at start-up, then reads it again for its record
    # and its normalise job: those reads find the checked study by the bytes' SHA-256.
    from stsmeta.evidence import studyfile

    path = _write(tmp_path, _valid())
    first = studyfile.read_study(path)
    parsed: list[str] = []
    real_load = studyfile.load_yaml

    def counting_load(p, *args, **kwargs):
        parsed.append(str(p))
        return real_load(p, *args, **kwargs)

    monkeypatch.setattr(studyfile, "load_yaml", counting_load)
    assert studyfile.read_study(path) is first
    assert parsed == []
    data = _valid()
    data["n_patients"]["locator"] = "line 3"  # other bytes: parsed and checked again
    _write(tmp_path, data)
    again = studyfile.read_study(path)
    assert parsed == [str(path)]
    assert again is not first and again.source_sha256 != first.source_sha256
    data["n_patients"]["value"] = -1  # invalid bytes are never found: checked, and refused
    _write(tmp_path, data)
    with pytest.raises(studyfile.InputError):
        studyfile.read_study(path)


def test_the_template_copied_unchanged_is_refused(tmp_path):
    # The template's made-up counts would otherwise be pooled as a study.
    template = Path(__file__).parents[1] / "templates" / "study-template.yaml"
    data = yaml.safe_load(template.read_text(encoding="utf-8"))
    path = _write(tmp_path, data)
    problems = _problems(path)
    _assert_reported(problems, path, "citation.title", "template's placeholder")
    data["study_id"], data["label"] = "smith-2021", "Smith 2021"
    path = _write(tmp_path, data)  # a new id and label, the rest of the template kept
    _assert_reported(_problems(path), path, "citation.title", "template's placeholder")


@pytest.mark.parametrize("locator", ["TODO", "tbd", "?", "  xxx "])
def test_a_placeholder_locator_is_refused(tmp_path, locator):
    data = _valid()
    data["n_patients"]["locator"] = locator
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "n_patients.locator", "does not say where")


def test_a_percentage_typed_as_a_count_says_how_to_write_it(tmp_path):
    data = _valid()
    data["outcomes"][1]["events"] = "60%"
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "outcomes[1].events", "wrong type", "`percent: 60`")


def test_a_blank_locator_says_what_to_give_not_to_leave_it_out(tmp_path):
    data = _valid()
    data["n_patients"]["locator"] = "  "
    path = _write(tmp_path, data)
    problems = _problems(path)
    _assert_reported(problems, path, "n_patients.locator", "say where in the source")
    assert not any("leave the field out" in p for p in problems if "n_patients.locator" in p)


def test_a_missing_locator_says_what_to_write(tmp_path):
    data = _valid()
    del data["n_patients"]["locator"]
    path = _write(tmp_path, data)
    _assert_reported(_problems(path), path, "n_patients.locator", "missing", "p. 3, table 2")


def test_a_boolean_n_with_a_percentage_is_named_once(tmp_path):
    # A fuzzer's file: beside the type error came "50.0% of True is 0.5, not a whole number".
    data = _valid()
    outcome = data["outcomes"][0]
    outcome.update(n=True, percent=50)
    outcome.pop("events", None)
    path = _write(tmp_path, data)
    problems = [p for p in _problems(path) if p.startswith(f"{path}: outcomes[0].")]
    assert problems == [
        f"{path}: outcomes[0].n: wrong type: got true/false (True); expected a whole number"
    ]
