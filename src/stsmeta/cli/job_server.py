"""One Python process per run that has imported what the workflow's jobs use, forked for each job.

Every job of the workflow is ``python -m stsmeta COMMAND ...``; most of a job on the path from a
study file to the report was starting Python and importing numpy, scipy and matplotlib (0.1 to
0.6 s a job, ~1.5 s of a cold run's 6 on the development machine, with one core idle meanwhile
while Snakemake builds its DAG). So the Snakefile starts this server as it is read: it listens on
a Unix socket in a private temporary folder, then imports the modules the jobs use while
Snakemake builds the DAG. A job (the client, in ``stsmeta.__main__``) sends it its arguments,
working directory, environment and standard streams (the file descriptors themselves,
``SCM_RIGHTS``); the server forks a child that waits for a grandchild running the command
exactly as ``python -m stsmeta`` would, in the job's directory, environment and streams, and
sends back the grandchild's process id (the client forwards signals to it) and its exit status.
Where a job reaches no server (none started: a dry run, a cluster or conda executor, another
interpreter or installation, ``STSMETA_JOB_SERVER=off``, not Linux), it runs in its own process
as before: the same command, the same bytes (tests/test_job_server.py; the workflow test compares
a run with the server and one without).

Used only by local runs (``onstart`` sets ``STSMETA_JOB_SOCKET`` for the jobs when the executor
is local and no software deployment is in use); the server ends with the run (``onsuccess``,
``onerror``) and on its own when Snakemake's process is gone. Forking (not threads) keeps jobs
apart: each has its own memory, module state and exit, as a process of its own would.
"""

from __future__ import annotations

import array
import contextlib
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time

#: The socket of this run's server, set for the jobs by the workflow's ``onstart``.
SOCKET_ENV = "STSMETA_JOB_SOCKET"
#: ``off`` (or ``0``, ``no``): the workflow starts no server, every job runs in its own process.
SWITCH_ENV = "STSMETA_JOB_SERVER"
#: A file to which the server adds a line per request: ``served COMMAND``, ``refused COMMAND`` or
#: ``preload GROUP ...``, and as a served job ends ``ended COMMAND status S at T wall W cpu C``
#: (T the end in seconds since the epoch, W and C the job's seconds: a run's timeline).
LOG_ENV = "STSMETA_JOB_SERVER_LOG"

#: What the workflow's jobs import, by group, each in the order the jobs need it. The workflow asks
#: for the groups of the jobs it will run (``RULE_GROUPS``), as soon as it knows them: a run that
#: only reprints the tables and the report imports no numpy, scipy or matplotlib in the server. A
#: module not listed, or not imported yet when a job comes, is imported by the job itself.
PRELOAD = {
    # The coverage study's shards and summary, and pooling.
    "analysis": (
        "stsmeta.cli",
        "stsmeta.yaml_limits",
        "numpy",
        "scipy.special",
        "stsmeta.cli.coverage",
        "stsmeta.coverage.simulate",
        "stsmeta.coverage.bayes_fitter",
        "stsmeta.coverage.summary",
        "stsmeta.cli.pool",
        "stsmeta.pool.analysis",
        "stsmeta.pool.pooling",
        "stsmeta.pool.subgroup_tests",
        "stsmeta.stats.api",
        "stsmeta.stats.bayes",
        "stsmeta.stats.glmm_pool",
        "stsmeta.stats.glmm_profile_one",
        "stsmeta.stats.glmm_reg",
        "stsmeta.stats.ivre_pool",
        "stsmeta.stats.metareg",
    ),
    "figures": (
        "stsmeta.cli",
        "stsmeta.yaml_limits",
        "stsmeta.cli.figures",
        "matplotlib",
        "matplotlib.figure",
        "matplotlib.backends.backend_svg",
        "stsmeta.figures.forest",
        "stsmeta.figures.sensitivity",
        "stsmeta.figures.cumulative",
        "stsmeta.figures.risk_of_bias",
        "stsmeta.figures.prisma",
        "stsmeta.figures.summary_forest",
        "stsmeta.figures.coverage_heatmap",
    ),
    # The tables, the screening check and the report: what a fixed typo reruns.
    "review": (
        "stsmeta.cli",
        "stsmeta.yaml_limits",
        "stsmeta.cli.tables",
        "stsmeta.evidence.tables",
        "jsonschema",
        "stsmeta.cli.screening",
        "stsmeta.cli.report",
        "stsmeta.report.document",
        "stsmeta.report.content",
        "stsmeta.archive.metadata",
    ),
}
#: The groups each command uses (commands not listed: none).
COMMAND_GROUPS = {
    "coverage-shard": ("analysis",),
    "coverage-summary": ("analysis",),
    "pool": ("analysis",),
    "figures": ("figures",),
    "tables": ("review",),
    "screening": ("review",),
    "report": ("review",),
}
#: The groups each rule's jobs use (rules not listed: none): a rule is named after its command,
#: and figures_print runs the figures command for PNG and PDF.
RULE_GROUPS = {
    **{command.replace("-", "_"): groups for command, groups in COMMAND_GROUPS.items()},
    "figures_print": COMMAND_GROUPS["figures"],
}

#: Set by Snakemake to a job's threads; numpy's BLAS reads them once, as it loads.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
#: The server ends after this long without a request.
IDLE_SECONDS = 900.0
_HEADER = struct.Struct("!I")
_MAX_REQUEST = 64 << 20  # arguments and environment; @-files hold long argument lists


def enabled() -> bool:
    """Whether this platform and the environment allow the server."""
    switch = os.environ.get(SWITCH_ENV, "").strip().lower()
    return (
        sys.platform == "linux"
        and hasattr(socket, "AF_UNIX")
        and hasattr(os, "fork")
        and switch not in {"off", "0", "no", "false"}
    )


def identity() -> dict:
    """What must be equal between a job and the server for the server to run it: the same
    interpreter and the same stsmeta (a conda environment's jobs run another Python)."""
    import stsmeta

    return {
        "executable": os.path.realpath(sys.executable),
        "prefix": sys.prefix,
        "version": sys.version,
        "stsmeta": os.path.realpath(stsmeta.__file__),
        "path": sys.path[1:],
    }


# --- messages: a 4-byte length, then JSON --------------------------------------------------------


def _send(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = _HEADER.pack(len(data)) + data
    if fds:
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        sent = conn.sendmsg([payload], rights)
        payload = payload[sent:]
    conn.sendall(payload)


def _recv_exact(conn: socket.socket, size: int, fds: list[int] | None = None) -> bytes:
    chunks, got = [], 0
    while got < size:
        if fds is not None and not got:
            space = socket.CMSG_SPACE(3 * array.array("i").itemsize)
            data, ancillary, _flags, _addr = conn.recvmsg(size, space)
            for level, kind, body in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    received = array.array("i")
                    received.frombytes(body[: len(body) - len(body) % received.itemsize])
                    fds.extend(received)
        else:
            data = conn.recv(size - got)
        if not data:
            raise EOFError("connection closed")
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def _receive(conn: socket.socket, fds: list[int] | None = None) -> dict:
    (size,) = _HEADER.unpack(_recv_exact(conn, _HEADER.size, fds))
    if size > _MAX_REQUEST:
        raise ValueError(f"message of {size} bytes")
    return json.loads(_recv_exact(conn, size))


# --- the client: stsmeta.__main__ ---------------------------------------------------------------


def run_through_server(argv: list[str]) -> int | None:
    """Run ``python -m stsmeta *argv`` in a child of this run's server; its exit status, or None
    when there is no server to run it (the caller then runs the command itself)."""
    path = os.environ.get(SOCKET_ENV)
    if not path or not enabled():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "id": identity()}
        _send(conn, request, fds=[0, 1, 2])
        reply = _receive(conn)
    except (OSError, EOFError, ValueError):
        # No server, or it left before taking the job (nothing of the job has run).
        conn.close()
        return None
    if "pid" not in reply:
        conn.close()
        return None  # another interpreter or installation: run here
    pid = int(reply["pid"])

    def forward(signum, _frame):
        # To the job's process group: the job and the processes it started (the figures job's
        # workers), as a signal to this client's group would have reached them.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    for signum in _SIGNALS:
        signal.signal(signum, forward)
    try:
        status = int(_receive(conn)["status"])
    except (OSError, EOFError, ValueError):
        print("stsmeta: the job server ended before the job did", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


# --- the server ----------------------------------------------------------------------------------


def _add_groups(todo: list[str], groups: list[str]) -> None:
    for group in groups:
        todo.extend(m for m in PRELOAD.get(group, ()) if m not in todo and m not in sys.modules)


def _import(name: str) -> None:
    import importlib

    # On failure the job that needs the module imports it, and says what is wrong.
    with contextlib.suppress(Exception):
        importlib.import_module(name)


def _import_group_now(todo: list[str], command: str) -> None:
    """Before a job is forked: the modules of its command's group still to import, so that the
    job does not import them beside the server (twice the work on the same cores)."""
    for group in COMMAND_GROUPS.get(command, ()):
        for name in PRELOAD[group]:
            if name in todo:
                todo.remove(name)
                _import(name)


def _read_request(conn: socket.socket) -> tuple[dict, list[int]] | None:
    """A job's request and its three file descriptors, or None for a preload request (groups to
    import: ``P`` and their names) or a connection that sent nothing readable."""
    conn.settimeout(5)  # a client sends its request as it connects
    fds: list[int] = []
    try:
        if conn.recv(1, socket.MSG_PEEK) == b"P":
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
            return {"preload": data.decode()[1:].split()}, fds
        return _receive(conn, fds), fds
    except (OSError, EOFError, ValueError, UnicodeDecodeError):
        for fd in fds:
            os.close(fd)
        return None
    finally:
        conn.settimeout(None)


def serve(path: str, parent: int, groups: list[str]) -> None:
    """Listen on ``path``, import the ``PRELOAD`` groups asked for (``groups`` to start with),
    and fork a child per job, until ``parent`` (Snakemake) has gone or SIGTERM comes. Imports
    run between requests while fewer jobs run than there are CPUs (they would slow the jobs
    down otherwise), and a job's own group is imported before it is forked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for Snakemake and the jobs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cpus = len(os.sched_getaffinity(0))
    children: set[int] = set()
    try:
        listener.bind(path)
        listener.listen(64)
        own = identity()
        todo: list[str] = []
        _add_groups(todo, groups)
        last = time.monotonic()
        # Snakemake's process gone, or no job for a long while (a run driven through Snakemake's
        # API whose process goes on): a job that comes later runs in its own process.
        while os.getppid() == parent and time.monotonic() - last < IDLE_SECONDS:
            idle_cpu = len(_reap(children)) < cpus
            ready, _, _ = select.select([listener], [], [], 0 if todo and idle_cpu else 0.05)
            if not ready:
                if todo and idle_cpu:
                    _import(todo.pop(0))
                continue
            last = time.monotonic()
            conn, _ = listener.accept()
            with conn:
                read = _read_request(conn)
                if read is None:
                    continue
                request, fds = read
                if "preload" in request:
                    _note("preload " + " ".join(request["preload"]))
                    _add_groups(todo, request["preload"])
                    continue
                argv = request.get("argv") or [""]
                _import_group_now(todo, str(argv[0]))
                # What the server imported is never garbage: frozen, a job's full collections
                # do not walk it (nor touch its pages, which then stay shared with the server).
                gc.freeze()
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    _child(conn, own, request, fds)  # never returns
                children.add(pid)
                for fd in fds:
                    os.close(fd)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(os.path.dirname(path))
        # Waited for, so that the jobs' CPU time counts in Snakemake's own (what `time` and the
        # benchmarks report), as it did when each job was Snakemake's child.
        deadline = time.monotonic() + 30
        while _reap(children) and time.monotonic() < deadline:
            time.sleep(0.01)


def _reap(children: set[int]) -> set[int]:
    """Wait for the children that have ended; those still running."""
    for pid in list(children):
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        children.discard(pid)
    return children


def _child(conn: socket.socket, own: dict, request: dict, fds: list[int]) -> None:
    """In a fork of the server: run one request in a grandchild, report its pid and status."""
    code = 0
    try:
        refused = request.get("id") != own or len(fds) != 3
        command = " ".join(request.get("argv", [])[:1])
        started = time.monotonic()
        _note(("refused " if refused else "served ") + command)
        if refused:
            _send(conn, {"refused": "not the same interpreter and stsmeta"})
            return
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run_job(request, fds)  # never returns
        # Here as well as in the job: its group exists before the client can signal it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        for fd in fds:
            os.close(fd)
        try:
            _send(conn, {"pid": pid})
        except OSError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)  # the job's client is gone: so is the job
        status = _wait(pid, conn)
        if os.environ.get(LOG_ENV):
            import resource

            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            _note(
                f"ended {command} status {status} at {time.time():.3f} wall "
                f"{time.monotonic() - started:.3f} cpu {used.ru_utime + used.ru_stime:.3f}"
            )
        _send(conn, {"status": status})
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _note(line: str) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)


def _wait(pid: int, conn: socket.socket) -> int:
    """The grandchild's wait status; if the client goes away first (killed), the job is ended."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd, conn], [], [])
            if pidfd in ready:
                return os.waitpid(pid, 0)[1]
            if not conn.recv(1, socket.MSG_PEEK):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGTERM)
                return os.waitpid(pid, 0)[1]
    finally:
        os.close(pidfd)


def _run_job(request: dict, fds: list[int]) -> None:
    """In the grandchild: become the job's process and run its command (stsmeta.__main__)."""
    code = 1
    try:
        # A process group of its own, which signals for the job reach as a whole.
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            if fd > 2:
                os.close(fd)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()  # the job's TZ, as a process started with it would have
        sys.argv = [sys.argv[0], *request["argv"]]
        from stsmeta.cli import main

        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# --- the workflow's side -----------------------------------------------------------------------


class JobServer:
    """The server process of one run, as the Snakefile starts it."""

    def __init__(self, groups: list[str]) -> None:
        # Here, not at the top: a job's client imports this module too, and needs neither.
        import subprocess
        import tempfile

        folder = tempfile.mkdtemp(prefix="stsmeta-jobs-")
        self.path = os.path.join(folder, "socket")
        env = dict(os.environ)
        # What Snakemake sets for a job of one thread, before numpy and its BLAS load.
        for var in THREAD_VARIABLES:
            env[var] = "1"
        env.pop(SOCKET_ENV, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stsmeta.cli.job_server", self.path, str(os.getpid()), *groups],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

    def preload(self, rules) -> None:
        """Ask the server to import what the jobs of ``rules`` use (``RULE_GROUPS``). Never
        waits for the imports, and never fails: a job finds what is not imported yet missing,
        and imports it itself."""
        groups = sorted({g for rule in rules for g in RULE_GROUPS.get(rule, ())})
        if not groups or self.process.poll() is not None:
            return
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with conn, contextlib.suppress(OSError):
            conn.settimeout(1)
            conn.connect(self.path)
            conn.sendall(("P" + " ".join(groups)).encode())

    def offer(self) -> None:
        """Let this run's jobs use the server (their environment names the socket)."""
        os.environ[SOCKET_ENV] = self.path

    def stop(self) -> None:
        os.environ.pop(SOCKET_ENV, None)
        if self.process.poll() is None:
            self.process.terminate()
        import subprocess

        # Waited for: its CPU time and its jobs' then count in this process's children's.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)


def start(argv: list[str], groups: list[str]) -> JobServer | None:
    """The server for a run of ``snakemake *argv``, importing the ``PRELOAD`` groups ``groups``
    at once; None where it would not be used."""
    if not enabled() or os.environ.get(SOCKET_ENV):
        return None
    # Runs that run no job (a dry run, lint, graphs, listings) do not need one.
    no_jobs = {"--dry-run", "--dryrun", "--lint", "--dag", "--rulegraph", "--filegraph",
               "--summary", "--detailed-summary", "--list-rules", "--list-target-rules",
               "--list-changes", "--unlock", "--touch", "--report", "--containerize",
               "--cleanup-metadata", "--list-input-changes", "--list-params-changes",
               "--list-code-changes", "--delete-all-output", "--delete-temp-output"}  # fmt: skip
    for arg in argv:
        if arg.split("=", 1)[0] in no_jobs:
            return None
        if arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) & set("nlSDt"):
            return None
    try:
        return JobServer(groups)
    except OSError:
        return None


if __name__ == "__main__":
    try:
        serve(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
    finally:
        # Without tearing down numpy, scipy and matplotlib (~0.2 s, at the end of every run,
        # which Snakemake waits for): SIGTERM, the usual end, leaves serve() by SystemExit.
        os._exit(0)
