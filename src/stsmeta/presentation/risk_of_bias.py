"""The risk-of-bias tool of Murad et al. (2018) as the figures and the report show it: the eight
questions, the domains, the judgements with their colours, and reading a study's judgements."""

from __future__ import annotations

from dataclasses import dataclass

from stsmeta.errors import InputError, Problem
from stsmeta.presentation.palette import BLUISH_GREEN, GREY, ORANGE, VERMILLION

QUESTIONS = ("q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8")
QUESTION_TEXT = {
    "q1": "Does the patient(s) represent(s) the whole experience of the investigator (centre)?",
    "q2": "Was the exposure adequately ascertained?",
    "q3": "Was the outcome adequately ascertained?",
    "q4": "Were other alternative causes that may explain the observation ruled out?",
    "q5": "Was there a challenge/rechallenge phenomenon?",
    "q6": "Was there a dose-response effect?",
    "q7": "Was follow-up long enough for outcomes to occur?",
    "q8": "Is the case(s) described with sufficient details to allow replication?",
}
DOMAINS = (
    ("Selection", ("q1",)),
    ("Ascertainment", ("q2", "q3")),
    ("Causality", ("q4", "q5", "q6", "q7")),
    ("Reporting", ("q8",)),
)


@dataclass(frozen=True)
class Judgement:
    key: str
    label: str
    colour: str
    glyph: str


JUDGEMENTS = (
    Judgement("yes", "Yes", BLUISH_GREEN, "+"),
    Judgement("no", "No", VERMILLION, "×"),
    Judgement("unclear", "Unclear", ORANGE, "?"),
    Judgement("not applicable", "Not applicable", GREY, "–"),
    Judgement("not assessed", "Not assessed", "#FFFFFF", ""),
)
# Spellings accepted in study files for each judgement.
SYNONYMS = {
    "yes": "yes",
    "no": "no",
    "unclear": "unclear",
    "unknown": "unclear",
    "not applicable": "not applicable",
    "not_applicable": "not applicable",
    "n/a": "not applicable",
    "na": "not applicable",
}
ALLOWED = "yes, no, unclear, not applicable"

# Domain columns after the questions: (key in risk_of_bias.domains, or "overall"; tick label).
DOMAIN_COLUMNS = (
    ("selection", "Sel."),
    ("ascertainment", "Asc."),
    ("causality", "Caus."),
    ("reporting", "Rep."),
    ("overall", "Overall"),
)
DOMAIN_JUDGEMENTS = (
    Judgement("low", "Low risk", BLUISH_GREEN, "+"),
    Judgement("some_concerns", "Some concerns", ORANGE, "!"),
    Judgement("high", "High risk", VERMILLION, "×"),
)
DOMAIN_SYNONYMS = {
    "low": "low",
    "some_concerns": "some_concerns",
    "some concerns": "some_concerns",
    "high": "high",
}
# Study labels end this far left of the first column (matplotlib's default tick label pad).


def judgement_of(study: dict, question: str) -> Judgement:
    """The judgement of one question, or ``not assessed`` when the study file has none."""
    entry = (study.get("risk_of_bias") or {}).get(question)
    if entry is None:
        return JUDGEMENTS[-1]
    raw = entry.get("judgement") if isinstance(entry, dict) else entry
    key = SYNONYMS.get(str(raw).strip().lower())
    if key is None:
        raise InputError(
            Problem(
                str(study.get("_path") or study.get("study_id")),
                f"risk_of_bias.{question}.judgement",
                f"{raw!r} is not a judgement; allowed: {ALLOWED}",
            )
        )
    return next(j for j in JUDGEMENTS if j.key == key)


def domain_judgement_of(study: dict, domain: str) -> Judgement:
    """A domain's (or the overall) judgement, or ``not assessed`` when the file has none."""
    rob = study.get("risk_of_bias") or {}
    entry = rob.get("overall") if domain == "overall" else (rob.get("domains") or {}).get(domain)
    if entry is None:
        return JUDGEMENTS[-1]
    raw = entry.get("judgement") if isinstance(entry, dict) else entry
    key = DOMAIN_SYNONYMS.get(str(raw).strip().lower())
    if key is None:
        field = "overall" if domain == "overall" else f"domains.{domain}"
        raise InputError(
            Problem(
                str(study.get("_path") or study.get("study_id")),
                f"risk_of_bias.{field}.judgement",
                f"{raw!r} is not a domain judgement; allowed: low, some_concerns, high",
            )
        )
    return next(j for j in DOMAIN_JUDGEMENTS if j.key == key)
