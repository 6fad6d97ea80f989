"""The coverage study's fitter for ``pool(method="bayes")``: the posterior median and credible
interval of each replicate, with every distinct dataset fitted once.

The distinct multisets of (events, n) pairs not fitted before are fitted together in one
vectorised ``stats.bayes.batch_intervals`` call, whose every step is taken per dataset (each
Newton iteration, range pass and panel stops on its own data, and the arrays are computed row by
row in blocks), so a dataset's numbers are the same bits whatever else is in the batch, and the
same as ``pool()`` gives for it alone (tests/test_stats_bayes.py). That is what lets the fits be
remembered for the life of the process (across blocks and cells: the same data give the same
posterior whatever the cell that simulated them). With series of a few patients most replicates
repeat an earlier dataset.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stsmeta.coverage.simulate import multiset_key, per_dataset

_CACHE: dict[tuple, tuple[float, float, float]] = {}


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
        keys = [(setting, multiset_key(events[i], n)) for i in range(m)]
        todo: dict[tuple, int] = {}
        for i, key in enumerate(keys):
            if key not in _CACHE and key not in todo:
                todo[key] = i
        if todo:
            rows = list(todo.values())
            est, lo, hi = batch_intervals(events[rows], n, prior_mu, prior_tau, level)
            for j, key in enumerate(todo):
                _CACHE[key] = (float(est[j]), float(lo[j]), float(hi[j]))
        out = np.array([_CACHE[key] for key in keys]).reshape(m, 3)
        # The posterior exists for every dataset of valid counts: no failures.
        return out[:, 0], out[:, 1], out[:, 2], [""] * m

    return per_dataset(fit)
