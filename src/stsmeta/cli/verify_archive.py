"""``stsmeta verify-archive FILE``: check an archive against its manifest and archives.lock."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify-archive",
        help="check a results archive against its MANIFEST.sha256 and archives.lock",
        description=(
            "Recompute the SHA-256 of every file in a stsmeta results archive and compare it "
            "with MANIFEST.sha256; check that the version in its file name is the version it "
            "holds; and check its bytes against the record of published archives "
            "(archives.lock), which catches an archive changed after publication even with "
            "its manifest recomputed. Exit status 0 if everything matches, 1 otherwise."
        ),
    )
    parser.add_argument("archive", type=Path, metavar="FILE", help="the .tar.gz archive")
    parser.add_argument(
        "--lock",
        type=Path,
        default=Path("archives.lock"),
        metavar="FILE",
        help="the record of published archives (default: archives.lock)",
    )
    parser.add_argument(
        "--manifest-only",
        action="store_true",
        help="skip the archives.lock check (for an archive not yet published)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stsmeta.archive import MANIFEST_NAME, verify_archive

    result = verify_archive(args.archive, None if args.manifest_only else args.lock)
    for problem in result.problems:
        print(f"{args.archive}: {problem}")
    for name in result.missing:
        print(f"{args.archive}: missing: {name} (listed in {MANIFEST_NAME}, not in the archive)")
    for name in result.extra:
        print(f"{args.archive}: extra: {name} (in the archive, not in {MANIFEST_NAME})")
    for name in result.changed:
        print(f"{args.archive}: changed: {name} (SHA-256 differs from {MANIFEST_NAME})")
    checked_against = MANIFEST_NAME if args.manifest_only else f"{MANIFEST_NAME} and {args.lock}"
    if result.ok:
        print(f"{args.archive}: OK: {result.checked} files match {checked_against}")
        return 0
    bad = len(result.missing) + len(result.extra) + len(result.changed) + len(result.problems)
    print(f"{args.archive}: FAILED: {bad} problem(s), {result.checked} files checked")
    return 1
