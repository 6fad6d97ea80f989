"""Eligibility, scenarios, subgroups, leave-one-out and cumulative pooling on SYNTHETIC studies.

The studies are the synthetic files of tests/fixtures/normalised (see generate.py there for what
each is built to exercise). Structure is checked with a recording stand-in for the pooling
engine; the numbers are checked against the real ``stsmeta.stats.pool`` called independently.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from stsmeta.cli import main
from stsmeta.config import load_config
from stsmeta.errors import InputError
from stsmeta.evidence.model import read_normalised
from stsmeta.pool.analysis import analyse, dumps, plan_fingerprint
from stsmeta.pool.eligibility import (
    build_dataset,
    cumulative_order,
    subgroup_left_out,
    subgroup_members,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "normalised"
PATHS = sorted(str(p) for p in FIXTURES.glob("*.json"))
CR, AR = "complete_remission", "any_response"

# The scenarios under test, fixed here so that editing the repository's plan cannot change them.
SCENARIOS = {
    "primary": {"label": "Primary analysis"},
    "per_lesion": {"label": "Per lesion", "use_alternatives": ["per_lesion"]},
    "evaluable": {"label": "Evaluable", "use_alternatives": ["evaluable_only", "per_lesion"]},
    "literal": {
        "label": "Literal",
        "concentration_reading": "literal",
        "exclude_implausible_concentration": True,
    },
    "literal_kept": {"label": "Literal, kept", "concentration_reading": "literal"},
    "no_calciphylaxis": {
        "label": "No calciphylaxis",
        "exclude_calcinosis_types": ["calciphylaxis"],
    },
    "no_ssc": {"label": "No SSc", "exclude_diseases": ["systemic_sclerosis"]},
    "no_co": {"label": "No co-interventions", "exclude_co_interventions": ["surgical_debridement"]},
    "systemic": {"label": "With systemic STS", "include_systemic_sts": True},
    "drop_beta": {"label": "Without beta", "exclude_studies": ["syn-beta-2013"]},
    "typo": {"label": "Typo", "use_alternatives": ["per_lesions"]},
}


@pytest.fixture(scope="module")
def config() -> dict:
    raw = json.loads(json.dumps(_repo_config()))
    raw["scenarios"] = copy.deepcopy(SCENARIOS)
    config, problems = load_config(raw)
    assert problems == []
    return config


def _repo_config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def studies() -> list[dict]:
    loaded, _ = read_normalised(PATHS)
    return loaded


class RecordingPool:
    """Stands in for stsmeta.stats.pool: records each call, returns pooled counts."""

    def __init__(self, nan: bool = False, fail_below: int = 0):
        self.calls: list[dict] = []
        self.nan = nan
        self.fail_below = fail_below

    def __call__(self, events, n, **kwargs):
        self.calls.append({"events": list(events), "n": list(n), **kwargs})
        if len(events) < self.fail_below:
            raise ValueError("too few studies (synthetic stand-in)")
        total_e, total_n = sum(events), sum(n)
        nan = self.nan
        studies = kwargs["studies"]

        class Result:
            def to_dict(self):
                return {
                    "settings": {k: v for k, v in kwargs.items() if k != "studies"},
                    "k": len(events),
                    "events": total_e,
                    "n": total_n,
                    "estimate": total_e / total_n,
                    "tau2": float("nan") if nan else 0.0,
                    "q_p": float("inf") if nan else 1.0,
                    "warnings": [],
                    "studies": [
                        {"study": s, "events": e, "n": m}
                        for s, e, m in zip(studies, events, n, strict=True)
                    ],
                }

        return Result()


def _rows(dataset):
    return {r.study_id: (r.events, r.n) for r in dataset.rows}


def _excluded(dataset):
    return {e.study_id: e.criteria for e in dataset.excluded}


# ----------------------------------------------------------------------------- eligibility


def test_primary_eligibility_records_each_reason(studies, config):
    data = build_dataset(studies, config, CR, "primary")
    assert _rows(data) == {
        "syn-alpha-2013": (3, 3),  # primary reading leaves out the systemic-STS patient
        "syn-beta-2013": (1, 1),
        "syn-gamma-2016": (3, 6),
        "syn-epsilon-2017": (1, 1),
        "syn-iota-2021": (1, 2),
    }
    assert _excluded(data) == {
        "syn-delta-2017": ("outcome_not_reported",),
        "syn-zeta-2019": ("route",),
        "syn-eta-2020": ("systemic_sts",),
    }
    reasons = {e.study_id: e.reason for e in data.excluded}
    assert "SYNTHETIC counts not given" in reasons["syn-delta-2017"]
    assert "topical" in reasons["syn-zeta-2019"] and "intralesional" in reasons["syn-zeta-2019"]
    assert "systemic STS" in reasons["syn-eta-2020"]
    assert data.applied == ()
    # Every input study is either analysed or excluded, never both.
    assert set(_rows(data)) | set(_excluded(data)) == {s["study_id"] for s in studies}
    assert not set(_rows(data)) & set(_excluded(data))


def test_rows_are_in_publication_order(studies, config):
    data = build_dataset(studies, config, CR, "primary")
    years = [r.year for r in data.rows]
    assert years == sorted(years)


def test_secondary_outcome_uses_its_own_counts(studies, config):
    data = build_dataset(studies, config, AR, "primary")
    assert _rows(data)["syn-delta-2017"] == (2, 2)
    assert _rows(data)["syn-gamma-2016"] == (6, 6)


def test_route_missing_and_unusable_counts_are_excluded(studies, config):
    broken = copy.deepcopy(studies)
    by_id = {s["study_id"]: s for s in broken}
    by_id["syn-beta-2013"]["route"] = None
    for o in by_id["syn-iota-2021"]["outcomes"]:
        o["events"] = 3  # more events than patients
    data = build_dataset(broken, config, CR, "primary")
    assert _excluded(data)["syn-beta-2013"] == ("route",)
    assert _excluded(data)["syn-iota-2021"] == ("outcome_not_reported",)


def test_systemic_sts_exclusion_can_be_switched_off(studies, config):
    relaxed = copy.deepcopy(config)
    relaxed["eligibility"]["exclude_systemic_sts"] = False
    data = build_dataset(studies, relaxed, CR, "primary")
    assert _rows(data)["syn-eta-2020"] == (0, 1)
    assert _rows(data)["syn-alpha-2013"] == (3, 3)  # its primary reading is unchanged


# ----------------------------------------------------------------------------- scenarios


def test_alternative_outcome_readings(studies, config):
    per_lesion = build_dataset(studies, config, CR, "per_lesion")
    assert _rows(per_lesion)["syn-gamma-2016"] == (4, 8)
    assert {r.study_id: r.unit for r in per_lesion.rows}["syn-gamma-2016"] == "lesions"
    assert [(a.study_id, a.field, a.alternative, a.included) for a in per_lesion.applied] == [
        ("syn-gamma-2016", f"outcomes.{CR}", "per_lesion", True)
    ]
    # The first listed id that the study has wins.
    evaluable = build_dataset(studies, config, CR, "evaluable")
    assert _rows(evaluable)["syn-gamma-2016"] == (3, 5)
    # Only the study with the alternative changes.
    primary = _rows(build_dataset(studies, config, CR, "primary"))
    changed = {k for k, v in _rows(per_lesion).items() if primary.get(k) != v}
    assert changed == {"syn-gamma-2016"}


def test_alternative_missing_for_outcome_is_noted(studies, config):
    data = build_dataset(studies, config, AR, "evaluable")
    assert _rows(data)["syn-gamma-2016"] == (8, 8)  # falls through to per_lesion
    typo = build_dataset(studies, config, CR, "typo")
    assert typo.applied == ()
    assert typo.notes and "per_lesions" in typo.notes[0]


def test_literal_concentration_excludes_implausible_doses(studies, config):
    data = build_dataset(studies, config, CR, "literal")
    assert set(_rows(data)) == {"syn-alpha-2013", "syn-gamma-2016", "syn-iota-2021"}
    for sid in ("syn-beta-2013", "syn-epsilon-2017"):
        assert _excluded(data)[sid] == ("implausible_concentration",)
    reason = {e.study_id: e.reason for e in data.excluded}["syn-beta-2013"]
    assert "0.25 mg/mL" in reason and "10-400" in reason
    assert sorted((a.study_id, a.field, a.included) for a in data.applied) == [
        ("syn-beta-2013", "concentration", False),
        ("syn-epsilon-2017", "concentration", False),
    ]
    kept = build_dataset(studies, config, CR, "literal_kept")
    assert {r.study_id: r.concentration_mg_per_ml for r in kept.rows}["syn-beta-2013"] == 0.25
    assert set(_rows(kept)) == set(_rows(build_dataset(studies, config, CR, "primary")))


def test_exclusions_by_type_disease_co_intervention_and_name(studies, config):
    primary = set(_rows(build_dataset(studies, config, CR, "primary")))
    expected_out = {
        "no_calciphylaxis": {"syn-alpha-2013"},
        "no_ssc": {"syn-gamma-2016", "syn-iota-2021"},
        "no_co": {"syn-iota-2021"},
        "drop_beta": {"syn-beta-2013"},
    }
    codes = {
        "no_calciphylaxis": "calcinosis_type",
        "no_ssc": "disease",
        "no_co": "co_interventions",
        "drop_beta": "excluded_by_name",
    }
    for scenario, out in expected_out.items():
        data = build_dataset(studies, config, CR, scenario)
        assert set(_rows(data)) == primary - out, scenario
        for sid in out:
            assert codes[scenario] in _excluded(data)[sid]
    # A study failing two criteria shows both.
    both = _excluded(build_dataset(studies, config, CR, "no_calciphylaxis"))["syn-eta-2020"]
    assert both == ("systemic_sts", "calcinosis_type")


def test_include_systemic_sts(studies, config):
    data = build_dataset(studies, config, CR, "systemic")
    rows = _rows(data)
    assert rows["syn-alpha-2013"] == (4, 4)
    assert rows["syn-eta-2020"] == (0, 1)
    assert [(a.study_id, a.alternative) for a in data.applied] == [
        ("syn-alpha-2013", "with_systemic_sts")
    ]
    assert set(_excluded(data)) == {"syn-delta-2017", "syn-zeta-2019"}


def test_include_systemic_sts_keeps_a_primary_reading_that_is_already_systemic(studies, config):
    # Nishiyama-like: the primary reading (0/1) already includes systemic STS; a wider systemic
    # alternative (all patients, some outside the route criterion) must not replace it.
    eta = next(s for s in studies if s["study_id"] == "syn-eta-2020")
    widened = copy.deepcopy(eta)
    for entry in widened["outcomes"]:
        entry["systemic_sts"] = True  # as the study files say of such a reading
        entry["alternatives"] = [
            {"id": "all_patients", "events": 1, "n": 2, "unit": "patients", "systemic_sts": True}
        ]
    others = [s for s in studies if s["study_id"] != "syn-eta-2020"]
    data = build_dataset([*others, widened], config, CR, "systemic")
    assert _rows(data)["syn-eta-2020"] == (0, 1)
    assert all(a.study_id != "syn-eta-2020" for a in data.applied)


def test_unknown_names_are_input_errors(studies, config):
    with pytest.raises(InputError, match="--outcome"):
        build_dataset(studies, config, "mortality", "primary")
    with pytest.raises(InputError, match="--scenario"):
        build_dataset(studies, config, CR, "nope")
    bad = copy.deepcopy(config)
    bad["scenarios"]["drop_beta"]["exclude_studies"] = ["syn-betta-2013"]
    with pytest.raises(InputError) as caught:
        build_dataset(studies, bad, CR, "drop_beta")
    problem = caught.value.problems[0]
    assert (problem.file, problem.field) == ("config.yaml", "scenarios.drop_beta.exclude_studies")


# ----------------------------------------------------------------------------- subgroups etc.


def test_subgroups_never_count_a_study_twice(studies, config):
    # The synthetic studies with two levels have no patient rows: they are in no level of that
    # variable (with the reason), never in both.
    rows = build_dataset(studies, config, CR, "primary").rows
    types = {
        k: [r.study_id for r in v] for k, v in subgroup_members(rows, "calcinosis_type").items()
    }
    assert types == {
        "calciphylaxis": ["syn-alpha-2013"],
        "dystrophic": ["syn-beta-2013", "syn-gamma-2016", "syn-iota-2021"],
    }
    left_out = subgroup_left_out(rows, "calcinosis_type")
    assert [e["study_id"] for e in left_out] == ["syn-epsilon-2017"]
    assert "no patient is counted twice" in left_out[0]["reason"]
    diseases = {k: [r.study_id for r in v] for k, v in subgroup_members(rows, "disease").items()}
    assert diseases["systemic_sclerosis"] == ["syn-iota-2021"]
    assert "nephrogenic_systemic_fibrosis" not in diseases
    assert [e["study_id"] for e in subgroup_left_out(rows, "disease")] == ["syn-gamma-2016"]
    # Every study is in exactly one level, or left out.
    for variable, groups in (("calcinosis_type", types), ("disease", diseases)):
        placed = [s for members in groups.values() for s in members]
        gone = [e["study_id"] for e in subgroup_left_out(rows, variable)]
        assert sorted(placed + gone) == sorted(r.study_id for r in rows)


def test_study_without_a_level_is_not_reported(studies, config):
    changed = copy.deepcopy(studies)
    next(s for s in changed if s["study_id"] == "syn-beta-2013")["diseases"] = []
    rows = build_dataset(changed, config, CR, "primary").rows
    groups = subgroup_members(rows, "disease")
    assert [r.study_id for r in groups["not_reported"]] == ["syn-beta-2013"]


def test_cumulative_order_puts_unknown_years_last(studies, config):
    rows = build_dataset(studies, config, CR, "primary").rows
    undated = [r.__class__(**{**r.__dict__, "year": None}) if r.year == 2013 else r for r in rows]
    ordered = [r.study_id for r in cumulative_order(undated)]
    assert ordered[-2:] == ["syn-alpha-2013", "syn-beta-2013"]


def test_document_structure_with_recording_pool(studies, config):
    fake = RecordingPool()
    doc = analyse(studies, config, CR, "primary", pool_fn=fake, input_sha256={"b": "2", "a": "1"})
    k = 5
    assert doc["k"] == k and doc["included"] == [r["study_id"] for r in doc["included_studies"]]
    assert [e["study_id"] for e in doc["excluded"]] == [
        "syn-delta-2017",
        "syn-zeta-2019",
        "syn-eta-2020",
    ]
    assert set(doc["secondary"]) == set(config["methods"]["secondary"])
    for name, result in doc["secondary"].items():
        assert result["label"] == config["methods"]["secondary"][name]["label"]
        assert result["settings"]["method"] == config["methods"]["secondary"][name]["method"]
    assert doc["settings"]["method"] == "glmm" and doc["settings"]["level"] == 0.95
    assert doc["method_reason"] == config["methods"]["primary"]["reason"]
    # Subgroups: one pool per level, with exactly the members.
    assert set(doc["subgroups"]) == {"calcinosis_type", "disease"}
    assert [
        s["study"] for s in doc["subgroups"]["calcinosis_type"]["calciphylaxis"]["studies"]
    ] == ["syn-alpha-2013"]
    left_out = doc["subgroup_left_out"]["calcinosis_type"]
    assert [e["study_id"] for e in left_out] == ["syn-epsilon-2017"]
    # Leave-one-out: k pools of k-1 studies, each without its own study.
    assert set(doc["leave_one_out"]) == set(doc["included"])
    by_id = {r["study_id"]: r for r in doc["included_studies"]}
    for sid, result in doc["leave_one_out"].items():
        assert result["k"] == k - 1
        assert result["events"] == doc["events"] - by_id[sid]["events"]
        assert result["n"] == doc["n"] - by_id[sid]["n"]
        # A step carries no study list (it would grow with k squared); the pool itself does.
        assert "studies" not in result
    assert all("studies" not in c for c in doc["cumulative"]) and doc["studies"]
    # Cumulative: k pools growing by one study in publication order; the last is the full pool.
    cumulative = doc["cumulative"]
    assert [c["k"] for c in cumulative] == list(range(1, k + 1))
    assert [c["added_study"] for c in cumulative] == doc["included"]
    assert [c["year"] for c in cumulative] == sorted(c["year"] for c in cumulative)
    assert cumulative[-1]["events"] == doc["events"] and cumulative[-1]["n"] == doc["n"]
    levels = {variable: sorted(groups) for variable, groups in doc["subgroups"].items()}
    assert levels["calcinosis_type"] == ["calciphylaxis", "dystrophic"]
    # Steps are fitted once per distinct dataset (of counts): here the cumulative step before the
    # last is also the leave-one-out step of the last study added, and two studies share counts.
    rows = {r["study_id"]: (r["events"], r["n"]) for r in doc["included_studies"]}
    step_sets = {tuple(sorted(v for s, v in rows.items() if s != out)) for out in rows}
    step_sets |= {tuple(sorted(rows[s] for s in doc["included"][: i + 1])) for i in range(k)}
    assert len(step_sets) < 2 * k
    # Subgroups that select the same studies (here calciphylaxis, by calcinosis type and by
    # disease) are pooled once: the same rows with the same method (stsmeta.pool.pooling).
    subgroup_sets = {
        json.dumps(g["studies"], sort_keys=True)
        for groups in doc["subgroups"].values()
        for g in groups.values()
    }
    assert len(subgroup_sets) < sum(map(len, levels.values()))
    expected_calls = 1 + len(doc["secondary"]) + len(subgroup_sets) + len(step_sets)
    assert len(fake.calls) == expected_calls
    assert len({json.dumps(c, sort_keys=True) for c in fake.calls}) == len(fake.calls)
    assert doc["input_sha256"] == {"a": "1", "b": "2"}
    assert len(doc["data_sha256"]) == 64


def test_sensitivity_scenarios_have_no_subgroups_or_loo(studies, config):
    doc = analyse(studies, config, CR, "per_lesion", pool_fn=RecordingPool())
    assert "subgroups" not in doc and "leave_one_out" not in doc and "cumulative" not in doc
    assert doc["applied"][0]["alternative"] == "per_lesion"
    assert doc["scenario_label"] == "Per lesion"


def test_flags_switch_off_loo_and_cumulative(studies, config):
    off = copy.deepcopy(config)
    off["leave_one_out"] = False
    off["cumulative_by_year"] = False
    doc = analyse(studies, off, CR, "primary", pool_fn=RecordingPool())
    assert "leave_one_out" not in doc and "cumulative" not in doc


def test_json_has_no_nan_and_is_deterministic(studies, config):
    doc = analyse(studies, config, CR, "primary", pool_fn=RecordingPool(nan=True))
    text = dumps(doc)

    def refuse(constant):
        raise AssertionError(f"{constant} in JSON")

    parsed = json.loads(text, parse_constant=refuse)
    assert parsed["tau2"] is None and parsed["q_p"] is None
    assert text.endswith("}\n")
    again = dumps(analyse(studies, config, CR, "primary", pool_fn=RecordingPool(nan=True)))
    assert again == text


def test_not_estimable_pools_keep_the_shape(studies, config):
    doc = analyse(studies, config, CR, "primary", pool_fn=RecordingPool(fail_below=2))
    first = doc["cumulative"][0]
    assert first["k"] == 1 and first["estimate"] is None
    assert first["warnings"] == ["not estimable: too few studies (synthetic stand-in)"]
    assert doc["subgroups"]["calcinosis_type"]["calciphylaxis"]["ci_low"] is None
    empty = copy.deepcopy(config)
    empty["eligibility"]["routes"] = ["subcutaneous"]
    nothing = analyse(studies, empty, CR, "primary", pool_fn=RecordingPool())
    assert nothing["k"] == 0 and nothing["included"] == [] and nothing["estimate"] is None
    assert len(nothing["excluded"]) == len(studies)
    assert nothing["leave_one_out"] == {} and nothing["cumulative"] == []


def test_read_normalised_rejects_duplicate_ids(tmp_path):
    first = Path(PATHS[0])
    copy_path = tmp_path / "again.json"
    copy_path.write_bytes(first.read_bytes())
    with pytest.raises(InputError) as caught:
        read_normalised([PATHS[0], str(copy_path)])
    assert caught.value.problems[0].field == "study_id"
    assert caught.value.problems[0].file == str(copy_path)


# ----------------------------------------------------------------------------- real engine


# Counts of the primary analysis of complete remission, written out by hand from the fixtures.
PRIMARY_CR = [
    ("syn-alpha-2013", 3, 3),
    ("syn-beta-2013", 1, 1),
    ("syn-gamma-2016", 3, 6),
    ("syn-epsilon-2017", 1, 1),
    ("syn-iota-2021", 1, 2),
]


def _numbers_equal(ours, theirs):
    """Recursive equality where NaN/inf in the engine's output are null in ours."""
    if isinstance(theirs, float) and not math.isfinite(theirs):
        return ours is None
    if isinstance(theirs, dict):
        return set(ours) >= set(theirs) and all(
            _numbers_equal(ours[k], v) for k, v in theirs.items()
        )
    if isinstance(theirs, (list, tuple)):
        return len(ours) == len(theirs) and all(
            _numbers_equal(a, b) for a, b in zip(ours, theirs, strict=True)
        )
    if hasattr(theirs, "item"):
        theirs = theirs.item()
    return ours == theirs


def test_numbers_equal_the_engine_for_the_same_data(studies, config):
    from stsmeta.stats import pool

    config = {**config, "subgroups": {}, "cumulative_by_year": False}  # fewer fits: faster
    doc = json.loads(dumps(analyse(studies, config, CR, "primary", pool_fn=pool)))
    ids = [s for s, _, _ in PRIMARY_CR]
    events = [e for _, e, _ in PRIMARY_CR]
    n = [m for _, _, m in PRIMARY_CR]
    level, study_ci = config["confidence_level"], config["study_ci"]

    def direct(method, e=events, m=n, s=ids, **extra):
        keys = ("method", "transform", "tau2", "ci", "pi", "prior_mu", "prior_tau", "thresholds")
        kwargs = {k: method[k] for k in keys if k in method}
        return pool(e, m, **kwargs, level=level, study_ci=study_ci, studies=s, **extra).to_dict()

    primary = config["methods"]["primary"]
    assert _numbers_equal(doc, direct(primary))
    for name, method in config["methods"]["secondary"].items():
        assert _numbers_equal(doc["secondary"][name], direct(method)), name
    drop = 2  # leave out syn-gamma-2016
    # Leave-one-out rows show estimate and Wald CI only: fitted without profile intervals.
    loo = direct(
        primary,
        events[:drop] + events[drop + 1 :],
        n[:drop] + n[drop + 1 :],
        ids[:2] + ids[3:],
        profile=False,
    )
    loo.pop("studies")  # steps carry no study list
    assert _numbers_equal(doc["leave_one_out"]["syn-gamma-2016"], loo)


def test_cli_writes_byte_identical_json(tmp_path):
    config_path = tmp_path / "config.yaml"
    raw = _repo_config()
    raw["scenarios"] = {"primary": {"label": "Primary analysis"}}
    raw["leave_one_out"] = False
    raw["cumulative_by_year"] = False
    raw["subgroups"] = {}
    raw["methods"]["selection"] = "fixed"  # the coverage rule needs a coverage summary
    import yaml

    config_path.write_text(yaml.safe_dump(raw))
    outputs = []
    for i in range(2):
        out = tmp_path / f"run{i}" / "primary.json"
        code = main(
            ["pool", "--config", str(config_path), "--outcome", CR, "--scenario", "primary"]
            + ["--out", str(out), *PATHS]
        )
        assert code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    doc = json.loads(outputs[0])
    assert doc["included"] == [s for s, _, _ in PRIMARY_CR]
    assert list(doc) == sorted(doc)
    assert not list((tmp_path / "run0").glob("*.tmp"))


def test_cli_reports_bad_config(tmp_path, capsys):
    config_path = tmp_path / "config.yaml"
    raw = _repo_config()
    raw["study_ci"] = "exact"
    import yaml

    config_path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "x.json"
    code = main(["pool", "--config", str(config_path), "--outcome", CR, "-o", str(out), *PATHS])
    assert code == 2
    assert f"error: {config_path}: study_ci: " in capsys.readouterr().err
    assert not out.exists()


def test_plan_fingerprint_follows_only_what_a_job_reads(config):
    base = plan_fingerprint(config, CR, "per_lesion")
    retitled = copy.deepcopy(config)
    retitled["report"]["title"] = "Another title"
    retitled["scenarios"]["literal"]["label"] = "Renamed"
    retitled["subgroups"] = {}  # used by the primary scenario only
    assert plan_fingerprint(retitled, CR, "per_lesion") == base
    assert plan_fingerprint(retitled, CR, "primary") != plan_fingerprint(config, CR, "primary")
    for change in (
        lambda c: c["methods"]["secondary"]["ft_dl"].__setitem__("tau2", "REML"),
        lambda c: c["scenarios"]["per_lesion"].__setitem__("use_alternatives", ["x"]),
        lambda c: c["eligibility"].__setitem__("routes", ["intralesional"]),
        lambda c: c.__setitem__("confidence_level", 0.9),
    ):
        changed = copy.deepcopy(config)
        change(changed)
        assert plan_fingerprint(changed, CR, "per_lesion") != base


def test_workflow_start_up_imports_no_numerical_library():
    # common.smk imports these at every Snakemake start (a no-op run included), and analysis
    # uses the engine's result fields: numpy, scipy and matplotlib must stay out of that path.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import stsmeta.pool.analysis, stsmeta.archive, stsmeta.cli.normalise, stsmeta.config\n"
        "import stsmeta.coverage.plan, stsmeta.errors, stsmeta.evidence.studyfile\n"
        # The certainty judgements' check before an archive (common.smk).
        "import stsmeta.presentation.certainty, stsmeta.selection\n"
        "from stsmeta.stats.results import NUMERIC_FIELDS\n"
        "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_condition_and_timepoint_class_restrict_a_scenario(studies, config):
    # The synthetic outcomes are deposit clearance at week 12; one study is made ulcer healing
    # assessed later, and each restriction leaves out exactly what it names.
    changed = copy.deepcopy(studies)
    beta = next(s for s in changed if s["study_id"] == "syn-beta-2013")
    for outcome in beta["outcomes"]:
        outcome["condition"], outcome["timepoint_class"] = "ulcer_healing", "later"
    plan = copy.deepcopy(config)
    plan["scenarios"]["deposits_only"] = {
        "label": "SYNTHETIC deposits only",
        "exclude_conditions": ["ulcer_healing"],
    }
    plan["scenarios"]["by_week_12"] = {
        "label": "SYNTHETIC by week 12",
        "exclude_timepoint_classes": ["later", "not_stated"],
    }
    config_checked, problems = load_config(plan)
    assert problems == []
    primary = {r.study_id for r in build_dataset(changed, config_checked, CR, "primary").rows}
    for scenario, code in (("deposits_only", "condition"), ("by_week_12", "timepoint_class")):
        dataset = build_dataset(changed, config_checked, CR, scenario)
        assert {r.study_id for r in dataset.rows} == primary - {"syn-beta-2013"}
        excluded = {e.study_id: e for e in dataset.excluded}
        assert excluded["syn-beta-2013"].criteria == (code,)


def test_leave_one_out_fits_each_distinct_dataset_once():
    # SYNTHETIC rows: 8 studies of 3 distinct sizes. Leaving out any of the studies with the
    # same counts leaves the same dataset, so the steps are fitted once per distinct dataset,
    # with the numbers a direct fit gives.
    from stsmeta.pool.analysis import _runner
    from stsmeta.pool.eligibility import StudyRow
    from stsmeta.stats import pool

    counts = [(1, 1), (1, 1), (1, 1), (2, 3), (2, 3), (5, 6), (5, 6), (0, 1)]
    rows = [
        StudyRow(f"s{i}", f"S{i}", 2000 + i, e, n, "patients", "primary", False, None, None,
                 "primary", (), (), ())
        for i, (e, n) in enumerate(counts)
    ]  # fmt: skip
    calls = []

    def counting_pool(*args, **kwargs):
        calls.append(1)
        return pool(*args, **kwargs)

    method = {"method": "glmm", "label": "GLMM"}
    run = _runner(counting_pool, method, 0.95, "cp")
    steps = {r.study_id: run([o for o in rows if o is not r], profile=False) for r in rows}
    assert len(calls) == len(set(counts))  # 4 distinct datasets, not 8 fits
    fresh = _runner(pool, method, 0.95, "cp")  # its own memory: a direct fit
    direct = fresh([o for o in rows if o.study_id != "s4"], profile=False)
    assert steps["s3"] == steps["s4"] == direct
    assert steps["s0"] != steps["s3"]
    # A step is a copy: changing one result changes no other.
    steps["s0"]["estimate"] = -1.0
    assert steps["s1"]["estimate"] != -1.0


def _row(sid, e, n):
    """A SYNTHETIC study row of the primary analysis."""
    from stsmeta.pool.eligibility import StudyRow

    return StudyRow(sid, sid.upper(), 2000, e, n, "patients", "primary", False, None, None,
                    "primary", (), (), ())  # fmt: skip


def test_the_same_pooling_is_computed_once_and_returned_as_a_copy():
    from stsmeta.pool.pooling import pool_rows

    rows = [_row("s1", 1, 2), _row("s2", 3, 4), _row("s3", 0, 5)]
    fake = RecordingPool()
    method = {"method": "glmm", "label": "GLMM"}
    kwargs = {"level": 0.95, "study_ci": "cp", "pool_fn": fake}
    first = pool_rows(rows, method, **kwargs)
    again = pool_rows(list(rows), dict(method), **kwargs)
    assert len(fake.calls) == 1 and again == first
    again["estimate"] = -1.0  # a copy: changing one result changes no other
    assert pool_rows(rows, method, **kwargs)["estimate"] != -1.0
    # Anything that changes the numbers is a new pooling: the counts, the order of the rows
    # (the study list follows it), the method, the level, profile intervals or not.
    pool_rows([_row("s1", 1, 2), _row("s2", 3, 5), _row("s3", 0, 5)], method, **kwargs)
    pool_rows(rows[::-1], method, **kwargs)
    pool_rows(rows, {"method": "common", "label": "GLMM"}, **kwargs)
    pool_rows(rows, method, **{**kwargs, "level": 0.9})
    pool_rows(rows, method, profile=False, **kwargs)
    assert len(fake.calls) == 6
    # Steps (no profile intervals) are left to the analysis's step memory, by counts.
    pool_rows(rows, method, profile=False, **kwargs)
    assert len(fake.calls) == 7
    # Another engine never sees this one's results.
    other = RecordingPool()
    pool_rows(rows, method, **{**kwargs, "pool_fn": other})
    assert len(other.calls) == 1


def test_the_pooling_memory_holds_a_bounded_number_of_study_rows(monkeypatch):
    from stsmeta.pool import pooling

    def rows(prefix, k):
        return [_row(f"{prefix}{i}", 1, 2) for i in range(k)]

    monkeypatch.setattr(pooling, "_MEMO", pooling._Memo(entries=512, rows=5))
    fake = RecordingPool()

    def pool(selected):
        pooling.pool_rows(selected, {"method": "glmm"}, level=0.95, study_ci="cp", pool_fn=fake)

    a, b, big = rows("a", 3), rows("b", 2), rows("c", 6)
    for selected in (a, b, a, b):  # both held (5 rows): computed once each
        pool(selected)
    assert len(fake.calls) == 2
    pool(big)
    pool(big)  # over the bound: never kept
    assert len(fake.calls) == 4
    pool(rows("d", 1))  # one row over the bound: the least recently used ("a") goes
    assert len(fake.calls) == 5
    pool(b)
    assert len(fake.calls) == 5
    pool(a)
    assert len(fake.calls) == 6


def test_a_study_counting_lesions_is_left_out_of_an_analysis_of_patients(studies, config):
    """A study whose own reading counts lesions would turn a proportion of patients into a mix:
    it is left out with the reason, and taken in by a scenario that admits lesions."""
    changed = copy.deepcopy(studies)
    beta = next(s for s in changed if s["study_id"] == "syn-beta-2013")
    for outcome in beta["outcomes"]:
        outcome["unit"] = "lesions"
    data = build_dataset(changed, config, CR, "primary")
    assert _excluded(data)["syn-beta-2013"] == ("count_unit",)
    reason = {e.study_id: e.reason for e in data.excluded}["syn-beta-2013"]
    assert "counted in lesions" in reason and "counts patients" in reason
    assert not any("mix units" in note for note in data.notes)
    admitting = copy.deepcopy(config)
    admitting["scenarios"]["lesions_too"] = {
        **admitting["scenarios"]["per_lesion"],
        "count_units": ["patients", "lesions"],
    }
    data = build_dataset(changed, admitting, CR, "lesions_too")
    assert "syn-beta-2013" in _rows(data)
    assert any("mix units" in note for note in data.notes)


def test_judged_sha256_names_the_data_and_the_plan_settings_behind_the_numbers(studies, config):
    # A GRADE judgement quotes the pooled numbers: a change of level, eligibility, method or
    # prior must ask for it to be checked again, as a change of data does (judged_on); the
    # plan's wording, and what each fit chose, must not.
    def judged(cfg, sha=None, pool_fn=None):
        doc = analyse(
            studies, cfg, CR, "primary", pool_fn=pool_fn or RecordingPool(), input_sha256=sha
        )
        return doc.get("judged_sha256"), doc.get("data_sha256")

    base, data = judged(config, {"a": "1"})
    assert len(base) == 64 and base != data
    assert judged(config, {"a": "1"}) == (base, data)  # deterministic
    assert judged(config, {"a": "2"})[0] != base  # other data
    assert judged(config)[0] is None  # no checksums given: nothing to judge on

    def changed(edit) -> str:
        cfg = copy.deepcopy(config)
        edit(cfg)
        key, same_data = judged(cfg, {"a": "1"})
        assert same_data == data
        return key

    assert changed(lambda c: c.update(confidence_level=0.9)) != base
    assert changed(lambda c: c["eligibility"].update(routes=["intralesional"])) != base
    assert changed(lambda c: c["methods"]["primary"].update(ci="t")) != base
    # Wording gives no other number.
    assert changed(lambda c: c["methods"]["primary"].update(label="Other (SYNTHETIC)")) == base
    assert changed(lambda c: c["methods"]["primary"].update(reason="Reworded.")) == base
    assert changed(lambda c: c["outcomes"][CR].update(label="Other name")) == base

    # From the data and the plan alone, never from what a fit chose (quadrature nodes, a
    # check's rounding: they may differ in their last digits between machines).
    from stsmeta.pool.analysis import judged_sha256

    assert judged_sha256(data, config, CR, "primary") == base


def test_judged_sha256_is_known_before_pooling(studies, config):
    """What the workflow computes at start-up, from the extracts and the pooling job's plan,
    is what pooling records (an outside audit: a stale judgement was found only by the archive
    job, after every other job had rebuilt the results)."""
    from stsmeta.pool.analysis import (
        data_sha256,
        expected_judged_sha256,
        read_extracts,
        study_checksums,
    )
    from stsmeta.pool.extract import extract_text
    from stsmeta.selection import apply_selection

    # The checksums of the records, of the extracts the workflow writes, and of pooling's read.
    checksums = study_checksums(studies)
    assert study_checksums(json.loads(extract_text(s)) for s in studies) == checksums
    assert read_extracts(PATHS)[1] == checksums

    def pooled(cfg) -> dict:
        return analyse(studies, cfg, CR, "primary", pool_fn=RecordingPool(), input_sha256=checksums)

    fixed = copy.deepcopy(config)
    fixed["methods"]["selection"] = "fixed"
    doc = pooled(fixed)
    assert doc["data_sha256"] == data_sha256(checksums)
    assert expected_judged_sha256(checksums, fixed, CR, None) == [doc["judged_sha256"]]

    rule = copy.deepcopy(config)
    rule["methods"]["selection"] = "coverage"
    summary = {"recommendation": {"method": "bayes", "reason": "closest to 95% (SYNTHETIC)"}}
    chosen = pooled(apply_selection(rule, summary, "summary.json"))["judged_sha256"]
    assert expected_judged_sha256(checksums, rule, CR, summary) == [chosen]
    # Before the coverage study has run: one value per method the rule can choose, the one it
    # will choose among them; other data match none of them.
    before = expected_judged_sha256(checksums, rule, CR, None)
    assert chosen in before and len(before) > 1
    other = {**checksums, sorted(checksums)[0]: "0" * 64}
    assert not set(expected_judged_sha256(other, rule, CR, None)) & set(before)
    # A summary the pooling job would refuse says nothing of the method: every one.
    broken = {"recommendation": {"method": "no_such_method", "reason": ""}}
    assert expected_judged_sha256(checksums, rule, CR, broken) == before
