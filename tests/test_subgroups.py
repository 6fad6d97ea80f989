"""Subgroups never count a patient twice (issue 14, item 2).

A study with two diseases used to enter both disease levels whole: Baumgartner-Nielsen 2016 showed
as "nephrogenic systemic fibrosis 3/6" although its one NSF patient had no week-12 outcome. Now a
study enters each level with its patients' counts, or no level, and the counts over the levels
never exceed the study's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stsmeta.evidence.model import study_to_dict
from stsmeta.evidence.studyfile import discover, read_study
from stsmeta.pool.eligibility import build_dataset, subgroup_left_out, subgroup_members
from stsmeta.pool.subgroups import SUBGROUP_FIELDS, check_split, split_counts

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))

PATIENT_OUTCOMES = [
    "complete_remission",
    "partial_response",
    "any_response",
    "no_response",
    "not_evaluable",
    "not_reported",
]


def _patient(pid, disease, outcome, systemic=False):
    return {"patient_id": pid, "disease": disease, "outcome": outcome, "systemic_sts": systemic}


def _study(diseases, patients):
    return {"study_id": "syn-2000", "diseases": diseases, "patients": patients}


def test_two_diseases_split_by_patient_rows():
    # Like Baumgartner-Nielsen 2016: 5 SSc patients with unknown individual outcomes, 1 NSF
    # patient who died before assessment; 3/6 complete remissions must all be SSc patients.
    patients = [_patient(f"p{i}", "systemic_sclerosis", "not_reported") for i in range(1, 6)]
    patients.append(_patient("p6", "nephrogenic_systemic_fibrosis", "not_evaluable"))
    study = _study(["nephrogenic_systemic_fibrosis", "systemic_sclerosis"], patients)
    split = split_counts(
        study,
        "disease",
        "complete_remission",
        events=3,
        n=6,
        unit="patients",
        systemic=False,
        reading="primary",
    )
    counts = {c.level: (c.events, c.n, c.not_evaluable) for c in split.levels}
    assert counts == {
        "nephrogenic_systemic_fibrosis": (0, 1, 1),
        "systemic_sclerosis": (3, 5, 0),
    }
    evaluable = split_counts(
        study,
        "disease",
        "complete_remission",
        events=3,
        n=5,
        unit="patients",
        systemic=False,
        reading="evaluable_only",
    )
    assert [(c.level, c.events, c.n) for c in evaluable.levels] == [("systemic_sclerosis", 3, 5)]


def test_lesion_counts_and_unknown_patients_leave_a_mixed_study_out():
    patients = [_patient("a", "dermatomyositis", "not_reported")]
    patients.append(_patient("b", "familial_hyperphosphatemia", "not_reported"))
    study = _study(["dermatomyositis", "familial_hyperphosphatemia"], patients)
    per_lesion = split_counts(
        study,
        "disease",
        "any_response",
        events=4,
        n=8,
        unit="lesions",
        systemic=False,
        reading="per_lesion",
    )
    assert per_lesion.levels == () and "counted twice" in per_lesion.reason
    unknown = split_counts(
        study,
        "disease",
        "any_response",
        events=1,
        n=2,
        unit="patients",
        systemic=False,
        reading="primary",
    )
    assert unknown.levels == () and "counted twice" in unknown.reason


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.sampled_from(PATIENT_OUTCOMES),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["complete_remission", "any_response"]),
    st.booleans(),
    st.sampled_from(["primary", "evaluable_only"]),
    st.data(),
)
def test_level_counts_never_exceed_the_study(rows, outcome, systemic, reading, data):
    patients = [_patient(f"p{i}", d, o, s) for i, (d, o, s) in enumerate(rows)]
    diseases = sorted({d or "not_reported" for d, _, _ in rows})
    study = _study(diseases, patients)
    n = data.draw(st.integers(1, len(rows) + 1))
    events = data.draw(st.integers(0, n))
    split = split_counts(
        study,
        "disease",
        outcome,
        events=events,
        n=n,
        unit="patients",
        systemic=systemic,
        reading=reading,
    )
    assert sum(c.events for c in split.levels) <= events
    assert sum(c.n for c in split.levels) <= n
    assert all(0 <= c.events <= c.n for c in split.levels)
    check_split(split, events, n)  # a split study adds up exactly
    assert bool(split.levels) != bool(split.reason)


@pytest.fixture(scope="module")
def real_studies():
    return [study_to_dict(read_study(p, CONFIG)) for p in discover(ROOT / "data" / "raw")]


@pytest.mark.parametrize("scenario", sorted(CONFIG["scenarios"]))
@pytest.mark.parametrize("outcome", sorted(CONFIG["outcomes"]))
def test_subgroup_totals_never_exceed_study_totals(real_studies, outcome, scenario):
    rows = build_dataset(real_studies, CONFIG, outcome, scenario).rows
    by_id = {r.study_id: r for r in rows}
    for variable in SUBGROUP_FIELDS:
        members = subgroup_members(rows, variable)
        left_out = {e["study_id"] for e in subgroup_left_out(rows, variable)}
        totals: dict[str, list[int]] = {}
        for level_rows in members.values():
            for row in level_rows:
                t = totals.setdefault(row.study_id, [0, 0])
                t[0] += row.events
                t[1] += row.n
        for sid, (events, n) in totals.items():
            assert sid not in left_out
            assert (events, n) == (by_id[sid].events, by_id[sid].n), (variable, sid)
        assert set(totals) | left_out == set(by_id)


def test_baumgartner_nielsen_nsf_level_has_only_its_patient(real_studies):
    rows = build_dataset(real_studies, CONFIG, "complete_remission", "primary").rows
    members = subgroup_members(rows, "disease")
    nsf = {r.study_id: (r.events, r.n) for r in members["nephrogenic_systemic_fibrosis"]}
    ssc = {r.study_id: (r.events, r.n) for r in members["systemic_sclerosis"]}
    assert nsf == {"baumgartner-nielsen-2016": (0, 1)}
    assert ssc["baumgartner-nielsen-2016"] == (3, 5)


def test_single_level_study_counts_its_unassessable_patients():
    patients = [_patient(f"p{i}", "dermatomyositis", "complete_remission") for i in (1, 2)]
    patients.append(_patient("p3", "dermatomyositis", "not_evaluable"))
    study = _study(["dermatomyositis"], patients)
    kwargs = dict(unit="patients", systemic=False)
    (level,) = split_counts(
        study, "disease", "complete_remission", events=2, n=3, reading="primary", **kwargs
    ).levels
    assert (level.events, level.n, level.not_evaluable) == (2, 3, 1)
    # The evaluable-only reading leaves the patient out of the denominator: nothing to note.
    (level,) = split_counts(
        study, "disease", "complete_remission", events=2, n=2, reading="evaluable_only", **kwargs
    ).levels
    assert (level.n, level.not_evaluable) == (2, 0)


def test_a_level_of_an_unassessable_patient_says_so(real_studies):
    # Baumgartner-Nielsen's NSF patient died before week 12: the level "0/1" is not a failure of
    # treatment, and the pooled level (and so the report's notes) must say so; the other levels
    # carry no such note.
    from stsmeta.pool.analysis import analyse

    class Counts:  # stands in for the engine: the notes do not depend on the numbers
        def __init__(self, events, n):
            self.events, self.n = sum(events), sum(n)

        def to_dict(self):
            return {"k": 1, "events": self.events, "n": self.n, "estimate": 0.5, "warnings": []}

    def pool_fn(events, n, **_):
        return Counts(events, n)

    def notes(scenario):
        result = analyse(real_studies, CONFIG, "complete_remission", scenario, pool_fn=pool_fn)
        return {
            level: [w for w in r.get("warnings") or [] if "could not be assessed" in w]
            for level, r in (result.get("subgroups") or {}).get("disease", {}).items()
        }

    primary = notes("primary")
    # She is counted in the dystrophic level of the calcinosis types too (her study's only
    # type): 1 of its patients.
    dystrophic = analyse(real_studies, CONFIG, "complete_remission", "primary", pool_fn=pool_fn)
    (note,) = [
        w
        for w in dystrophic["subgroups"]["calcinosis_type"]["dystrophic"]["warnings"]
        if "could not be assessed" in w
    ]
    assert note.startswith("1 of the level's ") and "(died or lost before" in note
    assert primary.pop("nephrogenic_systemic_fibrosis") == [
        "the level's one patient could not be assessed (died or lost before the assessment;"
        " Baumgartner-Nielsen 2016) and counts as a non-event under the reading in force: not an"
        " observed failure of treatment"
    ]
    assert not any(primary.values())
    # Subgroups are pooled in the primary scenario only; there the NSF level is present and
    # the SSc level's 3/5 holds no unassessable patient.
    assert "systemic_sclerosis" in primary


def test_not_evaluable_note_counts_in_words():
    from stsmeta.pool.subgroups import not_evaluable_note

    assert not_evaluable_note(2, 5, ["A 2001", "B 2002"]).startswith(
        "2 of the level's 5 patients could not be assessed (died or lost before the assessment;"
        " A 2001, B 2002) and count as non-events"
    )
    assert "1 of the level's 4 patients could not be assessed" in not_evaluable_note(1, 4, ["A"])
    assert "and counts as a non-event" in not_evaluable_note(1, 4, ["A"])


def test_extracts_carry_what_subgroups_and_restrictions_read(real_studies):
    # The pool stage reads analysis extracts: they must give the same rows and level counts.
    from stsmeta.pool.extract import analysis_extract

    extracts = [analysis_extract(s) for s in real_studies]
    for outcome in CONFIG["outcomes"]:
        for scenario in CONFIG["scenarios"]:
            full = build_dataset(real_studies, CONFIG, outcome, scenario)
            lean = build_dataset(extracts, CONFIG, outcome, scenario)
            assert lean.rows == full.rows and lean.excluded == full.excluded, (outcome, scenario)
