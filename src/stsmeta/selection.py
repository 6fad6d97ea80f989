"""The primary method chosen by the analysis plan's declared rule (config ``methods.selection``).

``selection: coverage`` makes the primary method of every pooled result the one that the
design-matched coverage study recommends (``coverage.summary.recommend``: failing in at most
``coverage.max_failure_rate`` of replicates in every cell, worst cell's coverage closest to
nominal, ties by mean width). The study simulates from the design alone (k and each study's n,
written at start-up to ``results/coverage/design.json``), never from the outcomes, so the rule
does not look at the outcomes, and pooling can depend on it without a cycle in the workflow. (The
rule itself was adopted after the first results of this review were seen: config.yaml,
``review.registration``, says so, and the report prints it.)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from stsmeta.errors import InputError, Problem

#: The name the configured ``methods.primary`` keeps among the secondary methods when the rule
#: picks another method.
CONFIGURED_PRIMARY = "configured_primary"


def selected_method(summary: Mapping, file: str) -> tuple[str | None, str]:
    """(method name or None, reason) from a coverage summary document."""
    rec = summary.get("recommendation") if isinstance(summary, Mapping) else None
    if not isinstance(rec, Mapping) or "method" not in rec:
        raise InputError(Problem(file, "recommendation", "missing: rerun stsmeta coverage-summary"))
    return rec.get("method"), str(rec.get("reason", ""))


def _design_words(config: Mapping, summary: Mapping) -> str:
    """`` (complete remission, primary analysis: k = 6 studies of n = 1, 3, 6)``, or nothing."""
    design = summary.get("design") if isinstance(summary, Mapping) else None
    settings = summary.get("settings") if isinstance(summary, Mapping) else None
    if not isinstance(design, Mapping) or not isinstance(settings, Mapping):
        return ""
    sizes = [s.get("n") for s in design.get("studies") or [] if isinstance(s, Mapping)]
    outcome = str(settings.get("outcome") or "")
    label = ((config.get("outcomes") or {}).get(outcome) or {}).get("label") or outcome
    scenario = str(settings.get("scenario") or "primary")
    where = f"{str(label).lower()}, {scenario.replace('_', ' ')} analysis: " if label else ""
    studies = "study" if len(sizes) == 1 else "studies"
    return f" ({where}k = {len(sizes)} {studies} of n = {', '.join(map(str, sizes))})"


def apply_selection(config: Mapping, summary: Mapping | None, file: str) -> dict[str, Any]:
    """A copy of ``config`` whose ``methods.primary`` is the method the rule selects, the
    configured primary moved among the secondary methods, and ``methods.selected`` saying what
    was chosen and why (for the pooled result and the report). ``fixed`` selection, or no
    qualifying method, leaves the methods as configured (and says so)."""
    out = copy.deepcopy(dict(config))
    methods = out["methods"]
    rule = methods.get("selection", "fixed")
    if rule != "coverage":
        methods["selected"] = {"rule": "fixed", "method": "primary", "reason": ""}
        return out
    if summary is None:
        raise InputError(
            Problem(
                file, "methods.selection", "is coverage: give the coverage summary (--selection)"
            )
        )
    name, reason = selected_method(summary, file)
    secondary = dict(methods.get("secondary") or {})
    if name is None or name == "primary":
        why = (
            f"the coverage study supports the configured primary method: {reason}"
            if name
            else f"no method qualified ({reason}), so the configured primary method is kept"
        )
        methods["selected"] = {"rule": "coverage", "method": "primary", "reason": why}
        return out
    if name not in secondary:
        raise InputError(
            Problem(file, "recommendation.method", f"{name!r} is not a configured method")
        )
    chosen = dict(secondary.pop(name))
    configured = dict(methods["primary"])
    configured.pop("reason", None)
    secondary[CONFIGURED_PRIMARY] = configured
    chosen["reason"] = (
        f"Chosen by the analysis plan's rule, applied to the coverage study of one design"
        f"{_design_words(out, summary)}, which simulates from the studies' sizes, never their "
        f"outcomes, and used for every outcome: {reason}."
    )
    methods["primary"] = chosen
    methods["secondary"] = dict(sorted(secondary.items()))
    methods["selected"] = {"rule": "coverage", "method": name, "reason": reason}
    return out


def selection_rule(config: Mapping) -> str:
    """The plan's rule for the primary method: ``fixed`` or ``coverage``."""
    return str((config.get("methods") or {}).get("selection", "fixed"))


def pooling_config(config: Mapping, summary: Mapping | None, file: str) -> Mapping:
    """The configuration a pooling job computes with (``stsmeta pool --selection``): as given
    under a fixed selection, else with the method the rule selects from the coverage
    ``summary`` (``apply_selection``)."""
    if selection_rule(config) != "coverage":
        return config
    return apply_selection(config, summary, file)


def selection_candidates(config: Mapping) -> list[Mapping | None]:
    """What ``pooling_config`` can be given as the summary before the coverage study has run:
    a recommendation of each method the rule can choose (the configured primary and every
    secondary method); ``[None]`` under a fixed selection, which reads no summary."""
    if selection_rule(config) != "coverage":
        return [None]
    names = ["primary", *sorted((config.get("methods") or {}).get("secondary") or {})]
    return [{"recommendation": {"method": name, "reason": ""}} for name in names]
