"""How many quadrature nodes the GLMM needs: fits and profile-interval ends checked against
fits with twice the nodes (issue 12: 61 nodes are not enough when tau2 is large)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stsmeta.stats.distributions import chi2_ppf
from stsmeta.stats.glmm import (
    DEFAULT_NODES,
    MAX_NODES,
    STATUS_OK,
    ProfileIntervals,
    _can_collapse,
    _evaluate,
    _Profiler,
    collapse_studies,
    log_choose,
)
from stsmeta.stats.glmm_fit import GlmmBatchFit, glmm_batch

# Quadrature check: a fit is accepted when doubling the nodes (2n - 1, so that 0 stays a node)
# changes mu, se (relative), tau2 (relative above 1) and the log-likelihood by less than this.
QUADRATURE_TOL = 1e-6
# A profile-interval end is accepted when, with twice the nodes, the deviance there is within
# this of the chi-squared quantile (an error of about 1e-4 / slope in the end itself).
PROFILE_DEVIANCE_TOL = 1e-3


@dataclass(frozen=True)
class QuadratureCheck:
    """How the number of nodes was chosen: the fit at ``n_nodes`` was checked against
    ``checked_against`` nodes and changed by ``change``; ``accurate``: change <= the tolerance."""

    n_nodes: int
    checked_against: int
    change: float
    accurate: bool


def _variance_of_mu(hess: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """Var(mu) from the Hessian in (mu, tau), as glmm_batch computes it."""
    a, b, c = -hess[:, 0, 0], -hess[:, 0, 1], -hess[:, 1, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(boundary, 1.0 / a, c / (a * c - b * b))


def quadrature_change(events_2d, n_2d, fit: GlmmBatchFit, finer: int) -> np.ndarray:
    """Per row, how much the fit would change with ``finer`` nodes, from one evaluation there at
    the fitted (mu, tau): the largest of |log-likelihood change|, |Newton step in mu|, the
    Newton step in tau2 (relative above 1) and the relative change of the SE. Rows without an
    estimate (or with tau2 not identifiable) get 0, a Hessian of the wrong shape inf."""
    x = np.atleast_2d(np.asarray(events_2d, dtype=float))
    n = np.atleast_2d(np.asarray(n_2d, dtype=float))
    change = np.zeros(x.shape[0])
    rows = np.flatnonzero((fit.status == STATUS_OK) & fit.tau2_identifiable)
    if rows.size == 0:
        return change
    x, n, weights = x[rows], n[rows], None
    if _can_collapse(x, n):
        x, n, weights = collapse_studies(x, n)
    mu, tau = fit.mu[rows], np.sqrt(fit.tau2[rows])
    ll, grad, hess, _ = _evaluate(
        x, n, log_choose(x, n), mu, tau, np.zeros_like(x), finer, weights=weights
    )
    boundary = tau == 0.0
    info = -hess
    det = info[:, 0, 0] * info[:, 1, 1] - info[:, 0, 1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        step_mu = np.where(
            boundary,
            grad[:, 0] / info[:, 0, 0],
            (info[:, 1, 1] * grad[:, 0] - info[:, 0, 1] * grad[:, 1]) / det,
        )
        step_tau = np.where(
            boundary, 0.0, (info[:, 0, 0] * grad[:, 1] - info[:, 0, 1] * grad[:, 0]) / det
        )
        step_tau2 = np.abs(2 * tau * step_tau + step_tau**2) / np.maximum(tau * tau, 1.0)
        se_fine = np.sqrt(_variance_of_mu(hess, boundary))
        parts = np.stack(
            [
                np.abs(ll - fit.loglik[rows]),
                np.abs(step_mu),
                step_tau2,
                np.abs(se_fine / fit.se[rows] - 1.0),
            ]
        )
    # At the boundary, tau = 0 must stay a maximum in tau with the finer nodes.
    wrong_shape = (
        (info[:, 0, 0] <= 0) | (boundary & (info[:, 1, 1] < -1e-9)) | (~boundary & (det <= 0))
    )
    worst = parts.max(axis=0)
    change[rows] = np.where(wrong_shape | ~np.isfinite(worst), np.inf, worst)
    return change


def _take_rows(fit: GlmmBatchFit, rows: np.ndarray, part: GlmmBatchFit) -> None:
    """Write the rows of ``part`` (a fit of those rows only) into ``fit``'s arrays."""
    for name in ("mu", "se", "tau2", "loglik", "loglik_common", "iterations", "status"):
        getattr(fit, name)[rows] = getattr(part, name)


def glmm_batch_checked(
    events_2d, n_2d, *, n_nodes: int = DEFAULT_NODES, tol: float = QUADRATURE_TOL
) -> tuple[GlmmBatchFit, np.ndarray, np.ndarray]:
    """``glmm_batch`` with enough nodes for every row: a row's fit at n nodes is kept when
    ``quadrature_change`` at 2n - 1 nodes is <= ``tol``; otherwise the row is refitted with
    2n - 1 nodes and checked again, up to MAX_NODES.

    Returns (fit, nodes used per row, change per row); a change > tol means MAX_NODES was not
    enough for that row.
    """
    x = np.atleast_2d(np.asarray(events_2d, dtype=float))
    n = np.atleast_2d(np.asarray(n_2d, dtype=float))
    fit = glmm_batch(x, n, n_nodes=n_nodes)
    nodes_used = np.full(x.shape[0], n_nodes)
    change = quadrature_change(x, n, fit, 2 * n_nodes - 1)
    rows = np.flatnonzero(change > tol)
    nodes = n_nodes
    while rows.size and 2 * nodes - 1 <= MAX_NODES:
        nodes = 2 * nodes - 1
        part = glmm_batch(x[rows], n[rows], n_nodes=nodes)
        _take_rows(fit, rows, part)
        nodes_used[rows] = nodes
        change[rows] = quadrature_change(x[rows], n[rows], part, 2 * nodes - 1)
        rows = rows[change[rows] > tol]
    return fit, nodes_used, change


def glmm_fit_checked(events, n, *, n_nodes: int = DEFAULT_NODES, tol: float = QUADRATURE_TOL):
    """One dataset by ``glmm_batch_checked``: (GlmmBatchFit of one row, QuadratureCheck)."""
    fit, nodes, change = glmm_batch_checked([events], [n], n_nodes=n_nodes, tol=tol)
    used = int(nodes[0])
    return fit, QuadratureCheck(used, 2 * used - 1, float(change[0]), bool(change[0] <= tol))


def profile_end_error(events, n, ends: ProfileIntervals, mu_hat, tau2_hat, n_nodes, level):
    """Largest |deviance - chi2 quantile| over the finite ends of ``ends``, recomputed with
    ``n_nodes`` (more than those of the intervals): how far quadrature error moved the ends."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    return end_error(_Profiler(x, m, n_nodes), ends, mu_hat, tau2_hat, level)


def end_error(prof, ends: ProfileIntervals, mu_hat, tau2_hat, level) -> float:
    """``profile_end_error`` on a profiler at the finer nodes (``_Profiler`` or one with the
    same ``maximise`` over a faster evaluation, ``glmm_profile_one``)."""
    crit = float(chi2_ppf(level, 1))
    tau_hat = float(np.sqrt(tau2_hat))
    loglik_hat = prof.eval(mu_hat, tau_hat, derivatives=False)[0]
    errors = []
    for value, free in (
        (ends.mu_low, 1),
        (ends.mu_high, 1),
        (np.sqrt(ends.tau2_low), 0),
        (np.sqrt(ends.tau2_high), 0),
    ):
        if not np.isfinite(value) or (free == 0 and value == 0.0):
            continue
        theta = [value, max(tau_hat, 0.3)] if free == 1 else [mu_hat, value]
        lp = prof.maximise(theta, free=free)[0]
        errors.append(abs(2 * (loglik_hat - lp) - crit))
    return max(errors, default=0.0)
