"""The analysis plan (config.yaml): load, validate against its schema, fill defaults.

The schema (``stsmeta/schemas/config.schema.yaml``, JSON Schema draft 2020-12) is the one the
Snakefile hands to ``snakemake.utils.validate``; this module applies the same schema and the
same defaults, then the checks a schema cannot express (exactly one primary outcome, an ordered
concentration range). Every problem names the file and the dotted field path.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from stsmeta.errors import InputError, Problem, field_path
from stsmeta.schemas import read_schema, schema_path

# Package data (workflow/schemas/config.schema.yaml links here, for snakemake.utils.validate).
SCHEMA_PATH = schema_path("config")

DEFAULT_FILE = "config.yaml"

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "empty",
}


@cache
def load_schema() -> dict[str, Any]:
    """The config schema as a dict (read once)."""
    return read_schema("config")


def _validator_class():
    # Defaults are filled as Snakemake's validate(set_default=True) fills them, so that a job
    # sees the same configuration as the workflow that launched it.
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def _describe_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    if value is None:
        return "empty"
    return repr(value)


def _join(path) -> str:
    return field_path(path)


def _parent(config: Any, path) -> Any:
    return _node(config, list(path)[:-1])


def _node(config: Any, path) -> Any:
    node = config
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


# Friendlier wording for fields whose pattern is not self-explanatory.
_PATTERN_HINTS = {
    "report.version": "give a version such as 0.1.0",
    "report.date": "give the date as YYYY-MM-DD",
    "report.license": "give an SPDX licence identifier such as CC-BY-4.0",
    "report.repository": "give the repository URL starting with https://",
    "report.doi": "give the DOI without the resolver, such as 10.5281/zenodo.1234567",
}


def _problems_from_error(error, config: Any, file: str) -> list[Problem]:
    """One Problem per unknown field, else the single Problem of the error."""
    if error.validator not in ("additionalProperties", "unevaluatedProperties"):
        return [_problem_from_error(error, config, file)]
    path = list(error.absolute_path)
    if error.validator == "unevaluatedProperties":
        allowed = sorted(_evaluable_names(error.schema))
    else:
        allowed = sorted(error.schema.get("properties", {}))
    value = error.instance if isinstance(error.instance, dict) else {}
    hint = f"allowed: {', '.join(allowed)}" if allowed else "no other fields are allowed"
    return [
        Problem(file, _join([*path, name]), f"unknown field; {hint}")
        for name in sorted(k for k in value if k not in set(allowed))
    ]


def _problem_from_error(error, config: Any, file: str) -> Problem:
    """Turn one jsonschema error into a Problem whose message says what is allowed."""
    path = list(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return Problem(file, _join([*path, missing]), "required field is missing")
    if "propertyNames" in error.relative_schema_path:
        # The error is about a key of the mapping at `path`, which jsonschema gives as instance.
        if kind == "enum":
            allowed = ", ".join(str(v) for v in error.validator_value)
            return Problem(file, _join([*path, value]), f"unknown name; allowed: {allowed}")
        return Problem(file, _join([*path, value]), f"invalid name: {_name_rule(error)}")
    if kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return Problem(
            file, _join(path), f"{_describe_type(value)} is not allowed; allowed: {allowed}"
        )
    if kind == "const":
        method = _parent(config, path)
        context = ""
        if isinstance(method, Mapping) and "method" in method:
            context = f" with method {method['method']!r}"
        return Problem(file, _join(path), f"must be {error.validator_value!r}{context}")
    if kind == "not":
        # A field the chosen method does not use (`not: {}` in the schema).
        owner = _parent(config, path)
        if isinstance(owner, Mapping) and "method" in owner:
            return Problem(file, _join(path), f"not used by method {owner['method']!r}; remove it")
        return Problem(file, _join(path), "not allowed here; remove it")
    if kind == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else wanted
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted)
        return Problem(file, _join(path), f"must be {names}, not {_describe_type(value)}")
    if kind == "pattern":
        if error.validator_value.startswith("^[a-z]"):
            return Problem(file, _join(path), f"invalid name {value!r}: {_name_rule(error)}")
        if error.validator_value == "\\S":
            return Problem(file, _join(path), "must not be empty")
        if _join(path) in _PATTERN_HINTS:
            return Problem(
                file, _join(path), f"{value!r} is not valid; {_PATTERN_HINTS[_join(path)]}"
            )
        return Problem(
            file,
            _join(path),
            f"{value!r} is not valid; expected text matching {error.validator_value}",
        )
    if kind in ("minLength",):
        return Problem(file, _join(path), "must not be empty")
    if kind in ("minItems", "maxItems") and error.schema.get("minItems") == error.schema.get(
        "maxItems"
    ):
        return Problem(
            file,
            _join(path),
            f"must be a list of exactly {error.schema['minItems']} items, not {len(value)}",
        )
    if kind == "minItems":
        return Problem(file, _join(path), f"must list at least {error.validator_value} item(s)")
    if kind == "minProperties":
        return Problem(file, _join(path), f"must have at least {error.validator_value} entry")
    if kind == "uniqueItems":
        return Problem(file, _join(path), "items must not repeat")
    if kind in ("exclusiveMinimum", "minimum"):
        sign = ">" if kind == "exclusiveMinimum" else ">="
        return Problem(
            file, _join(path), f"{value!r} is too small; must be {sign} {error.validator_value}"
        )
    if kind in ("exclusiveMaximum", "maximum"):
        sign = "<" if kind == "exclusiveMaximum" else "<="
        return Problem(
            file, _join(path), f"{value!r} is too large; must be {sign} {error.validator_value}"
        )
    return Problem(file, _join(path), error.message)


def _name_rule(error) -> str:
    if error.validator == "pattern":
        return "use lower-case letters, digits and underscores, starting with a letter"
    return error.message


def _evaluable_names(schema: Mapping) -> set[str]:
    """Field names a schema (with its $ref'd parts) accepts, for 'allowed: ...' hints."""
    names = set(schema.get("properties", {}))
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        names |= _evaluable_names(load_schema()["$defs"][ref.split("/")[-1]])
    return names


def _plan_problems(config: Mapping, file: str) -> list[Problem]:
    """Checks beyond the schema; run only on a schema-valid configuration."""
    problems = []
    primaries = sorted(n for n, o in config["outcomes"].items() if o["role"] == "primary")
    if len(primaries) != 1:
        found = ", ".join(primaries) if primaries else "none"
        problems.append(
            Problem(
                file,
                "outcomes",
                f"exactly one outcome must have role 'primary'; found: {found}",
            )
        )
    low, high = config["plausible_concentration_mg_per_ml"]
    if not low < high:
        problems.append(
            Problem(
                file,
                "plausible_concentration_mg_per_ml",
                f"the lower bound ({low}) must be below the upper bound ({high})",
            )
        )
    if "date" in config["report"]:
        value = config["report"]["date"]
        try:
            valid = isinstance(value, dt.date) or (
                isinstance(value, str) and dt.date.fromisoformat(value).isoformat() == value
            )
        except ValueError:
            valid = False
        if not valid:
            problems.append(
                Problem(file, "report.date", f"{value!r} is not a date; give it as YYYY-MM-DD")
            )
    problems += _label_problems(config, file)
    problems += _prior_problems(config, file)
    problems += _scenario_term_problems(config, file)
    problems += _outcome_name_problems(config, file)
    problems += _threshold_order_problems(config, file)
    if "primary" in config["methods"].get("secondary", {}):
        problems.append(
            Problem(
                file,
                "methods.secondary.primary",
                "'primary' names the primary method; give the secondary method another name",
            )
        )
    return problems


#: The thresholds with which the report proposes GRADE ratings (config review.certainty_rules).
CERTAINTY_RULE_DEFAULTS = {
    "imprecision_serious_width": 0.3,
    "imprecision_very_serious_width": 0.5,
    "inconsistency_serious_tau": 0.5,
    "inconsistency_very_serious_tau": 1.0,
    "small_study_tests_min_k": 10,
}


def certainty_rules(config: Mapping) -> dict[str, Any]:
    """The review's certainty thresholds, the defaults filled in."""
    given = (config.get("review") or {}).get("certainty_rules") or {}
    return {**CERTAINTY_RULE_DEFAULTS, **given}


def _prior_problems(config: Mapping, file: str) -> list[Problem]:
    """Priors the engine would refuse (a scale of 0, a lone "."): the schema's pattern lets them
    through, and they stopped the coverage study or the report after results were rewritten."""
    from stsmeta.prior_spec import parse_prior

    methods = config["methods"]
    specs = [("methods.primary", methods["primary"])]
    specs += [(f"methods.secondary.{k}", m) for k, m in methods.get("secondary", {}).items()]
    problems = []
    for where, spec in specs:
        for key, role in (("prior_mu", "mu"), ("prior_tau", "tau")):
            if isinstance(spec.get(key), str):
                try:
                    parse_prior(spec[key], role)
                except ValueError as exc:
                    problems.append(Problem(file, f"{where}.{key}", str(exc)))
    return problems


def _scenario_term_problems(config: Mapping, file: str) -> list[Problem]:
    """Scenario exclusions by vocabulary term: a misspelt term would exclude nothing, silently."""
    from stsmeta.evidence.vocabulary import (
        CALCINOSIS_TYPE,
        CO_INTERVENTION,
        DISEASE,
        UnknownTerm,
        canonical,
    )

    vocabularies = {
        "exclude_calcinosis_types": CALCINOSIS_TYPE,
        "exclude_diseases": DISEASE,
        "exclude_co_interventions": CO_INTERVENTION,
    }
    problems = []
    for name, scenario in config["scenarios"].items():
        for key, vocab in vocabularies.items():
            for term in (scenario or {}).get(key) or []:
                if term not in vocab.labels:
                    try:  # a label or synonym: the study files hold its canonical term
                        fix = f"did you mean {canonical(vocab, term)!r}? "
                    except UnknownTerm:
                        fix = ""
                    problems.append(
                        Problem(
                            file,
                            f"scenarios.{name}.{key}",
                            f"{term!r} is not {_article(vocab.name)} {vocab.name} term; {fix}"
                            "allowed: " + ", ".join(vocab.allowed()),
                        )
                    )
    return problems


def _outcome_name_problems(config: Mapping, file: str) -> list[Problem]:
    """An outcome the study files cannot record (their outcome names are vocabulary terms) would
    be reported with no study and empty figures."""
    from stsmeta.evidence.vocabulary import OUTCOME

    return [
        Problem(
            file,
            f"outcomes.{name}",
            f"no study file can record an outcome {name!r}; outcomes: "
            f"{', '.join(OUTCOME.allowed())} (a new one is added to the vocabulary in "
            "src/stsmeta/evidence/vocabulary.py first)",
        )
        for name in config["outcomes"]
        if name not in OUTCOME.labels
    ]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _threshold_order_problems(config: Mapping, file: str) -> list[Problem]:
    """A 'very serious' threshold below the 'serious' one would rate the lesser problem worse
    (equal ones are coherent: nothing is then only serious)."""
    given = (config.get("review") or {}).get("certainty_rules") or {}
    rules = certainty_rules(config)
    problems = []
    for serious, very in (
        ("imprecision_serious_width", "imprecision_very_serious_width"),
        ("inconsistency_serious_tau", "inconsistency_very_serious_tau"),
    ):
        if rules[very] < rules[serious]:
            # Name the field the file sets: the other may be a default it never wrote.
            field = very if very in given else serious
            default = {k: "" if k in given else ", the default" for k in (serious, very)}
            problems.append(
                Problem(
                    file,
                    f"review.certainty_rules.{field}",
                    f"{very} ({rules[very]}{default[very]}) is below {serious} "
                    f"({rules[serious]}{default[serious]}); the 'very serious' threshold must"
                    " be at least the 'serious' one",
                )
            )
    return problems


def _labels(config: Mapping) -> list[tuple[str, Any]]:
    """(field, text) of every label the figures draw, and of the report's title and authors."""
    found = [(f"outcomes.{k}.label", o.get("label")) for k, o in config["outcomes"].items()]
    methods = config["methods"]
    found.append(("methods.primary.label", methods["primary"].get("label")))
    found += [
        (f"methods.secondary.{k}.label", m.get("label"))
        for k, m in methods.get("secondary", {}).items()
    ]
    found += [(f"scenarios.{k}.label", s.get("label")) for k, s in config["scenarios"].items()]
    found += [(f"subgroups.{k}", label) for k, label in config.get("subgroups", {}).items()]
    return [(field, text) for field, text in found if isinstance(text, str)]


def _label_problems(config: Mapping, file: str) -> list[Problem]:
    """Labels that the figures could not draw, and text a terminal or table should not show."""
    from stsmeta.text_rules import text_problem

    problems = []
    for field, text in _labels(config):
        message = text_problem(text, label=True)
        if message:
            problems.append(Problem(file, field, f"label {message}"))
    report = config.get("report", {})
    texts = [("report.title", report.get("title"))]
    texts += [(f"report.authors[{i}]", a) for i, a in enumerate(report.get("authors") or [])]
    for field, text in texts:
        message = text_problem(text, one_line=True) if isinstance(text, str) else None
        if message:
            problems.append(Problem(file, field, f"text {message}"))
    return problems


def yaml_text_problems(text: str, file: str) -> list[Problem]:
    """What the study files' limits refuse in a config file too: size, nesting depth, aliases
    and characters YAML does not allow (a hostile file crashed or exhausted the parser);
    duplicate keys (the last one would win without a word); values that cannot be constructed
    (an impossible date); and numbers that YAML 1.1, which Snakemake reads the file with, takes
    for another number (``010`` is 8)."""
    import yaml

    from stsmeta.yaml_limits import (
        MAX_FILE_BYTES,
        YamlPolicyError,
        load_checked,
        yaml11_numbers,
        yaml_error_problem,
    )

    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return [Problem(file, "", f"is larger than {MAX_FILE_BYTES:,} bytes; is it the plan?")]
    try:
        load_checked(text)
    except YamlPolicyError as exc:
        return [Problem(file, f"line {exc.line}" if exc.line else "", str(exc))]
    except yaml.YAMLError as exc:
        return [yaml_error_problem(file, exc)]
    return [
        Problem(
            file,
            f"line {line}",
            f"{value!r} is read as the number {number} by YAML 1.1 (a leading zero, an "
            f"underscore, a colon, 0x or 0b); write the number in plain decimal digits, or "
            f"put '{value}' in quotes if it is text",
        )
        for line, value, number in yaml11_numbers(text)
    ]


def check_config_file(path: str | Path) -> list[Problem]:
    """``yaml_text_problems`` of a config file, for the Snakefile to call before Snakemake
    parses it (a file that cannot be opened is left to Snakemake's own message)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return []
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[: exc.start].count(b"\n") + 1
        return [Problem(str(path), f"line {line}", "not UTF-8 text; save the file as UTF-8")]
    return yaml_text_problems(text, str(path))


def attribute_overrides(problems: list[Problem], overrides: Mapping[str, Any]) -> list[Problem]:
    """``problems`` of the merged configuration, those of a field that ``--config`` set named
    as ``--config`` (not the files, which may hold a valid value). Snakemake merges a
    ``--config`` mapping into the files' one key by key, so a field is ``--config``'s only where
    its whole path is there (or a value there replaced the mapping holding it). Values inside a
    ``--config`` mapping reach us as text: the fix then says to use a ``--configfile``."""
    out = []
    for problem in problems:
        found, nested_text = _override_at(overrides, problem.field)
        if not found:
            out.append(problem)
            continue
        message = problem.message
        if nested_text:
            message += (
                "; --config reads the values inside a mapping or list as text: give them in a "
                "--configfile instead"
            )
        out.append(Problem("--config", problem.field, message))
    return out


def _override_at(overrides: Mapping[str, Any], field: str) -> tuple[bool, bool]:
    """(whether ``--config`` set ``field``, a dotted path with ``[i]`` indices; whether it is
    text inside a mapping or list there)."""
    parts = [p for p in re.split(r"\.|\[(\d+)\]", field) if p]
    node: Any = overrides
    for depth, part in enumerate(parts):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            # A leaf given where the path goes on replaced the files' mapping.
            return depth > 0 and not isinstance(node, Mapping | list), False
    return bool(parts), len(parts) > 1 and isinstance(node, str)


def load_config(
    source: str | Path | Mapping[str, Any], *, file: str | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """Read and validate the analysis plan.

    ``source`` is a path to a YAML file or an already parsed mapping (then ``file`` names it in
    problems, default ``config.yaml``). Returns ``(config, problems)``: the configuration with
    the schema's defaults filled in, and every problem found (empty when the plan is valid).
    Use the configuration only when there are no problems.
    """
    if isinstance(source, Mapping):
        name = file or DEFAULT_FILE
        raw: Any = copy.deepcopy(dict(source))
    else:
        name = file or str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            return {}, [Problem(name, "", f"cannot be read ({exc.strerror or exc})")]
        hostile = yaml_text_problems(text, name)
        if hostile:
            return {}, hostile
        from stsmeta.yaml_limits import fast_safe_loader

        try:
            # Checked above (yaml_text_problems).
            raw = yaml.load(text, Loader=fast_safe_loader())  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}" if where is not None else ""
            return {}, [Problem(name, "", f"is not valid YAML{at}: {getattr(exc, 'problem', exc)}")]
    if not isinstance(raw, dict):
        return {}, [Problem(name, "", f"must be a mapping of fields, not {_describe_type(raw)}")]

    validator = _validator_class()(load_schema())
    errors = sorted(
        validator.iter_errors(raw),
        key=lambda e: (_join(e.absolute_path), str(e.validator), e.message),
    )
    problems = [p for e in errors for p in _problems_from_error(e, raw, name)]
    problems = list(dict.fromkeys(problems))  # one message per field and fault
    if not problems:
        problems = _plan_problems(raw, name)
    return raw, problems


def require_config(source: str | Path | Mapping[str, Any], *, file: str | None = None) -> dict:
    """``load_config`` that raises ``InputError`` with every problem."""
    config, problems = load_config(source, file=file)
    if problems:
        raise InputError(problems)
    return config


def primary_outcome(config: Mapping) -> str:
    """Name of the outcome whose role is ``primary``."""
    return next(n for n, o in config["outcomes"].items() if o["role"] == "primary")


# --- the effective configuration --------------------------------------------------------------
# The workflow validates the configuration Snakemake merged from config.yaml, --configfile and
# --config once, then writes the part each stage computes with to results/config/<stage>.json.
# Jobs take that file as a declared input, so a changed setting reruns exactly the stages that
# read it (a new report title reruns the report, not the pooling), and read it with
# `read_config`, the one reader of configuration in the package.

# The top-level fields each stage reads; "report" and "archive" read everything.
STAGE_FIELDS: dict[str, tuple[str, ...] | None] = {
    "normalise": ("plausible_concentration_mg_per_ml",),
    "pool": (
        "confidence_level",
        "cumulative_by_year",
        "eligibility",
        "leave_one_out",
        "methods",
        "outcomes",
        "plausible_concentration_mg_per_ml",
        "scenarios",
        "study_ci",
        "subgroups",
    ),
    "coverage": ("confidence_level", "coverage", "methods"),
    "figures": (
        "confidence_level",
        "methods",
        "outcomes",
        "scenarios",
        "study_ci",
        "subgroups",
    ),
    "report": None,
    "archive": None,
}
EFFECTIVE_MARK = "stsmeta_effective_config"


def _plain(value: Any) -> Any:
    """The configuration as JSON values (YAML dates become ISO text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def effective_config(config: Mapping[str, Any], stage: str) -> str:
    """The canonical JSON text of what `stage` reads of a validated configuration."""
    import json

    fields = STAGE_FIELDS[stage]
    # Top-level keys sorted: `--config confidence_level=0.9` puts its key first where the same
    # value in config.yaml keeps its place, and the same settings must give the same bytes (the
    # report's input fingerprint). Below the top, key order is kept: figures and the report
    # list outcomes and scenarios in the plan's order.
    part = {k: config[k] for k in sorted(config) if fields is None or k in fields}
    document = {EFFECTIVE_MARK: stage, "config": _plain(part)}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def read_config(path: str | Path) -> dict[str, Any]:
    """The configuration a job computes with: results/config/<stage>.json as the workflow wrote
    it, or (for commands run by hand) a config.yaml, validated with its defaults filled.

    Raises ``InputError`` naming the file and the fix.
    """
    import json

    path = Path(path)
    if path.suffix == ".json":
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(Problem(str(path), "", f"cannot be read ({exc.strerror})")) from None
        except ValueError as exc:
            raise InputError(Problem(str(path), "", f"is not valid JSON ({exc})")) from None
        if not isinstance(document, dict) or EFFECTIVE_MARK not in document:
            raise InputError(
                Problem(
                    str(path),
                    "",
                    "is not an effective configuration written by the workflow; "
                    "give config.yaml or results/config/<stage>.json",
                )
            )
        return document["config"]
    return require_config(path)
