"""``pool(events, n, ...)``: one entry point for every pooling method."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from stsmeta.stats import glmm as glmm_mod
from stsmeta.stats import ivre as ivre_mod
from stsmeta.stats.common import common_exact
from stsmeta.stats.distributions import chi2_sf, norm_ppf, t_ppf
from stsmeta.stats.intervals import STUDY_CI_METHODS, study_intervals
from stsmeta.stats.prediction import PI_LABELS, PI_METHODS, prediction_interval
from stsmeta.stats.results import NUMERIC_FIELDS, PoolResult, StudyResult

METHODS = ("glmm", "ivre", "common")
NAN = math.nan
# The numeric fields of a result that has no estimate.
_NO_ESTIMATE = dict.fromkeys(NUMERIC_FIELDS, NAN)

_STUDY_CI_LABELS = {"cp": "Clopper-Pearson", "wilson": "Wilson", "jeffreys": "Jeffreys"}
_TRANSFORM_LABELS = {
    "logit": "logit",
    "ft": "Freeman-Tukey double arcsine (Miller 1978 back-transform, harmonic mean n)",
    "arcsine": "arcsine",
    "raw": "untransformed",
}
_CI_LABELS = {"z": "Wald z CI", "t": "t(k-1) CI", "hk": "Hartung-Knapp CI"}


def _check_counts(events, n) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(events)
    m = np.asarray(n)
    if x.ndim != 1 or m.ndim != 1 or x.size != m.size:
        raise ValueError("events and n must be 1-D arrays of the same length")
    if x.size == 0:
        raise ValueError("at least one study is needed")
    xf = x.astype(float)
    mf = m.astype(float)
    if not (
        np.all(np.isfinite(xf))
        and np.all(xf == np.round(xf))
        and np.all(np.isfinite(mf))
        and np.all(mf == np.round(mf))
    ):
        raise ValueError("events and n must be whole numbers")
    if np.any(mf < 1) or np.any(xf < 0) or np.any(xf > mf):
        raise ValueError("every study needs n >= 1 and 0 <= events <= n")
    return xf.astype(np.int64), mf.astype(np.int64)


def pool(
    events: Sequence[int] | np.ndarray,
    n: Sequence[int] | np.ndarray,
    *,
    method: str = "glmm",
    transform: str = "logit",
    tau2: str = "REML",
    ci: str = "z",
    pi: str = "z",
    level: float = 0.95,
    study_ci: str = "cp",
    studies: Sequence[str] | None = None,
    n_nodes: int = glmm_mod.DEFAULT_NODES,
    profile: bool = True,
    study_results: bool = True,
) -> PoolResult:
    """Pool single proportions events/n by ``method`` ("glmm", "ivre" or "common").

    ``transform``/``tau2`` apply to "ivre" only; ``ci`` is "z", "t" (t with k-1 df) or "hk"
    (ivre only); ``pi`` is "z", "t-k1" or "t-k2". Missing results are NaN with the reason in
    ``warnings``; nothing raises for data that are valid counts. ``profile=False`` skips the
    GLMM's profile-likelihood intervals (the slowest part; they are then NaN).
    ``study_results=False`` leaves ``studies`` empty: the pooled numbers only, for results that
    show no study rows (leave-one-out and cumulative steps, k of them over k studies each).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if pi not in PI_METHODS:
        raise ValueError(f"pi must be one of {', '.join(PI_METHODS)}")
    if ci not in ivre_mod.CI_METHODS or (method == "glmm" and ci == "hk"):
        allowed = "z, t" if method == "glmm" else "z, t, hk"
        raise ValueError(f"ci for method {method} must be one of {allowed}")
    if study_ci not in STUDY_CI_METHODS:
        raise ValueError(f"study_ci must be one of {', '.join(STUDY_CI_METHODS)}")
    if transform not in ivre_mod.TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(ivre_mod.TRANSFORMS)}")
    if tau2 not in ivre_mod.TAU2_METHODS:
        raise ValueError(f"tau2 must be one of {', '.join(ivre_mod.TAU2_METHODS)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")
    x, m = _check_counts(events, n)
    k = int(x.size)
    labels = [str(s) for s in studies] if studies is not None else [str(i + 1) for i in range(k)]
    if len(labels) != k:
        raise ValueError("studies must have one label per study")
    if study_results:
        s_low, s_high = study_intervals(x, m, study_ci, level)
    settings = {
        "method": method,
        "transform": transform if method == "ivre" else None,
        "tau2": tau2 if method == "ivre" else ("ML" if method == "glmm" else None),
        "ci": ci if method != "common" else "exact",
        "pi": pi if method != "common" else None,
        "level": float(level),
        "study_ci": study_ci,
        "n_nodes": int(n_nodes) if method == "glmm" else None,
    }
    common = {"k": k, "events": int(x.sum()), "n": int(m.sum())}

    def study_rows(weights=None):
        if not study_results:
            return ()
        # Python numbers taken from whole arrays at once: with hundreds of studies, refitted in
        # every leave-one-out and cumulative step, per-element numpy scalars were the cost.
        w = [None] * k if weights is None else np.asarray(weights, dtype=float).tolist()
        numbers = (x.tolist(), m.tolist(), (x / m).tolist(), s_low.tolist(), s_high.tolist())
        columns = zip(labels, *numbers, w, strict=True)
        return tuple(
            StudyResult(study=s, events=e, n=nn, proportion=p, ci_low=lo, ci_high=hi, weight=wt)
            for s, e, nn, p, lo, hi, wt in columns
        )

    scope = f"{_STUDY_CI_LABELS[study_ci]} study CIs"
    if method == "common":
        res = common_exact(x, m, level)
        settings["description"] = (
            f"Exact common effect (Clopper-Pearson on the pooled counts), {scope}"
        )
        return PoolResult(
            settings=settings,
            **common,
            estimate=res.estimate,
            ci_low=res.ci_low,
            ci_high=res.ci_high,
            pi_low=NAN,
            pi_high=NAN,
            mu=NAN,
            se=NAN,
            tau2=NAN,
            i2=NAN,
            q=NAN,
            q_p=NAN,
            warnings=(),
            studies=study_rows(),
        )
    if method == "ivre":
        return _pool_ivre(x, m, settings, common, study_rows, transform, tau2, ci, pi, level, scope)
    return _pool_glmm(x, m, settings, common, study_rows, ci, pi, level, n_nodes, scope, profile)


def _crit(level: float, df: float) -> float:
    q = 0.5 + level / 2
    return float(norm_ppf(q)) if math.isinf(df) else float(t_ppf(q, df))


def _pool_ivre(x, m, settings, common, study_rows, transform, tau2, ci, pi, level, scope):
    settings["description"] = (
        f"Inverse-variance random effects on the {_TRANSFORM_LABELS[transform]} scale, "
        f"tau2 by {tau2}, {_CI_LABELS[ci]}, {PI_LABELS[pi]}, {scope}"
    )
    values, warnings, weights, converged = ivre_values(x, m, transform, tau2, ci, pi, level)
    return PoolResult(
        settings=settings,
        **common,
        **values,
        warnings=warnings,
        studies=study_rows(weights),
        converged=converged,
    )


def ivre_values(
    x: np.ndarray, m: np.ndarray, transform: str, tau2: str, ci: str, pi: str, level: float
) -> tuple[dict[str, float], tuple[str, ...], np.ndarray | None, bool]:
    """The numbers of ``pool(method="ivre")`` without its per-study rows: (numeric fields,
    warnings, study weights in percent or None, converged).

    ``x``, ``m``: valid whole-number counts (int64, as pool() checks them). pool() is this plus
    the per-study intervals, so a caller that needs only the pooled values (the coverage study,
    fitting thousands of replicates) gets exactly what pool() reports, at a fraction of the cost.
    """
    k = x.size
    warnings: list[str] = []
    yi, vi = ivre_mod.transform_proportions(x, m, transform)
    yi = np.atleast_1d(yi).astype(float)
    vi = np.broadcast_to(vi, yi.shape).astype(float)
    if np.any(vi <= 0):
        warnings.append(
            "no estimate: studies with 0% or 100% have zero sampling variance on the untransformed "
            "(raw) scale; use transform logit, ft or arcsine, or method glmm"
        )
        return dict(_NO_ESTIMATE), tuple(warnings), None, False
    if k == 1:
        mu = float(yi[0])
        se = float(math.sqrt(vi[0]))
        if ci == "z":
            lo, hi = mu - _crit(level, math.inf) * se, mu + _crit(level, math.inf) * se
        else:
            lo = hi = NAN
            warnings.append(f"no CI: the {_CI_LABELS[ci]} needs k >= 2 (k - 1 df); use ci z")
        warnings.append(
            "k = 1: tau2, Q, I2 and the prediction interval are not estimable; "
            "the result is the single study's transformed proportion"
        )
        back = ivre_mod.back_transform(np.array([mu, lo, hi]), transform, m)
        values = dict(
            estimate=float(back[0]),
            ci_low=float(back[1]),
            ci_high=float(back[2]),
            pi_low=NAN,
            pi_high=NAN,
            mu=mu,
            se=se,
            tau2=NAN,
            i2=NAN,
            q=NAN,
            q_p=NAN,
        )
        return values, tuple(warnings), np.array([100.0]), True
    fit = ivre_mod.fit_ivre(yi, vi, tau2_method=tau2, ci=ci, level=level)
    if not fit.tau2_converged:
        warnings.append(f"tau2 ({tau2}) did not converge: the estimating equation has no root")
    if fit.tau2 == 0.0:
        warnings.append(f"tau2 estimated at the boundary 0 ({tau2})")
    if ci == "hk" and fit.se == 0:
        warnings.append("Hartung-Knapp standard error is 0 (all study estimates equal)")
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


def _glmm_i2(x, m, tau2: float) -> tuple[float, float]:
    """I2 (percent) and H2 for the GLMM as metafor's rma.glmm: tau2 against the typical
    within-study variance of the logit proportions (1/2 added in 0%/100% studies)."""
    _, vi = ivre_mod.transform_proportions(x, m, "logit")
    w = 1 / np.asarray(vi, dtype=float)
    k = w.size
    typical = (k - 1) * w.sum() / (w.sum() ** 2 - np.sum(w**2))
    return float(100 * tau2 / (typical + tau2)), float(tau2 / typical + 1)


def _pool_glmm(x, m, settings, common, study_rows, ci, pi, level, n_nodes, scope, profile):
    k = x.size
    warnings: list[str] = []
    settings["description"] = (
        f"Binomial-normal GLMM (ML, adaptive Gauss-Hermite {n_nodes} nodes), {_CI_LABELS[ci]}, "
        f"{PI_LABELS[pi]}, {scope}"
    )
    q, q_p = glmm_mod.homogeneity_lrt(x, m)
    extra = {"q_test": "likelihood ratio (saturated vs common-effect binomial model)"}
    empty = dict(
        settings=settings,
        **common,
        **{**_NO_ESTIMATE, "q": q, "q_p": q_p},
        q_df=k - 1 if k > 1 else None,
        studies=study_rows(),
        extra=extra,
    )
    sx, sn = int(x.sum()), int(m.sum())
    if k == 1:
        if sx in (0, sn):
            status = glmm_mod.STATUS_ALL_ZERO if sx == 0 else glmm_mod.STATUS_ALL_FULL
            return PoolResult(**empty, warnings=(status,), converged=False)
        # One study: tau2 is not identifiable; its binomial ML on the logit scale is reported.
        p = sx / sn
        mu = float(special.logit(p))
        se = float(1 / math.sqrt(sn * p * (1 - p)))
        if ci == "t":
            warnings.append("no CI: t with k - 1 = 0 df is undefined; use ci z")
            lo = hi = NAN
        else:
            z = _crit(level, math.inf)
            lo, hi = mu - z * se, mu + z * se
        warnings.append(
            "k = 1: tau2 is not estimable; the result is the single study's binomial maximum "
            "likelihood estimate on the logit scale (Wald CI), with no prediction interval"
        )
        empty.update(
            mu=mu,
            se=se,
            estimate=p,
            ci_low=float(special.expit(lo)),
            ci_high=float(special.expit(hi)),
        )
        return PoolResult(**empty, warnings=tuple(warnings), converged=True)

    fit = glmm_mod.glmm_batch(x[None, :], m[None, :], n_nodes=n_nodes)
    status = fit.status[0]
    if status != glmm_mod.STATUS_OK:
        return PoolResult(**empty, warnings=(status,), converged=False)
    mu, se, tau2 = float(fit.mu[0]), float(fit.se[0]), float(fit.tau2[0])
    loglik = float(fit.loglik[0])
    if not fit.tau2_identifiable[0]:
        warnings.append(
            "every study has n = 1: tau2 is not identifiable and is fixed at 0 "
            "(common-effect logistic model)"
        )
    elif tau2 == 0:
        warnings.append("tau2 estimated at the boundary 0")
    df = math.inf if ci == "z" else k - 1
    crit = _crit(level, df)
    lo, hi = mu - crit * se, mu + crit * se
    pi_lo, pi_hi, pi_problem = prediction_interval(mu, se, tau2, k, method=pi, level=level)
    if pi_problem:
        warnings.append(pi_problem)
    i2, h2 = _glmm_i2(x, m, tau2)
    lrt = 0.0 if tau2 == 0 else max(2 * (loglik - float(fit.loglik_common[0])), 0.0)
    lrt_p = 1.0 if lrt <= 0 else 0.5 * float(chi2_sf(lrt, 1))
    prof = glmm_mod.ProfileIntervals(NAN, NAN, NAN, NAN)
    if profile and fit.tau2_identifiable[0]:
        prof = glmm_mod.profile_intervals(x, m, mu, tau2, loglik, se, level=level, n_nodes=n_nodes)
        # An end not reached by |mu| = 30 on the logit scale is the end of the proportion
        # scale itself: the interval extends to 0 (or 1).
        if not math.isfinite(prof.mu_low):
            prof = dataclasses.replace(prof, mu_low=-math.inf)
            warnings.append("profile-likelihood CI for the pooled proportion extends to 0")
        if not math.isfinite(prof.mu_high):
            prof = dataclasses.replace(prof, mu_high=math.inf)
            warnings.append("profile-likelihood CI for the pooled proportion extends to 1")
        if not math.isfinite(prof.tau2_high):
            warnings.append(
                "profile-likelihood CI for tau2 has no finite upper end (given as null)"
            )
    extra["lrt_test"] = "tau2 = 0, likelihood ratio, 50:50 mixture of chi2(0) and chi2(1)"
    return PoolResult(
        settings=settings,
        k=k,
        events=sx,
        n=sn,
        estimate=float(special.expit(mu)),
        ci_low=float(special.expit(lo)),
        ci_high=float(special.expit(hi)),
        pi_low=float(special.expit(pi_lo)),
        pi_high=float(special.expit(pi_hi)),
        mu=mu,
        se=se,
        tau2=tau2,
        i2=i2,
        h2=h2,
        q=q,
        q_p=q_p,
        q_df=k - 1,
        warnings=tuple(warnings),
        studies=study_rows(),
        converged=True,
        profile_ci_low=float(special.expit(prof.mu_low)),
        profile_ci_high=float(special.expit(prof.mu_high)),
        tau2_ci_low=prof.tau2_low,
        tau2_ci_high=prof.tau2_high,
        lrt_stat=lrt,
        lrt_p=lrt_p,
        loglik=loglik,
        extra=extra,
    )
