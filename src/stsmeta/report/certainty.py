"""The certainty of the evidence (GRADE): the review team's judgements, and what the data propose.

The judgements are data (a certainty file such as data/certainty.yaml, schema
``stsmeta/schemas/certainty.schema.yaml``), each with its reason; they are checked here and never
computed. Beside them the report shows what the pipeline can derive from the pooled result
(``propose``): imprecision from the width of the interval, inconsistency from tau, and whether
there are enough studies to test for small-study effects, with the thresholds of the analysis
plan (``review.certainty_rules`` in config.yaml).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from stsmeta.config import certainty_rules
from stsmeta.errors import InputError, Problem
from stsmeta.presentation.wording import plural

LEVELS = ("very_low", "low", "moderate", "high")
DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
DOMAIN_WORDS = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
}
STEPS = {
    "not_serious": 0,
    "serious": 1,
    "very_serious": 2,
    "undetected": 0,
    "suspected": 1,
    "strongly_suspected": 2,
}


def level_word(level: str) -> str:
    """``very_low`` -> ``Very low``."""
    text = str(level).replace("_", " ")
    return text[:1].upper() + text[1:]


def rating_word(rating: str) -> str:
    return str(rating).replace("_", " ")


def expected_level(start: str, domains: dict) -> str:
    """The start lowered by one level per serious (two per very serious) domain."""
    steps = sum(STEPS.get(str((d or {}).get("rating")), 0) for d in domains.values())
    return LEVELS[max(0, LEVELS.index(start) - steps)]


def load_certainty(path: Path | str | None, files, outcomes: list[str]) -> dict | None:
    """The certainty file, validated against its schema and the plan; None without a path."""
    if path is None:
        return None
    from jsonschema import Draft202012Validator

    from stsmeta.schemas import read_schema
    from stsmeta.yaml_limits import load_checked_bytes

    doc = load_checked_bytes(files.read_bytes(path), str(path))
    validator = Draft202012Validator(read_schema("certainty"))
    problems = [
        Problem(str(path), ".".join(str(p) for p in error.absolute_path), error.message)
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise InputError(problems)
    for name, block in doc["outcomes"].items():
        where = f"outcomes.{name}"
        if name not in outcomes:
            problems.append(
                Problem(str(path), where, f"no such outcome in config.yaml ({', '.join(outcomes)})")
            )
            continue
        expected = expected_level(block["start"], block["domains"])
        if block["certainty"] != expected:
            problems.append(
                Problem(
                    str(path),
                    f"{where}.certainty",
                    f"{block['certainty']!r} does not follow from start {block['start']!r} and "
                    f"the downgrades ({expected!r}); change the ratings or the certainty",
                )
            )
    if problems:
        raise InputError(problems)
    return doc


@dataclass(frozen=True)
class Proposal:
    rating: str
    reason: str


def rules_of(config: dict) -> dict:
    return certainty_rules(config)


def propose(result: dict, rules: dict, level: str) -> dict[str, Proposal]:
    """What the pooled result suggests for imprecision, inconsistency and publication bias."""
    proposals = {}
    low, high = result.get("ci_low"), result.get("ci_high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        width = float(high) - float(low)
        rating = (
            "very_serious"
            if width > rules["imprecision_very_serious_width"]
            else "serious"
            if width > rules["imprecision_serious_width"]
            else "not_serious"
        )
        reason = (
            f"{level} interval {100 * width:.0f} percentage points wide (serious above "
            f"{100 * rules['imprecision_serious_width']:.0f}, very serious above "
            f"{100 * rules['imprecision_very_serious_width']:.0f})"
        )
    else:
        rating, reason = "very_serious", "no pooled interval by the primary method"
    proposals["imprecision"] = Proposal(rating, reason)
    tau2 = result.get("tau2")
    if isinstance(tau2, int | float) and math.isfinite(tau2):
        tau = math.sqrt(max(float(tau2), 0.0))
        rating = (
            "very_serious"
            if tau > rules["inconsistency_very_serious_tau"]
            else "serious"
            if tau > rules["inconsistency_serious_tau"]
            else "not_serious"
        )
        proposals["inconsistency"] = Proposal(
            rating,
            f"between-study SD τ = {tau:.2f} on the logit scale (serious above "
            f"{rules['inconsistency_serious_tau']:g}, very serious above "
            f"{rules['inconsistency_very_serious_tau']:g})",
        )
    else:
        proposals["inconsistency"] = Proposal("not_assessable", "no estimate of τ")
    k = result.get("k")
    if isinstance(k, int) and k < rules["small_study_tests_min_k"]:
        proposals["publication_bias"] = Proposal(
            "not_assessable",
            f"{plural(k, 'study', 'studies')}: too few for tests of small-study effects "
            f"(at least {rules['small_study_tests_min_k']})",
        )
    return proposals
