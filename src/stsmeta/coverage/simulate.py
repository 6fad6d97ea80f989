"""Simulation for the coverage study (``coverage.study``): replicate datasets with the primary
analysis's design, fitted by every method, one shard of replicates at a time.

Reproducibility: each replicate has its own random stream, ``SeedSequence(seed, spawn_key=(p, tau,
replicate))`` with p and tau in millionths, so a replicate's data do not depend on how
replicates are split into shards, on the grid's order, or on which other cells exist. Fits are
made in fixed blocks of replicate indices, [FIT_BLOCK * j, FIT_BLOCK * (j + 1)), one fitter call
per block, and shard boundaries fall on block boundaries: a vectorised fit's last bits depend on
which replicates share its batch, and this way they share it with the same replicates whatever
the number of shards, so each replicate's fitted numbers do not depend on sharding either.
Fitters whose numbers for a dataset do not depend on their call (``per_dataset``) are split
between shards by dataset, not by replicate (``Share``): each distinct dataset is fitted once.

Pure functions over arrays (no I/O); the command line lives in ``stsmeta.cli.coverage``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from stsmeta.coverage.plan import FIT_BLOCK, Cell

#: A batch fitter: events (m datasets x k studies) and n (k,) -> estimate, ci_low, ci_high and a
#: failure reason per dataset ("" when the method gave an answer). NaN marks no answer.
Fitter = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]


def per_dataset(fit: Fitter) -> Fitter:
    """Mark a fitter whose numbers for a dataset are the same bits whatever else is in its call:
    ``run_shard`` then hands it each cell whole, its distinct datasets in one call, instead of
    one call per fitting block."""
    fit.per_dataset = True  # type: ignore[attr-defined]
    return fit


@dataclass(frozen=True)
class Replicates:
    """The fitted intervals of one method in one cell, for a run of replicate indices."""

    method: str
    cell: Cell
    replicate: np.ndarray  # int, replicate indices
    estimate: np.ndarray  # float, NaN when the method gave no answer
    ci_low: np.ndarray
    ci_high: np.ndarray
    failure: tuple[str, ...]  # "" or the reason the method gave no answer


def replicate_seed(seed: int, cell: Cell, replicate: int) -> np.random.SeedSequence:
    """The random stream of one replicate: depends on (seed, cell, replicate index) only."""
    return np.random.SeedSequence(seed, spawn_key=(*cell.key(), int(replicate)))


def shard_replicates(replicates: int, shards: int, shard: int) -> range:
    """Replicate indices of one shard: contiguous runs of whole fitting blocks covering
    0..replicates-1.

    Boundaries fall on multiples of ``FIT_BLOCK`` so that every shard fits the same blocks as a
    single job would (see ``fit_blocks``); shards may therefore be uneven, and empty when there
    are fewer blocks than shards.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    blocks = -(-replicates // FIT_BLOCK)
    start = min(FIT_BLOCK * (blocks * shard // shards), replicates)
    stop = min(FIT_BLOCK * (blocks * (shard + 1) // shards), replicates)
    return range(start, stop)


def fit_blocks(replicates: np.ndarray) -> list[slice]:
    """Positions of ``replicates`` split where the global block index ``r // FIT_BLOCK`` changes.

    A fitter sees one block per call. Sorted, block-aligned runs (what ``shard_replicates``
    gives) are thereby cut into the blocks [FIT_BLOCK * j, FIT_BLOCK * (j + 1)) whatever the
    number of shards, so every replicate has the same batch companions in every sharding.
    """
    block = np.asarray(replicates, dtype=np.int64) // FIT_BLOCK
    cuts = np.flatnonzero(block[1:] != block[:-1]) + 1
    edges = [0, *cuts.tolist(), int(block.size)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


#: Up to this many studies a replicate's binomial draws are made one study at a time.
_SCALAR_DRAWS_MAX_K = 12


def simulate_events(
    n: Sequence[int], cell: Cell, replicates: Iterable[int], seed: int
) -> np.ndarray:
    """Simulated event counts (len(replicates) x k) under the binomial-normal model.

    logit(p_i) = logit(p) + tau * z_i with z_i standard normal, events_i ~ Binomial(n_i, p_i)
    (the data-generating model of Stijnen, Hamza & Ozdemir 2010, Stat Med 29:3046-3067).
    Each replicate's numbers come from ``default_rng(replicate_seed(seed, cell, r))``; the
    generator's starting states are computed for all replicates at once (``pcg64_states``)
    and one generator is reset to each, which gives the same numbers ~3x faster.
    """
    n_arr = np.asarray(n, dtype=np.int64)
    n_list = n_arr.tolist()
    reps = [int(r) for r in replicates]
    mu = math.log(cell.proportion / (1.0 - cell.proportion))
    out = np.zeros((len(reps), n_arr.size), dtype=np.int64)
    bits = np.random.PCG64(0)  # its state is replaced before every draw
    rng = np.random.Generator(bits)
    binomial = rng.binomial
    # Drawn study by study, the same numbers in the same order as one call with arrays, which
    # checks its arrays' bounds with numpy reductions: faster below ~14 studies.
    one_by_one = n_arr.size <= _SCALAR_DRAWS_MAX_K
    for row, state in enumerate(pcg64_states(seed, cell, reps)):
        bits.state = state
        theta = mu + cell.tau * rng.standard_normal(n_arr.size)
        p_i = 1.0 / (1.0 + np.exp(-theta))
        if one_by_one:
            out[row] = [binomial(size, p) for size, p in zip(n_list, p_i.tolist(), strict=True)]
        else:
            out[row] = binomial(n_arr, p_i)
    return out


# numpy's SeedSequence (numpy/random/bit_generator.pyx, after M. E. O'Neill's seed_seq_fe) and
# PCG64's seeding (pcg64.h, pcg_setseq_128_srandom_r), done for many spawn keys at once. Creating
# a SeedSequence and a Generator per replicate cost ~37 of the ~51 us a replicate took, most of
# the simulation. numpy guarantees these streams stay the same across its releases (NEP 19), and
# tests/test_coverage.py checks the states against numpy's own for many seeds, cells and indices.
_MASK32 = 0xFFFFFFFF
_MASK128 = (1 << 128) - 1
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_PCG64_MULT = 0x2360ED051FC65DA44385DF649FCCF645


def _uint32_words(value: int) -> list[int]:
    """An integer as SeedSequence reads it: little-endian 32-bit words, [0] for zero."""
    words = []
    while value:
        words.append(value & _MASK32)
        value >>= 32
    return words or [0]


def pcg64_states(seed: int, cell: Cell, replicates: Sequence[int]) -> list[dict]:
    """``PCG64(replicate_seed(seed, cell, r)).state`` for each replicate index r, in order."""
    if not replicates:
        return []
    if seed < 0 or min(replicates) < 0 or max(replicates) > _MASK32:
        # Outside what the vectorised path assumes (one word per index): numpy's own way.
        return [np.random.PCG64(replicate_seed(seed, cell, r)).state for r in replicates]
    run = _uint32_words(seed)
    run += [0] * (_POOL_SIZE - len(run))
    fixed = run + [w for part in cell.key() for w in _uint32_words(part)]
    # Every word as a column over the replicates; uint64 holds a 32-bit product exactly.
    index = np.asarray(replicates, dtype=np.uint64)
    entropy = [np.full(index.size, w, dtype=np.uint64) for w in fixed] + [index]
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ hash_const
        hash_const = (hash_const * _MULT_A) & _MASK32
        value = (value * hash_const) & _MASK32
        return value ^ (value >> 16)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
        return result ^ (result >> 16)

    pool = [hashmix(entropy[i]) for i in range(_POOL_SIZE)]
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL_SIZE, len(entropy)):
        for dst in range(_POOL_SIZE):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    # generate_state(4, np.uint64): eight 32-bit words, read as four little-endian uint64.
    hash_const = _INIT_B
    words = []
    for i in range(8):
        value = pool[i % _POOL_SIZE] ^ hash_const
        hash_const = (hash_const * _MULT_B) & _MASK32
        value = (value * hash_const) & _MASK32
        words.append((value ^ (value >> 16)).tolist())
    states = []
    for w in zip(*words, strict=True):
        init_state = (w[0] | w[1] << 32) << 64 | w[2] | w[3] << 32
        init_seq = (w[4] | w[5] << 32) << 64 | w[6] | w[7] << 32
        inc = (init_seq << 1 | 1) & _MASK128
        state = ((inc + init_state) * _PCG64_MULT + inc) & _MASK128
        states.append(
            {
                "bit_generator": "PCG64",
                "state": {"state": state, "inc": inc},
                "has_uint32": 0,
                "uinteger": 0,
            }
        )
    return states


@dataclass(frozen=True)
class Share:
    """One shard's part of the coverage study: shard ``shard`` of ``shards``, with
    ``replicates`` replicates per cell in all.

    Batch fitters get the shard's run of whole fitting blocks (``shard_replicates``). A fitter
    marked ``per_dataset`` costs one fit per distinct dataset, and with series of a few
    patients every shard's replicates reach nearly all of a cell's distinct datasets: split by
    replicate, every shard would refit nearly all of them. Such fitters get instead every
    replicate of the cell whose dataset this shard owns (``dataset_shards``), so that each
    distinct dataset is fitted by one shard only.
    """

    shard: int
    shards: int
    replicates: int

    def __post_init__(self) -> None:
        if not 0 <= self.shard < self.shards:
            raise ValueError(f"shard {self.shard} is not in 0..{self.shards - 1}")
        if self.replicates < 0:
            raise ValueError(f"replicates must be >= 0, got {self.replicates}")

    def replicate_run(self) -> range:
        """The replicates of this shard for batch fitters (``shard_replicates``)."""
        return shard_replicates(self.replicates, self.shards, self.shard)


def dataset_shards(events: np.ndarray, n: np.ndarray, shards: int) -> np.ndarray:
    """The shard that fits each row's dataset for per-dataset fitters (int array, one per row).

    CRC-32 of the dataset's mirror-pair row (``mirror_pairs``, little-endian int64) modulo
    ``shards``: the same for the same multiset of (events, n) pairs in every cell, process and
    machine (unlike ``hash()``, which is salted per process), close to even over the hundreds
    of distinct datasets of a design, and the same for a dataset and its mirror image, so that
    a fitter that reflects one into the other (``coverage.bayes_fitter``) fits the pair once.
    """
    if shards == 1 or events.shape[0] == 0:
        return np.zeros(events.shape[0], dtype=np.int64)
    distinct, inverse = np.unique(mirror_pairs(events, n)[0], axis=0, return_inverse=True)
    owner = np.array(
        [zlib.crc32(row.astype("<i8").tobytes()) % shards for row in distinct], dtype=np.int64
    )
    return owner[inverse.reshape(-1)]


def run_shard(
    n: Sequence[int],
    cells: Sequence[Cell],
    fitters: Mapping[str, Fitter],
    share: Share,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[Replicates]:
    """Fit every method to this shard's replicates of every cell; one block per (method, cell).

    A batch fitter is called once per fitting block (``fit_blocks``) of the shard's replicate
    run, so its results for a replicate depend on the replicate's block alone, not on the other
    replicates of the shard. A fitter marked ``per_dataset`` (its numbers for a dataset do not
    depend on its call) is called once per cell, on the replicates whose dataset the shard owns
    (``Share``). Either way every replicate of every cell is fitted by exactly one shard, with
    the same bits whatever the number of shards.

    ``progress(done, total)`` is called after each cell and method with the number of fits so
    far (for per-dataset fitters, ``total`` counts an even share of replicates).
    """
    n_arr = np.asarray(n, dtype=np.int64)
    run = np.asarray(share.replicate_run(), dtype=np.int64)
    blocks_of_run = fit_blocks(run)
    names = sorted(fitters)
    whole = {name for name in names if getattr(fitters[name], "per_dataset", False)}
    # Per-dataset fitters need every replicate of the cell simulated (each replicate's data
    # depend on its own seed only, so the run's rows are the same numbers either way).
    simulated_reps = np.arange(share.replicates, dtype=np.int64) if whole else run
    even_share = -(-share.replicates // share.shards)
    total = len(cells) * ((len(names) - len(whole)) * run.size + len(whole) * even_share)
    done = 0
    blocks: list[Replicates] = []
    for cell in cells:
        simulated = simulate_events(n_arr, cell, simulated_reps, seed)
        events_run = simulated[run] if whole else simulated
        if whole:
            mine = dataset_shards(simulated, n_arr, share.shards) == share.shard
            owned, events_owned = simulated_reps[mine], simulated[mine]
        for name in names:
            fitter = fitters[name]
            if name in whole:
                reps, parts = owned, [fit_distinct(fitter, events_owned, n_arr)]
            else:
                reps = run
                parts = [fit_distinct(fitter, events_run[rows], n_arr) for rows in blocks_of_run]
            failure = [f for part in parts for f in part[3]]
            blocks.append(
                Replicates(
                    method=name,
                    cell=cell,
                    replicate=reps.copy(),
                    estimate=_joined(parts, 0),
                    ci_low=_joined(parts, 1),
                    ci_high=_joined(parts, 2),
                    failure=tuple(failure),
                )
            )
            done += even_share if name in whole else run.size
            if progress is not None:
                progress(min(done, total), total)
    return blocks


def canonical_rows(events: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Each row's events sorted within every group of studies of equal n: the same multiset of
    (events, n) pairs, so the same dataset to every method (all are symmetric in the studies)."""
    out = np.array(events, dtype=np.int64, copy=True)
    for size in np.unique(n):
        columns = np.flatnonzero(n == size)
        if columns.size > 1:
            out[:, columns] = np.sort(out[:, columns], axis=1)
    return out


def mirror_pairs(events: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's dataset or its mirror image (every study's events e -> n - e, the same
    dataset counted by non-events), whichever canonical row (``canonical_rows``) is first in
    lexicographic order, and whether it is the mirror image (bool, one per row). A dataset
    and its mirror image give the same row; a dataset that is its own mirror image is not
    flipped."""
    n_arr = np.asarray(n, dtype=np.int64)
    own = canonical_rows(events, n_arr)
    mirror = canonical_rows(n_arr - own, n_arr)
    differs = own != mirror
    first = differs.argmax(axis=1)
    rows = np.arange(own.shape[0])
    flipped = differs.any(axis=1) & (mirror[rows, first] < own[rows, first])
    return np.where(flipped[:, None], mirror, own), flipped


def multiset_key(events_row: np.ndarray, n: np.ndarray) -> bytes:
    """The sorted (events, n) pairs of one dataset, as bytes: equal exactly for datasets that
    differ only in the order of their studies (events and n below 2**31)."""
    pair = (np.asarray(n, dtype=np.int64) << 32) + np.asarray(events_row, dtype=np.int64)
    return np.sort(pair).tobytes()


def fit_distinct(fitter: Fitter, events: np.ndarray, n: np.ndarray):
    """``fitter`` on each distinct dataset of a block once, its answers copied to the repeats.

    With series of a few patients most replicates repeat an earlier dataset (the shipped design,
    n = 1, 1, 1, 1, 3, 6, has 140 possible datasets): fitting each once is the coverage study's
    main saving. The distinct rows, in sorted order, depend on the block's content only, so the
    numbers still do not depend on sharding.
    """
    if events.shape[0] == 0:
        return fitter(events, n)
    distinct, inverse = np.unique(canonical_rows(events, n), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    estimate, ci_low, ci_high, failure = fitter(distinct, n)
    return (
        np.asarray(estimate, dtype=float)[inverse],
        np.asarray(ci_low, dtype=float)[inverse],
        np.asarray(ci_high, dtype=float)[inverse],
        [failure[i] for i in inverse],
    )


def _joined(parts, column: int) -> np.ndarray:
    """One output column of a fitter's per-block results, joined in replicate order."""
    if not parts:
        return np.zeros(0)
    return np.concatenate([np.asarray(p[column], dtype=float) for p in parts])
