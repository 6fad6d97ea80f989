"""Reading a YAML file (study file or analysis plan) within limits, every fault named by line.

Study files are written by hand and may come from anywhere, so the parser is kept from what a
hostile file can do to it: a size limit, a nesting limit, no aliases (each checked on libyaml's
event stream before the tree is built), duplicate keys refused rather than the last one kept,
and characters YAML does not allow reported with their line and column.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from stsmeta.errors import InputError, Problem

# Limits that no real study file comes near (the largest is ~10 KB, nested 6 deep) and that keep
# hostile files from exhausting memory or the C stack: libyaml's composer recurses once per level
# (100,000 nested brackets crashed the process), and aliases expand a 1 KB file into billions
# of nodes ("billion laughs") when the tree is walked.
MAX_FILE_BYTES = 1_000_000
# The screening records grow with the review: one record per reference screened (~250 bytes), so
# a review of 100,000 screened references fits.
MAX_SCREENING_BYTES = 32_000_000
MAX_DEPTH = 40
# Characters YAML itself refuses (PyYAML reports them by position only): found first, by line.
_NOT_YAML = re.compile(r"[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


class YamlPolicyError(Exception):
    """A YAML feature or size that study files do not allow; the message says what to do."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@lru_cache(maxsize=2)
def fast_safe_loader():
    """libyaml's SafeLoader where PyYAML was built with it (~8x faster, the same data), else the
    pure-Python one: the one choice of parser for every YAML file the package reads."""
    import yaml

    return yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


# Numbers as YAML 1.2 reads them: plain decimals. YAML 1.1 (PyYAML's SafeLoader) also reads
# 010 as 8 (octal), 1:30 as 90 (base 60), 1_0 as 10, 0x10 as 16 and 0b11 as 3: a count typed
# with a leading zero or a time typed as a count became another number without a word. Such
# scalars are text here, which a count refuses ("not the text '010'") and a text field keeps.
_INT = r"^[-+]?(?:0|[1-9][0-9]*)$"
# YAML 1.1's decimal floats without its underscores and base 60 (and, as there, no sign
# before a bare fraction: -.5 stays text).
_FLOAT = (
    r"^(?:(?:[-+]?[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_TAG_WORDS = {
    "tag:yaml.org,2002:timestamp": "date",
    "tag:yaml.org,2002:int": "whole number",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "true or false",
}


def yaml11_number(value: str) -> str | None:
    """The number YAML 1.1 reads a plain scalar as where plain decimals read it as text (``010``
    -> ``8``); None for anything else."""
    import yaml

    strict = (re.match(_INT, value), re.match(_FLOAT, value))
    if any(strict):
        return None
    for tag, regexp in yaml.SafeLoader.yaml_implicit_resolvers.get(value[:1], []):
        if tag in _NUMBER_TAGS and regexp.match(value):
            node = yaml.ScalarNode(tag, value)
            try:
                return repr(yaml.SafeLoader("").construct_object(node))
            except (ValueError, TypeError, OverflowError, yaml.YAMLError):
                return None
    return None


@lru_cache(maxsize=2)
def _loader(fast: bool = True):
    """A SafeLoader that refuses duplicate keys, reads numbers as plain decimals only
    (``_INT``, ``_FLOAT``) and names the line of a value it cannot construct (an impossible
    date, ``!!int abc``); ``fast`` uses libyaml's parser if present."""
    import yaml

    base = fast_safe_loader() if fast else yaml.SafeLoader

    class UniqueKeyLoader(base):  # type: ignore[valid-type,misc]  # chosen at run time
        """SafeLoader that refuses duplicate keys instead of keeping the last one."""

        def construct_object(self, node, deep=False):
            tag = str(node.tag)
            if tag in _NUMBER_TAGS and isinstance(node, yaml.ScalarNode):
                # An explicit !!int 010 or !!float 1_0: YAML 1.1 would read another number.
                plain = (_INT,) if tag.endswith(":int") else (_INT, _FLOAT)
                if not any(re.match(rx, node.value) for rx in plain):
                    raise _refused(node, "not plain decimal digits")
            try:
                return super().construct_object(node, deep=deep)
            except yaml.YAMLError:
                raise
            except Exception as exc:  # noqa: BLE001 - any constructor's own error, with its line
                raise _refused(node, str(exc)) from None

    def _refused(node, why: str):
        # The constructors' own errors (datetime, int, bool) carry no position.
        what = _TAG_WORDS.get(str(node.tag), str(node.tag).rsplit(":", 1)[-1])
        value = node.value if isinstance(node.value, str) else "(this value)"
        shown = value if len(value) <= 40 else f"{value[:37]}..."
        return yaml.constructor.ConstructorError(
            None,
            None,
            f"{shown!r} cannot be read as a {what} ({why[:80]}); write a date as "
            '"YYYY-MM-DD" in quotes, a number in plain decimal digits, and no !! tag',
            node.start_mark,
        )

    # The base's resolvers, with YAML 1.2's plain decimals for numbers (a copy: the base class
    # is PyYAML's own and stays as it is).
    UniqueKeyLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _NUMBER_TAGS]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    UniqueKeyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:int", re.compile(_INT), list("-+0123456789")
    )
    UniqueKeyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(_FLOAT), list("-+0123456789.")
    )

    def construct_mapping(loader, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlPolicyError(
                    "YAML merge keys ('<<') are not allowed; write each field out in full",
                    key_node.start_mark.line + 1,
                )
            key = loader.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise YamlPolicyError(
                    "a field name must be text, not a list or mapping ('? [a, b]' or '[a]: 1');"
                    " write the name without brackets",
                    key_node.start_mark.line + 1,
                ) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {seen[key] + 1}); each key once",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping_plain(node, deep=deep)

    UniqueKeyLoader.construct_mapping_plain = yaml.SafeLoader.construct_mapping
    UniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping
    )
    return UniqueKeyLoader


def check_yaml_text(text: str) -> None:
    """Refuse what study files never need before building the tree: characters YAML does not
    allow, nesting deeper than MAX_DEPTH, and aliases. Raises YamlPolicyError (with a line).

    Scans the event stream, which libyaml produces without recursion, and stops at the first
    fault, so a hostile file costs no more than a valid one. Syntax errors are left to the
    parser proper, which words them.
    """
    import yaml

    bad = _NOT_YAML.search(text)
    if bad:
        from stsmeta.text_rules import describe

        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise YamlPolicyError(
            f"character {describe(bad.group())} at column {column} is not allowed in a"
            " YAML file; delete it (it is invisible in most editors)",
            line,
        )
    loader = fast_safe_loader()
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise YamlPolicyError(
                    f"YAML alias '*{event.anchor}' is not allowed; write the value out in full"
                    " (anchors '&' and aliases '*' are not needed)",
                    event.start_mark.line + 1,
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlPolicyError(
                        f"nested more than {MAX_DEPTH} levels deep; these files need a few levels",
                        event.start_mark.line + 1,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # the parser reports it, with its wording


def yaml11_numbers(text: str) -> list[tuple[int, str, str]]:
    """(line, scalar, number) of each plain scalar that YAML 1.1 reads as another number than
    its digits say (``yaml11_number``): for files that other YAML 1.1 readers parse (Snakemake
    reads the configuration files itself). Call after ``check_yaml_text``; [] on a syntax
    error (the parser words it)."""
    import yaml

    found = []
    try:
        for event in yaml.parse(text, Loader=fast_safe_loader()):
            # A plain scalar: style None (PyYAML) or "" (libyaml), implicitly typed.
            if isinstance(event, yaml.ScalarEvent) and not event.style and event.implicit[0]:
                number = yaml11_number(event.value)
                if number is not None:
                    found.append((event.start_mark.line + 1, event.value, number))
    except yaml.YAMLError:
        return []
    return found


def load_checked(text: str) -> Any:
    """The document of ``text`` as this module reads study files (duplicate keys refused,
    plain decimals, constructor faults with their line), after ``check_yaml_text``: every data
    file of the review (screening records, certainty judgements) and the config files' check.
    Raises YamlPolicyError or yaml.YAMLError."""
    import yaml

    check_yaml_text(text)
    return yaml.load(text, Loader=_loader(fast=True))  # noqa: S506 - a SafeLoader subclass


def load_yaml(
    path: str | Path, max_bytes: int = MAX_FILE_BYTES, what: str = "a study file"
) -> tuple[Any, bytes]:
    """Parse a YAML file (``what``, at most ``max_bytes``); malformed YAML raises InputError
    naming the line and column."""
    import yaml

    file = str(path)
    try:
        size = Path(path).stat().st_size
        if size > max_bytes:
            usual = " (a few KB is usual)" if max_bytes == MAX_FILE_BYTES else ""
            raise InputError(
                Problem(
                    file,
                    "",
                    f"file is {size:,} bytes; {what} is at most {max_bytes:,}{usual}: is this "
                    "the right file?",
                )
            )
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(Problem(file, "", f"cannot read the file ({exc.strerror})")) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(file, "", "not UTF-8 text; save the file as UTF-8")) from exc
    try:
        check_yaml_text(text)
        try:
            # libyaml parses ~8x faster (the workflow checks every file at start); the same
            # resolvers and constructors give the same data.
            return yaml.load(text, Loader=_loader(fast=True)), raw  # noqa: S506 - SafeLoader
        except yaml.YAMLError:
            pass  # reparse in pure Python so that the message is pure PyYAML's wording
        data = yaml.load(text, Loader=_loader(fast=False))  # noqa: S506 - SafeLoader subclass
    except YamlPolicyError as exc:
        where = f"line {exc.line}" if exc.line else ""
        raise InputError(Problem(file, where, str(exc))) from None
    except yaml.YAMLError as exc:
        raise InputError(yaml_error_problem(file, exc)) from exc
    return data, raw


def load_checked_bytes(raw: bytes, file: str) -> Any:
    """``load_checked`` of a file's bytes, its problems as InputError naming the file and the
    line: not UTF-8, a limit, or malformed YAML with its column and the fix (not PyYAML's
    message with its line breaks)."""
    import yaml

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(Problem(file, "", "not UTF-8 text; save the file as UTF-8")) from None
    try:
        return load_checked(text)
    except YamlPolicyError as exc:
        raise InputError(Problem(file, f"line {exc.line}" if exc.line else "", str(exc))) from None
    except yaml.YAMLError as exc:
        raise InputError(yaml_error_problem(file, exc)) from None


def yaml_error_problem(file: str, exc: Exception) -> Problem:
    """A YAML error as ``file: line N: ...``: a value the loader refused (a duplicate key, an
    impossible date) in its own words, a syntax error with its column and how to fix it."""
    import yaml

    mark = getattr(exc, "problem_mark", None)
    line = f"line {mark.line + 1}" if mark else ""
    what = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yaml.constructor.ConstructorError) and getattr(exc, "context", None) is None:
        return Problem(file, line, str(what))
    where = f" (column {mark.column + 1})" if mark else ""
    context = getattr(exc, "context", None)
    detail = f"{context}, {what}" if context else what
    return Problem(
        file, line, f"malformed YAML{where}: {detail}; fix the syntax (indentation, quotes, colons)"
    )
