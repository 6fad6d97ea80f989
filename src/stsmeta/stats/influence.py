"""Case-deletion diagnostics of the inverse-variance random-effects model, as R metafor's
``influence()`` for ``rma`` (Viechtbauer & Cheung 2010, Res Synth Methods 1:112-125).

For each study i the model is refitted without it (same tau2 estimator): the externally
standardised residual (rstudent), DFFITS, Cook's distance, the covariance ratio, tau2 and Cochran's
Q after deletion, the hat value and the weight (percent) in the full fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stsmeta.stats.ivre import fit_ivre


@dataclass(frozen=True)
class Influence:
    """One value per study (arrays in study order); NaN where a deletion leaves < 2 studies."""

    rstudent: np.ndarray
    dffits: np.ndarray
    cook_d: np.ndarray
    cov_r: np.ndarray
    tau2_del: np.ndarray
    qe_del: np.ndarray
    hat: np.ndarray
    weight: np.ndarray

    def rows(self) -> list[dict[str, float]]:
        names = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight")
        columns = [getattr(self, name).tolist() for name in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def influence_ivre(yi, vi, tau2_method: str = "REML") -> Influence:
    """Leave-one-out diagnostics of the intercept-only random-effects model (z-based)."""
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.size
    full = fit_ivre(yi, vi, tau2_method=tau2_method)
    w = 1 / (vi + full.tau2)
    hat = w / w.sum()
    out = {name: np.full(k, np.nan) for name in ("rstudent", "dffits", "cook", "cov", "tau2", "qe")}
    for i in range(k):
        keep = np.arange(k) != i
        if keep.sum() < 2:
            continue
        part = fit_ivre(yi[keep], vi[keep], tau2_method=tau2_method)
        change = full.mu - part.mu
        out["rstudent"][i] = (yi[i] - part.mu) / np.sqrt(vi[i] + part.se**2 + part.tau2)
        out["dffits"][i] = change / np.sqrt(hat[i] * (part.tau2 + vi[i]))
        out["cook"][i] = change**2 / full.se**2
        out["cov"][i] = part.se**2 / full.se**2
        out["tau2"][i] = part.tau2
        out["qe"][i] = part.q
    return Influence(
        rstudent=out["rstudent"],
        dffits=out["dffits"],
        cook_d=out["cook"],
        cov_r=out["cov"],
        tau2_del=out["tau2"],
        qe_del=out["qe"],
        hat=hat,
        weight=100 * hat,
    )
