"""``pool(method="ivre")``: the inverse-variance random-effects result of counts."""

from __future__ import annotations

import math

import numpy as np

from stsmeta.stats import ivre as ivre_mod
from stsmeta.stats.prediction import PI_LABELS, prediction_interval
from stsmeta.stats.results import (
    FT_UNEQUAL_N,
    HK_BELOW_ONE,
    HK_ZERO_SE,
    PoolResult,
    ci_fields,
)
from stsmeta.stats.shared import CI_LABELS, NAN, NO_ESTIMATE, TRANSFORM_LABELS, crit
from stsmeta.stats.tau2 import q_profile_interval

#: Rounding of the Hartung-Knapp variance factor (a relative quantity: 1 means the z variance),
#: with room for tau2's root finding (PM, EB), whose error shows in it with very large studies.
HK_ROUNDING = 1e-9
Q_TEST = "Cochran's Q (Wald-type, inverse-variance weights; metafor's QE)"
FT_TAU2_SCALE = (
    "tau2 is on metafor's half Freeman-Tukey scale (the double arcsine divided by 2): "
    "multiply by 4 for the scale of R meta (sm = 'PFT') and Stata metaprop"
)


def _cc_label(transform: str, cc_add: float | None, cc_to: str) -> str:
    add = ivre_mod.DEFAULT_CC[transform] if cc_add is None else float(cc_add)
    if add == 0 or cc_to == "none":
        return "no continuity correction"
    which = {
        "only0": "of studies at 0% or 100%",
        "all": "of every study",
        "if0all": "of every study when any is at 0% or 100%",
    }.get(cc_to, f"({cc_to})")
    return f"{add:g} added to events and non-events {which}"


def pool_ivre(
    x, m, settings, common, study_rows, transform, tau2, ci, pi, level, scope, cc_add, cc_to
):
    settings["description"] = (
        f"Inverse-variance random effects on the {TRANSFORM_LABELS[transform]} scale "
        f"({_cc_label(transform, cc_add, cc_to)}), tau2 by {tau2} (Q-profile CI), "
        f"{CI_LABELS[ci]}, {PI_LABELS[pi]}, {scope}"
    )
    settings["cc_add"] = ivre_mod.DEFAULT_CC[transform] if cc_add is None else float(cc_add)
    settings["cc_to"] = cc_to
    values, warnings, weights, converged = ivre_values(
        x, m, transform, tau2, ci, pi, level, cc_add=cc_add, cc_to=cc_to
    )
    extra = {}
    if math.isfinite(values["q"]):
        extra = {"q_test": Q_TEST, "qe_wald": values["q"], "qe_wald_p": values["q_p"]}
        yi, vi = ivre_mod.transform_proportions(x, m, transform, add=cc_add, to=cc_to)
        ends = q_profile_interval(yi, vi, level)
        values.update(
            ci_fields(
                (ends.tau2_low, ends.tau2_high),
                (ends.i2_low, ends.i2_high),
                (ends.h2_low, ends.h2_high),
            )
        )
    if transform == "ft":
        extra["tau2_scale"] = FT_TAU2_SCALE
    return PoolResult(
        settings=settings,
        **common,
        **values,
        warnings=warnings,
        studies=study_rows(weights),
        converged=converged,
        extra=extra,
    )


def _single_study(yi, vi, x, m, transform, ci, level, cc_add, cc_to):
    warnings = []
    mu = float(yi[0])
    se = float(math.sqrt(vi[0]))
    if ci == "z":
        lo, hi = mu - crit(level, math.inf) * se, mu + crit(level, math.inf) * se
    else:
        lo = hi = NAN
        warnings.append(f"no CI: the {CI_LABELS[ci]} needs k >= 2 (k - 1 df); use ci z")
    back = ivre_mod.back_transform(np.array([mu, lo, hi]), transform, m)
    add = ivre_mod.DEFAULT_CC[transform] if cc_add is None else cc_add
    xc, mc = ivre_mod.corrected_counts(x, m, add, cc_to)
    if xc[0] != x[0] or mc[0] != m[0]:
        warnings.append(
            f"k = 1: the estimate {float(back[0]):.4g} is the continuity-corrected proportion "
            f"{xc[0]:g}/{mc[0]:g}, not the observed {int(x[0])}/{int(m[0])}; tau2, Q, I2 and "
            "the prediction interval are not estimable"
        )
    else:
        warnings.append(
            "k = 1: tau2, Q, I2 and the prediction interval are not estimable; "
            "the result is the single study's transformed proportion"
        )
    values = dict(
        NO_ESTIMATE,
        estimate=float(back[0]),
        ci_low=float(back[1]),
        ci_high=float(back[2]),
        mu=mu,
        se=se,
    )
    return values, tuple(warnings), np.array([100.0]), True


def ivre_values(
    x: np.ndarray,
    m: np.ndarray,
    transform: str,
    tau2: str,
    ci: str,
    pi: str,
    level: float,
    *,
    cc_add: float | None = None,
    cc_to: str = "only0",
) -> tuple[dict[str, float], tuple[str, ...], np.ndarray | None, bool]:
    """The numbers of ``pool(method="ivre")`` without its per-study rows: (numeric fields,
    warnings, study weights in percent or None, converged).

    ``x``, ``m``: valid whole-number counts (int64, as pool() checks them). pool() is this plus
    the per-study intervals, so a caller that needs only the pooled values (the coverage study,
    fitting thousands of replicates) gets exactly what pool() reports, at a fraction of the cost.
    """
    k = x.size
    warnings: list[str] = []
    yi, vi = ivre_mod.transform_proportions(x, m, transform, add=cc_add, to=cc_to)
    yi = np.atleast_1d(yi).astype(float)
    vi = np.broadcast_to(vi, yi.shape).astype(float)
    if np.any(vi <= 0) or not np.all(np.isfinite(yi)):
        # The ways out, but the transform asked for (ft and arcsine need no correction).
        others = " or ".join(t for t in ("ft", "arcsine") if t != transform)
        warnings.append(
            f"no estimate: studies with 0% or 100% have no finite estimate or zero sampling "
            f"variance on the {TRANSFORM_LABELS[transform]} scale without a continuity "
            f"correction; use transform {others} (no correction needed), a continuity "
            "correction, or method glmm"
        )
        return dict(NO_ESTIMATE), tuple(warnings), None, False
    if k == 1:
        return _single_study(yi, vi, x, m, transform, ci, level, cc_add, cc_to)
    fit = ivre_mod.fit_ivre(yi, vi, tau2_method=tau2, ci=ci, level=level)
    if not fit.tau2_converged:
        warnings.append(f"tau2 ({tau2}) did not converge: the estimating equation has no root")
    if fit.tau2 == 0.0:
        warnings.append(f"tau2 estimated at the boundary 0 ({tau2})")
    # The factor is exactly 1 in theory with k = 2 (REML, DL) or with PM and EB whenever
    # tau2 > 0, and exactly 0 when every estimate is equal; computed, it lands a few ulp either
    # side, so the notes compare with a tolerance (exact comparisons gave them at random).
    factor = fit.hk_factor
    if ci in ("hk", "hk-adhoc") and (fit.se == 0 or (ci == "hk" and factor <= HK_ROUNDING)):
        warnings.append(HK_ZERO_SE)
    elif ci == "hk" and factor < 1 - HK_ROUNDING:
        warnings.append(HK_BELOW_ONE)
    if transform == "ft" and np.unique(m).size > 1:
        warnings.append(FT_UNEQUAL_N)
    pi_lo, pi_hi, pi_problem = prediction_interval(
        fit.mu, fit.se, fit.tau2, k, method=pi, level=level
    )
    if pi_problem:
        warnings.append(pi_problem)
    back = ivre_mod.back_transform(
        np.array([fit.mu, fit.ci_low, fit.ci_high, pi_lo, pi_hi]), transform, m
    )
    values = dict(
        estimate=float(back[0]),
        ci_low=float(back[1]),
        ci_high=float(back[2]),
        pi_low=float(back[3]),
        pi_high=float(back[4]),
        mu=fit.mu,
        se=fit.se,
        tau2=fit.tau2,
        i2=fit.i2,
        h2=fit.h2,
        q=fit.q,
        q_p=fit.q_p,
        q_df=k - 1,
    )
    return values, tuple(warnings), fit.weights, fit.tau2_converged
