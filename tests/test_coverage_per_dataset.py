"""Fitters whose numbers for a dataset do not depend on their call (``simulate.per_dataset``):
each cell handed over whole, each distinct dataset fitted once per process (issue 16).

Designs and data here are SYNTHETIC.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stsmeta.coverage import simulate as sim
from stsmeta.coverage import study as cov

LEVEL = 0.95
GLMM = {"label": "GLMM", "method": "glmm", "ci": "z", "pi": "t-k1"}


@pytest.mark.parametrize("n", [(1, 1, 1, 1, 3, 6), (2, 2, 5), (4,), (1, 3, 1, 3, 1)])
def test_possible_datasets_counts_every_canonical_dataset(n):
    n = np.array(n)
    every = np.array(list(itertools.product(*[range(size + 1) for size in n])))
    distinct = np.unique(sim.canonical_rows(every, n), axis=0)
    assert cov.possible_datasets(n) == len(distinct)


def test_possible_datasets_is_capped():
    assert cov.possible_datasets(np.full(400, 50), cap=10**6) == 10**6


def test_small_designs_fit_the_glmm_by_pools_own_fit_once_per_dataset():
    n = np.array([1, 1, 1, 1, 3, 6])  # 140 possible datasets
    fitter = cov.fitter_for(GLMM, LEVEL, n)
    assert getattr(fitter, "per_dataset", False)
    events = sim.simulate_events(n, cov.Cell(0.5, 1.0), range(60), 2)
    events = np.vstack([events, [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 3, 6]])  # 0% and 100%
    fast = fitter(events, n)
    slow = cov.pool_fitter(GLMM, LEVEL)(events, n)
    for a, b in zip(fast[:3], slow[:3], strict=True):
        assert np.array_equal(a, b, equal_nan=True)  # the very same numbers as pool()
    assert fast[3] == slow[3] and fast[3][-1] and fast[3][-2] and not all(fast[3])


def test_large_designs_keep_the_vectorised_glmm():
    n = np.array([30, 25, 40, 12, 18, 60])
    assert cov.possible_datasets(n) > cov.SCALAR_GLMM_DESIGNS_MAX
    assert not getattr(cov.fitter_for(GLMM, LEVEL, n), "per_dataset", False)
    assert not getattr(cov.fitter_for(GLMM, LEVEL), "per_dataset", False)  # design unknown


def test_per_dataset_fitters_get_one_call_per_cell_and_any_sharding_gives_the_same_bits():
    n = (1, 1, 3, 6, 2)
    cells = cov.grid([0.3, 0.8], [0.0, 1.0])
    calls = []

    def counted(fitter):
        def fit(events, n):
            calls.append(len(events))
            return fitter(events, n)

        return sim.per_dataset(fit)

    fitters = {
        "glmm": counted(cov.fitter_for(GLMM, LEVEL, np.array(n))),
        "common": cov.fitter_for({"method": "common"}, LEVEL, np.array(n)),
    }
    replicates = 3 * sim.FIT_BLOCK + 17

    def fitted(shards):
        out = {}
        for s in range(shards):
            for b in sim.run_shard(n, cells, fitters, sim.Share(s, shards, replicates), seed=9):
                for i, r in enumerate(b.replicate):
                    values = np.array([b.estimate[i], b.ci_low[i], b.ci_high[i]])
                    out[(b.method, b.cell, int(r))] = (values.tobytes(), b.failure[i])
        return out

    one = fitted(1)
    assert len(calls) == len(cells)  # one call per cell, not one per block of 100
    assert len(one) == 2 * len(cells) * replicates
    for shards in (2, 3):
        assert fitted(shards) == one


def test_shards_split_per_dataset_fits_by_dataset_each_fitted_by_one_shard():
    # With tiny series every shard's replicates reach nearly every distinct dataset: split by
    # replicate, each shard refitted nearly all of them. Split by dataset, each is fitted once.
    n = np.array([1, 1, 1, 3, 6])
    cells = cov.grid([0.3, 0.7], [0.0, 1.0])
    replicates, shards = 2 * sim.FIT_BLOCK + 30, 3
    seen: dict[int, list[bytes]] = {}

    def recording(shard):
        def fit(events, n):
            seen.setdefault(shard, []).extend(sim.multiset_key(row, n) for row in events)
            m = events.shape[0]
            return np.zeros(m), np.zeros(m), np.ones(m), [""] * m

        return sim.per_dataset(fit)

    def batch(events, n):
        m = events.shape[0]
        return np.zeros(m), np.zeros(m), np.ones(m), [""] * m

    rows = {}
    for s in range(shards):
        fitters = {"whole": recording(s), "batch": batch}
        for b in sim.run_shard(n, cells, fitters, sim.Share(s, shards, replicates), seed=4):
            for r in b.replicate:
                rows.setdefault((b.method, b.cell), []).append(int(r))
            if b.method == "batch":  # batch fitters keep the shard's run of whole blocks
                assert list(b.replicate) == list(sim.shard_replicates(replicates, shards, s))
    for replicate_lists in rows.values():  # every replicate fitted exactly once
        assert sorted(replicate_lists) == list(range(replicates))
    fitted = [set(keys) for keys in seen.values()]
    assert len(fitted) == shards and all(fitted)
    for a, b in itertools.combinations(fitted, 2):
        assert not a & b  # no dataset fitted by two shards
    # Within a process a distinct dataset reaches the fitter once per cell at most.
    calls = sum(len(keys) for keys in seen.values())
    assert calls <= len(cells) * len(set().union(*fitted))


def test_dataset_shard_is_a_fixed_function_of_the_mirror_pair():
    import struct
    import zlib

    n = np.array([1, 1, 3, 3, 6])
    # The second: the first's studies in another order; the fourth: the first's mirror image
    # (n - e = 0, 1, 0, 1, 2).
    events = np.array([[1, 0, 3, 2, 4], [0, 1, 2, 3, 4], [0, 0, 0, 0, 0], [0, 1, 1, 0, 2]])
    owner = sim.dataset_shards(events, n, 7)
    assert owner[0] == owner[1] == owner[3]
    # Independently: CRC-32, modulo the shards, of whichever canonical row (events sorted within
    # studies of equal n) comes first, the dataset's (0, 1, 2, 3, 4) or its mirror image's
    # (0, 1, 0, 1, 2), as little-endian int64.
    expected = zlib.crc32(struct.pack("<5q", 0, 1, 0, 1, 2)) % 7
    assert owner[0] == expected
    # All 0% against its mirror image, all 100% (1, 1, 3, 3, 6): the zeros come first.
    assert owner[2] == zlib.crc32(struct.pack("<5q", 0, 0, 0, 0, 0)) % 7
    assert list(sim.dataset_shards(events, n, 1)) == [0, 0, 0, 0]


def test_share_refuses_a_shard_out_of_range():
    with pytest.raises(ValueError, match="not in 0..1"):
        sim.Share(2, 2, 10)
