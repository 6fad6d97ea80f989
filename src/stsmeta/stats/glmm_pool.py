"""``pool(method="glmm")``: the binomial-normal GLMM result of counts.

The number of quadrature nodes is chosen per dataset (``glmm_check.glmm_fit_checked``, computed
for one dataset by ``glmm_one.glmm_fit_one``):
starting from ``n_nodes`` it is raised to 2n - 1 until the fit changes by less than
``QUADRATURE_TOL``; the profile-likelihood interval ends (``glmm_profile_one``, the algorithm
of ``glmm.profile_intervals`` on the same fast evaluation) are checked the same way
(``PROFILE_DEVIANCE_TOL``). Where the check fails at ``MAX_NODES`` the result says so in
``warnings``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import special

from stsmeta.stats import glmm as glmm_mod
from stsmeta.stats import glmm_check, glmm_one, glmm_profile_one
from stsmeta.stats import ivre as ivre_mod
from stsmeta.stats.distributions import chi2_sf
from stsmeta.stats.prediction import PI_LABELS, prediction_interval
from stsmeta.stats.results import PoolResult, ci_fields
from stsmeta.stats.shared import CI_LABELS, NAN, NO_ESTIMATE, crit
from stsmeta.stats.tau2 import i2_h2, typical_variance

Q_TEST = "likelihood ratio (saturated vs common-effect binomial model), metafor's QE.LRT"
I2_NOTE = (
    "GLMM I2 and H2 compare tau2 with metafor's typical within-study variance of the logit "
    "proportions, in which 0% and 100% studies get 1/2 added to events and non-events; for "
    "series of mostly 0% or 100% that arbitrary correction drives I2"
)


def glmm_i2(x, m, tau2: float) -> tuple[float, float]:
    """I2 (percent) and H2 for the GLMM as metafor's rma.glmm: tau2 against the typical
    within-study variance of the logit proportions (1/2 added in 0%/100% studies)."""
    _, vi = ivre_mod.transform_proportions(x, m, "logit")
    i2, h2 = i2_h2(tau2, typical_variance(vi))
    return float(i2), float(h2)


def _single_study(x, m, empty, ci, level):
    """k = 1: tau2 is not identifiable; the study's binomial ML on the logit scale."""
    sx, sn = int(x.sum()), int(m.sum())
    if sx in (0, sn):
        status = glmm_mod.STATUS_ALL_ZERO if sx == 0 else glmm_mod.STATUS_ALL_FULL
        return PoolResult(**empty, warnings=(status,), converged=False)
    warnings = []
    p = sx / sn
    mu = float(special.logit(p))
    se = float(1 / math.sqrt(sn * p * (1 - p)))
    if ci == "t":
        warnings.append("no CI: t with k - 1 = 0 df is undefined; use ci z")
        lo = hi = NAN
    else:
        z = crit(level, math.inf)
        lo, hi = mu - z * se, mu + z * se
    warnings.append(
        "k = 1: tau2 is not estimable; the result is the single study's binomial maximum "
        "likelihood estimate on the logit scale (Wald CI), with no prediction interval"
    )
    empty.update(
        mu=mu, se=se, estimate=p, ci_low=float(special.expit(lo)), ci_high=float(special.expit(hi))
    )
    return PoolResult(**empty, warnings=tuple(warnings), converged=True)


def _profile(x, m, mu, tau2, se, level, n_nodes, warnings):
    """Profile-likelihood intervals with their ends checked against twice the nodes."""
    nodes = n_nodes
    while True:
        loglik = glmm_profile_one.marginal_loglik_one(x, m, mu, math.sqrt(tau2), nodes)
        prof = glmm_profile_one.profile_intervals_one(
            x, m, mu, tau2, loglik, se, level=level, n_nodes=nodes
        )
        error = glmm_profile_one.profile_end_error_one(x, m, prof, mu, tau2, 2 * nodes - 1, level)
        if error <= glmm_check.PROFILE_DEVIANCE_TOL:
            break
        if 2 * nodes - 1 > glmm_mod.MAX_NODES:
            warnings.append(
                f"profile-likelihood interval ends may be inaccurate: at {nodes} quadrature "
                f"nodes the deviance at an end still moves by {error:.1e} when the nodes are "
                "doubled"
            )
            break
        # The error falls at least like 1/nodes^2 (faster as the nodes grow): go straight to
        # the doubling that should bring it within the tolerance.
        target = nodes * math.sqrt(error / glmm_check.PROFILE_DEVIANCE_TOL)
        nodes = 2 * nodes - 1
        while nodes < target and 2 * nodes - 1 <= glmm_mod.MAX_NODES:
            nodes = 2 * nodes - 1
    # An end not reached by |mu| = 30 on the logit scale is the end of the proportion scale
    # itself: the interval extends to 0 (or 1).
    if not math.isfinite(prof.mu_low):
        prof = dataclasses.replace(prof, mu_low=-math.inf)
        warnings.append("profile-likelihood CI for the pooled proportion extends to 0")
    if not math.isfinite(prof.mu_high):
        prof = dataclasses.replace(prof, mu_high=math.inf)
        warnings.append("profile-likelihood CI for the pooled proportion extends to 1")
    if not math.isfinite(prof.tau2_high):
        warnings.append("profile-likelihood CI for tau2 has no finite upper end (given as null)")
    return prof, nodes


def _quadrature_note(check, settings, warnings):
    settings["n_nodes"] = int(check.n_nodes)
    settings["quadrature_check"] = (
        f"a fit at {check.checked_against} nodes would change it by {check.change:.1e} "
        f"(tolerance {glmm_check.QUADRATURE_TOL:g})"
    )
    if not check.accurate:
        warnings.append(
            f"the GLMM quadrature did not settle: a fit at {check.checked_against} nodes would "
            f"change the one at {check.n_nodes} nodes by {check.change:.1e} (tolerance "
            f"{glmm_check.QUADRATURE_TOL:g}); the GLMM numbers may be inaccurate"
        )


def pool_glmm(x, m, settings, common, study_rows, ci, pi, level, n_nodes, scope, profile):
    k = x.size
    warnings: list[str] = []
    q, q_p = glmm_mod.homogeneity_lrt(x, m)
    extra = {"q_test": Q_TEST, "qe_lrt": q, "qe_lrt_p": q_p, "i2_note": I2_NOTE}
    empty = dict(
        settings=settings,
        **common,
        **{**NO_ESTIMATE, "q": q, "q_p": q_p},
        q_df=k - 1 if k > 1 else None,
        studies=study_rows(),
        extra=extra,
    )
    settings["description"] = (
        f"Binomial-normal GLMM (ML, adaptive Gauss-Hermite quadrature, nodes checked by "
        f"doubling), {CI_LABELS[ci]}, {PI_LABELS[pi]}, {scope}"
    )
    if k == 1:
        return _single_study(x, m, empty, ci, level)
    fit, check = glmm_one.glmm_fit_one(x, m, n_nodes=n_nodes)
    _quadrature_note(check, settings, warnings)
    status = fit.status[0]
    if status != glmm_mod.STATUS_OK:
        return PoolResult(**empty, warnings=(status, *warnings), converged=False)
    mu, se, tau2 = float(fit.mu[0]), float(fit.se[0]), float(fit.tau2[0])
    loglik = float(fit.loglik[0])
    df = math.inf if ci == "z" else k - 1
    half = crit(level, df) * se
    values = dict(
        estimate=float(special.expit(mu)),
        ci_low=float(special.expit(mu - half)),
        ci_high=float(special.expit(mu + half)),
        mu=mu,
        se=se,
        q=q,
        q_p=q_p,
        loglik=loglik,
    )
    if not fit.tau2_identifiable[0]:
        # Every n = 1: the data fix only the marginal mean proportion, not tau2, so no tau2, I2
        # or prediction interval is given; the common-effect logistic fit estimates that mean.
        warnings.append(
            "every study has n = 1: tau2 is not identifiable, so tau2, I2, H2 and the "
            "prediction interval are not given; the estimate and CI are those of the "
            "common-effect logistic model (the mean proportion over studies)"
        )
        values.update(tau2=NAN, i2=NAN, pi_low=NAN, pi_high=NAN)
        return PoolResult(**empty | values, warnings=tuple(warnings), converged=True)
    if tau2 == 0:
        warnings.append("tau2 estimated at the boundary 0")
    pi_lo, pi_hi, pi_problem = prediction_interval(mu, se, tau2, k, method=pi, level=level)
    if pi_problem:
        warnings.append(pi_problem)
    i2, h2 = glmm_i2(x, m, tau2)
    lrt = 0.0 if tau2 == 0 else max(2 * (loglik - float(fit.loglik_common[0])), 0.0)
    values.update(
        pi_low=float(special.expit(pi_lo)),
        pi_high=float(special.expit(pi_hi)),
        tau2=tau2,
        i2=i2,
        h2=h2,
        lrt_stat=lrt,
        lrt_p=1.0 if lrt <= 0 else 0.5 * float(chi2_sf(lrt, 1)),
    )
    extra["lrt_test"] = "tau2 = 0, likelihood ratio, 50:50 mixture of chi2(0) and chi2(1)"
    if profile:
        prof, nodes = _profile(x, m, mu, tau2, se, level, check.n_nodes, warnings)
        settings["profile_n_nodes"] = nodes
        _, vi = ivre_mod.transform_proportions(x, m, "logit")
        ends = np.array([prof.tau2_low, prof.tau2_high])
        i2_ends, h2_ends = i2_h2(ends, typical_variance(vi))
        values.update(
            profile_ci_low=float(special.expit(prof.mu_low)),
            profile_ci_high=float(special.expit(prof.mu_high)),
            **ci_fields(ends, i2_ends, h2_ends),
        )
    return PoolResult(**empty | values, warnings=tuple(warnings), converged=True)
