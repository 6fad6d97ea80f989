"""Hostile input through the whole workflow (issue 11), on copies of the repository.

Every file of the SYNTHETIC corpus (tests/corpus) stops the run before any job, with file, field
and fix, and leaves every file under results/ as it was; a file in data/raw/ that the workflow
would not read does too; a job that fails after validation leaves the previous outputs; and a
few mutated study files (hypothesis) are either refused so or run to the end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from robust_mutations import mutated_studies, write_study
from screening_helpers import screening_follows
from test_workflow import _copy_repo, _result_hashes, _snakemake

CORPUS = Path(__file__).parent / "corpus"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
STUDY = "data/raw/synthetic-2020.yaml"

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A copy of the repository after one complete `snakemake --cores 2`."""
    work = _copy_repo(tmp_path_factory.mktemp("robust"))
    _snakemake(work)
    return work


def _output(proc) -> str:
    return proc.stdout + proc.stderr


def _run_with_study(built, source):
    """Snakemake run with ``source`` as the study file STUDY, which is removed afterwards."""
    study = built / STUDY
    shutil.copy(source, study)
    try:
        return _snakemake(built, check=False)
    finally:
        study.unlink()


@pytest.mark.parametrize("case", sorted(CASES))
def test_corpus_file_stops_the_run_and_changes_no_result(built, case):
    before = _result_hashes(built)
    proc = _run_with_study(built, CORPUS / case / "synthetic-2020.yaml")
    assert proc.returncode != 0
    assert "Traceback" not in _output(proc)
    assert f"{STUDY}: {CASES[case]['field']}: " in _output(proc)
    assert _result_hashes(built) == before


def test_a_study_saved_as_yml_stops_the_run(built):
    before = _result_hashes(built)
    stray = built / "data" / "raw" / "synthetic-2020.yml"
    shutil.copy(CORPUS.parent / "fixtures" / "studies" / "synthetic-2020.yaml", stray)
    (built / "data" / "raw" / ".gitkeep").write_text("")  # hidden files are not studies
    try:
        proc = _snakemake(built, check=False)
    finally:
        stray.unlink()
        (built / "data" / "raw" / ".gitkeep").unlink()
    assert proc.returncode != 0
    assert "Traceback" not in _output(proc)
    assert "data/raw/synthetic-2020.yml: (file): a study file ends in '.yaml'" in _output(proc)
    assert _result_hashes(built) == before


def test_a_failed_job_leaves_the_previous_outputs_and_the_next_run_rebuilds(built, tmp_path):
    work = tmp_path / "failing"
    shutil.copytree(built, work, symlinks=True)
    before = _result_hashes(work)
    pooled = work / "results" / "pool" / "any_response" / "primary.json"
    pooled.write_text("not json\n")  # the figures and report jobs fail on it

    proc = _snakemake(work, check=False)
    assert proc.returncode != 0
    assert "put back" in _output(proc)
    after = _result_hashes(work)
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert changed == ["pool/any_response/primary.json"], changed

    # The restored outputs are out of date: once the input is mended, all is rebuilt as before.
    pooled.unlink()
    _snakemake(work)
    assert _result_hashes(work) == before
    assert "Nothing to be done" in _output(_snakemake(work, "--dry-run"))


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=mutated_studies())
def test_mutated_study_is_refused_or_the_pipeline_completes(built, data):
    before = _result_hashes(built)
    screening = built / "data" / "screening" / "screening.yaml"
    kept = screening.read_text(encoding="utf-8")
    study = write_study(data, built / STUDY)
    # A user adding the study records how it was found: without that, a valid study is stopped
    # at start-up by the screening check, and the test would never see a mutation run through.
    screening_follows(built, added=["synthetic-2020"])
    try:
        proc = _snakemake(built, check=False)
    finally:
        study.unlink()
        screening.write_text(kept, encoding="utf-8")
    assert "Traceback" not in _output(proc)
    if proc.returncode != 0:
        assert f"{STUDY}: " in _output(proc)
        assert _result_hashes(built) == before
    else:
        _snakemake(built)  # back to the shipped studies for the next example


def test_a_study_without_a_screening_record_stops_the_run_before_any_job(built):
    # Found at start-up, not by rule screening after the study was normalised.
    before = _result_hashes(built)
    proc = _run_with_study(built, CORPUS.parent / "fixtures" / "studies" / "synthetic-2020.yaml")
    assert proc.returncode != 0
    assert "Traceback" not in _output(proc)
    # The message alone: no trail of the workflow's own files and lines.
    assert ".smk" not in _output(proc) and "WorkflowError" not in _output(proc)
    assert "nothing was run and no result was changed" in _output(proc)
    assert (
        "data/screening/screening.yaml: records: study file 'synthetic-2020' has no included "
        "screening record"
    ) in _output(proc)
    assert _result_hashes(built) == before


def test_a_hostile_config_file_stops_the_run(built):
    before = _result_hashes(built)
    config = built / "config.yaml"
    kept = config.read_text()
    config.write_text((CORPUS / "deep-nesting" / "synthetic-2020.yaml").read_text())
    try:
        proc = _snakemake(built, check=False)
    finally:
        config.write_text(kept)
    assert proc.returncode != 0
    assert "Traceback" not in _output(proc)
    assert "config.yaml: line 1: nested more than" in _output(proc)
    assert _result_hashes(built) == before


def test_labels_with_dollars_and_braces_run_to_the_end(built, tmp_path):
    """'$\\undefinedmacro$' stopped the figures job, '{word}' in a method label Snakemake."""
    work = tmp_path / "labels"
    shutil.copytree(built, work, symlinks=True)
    config = work / "config.yaml"
    text = config.read_text()
    text = text.replace('label: "Any response"', 'label: "Any $\\\\undefinedmacro$ response"')
    text = text.replace('label: "Logit, REML, Hartung-Knapp"', 'label: "Logit {word} REML"')
    config.write_text(text)
    _snakemake(work)
    assert "Logit {word} REML" in (work / "results" / "report.md").read_text()
