"""Shared helpers of study-file normalisation: the problem/flag collector and reference checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stsmeta.errors import Problem
from stsmeta.evidence import vocabulary as vocab
from stsmeta.evidence.model import Flag


class Collector:
    """Problems and flags gathered while normalising one file."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.flags: list[Flag] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, field, message))

    def flag(self, field: str, reason: str) -> None:
        self.flags.append(Flag(field=field, reason=reason))

    def term(self, vocabulary: vocab.Vocabulary, value: Any, field: str) -> str:
        try:
            return vocab.canonical(vocabulary, value)
        except vocab.UnknownTerm as exc:
            self.problem(field, str(exc))
            return str(value)


def _walk(node: Any, path: str = ""):
    """Every (path, mapping) in a parsed YAML tree."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def fact(data: Mapping[str, Any], key: str) -> Any:
    item = data.get(key)
    return item.get("value") if isinstance(item, dict) else None


def check_references(raw: Mapping[str, Any], c: Collector) -> dict[str, dict[str, Any]]:
    """Source and decision ids exist and are unique; alternatives are declared by their decision."""
    source_ids: list[str] = [s["id"] for s in raw["sources"]]
    for i, source in enumerate(raw["sources"]):
        c.term(vocab.SOURCE_ROLE, source["role"], f"sources[{i}].role")
        c.term(vocab.SOURCE_READ, source["read"], f"sources[{i}].read")
        if source_ids.count(source["id"]) > 1:
            c.problem(f"sources[{i}].id", f"duplicate source id {source['id']!r}; each id once")
    decision_ids = [d["id"] for d in raw["decisions"]]
    for i, decision in enumerate(raw["decisions"]):
        if decision_ids.count(decision["id"]) > 1:
            c.problem(f"decisions[{i}].id", f"duplicate decision id {decision['id']!r}")
    decisions = {d["id"]: d for d in raw["decisions"]}
    for path, node in _walk(raw):
        if path.startswith("sources["):
            continue
        source = node.get("source")
        if isinstance(source, str) and source not in source_ids:
            c.problem(
                f"{path}.source" if path else "source",
                f"unknown source {source!r}; sources listed in this file: {', '.join(source_ids)}",
            )
        decision = node.get("decision")
        if isinstance(decision, str) and decision not in decisions:
            c.problem(
                f"{path}.decision",
                f"unknown decision {decision!r}; decisions recorded in this file: "
                + (", ".join(sorted(decisions)) or "none"),
            )
    return decisions


def check_alternative_declared(
    alt: Mapping[str, Any], field: str, decisions: Mapping[str, Any], c: Collector
) -> None:
    decision = decisions.get(alt["decision"])
    if decision is None:
        return  # reported by check_references
    declared = [a.get("id") for a in decision["alternatives"] if a.get("id")]
    if alt["id"] not in declared:
        c.problem(
            f"{field}.id",
            f"alternative {alt['id']!r} is not among the alternatives of decision"
            f" {alt['decision']!r} ({', '.join(declared) or 'none with an id'});"
            " declare it there with its reading",
        )


def duplicates(values: list[str]) -> set[str]:
    return {v for v in values if values.count(v) > 1}
