"""The job server (``stsmeta.cli.job_server``): a command run in a fork of the server gives what the
same command gives in a process of its own (output, error message, exit status), in the job's
working directory and environment; signals reach it; a job whose client is killed ends; the
server refuses another interpreter and ends with its parent; runs that run no job start none.
(The workflow test ``test_the_job_server_runs_the_jobs_and_changes_no_byte`` compares whole
runs.)

Counts here are SYNTHETIC.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stsmeta.cli import job_server

pytestmark = pytest.mark.skipif(not job_server.enabled(), reason="the server needs Linux")

STUDIES = Path(__file__).parent / "fixtures" / "studies"
# Runs a command as stsmeta.__main__ does through the server, and says whether the server ran it
# (a command run in this process instead would not write the mark).
CLIENT = (
    "import sys; from pathlib import Path; from stsmeta.cli.job_server import run_through_server; "
    "code = run_through_server(sys.argv[2:]); "
    "Path(sys.argv[1]).write_text('none' if code is None else 'served'); "
    "sys.exit(3 if code is None else code)"
)


@pytest.fixture(scope="module")
def server():
    handle = job_server.JobServer(list(job_server.PRELOAD))
    path = Path(handle.path)
    deadline = time.monotonic() + 60
    while not path.exists():  # bound before its imports
        assert handle.process.poll() is None, "the server left"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield handle
    handle.stop()
    handle.process.wait(timeout=30)
    assert not path.exists(), "the socket stays after the server"


def env_with(server, **extra):
    env = dict(os.environ, **extra)
    env.pop(job_server.SOCKET_ENV, None)
    if server is not None:
        env[job_server.SOCKET_ENV] = server.path
    return env


def served(server, args, tmp_path, cwd=None, **extra):
    mark = tmp_path / "mark"
    proc = subprocess.run(
        [sys.executable, "-c", CLIENT, str(mark), *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env_with(server, **extra),
    )  # fmt: skip
    assert mark.read_text() == "served", proc.stderr
    return proc


def alone(args, cwd=None, **extra):
    return subprocess.run(
        [sys.executable, "-m", "stsmeta", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env_with(None, **extra),
    )  # fmt: skip


def same(a, b):
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


def test_output_and_status_are_those_of_a_process_of_its_own(server, tmp_path):
    for args in (["--version"], ["validate", str(STUDIES / "synthetic-2020.yaml")]):
        same(served(server, args, tmp_path), alone(args))
    proc = served(server, ["--version"], tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("stsmeta ")


def test_a_refused_input_gives_the_same_message_and_status(server, tmp_path):
    args = ["validate", str(STUDIES / "malformed.yaml")]
    proc = served(server, args, tmp_path)
    assert proc.returncode == 2 and "malformed YAML" in proc.stderr
    assert "Traceback" not in proc.stderr
    same(proc, alone(args))
    # events > n, through the pooling command (an InputError raised in the command)
    csv = tmp_path / "counts.csv"
    csv.write_text("study,events,n\nA,5,3\n")
    args = ["pool", "--input", str(csv), "--method", "common"]
    same(served(server, args, tmp_path), alone(args))


def test_the_job_runs_in_its_own_folder_and_environment(server, tmp_path):
    # A relative path is read from the job's folder; the browser comes from the job's
    # environment (STSMETA_CHROMIUM), which the server's own environment does not have.
    (tmp_path / "report.html").write_text("<html></html>")
    browser = str(tmp_path / "no-such-chromium")
    args = ["report-pdf", "--html", "report.html", "--pdf", "report.pdf"]
    proc = served(server, args, tmp_path, cwd=tmp_path, STSMETA_CHROMIUM=browser)
    assert proc.returncode != 0
    same(proc, alone(args, cwd=tmp_path, STSMETA_CHROMIUM=browser))
    assert not (tmp_path / "report.pdf").exists()


def test_a_large_output_arrives_whole(server, tmp_path):
    csv = tmp_path / "counts.csv"
    csv.write_text("study,events,n\n" + "".join(f"s{i},{i % 4},{3 + i % 5}\n" for i in range(3000)))
    args = ["pool", "--input", str(csv), "--method", "common", "--json"]
    proc = served(server, args, tmp_path)
    assert len(proc.stdout) > 256 * 1024
    same(proc, alone(args))


def blocked_client(server, tmp_path):
    """A job reading arguments from its standard input (``@/dev/stdin``), which stays open:
    it waits, in a grandchild of the server, until the test acts."""
    mark = tmp_path / "mark"
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(mark), "validate", "@/dev/stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env_with(server),
    )  # fmt: skip
    time.sleep(1.0)  # connected, forked, reading
    assert proc.poll() is None
    return proc


def reader_gone(fd: int) -> bool:
    """True once no process holds the reading end of the pipe written by ``fd`` (the job is
    gone)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.write(fd, b"\n")
        except BrokenPipeError:
            return True
        time.sleep(0.05)
    return False


def test_a_signal_to_the_job_reaches_the_command(server, tmp_path):
    proc = blocked_client(server, tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert (tmp_path / "mark").read_text() == "served"
    assert reader_gone(proc.stdin.fileno())


def test_a_job_whose_client_is_killed_ends(server, tmp_path):
    proc = blocked_client(server, tmp_path)
    proc.kill()
    proc.wait(timeout=30)
    assert reader_gone(proc.stdin.fileno())


def test_a_preload_request_is_not_a_job_and_jobs_go_on(tmp_path, monkeypatch):
    log = tmp_path / "server.log"
    monkeypatch.setenv(job_server.LOG_ENV, str(log))
    handle = job_server.JobServer([])
    try:
        deadline = time.monotonic() + 60
        while not Path(handle.path).exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        handle.preload(["pool", "report", "no_such_rule"])
        handle.preload([])  # nothing to ask: no request
        proc = served(handle, ["--version"], tmp_path)
        assert proc.returncode == 0 and proc.stdout.startswith("stsmeta ")
        lines = log.read_text().splitlines()
        assert lines[:2] == ["preload analysis review", "served --version"], lines
        # As the job ended: its status, the time, its wall and CPU seconds (a run's timeline).
        ended = re.fullmatch(
            r"ended --version status 0 at (\d+\.\d{3}) wall (\d+\.\d{3}) cpu (\d+\.\d{3})",
            lines[2],
        )
        assert ended and len(lines) == 3, lines
        at, wall, cpu = map(float, ended.groups())
        assert abs(at - time.time()) < 600 and 0 < wall < 600 and 0 <= cpu < 600
    finally:
        handle.stop()


def test_another_interpreter_is_refused(server):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(server.path)
    request = {"argv": ["--version"], "cwd": "/", "env": {}, "id": {"executable": "/x/python"}}
    job_server._send(conn, request, fds=[0, 1, 2])
    assert "refused" in job_server._receive(conn)
    conn.close()


def test_without_a_server_the_command_runs_in_its_own_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "stsmeta", "--version"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, **{job_server.SOCKET_ENV: str(tmp_path / "no-socket")}),
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.startswith("stsmeta ")


def test_the_server_ends_with_its_parent(tmp_path):
    # The parent starts the server and leaves at once: the server removes its socket and ends.
    socket_path = tmp_path / "s" / "socket"
    socket_path.parent.mkdir()
    parent = (
        "import os, subprocess, sys; "
        f"subprocess.Popen([sys.executable, '-m', 'stsmeta.cli.job_server', {str(socket_path)!r}, "
        "str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "import time; time.sleep(0.5)"
    )
    subprocess.run([sys.executable, "-c", parent], check=True, timeout=60)
    deadline = time.monotonic() + 60
    while socket_path.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not socket_path.parent.exists()


@pytest.mark.parametrize(
    "argv",
    [["-n"], ["--dry-run"], ["--cores", "2", "-np"], ["--lint"], ["--dag"], ["--summary"]],
)
def test_runs_that_run_no_job_start_no_server(argv):
    assert job_server.start(["snakemake", *argv], []) is None


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv(job_server.SWITCH_ENV, "off")
    assert not job_server.enabled()
    assert job_server.start(["snakemake", "--cores", "2"], []) is None
