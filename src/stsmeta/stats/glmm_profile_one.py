"""Profile-likelihood intervals of one dataset's GLMM fit on the fast evaluation of
``glmm_one`` (issue 16: the profiled fit of a pooled result cost ~290 ms under load).

The algorithm is that of ``glmm.profile_intervals`` and ``glmm_check.profile_end_error``, not
a copy of it: ``glmm.profile_ends``, ``glmm_check.end_error`` and ``glmm._Profiler.maximise``
(inner Newton with step halving, Brent fallback, the tau = 0 check; the signed-root search of
the ends; their stopping rules) run unchanged on ``_ScalarProfiler``, which only replaces the
evaluation of the log-likelihood, score and Hessian at (mu, tau): ``glmm_one._Dataset.evaluate``
(Python floats, scalar mode search warm-started from the previous point, tau = 0 in closed
form) instead of the batch ``glmm._evaluate`` on a one-row batch. The two evaluations agree to
rounding, so the interval ends agree to the search's own tolerance (1e-9 in the signed root
deviance; tests/test_stats_glmm_profile_one.py compares both paths on random datasets, to 1e-8).
Datasets that ``glmm_one`` hands to the batch path (counts
that cannot be collapsed into distinct pairs, rows that are not fitted) use ``glmm._Profiler``.
"""

from __future__ import annotations

import numpy as np

from stsmeta.stats.glmm import DEFAULT_NODES, ProfileIntervals, _Profiler, profile_ends
from stsmeta.stats.glmm_check import end_error
from stsmeta.stats.glmm_one import _Dataset, _distinct_pairs


class _ScalarProfiler(_Profiler):
    """``glmm._Profiler`` (same ``maximise`` and Brent fallback) over ``_Dataset.evaluate``.

    The modes of each evaluation start from those of the previous one, as ``_Profiler`` starts
    them from its previous modes. ``maximise`` evaluates a candidate without derivatives and,
    once it is accepted, again with them at the very same point: that second call reuses the
    first one's nodes and adds only the score and Hessian."""

    def __init__(self, data: _Dataset, n_nodes: int):
        self.data = data
        self.n_nodes = n_nodes
        self.state = None
        # (mu, tau, loglik, node arrays) of the last evaluation without derivatives.
        self.pending = None

    def eval(self, mu, tau, derivatives=True):
        mu, tau = float(mu), float(tau)
        pending, self.pending = self.pending, None
        if tau == 0.0:
            ll, g, h, self.state = self.data.at_zero(mu, derivatives)
        elif derivatives and pending is not None and pending[:2] == (mu, tau):
            ll = pending[2]
            g, h = self.data.score_hessian(pending[3])
        else:
            ll, modes, parts = self.data.loglik_parts(mu, tau, self.state, self.n_nodes)
            self.state = (mu, tau, modes)
            if not derivatives:
                self.pending = (mu, tau, ll, parts)
                return ll, None, None
            g, h = self.data.score_hessian(parts)
        if g is None:
            return ll, None, None
        return ll, np.array(g), np.array([[h[0], h[1]], [h[1], h[2]]])


def _dataset(events, n) -> _Dataset | None:
    """The distinct-pairs dataset of ``glmm_one``, or None where it uses the batch path."""
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    if x.ndim != 1 or x.shape != m.shape:
        return None
    pairs = _distinct_pairs(x.tolist(), m.tolist())
    if pairs is None:
        return None
    return _Dataset(
        np.array([a for (_, a), _ in pairs]),
        np.array([b for (b, _), _ in pairs]),
        np.array([float(c) for _, c in pairs]),
    )


def profiler(events, n, n_nodes: int, collapse: bool = True) -> _Profiler:
    """A profiler of one dataset at ``n_nodes``: the scalar one where ``glmm_one`` fits the
    dataset itself, else the batch ``glmm._Profiler`` (and always with ``collapse=False``,
    which sums over every study as given)."""
    data = _dataset(events, n) if collapse else None
    if data is None:
        x = np.asarray(events, dtype=float)
        m = np.asarray(n, dtype=float)
        return _Profiler(x, m, n_nodes, collapse)
    return _ScalarProfiler(data, n_nodes)


def marginal_loglik_one(events, n, mu: float, tau: float, n_nodes: int = DEFAULT_NODES) -> float:
    """``glmm.marginal_loglik`` of one dataset at one (mu, tau)."""
    return float(profiler(events, n, n_nodes).eval(mu, tau, derivatives=False)[0])


def profile_intervals_one(
    events,
    n,
    mu_hat: float,
    tau2_hat: float,
    loglik_hat: float,
    se_hat: float,
    *,
    level: float = 0.95,
    n_nodes: int = DEFAULT_NODES,
    collapse: bool = True,
) -> ProfileIntervals:
    """``glmm.profile_intervals`` (same arguments, same algorithm), fast."""
    prof = profiler(events, n, n_nodes, collapse)
    return profile_ends(prof, mu_hat, tau2_hat, loglik_hat, se_hat, level)


def profile_end_error_one(
    events, n, ends: ProfileIntervals, mu_hat, tau2_hat, n_nodes, level
) -> float:
    """``glmm_check.profile_end_error`` (same arguments, same algorithm), fast."""
    return end_error(profiler(events, n, n_nodes), ends, mu_hat, tau2_hat, level)
