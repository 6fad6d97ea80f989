"""Normalisation of the SYNTHETIC fixture: counts, units, flags, systemic STS, JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stsmeta.cli import main
from stsmeta.errors import InputError
from stsmeta.evidence.model import load_study, study_from_dict, study_to_dict, study_to_json
from stsmeta.evidence.studyfile import read_study
from stsmeta.evidence.tables import build_tables

FIXTURES = Path(__file__).parent / "fixtures" / "studies"
VALID = FIXTURES / "synthetic-2020.yaml"


def _raw() -> dict:
    return yaml.safe_load(VALID.read_text(encoding="utf-8"))


def _study(tmp_path: Path, data: dict, config: dict | None = None):
    path = tmp_path / f"{data['study_id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return read_study(path, config)


def test_percent_becomes_count_and_is_recorded():
    raw = _raw()
    study = read_study(VALID)
    cr = study.outcome("complete_remission")
    given = raw["outcomes"][0]
    assert cr.events * 100 == given["percent"] * given["n"]
    assert cr.derived_from_percent == given["percent"]
    assert study.outcome("any_response").derived_from_percent is None


def test_synonyms_are_canonical_in_output():
    study = read_study(VALID)
    assert study.diseases == ("systemic_sclerosis",)
    assert study.patients[0].disease == "systemic_sclerosis"
    assert study.patients[0].sex == "female"
    assert study.co_interventions == ("lidocaine_ring_block",)
    assert study.design == "case_series"


def test_concentration_and_alternative_with_plausibility_flag():
    study = read_study(VALID)
    assert study.concentration.mg_per_ml == 250
    assert study.concentration.plausible is True
    literal = study.concentration.alternative("literal")
    assert literal.mg_per_ml == 0.25 and literal.plausible is False
    assert any(f.field == "intervention.concentration.alternatives.literal" for f in study.flags)


def test_plausible_range_comes_from_config(tmp_path):
    study = _study(tmp_path, _raw(), {"plausible_concentration_mg_per_ml": [10, 200]})
    assert study.concentration.plausible is False
    assert study.concentration.mg_per_ml == 250  # flagged, never changed


def test_timepoints_in_weeks():
    study = read_study(VALID)
    assert study.outcome("any_response").timepoint_weeks == 12
    assert study.outcome("complete_remission").timepoint_weeks == round(3 * 52 / 12, 4)
    assert study.interval_weeks == 4


def test_vague_timepoint_is_null_and_flagged(tmp_path):
    raw = _raw()
    raw["outcomes"][1]["timepoint"] = "several months"
    study = _study(tmp_path, raw)
    assert study.outcome("any_response").timepoint_weeks is None
    assert any(f.field == "outcomes.any_response.timepoint" for f in study.flags)


def test_intravenous_sts_makes_outcomes_systemic_unless_stated(tmp_path):
    raw = _raw()
    raw["intervention"]["co_interventions"].append(
        {"value": "IV STS", "source": "synthetic-source", "locator": "line 5"}
    )
    assert _study(tmp_path, raw).systemic_sts is True
    for outcome in raw["outcomes"]:
        outcome["systemic_sts"] = False
    study = _study(tmp_path, raw)
    assert study.systemic_sts is False
    assert all(not a.systemic_sts for o in study.outcomes for a in o.alternatives)


def test_outcome_not_reported_is_not_zero(tmp_path):
    raw = _raw()
    raw["outcomes"] = [raw["outcomes"][1]]
    raw["outcomes_not_reported"] = [
        {
            "outcome": "complete_remission",
            "reason": "synthetic",
            "source": "synthetic-source",
            "locator": "line 6",
        }
    ]
    study = _study(tmp_path, raw)
    assert study.outcome("complete_remission") is None
    assert [o.outcome for o in study.outcomes_not_reported] == ["complete_remission"]
    rows = build_tables([study])["studies.csv"].splitlines()
    header = rows[0].split(",")
    cr = next(r.split(",") for r in rows[1:] if ",complete_remission," in r)
    assert cr[header.index("reported")] == "false"
    assert cr[header.index("events")] == "" and cr[header.index("n")] == ""


def test_json_round_trip_and_determinism(tmp_path):
    study = read_study(VALID)
    text = study_to_json(study)
    assert text.endswith("\n") and json.loads(text) == study_to_dict(study)
    assert study_from_dict(json.loads(text)) == study
    assert study_to_json(read_study(VALID)) == text
    out = tmp_path / "synthetic-2020.json"
    assert main(["normalise", str(VALID), "-o", str(out)]) == 0
    assert load_study(out) == study
    assert out.read_text(encoding="utf-8") == text


def test_source_sha256_tracks_the_raw_file(tmp_path):
    import hashlib

    study = read_study(VALID)
    assert study.source_sha256 == hashlib.sha256(VALID.read_bytes()).hexdigest()


def test_a_study_read_again_in_one_process_follows_its_bytes_and_range(tmp_path):
    # The workflow checks each new file at start-up and normalises it in the same process: a
    # second read must still follow the file's current bytes and the current plausible range.
    data = _raw()
    first = _study(tmp_path, data)
    assert _study(tmp_path, data) == first
    data["label"] = data.get("label", "") + " (revised)"
    changed = _study(tmp_path, data)
    assert changed.label.endswith("(revised)")
    assert changed.source_sha256 != first.source_sha256
    narrow = _study(tmp_path, data, {"plausible_concentration_mg_per_ml": [10, 200]})
    assert narrow.concentration.plausible is False
    # An invalid file is never remembered: it fails every time.
    data["study_id"] = "Not A Safe Id"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(InputError):
            read_study(path)
