"""The intervention's concentration: reported text, reading, mg/mL value and plausibility."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stsmeta.evidence.model import Concentration, ConcentrationAlternative
from stsmeta.evidence.normalise_common import Collector, check_alternative_declared
from stsmeta.evidence.units import UnitProblem, concentration_mg_per_ml

FIELD = "intervention.concentration"


def _read(text: str, where: str, c: Collector) -> float | None:
    try:
        return concentration_mg_per_ml(text)
    except UnitProblem as exc:
        c.problem(where, str(exc))
        return None


def _is_plausible(
    value: float, where: str, what: str, plausible: tuple[float, float], c: Collector
) -> bool:
    low, high = plausible
    ok = low <= value <= high
    if not ok:
        c.flag(
            where,
            f"{what} {value:g} mg/mL is outside the plausible range {low:g}-{high:g} mg/mL"
            " (config plausible_concentration_mg_per_ml); kept as read",
        )
    return ok


def _alternatives(
    raw_conc: Mapping[str, Any],
    reported: str | None,
    decisions: Mapping[str, Any],
    plausible: tuple[float, float],
    c: Collector,
) -> list[ConcentrationAlternative]:
    field = FIELD
    alternatives = []
    for i, alt in enumerate(raw_conc.get("alternatives", [])):
        where = f"{field}.alternatives[{i}]"
        check_alternative_declared(alt, where, decisions, c)
        value = _read(alt["reading"], f"{where}.reading", c)
        if value is None:
            continue
        alternatives.append(
            ConcentrationAlternative(
                id=alt["id"],
                reported=reported or "",
                reading=alt["reading"],
                mg_per_ml=value,
                plausible=_is_plausible(
                    value,
                    f"{field}.alternatives.{alt['id']}",
                    f"alternative reading {alt['id']!r}:",
                    plausible,
                    c,
                ),
                decision=alt["decision"],
            )
        )
    return alternatives


def read_concentration(
    raw_conc: Mapping[str, Any],
    decisions: Mapping[str, Any],
    plausible: tuple[float, float],
    c: Collector,
) -> Concentration:
    """The concentration as reported and as read, in mg/mL, flagged when implausible."""
    field = FIELD
    reported = raw_conc.get("reported")
    reading = raw_conc.get("reading") or reported
    mg_per_ml = plausible_flag = None
    if reported is None:
        if raw_conc.get("reading") is not None:
            c.problem(f"{field}.reading", "a reading needs the concentration as reported")
        c.flag(field, "concentration not reported")
    else:
        where = f"{field}.reading" if raw_conc.get("reading") else f"{field}.reported"
        mg_per_ml = _read(reading, where, c)
        if mg_per_ml is not None:
            plausible_flag = _is_plausible(mg_per_ml, field, "concentration", plausible, c)
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
    alternatives = _alternatives(raw_conc, reported, decisions, plausible, c)
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
