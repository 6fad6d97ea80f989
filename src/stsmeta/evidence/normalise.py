"""From a schema-valid study file to a normalised :class:`stsmeta.evidence.model.Study`.

Every problem is collected (not only the first) and raised together as one InputError, each
naming the file and the field. Values are never silently changed: implausible concentrations,
vague time points and counts taken by an extraction decision are kept and *flagged*.

Reported percentages become counts only when the percentage is a count: 50% of 6 patients is 3,
50% of 5 is 2.5 and is an error unless the outcome gives ``events`` together with a ``decision``
that explains the reading. A percentage written with d decimals is taken to be rounded to d
decimals (so 33% of 3 reads as 1, 33.3% of 3 as 1, 50% of 5 as nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from stsmeta.errors import InputError, Problem
from stsmeta.evidence import vocabulary as vocab
from stsmeta.evidence.model import (
    Concentration,
    ConcentrationAlternative,
    Decision,
    Flag,
    Outcome,
    OutcomeAlternative,
    OutcomeNotReported,
    Patient,
    Study,
    timepoint_class,
)
from stsmeta.evidence.units import UnitProblem, concentration_mg_per_ml, duration_weeks

# Same as config.yaml's plausible_concentration_mg_per_ml; used only when no config is given.
DEFAULT_PLAUSIBLE_MG_PER_ML = (10.0, 400.0)


class PercentNotACount(ValueError):
    """A reported percentage of n that is no whole number of events."""


def _decimals(percent: float) -> int:
    text = repr(float(percent))
    if "e" in text or "E" in text:
        return 6
    whole, _, frac = text.partition(".")
    return 0 if frac in {"", "0"} else len(frac)


def percent_to_count(percent: float, n: int) -> tuple[int, bool]:
    """Events that a reported percentage of ``n`` stands for, and whether rounding was needed.

    The percentage is taken as rounded to the decimals it is written with (half a unit of the
    last decimal either way). Raises PercentNotACount when no whole number of events fits, or
    when more than one does (the percentage is then too coarse for ``n``).
    """
    if n <= 0:
        raise PercentNotACount(f"{percent}% of {n} has no count: the denominator must be positive")
    exact = percent * n / 100
    if math.isclose(exact, round(exact), rel_tol=0, abs_tol=1e-9):
        return int(round(exact)), False
    half_width = 0.5 * 10 ** (-_decimals(percent))
    fits = [k for k in range(n + 1) if abs(100 * k / n - percent) <= half_width + 1e-9]
    if len(fits) == 1:
        return fits[0], True
    if not fits:
        raise PercentNotACount(
            f"{percent}% of {n} is {exact:g}, not a whole number of events"
            f" (nearest counts: {math.floor(exact)}/{n} = {100 * math.floor(exact) / n:.1f}%,"
            f" {math.ceil(exact)}/{n} = {100 * math.ceil(exact) / n:.1f}%)"
        )
    raise PercentNotACount(
        f"{percent}% of {n} fits several counts ({', '.join(map(str, fits))});"
        " the percentage is too coarse for this denominator"
    )


class _Collector:
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


def _fact(data: Mapping[str, Any], key: str) -> Any:
    item = data.get(key)
    return item.get("value") if isinstance(item, dict) else None


def _check_references(raw: Mapping[str, Any], c: _Collector) -> dict[str, dict[str, Any]]:
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


def _check_alternative_declared(
    alt: Mapping[str, Any], field: str, decisions: Mapping[str, Any], c: _Collector
) -> None:
    decision = decisions.get(alt["decision"])
    if decision is None:
        return  # reported by _check_references
    declared = [a.get("id") for a in decision["alternatives"] if a.get("id")]
    if alt["id"] not in declared:
        c.problem(
            f"{field}.id",
            f"alternative {alt['id']!r} is not among the alternatives of decision"
            f" {alt['decision']!r} ({', '.join(declared) or 'none with an id'});"
            " declare it there with its reading",
        )


def _count(
    item: Mapping[str, Any], field: str, c: _Collector, flag_field: str
) -> tuple[int | None, float | None]:
    """(events, derived_from_percent) of an outcome or alternative; problems reported in c.

    ``field`` is the study-file path (for errors), ``flag_field`` the outcome-named path (flags).
    """
    n = item["n"]
    events = item.get("events")
    percent = item.get("percent")
    derived = None
    if n == 0:
        c.problem(f"{field}.n", "denominator 0: n must be at least 1 (drop an outcome nobody had)")
        return None, None
    if percent is not None:
        derived = float(percent)
        try:
            count, rounded = percent_to_count(float(percent), n)
        except PercentNotACount as exc:
            if events is None or not item.get("decision"):
                c.problem(
                    f"{field}.percent",
                    f"{exc}; correct n, or give 'events' with a 'decision' that records the"
                    " reading taken",
                )
                return None, derived
            c.flag(
                f"{flag_field}.events",
                f"{events} events taken by decision {item['decision']!r}; the reported"
                f" {percent}% of {n} is not a count",
            )
        else:
            if events is None:
                events = count
                if rounded:
                    c.flag(
                        f"{flag_field}.events",
                        f"{count}/{n} derived from a rounded {percent}% ({100 * count / n:.2f}%)",
                    )
            elif events != count:
                if not item.get("decision"):
                    c.problem(
                        f"{field}.events",
                        f"events {events} disagree with percent {percent}% of {n} (= {count});"
                        " give one of them, or add a 'decision' that records the reading taken",
                    )
                    return None, derived
                c.flag(
                    f"{flag_field}.events",
                    f"{events} events taken by decision {item['decision']!r} where {percent}%"
                    f" of {n} gives {count}",
                )
    if events is not None and events > n:
        c.problem(
            f"{field}.events",
            f"events ({events}) exceed the denominator n ({n}); events must be 0 to n",
        )
        return None, derived
    return events, derived


def _concentration(
    raw_conc: Mapping[str, Any],
    decisions: Mapping[str, Any],
    plausible: tuple[float, float],
    c: _Collector,
) -> Concentration:
    field = "intervention.concentration"
    low, high = plausible

    def read(text: str, where: str) -> float | None:
        try:
            return concentration_mg_per_ml(text)
        except UnitProblem as exc:
            c.problem(where, str(exc))
            return None

    def is_plausible(value: float, where: str, what: str) -> bool:
        ok = low <= value <= high
        if not ok:
            c.flag(
                where,
                f"{what} {value:g} mg/mL is outside the plausible range {low:g}-{high:g} mg/mL"
                " (config plausible_concentration_mg_per_ml); kept as read",
            )
        return ok

    reported = raw_conc.get("reported")
    reading = raw_conc.get("reading") or reported
    mg_per_ml = plausible_flag = None
    if reported is None:
        if raw_conc.get("reading") is not None:
            c.problem(f"{field}.reading", "a reading needs the concentration as reported")
        c.flag(field, "concentration not reported")
    else:
        where = f"{field}.reading" if raw_conc.get("reading") else f"{field}.reported"
        mg_per_ml = read(reading, where)
        if mg_per_ml is not None:
            plausible_flag = is_plausible(mg_per_ml, field, "concentration")
        if raw_conc.get("reading") and raw_conc["reading"] != reported:
            if not raw_conc.get("decision"):
                c.problem(
                    f"{field}.decision",
                    "a reading that differs from the reported text needs a 'decision' recording"
                    " why",
                )
            c.flag(
                field,
                f"reported {reported!r} read as {raw_conc['reading']!r}"
                + (f" (decision {raw_conc['decision']!r})" if raw_conc.get("decision") else ""),
            )
    alternatives = []
    for i, alt in enumerate(raw_conc.get("alternatives", [])):
        where = f"{field}.alternatives[{i}]"
        _check_alternative_declared(alt, where, decisions, c)
        value = read(alt["reading"], f"{where}.reading")
        if value is None:
            continue
        alternatives.append(
            ConcentrationAlternative(
                id=alt["id"],
                reported=reported or "",
                reading=alt["reading"],
                mg_per_ml=value,
                plausible=is_plausible(
                    value,
                    f"{field}.alternatives.{alt['id']}",
                    f"alternative reading {alt['id']!r}:",
                ),
                decision=alt["decision"],
            )
        )
    return Concentration(
        reported=reported,
        reading=reading,
        mg_per_ml=mg_per_ml,
        plausible=plausible_flag,
        source=raw_conc.get("source"),
        locator=raw_conc.get("locator"),
        decision=raw_conc.get("decision"),
        alternatives=tuple(alternatives),
    )


# Harms: the fields of an adverse event and of a death, as written in the study file.
_HARM_FIELDS = {
    "adverse_events": ("event", "patients", "serious", "attributed_by_authors", "systemic_sts"),
    "deaths": ("cause", "count", "attributed_by_authors", "systemic_sts"),
}
_HARM_REQUIRED = {"adverse_events": ("event",), "deaths": ("cause", "count")}


def _harms(raw_harms: Mapping[str, Any], n_patients: int, c: _Collector) -> dict[str, Any]:
    """Adverse events and deaths with a status that tells 'none occurred' from 'not reported'."""
    harms: dict[str, Any] = {}
    for kind, fields in _HARM_FIELDS.items():
        block = raw_harms[kind]
        where = f"harms.{kind}"
        status = c.term(vocab.HARM_STATUS, block["status"], f"{where}.status")
        events = []
        for i, item in enumerate(block["events"]):
            at = f"{where}.events[{i}]"
            foreign = sorted(set(item) - {*fields, "source", "locator", "note"})
            for key in foreign:
                c.problem(f"{at}.{key}", f"not a field of {kind}; allowed: {', '.join(fields)}")
            for key in _HARM_REQUIRED[kind]:
                if key not in item:
                    c.problem(f"{at}.{key}", f"missing required field for {kind}")
            affected = item.get("patients") if kind == "adverse_events" else item.get("count")
            if isinstance(affected, int) and affected > n_patients:
                c.problem(
                    f"{at}.{'patients' if kind == 'adverse_events' else 'count'}",
                    f"{affected} exceeds the study's n_patients ({n_patients})",
                )
            entry = {key: item.get(key) for key in fields}
            entry["systemic_sts"] = bool(item.get("systemic_sts", False))
            entry.update(
                source=item["source"],
                locator=item["locator"],
                note=" ".join(item["note"].split()) if item.get("note") else None,
            )
            events.append(entry)
        if status == "reported" and not events:
            c.problem(f"{where}.events", "status 'reported' needs the events listed")
        if status != "reported" and events:
            c.problem(
                f"{where}.status", f"events are listed, so the status is 'reported', not {status!r}"
            )
        if kind == "deaths":
            total = sum(e["count"] or 0 for e in events)
            if total > n_patients:
                c.problem(
                    f"{where}.events", f"{total} deaths in all, more than {n_patients} patients"
                )
        harms[kind] = {
            "status": status,
            "source": block.get("source"),
            "locator": block.get("locator"),
            "note": " ".join(block["note"].split()) if block.get("note") else None,
            "events": events,
        }
    return harms


RISK_OF_BIAS_QUESTIONS = tuple(f"q{k}" for k in range(1, 9))
RISK_OF_BIAS_DOMAINS = ("selection", "ascertainment", "causality", "reporting")


def _risk_of_bias(raw_rob: Mapping[str, Any], c: _Collector) -> dict[str, Any]:
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


def _duplicates(values: list[str]) -> set[str]:
    return {v for v in values if values.count(v) > 1}


def normalise_study(
    raw: Mapping[str, Any],
    *,
    file: str,
    source_sha256: str,
    plausible_mg_per_ml: tuple[float, float] = DEFAULT_PLAUSIBLE_MG_PER_ML,
) -> Study:
    """Normalise one schema-valid study file (parsed YAML); raise InputError with every problem."""
    c = _Collector(file)
    decisions = _check_references(raw, c)

    design = c.term(vocab.DESIGN, _fact(raw, "design"), "design.value")
    calcinosis_types = sorted(
        {
            c.term(vocab.CALCINOSIS_TYPE, item["value"], f"calcinosis_types[{i}].value")
            for i, item in enumerate(raw["calcinosis_types"])
        }
    )
    diseases = sorted(
        {
            c.term(vocab.DISEASE, item["value"], f"diseases[{i}].value")
            for i, item in enumerate(raw["diseases"])
        }
    )
    intervention = raw["intervention"]
    route = c.term(vocab.ROUTE, intervention["route"]["value"], "intervention.route.value")
    co_interventions = sorted(
        {
            c.term(
                vocab.CO_INTERVENTION, item["value"], f"intervention.co_interventions[{i}].value"
            )
            for i, item in enumerate(intervention.get("co_interventions", []))
        }
    )
    concentration = _concentration(intervention["concentration"], decisions, plausible_mg_per_ml, c)
    interval_text = _fact(intervention, "interval")
    interval_weeks = None
    if interval_text is not None:
        try:
            interval_weeks = duration_weeks(interval_text).weeks
        except UnitProblem as exc:
            c.problem("intervention.interval.value", str(exc))

    n_patients = raw["n_patients"]["value"]
    n_lesions = _fact(raw, "n_lesions")

    # Systemic STS given alongside confounds the local effect: an outcome counts as including it
    # unless the file says otherwise for that outcome.
    systemic_default = "intravenous_sts" in co_interventions

    outcomes: list[Outcome] = []
    for i, item in enumerate(raw["outcomes"]):
        field = f"outcomes[{i}]"
        name = c.term(vocab.OUTCOME, item["outcome"], f"{field}.outcome")
        unit = c.term(vocab.UNIT, item["unit"], f"{field}.unit")
        events, derived = _count(item, field, c, f"outcomes.{name}")
        limit = n_patients if unit == "patients" else n_lesions
        if limit is not None and item["n"] > limit:
            c.problem(
                f"{field}.n",
                f"denominator {item['n']} {unit} exceeds the study's n_{unit} ({limit})",
            )
        try:
            time = duration_weeks(item.get("timepoint"))
        except UnitProblem as exc:
            c.problem(f"{field}.timepoint", str(exc))
            time = None
        named = f"outcomes.{name}"
        if time is not None and time.weeks is None:
            c.flag(
                f"{named}.timepoint",
                f"time point {time.text!r} is vague; read as unknown"
                if time.status == "vague"
                else "time point not reported; unknown",
            )
        systemic = item.get("systemic_sts", systemic_default)
        if systemic:
            c.flag(f"{named}.systemic_sts", "primary reading includes patients with systemic STS")
        alternatives = []
        ids = [a["id"] for a in item.get("alternatives", [])]
        for dup in sorted(_duplicates(ids)):
            c.problem(f"{field}.alternatives", f"duplicate alternative id {dup!r}")
        for j, alt in enumerate(item.get("alternatives", [])):
            where = f"{field}.alternatives[{j}]"
            _check_alternative_declared(alt, where, decisions, c)
            alt_unit = c.term(vocab.UNIT, alt["unit"], f"{where}.unit")
            alt_events, alt_derived = _count(
                alt, where, c, f"outcomes.{name}.alternatives.{alt['id']}"
            )
            alt_limit = n_patients if alt_unit == "patients" else n_lesions
            if alt_limit is not None and alt["n"] > alt_limit:
                c.problem(
                    f"{where}.n",
                    f"denominator {alt['n']} {alt_unit} exceeds the study's n_{alt_unit}"
                    f" ({alt_limit})",
                )
            if alt_events is not None:
                alternatives.append(
                    OutcomeAlternative(
                        id=alt["id"],
                        events=alt_events,
                        n=alt["n"],
                        unit=alt_unit,
                        decision=alt["decision"],
                        systemic_sts=bool(alt.get("systemic_sts", systemic)),
                        derived_from_percent=alt_derived,
                    )
                )
        if events is None:
            continue
        outcomes.append(
            Outcome(
                outcome=name,
                events=events,
                n=item["n"],
                unit=unit,
                timepoint_weeks=time.weeks if time else None,
                timepoint_text=item.get("timepoint") or "",
                definition=item["definition"].strip(),
                source=item["source"],
                locator=item["locator"],
                derived_from_percent=derived,
                decision=item.get("decision"),
                alternatives=tuple(sorted(alternatives, key=lambda a: a.id)),
                systemic_sts=bool(systemic),
                condition=c.term(vocab.CONDITION, item["condition"], f"{field}.condition"),
                timepoint_class=timepoint_class(time.weeks if time else None),
            )
        )
    not_reported = []
    for i, item in enumerate(raw.get("outcomes_not_reported", [])):
        name = c.term(vocab.OUTCOME, item["outcome"], f"outcomes_not_reported[{i}].outcome")
        not_reported.append(
            OutcomeNotReported(
                outcome=name,
                reason=item["reason"].strip(),
                source=item["source"],
                locator=item["locator"],
                decision=item.get("decision"),
            )
        )
        c.flag(f"outcomes.{name}.reported", f"not reported: {' '.join(item['reason'].split())}")
    given = [o.outcome for o in outcomes] + [o.outcome for o in not_reported]
    if not raw["outcomes"] and not not_reported:
        # A study with no counts is kept only when the file says which outcomes are missing.
        c.problem(
            "outcomes",
            "no outcome given; report at least one outcome, or list the outcomes the sources do"
            " not report in 'outcomes_not_reported'",
        )
    for dup in sorted(_duplicates(given)):
        c.problem("outcomes", f"outcome {dup!r} given more than once; one entry per outcome")

    patients = []
    patient_ids = [p["id"] for p in raw.get("patients", [])]
    for dup in sorted(_duplicates(patient_ids)):
        c.problem("patients", f"duplicate patient id {dup!r}")
    if len(patient_ids) > n_patients:
        c.problem("patients", f"{len(patient_ids)} patient rows but n_patients is {n_patients}")
    for i, p in enumerate(raw.get("patients", [])):
        field = f"patients[{i}]"
        patients.append(
            Patient(
                patient_id=p["id"],
                age=p.get("age"),
                sex=c.term(vocab.SEX, p.get("sex") or "not_reported", f"{field}.sex"),
                disease=c.term(
                    vocab.DISEASE, p.get("disease") or "not_reported", f"{field}.disease"
                ),
                calcinosis_type=c.term(
                    vocab.CALCINOSIS_TYPE,
                    p.get("calcinosis_type") or "not_reported",
                    f"{field}.calcinosis_type",
                ),
                site=p.get("site"),
                lesions=p.get("lesions"),
                outcome=c.term(vocab.PATIENT_OUTCOME, p["outcome"], f"{field}.outcome"),
                systemic_sts=bool(p.get("systemic_sts", False)),
                source=p["source"],
                locator=p["locator"],
                note=p.get("note"),
                in_outcomes=bool(p.get("in_outcomes", True)),
            )
        )

    harms = _harms(raw["harms"], n_patients, c)
    rob = _risk_of_bias(raw["risk_of_bias"], c)

    decision_records = [
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
        for d in raw["decisions"]
    ]

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
        setting=_fact(raw, "setting"),
        n_patients=n_patients,
        n_lesions=n_lesions,
        calcinosis_types=tuple(calcinosis_types),
        diseases=tuple(diseases),
        route=route,
        concentration=concentration,
        volume=_fact(intervention, "volume"),
        sessions=_fact(intervention, "sessions"),
        interval_text=interval_text,
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
