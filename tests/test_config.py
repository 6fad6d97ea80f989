"""The analysis plan: config.yaml, its schema, and the problems a bad plan produces."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from stsmeta.config import SCHEMA_PATH, load_config, load_schema, primary_outcome, require_config
from stsmeta.errors import InputError, Problem

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def test_repository_config_is_valid(raw):
    config, problems = load_config(CONFIG)
    assert problems == []
    assert primary_outcome(config) == "complete_remission"
    assert "primary" in config["scenarios"]
    assert config["outcomes"]["any_response"]["role"] == "secondary"


def test_snakemake_validate_accepts_config_and_fills_the_same_defaults(raw):
    from snakemake.utils import validate

    by_snakemake = copy.deepcopy(raw)
    validate(by_snakemake, str(SCHEMA_PATH))
    ours, problems = load_config(raw)
    assert problems == []
    assert by_snakemake == ours


def test_defaults_are_filled(raw):
    trimmed = copy.deepcopy(raw)
    for key in ("study_ci", "confidence_level", "leave_one_out", "cumulative_by_year"):
        trimmed.pop(key, None)
    trimmed["scenarios"]["minimal"] = {"label": "Minimal"}
    config, problems = load_config(trimmed)
    assert problems == []
    assert config["study_ci"] == "cp"
    assert config["confidence_level"] == 0.95
    assert config["leave_one_out"] is True
    assert config["scenarios"]["minimal"]["use_alternatives"] == []
    assert config["scenarios"]["minimal"]["include_systemic_sts"] is False


def _walk(node, path):
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield [*path, "properties", name], sub
        for key, value in node.items():
            yield from _walk(value, [*path, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, [*path, i])


def test_every_schema_field_has_a_description():
    missing = [
        path
        for path, sub in _walk(load_schema(), [])
        if not (isinstance(sub, dict) and ("description" in sub or "$ref" in sub))
    ]
    assert missing == []


def test_plan_document_covers_every_top_level_field():
    text = (ROOT / "docs" / "analysis-plan.md").read_text(encoding="utf-8")
    for field in load_schema()["properties"]:
        assert f"`{field}`" in text, field


def _mutated(raw, change):
    config = copy.deepcopy(raw)
    change(config)
    return config


def _set(path, value):
    def change(config):
        node = config
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _drop(path):
    def change(config):
        node = config
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


BAD = [
    (_set(["methods", "primary", "method"], "mcmc"), "methods.primary.method", "glmm, ivre"),
    (
        _set(["methods", "secondary", "common_exact", "tau2"], "DL"),
        "methods.secondary.common_exact.tau2",
        "not used by method 'common'",
    ),
    (_set(["methods", "primary", "tau2"], "REML"), "methods.primary.tau2", "'ML'"),
    (_drop(["methods", "primary", "reason"]), "methods.primary.reason", "required"),
    (_set(["methods", "primary", "reason"], "  "), "methods.primary.reason", "empty"),
    (
        _set(["methods", "secondary", "ft_dl", "colour"], "red"),
        "methods.secondary.ft_dl.colour",
        "allowed:",
    ),
    (_set(["scenarios", "Bad-Name"], {"label": "x"}), "scenarios.Bad-Name", "lower-case"),
    (
        _set(["scenarios", "primary", "use_alternatives"], ["per_lesion"]),
        "scenarios.primary.use_alternatives",
        "allowed: description, label",
    ),
    (_drop(["scenarios", "primary"]), "scenarios.primary", "required"),
    (
        _set(["scenarios", "with_systemic_sts", "include_systemic_sts"], "yes"),
        "scenarios.with_systemic_sts.include_systemic_sts",
        "true or false",
    ),
    (_set(["confidence_level"], 95), "confidence_level", "< 1"),
    (
        _set(["plausible_concentration_mg_per_ml"], [400, 10]),
        "plausible_concentration_mg_per_ml",
        "below the upper bound",
    ),
    (
        _set(["plausible_concentration_mg_per_ml"], [10]),
        "plausible_concentration_mg_per_ml",
        "exactly 2",
    ),
    (_set(["outcomes", "any_response", "role"], "primary"), "outcomes", "exactly one"),
    (_set(["subgroups", "sex"], "Sex"), "subgroups.sex", "calcinosis_type, disease"),
    (_set(["study_ci"], "exact"), "study_ci", "cp, wilson"),
    (_set(["report", "authors"], "me"), "report.authors", "must be a list"),
    (_set(["eligibility", "routes"], []), "eligibility.routes", "at least 1"),
    (_set(["report", "date"], "2026-13-01"), "report.date", "YYYY-MM-DD"),
    (_set(["report", "date"], "24 Nov 2026"), "report.date", "YYYY-MM-DD"),
    (_set(["report", "version"], "v1"), "report.version", "such as 0.1.0"),
    (_set(["report", "date"], 2026), "report.date", "not a date"),
]


@pytest.mark.parametrize("text", ["date: 2026-11-24", "date: '2026-11-24'"])
def test_report_date_quoted_or_not(text):
    from snakemake.utils import validate

    raw = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    raw["report"]["date"] = yaml.safe_load(text)["date"]
    _, problems = load_config(raw)
    assert problems == []
    validate(raw, str(SCHEMA_PATH))


@pytest.mark.parametrize(("change", "field", "message"), BAD)
def test_bad_plan_names_config_file_and_field(raw, change, field, message):
    _, problems = load_config(_mutated(raw, change))
    assert problems, "the bad plan was accepted"
    assert any(p.file == "config.yaml" and p.field == field for p in problems), problems
    text = " | ".join(str(p) for p in problems if p.field == field)
    assert message in text
    assert text.startswith(f"config.yaml: {field}: ")


def test_problems_name_the_file_read(tmp_path, raw):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(_mutated(raw, _set(["study_ci"], "exact"))))
    with pytest.raises(InputError) as caught:
        require_config(path)
    assert str(caught.value).startswith(f"{path}: study_ci: ")


def test_unreadable_and_malformed_files(tmp_path):
    _, problems = load_config(tmp_path / "missing.yaml")
    assert problems and "cannot be read" in problems[0].message
    bad = tmp_path / "bad.yaml"
    bad.write_text("outcomes: [unclosed\n")
    _, problems = load_config(bad)
    assert problems and re.fullmatch(r"line \d+", problems[0].field)
    assert problems[0].message.startswith("malformed YAML (column ")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    _, problems = load_config(listed)
    assert problems and "must be a mapping" in problems[0].message


def test_each_unknown_field_is_its_own_problem(raw):
    changed = _mutated(raw, _set(["report", "colour"], "red"))
    changed["report"]["size"] = 3
    _, problems = load_config(changed)
    assert [p.field for p in problems] == ["report.colour", "report.size"]


def test_problems_of_a_command_line_override_name_it():
    """A bad value given with --config is named as such, not as config.yaml's (which holds a
    valid value); a value inside a --config mapping, which Snakemake reads as text, says to use
    a --configfile."""
    from stsmeta.config import attribute_overrides

    problems = [
        Problem("config.yaml", "confidence_level", "2 is too large; must be < 1"),
        Problem("config.yaml", "coverage.shards", "must be a whole number, not the text '3'"),
        Problem("config.yaml", "study_ci", "'exact' is not one of cp, wilson"),
    ]
    overrides = {"confidence_level": 2, "coverage": {"shards": "3"}}
    named = attribute_overrides(problems, overrides)
    assert [(p.file, p.field) for p in named] == [
        ("--config", "confidence_level"),
        ("--config", "coverage.shards"),
        ("config.yaml", "study_ci"),
    ]
    assert named[0].message == problems[0].message
    assert named[1].message.endswith("give them in a --configfile instead")
    assert attribute_overrides(problems, {}) == problems
    # Snakemake merges --config into the files key by key: a field of the same mapping that
    # --config did not set is the files'.
    methods = Problem("config.yaml", "coverage.methods[0]", "'x' is not a configured method")
    assert attribute_overrides([methods], overrides) == [methods]


@pytest.mark.parametrize("stage", ["pool", "report", "archive"])
def test_the_same_settings_give_the_same_stage_file_whatever_their_order(stage):
    # `--config confidence_level=0.9` puts its key first; the same value typed into config.yaml
    # keeps its place. The stage files (and the report's input fingerprint) must not differ.
    from stsmeta.config import effective_config

    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["confidence_level"] = 0.9
    moved = {
        "confidence_level": 0.9,
        **{k: v for k, v in config.items() if k != "confidence_level"},
    }
    assert list(moved) != list(config)
    assert effective_config(moved, stage) == effective_config(config, stage)
    # Below the top level the plan's order stays: outcomes as config.yaml lists them.
    if stage == "pool":
        import json

        written = json.loads(effective_config(config, stage))["config"]["outcomes"]
        assert list(written) == list(config["outcomes"])


def _plan_with(change) -> list:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    change(config)
    return load_config(config)[1]


@pytest.mark.parametrize(
    ("key", "value"),
    [("prior_tau", "half-normal:0"), ("prior_tau", "half-cauchy:."), ("prior_mu", "normal:.:2")],
)
def test_a_prior_the_engine_would_refuse_is_refused_with_the_config(key, value):
    # The schema's pattern let these through; the coverage study or the report then stopped.
    def change(config):
        config["methods"]["secondary"]["bayes_mu_n2"][key] = value

    problems = _plan_with(change)
    assert [p.field for p in problems] == [f"methods.secondary.bayes_mu_n2.{key}"]
    assert "positive scale" in problems[0].message


def test_a_misspelt_scenario_term_is_refused_not_silently_matched_to_nothing():
    def change(config):
        config["scenarios"]["without_calciphylaxis"]["exclude_calcinosis_types"] = [
            "calciphylaxsis",
            "Calciphylaxis",  # the label: the study files hold the term
        ]

    problems = _plan_with(change)
    assert [p.field for p in problems] == [
        "scenarios.without_calciphylaxis.exclude_calcinosis_types"
    ] * 2
    assert "'calciphylaxsis' is not a calcinosis type term" in problems[0].message
    assert "did you mean 'calciphylaxis'?" in problems[1].message


@pytest.mark.parametrize(
    ("rules", "field", "words"),
    [
        (
            {"imprecision_serious_width": 0.5, "imprecision_very_serious_width": 0.3},
            "imprecision_very_serious_width",
            "(0.3) is below imprecision_serious_width (0.5)",
        ),
        (  # above the default 'very serious' 0.5, which the file does not set
            {"imprecision_serious_width": 0.6},
            "imprecision_serious_width",
            "(0.5, the default) is below imprecision_serious_width (0.6)",
        ),
        (
            {"inconsistency_serious_tau": 1.2, "inconsistency_very_serious_tau": 1.0},
            "inconsistency_very_serious_tau",
            "(1.0) is below",
        ),
    ],
)
def test_certainty_thresholds_must_grow_with_seriousness(rules, field, words):
    def change(config):
        config.setdefault("review", {})["certainty_rules"] = dict(rules)

    problems = _plan_with(change)
    assert [p.field for p in problems] == [f"review.certainty_rules.{field}"]
    assert words in problems[0].message and "at least the 'serious' one" in problems[0].message


def test_equal_certainty_thresholds_are_coherent():
    def change(config):
        rules = {"inconsistency_serious_tau": 1.0, "inconsistency_very_serious_tau": 1.0}
        config.setdefault("review", {}).setdefault("certainty_rules", {}).update(rules)

    assert _plan_with(change) == []


def test_a_scenario_term_message_reads_as_english():
    def change(config):
        config["scenarios"]["without_calciphylaxis"]["exclude_diseases"] = ["sclerodrema"]

    (problem,) = _plan_with(change)
    assert "'sclerodrema' is not an underlying disease term" in problem.message


def test_excluded_study_ids_must_name_study_files():
    from stsmeta.pool.scenarios import unknown_excluded_studies

    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["scenarios"]["primary"]["exclude_studies"] = ["smith-2013", "smith-2031"]
    problems = unknown_excluded_studies(config, ["smith-2013", "galassi-2019"], "config.yaml")
    assert [(p.file, p.field) for p in problems] == [
        ("config.yaml", "scenarios.primary.exclude_studies")
    ]
    assert "no study 'smith-2031'" in problems[0].message


def test_an_outcome_no_study_file_can_record_is_refused():
    # A config audit: `pain_relief` was accepted and reported with no study and empty figures.
    def change(config):
        config["outcomes"]["pain_relief"] = {
            "role": "secondary",
            "label": "Pain relief",
            "definition": "SYNTHETIC",
        }

    problems = _plan_with(change)
    assert [p.field for p in problems] == ["outcomes.pain_relief"]
    assert "outcomes: any_response, complete_remission" in problems[0].message
