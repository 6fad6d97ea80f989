"""From normalised studies and the analysis plan to the pooled result of one outcome and scenario.

Who is in and why (:mod:`stsmeta.pool.eligibility`), the scenario's readings
(:mod:`stsmeta.pool.scenarios`) and pooling with one method (:mod:`stsmeta.pool.pooling`) are
put together here with subgroups, leave-one-out and cumulative pooling by year. The statistics
are done by ``stsmeta.stats.pool``; the pool stage only decides which counts go in.

Studies are the dicts of the normalised-study contract (docs/architecture.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from stsmeta.atomic_write import write_text_atomically
from stsmeta.pool.eligibility import (
    Dataset,
    StudyRow,
    build_dataset,
    cumulative_order,
    subgroup_left_out,
    subgroup_members,
)
from stsmeta.pool.pooling import PoolFunction, default_pool, pool_rows
from stsmeta.pool.scenarios import SCENARIO_DEFAULTS, outcome_label_of, scenario_settings
from stsmeta.pool.subgroup_tests import subgroup_difference
from stsmeta.pool.subgroups import NOT_REPORTED, not_evaluable_note

# Plain Python (no numpy): the JSON form of a pooled result.
from stsmeta.stats.results import json_ready

Run = Callable[..., dict[str, Any]]


def plan_fingerprint(config: Mapping, outcome: str, scenario: str) -> str:
    """The parts of the plan that one pooling job reads, as canonical JSON.

    For the Snakefile's ``params``: a job then reruns when these change, not when, say, the
    report title does.
    """
    scenarios = config["scenarios"]
    used = {
        "outcome": {outcome: config["outcomes"].get(outcome)},
        "scenario": {scenario: scenarios.get(scenario)},
        # Scenario names appear in the systemic-STS exclusion reason.
        "systemic_sts_scenarios": sorted(
            n
            for n, s in scenarios.items()
            if isinstance(s, Mapping) and s.get("include_systemic_sts")
        ),
        "eligibility": config.get("eligibility"),
        "methods": config.get("methods"),
        "study_ci": config.get("study_ci", "cp"),
        "confidence_level": config.get("confidence_level", 0.95),
        "plausible_concentration_mg_per_ml": config.get("plausible_concentration_mg_per_ml"),
    }
    if scenario == "primary":
        used["subgroups"] = config.get("subgroups") or {}
        used["leave_one_out"] = config.get("leave_one_out", True)
        used["cumulative_by_year"] = config.get("cumulative_by_year", True)
    return json.dumps(used, sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------- the document


def _runner(pool_fn: PoolFunction, primary: Mapping, level: float, study_ci: str) -> Run:
    """Pool selected rows with a method (the primary unless given)."""

    # Steps (profile=False) carry no study rows, so their numbers are those of the multiset of
    # (events, n) alone: with many studies of a few sizes, leaving out any one of the studies
    # of one size gives the same dataset, fitted once (k fits become a handful).
    steps: dict[tuple, dict[str, Any]] = {}

    def run(
        selected: Sequence[StudyRow], method: Mapping = primary, profile: bool = True
    ) -> dict[str, Any]:
        key = None
        if not profile:
            counts = tuple(sorted((r.events, r.n) for r in selected))
            key = (json.dumps(method, sort_keys=True, default=str), counts)
            if key in steps:
                return copy.deepcopy(steps[key])
        result = pool_rows(
            selected, method, level=level, study_ci=study_ci, pool_fn=pool_fn, profile=profile
        )
        if not profile:
            # A leave-one-out or cumulative step is named by the study left out or added; its
            # own study list would repeat the included studies k times (k^2 entries in all).
            result.pop("studies", None)
            steps[key] = copy.deepcopy(result)
        return result

    return run


def _main_fields(
    config: Mapping, dataset: Dataset, settings: Mapping, level: float, run: Run
) -> dict[str, Any]:
    """The fields of every pooled result besides the primary method's numbers."""
    outcome, rows = dataset.outcome, dataset.rows
    primary = config["methods"]["primary"]
    return {
        "outcome": outcome,
        "outcome_label": outcome_label_of(config, outcome),
        "outcome_role": config["outcomes"][outcome]["role"],
        "outcome_definition": config["outcomes"][outcome]["definition"],
        "scenario": dataset.scenario,
        "scenario_label": settings["label"],
        "scenario_description": settings["description"],
        "scenario_settings": {k: settings[k] for k in SCENARIO_DEFAULTS},
        "scenario_notes": list(dataset.notes),
        "method_label": primary["label"],
        "method_reason": primary.get("reason", ""),
        # What the plan's selection rule chose and why (config methods.selection).
        "primary_selection": dict(config["methods"].get("selected") or {"rule": "fixed"}),
        "confidence_level": level,
        "included": [r.study_id for r in rows],
        "units": sorted({r.unit for r in rows if r.unit}),
        "mixes_units": len({r.unit for r in rows if r.unit}) > 1,
        "included_studies": [r.to_dict() for r in rows],
        "excluded": [e.to_dict() for e in dataset.excluded],
        "applied": [a.to_dict() for a in dataset.applied],
        "secondary": {
            name: {"label": method["label"], **run(rows, method)}
            for name, method in sorted(config["methods"].get("secondary", {}).items())
        },
    }


def _note_not_evaluable(
    levels: Mapping[str, dict[str, Any]], rows: Sequence[StudyRow], variable: str
) -> None:
    """Say so on a level whose count holds patients who could not be assessed: a level made of
    one patient who died before the assessment would otherwise read as a failure (0/1)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        for count in row.split(variable).levels:
            if count.not_evaluable:
                found.setdefault(count.level, []).append((count.not_evaluable, row.label))
    for level_, entries in found.items():
        result = levels.get(level_)
        if result is None:
            continue
        note = not_evaluable_note(
            sum(c for c, _ in entries), int(result.get("n") or 0), [label for _, label in entries]
        )
        result["warnings"] = [*(result.get("warnings") or []), note]


def _subgroup_fields(config: Mapping, rows: Sequence[StudyRow], run: Run) -> dict[str, Any]:
    """Pooled subgroups, the studies each variable leaves out and the tests of difference."""
    subgroups = config.get("subgroups") or {}
    pooled = {
        variable: {
            level_: run(members) for level_, members in subgroup_members(rows, variable).items()
        }
        for variable in sorted(subgroups)
    }
    for variable, levels in pooled.items():
        _note_not_evaluable(levels, rows, variable)
    return {
        "subgroup_labels": dict(sorted(subgroups.items())),
        "subgroups": pooled,
        "subgroup_left_out": {
            variable: subgroup_left_out(rows, variable) for variable in sorted(subgroups)
        },
        "subgroup_differences": {
            variable: subgroup_difference(
                pooled[variable],
                subgroup_members(rows, variable),
                NOT_REPORTED,
                config["methods"]["primary"]["method"],
            )
            for variable in sorted(subgroups)
        },
    }


def _step_fields(config: Mapping, rows: Sequence[StudyRow], run: Run) -> dict[str, Any]:
    """Leave-one-out and cumulative pooling by year, as the plan asks."""
    fields: dict[str, Any] = {}
    if config.get("leave_one_out", True):
        fields["leave_one_out"] = {
            r.study_id: run([o for o in rows if o is not r], profile=False) for r in rows
        }
    if config.get("cumulative_by_year", True):
        ordered = cumulative_order(rows)
        fields["cumulative"] = [
            {
                "added_study": r.study_id,
                "year": r.year,
                **run(ordered[: i + 1], profile=False),
            }
            for i, r in enumerate(ordered)
        ]
    return fields


def data_sha256(input_sha256: Mapping[str, str]) -> str:
    """The pooled result's ``data_sha256``: one checksum over its studies' extract checksums
    (``study_checksums``), as the ``sha  id`` lines of ``sha256sum`` sorted by study id."""
    used = dict(sorted(input_sha256.items()))
    return hashlib.sha256(
        "".join(f"{sha}  {sid}\n" for sid, sha in used.items()).encode()
    ).hexdigest()


def _checksum_fields(input_sha256: Mapping[str, str]) -> dict[str, Any]:
    return {
        "input_sha256": dict(sorted(input_sha256.items())),
        "data_sha256": data_sha256(input_sha256),
    }


def analyse(
    studies: Sequence[Mapping],
    config: Mapping,
    outcome: str,
    scenario: str,
    *,
    pool_fn: PoolFunction | None = None,
    input_sha256: Mapping[str, str] | None = None,
    config_file: str = "config.yaml",
) -> dict[str, Any]:
    """The pooled-result document of one outcome and scenario (see docs/architecture.md)."""
    pool_fn = pool_fn or default_pool()
    dataset = build_dataset(studies, config, outcome, scenario, config_file=config_file)
    settings = scenario_settings(config, scenario)
    level = float(config.get("confidence_level", 0.95))
    study_ci = config.get("study_ci", "cp")
    run = _runner(pool_fn, config["methods"]["primary"], level, study_ci)
    rows = dataset.rows

    document = run(rows)
    extra = _main_fields(config, dataset, settings, level, run)
    if scenario == "primary":
        extra.update(_subgroup_fields(config, rows, run))
        extra.update(_step_fields(config, rows, run))
    if input_sha256 is not None:
        extra.update(_checksum_fields(input_sha256))
    clash = sorted(set(extra) & set(document))
    if clash:
        raise RuntimeError(
            f"pooled result already has field(s) {clash}; rename them in analysis.py"
        )
    document.update(extra)
    if "data_sha256" in document:
        document["judged_sha256"] = judged_sha256(
            document["data_sha256"], config, outcome, scenario
        )
    return json_ready(document)


#: Keys of the plan that hold words, not settings: a label, a reason or a definition reworded
#: gives no other number.
_WORDING = frozenset({"label", "reason", "description", "definition"})


def _settings_only(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _settings_only(v) for k, v in value.items() if k not in _WORDING}
    if isinstance(value, list):
        return [_settings_only(v) for v in value]
    return value


def judged_sha256(data_sha256: str, config: Mapping, outcome: str, scenario: str) -> str:
    """What a certainty (GRADE) judgement of this result is made on: its data and the plan that
    gives its numbers, as the pooling job reads it (``plan_fingerprint``: eligibility, methods
    and priors, the method the selection rule chose, level, scenario), without the plan's
    wording. A judgement quotes those numbers, so a change of any of these asks for it to be
    checked again, as a change of data does (data/certainty.yaml ``judged_on``). From the plan,
    not from the result's ``settings``, which hold what each fit chose (quadrature nodes, a
    check's rounding) and may differ in the last digits between machines."""
    plan = _settings_only(json.loads(plan_fingerprint(config, outcome, scenario)))
    text = data_sha256 + "\n" + json.dumps(plan, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def expected_judged_sha256(
    input_sha256: Mapping[str, str],
    config: Mapping,
    outcome: str,
    summary: Mapping | None,
    config_file: str = "config.yaml",
) -> list[str]:
    """The ``judged_sha256`` that pooling studies with these extract checksums
    (``study_checksums``) will give the outcome's primary result, known before pooling: the
    workflow compares it with data/certainty.yaml ``judged_on`` at start-up, so that a stale
    judgement stops ``snakemake archive`` before any job runs. ``config`` is the pooling job's
    (results/config/pool.json); ``summary`` the coverage summary its ``--selection`` reads.

    One value when the primary method is known: a fixed selection, or the summary given. When
    the plan's rule (``methods.selection: coverage``) awaits a summary not yet computed
    (``summary`` None), one value per method the rule can choose (the configured primary and
    every secondary method): a judgement matching none of them is stale whatever the coverage
    study says."""
    from stsmeta.errors import InputError
    from stsmeta.selection import pooling_config, selection_candidates

    data = data_sha256(input_sha256)
    plans = None
    if summary is not None:
        try:
            plans = [pooling_config(config, summary, config_file)]
        except InputError:  # the pooling job says what is wrong with the summary
            plans = None
    if plans is None:
        plans = [pooling_config(config, s, config_file) for s in selection_candidates(config)]
    return sorted({judged_sha256(data, plan, outcome, "primary") for plan in plans})


# ----------------------------------------------------------------------------- files


def read_extracts(paths: Iterable[str | os.PathLike]) -> tuple[list[dict], dict[str, str]]:
    """Read normalised studies (whole records or the workflow's analysis extracts): each
    study's analysis extract, and the SHA-256 of that extract by study id.

    Every study passes through ``analysis_extract`` here, so the analysis sees the same fields
    whichever of the two files it is given, and the checksum names what was analysed: fixing a
    typo in a locator changes neither.
    """
    from stsmeta.evidence.model import read_normalised
    from stsmeta.pool.extract import analysis_extract

    records, _ = read_normalised(paths)
    return [analysis_extract(r) for r in records], study_checksums(records)


def study_checksums(studies: Iterable[Mapping]) -> dict[str, str]:
    """Each study's extract checksum by study id (the pooled result's ``input_sha256``), from
    normalised records or extracts alike: what pooling reads (``read_extracts``), and what the
    workflow computes at start-up from the extracts it writes (common.smk)."""
    from stsmeta.pool.extract import extract_sha256

    return {s["study_id"]: extract_sha256(s) for s in studies}


def dumps(document: Mapping) -> str:
    """The pooled JSON text: sorted keys, 2-space indent, no NaN, trailing newline."""
    return json.dumps(json_ready(document), sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, document: Mapping) -> None:
    """Write atomically (temporary file in the same folder, then rename)."""
    write_text_atomically(path, dumps(document))
