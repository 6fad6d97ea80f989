"""Limitations of the evidence and of the review."""

from __future__ import annotations

from collections import Counter

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import study_label
from stsmeta.presentation.wording import term
from stsmeta.report.base import (
    CENTRE_KEYS,
    ReportData,
    comparative_studies,
    file_src,
    joined,
    num,
    primary_outcome,
)
from stsmeta.report.document import (
    Block,
    Bullets,
    Cell,
    Heading,
    cell,
)


def limitations_section(data: ReportData) -> list[Block]:
    plan = data.plan
    outcome = primary_outcome(plan)
    primary = data.pooled[outcome]["primary"]
    src = file_src(outcome, "primary")
    entries = primary.get("studies") or []
    full = sum(1 for e in entries if e.get("n") and e.get("events") == e.get("n"))
    zero = sum(1 for e in entries if e.get("n") and e.get("events") == 0)
    largest = max((e.get("n") or 0 for e in entries), default=0)
    ids = [str(s) for s in primary.get("included") or []]
    designs = Counter(term(data.studies.get(s, {}).get("design") or "not recorded") for s in ids)
    items: list[Cell] = [
        cell(
            f"Few studies: the primary analysis of {plan.outcome_label(outcome).lower()} rests "
            "on k = ",
            num(primary, src, "k", "count"),
            " studies with ",
            num(primary, src, "n", "count"),
            f" units in all; the largest has n = {largest}.",
        ),
        cell(
            f"{full} of {len(entries)} studies report 100% and {zero} report 0% for this "
            "outcome; with so many extreme proportions, inverse-variance methods depend on "
            "continuity corrections and heterogeneity is poorly estimated."
        ),
        cell(
            "Designs: " + (joined(f"{d} ({c})" for d, c in sorted(designs.items())) or "none") + "."
        ),
    ]
    centres = [
        data.studies.get(s, {}).get(key)
        for s in ids
        for key in CENTRE_KEYS
        if data.studies.get(s, {}).get(key) is not None
    ]
    if centres:
        single = sum(1 for c in centres if c == 1 or (isinstance(c, list) and len(c) == 1))
        items.append(
            cell(
                f"Single centres: {single} of {len(centres)} studies that record "
                "their centres come from one centre."
            )
        )
    else:
        settings = [
            f"{study_label(s, data.studies)}: {data.studies[s]['setting']}"
            for s in ids
            if (data.studies.get(s) or {}).get("setting")
        ]
        items.append(
            cell(
                "Single centres: the study files do not record the number of centres"
                + (f"; settings recorded: {'; '.join(settings)}" if settings else "")
                + f" ({len(ids) - len(settings)} of {len(ids)} studies record no setting)."
            )
        )
    if not comparative_studies(data, ids):
        items.append(
            cell(
                "No comparator: no included study has a control group, so the "
                "pooled proportions are uncontrolled response rates; they cannot "
                "separate the effect of sodium thiosulfate from the natural course "
                "or from co-interventions."
            )
        )
    k = primary.get("k")
    if isinstance(k, int) and k < 10:
        items.append(
            cell(
                "With fewer than ten studies, small-study effects (publication bias) "
                "cannot be assessed."
            )
        )
    not_estimable = [
        f"{plan.outcome_label(o)} / {plan.scenario_label(s)}"
        for o in plan.outcomes
        for s in plan.scenarios
        if not numbers.is_estimable(data.pooled[o][s])
    ]
    if not_estimable:
        items.append(cell("Not estimable: " + "; ".join(not_estimable) + "."))
    n_flags, n_decisions = (
        len(data.tables.get("flags") or []),
        len(data.tables.get("decisions") or []),
    )
    items.append(
        cell(
            f"{n_decisions} extraction decisions and {n_flags} data-quality flags "
            "(listed above) rest on judgement; the sensitivity scenarios show their "
            "effect."
        )
    )
    return [Heading(2, "Limitations", "limitations"), Bullets(tuple(items))]
