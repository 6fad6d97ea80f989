"""Hypothesis strategies: the SYNTHETIC study fixture with one to three random mutations.

Shared by tests/test_robustness_properties.py (validation and normalisation, fast) and
tests/test_robustness_workflow.py (the whole pipeline, a few examples). A mutation replaces a
value anywhere in the file by one of the schema's types or a hostile value (odd characters,
NaN, huge or negative numbers, floats for counts, booleans for text), deletes a field, or adds
an unknown one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

FIXTURE = Path(__file__).parent / "fixtures" / "studies" / "synthetic-2020.yaml"
BASE = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))

HOSTILE_TEXT = [
    "",
    " ",
    "山田 2020",
    "Smith 😀 2013",
    "a\tb",
    "a\x00b",
    "Syn\u00adthetic",
    "Sm\u200bith",
    "Sm\u202eith",
    "x" * 500,
    "$\\undefinedmacro$",
    "{word}",
    '=HYPERLINK("http://evil.example","x")',
    "\x1b[31mred",
    "yes",
    "nan",
    "Müller-Łukasz",
]


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


PATHS = [p for p in _paths(BASE) if p]

values = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=30),
    st.integers(min_value=-5, max_value=12),
    st.sampled_from([10**6, 10**30, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([3.0, 33.0, 0.5]),
    st.booleans(),
    st.none(),
    st.just([]),
    st.just({}),
)


def _apply(data: dict, path: tuple, op: str, value: Any) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent[f"unknown_{str(value)[:8]}"] = value
    else:
        parent[last] = value


def _current(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


# A value of the type already there: most such files stay schema-valid, so that the property
# also reaches the pipeline, not only the schema.
SAME_TYPE = {
    bool: st.booleans(),
    int: st.integers(min_value=0, max_value=12),
    float: st.floats(min_value=0, max_value=100),
    str: st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20)),
}


@st.composite
def mutated_studies(draw) -> dict:
    """The fixture with one to three mutations (each on a path that still exists)."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(PATHS))
        op = draw(st.sampled_from(["same", "same", "same", "replace", "delete", "add"]))
        try:
            if op == "same":
                kind = type(_current(data, path))
                if kind not in SAME_TYPE:
                    continue
                _apply(data, path, "replace", draw(SAME_TYPE[kind]))
            else:
                # A copy: one object twice would be written as a YAML alias, which is refused.
                _apply(data, path, op, copy.deepcopy(draw(values)))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced that path
    return data


def write_study(data: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
