"""Hostile input (issue 11): every file in the corpus is refused with file, field and fix.

The corpus is SYNTHETIC (tests/corpus/README.md). Each case asserts the message (file and
field), the exit status 2 and that no traceback is printed. That the workflow refuses the same
files before any result changes is tested in test_robustness_workflow.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stsmeta.cli import main
from stsmeta.errors import Problem
from stsmeta.evidence.studyfile import MAX_FILE_BYTES, validate_paths

CORPUS = Path(__file__).parent / "corpus"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
FIXTURE = Path(__file__).parent / "fixtures" / "studies" / "synthetic-2020.yaml"


def corpus_file(case: str) -> Path:
    return CORPUS / case / "synthetic-2020.yaml"


def assert_named(err: str, path: Path, field: str, words: list[str]) -> None:
    lines = [line for line in err.splitlines() if line.startswith(f"error: {path}: {field}: ")]
    assert lines, f"no error for {field!r} in:\n{err}"
    for word in words:
        assert any(word in line for line in lines), f"{word!r} not in {lines}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_corpus_file_is_refused_with_file_and_field(case, capsys):
    path = corpus_file(case)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = CASES[case]
    assert_named(err, path, expected["field"], expected["words"])
    for other in expected.get("also", []):
        assert_named(err, path, other["field"], other["words"])


@pytest.mark.parametrize("case", ["deep-nesting", "billion-laughs"])
def test_hostile_yaml_in_a_process_of_its_own(case):
    """The real command: 100,000 brackets crashed the process (exit 139) before the limits."""
    path = corpus_file(case)
    proc = subprocess.run(
        [sys.executable, "-m", "stsmeta", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"error: {path}: {CASES[case]['field']}: " in proc.stderr


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "synthetic-2020.yaml"
    path.write_text(FIXTURE.read_text() + "# " + "x" * MAX_FILE_BYTES + "\n")
    (problem,) = validate_paths([path])
    assert problem.file == str(path)
    assert "at most" in problem.message


def test_schema_vocabulary_and_unit_problems_come_in_one_round():
    problems = validate_paths([corpus_file("all-at-once")])
    fields = {p.field for p in problems}
    assert {
        "outcomes[0].unit",
        "calcinosis_types[0].value",
        "intervention.concentration.reported",
    } <= fields
    assert len(fields) == len(problems), "one message per field"


def test_a_missing_field_does_not_hide_vocabulary_problems(tmp_path):
    text = FIXTURE.read_text().replace("    locator: line 6\n    decision:", "    decision:", 1)
    text = text.replace("value: dystrophic, source", "value: marble, source", 1)
    path = tmp_path / "synthetic-2020.yaml"
    path.write_text(text)
    fields = {p.field for p in validate_paths([path])}
    assert {"outcomes[0].locator", "calcinosis_types[0].value"} <= fields


def test_file_names_are_printed_without_terminal_escapes(tmp_path, capsys):
    path = tmp_path / "evil\x1b[2J\x1b]0;owned\x07-2020.yaml"
    path.write_text("study_id: [", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "evil\\x1b[2J" in err
    assert str(Problem("a\x1bb", "f", "m")) == "a\\x1bb: f: m"


def test_renaming_onto_another_study_is_never_suggested(tmp_path):
    first = tmp_path / "synthetic-2020.yaml"
    first.write_text(FIXTURE.read_text())
    second = tmp_path / "synthetic-2020b.yaml"
    second.write_text(FIXTURE.read_text())  # still says study_id: synthetic-2020
    messages = [p.message for p in validate_paths([first, second]) if p.file == str(second)]
    assert any("set study_id: synthetic-2020b" in m for m in messages)
    assert not any("rename the file to 'synthetic-2020.yaml'" in m for m in messages)
    assert any("would be overwritten" in m for m in messages)


def test_files_the_workflow_would_not_read_are_named(tmp_path, monkeypatch):
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "synthetic-2020.yaml").write_text(FIXTURE.read_text())
    (raw / "other-2021.yml").write_text("study_id: other-2021\n")
    (raw / "notes.pdf").write_bytes(b"%PDF")
    (raw / ".gitkeep").write_text("")
    monkeypatch.chdir(tmp_path)
    from stsmeta.evidence.studyfile import unread_files

    named = {Path(p.file).name: p.message for p in unread_files(raw)}
    assert set(named) == {"other-2021.yml", "notes.pdf"}
    assert "rename it to 'other-2021.yaml'" in named["other-2021.yml"]
    assert main(["validate"]) == 2


def test_valid_unusual_text_is_accepted_and_normalised_to_json(tmp_path):
    """Accented names, emoji the font has, '$' and '{}' are text: accepted, JSON stays JSON."""
    from stsmeta.evidence.model import study_to_json
    from stsmeta.evidence.studyfile import read_study

    text = FIXTURE.read_text().replace(
        "label: Synthetic 2020", "label: 'Müller-Łukasz $\\undefinedmacro$ {word} 😀 2020'"
    )
    path = tmp_path / "synthetic-2020.yaml"
    path.write_text(text, encoding="utf-8")
    study = read_study(path)
    assert study.label.startswith("Müller-Łukasz $")
    json.loads(study_to_json(study))


@pytest.mark.parametrize(
    ("label", "accepted"),
    [
        ("Smith 2013b", True),  # a year's letter suffix is Latin
        ("Müller 2019", True),
        ("Mu\u0308ller 2019", True),  # "ü" as "u" and a combining diaeresis
        ("Иванов 2019", True),  # a word wholly in one script
        ("Παπαδόπουλος 2019", True),
        ("O\u2019Neil & Łukasz 2019", True),
        ("Sm\u0456th 2013", False),  # Cyrillic "і" among Latin letters
        ("Smith 2\u041e13", False),  # Cyrillic "О" in a year
        ("Smith 2013\u0431", False),  # a Cyrillic suffix on a year
        ("\u0391lpha 2019", False),  # Greek capital alpha before Latin letters
        ("\u0418\u0432\u0430\u043d\u03bf\u0432 2019", False),  # a Greek omicron in Cyrillic
        # Symbols, not lookalikes (the diff review): a Greek letter beside a digit, the micro
        # sign, a modifier letter (the okina), an ordinal indicator.
        ("Bayesian, \u03c40 = 0.5", True),
        ("Doses read literally (\u00b5g/mL)", True),
        ("Ka\u02bbanapali 2019", True),
        ("1\u00ba line", True),
    ],
)
def test_label_words_keep_to_one_script(label, accepted):
    from stsmeta.text_rules import text_problem

    problem = text_problem(label, label=True)
    assert (problem is None) == accepted, problem
    if not accepted:
        assert problem.startswith("mixes letters of different scripts in the word")
        # Only the odd letters are named: in "Иванοв" the omicron, not the Cyrillic letters.
        if "\u03bf" in label:
            assert "U+03BF GREEK SMALL LETTER OMICRON;" in problem and "CYRILLIC" not in problem
    # Free text is not drawn as a study's name: any mixture is its own business.
    assert text_problem(label) is None


def test_text_that_yaml_11_would_read_as_a_number_stays_text(tmp_path):
    """A locator typed as a time (12:30) or with a leading zero (07) is text in a text field,
    never the number YAML 1.1 makes of it (750, 7); the file is valid."""
    from stsmeta.evidence.studyfile import load_yaml, read_study

    text = FIXTURE.read_text().replace("locator: line 2}", "locator: 12:30}", 1)
    text = text.replace("locator: line 5}", "locator: 07}", 1)
    path = tmp_path / "synthetic-2020.yaml"
    path.write_text(text, encoding="utf-8")
    data, _ = load_yaml(path)
    assert data["design"]["locator"] == "12:30"
    assert "07" in [v.get("locator") for v in data["intervention"].values() if isinstance(v, dict)]
    read_study(path)


def test_a_file_checked_alone_is_checked_against_the_labels_of_its_folder(tmp_path, capsys):
    """README's `stsmeta validate data/raw/<new>.yaml`: a label another study of the folder
    has is refused there, as the workflow would refuse it."""
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "synthetic-2020.yaml").write_text(FIXTURE.read_text(), encoding="utf-8")
    twin = folder / "synthetic-2020b.yaml"
    twin.write_text(
        FIXTURE.read_text().replace("study_id: synthetic-2020", "study_id: synthetic-2020b"),
        encoding="utf-8",
    )
    assert main(["validate", str(twin)]) == 2
    err = capsys.readouterr().err
    assert f"error: {twin}: label: 'Synthetic 2020' is also the label of " in err
    assert "Traceback" not in err
    twin.write_text(twin.read_text().replace("label: Synthetic 2020", "label: Synthetic 2020b"))
    assert main(["validate", str(twin)]) == 0


def test_a_fix_never_suggests_a_name_that_is_itself_refused(tmp_path):
    """A file named with capitals or a space: the fix names a valid file name, never
    'set study_id: Smith-2020' (refused in turn); '.YAML' is renamed to the lower-case id; a
    pipe named like a study file is said to be one."""
    import os

    from stsmeta.evidence.studyfile import identity_problems, unread_files

    data = {"study_id": "synthetic-2020"}
    (problem,) = identity_problems(data, tmp_path / "Synthetic-2020.yaml")
    assert problem.message.endswith("rename the file to 'synthetic-2020.yaml'")
    fixes = [p.message for p in identity_problems({"study_id": "Syn 2020"}, "syn 2020.yaml")]
    assert fixes and not any("set study_id" in fix for fix in fixes)
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "Synthetic-2020.YAML").write_text("x: 1\n")
    os.mkfifo(folder / "pipe-2020.yaml")
    # On a file system that ignores case, the lower-case name is this very file, not another
    # (a hard link stands in for it here): never "exists already".
    (tmp_path / "Synthetic-2020.yaml").write_text("x: 1\n")
    os.link(tmp_path / "Synthetic-2020.yaml", tmp_path / "synthetic-2020.yaml")
    (problem,) = identity_problems(data, tmp_path / "Synthetic-2020.yaml")
    assert "exists already" not in problem.message
    messages = {Path(p.file).name: p.message for p in unread_files(folder)}
    assert messages["Synthetic-2020.YAML"].endswith("rename it to 'synthetic-2020.yaml'")
    assert messages["pipe-2020.yaml"].startswith("not a regular file")


def test_formula_cells_are_neutralised_and_numbers_kept(tmp_path):
    from stsmeta.evidence.studyfile import read_study
    from stsmeta.evidence.tables import build_tables
    from stsmeta.presentation.inputs import InputFiles

    text = FIXTURE.read_text().replace(
        "label: Synthetic 2020", """label: '=HYPERLINK("http://evil.example","Smith 2013")'"""
    )
    text = text.replace("site: finger", "site: '@SUM(1+1)'").replace(
        "issue: Synthetic ambiguity.", "issue: '-2+3'", 1
    )
    path = tmp_path / "synthetic-2020.yaml"
    path.write_text(text, encoding="utf-8")
    tables = build_tables([read_study(path)])
    for name, csv_text in tables.items():
        for line in csv_text.splitlines()[1:]:
            for cell in line.split(","):
                assert not cell.lstrip('"').startswith(("=", "+", "@")), (name, cell)
    assert """"'=HYPERLINK(""" in tables["studies.csv"]
    assert ",4,4," in tables["studies.csv"] or ",2,4," in tables["studies.csv"]  # counts as numbers
    (tmp_path / "studies.csv").write_text(tables["studies.csv"], encoding="utf-8")
    rows = InputFiles().read_csv(tmp_path / "studies.csv")
    assert rows[0]["label"] == '=HYPERLINK("http://evil.example","Smith 2013")'


@pytest.mark.parametrize("case", ["deep-nesting", "billion-laughs"])
def test_hostile_config_file_is_refused(case, tmp_path):
    from stsmeta.config import load_config

    path = tmp_path / "config.yaml"
    path.write_text(corpus_file(case).read_text())
    _, problems = load_config(path)
    assert [p.field for p in problems] == [CASES[case]["field"]]


@pytest.mark.parametrize(
    "change, offset, words",
    [
        (("confidence_level: 0.95", "confidence_level: 0.95\nconfidence_level: 0.8"), 1,
         ["duplicate key 'confidence_level'", "each key once"]),
        (("replicates: 1000", "replicates: 01000"), 0, ["'01000'", "512", "quotes"]),
        (("seed: 20261124", "seed: 2026_11_24"), 0, ["'2026_11_24'", "20261124"]),
    ],
)  # fmt: skip
def test_config_values_that_snakemake_would_misread_are_refused(change, offset, words, tmp_path):
    """Snakemake reads config files as YAML 1.1, which keeps the last of two equal keys and
    reads 01000 as 512 (octal): the workflow refuses such a file before it is read, naming the
    line (that of the change, or the line after it for the second key)."""
    from stsmeta.config import check_config_file

    text = (Path(__file__).parents[1] / "config.yaml").read_text(encoding="utf-8")
    old, new = change
    assert text.count(old) == 1
    line = text[: text.index(old)].count("\n") + 1 + offset
    path = tmp_path / "config.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    problems = check_config_file(path)
    assert [p.field for p in problems] == [f"line {line}"], problems
    assert all(w in problems[0].message for w in words), problems[0].message
    assert check_config_file(Path(__file__).parents[1] / "config.yaml") == []


def test_a_config_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    from stsmeta.config import check_config_file

    path = tmp_path / "config.yaml"
    path.write_bytes(b"confidence_level: 0.95\nreport:\n  title: caf\xe9\n")
    (problem,) = check_config_file(path)
    assert (problem.field, problem.message) == ("line 3", "not UTF-8 text; save the file as UTF-8")


@pytest.mark.parametrize(
    ("where", "label", "accepted"),
    [
        (("outcomes", "any_response"), "山田", False),
        (("methods", "primary"), "GLMM\u200b", False),
        (("scenarios", "primary"), "Primary\tanalysis", False),
        (("methods", "primary"), "x" * 81, False),
        (("outcomes", "any_response"), "$\\undefinedmacro$", True),
        (("methods", "primary"), "GLMM {word}", True),
        (("scenarios", "primary"), "Müller's τ² scenario", True),
        (("scenarios", "primary"), "Prim\u0430ry", False),  # a Cyrillic "a"
        (("methods", "primary"), "GLMM (Иванов 2019)", True),
    ],
)
def test_config_labels_are_drawable_or_refused(where, label, accepted):
    from stsmeta.config import load_config

    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    config[where[0]][where[1]]["label"] = label
    _, problems = load_config(config)
    field = f"{where[0]}.{where[1]}.label"
    assert (problems == []) == accepted, problems
    if not accepted:
        assert [p.field for p in problems] == [field]


def test_ctrl_c_in_a_command_is_said_not_traced(monkeypatch, capsys):
    # An outside audit: Ctrl-C during pooling left engine tracebacks in the job logs.
    import stsmeta.cli.tables as tables_cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tables_cli, "run", interrupted)
    assert main(["tables", "x.json", "--outdir", "out"]) == 130
    err = capsys.readouterr().err
    assert err == "stsmeta: interrupted\n"
