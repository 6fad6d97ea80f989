"""Previous results kept when a run fails or is cut short: a failed figures job leaves the
previous figures, and no file made from an earlier version is left looking current.

Snakemake deletes a job's outputs before the job runs, and again when it fails, so a job that
fails after validation (a bug, a full disk, a killed process) used to leave no figures at all.
When a run starts (``onstart`` in workflow/rules/common.smk), every existing output of the jobs
about to run is hard-linked into ``SNAPSHOT`` (no copy: the jobs write new files and rename them
into place, so the linked old files stay as they were; on another file system, a copy). When
the run fails (``onerror``), each such output that is now missing is put back from there,
marked out of date twice over: its modification time is set to ``OUT_OF_DATE`` (a day after the
epoch, older than any input; not the epoch itself, which Snakemake takes for "no time"), and the
workflow deletes Snakemake's records of the file (the failed job's incomplete mark, and the
metadata of the job that last made it, with the checksums of its inputs, which Snakemake would
otherwise take as proof that the restored file is up to date). The next run rebuilds it and
everything after it; no stale file is ever taken as up to date. Outputs that jobs finished
before the failure keep their new content.

Files made on request from other outputs (the figures' PNG and PDF from their SVGs, the
report's PDF from its HTML: ``Derived``) are not rebuilt by the default target, so a run that
rewrites their sources would leave them beside the new sources, looking current, until the end
of the run removed them; a run cut short there (Ctrl-C, ``kill -9``) left them. They are
therefore set aside into the snapshot at the start, before any job runs, when a job is to
rewrite their sources, and put back at the end (``onsuccess`` as ``onerror``) only when what
they were made from is still there (``Derived.vouched``), dated now (not marked out of date:
they match what is there now). Between the two they are not in results/ at all.

A run that took a snapshot leaves a mark beside it (``owner_file``: host and process), removed
when it ends (``discard``). A snapshot still marked at the next start is that of a run that did
not end cleanly (killed, a power cut, Ctrl-C as it ended, a file it could not put back), and
that start puts back its missing files as ``onerror`` would, before it takes its own and so
replaces it (``left_by``). Starts run with Snakemake's lock held, so no other run of this folder
is writing them (a mark whose Snakemake process is still running in this folder means the lock
was bypassed: the workflow then stops). Snakemake acts on its incomplete markers
(``--rerun-incomplete``) only for files that exist, which these were not, and the workflow
deletes the markers and records of what it puts back.

Each file is linked or copied on its own: a copy goes to a temporary name in the target's folder
and is renamed into place only when complete (a full disk leaves no truncated file), and one
that fails is reported (``Restored.failed``, with the reason) while the others go on. The
snapshot is then kept, so that the next start puts them back first.

``snakemake --unlock`` and ``--rerun-incomplete`` after a killed run are described in README.md.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SNAPSHOT = Path(".snakemake", "stsmeta", "previous-outputs")
# Outputs that are never put back: logs describe the failed run itself.
NEVER_RESTORED = ("logs",)
OUT_OF_DATE = 86_400.0
# The end of a copy's temporary name: one left by a killed copy is never put back.
PARTIAL = ".partial"


def owner_file(store: Path) -> Path:
    """The mark of a run that took the snapshot in ``store`` and has not ended: "<host> <pid>"."""
    return store.with_name(f"{store.name}.run")


@dataclass(frozen=True)
class Derived:
    """Files made on request from other outputs (``owns``), put back only if ``vouched``: given
    the snapshot folder, whether they still match what they were made from, as it is now."""

    owns: Callable[[Path], bool]
    vouched: Callable[[Path], bool]


@dataclass
class Restored:
    """What ``restore_missing`` did."""

    # Put back, marked out of date.
    restored: list[Path] = field(default_factory=list)
    # Derived files put back as they were: they match what they were made from.
    put_back: list[Path] = field(default_factory=list)
    # Derived files not put back: what they were made from changed.
    withheld: list[Path] = field(default_factory=list)
    # Could not be put back, with the reason (the snapshot keeps them).
    failed: list[tuple[Path, str]] = field(default_factory=list)
    # Derived files not judged, as others could not be put back: the snapshot keeps them too.
    deferred: list[Path] = field(default_factory=list)


class SnapshotError(Exception):
    """Files that could not be kept before the run, each with the reason."""

    def __init__(self, failed: list[tuple[Path, str]]):
        self.failed = failed
        super().__init__(named(failed))


def named(failed: Sequence[tuple[Path, str]], show: int = 10) -> str:
    """``path (reason)``, for up to ``show`` of them, and how many more."""
    text = ", ".join(f"{path} ({reason})" for path, reason in failed[:show])
    return text + (f" and {len(failed) - show} more" if len(failed) > show else "")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source``, or else a copy (times kept) that appears under
    its name only when complete: a failed copy leaves no partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # another file system (or links not allowed): a copy
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=PARTIAL, dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _kept(path: Path, results: Path) -> bool:
    try:
        relative = path.relative_to(results)
    except ValueError:
        return False
    return bool(relative.parts) and relative.parts[0] not in NEVER_RESTORED


def take_snapshot(
    outputs: Iterable[str | Path],
    results: str | Path,
    store: Path = SNAPSHOT,
    set_aside: Iterable[str | Path] = (),
) -> int:
    """Link every existing file among ``outputs`` and ``set_aside`` (under ``results``) into
    ``store``, mark the run as going on (``owner_file``), then remove the ``set_aside`` files from
    ``results``. Replaces the last snapshot. Raises ``SnapshotError`` naming the files that
    could not be kept (nothing set aside then, and no snapshot left): the run must not start.
    """
    results = Path(results)
    discard(store)
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        mark = f"{socket.gethostname()} {os.getpid()}\n"
        owner_file(store).write_text(mark, encoding="utf-8")
    except OSError as exc:
        discard(store)
        raise SnapshotError([(owner_file(store), _reason(exc))]) from None
    aside = sorted({Path(p) for p in set_aside if Path(p).is_file() and _kept(Path(p), results)})
    count, failed = 0, []
    for output in sorted({Path(p) for p in outputs} | set(aside)):
        if output.is_file() and _kept(output, results):
            try:
                _link_or_copy(output, store / output)
                count += 1
            except OSError as exc:
                failed.append((output, _reason(exc)))
    if failed:
        discard(store)
        raise SnapshotError(failed)
    for path in aside:
        # One that cannot be removed stays: the end of the run settles it, as it always did.
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
    return count


def restore_missing(
    store: Path = SNAPSHOT, derived: Sequence[Derived] = (), only_derived: bool = False
) -> Restored:
    """Put back each snapshot file whose output is missing: marked out of date, or, for files of
    ``derived`` (after all others, so that they are judged against what is there then), as they
    were if their group vouches for them, else not at all (``withheld``). With ``only_derived``,
    other files are left alone. A file that cannot be put back is reported (``failed``) and the
    others go on, but for derived files, then left for later (``deferred``); the snapshot stays
    until ``discard``."""
    done = Restored()
    if not store.is_dir():
        return done
    groups: list[list[tuple[Path, Path]]] = [[] for _ in derived]
    for saved in sorted(p for p in store.rglob("*") if p.is_file()):
        if saved.name.startswith(".") and saved.name.endswith(PARTIAL):
            continue
        output = saved.relative_to(store)
        group = next((i for i, d in enumerate(derived) if d.owns(output)), None)
        if group is not None:
            groups[group].append((saved, output))
            continue
        if only_derived or output.exists():
            continue  # rewritten by a job that succeeded
        try:
            _link_or_copy(saved, output)
            os.utime(output, (OUT_OF_DATE, OUT_OF_DATE))
            done.restored.append(output)
        except OSError as exc:
            done.failed.append((output, _reason(exc)))
    for rule, files in zip(derived, groups, strict=True):
        missing = [(saved, output) for saved, output in files if not output.exists()]
        if not missing:
            continue
        if done.failed:  # what they are made from may be among those: judged once it is back
            done.deferred += [output for _, output in missing]
            continue
        try:
            vouched = rule.vouched(store)
        except OSError:
            vouched = False
        if not vouched:
            done.withheld += [output for _, output in missing]
            continue
        for saved, output in missing:
            try:
                _link_or_copy(saved, output)
                # Dated now: they match what they are made from as it is now (a source
                # rewritten with the same bytes is newer than they were; settle_pdf and
                # Snakemake's mtime trigger judge by date).
                os.utime(output)
                done.put_back.append(output)
            except OSError as exc:
                done.failed.append((output, _reason(exc)))
    return done


def unchanged(path: str | Path, store: Path = SNAPSHOT) -> bool:
    """Whether ``path`` is there with the bytes it had in the snapshot (both exist)."""
    path, saved = Path(path), store / path
    try:
        return path.is_file() and saved.is_file() and filecmp.cmp(path, saved, shallow=False)
    except OSError:
        return False


def left_by(store: Path = SNAPSHOT) -> tuple[str, str]:
    """Whose snapshot ``store`` holds: ("none", "") when no run that took one is going on or
    left it unfinished; ("unfinished", mark) when the run that took it did not end (killed, a
    power cut, Ctrl-C while it was ending); ("running", mark) when that run is going on on this
    host (a Snakemake process of that pid is alive: only if Snakemake's lock was bypassed).
    ``mark`` is "<host> <pid>"."""
    try:
        mark = owner_file(store).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return "none", ""
    except (OSError, UnicodeDecodeError):
        mark = "(unreadable)"
    host, _, pid = mark.partition(" ")
    ours = host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid()
    if ours and _is_snakemake(int(pid)):
        return "running", mark
    return "unfinished", mark


def _is_snakemake(pid: int) -> bool:
    """Whether process ``pid`` is alive and runs Snakemake in this folder (as far as /proc
    tells: alive, and nothing to tell, counts as yes)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # alive, not ours to signal
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        folder = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return True
    return b"snakemake" in command and os.path.realpath(folder) == os.path.realpath(".")


def discard(store: Path = SNAPSHOT) -> None:
    """Remove the snapshot, then the mark of a run going on."""
    shutil.rmtree(store, ignore_errors=True)
    owner_file(store).unlink(missing_ok=True)
