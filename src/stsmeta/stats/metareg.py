"""Meta-regression and tests of subgroup differences for the inverse-variance model.

Mixed-effects meta-regression y_i ~ N(x_i'beta, v_i + tau2) with v_i known, as R metafor's
``rma(yi, vi, mods = X, method = ...)`` (Thompson & Higgins 2002, Stat Med 21:1559-1573;
Viechtbauer 2005): tau2 by DL (generalised, (QE - (k - p)) / tr(P)), ML or REML (the GLOBAL
maximum of the (restricted) likelihood over tau2 >= 0, as in ``stsmeta.stats.tau2``); beta by
weighted least squares; the omnibus Wald test QM of all coefficients but the intercept (chi2 on
p - 1 df, or F(p - 1, k - p) with Knapp & Hartung 2003's adjustment, metafor test="knha"); the
residual heterogeneity test QE (chi2 on k - p df); and metafor's pseudo R2, the proportional
reduction of tau2 against the intercept-only model with the same estimator (Raudenbush 2009).

Tests of subgroup differences (Borenstein et al. 2009, Introduction to Meta-Analysis, ch. 19):
with separate tau2, Q between the subgroup estimates, each with its own random-effects SE
(R meta's "test for subgroup differences"); with a common tau2, QM of the meta-regression on
the subgroup indicator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stsmeta.stats.distributions import chi2_sf, norm_ppf, t_ppf

METAREG_TAU2 = ("REML", "ML", "DL")
_GRID = np.concatenate([[0.0], np.geomspace(1e-10, 1.0, 300)])


@dataclass(frozen=True)
class MetaRegression:
    """A mixed-effects meta-regression fit; coefficient arrays follow ``names``."""

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    stat: np.ndarray  # z or t values
    p: np.ndarray
    tau2: float
    qm: float  # omnibus statistic (an F value with test "knha")
    qm_df: tuple[int, ...]  # (p - 1,) or (p - 1, k - p) for F
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    r2: float  # percent; 0 when the intercept-only tau2 is 0 (as metafor)
    k: int
    test: str


def _wls(yi, vi, x, tau2):
    w = 1 / (vi + tau2)
    xtwx = x.T @ (w[:, None] * x)
    cov = np.linalg.inv(xtwx)
    beta = cov @ (x.T @ (w * yi))
    resid = yi - x @ beta
    return beta, cov, resid, w


def _loglik(yi, vi, x, tau2: float, reml: bool) -> float:
    beta, cov, resid, w = _wls(yi, vi, x, tau2)
    ll = -0.5 * (np.sum(np.log(vi + tau2)) + np.sum(w * resid**2))
    if reml:
        ll -= 0.5 * np.linalg.slogdet(np.linalg.inv(cov))[1]
    return float(ll)


def _loglik_grid(yi, vi, x, grid, reml: bool) -> np.ndarray:
    """``_loglik`` at every tau2 of ``grid`` at once (batched p x p systems)."""
    w = 1 / (vi[None, :] + grid[:, None])
    xtwx = np.einsum("gk,ki,kj->gij", w, x, x)
    xtwy = np.einsum("gk,ki,k->gi", w, x, yi)
    beta = np.linalg.solve(xtwx, xtwy[..., None])[..., 0]
    resid = yi[None, :] - beta @ x.T
    ll = -0.5 * (np.log(vi[None, :] + grid[:, None]).sum(1) + (w * resid**2).sum(1))
    if reml:
        ll -= 0.5 * np.linalg.slogdet(xtwx)[1]
    return ll


def _score(yi, vi, x, tau2: float, reml: bool) -> float:
    """Twice d(log-likelihood)/d(tau2): sum w^2 r^2 - sum w (ML) or - tr(P) (REML)."""
    beta, cov, resid, w = _wls(yi, vi, x, tau2)
    s = float(np.sum(w**2 * resid**2) - np.sum(w))
    if reml:
        s += float(np.trace(cov @ (x.T @ ((w**2)[:, None] * x))))
    return s


def _residual_q(yi, vi, x) -> float:
    _, _, resid, w = _wls(yi, vi, x, 0.0)
    return float(np.sum(w * resid**2))


def metareg_tau2(yi, vi, x, method: str) -> float:
    """tau2 of the meta-regression by DL, ML or REML (global maximum over tau2 >= 0)."""
    k, p = x.shape
    if method == "DL":
        w = 1 / vi
        xtwx_inv = np.linalg.inv(x.T @ (w[:, None] * x))
        # tr(P) with P = W - W X (X'WX)^-1 X'W.
        trace_p = np.sum(w) - np.trace(xtwx_inv @ (x.T @ ((w**2)[:, None] * x)))
        return max(0.0, (_residual_q(yi, vi, x) - (k - p)) / trace_p)
    if method not in ("ML", "REML"):
        raise ValueError(f"meta-regression tau2 must be one of {', '.join(METAREG_TAU2)}")
    from scipy import optimize  # here: slow to load, and only the likelihood fits need it

    reml = method == "REML"
    _, _, resid0, _ = _wls(yi, vi, x, 0.0)
    upper = 10 * (4 * float(np.max(resid0**2)) + 4 * float(np.ptp(yi)) ** 2 + float(np.max(vi)))
    grid = _GRID * upper
    ll = _loglik_grid(yi, vi, x, grid, reml)
    best = int(np.argmax(ll))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    candidates = [float(grid[best])]
    if _score(yi, vi, x, lo, reml) > 0 > _score(yi, vi, x, hi, reml):
        candidates.append(
            optimize.brentq(lambda t: _score(yi, vi, x, t, reml), lo, hi, xtol=1e-15, rtol=1e-15)
        )
    values = [_loglik(yi, vi, x, t, reml) for t in candidates]
    return candidates[int(np.argmax(values))]


def fit_metareg(
    yi,
    vi,
    x,
    names,
    *,
    tau2_method: str = "REML",
    test: str = "z",
    level: float = 0.95,
) -> MetaRegression:
    """Meta-regression of ``yi`` (variances ``vi``) on the design ``x`` (k x p, first column the
    intercept); ``test`` "z" or "knha" (Knapp-Hartung with t and F, as metafor)."""
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    x = np.asarray(x, dtype=float)
    k, p = x.shape
    if k <= p:
        raise ValueError(f"meta-regression with {p} coefficients needs more than {p} studies")
    if np.linalg.matrix_rank(x) < p:
        raise ValueError("the moderators are collinear (the design matrix is not of full rank)")
    tau2 = metareg_tau2(yi, vi, x, tau2_method)
    beta, cov, resid, w = _wls(yi, vi, x, tau2)
    df = np.inf
    if test == "knha":
        cov = cov * (np.sum(w * resid**2) / (k - p))
        df = k - p
    se = np.sqrt(np.diag(cov))
    stat = beta / se
    if np.isinf(df):
        crit = float(norm_ppf(0.5 + level / 2))
        pval = chi2_sf(stat**2, 1)
    else:
        from scipy import special

        crit = float(t_ppf(0.5 + level / 2, df))
        pval = 2 * special.stdtr(df, -np.abs(stat))
    qm, qm_p = np.nan, np.nan
    qm_df: tuple[int, ...] = ()
    if p > 1:
        b = beta[1:]
        qm = float(b @ np.linalg.solve(cov[1:, 1:], b))
        if np.isinf(df):
            qm_df, qm_p = (p - 1,), float(chi2_sf(qm, p - 1))
        else:
            from scipy import special

            qm = qm / (p - 1)
            qm_df, qm_p = (p - 1, k - p), float(special.fdtrc(p - 1, k - p, qm))
    qe = _residual_q(yi, vi, x)
    tau2_null = metareg_tau2(yi, vi, np.ones((k, 1)), tau2_method)
    # metafor's convention: 0 when the intercept-only tau2 is 0 (nothing to explain).
    r2 = max(0.0, 100 * (tau2_null - tau2) / tau2_null) if tau2_null > 0 else 0.0
    return MetaRegression(
        names=tuple(names),
        coef=beta,
        se=se,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        stat=stat,
        p=np.asarray(pval, dtype=float),
        tau2=tau2,
        qm=qm,
        qm_df=qm_df,
        qm_p=qm_p,
        qe=qe,
        qe_df=k - p,
        qe_p=float(chi2_sf(qe, k - p)),
        r2=r2,
        k=k,
        test=test,
    )


@dataclass(frozen=True)
class SubgroupDifference:
    """Test of subgroup differences: statistic, df, p-value, and which model."""

    statistic: float
    df: int
    p: float
    model: str


def q_between(estimates, ses) -> SubgroupDifference:
    """Separate tau2: Q between subgroup estimates weighted by 1 / se^2 (df = groups - 1)."""
    mu = np.asarray(estimates, dtype=float)
    w = 1 / np.asarray(ses, dtype=float) ** 2
    pooled = np.sum(w * mu) / np.sum(w)
    q = float(np.sum(w * (mu - pooled) ** 2))
    g = mu.size
    return SubgroupDifference(q, g - 1, float(chi2_sf(q, g - 1)), "separate tau2")


def design_from_groups(groups) -> tuple[np.ndarray, list[str]]:
    """Intercept plus one indicator per level but the first (levels sorted): (X, names)."""
    labels = [str(g) for g in groups]
    levels = sorted(set(labels))
    x = np.ones((len(labels), len(levels)))
    for j, level_ in enumerate(levels[1:], start=1):
        x[:, j] = [1.0 if lab == level_ else 0.0 for lab in labels]
    return x, ["intercept", *levels[1:]]


def common_tau2_difference(yi, vi, groups, tau2_method: str = "REML") -> SubgroupDifference:
    """Common tau2: the omnibus QM of the meta-regression on the subgroup indicators."""
    x, names = design_from_groups(groups)
    fit = fit_metareg(yi, vi, x, names, tau2_method=tau2_method)
    return SubgroupDifference(fit.qm, fit.qm_df[0], fit.qm_p, "common tau2")


def moderator_design(columns) -> tuple[np.ndarray, list[str]]:
    """Design matrix from named moderator columns (a mapping name -> values, in study order):
    a column whose values are all numbers is continuous; any other is categorical, coded by
    indicators of its levels but the first (sorted), named "name=level"."""
    k = len(next(iter(columns.values())))
    blocks, names = [np.ones((k, 1))], ["intercept"]
    for name, values in columns.items():
        texts = [str(v).strip() for v in values]
        try:
            numbers = [float(t) for t in texts]
        except ValueError:
            numbers = None
        if numbers is not None and all(np.isfinite(numbers)):
            blocks.append(np.array(numbers)[:, None])
            names.append(name)
            continue
        x, levels = design_from_groups(texts)
        blocks.append(x[:, 1:])
        names += [f"{name}={level_}" for level_ in levels[1:]]
    return np.hstack(blocks), names


def metareg_dict(fit: MetaRegression) -> dict:
    """JSON-ready form of a meta-regression (NaN as None)."""

    def clean(v):
        v = float(v)
        return v if np.isfinite(v) else None

    return {
        "k": fit.k,
        "test": fit.test,
        "coefficients": [
            {
                "name": name,
                "estimate": clean(fit.coef[i]),
                "se": clean(fit.se[i]),
                "ci_low": clean(fit.ci_low[i]),
                "ci_high": clean(fit.ci_high[i]),
                "statistic": clean(fit.stat[i]),
                "p": clean(fit.p[i]),
            }
            for i, name in enumerate(fit.names)
        ],
        "tau2": clean(fit.tau2),
        "qm": clean(fit.qm),
        "qm_df": list(fit.qm_df),
        "qm_p": clean(fit.qm_p),
        "qe": clean(fit.qe),
        "qe_df": fit.qe_df,
        "qe_p": clean(fit.qe_p),
        "r2": clean(fit.r2),
    }
