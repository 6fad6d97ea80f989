"""Reading and validating study files (``data/raw/<study-id>.yaml``).

Validation runs in three layers, and every layer reports *all* its problems, each as
``<file>: <field path>: <what is wrong, and what is allowed>``:

1. YAML syntax (with line and column), including duplicate keys, which YAML itself would let
   the last one silently win;
2. the JSON Schema ``stsmeta/schemas/study.schema.yaml`` (required fields, types, ranges);
3. the meaning: study id and file name, vocabularies, units, counts (see ``normalise.py``),
   and, across files, duplicate study ids.

``validate_paths`` is what the workflow calls when it starts; ``stsmeta validate`` prints it.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from stsmeta.errors import InputError, Problem, field_path
from stsmeta.schemas import read_schema, schema_path

# The YAML layer (limits, line numbers); load_yaml and the limits are imported from here too.
from stsmeta.yaml_limits import (  # noqa: F401
    MAX_DEPTH,
    MAX_FILE_BYTES,
    YamlPolicyError,
    check_yaml_text,
    load_yaml,
)

SCHEMA_PATH = schema_path("study")

# Lower-case first author (hyphens allowed inside a name), a four-digit year, an optional letter.
# 'nd' ("no date", as in reference lists) stands for a year the sources do not give, so that an
# unknown year is never invented (e.g. 'wounds-calciphylaxis-nd').
STUDY_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*-(?:[0-9]{4}|nd)[a-z]?$")
STUDY_ID_RULE = (
    "a study id is lower-case 'firstauthor-year' with a letter suffix where needed"
    " (letters a-z, digits and single hyphens only, e.g. 'smith-2013' or 'smith-2013b';"
    " 'nd' in place of a year the sources do not give, e.g. 'wounds-calciphylaxis-nd')"
)


def study_schema() -> dict[str, Any]:
    return read_schema("study")


_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "array": "a list",
    "object": "a mapping of fields",
    "boolean": "true or false",
    "null": "null (empty)",
}


_PATTERN_FORMS = {
    "doi": "a DOI such as 10.1001/jamadermatol.2013.4565 (no 'doi:' or URL prefix)",
    "pmid": "a PubMed id (digits only)",
    "source": "a source id (lower-case letters, digits, hyphens)",
    "decision": "a decision id (lower-case letters, digits, hyphens)",
    "id": "an id of the expected form (sources and decisions: lower-case letters, digits,"
    " hyphens; alternatives: lower-case snake_case such as per_lesion; patients: letters,"
    " digits, '_' or '-')",
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _type_hint(instance: Any, wanted: list[str]) -> str:
    """How to write the value so that YAML reads it as the type wanted."""
    if isinstance(instance, bool) and "string" in wanted:
        return (
            "; YAML reads unquoted yes, no, on, off, true and false as true/false: put the"
            f" text in quotes, e.g. '{'yes' if instance else 'no'}'"
        )
    if isinstance(instance, int | float) and "string" in wanted:
        return f"; put the text in quotes, e.g. '{instance}'"
    if isinstance(instance, float) and "integer" in wanted and instance.is_integer():
        return f"; write the whole number without a decimal point ({int(instance)})"
    if isinstance(instance, str) and instance.strip().endswith("%"):
        number = instance.strip()[:-1].strip()
        if "integer" in wanted:
            # A count written as the source's percentage: the percent field derives the count.
            return (
                f"; a percentage is written as `percent: {number}` (no % sign) in place of "
                "`events`, and the count is derived from it and n"
            )
        if "number" in wanted:
            return f"; write the number without the % sign ({number})"
    return ""


SEE_DICTIONARY = "see docs/data-dictionary.md for its meaning and an example"
# What to write for the required text of every fact, said in the message itself (missing here,
# blank in sanity.value_problems).
REQUIRED_HINTS = {
    "locator": "say where in the source this is, e.g. 'abstract' or 'p. 3, table 2'",
    "source": "give the id of the source (from 'sources') this is taken from",
}


def _schema_problem(file: str, error: Any) -> Problem:
    """Turn one jsonschema error into a Problem with a plain-language message."""
    path = list(error.absolute_path)
    validator = error.validator
    instance = error.instance
    value = error.validator_value
    if validator == "required":
        # jsonschema reports each missing field as its own error, named in the message.
        named = re.match(r"'(.+?)' is a required property", error.message)
        missing = [name for name in value if name not in instance]
        name = named.group(1) if named else (missing[0] if missing else "?")
        return Problem(
            file,
            field_path([*path, name]),
            "missing required field; " + REQUIRED_HINTS.get(name, SEE_DICTIONARY),
        )
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed), key=str)
        name = extra[0] if extra else "?"
        hint = ""
        if extra and instance.get(name) is None and " " in str(name).strip():
            # `{source: paper, locator: page 2, table 1}`: the comma ended the locator and
            # 'table 1' became a field of its own.
            hint = (
                f"; {name!r} looks like the end of a value cut at a comma: inside an inline"
                " mapping {...} a comma separates fields, so put a value that has a comma in"
                " quotes (e.g. locator: 'page 2, table 1')"
            )
        return Problem(
            file,
            field_path([*path, name]),
            f"unknown field; allowed here: {', '.join(allowed)}{hint}",
        )
    if validator == "type":
        wanted = value if isinstance(value, list) else [value]
        return Problem(
            file,
            field_path(path),
            f"wrong type: got {_type_name(instance)} ({instance!r}); expected "
            + " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
            + _type_hint(instance, wanted),
        )
    if validator == "minimum":
        if value == 0 and isinstance(instance, int | float) and instance < 0:
            return Problem(file, field_path(path), f"negative value {instance}; must be 0 or more")
        return Problem(file, field_path(path), f"{instance} is below the minimum {value}")
    if validator == "maximum":
        if path and path[-1] == "percent":
            return Problem(
                file, field_path(path), f"percentage {instance} is over 100; allowed 0 to 100"
            )
        return Problem(file, field_path(path), f"{instance} is above the maximum {value}")
    if validator == "anyOf" and isinstance(instance, dict) and "n" in instance:
        return Problem(
            file,
            field_path(path),
            "give the count as 'events' (whole number) or as 'percent' (0 to 100) of 'n'",
        )
    if validator == "pattern":
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        form = _PATTERN_FORMS.get(key, f"the pattern {value}")
        return Problem(file, field_path(path), f"{instance!r} is not {form}")
    if validator == "format" and value == "date":
        return Problem(
            file, field_path(path), f"{instance!r} is not a day of the calendar; give YYYY-MM-DD"
        )
    if validator == "const":
        return Problem(file, field_path(path), f"must be {value!r}, got {instance!r}")
    if validator in {"minItems", "minLength"}:
        return Problem(file, field_path(path), "must not be empty")
    if validator == "uniqueItems" and isinstance(instance, list):
        twice = next((v for i, v in enumerate(instance) if v in instance[:i]), None)
        what = "an entry" if twice is None else repr(twice)
        return Problem(
            file, field_path(path), f"{what} is listed more than once; list each only once"
        )
    return Problem(file, field_path(path), error.message)


@lru_cache(maxsize=1)
def _schema_validator():
    # Built once per process: building it per file cost more than validating the file.
    import jsonschema

    # JSON Schema counts 3.0 as an integer; Python code downstream does not (range(3.0) fails),
    # so a whole number is written without a decimal point.
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, x: isinstance(x, int) and not isinstance(x, bool)
    )
    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    return cls(study_schema())


def schema_problems(data: Any, file: str) -> list[Problem]:
    """Every schema violation of one study file's parsed YAML."""
    validator = _schema_validator()
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.path)), e.message))
    return [_schema_problem(file, e) for e in errors]


def identity_problems(data: Mapping[str, Any], path: str | Path) -> list[Problem]:
    """The study id must be a safe file name and equal the file's stem."""
    file = str(path)
    study_id = data.get("study_id")
    if not isinstance(study_id, str):
        return []  # the schema reports it
    problems = []
    if not STUDY_ID.match(study_id):
        problems.append(
            Problem(file, "study_id", f"{study_id!r} is not a safe file name; " + STUDY_ID_RULE)
        )
    stem = Path(path).stem
    if study_id != stem:
        target = f"{study_id}.yaml"
        id_ok, stem_ok = bool(STUDY_ID.match(study_id)), bool(STUDY_ID.match(stem))
        taken = id_ok and _another_file(Path(path), target)
        # Never suggest an id that is itself refused (a file name with capitals or spaces).
        if not stem_ok and not taken:
            fix = (
                f"rename the file to '{target}'"
                if id_ok
                else "name the file and the study id alike, " + STUDY_ID_RULE
            )
        elif not stem_ok:
            fix = (
                f"'{target}' exists already: give this study another id (a letter after the "
                "year, e.g. 'smith-2013b') and name the file after it"
            )
        elif taken:
            fix = (
                f"set study_id: {stem} (do not rename this file: '{target}' exists already"
                " and would be overwritten)"
            )
        elif id_ok:
            fix = f"rename the file to '{target}' or set study_id: {stem}"
        else:
            fix = f"set study_id: {stem}"
        problems.append(
            Problem(
                file,
                "study_id",
                f"study id {study_id!r} differs from the file name {Path(path).name!r}; {fix}",
            )
        )
    if Path(path).suffix != ".yaml":
        problems.append(Problem(file, "", "a study file name ends in '.yaml'"))
    return problems


def plausible_range(config: Mapping[str, Any] | None) -> tuple[float, float]:
    """The plausible concentration range (mg/mL) from the analysis plan, or its shipped default."""
    from stsmeta.evidence.normalise import DEFAULT_PLAUSIBLE_MG_PER_ML

    if config and config.get("plausible_concentration_mg_per_ml"):
        low, high = config["plausible_concentration_mg_per_ml"]
        return float(low), float(high)
    return DEFAULT_PLAUSIBLE_MG_PER_ML


def read_study(path: str | Path, config: Mapping[str, Any] | None = None):
    """Read, validate and normalise one study file; raise InputError with every problem."""
    checked = _checked_before(path, config)
    if checked is not None:
        return checked
    return _read_parsed(path, load_yaml(path), config)


# Valid studies already checked and normalised in this process, by (file, SHA-256 of its bytes,
# plausible range). The workflow checks every new study file at start-up and then normalises it
# in the same process (the normalise rule runs in Snakemake's threads): the second time is a
# lookup. The result depends on nothing else, and Study is immutable.
_CHECKED: dict[tuple[str, str, tuple[float, float]], Any] = {}


def _checked_before(path: str | Path, config: Mapping[str, Any] | None):
    """The study this process checked already from the file's current bytes, or None: found by
    the bytes' SHA-256 before parsing them (the workflow's start-up check, then the normalise
    rules and its own record of each new file, read each file more than once)."""
    if not _CHECKED:
        return None
    try:
        if Path(path).stat().st_size > MAX_FILE_BYTES:
            return None  # never checked: load_yaml says why
        raw = Path(path).read_bytes()
    except OSError:
        return None
    return _CHECKED.get((str(path), hashlib.sha256(raw).hexdigest(), plausible_range(config)))


def _not_a_study(data: Any) -> str:
    """Why a file whose top is not a mapping is no study file, and the fix."""
    fix = (
        "copy templates/study-template.yaml over it and replace every value (one study per "
        "file, its fields at the top), or remove the file"
    )
    if data is None:
        return f"the file holds no fields (it is empty or only comments); {fix}"
    return f"expected a mapping of fields at the top, got {_type_name(data)}; {fix}"


def _read_parsed(path: str | Path, loaded: tuple[Any, bytes], config: Mapping[str, Any] | None):
    from stsmeta.evidence.normalise import normalise_study
    from stsmeta.evidence.normalise_common import Collector
    from stsmeta.evidence.sanity import semantic_problems, value_problems

    file = str(path)
    data, raw = loaded
    sha256 = hashlib.sha256(raw).hexdigest()
    plausible = plausible_range(config)
    key = (file, sha256, plausible)
    if key in _CHECKED:
        return _CHECKED[key]
    if not isinstance(data, dict):
        raise InputError(Problem(file, "", _not_a_study(data)))
    values = value_problems(data, file)
    valued = {p.field for p in values}  # one message per field: the more specific one
    structure = identity_problems(data, path) + [
        p for p in schema_problems(data, file) if p.field not in valued
    ]
    problems = values + structure
    if not values:
        # Vocabulary and unit problems in the same round as the schema's: normalisation
        # collects them as it goes, and stops (KeyError, ...) only where the schema found
        # the file's shape wrong already.
        collector = Collector(file)
        try:
            study = normalise_study(
                data,
                file=file,
                source_sha256=sha256,
                plausible_mg_per_ml=plausible,
                collector=collector,
            )
        except InputError:
            pass
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            if not structure:
                raise
        else:
            if not problems:
                found, flags = semantic_problems(study, data, file)
                if found:
                    raise InputError(found)
                if flags:
                    study = replace(
                        study,
                        flags=tuple(sorted(set(study.flags) | set(flags), key=_flag_order)),
                    )
                _CHECKED[key] = study
                return study
        reported = {p.field for p in problems}
        problems += [p for p in collector.problems if p.field not in reported]
    raise InputError(problems)


def _flag_order(flag) -> tuple[str, str]:
    return flag.field, flag.reason


def validate_paths(
    paths: Iterable[str | Path], config: Mapping[str, Any] | None = None
) -> list[Problem]:
    """All problems across the given study files, including duplicate study ids across files."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    loaded_files: dict[str, Any] = {}
    for path in sorted(str(p) for p in paths):
        try:
            loaded = load_yaml(path)  # parsed once, for the checks and the study id
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        loaded_files[path] = loaded
        try:
            _read_parsed(path, loaded, config)
        except InputError as exc:
            problems.extend(exc.problems)
        data = loaded[0]
        if not (isinstance(data, dict) and isinstance(data.get("study_id"), str)):
            continue
        study_id = data["study_id"]
        if study_id in seen:
            problems.append(
                Problem(
                    path,
                    "study_id",
                    f"duplicate study id {study_id!r}, also used by {seen[study_id]};"
                    " each study once, with a letter suffix for same author and year"
                    " (e.g. 'smith-2013b')",
                )
            )
        else:
            seen[study_id] = path
    labels = {
        path: data["label"]
        for path, (data, *_) in loaded_files.items()
        if isinstance(data, dict) and isinstance(data.get("label"), str)
    }
    return problems + duplicate_labels(labels)


def duplicate_labels(labels: Mapping[str, str]) -> list[Problem]:
    """A problem for each study file whose label another file already uses (file -> label).

    The label is how a study is named in every table and figure: two alike could not be told
    apart in a forest plot or a leave-one-out table.
    """
    problems = []
    first: dict[str, str] = {}
    for path in sorted(labels):
        key = _label_key(labels[path])
        if key in first:
            problems.append(_label_clash(path, labels[path], first[key]))
        else:
            first[key] = path
    return problems


def _label_key(label: str) -> str:
    """Labels compared as readers see them: spacing, case and Unicode composition aside ("ü" as
    one character or as "u" with a combining diaeresis, "ﬁ" as "fi": NFKC)."""
    return " ".join(unicodedata.normalize("NFKC", label).split()).casefold()


def _label_clash(path: str, label: str, other: str) -> Problem:
    return Problem(
        path,
        "label",
        f"{label!r} is also the label of {other}; labels name the studies in tables and "
        f"figures and must differ (e.g. add a letter: '{label.strip()}b')",
    )


def label_clashes_with_folder(paths: list[str]) -> list[Problem]:
    """For files checked on their own (``stsmeta validate FILE``): each whose label another
    study file of its folder already uses, as the whole folder's check (and the workflow) would
    find. Another file that cannot be read is left to its own check. Each other file is read
    once, however many files are checked."""
    given = {Path(p).resolve() for p in paths}
    # Per folder: the first other file holding each label (by key).
    folders: dict[Path, dict[str, Path]] = {}
    problems = []
    for path in paths:
        label = _label_of(path)
        folder = Path(path).parent.resolve()
        if folder not in folders:
            labels: dict[str, Path] = {}
            for other in discover(folder):
                if other.resolve() not in given:
                    labels.setdefault(_label_key(_label_of(other)), other)
            folders[folder] = labels
        clash = folders[folder].get(_label_key(label)) if label else None
        if clash is not None:
            problems.append(_label_clash(str(path), label, str(clash)))
    return problems


def _label_of(path: str | Path) -> str:
    """A study file's label as written, or "" when the file cannot be read as a mapping."""
    try:
        data = load_yaml(path)[0]
    except InputError:
        return ""
    return str(data.get("label") or "") if isinstance(data, dict) else ""


def unread_files(studies_dir: str | Path) -> list[Problem]:
    """Files in the study folder that are not study files (``*.yaml``), each with the fix.

    A study saved as ``.yml`` or ``.YAML`` would be left out of the analysis without a word;
    hidden files (``.gitkeep``, editors' swap files) are not studies and are left alone.
    """
    if not Path(studies_dir).is_dir():
        return []  # "no study files" is reported by the caller
    problems = []
    for path in sorted(Path(studies_dir).iterdir()):
        if path.name.startswith(".") or (path.suffix == ".yaml" and path.is_file()):
            continue
        stem = path.name.split(".", 1)[0]
        # The name to suggest: a valid study id where lower case makes one.
        name = f"{stem.lower()}.yaml" if STUDY_ID.match(stem.lower()) else f"{stem}.yaml"
        if path.is_dir():
            why = "a folder; study files lie directly in the folder, move its files up"
        elif path.suffix == ".yaml":
            why = "not a regular file (a pipe, a device or a broken link); move it out"
        elif path.suffix.lower() in {".yml", ".yaml"} and _another_file(path, name):
            why = (
                f"a study file ends in '.yaml', and '{name}' exists already: compare the"
                " two and delete the one not wanted (renaming would overwrite the other)"
            )
        elif path.suffix.lower() in {".yml", ".yaml"}:
            why = f"a study file ends in '.yaml' (lower case); rename it to '{name}'"
        else:
            why = (
                "not a study file (only *.yaml files are read); move it out of the folder,"
                " or save the study as '<firstauthor>-<year>.yaml'"
            )
        problems.append(Problem(str(path), "", why))
    return problems


def _another_file(path: Path, name: str) -> bool:
    """Whether a file ``name`` beside ``path`` exists and is not ``path`` itself (on a file
    system that ignores case, Smith-2013.yaml and smith-2013.yaml are one file)."""
    other = path.with_name(name)
    try:
        return other.exists() and not os.path.samefile(other, path)
    except OSError:
        return other.exists()


def discover(studies_dir: str | Path) -> list[Path]:
    """The study files of a directory, sorted (``*.yaml`` only; the template lives elsewhere)."""
    return sorted(Path(studies_dir).glob("*.yaml"))


def normalise_file(raw: str, output: str, config: dict[str, Any] | None) -> None:
    """Validate and normalise one study file into ``output``; ``InputError`` when it is invalid.

    Also called in-process by the workflow's normalise rule: one Python process per study cost
    more than the normalisation itself (see docs/architecture.md, "Scale").
    """
    from stsmeta.evidence.model import study_to_json
    from stsmeta.evidence.tables import write_atomically

    # read_study raises InputError with every problem of the file (for one file, the same list
    # validate_paths gives: duplicate ids need two files).
    study = read_study(raw, config)
    write_atomically(output, study_to_json(study))
