"""The coverage study's fitter for ``pool(method="bayes")``: the posterior median and credible
interval of each replicate, with every distinct dataset fitted once.

Each distinct multiset of (events, n) pairs is fitted alone (``stats.bayes.batch_intervals`` on
one row, the computation ``pool()`` makes), so its numbers depend on the dataset only, not on the
other replicates of its block or shard; that is what lets the fits be remembered for the life of
the process (across blocks and cells: the same data give the same posterior whatever the cell that
simulated them). With series of a few patients most replicates repeat an earlier dataset.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

_CACHE: dict[tuple, tuple[float, float, float]] = {}


def _key(events_row: np.ndarray, n: np.ndarray) -> bytes:
    pair = (np.asarray(n, dtype=np.int64) << 32) + np.asarray(events_row, dtype=np.int64)
    return np.sort(pair).tobytes()


def bayes_fitter(spec: Mapping[str, object], level: float):
    """A ``Fitter`` (see ``coverage.simulate``) for a configured ``method: bayes``."""
    from stsmeta.stats.bayes_priors import (
        DEFAULT_PRIOR_MU,
        DEFAULT_PRIOR_TAU,
        parse_prior,
    )

    prior_mu = parse_prior(str(spec.get("prior_mu") or DEFAULT_PRIOR_MU), "mu")
    prior_tau = parse_prior(str(spec.get("prior_tau") or DEFAULT_PRIOR_TAU), "tau")
    setting = (prior_mu.text(), prior_tau.text(), float(level))

    def fit(events: np.ndarray, n: np.ndarray):
        from stsmeta.stats.bayes import batch_intervals

        m = events.shape[0]
        out = np.empty((m, 3))
        for i in range(m):
            key = (setting, _key(events[i], n))
            if key not in _CACHE:
                est, lo, hi = batch_intervals(events[i][None, :], n, prior_mu, prior_tau, level)
                _CACHE[key] = (float(est[0]), float(lo[0]), float(hi[0]))
            out[i] = _CACHE[key]
        # The posterior exists for every dataset of valid counts: no failures.
        return out[:, 0], out[:, 1], out[:, 2], [""] * m

    return fit
