"""``python -m stsmeta``: the command line (``stsmeta.cli``), as every workflow job runs it."""

import os
import sys

from stsmeta.cli.job_server import run_through_server

if __name__ == "__main__":
    # In a local workflow run, the run's job server runs the command in a fork of a process
    # that has imported what jobs use (stsmeta.cli.job_server); elsewhere, this process runs it.
    code = run_through_server(sys.argv[1:])
    if code is None:
        from stsmeta import lazy_imports
        from stsmeta.cli import main

        lazy_imports.install()
        code = main()
    # A job's files are written and closed when main returns (no command leaves a file, pool or
    # temporary folder to a finaliser), so the process leaves at once: tearing the interpreter
    # down, freeing every matplotlib artist and the numpy and scipy modules, took up to 0.3 s of
    # the figures job, on the critical path of every run. Errors raised out of main take the
    # usual path (traceback, exit status 1).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
