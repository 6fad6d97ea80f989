"""The coverage study's fitter for ``pool(method="bayes")``: the posterior median and credible
interval of each replicate, with every distinct dataset fitted once.

The distinct multisets of (events, n) pairs not fitted before are fitted together in one
vectorised ``stats.bayes.batch_mu_quantiles`` call, whose every step is taken per dataset (each
Newton iteration, range pass and panel stops on its own data, and the arrays are computed row by
row in blocks), so a dataset's numbers are the same bits whatever else is in the batch, and the
same as ``pool()`` gives for it alone (tests/test_stats_bayes.py). That is what lets the fits be
remembered for the life of the process (across blocks and cells: the same data give the same
posterior whatever the cell that simulated them). With series of a few patients most replicates
repeat an earlier dataset.

Mirror images. Counting non-events instead of events (every study's e -> n - e) turns theta_i
into -theta_i and mu into -mu; with a prior on mu symmetric about 0 (the default, logistic(0, 1))
the posterior of mu is reflected, so the dataset's quantiles of mu are its mirror image's,
negated and in reverse order. Of each pair only one is fitted (``simulate.mirror_pairs`` says
which; the shards split datasets by pair), about half of a design's datasets: cells at p and
1 - p draw mirror images of each other. The quadrature is itself symmetric to rounding (3e-15
on the proportion scale over every dataset of the benchmark's 7-study design, benchmarks/NOTES.md;
tests/test_coverage_mirror.py checks a 5-study design's), so a reflected interval is what
``pool()`` gives for the dataset to the last bits or so. A prior on mu centred elsewhere is not
symmetric: its datasets are all fitted.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stsmeta.coverage.simulate import mirror_pairs, multiset_key, per_dataset

#: Posterior quantiles of mu (logit scale: low, median, high) per (setting, dataset key).
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
    # The priors themselves (exact floats), not their text: text() keeps 6 significant digits.
    setting = (prior_mu, prior_tau, float(level))
    # Normal and logistic priors are symmetric about their location.
    reflect = prior_mu.loc == 0

    def fit(events: np.ndarray, n: np.ndarray):
        from scipy import special

        from stsmeta.stats.bayes import batch_mu_quantiles

        m = events.shape[0]
        if reflect:
            rows_fitted, flipped = mirror_pairs(events, n)
        else:
            rows_fitted, flipped = events, np.zeros(m, dtype=bool)
        keys = [(setting, multiset_key(rows_fitted[i], n)) for i in range(m)]
        todo: dict[tuple, int] = {}
        for i, key in enumerate(keys):
            if key not in _CACHE and key not in todo:
                todo[key] = i
        if todo:
            q = batch_mu_quantiles(rows_fitted[list(todo.values())], n, prior_mu, prior_tau, level)
            for j, key in enumerate(todo):
                _CACHE[key] = (float(q[j, 0]), float(q[j, 1]), float(q[j, 2]))
        q = np.array([_CACHE[key] for key in keys]).reshape(m, 3)
        # A mirror image's quantiles: its pair's, negated, low and high swapped.
        q = np.where(flipped[:, None], -q[:, ::-1], q)
        p = special.expit(q)
        # The posterior exists for every dataset of valid counts: no failures.
        return p[:, 1], p[:, 0], p[:, 2], [""] * m

    return per_dataset(fit)
