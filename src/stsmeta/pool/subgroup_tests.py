"""Test of subgroup differences for the subgroup output of the analysis plan.

Q between the subgroups' pooled estimates on the model scale, each weighted by 1 / se^2 from its
own fit (separate tau2 per subgroup; Borenstein et al. 2009, ch. 19; R meta's "test for subgroup
differences"), chi-squared on (subgroups - 1) df: ``stsmeta.stats.metareg.q_between``. It is
computed only when the subgroups are disjoint (a study in two levels would be counted twice)
and leaves out the "not reported" level, which is no subgroup of its own.

Beside it, whatever the primary method, the GLMM likelihood-ratio test with a common tau2 (the
levels as moderator against the model without): a level of one study has no tau2 of its own (0
for a frequentist fit, the prior's for the Bayesian model) and one of two barely has one; a
common tau2 is the usual remedy (Borenstein et al. 2009, ch. 19).
Levels of a single study are listed, so that the report can say which estimates lean on that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def subgroup_difference(
    results: Mapping[str, Mapping[str, Any]],
    members: Mapping[str, Sequence[Any]],
    not_reported: str,
    method: str = "",
) -> dict[str, Any]:
    """The test over the levels' results (pooled-result dicts with ``mu`` and ``se``, from the
    primary ``method``), and the likelihood-ratio test with a common tau2 (the GLMM with the
    levels as moderator against the GLMM without) from the members' ``events`` and ``n``."""
    from stsmeta.stats.metareg import q_between

    test: dict[str, Any] = {
        "test": (
            "Q between subgroup posterior means, each weighted by 1 / posterior SD^2 (posteriors "
            "taken as normal; separate tau per subgroup), chi-squared on levels - 1 df"
            if method == "bayes"
            else "Q between subgroup estimates (separate tau2), chi-squared on levels - 1 df"
        ),
        "statistic": None,
        "df": None,
        "p": None,
        "levels": [],
    }
    seen: set[int] = set()
    for level, rows in members.items():
        if level == not_reported:
            continue
        ids = {id(r) for r in rows}
        if ids & seen:
            test["note"] = "not computed: a study belongs to more than one level"
            return test
        seen |= ids
    usable = [
        level
        for level, res in sorted(results.items())
        if level != not_reported
        and all(isinstance(res.get(f), float) and math.isfinite(res[f]) for f in ("mu", "se"))
        and res["se"] > 0
    ]
    test["levels"] = usable
    test["single_study_levels"] = [level for level in usable if len(members[level]) == 1]
    if len(usable) < 2:
        test["note"] = "not computed: fewer than two levels with an estimate and standard error"
        return test
    q = q_between([results[v]["mu"] for v in usable], [results[v]["se"] for v in usable])
    test.update(statistic=q.statistic, df=q.df, p=q.p)
    test["glmm_lrt"] = _glmm_lrt(members, usable)
    return test


# Why the test with a common tau2 is not computed when a level is all 0% or all 100%.
INFINITE_LEVEL = (
    "not computed: a level whose events are all 0% or all 100% has an infinite estimate"
)


def _all_or_none(rows: Sequence[Any]) -> bool:
    """Every study of the level at 0% events, or every one at 100%."""
    return all(r.events == 0 for r in rows) or all(r.events == r.n for r in rows)


def _glmm_lrt(members: Mapping[str, Sequence[Any]], levels: Sequence[str]) -> dict[str, Any]:
    """Likelihood-ratio test of subgroup differences with a common tau2 (GLMM)."""
    from stsmeta.stats.glmm_reg import fit_glmm_regression
    from stsmeta.stats.metareg import design_from_groups

    out: dict[str, Any] = {
        "test": "GLMM likelihood ratio, common tau2, chi-squared on levels - 1 df",
        "statistic": None,
        "df": len(levels) - 1,
        "p": None,
    }
    if any(_all_or_none(members[level]) for level in levels):
        # Such a level's coefficient runs off to infinity whatever tau2 is: known without the
        # fit, which would find it only after many Newton steps.
        out["note"] = INFINITE_LEVEL
        return out
    rows = [(level, r) for level in levels for r in members[level]]
    design, names = design_from_groups([level for level, _ in rows])
    try:
        fit = fit_glmm_regression(
            [r.events for _, r in rows], [r.n for _, r in rows], design, names
        )
    except (ValueError, ArithmeticError) as exc:  # numpy's LinAlgError is a ValueError
        out["note"] = f"not computed: {exc}"
        return out
    if not fit.finite:
        out["note"] = INFINITE_LEVEL
        return out
    out.update(statistic=fit.lrt, p=fit.lrt_p)
    return out
