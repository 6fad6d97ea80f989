"""``python -m stsmeta``: the command line (``stsmeta.cli``), as every workflow job runs it."""

import os
import sys

from stsmeta import lazy_imports
from stsmeta.cli import main

if __name__ == "__main__":
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
