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


def _loader(fast: bool = True):
    """A SafeLoader that refuses duplicate keys; ``fast`` uses libyaml's parser if present."""
    import yaml

    base = fast_safe_loader() if fast else yaml.SafeLoader

    class UniqueKeyLoader(base):  # type: ignore[valid-type,misc]  # chosen at run time
        """SafeLoader that refuses duplicate keys instead of keeping the last one."""

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


def safe_load_checked(text: str) -> Any:
    """``yaml.safe_load`` of a data file's text after ``check_yaml_text`` (size of nesting,
    aliases, characters), with libyaml's parser when present (~8x faster, the same data).
    Raises YamlPolicyError or yaml.YAMLError."""
    import yaml

    check_yaml_text(text)
    return yaml.load(text, Loader=fast_safe_loader())  # noqa: S506 - a SafeLoader


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
        mark = getattr(exc, "problem_mark", None)
        where = f" (column {mark.column + 1})" if mark else ""
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}, {what}" if context else what
        raise InputError(
            Problem(
                file,
                f"line {mark.line + 1}" if mark else "",
                f"malformed YAML{where}: {detail}; fix the syntax (indentation, quotes, colons)",
            )
        ) from exc
    return data, raw
