"""Binomial-normal GLMM with study-level moderators, by maximum likelihood.

events_i ~ Binomial(n_i, expit(x_i'beta + b_i)), b_i ~ N(0, tau2): R metafor's
``rma.glmm(measure="PLO", mods=)`` (through lme4's glmer; Stijnen, Hamza & Ozdemir 2010). The
marginal likelihood is integrated by the same adaptive Gauss-Hermite quadrature as the
intercept-only model (``stsmeta.stats.glmm``), with the number of nodes checked by doubling;
Newton-Raphson on (beta, tau) with the analytic score and Hessian (Louis 1982), step halving,
and the boundary tau = 0 (logistic regression) kept when it is as good. Gives Wald tests of the
coefficients and the omnibus Wald QM (metafor's), and the likelihood-ratio test against the
model without moderators: with a categorical moderator, the GLMM's test of subgroup differences
(common tau2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from stsmeta.stats.distributions import chi2_sf, norm_ppf
from stsmeta.stats.glmm import (
    _HALF_LOG_2PI,
    BOUNDARY_LOGLIK,
    DEFAULT_NODES,
    MAX_NODES,
    _hermite,
    _log1pexp,
    _modes,
    first_restart_kept,
    log_choose,
)

_REG_TOL = 1e-6
# Beyond this a coefficient on the logit scale is taken to diverge (separation).
_COEF_MAX = 15.0


def _terms(x, n, lchoose, eta0, tau, n_nodes):
    """Per-study log-likelihood, score and Hessian terms in (linear predictor, tau)."""
    t, logw = _hermite(n_nodes)
    zhat, sigma = _modes(x, n, eta0, tau, np.zeros_like(x))
    z = zhat[:, None] + np.sqrt(2.0) * sigma[:, None] * t
    eta = eta0[:, None] + tau * z
    logf = x[:, None] * eta - n[:, None] * _log1pexp(eta) - 0.5 * z * z + logw
    top = logf.max(axis=-1)
    e = np.exp(logf - top[:, None])
    total = e.sum(axis=-1)
    ll = lchoose + top + np.log(total) + np.log(np.sqrt(2.0) * sigma) - _HALF_LOG_2PI
    post = e / total[:, None]
    p = special.expit(eta)
    r = x[:, None] - n[:, None] * p
    pr = post * r
    s_eta, s_tau = pr.sum(-1), (pr * z).sum(-1)
    pc = post * (r * r - n[:, None] * p * (1 - p))
    pcz = pc * z
    h_ee = pc.sum(-1) - s_eta**2
    h_et = pcz.sum(-1) - s_eta * s_tau
    h_tt = (pcz * z).sum(-1) - s_tau**2
    return ll.sum(), s_eta, s_tau, h_ee, h_et, h_tt


def _evaluate(x, n, lchoose, design, theta, n_nodes, free_tau=True):
    """Log-likelihood, gradient and Hessian in theta = (beta, tau) (or beta alone)."""
    beta, tau = theta[:-1], theta[-1]
    ll, s_e, s_t, h_ee, h_et, h_tt = _terms(x, n, lchoose, design @ beta, tau, n_nodes)
    grad = np.append(design.T @ s_e, s_t.sum())
    hess = np.empty((theta.size, theta.size))
    hess[:-1, :-1] = design.T @ (h_ee[:, None] * design)
    hess[:-1, -1] = hess[-1, :-1] = design.T @ h_et
    hess[-1, -1] = h_tt.sum()
    if not free_tau:
        grad[-1] = 0.0
        hess[-1, :] = hess[:, -1] = 0.0
        hess[-1, -1] = -1.0
    return ll, grad, hess


def _capped(step, tau, free_tau):
    """A step capped in place: at most 2 in each coordinate, and never across tau = 0 (the
    likelihood is even in tau)."""
    step *= min(1.0, 2.0 / max(np.max(np.abs(step)), 1e-300))
    if free_tau and tau * (tau + step[-1]) < 0:
        step[-1] = -0.9 * tau
    return step


def _step_and_stop(x, n, lchoose, design, point, step, n_nodes, free_tau):
    """Step halving from ``point`` = (theta, loglik, grad, hess) along ``step``, and whether the
    run stops there (as ``glmm_one._step_and_stop``): (stops, the new point or ``point``)."""
    theta, ll = point[0], point[1]
    s = 1.0
    for _ in range(40):
        cand = theta + s * step
        c_ll, c_grad, c_hess = _evaluate(x, n, lchoose, design, cand, n_nodes, free_tau)
        if np.isfinite(c_ll) and c_ll >= ll - 1e-12 * (1 + abs(ll)):
            gain, moved = c_ll - ll, np.max(np.abs(s * step))
            return moved < 1e-10 or (gain < 1e-13 and moved < 1e-6), (cand, c_ll, c_grad, c_hess)
        s *= 0.5
    return True, point


def _newton(x, n, lchoose, design, theta, n_nodes, free_tau):
    """Newton-Raphson from ``theta``: (theta, loglik, hess, whether the stopping rule ended the
    run within 200 steps, whether it took a steepest-ascent step)."""
    point = (theta, *_evaluate(x, n, lchoose, design, theta, n_nodes, free_tau))
    done = turned = False
    for _ in range(200):
        theta, ll, grad, hess = before = point
        info = -hess
        eigenvalues = np.linalg.eigvalsh(info)
        low = eigenvalues[0]
        if low < 1e-8:
            info = info + (1e-4 - low + 1e-3 * abs(np.trace(info))) * np.eye(theta.size)
        step = _capped(np.linalg.solve(info, grad), theta[-1], free_tau)
        done, point = _step_and_stop(x, n, lchoose, design, before, step, n_nodes, free_tau)
        # As in the intercept-only fit (glmm_one._newton): a stop on a Newton step that does not
        # ascend (the tau cap can turn the shifted step downhill) is no stop; the step is taken
        # again from the same point as steepest ascent, the score over the largest absolute
        # eigenvalue of -H, capped the same way.
        radius = np.max(np.abs(eigenvalues))
        if done and not grad @ step > 0 and np.any(grad != 0) and radius > 0:
            turned = True
            ascent = _capped(grad / radius, theta[-1], free_tau)
            done, point = _step_and_stop(x, n, lchoose, design, before, ascent, n_nodes, free_tau)
        if done:
            break
    theta, ll, _, hess = point
    return theta, ll, hess, done, turned


def _fit(x, n, lchoose, design, n_nodes):
    """ML fit at ``n_nodes``: (theta with tau >= 0, loglik, covariance of beta)."""
    p = design.shape[1]
    y = np.log((x + 0.5) / (n - x + 0.5))
    beta0 = np.linalg.lstsq(design, y, rcond=None)[0]
    start0 = np.append(beta0, 0.0)
    fixed, ll0, h0, _, _ = _newton(x, n, lchoose, design, start0, n_nodes, free_tau=False)

    def run(tau0):
        """Newton from ``tau0``, tau free: (converged, loglik, (theta, loglik, hess, turned))."""
        start = np.append(fixed[:p], tau0)
        theta, ll, hess, converged, turned = _newton(x, n, lchoose, design, start, n_nodes, True)
        return converged, ll, (theta, ll, hess, turned)

    _, _, (free, ll1, h1, turned) = run(0.5)
    # Where that run ends at the boundary or took a steepest-ascent step: the restarts of the
    # intercept-only fit, kept by the same rule.
    restart = first_restart_kept(ll1, ll0, turned, run)
    if restart is not None:
        free, ll1, h1, _ = restart
    if ll1 < ll0 + BOUNDARY_LOGLIK:
        return fixed, ll0, np.linalg.inv(-h0[:p, :p])
    free[-1] = abs(free[-1])
    return free, ll1, np.linalg.inv(-h1)[:p, :p]


@dataclass(frozen=True)
class GlmmRegression:
    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    stat: np.ndarray
    p: np.ndarray
    tau2: float
    loglik: float
    qm: float  # Wald omnibus of all coefficients but the intercept
    qm_df: int
    qm_p: float
    lrt: float  # likelihood ratio against the intercept-only GLMM
    lrt_p: float
    k: int
    n_nodes: int
    quadrature_accurate: bool
    # False when a coefficient runs off to infinity (e.g. every study of a moderator level at
    # 0% or 100%): its estimate, SE and the tests are then meaningless (as glmer's).
    finite: bool = True

    def to_dict(self) -> dict:
        def clean(v):
            v = float(v)
            return v if np.isfinite(v) else None

        return {
            "k": self.k,
            "model": "binomial-normal GLMM (ML), Wald tests",
            "coefficients": [
                {
                    "name": name,
                    "estimate": clean(self.coef[i]),
                    "se": clean(self.se[i]),
                    "ci_low": clean(self.ci_low[i]),
                    "ci_high": clean(self.ci_high[i]),
                    "statistic": clean(self.stat[i]),
                    "p": clean(self.p[i]),
                }
                for i, name in enumerate(self.names)
            ],
            "tau2": clean(self.tau2),
            "qm": clean(self.qm),
            "qm_df": [self.qm_df],
            "qm_p": clean(self.qm_p),
            "lrt": clean(self.lrt),
            "lrt_p": clean(self.lrt_p),
            "n_nodes": self.n_nodes,
            "quadrature_accurate": self.quadrature_accurate,
            "finite": self.finite,
        }


def fit_glmm_regression(events, n, design, names, *, n_nodes=DEFAULT_NODES, level=0.95):
    """GLMM meta-regression of events/n on ``design`` (k x p, first column the intercept)."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    design = np.asarray(design, dtype=float)
    k, p = design.shape
    if k <= p:
        raise ValueError(f"meta-regression with {p} coefficients needs more than {p} studies")
    if np.linalg.matrix_rank(design) < p:
        raise ValueError("the moderators are collinear (the design matrix is not of full rank)")
    lchoose = log_choose(x, m)
    nodes, accurate = n_nodes, False
    theta, ll, cov = _fit(x, m, lchoose, design, nodes)
    while 2 * nodes - 1 <= MAX_NODES:
        f_theta, f_ll, f_cov = _fit(x, m, lchoose, design, 2 * nodes - 1)
        change = max(np.max(np.abs(f_theta - theta)), abs(f_ll - ll))
        theta, ll, cov, nodes = f_theta, f_ll, f_cov, 2 * nodes - 1
        if change <= _REG_TOL:
            accurate = True
            break
    beta, tau = theta[:-1], theta[-1]
    se = np.sqrt(np.diag(cov))
    crit = float(norm_ppf(0.5 + level / 2))
    qm = float(beta[1:] @ np.linalg.solve(cov[1:, 1:], beta[1:])) if p > 1 else np.nan
    null_design = np.ones((k, 1))
    ll_null = _fit(x, m, lchoose, null_design, nodes)[1]
    lrt = max(2 * (ll - ll_null), 0.0)
    return GlmmRegression(
        names=tuple(names),
        coef=beta,
        se=se,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        stat=beta / se,
        p=np.asarray(chi2_sf((beta / se) ** 2, 1), dtype=float),
        tau2=float(tau * tau),
        loglik=float(ll),
        qm=qm,
        qm_df=p - 1,
        qm_p=float(chi2_sf(qm, p - 1)) if p > 1 else np.nan,
        lrt=float(lrt),
        lrt_p=float(chi2_sf(lrt, p - 1)) if p > 1 else np.nan,
        k=k,
        n_nodes=nodes,
        quadrature_accurate=accurate,
        finite=bool(np.all(np.abs(beta) < _COEF_MAX) and np.all(se < 1e3 * (1 + np.abs(beta)))),
    )
