"""``stsmeta archive``: build the citable results archive and publish it without overwriting.

The staging archive is the Snakemake output (Snakemake may delete and rebuild it); the
published copy in ``--publish-dir`` is not, so that a published version is never lost. Every
published archive is recorded in ``archives.lock`` (``--lock``).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _repeatable(parser: argparse.ArgumentParser, flag: str, dest: str, help_text: str) -> None:
    parser.add_argument(
        flag, dest=dest, action="append", default=[], metavar="FILE", help=help_text
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "archive",
        help="build the byte-reproducible results archive and publish it",
        description=(
            "Build stsmeta-results-<report.version>.tar.gz from the files given (results, "
            "study files, configuration, workflow, package source, lock); write it to "
            "--staging; then, with --publish-dir, copy it there and record it in --lock, "
            "unless a different archive of the same version is already published (an error: "
            "bump report.version). No folder is listed: only the files given are archived."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="effective configuration (results/config/archive.json) or config.yaml",
    )
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder")
    _repeatable(parser, "--result", "result_files", "a result file below --results (repeatable)")
    _repeatable(parser, "--raw", "raw_files", "a study file (repeatable)")
    _repeatable(parser, "--config-file", "config_files", "a configuration file the run was given")
    _repeatable(parser, "--data", "data_files", "another data file the run read (screening)")
    _repeatable(
        parser,
        "--workflow-file",
        "workflow_files",
        "Snakefile, rule file, package source file or lock, relative to --workflow-base",
    )
    parser.add_argument(
        "--workflow-base",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the workflow's base directory; also where its git commit is read",
    )
    parser.add_argument(
        "--package-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the stsmeta package the run imported; --package-file paths are relative to it",
    )
    _repeatable(
        parser, "--package-file", "package_files", "a file of the package, stored in src/stsmeta/"
    )
    parser.add_argument(
        "--source-version",
        default=None,
        metavar="TEXT",
        help="source revision to record (default: the git commit of --workflow-base)",
    )
    parser.add_argument(
        "--staging", type=Path, required=True, metavar="FILE", help="where to write the archive"
    )
    parser.add_argument(
        "--publish-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="publish the archive here as stsmeta-results-<version>.tar.gz (never overwritten)",
    )
    parser.add_argument(
        "--lock",
        type=Path,
        default=Path("archives.lock"),
        metavar="FILE",
        help="archives.lock, the record of published archives (default: archives.lock)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stsmeta.archive import ArchiveInputs, build_archive, git_commit, publish, write_atomic

    data, meta = build_archive(
        ArchiveInputs(
            config_path=args.config,
            results_dir=args.results,
            result_files=tuple(map(Path, args.result_files)),
            raw_files=tuple(map(Path, args.raw_files)),
            config_files=tuple(map(Path, args.config_files)),
            workflow_base=args.workflow_base,
            workflow_files=tuple(args.workflow_files),
            source_version=args.source_version or git_commit(args.workflow_base),
            package_dir=args.package_dir,
            package_files=tuple(args.package_files),
            lock_path=args.lock,
            data_files=tuple(map(Path, args.data_files)),
        )
    )
    write_atomic(args.staging, data)
    print(f"wrote {args.staging} (results {meta.version}, {meta.date_released.isoformat()})")
    if args.publish_dir is not None:
        lock = args.lock
        outcome = publish(
            args.staging,
            args.publish_dir,
            meta.version,
            # Where report.version is set (config.yaml), not the effective configuration.
            str(args.config_files[0] if args.config_files else args.config),
            lock,
            meta.date_released.isoformat(),
        )
        if outcome.status == "same results":
            print(
                f"{outcome.path} is published with these very inputs and results, from another "
                "version of the workflow code; it is kept as it is"
            )
        elif outcome.status == "unchanged":
            print(f"{outcome.path} already published with identical bytes; nothing to do")
        else:
            print(f"published {outcome.path}; recorded in {lock}")
    return 0
