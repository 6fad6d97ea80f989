"""From a schema-valid study file to a normalised :class:`stsmeta.evidence.model.Study`.

Every problem is collected (not only the first) and raised together as one InputError, each
naming the file and the field. Values are never silently changed: implausible concentrations,
vague time points and counts taken by an extraction decision are kept and *flagged*.

This module orchestrates; the parts are read by normalise_outcomes (counts, percentages, time
points), normalise_concentration, normalise_patients (patient rows and harms) and
normalise_common (the problem collector and reference checks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stsmeta.errors import InputError
from stsmeta.evidence import vocabulary as vocab
from stsmeta.evidence.model import Concentration, Decision, Study
from stsmeta.evidence.normalise_common import Collector, check_references, fact
from stsmeta.evidence.normalise_concentration import read_concentration
from stsmeta.evidence.normalise_outcomes import read_outcomes
from stsmeta.evidence.normalise_patients import read_harms, read_patients
from stsmeta.evidence.units import UnitProblem, duration_weeks

# Same as config.yaml's plausible_concentration_mg_per_ml; used only when no config is given.
DEFAULT_PLAUSIBLE_MG_PER_ML = (10.0, 400.0)


RISK_OF_BIAS_QUESTIONS = tuple(f"q{k}" for k in range(1, 9))
RISK_OF_BIAS_DOMAINS = ("selection", "ascertainment", "causality", "reporting")


def _risk_of_bias(raw_rob: Mapping[str, Any], c: Collector) -> dict[str, Any]:
    """Murad et al. 2018: eight questions, four domain judgements and an overall judgement."""
    rob: dict[str, Any] = {"tool": raw_rob["tool"]}
    for q in RISK_OF_BIAS_QUESTIONS:
        item = raw_rob[q]
        rob[q] = {
            "judgement": c.term(vocab.JUDGEMENT, item["judgement"], f"risk_of_bias.{q}.judgement"),
            "reason": " ".join(item["reason"].split()),
        }
    rob["domains"] = {}
    for domain in RISK_OF_BIAS_DOMAINS:
        item = raw_rob["domains"][domain]
        rob["domains"][domain] = {
            "judgement": c.term(
                vocab.DOMAIN_JUDGEMENT,
                item["judgement"],
                f"risk_of_bias.domains.{domain}.judgement",
            ),
            "reason": " ".join(item["reason"].split()),
        }
    rob["overall"] = {
        "judgement": c.term(
            vocab.DOMAIN_JUDGEMENT,
            raw_rob["overall"]["judgement"],
            "risk_of_bias.overall.judgement",
        ),
        "reason": " ".join(raw_rob["overall"]["reason"].split()),
    }
    return rob


# Depth of reading, deepest first; a study's evidence basis is the deepest read of its own report.
_READ_DEPTH = ("full_text", "partial_text", "abstract")


def _evidence_basis(sources: Sequence[Mapping[str, Any]]) -> str:
    """What the study is known from: its own report as read, or only a secondary summary."""
    read = {
        vocab.canonical(vocab.SOURCE_READ, s["read"])
        for s in sources
        if vocab.canonical(vocab.SOURCE_ROLE, s["role"]) == "primary_paper"
    }
    return next((depth for depth in _READ_DEPTH if depth in read), "secondary_summary")


def _terms(
    items: Sequence[Mapping[str, Any]], vocabulary: vocab.Vocabulary, field: str, c: Collector
) -> list[str]:
    """Sorted distinct canonical terms of a list of {value: ...} items."""
    return sorted(
        {c.term(vocabulary, item["value"], f"{field}[{i}].value") for i, item in enumerate(items)}
    )


def _check_co_intervention_counts(
    items: Sequence[Mapping[str, Any]], n_patients: Any, c: Collector
) -> None:
    """How many patients had each co-intervention, when given: at least 1 (a co-intervention
    no patient had would still mark the study's counts as confounded) and at most n_patients."""
    for i, item in enumerate(items):
        given = item.get("patients")
        if not isinstance(given, int) or isinstance(given, bool):
            continue
        where = f"intervention.co_interventions[{i}].patients"
        if given < 1:
            c.problem(
                where,
                f"{given}: a co-intervention no patient had is not one; remove the entry, or "
                "give how many patients had it (1 or more)",
            )
        elif isinstance(n_patients, int) and given > n_patients:
            c.problem(
                where,
                f"{given} exceeds the study's n_patients ({n_patients}); give how many of the "
                "study's patients had it",
            )


def _decisions(raw_decisions: Sequence[Mapping[str, Any]]) -> list[Decision]:
    return [
        Decision(
            id=d["id"],
            field=d["field"],
            issue=d["issue"].strip(),
            chosen=d["chosen"].strip(),
            alternatives=tuple(
                {"id": a.get("id", ""), "reading": a["reading"].strip()} for a in d["alternatives"]
            ),
            reason=d["reason"].strip(),
            source=d.get("source"),
            locator=d.get("locator"),
        )
        for d in raw_decisions
    ]


def _intervention(
    intervention: Mapping[str, Any],
    decisions: Mapping[str, Any],
    plausible_mg_per_ml: tuple[float, float],
    c: Collector,
) -> tuple[str, list[str], Concentration, float | None]:
    """Route, co-interventions, concentration and interval (weeks) of the intervention."""
    route = c.term(vocab.ROUTE, intervention["route"]["value"], "intervention.route.value")
    co_interventions = _terms(
        intervention.get("co_interventions", []),
        vocab.CO_INTERVENTION,
        "intervention.co_interventions",
        c,
    )
    concentration = read_concentration(
        intervention["concentration"], decisions, plausible_mg_per_ml, c
    )
    interval_text = fact(intervention, "interval")
    interval_weeks = None
    if interval_text is not None:
        try:
            interval_weeks = duration_weeks(interval_text).weeks
        except UnitProblem as exc:
            c.problem("intervention.interval.value", str(exc))
    return route, co_interventions, concentration, interval_weeks


def normalise_study(
    raw: Mapping[str, Any],
    *,
    file: str,
    source_sha256: str,
    plausible_mg_per_ml: tuple[float, float] = DEFAULT_PLAUSIBLE_MG_PER_ML,
    collector: Collector | None = None,
) -> Study:
    """Normalise one schema-valid study file (parsed YAML); raise InputError with every problem.

    ``collector`` (optional) keeps the problems found so far if a file that is not schema-valid
    stops normalisation midway, so that they can be reported with the schema's.
    """
    c = collector if collector is not None else Collector(file)
    decisions = check_references(raw, c)

    design = c.term(vocab.DESIGN, fact(raw, "design"), "design.value")
    calcinosis_types = _terms(raw["calcinosis_types"], vocab.CALCINOSIS_TYPE, "calcinosis_types", c)
    diseases = _terms(raw["diseases"], vocab.DISEASE, "diseases", c)
    intervention = raw["intervention"]
    route, co_interventions, concentration, interval_weeks = _intervention(
        intervention, decisions, plausible_mg_per_ml, c
    )
    n_patients = raw["n_patients"]["value"]
    n_lesions = fact(raw, "n_lesions")
    _check_co_intervention_counts(intervention.get("co_interventions", []), n_patients, c)

    # Systemic STS given alongside confounds the local effect: an outcome counts as including it
    # unless the file says otherwise for that outcome.
    systemic_default = "intravenous_sts" in co_interventions
    outcomes, not_reported = read_outcomes(
        raw, decisions, (n_patients, n_lesions), systemic_default, c
    )
    patients = read_patients(raw.get("patients", []), n_patients, c)
    harms = read_harms(raw["harms"], n_patients, c)
    rob = _risk_of_bias(raw["risk_of_bias"], c)
    decision_records = _decisions(raw["decisions"])

    if c.problems:
        raise InputError(c.problems)

    citation = dict(raw["citation"])
    for key in ("volume", "issue", "pages", "doi", "pmid"):
        value = citation.get(key)
        citation[key] = None if value is None else str(value)
    return Study(
        study_id=raw["study_id"],
        label=raw["label"],
        year=None if citation.get("year") is None else int(citation["year"]),
        citation=citation,
        design=design,
        setting=fact(raw, "setting"),
        n_patients=n_patients,
        n_lesions=n_lesions,
        calcinosis_types=tuple(calcinosis_types),
        diseases=tuple(diseases),
        route=route,
        concentration=concentration,
        volume=fact(intervention, "volume"),
        sessions=fact(intervention, "sessions"),
        interval_text=fact(intervention, "interval"),
        interval_weeks=interval_weeks,
        co_interventions=tuple(co_interventions),
        systemic_sts=any(item.get("systemic_sts", systemic_default) for item in raw["outcomes"]),
        outcomes=tuple(sorted(outcomes, key=lambda o: o.outcome)),
        outcomes_not_reported=tuple(sorted(not_reported, key=lambda o: o.outcome)),
        patients=tuple(patients),
        harms=harms,
        other_outcomes=tuple(
            {key: (" ".join(v.split()) if isinstance(v, str) else v) for key, v in item.items()}
            for item in raw.get("other_outcomes", [])
        ),
        evidence_basis=_evidence_basis(raw["sources"]),
        risk_of_bias=rob,
        decisions=tuple(sorted(decision_records, key=lambda d: d.id)),
        flags=tuple(sorted(set(c.flags), key=lambda f: (f.field, f.reason))),
        sources=tuple(dict(s) for s in raw["sources"]),
        source_sha256=source_sha256,
    )
