"""Imports run one way (docs/architecture.md): cli -> stages -> shared code -> errors and I/O.

Read from the source with `ast` (imports inside functions included), so that a new import that
runs back up, or a new dependency between stages, fails here and is either removed or added to
the documented exceptions below with its reason.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "stsmeta"
RULES = Path(__file__).resolve().parents[1] / "workflow" / "rules"

STAGES = {"evidence", "pool", "coverage", "figures", "report", "archive"}
# The data model: read by every stage and by the shared presentation code.
DATA_MODEL = {"stsmeta.evidence.model", "stsmeta.evidence.vocabulary"}
# Stage -> stage imports that are deliberate, each with its reason.
EXCEPTIONS = {
    # The coverage study simulates the primary analysis's design: the pooled rows by construction.
    ("coverage", "stsmeta.pool.eligibility"),
    # The one reader of the archive layout, used to compare with the previous version.
    ("report", "stsmeta.archive"),
}


def _owner(path: Path) -> str:
    """'cli', a stage name, or 'shared' for everything else in the package."""
    first = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if first == "cli" or first == "__main__":
        return "cli"
    return first if first in STAGES else "shared"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("stsmeta.")}


def _stage_of(module: str) -> str | None:
    part = module.split(".")[1]
    return part if part in STAGES else ("cli" if part == "cli" else None)


def _violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        owner = _owner(path)
        for module in sorted(_imports(path)):
            target = _stage_of(module)
            if target is None or target == owner or owner == "cli":
                continue
            if module in DATA_MODEL or any(module.startswith(m + ".") for m in DATA_MODEL):
                continue
            if target != "cli" and any(
                owner == o and (module == m or module.startswith(m + ".")) for o, m in EXCEPTIONS
            ):
                continue
            found.append(f"{path.relative_to(PACKAGE)} ({owner}) imports {module}")
    return found


def test_no_import_runs_back_up_or_across_stages():
    assert _violations() == []


def test_the_rules_import_no_command_line_module():
    for rule_file in sorted(RULES.glob("*.smk")):
        text = rule_file.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) stsmeta\.cli\b", text, re.M), rule_file.name


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    # The test could fail: a shared module importing a stage is reported.
    fake = PACKAGE / "outputs.py"
    original = _imports

    def with_extra(path):
        extra = {"stsmeta.report.content"} if path == fake else set()
        return original(path) | extra

    monkeypatch.setitem(globals(), "_imports", with_extra)
    assert any("outputs.py (shared) imports stsmeta.report" in v for v in _violations())


def test_a_code_change_reruns_the_stages_that_run_it(tmp_path):
    # The rules take stage_code_digest as a parameter: an engine change must change the pool
    # and coverage digests (their results are stale), a report change only the report's.
    from stsmeta.code_digest import STAGE_CODE, stage_code_digest

    copy = tmp_path / "stsmeta"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = {stage: stage_code_digest(copy, stage) for stage in STAGE_CODE}
    engine = copy / "stats" / "bayes.py"
    engine.write_text(engine.read_text() + "\n# changed\n")
    after = {stage: stage_code_digest(copy, stage) for stage in STAGE_CODE}
    assert {s for s in STAGE_CODE if before[s] != after[s]} == {
        "pool",
        "coverage",
        "figures",  # it reads stats.results (which warnings mark a method as misleading)
        "report",
    }
    report = copy / "report" / "harms.py"
    report.write_text(report.read_text() + "\n# changed\n")
    again = {stage: stage_code_digest(copy, stage) for stage in STAGE_CODE}
    assert {s for s in STAGE_CODE if again[s] != after[s]} == {"report"}
    shared = copy / "config.py"
    shared.write_text(shared.read_text() + "\n# changed\n")
    last = {stage: stage_code_digest(copy, stage) for stage in STAGE_CODE}
    assert all(last[s] != again[s] for s in STAGE_CODE)


# The modules each stage's jobs run (workflow/rules: `python -m stsmeta <command>`, or the
# function a `run:` rule calls), and subpackages they reach only through a command no job of the
# stage runs, with the reason.
STAGE_ENTRIES = {
    "evidence": (
        "stsmeta.cli.normalise",
        "stsmeta.evidence.studyfile",
        "stsmeta.cli.tables",
        "stsmeta.cli.screening",
    ),  # fmt: skip
    "pool": ("stsmeta.cli.pool",),
    "coverage": ("stsmeta.cli.coverage",),
    "figures": ("stsmeta.cli.figures",),
    "report": ("stsmeta.cli.report",),
}
UNRUN_REACH = {
    # `stsmeta coverage-figure` draws the heat map alone; the workflow draws it in the figures
    # job, whose digest has figures and presentation.
    ("coverage", "figures"),
    ("coverage", "presentation"),
}


def _module_file(module: str) -> Path | None:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def _reached_subpackages(entries, imports=None) -> set[str]:
    """The subpackages of stsmeta that the entry modules import, directly or not (imports
    inside functions included; a module's parent packages too, as Python imports them)."""
    imports = imports or _imports
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(2, len(parts)))
        path = _module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo.extend(imports(path))
    return {m.split(".")[1] for m in seen if m.count(".") and (PACKAGE / m.split(".")[1]).is_dir()}


def _undigested(imports=None) -> list[str]:
    from stsmeta.code_digest import STAGE_CODE

    return [
        f"{stage} jobs import stsmeta.{sub}, which the stage's code digest leaves out"
        for stage, entries in STAGE_ENTRIES.items()
        for sub in sorted(_reached_subpackages(entries, imports))
        if sub not in STAGE_CODE[stage] and sub != "cli" and (stage, sub) not in UNRUN_REACH
    ]


def test_each_stage_digest_holds_the_code_its_jobs_import():
    # A job whose code changes must rerun, and its result cache must miss: the figures job read
    # the "seriously misleading" list from stsmeta.stats while its digest left stats out, so a
    # change there copied the old figures from the cache (an outside audit found it).
    from stsmeta.code_digest import STAGE_CODE

    assert set(STAGE_ENTRIES) == set(STAGE_CODE)
    assert _undigested() == []


def test_the_digest_check_sees_a_missing_subpackage():
    fake = PACKAGE / "cli" / "figures.py"

    def with_extra(path):
        return _imports(path) | ({"stsmeta.archive.layout"} if path == fake else set())

    assert _undigested(with_extra) == [
        "figures jobs import stsmeta.archive, which the stage's code digest leaves out"
    ]


@pytest.mark.workflow
def test_snakemake_lint_finds_nothing(tmp_path):
    # CI runs `snakemake --lint` after the tests; its checks are regular expressions over the
    # rule files (a docstring reading "rule x:" in common.smk counts as a rule), so a failing
    # lint shows here too, in the suite, not only at CI's end.
    root = Path(__file__).resolve().parents[1]
    for name in ("Snakefile", "config.yaml"):
        shutil.copy2(root / name, tmp_path / name)
    for name in ("workflow", "profiles", "data"):
        shutil.copytree(root / name, tmp_path / name)
    env = {**os.environ, "STSMETA_JOB_SERVER": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
