"""Reading what the figures and the report are made from.

The pooled results (``<pool-dir>/<outcome>/<scenario>.json``), the normalised studies, the
tables and the analysis plan (config.yaml), as described in docs/architecture.md. Every file read
is recorded with its SHA-256 so that the report can list the checksums of its inputs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stsmeta.errors import InputError, Problem
from stsmeta.spreadsheet import original_cell

# The tables the report reads (of stsmeta.outputs.TABLE_NAMES).
REPORT_TABLES = ("studies", "flags", "decisions")


def display_path(path: Path | str) -> str:
    """A path as shown in the report: relative to the working directory when below it.

    Relative paths keep the report identical wherever the results directory is built.
    """
    p = Path(path)
    try:
        return Path(os.path.relpath(p.resolve(), Path.cwd().resolve())).as_posix()
    except ValueError:
        return p.as_posix()


@dataclass
class InputFiles:
    """Files read so far, as (display path, sha256), in the order read."""

    checksums: dict[str, str] = field(default_factory=dict)

    def read_bytes(self, path: Path | str) -> bytes:
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise InputError(Problem(str(path), "", "file not found")) from None
        self.checksums[display_path(p)] = hashlib.sha256(data).hexdigest()
        return data

    def read_json(self, path: Path | str) -> dict:
        data = self.read_bytes(path)
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(Problem(str(path), "", f"not valid UTF-8 JSON ({exc})")) from None
        if not isinstance(value, dict):
            raise InputError(Problem(str(path), "", "expected a JSON object at the top level"))
        return value

    def read_config(self, path: Path | str) -> dict:
        """The configuration (``stsmeta.config.read_config``), its checksum recorded."""
        from stsmeta.config import read_config

        self.read_bytes(path)
        return read_config(path)

    def read_csv(self, path: Path | str) -> list[dict[str, str]]:
        try:
            text = self.read_bytes(path).decode("utf-8")
            rows = csv.DictReader(io.StringIO(text, newline=""))
            # Text cells as the study files give them (stsmeta.spreadsheet quoted formulas).
            return [{k: original_cell(v) if v else v for k, v in row.items()} for row in rows]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(Problem(str(path), "", f"not valid UTF-8 CSV ({exc})")) from None


@dataclass(frozen=True)
class Plan:
    """The parts of config.yaml that the figures and the report use, in display order."""

    config: dict
    path: str

    @property
    def outcomes(self) -> list[str]:
        """Outcome names, the primary outcome first, then in the order of config.yaml."""
        outcomes = self.config.get("outcomes") or {}
        return sorted(outcomes, key=lambda name: outcomes[name].get("role") != "primary")

    def outcome_label(self, outcome: str) -> str:
        spec = (self.config.get("outcomes") or {}).get(outcome) or {}
        return str(spec.get("label") or outcome)

    @property
    def scenarios(self) -> list[str]:
        """Scenario names, ``primary`` first, then in the order of config.yaml."""
        scenarios = list(self.config.get("scenarios") or {"primary": {}})
        return sorted(scenarios, key=lambda name: name != "primary")

    def scenario_label(self, scenario: str) -> str:
        spec = (self.config.get("scenarios") or {}).get(scenario) or {}
        return str(spec.get("label") or scenario)

    @property
    def secondary_methods(self) -> list[str]:
        return list((self.config.get("methods") or {}).get("secondary") or {})

    def method_label(self, name: str) -> str:
        methods = self.config.get("methods") or {}
        spec = methods.get("primary") if name == "primary" else (methods.get("secondary") or {})
        if name != "primary":
            spec = (spec or {}).get(name)
        return str((spec or {}).get("label") or name)

    @property
    def subgroups(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.config.get("subgroups") or {}).items()}

    @property
    def confidence_level(self) -> float:
        return float(self.config.get("confidence_level", 0.95))

    @property
    def report(self) -> dict:
        return self.config.get("report") or {}


def load_plan(path: Path | str, files: InputFiles) -> Plan:
    config = files.read_config(path)
    problems = []
    if not isinstance(config.get("outcomes"), dict) or not config["outcomes"]:
        problems.append(Problem(str(path), "outcomes", "must map each outcome name to its spec"))
    if "scenarios" in config and not isinstance(config["scenarios"], dict):
        problems.append(Problem(str(path), "scenarios", "must map scenario names to specs"))
    if problems:
        raise InputError(problems)
    return Plan(config=config, path=display_path(path))


def load_pooled(pool_dir: Path | str, plan: Plan, files: InputFiles) -> dict[str, dict[str, dict]]:
    """``{outcome: {scenario: pooled JSON}}`` for every outcome and scenario of the plan."""
    pooled: dict[str, dict[str, dict]] = {}
    missing = []
    for outcome in plan.outcomes:
        pooled[outcome] = {}
        for scenario in plan.scenarios:
            path = Path(pool_dir) / outcome / f"{scenario}.json"
            if not path.is_file():
                missing.append(
                    Problem(
                        str(path),
                        "",
                        f"no pooled result for outcome {outcome!r}, scenario {scenario!r} "
                        "(run `stsmeta pool --outcome` for it first)",
                    )
                )
                continue
            pooled[outcome][scenario] = files.read_json(path)
    if missing:
        raise InputError(missing)
    return pooled


def load_normalised(normalised: Iterable[Path | str], files: InputFiles) -> dict[str, dict]:
    """``{study_id: normalised study}``, sorted by study id.

    ``normalised`` lists the files: what the workflow declares as the job's inputs, so that a
    stale file of a removed study is never read. No folder is listed here.
    """
    paths = sorted(Path(p) for p in normalised)
    if not paths:
        raise InputError(Problem(str(normalised), "", "no normalised studies (*.json) given"))
    from stsmeta.evidence.model import read_normalised

    loaded, checksums = read_normalised(paths)
    studies = {}
    for path, study in zip(paths, loaded, strict=True):
        files.checksums[display_path(path)] = checksums[study["study_id"]]
        study["_path"] = str(path)
        studies[study["study_id"]] = study
    return dict(sorted(studies.items()))


def load_tables(tables_dir: Path | str, files: InputFiles) -> dict[str, list[dict[str, str]]]:
    """``{name: rows}`` for studies.csv, flags.csv and decisions.csv (all required)."""
    return {name: files.read_csv(Path(tables_dir) / f"{name}.csv") for name in REPORT_TABLES}


COVERAGE_KEYS = {
    "design": dict,
    "settings": dict,
    "methods": dict,
    "summary": list,
    "recommendation": dict,
}


def load_coverage(path: Path | str, files: InputFiles) -> dict:
    """The summary JSON of ``stsmeta coverage-summary``, checked for the parts the report uses."""
    doc = files.read_json(path)
    problems = [
        Problem(
            str(path),
            key,
            f"missing or not a JSON {kind.__name__} (expected the output "
            "of `stsmeta coverage-summary`)",
        )
        for key, kind in COVERAGE_KEYS.items()
        if not isinstance(doc.get(key), kind)
    ]
    if not problems:
        for i, row in enumerate(doc["summary"]):
            if not isinstance(row, dict) or not isinstance(row.get("method"), str):
                problems.append(Problem(str(path), f"summary[{i}].method", "must be a method name"))
        if not isinstance(doc["recommendation"].get("verdicts", []), list):
            problems.append(Problem(str(path), "recommendation.verdicts", "must be a list"))
    if problems:
        raise InputError(problems)
    return doc


def study_label(study_id: str, studies: dict[str, dict]) -> str:
    """The display label of a study ("Strazzula 2013"), or its id when unknown."""
    study = studies.get(study_id) or {}
    return str(study.get("label") or study_id)


def with_selected_primary(plan: Plan, pooled: dict[str, dict[str, dict]]) -> Plan:
    """The plan as the pooled results were computed: when the plan's rule
    (``methods.selection: coverage``) made another method primary, its methods rearranged the
    same way (``stsmeta.selection.apply_selection``), so that every label names the method that
    actually produced the numbers. The choice is read from the pooled results themselves."""
    from stsmeta.selection import apply_selection

    chosen = {
        (doc.get("primary_selection") or {}).get("method")
        for by_scenario in pooled.values()
        for doc in by_scenario.values()
    }
    chosen.discard(None)
    if len(chosen) > 1:
        raise InputError(
            Problem("pooled results", "primary_selection", f"differ ({sorted(chosen)}): rerun")
        )
    name = chosen.pop() if chosen else "primary"
    if name == "primary" or (plan.config.get("methods") or {}).get("selection") != "coverage":
        return plan
    doc = next(d for s in pooled.values() for d in s.values())
    reason = doc["primary_selection"].get("reason", "")
    summary = {"recommendation": {"method": name, "reason": reason}}
    return Plan(config=apply_selection(plan.config, summary, plan.path), path=plan.path)
