"""The statistical summary: each outcome's primary estimate in words, for readers of the statistics
(the clinician's first screen is stsmeta.report.first_screen).
"""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import Plan
from stsmeta.presentation.wording import noun, unit_noun
from stsmeta.report.base import (
    ReportData,
    file_src,
    level_text,
    num,
    pointer,
    spelled_interval,
    unit_word,
)
from stsmeta.report.document import (
    Block,
    Bullets,
    Cell,
    Heading,
    cell,
)
from stsmeta.stats.results import MISLEADING_WARNINGS


def common_effect_name(result: dict) -> str | None:
    """The secondary method that is the exact common-effect (Clopper-Pearson) pool, if any."""
    for name, sec in sorted((result.get("secondary") or {}).items()):
        if (sec.get("settings") or {}).get("method") == "common":
            return name
    return None


def secondary_range(plan: Plan, result: dict, src: str) -> Cell:
    """The spread of the secondary methods' estimates, in words."""
    secondary = result.get("secondary") or {}
    estimable = [name for name, sec in sorted(secondary.items()) if numbers.is_estimable(sec)]
    # A method whose estimate or interval is known to mislead with these data is named apart,
    # not quoted as part of the methods' spread.
    misleading = [
        name
        for name in estimable
        if any(w in MISLEADING_WARNINGS for w in secondary[name].get("warnings") or [])
    ]
    found = [(float(secondary[n]["estimate"]), n) for n in estimable if n not in misleading]
    apart = (
        " Left out of this range, as known to mislead with studies like these (see the notes "
        "to the table): " + "; ".join(plan.method_label(n) for n in misleading) + "."
        if misleading
        else ""
    )
    if not found:
        if misleading:
            return cell("No other secondary method gives an estimate." + apart)
        return cell("No secondary method gives an estimate.") if secondary else cell()
    (_, low), (_, high) = min(found), max(found)
    tag = {n: f"{src}{pointer('secondary', n)}" for n in (low, high)}
    if low == high:
        return cell(
            f"The only secondary method with an estimate ({plan.method_label(low)}) gives ",
            num(secondary[low], tag[low], "estimate", "proportion"),
            "." + apart,
        )
    return cell(
        f"The other {len(found)} methods' estimates range from ",
        num(secondary[low], tag[low], "estimate", "proportion"),
        f" ({plan.method_label(low)}) to ",
        num(secondary[high], tag[high], "estimate", "proportion"),
        f" ({plan.method_label(high)})." + apart,
    )


def not_estimable_reason(result: dict) -> str:
    for warning in result.get("warnings") or []:
        return str(warning).removeprefix("not estimable: ").strip().rstrip(".")
    return "no reason recorded"


def outcome_summary(data: ReportData, outcome: str) -> Cell:
    plan = data.plan
    result = data.pooled[outcome]["primary"]
    src = file_src(outcome, "primary")
    role = str((plan.config["outcomes"][outcome] or {}).get("role") or "")
    level = level_text(plan)
    units = unit_word(result)
    head = f"{plan.outcome_label(outcome)}" + (f" ({role} outcome)" if role else "") + ": "
    base = cell(
        " from ",
        num(result, src, "k", "count"),
        f" {noun(result.get('k'), 'study', 'studies')} with ",
        num(result, src, "events", "count"),
        f" {noun(result.get('events'), 'event')} in ",
        num(result, src, "n", "count"),
        f" {unit_noun(result.get('n'), units)}.",
    )
    if numbers.is_estimable(result):
        parts = cell(
            head,
            "pooled proportion ",
            num(result, src, "estimate", "proportion"),
            f" ({level} {numbers.interval_kind(result)[0]} ",
            *spelled_interval(result, src, "ci_low", "ci_high"),
        )
        if numbers.is_estimable({"estimate": result.get("pi_low")}) and numbers.is_estimable(
            {"estimate": result.get("pi_high")}
        ):
            parts += cell(
                f"; {level} prediction interval for a new study ",
                *spelled_interval(result, src, "pi_low", "pi_high"),
            )
        parts += cell(f") by the primary method, {plan.method_label('primary')},") + base
        return parts + (" ",) + secondary_range(plan, result, src)
    parts = (
        cell(
            head,
            f"the primary method ({plan.method_label('primary')}) gives no estimate: "
            f"{not_estimable_reason(result)}. Data: ",
        )
        + base[1:-1]
        + (f" {units}",)
    )
    events, n = result.get("events"), result.get("n")
    if isinstance(n, int) and n > 0 and events in (0, n):
        parts += cell(f" ({'every one' if events == n else 'none'} of them).")
    else:
        parts += cell(".")
    common = common_effect_name(result)
    sec = (result.get("secondary") or {}).get(common or "") or {}
    if common and numbers.is_estimable(sec):
        csrc = f"{src}{pointer('secondary', common)}"
        parts += cell(
            f" The answer is the exact common-effect result ({plan.method_label(common)}): ",
            num(sec, csrc, "estimate", "proportion"),
            f" ({level} {numbers.interval_kind(sec)[0]} ",
            *spelled_interval(sec, csrc, "ci_low", "ci_high"),
            ").",
        )
    return parts + (" ",) + secondary_range(plan, result, src)


def summary_section(data: ReportData) -> list[Block]:
    """The answer first: each outcome's primary estimate, in words."""
    plan = data.plan
    items = [outcome_summary(data, o) for o in plan.outcomes]
    counts = []
    for outcome in plan.outcomes:
        result = data.pooled[outcome]["primary"]
        counts.append(
            cell(
                f"{plan.outcome_label(outcome).lower()}: ",
                num(result, file_src(outcome, "primary"), "k", "count"),
                f" included, {len(result.get('excluded') or [])} excluded",
            )
        )
    studies_item = cell(f"Studies: {len(data.studies)} in the study files; ")
    for i, part in enumerate(counts):
        studies_item += (("; " if i else ""),) + part
    items.append(studies_item + (" (reasons under Excluded studies).",))
    rec = (data.coverage or {}).get("recommendation") or {}
    if data.coverage is not None:
        if rec.get("method"):
            items.append(
                cell(
                    f"Coverage study: for this evidence base, {rec.get('label') or rec['method']} "
                    "gave coverage closest to nominal without failing (see Coverage of the "
                    "intervals)."
                )
            )
        else:
            items.append(
                cell("Coverage study: no method qualified (see Coverage of the intervals).")
            )
    return [Heading(3, "Statistical summary", "summary"), Bullets(tuple(items))]
