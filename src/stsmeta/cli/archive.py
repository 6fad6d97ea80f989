"""``stsmeta archive``: build the citable results archive and publish it without overwriting.

The staging archive is the Snakemake output (Snakemake may delete and rebuild it); the
published copy in ``--publish-dir`` is not, so that a published version is never lost.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "archive",
        help="build the byte-reproducible results archive and publish it",
        description=(
            "Build stsmeta-results-<report.version>.tar.gz from the results, the study files, "
            "the config, the software lock and the workflow definition; write it to --staging; "
            "then, with --publish-dir, copy it there unless a different archive of the same "
            "version is already published (an error: bump report.version)."
        ),
    )
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder")
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config.yaml"),
        help="effective configuration (results/config/archive.json) or config.yaml",
    )
    parser.add_argument(
        "--raw-dir", type=Path, default=Path("data/raw"), help="folder of the study files"
    )
    parser.add_argument(
        "--lock",
        "--env",
        dest="env_files",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="software lock or environment file, stored under envs/ (repeatable; at least one)",
    )
    parser.add_argument(
        "--workflow-file",
        dest="workflow_files",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="Snakefile or rule file, relative to the repository (repeatable; at least one)",
    )
    parser.add_argument(
        "--workflow-base",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the workflow's base directory, which --workflow-file paths are relative to",
    )
    parser.add_argument(
        "--config-file",
        dest="config_files",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a configuration file the run was given (config.yaml, --configfile; repeatable)",
    )
    parser.add_argument(
        "--source-version",
        default=None,
        metavar="TEXT",
        help="source revision to record (e.g. a git commit); must not depend on the clock",
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stsmeta.archive import ArchiveInputs, build_archive, publish, write_atomic

    data, meta = build_archive(
        ArchiveInputs(
            results_dir=args.results,
            config_path=args.config,
            raw_dir=args.raw_dir,
            env_files=tuple(args.env_files),
            workflow_files=tuple(args.workflow_files),
            source_version=args.source_version,
            workflow_base=args.workflow_base,
            config_files=tuple(args.config_files),
        )
    )
    write_atomic(args.staging, data)
    print(f"wrote {args.staging} (results {meta.version}, {meta.date_released.isoformat()})")
    if args.publish_dir is not None:
        outcome = publish(args.staging, args.publish_dir, meta.version, str(args.config))
        if outcome.status == "unchanged":
            print(f"{outcome.path} already published with identical bytes; nothing to do")
        else:
            print(f"published {outcome.path}")
    return 0
