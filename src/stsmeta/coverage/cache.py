"""Shards of the coverage study cached by what decides their content: a design seen before is
never simulated twice.

A shard's rows are a pure function of the design's n (in order), the grid, the replicate indices
it holds, the seed, the confidence level, its family's method settings, ``FIT_BLOCK``, and the
code and library versions that simulate and fit. The cache key is a SHA-256 over all of them, so
a hit is the very file a fresh run would write; anything else is a miss. Adding a study and then
removing it again, or undoing a changed n, reruns the shard jobs but they copy their earlier
result instead of refitting.

Entries live in ``results/coverage/cache/<family>/<key>.csv`` (on a cluster, a shared file
system: every node sees the same entries), each with ``<key>.csv.sha256``, its SHA-256 in
``sha256sum`` format, checked before the entry is used: an entry without it, unreadable, cut
short or changed in any byte is a miss, and the refit rewrites it (the damaged file is never
copied into the shards, where the summary would find replicates missing and Snakemake would see
nothing to rerun). They are never pruned automatically; deleting the folder is always safe (the
next run refits).

Pure Python, no numpy: a hit costs a file copy, not the imports of the fitting code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import stsmeta
from stsmeta.atomic_write import write_bytes_atomically, write_text_atomically
from stsmeta.result_cache import library_versions

# The code that decides a shard's numbers: the simulation, the fitters, the engine, the format.
_CODE = ("coverage/*.py", "stats/**/*.py", "cli/coverage.py")
_LIBRARIES = ("numpy", "scipy")


def code_fingerprint() -> str:
    """SHA-256 over the source of every module that simulates, fits or writes a shard."""
    package = Path(stsmeta.__file__).parent
    digest = hashlib.sha256()
    for path in sorted({p for pattern in _CODE for p in package.glob(pattern)}):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def shard_key(n: Sequence[int], settings_fingerprint: str, family: str, shard: int) -> str:
    """The cache key of one shard: everything its rows depend on, hashed.

    ``settings_fingerprint`` is ``Settings.fingerprint(family)``: grid, replicates, shards,
    seed, level, ``FIT_BLOCK`` and the family's methods (with the shard index they fix the
    replicate indices the shard holds).
    """
    document = {
        "family": family,
        "shard": int(shard),
        "n": [int(x) for x in n],
        "settings": json.loads(settings_fingerprint),
        "code": code_fingerprint(),
        "versions": library_versions(_LIBRARIES),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry(cache_dir: str | Path, family: str, key: str) -> Path:
    return Path(cache_dir) / family / f"{key}.csv"


def _checksum_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _checksum_line(path: Path, data: bytes) -> str:
    # sha256sum's format, so that `sha256sum -c` checks an entry by hand.
    return f"{hashlib.sha256(data).hexdigest()}  {path.name}\n"


def lookup(cache_dir: str | Path, family: str, key: str) -> str | None:
    """The cached shard text, or None: no entry, or one that fails its SHA-256 (a miss)."""
    path = entry(cache_dir, family, key)
    try:
        data = path.read_bytes()
        recorded = _checksum_file(path).read_text(encoding="ascii")
        if recorded != _checksum_line(path, data):
            return None
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def store(cache_dir: str | Path, family: str, key: str, text: str) -> None:
    """Keep a shard's text and its SHA-256, each file atomically: concurrent shards never see
    half a file, and a reader between the two writes (or after a job killed there) finds either
    the bytes the checksum is of or a mismatch, a miss."""
    path = entry(cache_dir, family, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    write_bytes_atomically(path, data)
    write_text_atomically(_checksum_file(path), _checksum_line(path, data))
