"""The ``stsmeta`` command line.

Each subcommand lives in its own module under ``stsmeta.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed arguments and returning an exit code. Heavy
imports belong inside those callables so that ``stsmeta --help`` stays quick.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stsmeta import __version__
from stsmeta.errors import InputError, Problem

# Subcommand name -> module under stsmeta.cli that registers it.
COMMANDS = {
    "validate": "validate",
    "normalise": "normalise",
    "tables": "tables",
    "screening": "screening",
    "pool": "pool",
    "figures": "figures",
    "report": "report",  # also registers report-pdf
    "archive": "archive",
    "verify-archive": "verify_archive",
    # One module registers coverage-shard, coverage-summary and coverage-figure.
    "coverage-shard": "coverage",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stsmeta",
        description="Meta-analysis of intralesional sodium thiosulfate for calcinosis cutis.",
        # `@FILE` stands for the arguments in FILE, one per line: the workflow names thousands
        # of study files that way (a shell command line is limited to 128 KiB).
        fromfile_prefix_chars="@",
    )
    parser.add_argument("--version", action="version", version=f"stsmeta {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(f"stsmeta.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"stsmeta.cli.{module_name}":
                raise
            continue  # a subcommand not written yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The machine, not the evidence: a full disk, a file where a folder should be, no
        # permission. Said as a problem with the file and what to check, not as a traceback.
        print(f"error: {os_problem(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C during a job: the workflow puts its previous outputs back; a traceback through
        # the engine would only hide that.
        print("stsmeta: interrupted", file=sys.stderr)
        return 130


def os_problem(exc: OSError) -> Problem:
    """An operating-system error as a ``Problem``: the file, what happened, what to check."""
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    what = exc.strerror or str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        what += " (a file stands where a folder is needed)"
    return Problem(
        " -> ".join(files) or "(no file named)",
        "",
        f"{what}: check that the path is right, the folder exists and is writable, and the disk "
        "has room",
    )
