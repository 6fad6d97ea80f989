"""Controlled vocabularies of the study files and the synonyms that map onto them.

Every categorical value in a study file (calcinosis type, underlying disease, route, ...) is mapped
to one canonical id here, so that subgroups and eligibility rules compare like with like. Canonical
ids are lower-case snake_case; ``label()`` gives the wording for people. Matching ignores case,
surrounding space, and treats spaces, hyphens and underscores alike, so ``"Systemic sclerosis"``,
``"systemic-sclerosis"`` and ``"systemic_sclerosis"`` are one value. An unknown value is an error
that lists the allowed values: a new term is added here, on purpose, never guessed.

The calcinosis types follow the five-type classification of calcinosis cutis (dystrophic,
metastatic, idiopathic, iatrogenic, calciphylaxis; Le & Bedocs, StatPearls), with tumoral
calcinosis kept apart because the seed studies report it as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Vocabulary:
    """One controlled vocabulary: canonical ids with their labels and accepted synonyms."""

    name: str
    labels: dict[str, str]
    synonyms: dict[str, str]

    def allowed(self) -> list[str]:
        return sorted(self.labels)


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "_", text.strip().lower())


def _vocab(name: str, terms: dict[str, tuple[str, list[str]]]) -> Vocabulary:
    labels = {term: label for term, (label, _) in terms.items()}
    synonyms: dict[str, str] = {}
    for term, (label, extra) in terms.items():
        for form in [term, label, *extra]:
            synonyms[_key(form)] = term
    return Vocabulary(name=name, labels=labels, synonyms=synonyms)


CALCINOSIS_TYPE = _vocab(
    "calcinosis type",
    {
        "dystrophic": ("Dystrophic", ["dystrophic calcinosis", "dystrophic calcinosis cutis"]),
        "metastatic": ("Metastatic", ["metastatic calcinosis", "metastatic calcification"]),
        "idiopathic": ("Idiopathic", ["idiopathic calcinosis"]),
        "iatrogenic": ("Iatrogenic", ["iatrogenic calcinosis"]),
        "calciphylaxis": (
            "Calciphylaxis",
            ["calcific uremic arteriolopathy", "calcific uraemic arteriolopathy", "cua"],
        ),
        "tumoral": ("Tumoral", ["tumoral calcinosis", "tumoural", "tumoural calcinosis"]),
        "not_reported": ("Not reported", ["unknown", "nr"]),
    },
)

DISEASE = _vocab(
    "underlying disease",
    {
        "systemic_sclerosis": (
            "Systemic sclerosis",
            ["ssc", "scleroderma", "limited cutaneous systemic sclerosis", "lcssc", "crest"],
        ),
        "dermatomyositis": ("Dermatomyositis", ["dm", "juvenile dermatomyositis", "jdm"]),
        "lupus_panniculitis": ("Lupus panniculitis", ["lupus profundus"]),
        "systemic_lupus_erythematosus": ("Systemic lupus erythematosus", ["sle"]),
        "chronic_kidney_disease": (
            "Chronic kidney disease",
            ["ckd", "end stage renal disease", "esrd", "end stage kidney disease", "eskd"],
        ),
        "nephrogenic_systemic_fibrosis": ("Nephrogenic systemic fibrosis", ["nsf"]),
        "familial_hyperphosphatemia": (
            "Familial hyperphosphatemia",
            ["familial hyperphosphataemia", "hyperphosphatemic familial tumoral calcinosis"],
        ),
        "mixed_connective_tissue_disease": ("Mixed connective tissue disease", ["mctd"]),
        "overlap_syndrome": ("Overlap syndrome", []),
        "none": ("None identified", ["no underlying disease"]),
        "not_reported": ("Not reported", ["unknown", "nr"]),
    },
)

ROUTE = _vocab(
    "route",
    {
        "intralesional": ("Intralesional", ["il", "intra lesional", "intralesional injection"]),
        "intradermal": ("Intradermal", ["intra dermal"]),
        "subcutaneous": ("Subcutaneous", ["sc", "subcut"]),
        "topical": ("Topical", []),
        "intravenous": ("Intravenous", ["iv"]),
    },
)

CO_INTERVENTION = _vocab(
    "co-intervention",
    {
        "intravenous_sts": (
            "Intravenous sodium thiosulfate",
            ["iv sts", "intravenous sodium thiosulfate", "iv sodium thiosulfate"],
        ),
        "topical_sts": ("Topical sodium thiosulfate", ["topical sodium thiosulfate"]),
        "lidocaine_ring_block": (
            "Lidocaine ring block",
            ["ring block", "lignocaine ring block", "digital block", "lidocaine digital block"],
        ),
        # Anaesthetic mixed into or injected with the STS, as opposed to a ring block.
        "local_anaesthetic": (
            "Local anaesthetic",
            ["local anesthetic", "lidocaine", "lignocaine", "lidocaine infiltration"],
        ),
        "surgical_debridement": ("Surgical debridement", ["debridement"]),
        "wound_care": ("Wound care", []),
        "hyperbaric_oxygen": ("Hyperbaric oxygen", []),
        # Oxygen at normal pressure (e.g. high-flow by mask); not hyperbaric.
        "supplemental_oxygen": (
            "Supplemental oxygen",
            ["high-flow oxygen", "high flow oxygen", "oxygen therapy"],
        ),
        "bisphosphonate": ("Bisphosphonate", []),
        "antibiotics": ("Antibiotics", ["antibiotic", "intravenous antibiotics"]),
        "systemic_steroids": (
            "Systemic steroids",
            ["steroids", "systemic corticosteroids", "corticosteroids"],
        ),
        # A combined treatment whose parts are not known to us (e.g. "multifactorial
        # intervention", typically CKD-mineral and bone disorder management in dialysis).
        "multifactorial_management": (
            "Multifactorial management",
            ["multifactorial intervention", "multipronged intervention", "ckd mbd management"],
        ),
        # Treatment of an infection of the lesion or elsewhere, recorded even when only inferred.
        "infection_treatment": ("Infection treatment", ["treatment of infection"]),
    },
)

DESIGN = _vocab(
    "design",
    {
        "case_report": ("Case report", ["single case"]),
        "case_series": ("Case series", ["case review", "retrospective case review"]),
        "cohort": ("Cohort", ["cohort study", "prospective cohort", "retrospective cohort"]),
        "trial": ("Trial", ["rct", "randomised trial", "randomized trial", "clinical trial"]),
    },
)

OUTCOME = _vocab(
    "harmonised outcome",
    {
        "complete_remission": ("Complete remission", ["cr", "complete response"]),
        "any_response": ("Any response", ["response", "partial or complete remission"]),
    },
)

UNIT = _vocab(
    "denominator unit",
    {
        "patients": ("Patients", ["patient"]),
        "lesions": ("Lesions", ["lesion"]),
    },
)

PATIENT_OUTCOME = _vocab(
    "patient outcome",
    {
        "complete_remission": ("Complete remission", ["cr", "resolved", "complete healing"]),
        "partial_response": ("Partial response", ["partial remission", "pr", "improved"]),
        "any_response": ("Response, completeness not reported", ["response", "effective"]),
        "no_response": ("No response", ["unchanged", "stable"]),
        "progression": ("Progression", ["worse"]),
        "not_evaluable": ("Not evaluable", ["died before assessment", "lost to follow up"]),
        "not_reported": ("Not reported", ["unknown"]),
    },
)

SEX = _vocab(
    "sex",
    {
        "female": ("Female", ["f", "woman", "women"]),
        "male": ("Male", ["m", "man", "men"]),
        "not_reported": ("Not reported", ["unknown"]),
    },
)

JUDGEMENT = _vocab(
    "risk-of-bias judgement",
    {
        "yes": ("Yes", ["y"]),
        "no": ("No", ["n"]),
        "unclear": ("Unclear", ["u"]),
        # Murad q5-q6 (rechallenge, dose-response) concern mostly adverse drug events.
        "not_applicable": ("Not applicable", ["n/a", "na"]),
    },
)

# Judgement of a Murad domain (selection, ascertainment, causality, reporting) and overall.
DOMAIN_JUDGEMENT = _vocab(
    "risk-of-bias domain judgement",
    {
        "low": ("Low", ["low risk"]),
        "some_concerns": ("Some concerns", ["moderate"]),
        "high": ("High", ["high risk"]),
    },
)

# What an outcome was measured in: healing of (calciphylaxis) ulcers or wounds, or clearance of a
# calcium deposit; the analysis plan can stratify or restrict by it.
CONDITION = _vocab(
    "outcome condition",
    {
        "ulcer_healing": ("Ulcer healing", ["wound healing"]),
        "deposit_clearance": ("Calcium deposit clearance", ["clearance", "deposit reduction"]),
    },
)

# Status of a study's adverse events or deaths: tells "none occurred" from "not reported".
HARM_STATUS = _vocab(
    "harms status",
    {
        "reported": ("Reported", []),
        "none_occurred": ("None occurred", ["none"]),
        "not_reported": ("Not reported", []),
        "not_extracted": ("Reported in a part not read", []),
    },
)

# What of a source was read, from the deepest to the shallowest.
SOURCE_READ = _vocab(
    "source read",
    {
        "full_text": ("Full text", []),
        "partial_text": ("Part of the full text", []),
        "abstract": ("Abstract", []),
        "citation_only": ("Citation only", []),
        "not_read": ("Not read", []),
    },
)

SOURCE_ROLE = _vocab(
    "source role",
    {
        "primary_paper": ("Primary paper", []),
        "source_article": ("Source article", []),
        "secondary_report": ("Secondary report", ["news report"]),
        "evidence_notes": ("Evidence notes", []),
        "other_page": ("Other page", []),
    },
)

VOCABULARIES: dict[str, Vocabulary] = {
    "calcinosis_type": CALCINOSIS_TYPE,
    "disease": DISEASE,
    "route": ROUTE,
    "co_intervention": CO_INTERVENTION,
    "design": DESIGN,
    "outcome": OUTCOME,
    "unit": UNIT,
    "patient_outcome": PATIENT_OUTCOME,
    "sex": SEX,
    "judgement": JUDGEMENT,
    "domain_judgement": DOMAIN_JUDGEMENT,
    "condition": CONDITION,
    "harm_status": HARM_STATUS,
    "source_read": SOURCE_READ,
    "source_role": SOURCE_ROLE,
}


class UnknownTerm(ValueError):
    """A value that is not in its vocabulary; the message lists the allowed values."""


def canonical(vocabulary: Vocabulary, value: str) -> str:
    """Map ``value`` (canonical id, label or synonym) to its canonical id, or raise UnknownTerm."""
    if not isinstance(value, str) or not value.strip():
        raise UnknownTerm(
            f"expected a {vocabulary.name} as text; allowed: {', '.join(vocabulary.allowed())}"
        )
    term = vocabulary.synonyms.get(_key(value))
    if term is None:
        raise UnknownTerm(
            f"unknown {vocabulary.name} {value!r}; allowed: {', '.join(vocabulary.allowed())}"
            " (or a synonym listed in docs/data-dictionary.md; new terms are added in"
            " src/stsmeta/evidence/vocabulary.py)"
        )
    return term


def label(vocabulary: Vocabulary, term: str) -> str:
    """The human wording of a canonical id (the id itself if unknown)."""
    return vocabulary.labels.get(term, term)
