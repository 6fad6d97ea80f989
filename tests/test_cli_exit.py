"""``python -m stsmeta`` leaves without tearing the interpreter down (``os._exit``, see
``stsmeta/__main__.py``): what a command printed is complete and its exit status kept.

Counts here are SYNTHETIC.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stsmeta.cli import main


def test_large_output_through_a_pipe_is_complete_and_the_status_kept(tmp_path, capsys):
    # ~0.5 MB of JSON, far more than a pipe holds: flushed in full before the process leaves.
    csv = tmp_path / "counts.csv"
    rows = [f"s{i},{i % 4},{3 + i % 5}" for i in range(3000)]
    csv.write_text("study,events,n\n" + "\n".join(rows) + "\n")
    args = ["pool", "--input", str(csv), "--method", "common", "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "stsmeta", *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) > 256 * 1024
    assert main(args) == 0  # the same command in this process: the very same text
    assert proc.stdout == capsys.readouterr().out
    assert json.loads(proc.stdout)["k"] == 3000


def test_a_refused_input_keeps_its_status_and_message(tmp_path):
    csv = tmp_path / "counts.csv"
    csv.write_text("study,events,n\nA,5,3\n")  # events > n
    proc = subprocess.run(
        [sys.executable, "-m", "stsmeta", "pool", "--input", str(csv), "--method", "common"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert str(csv) in proc.stderr and "Traceback" not in proc.stderr


def test_an_error_of_the_machine_names_the_file_without_a_traceback(tmp_path):
    # The output's folder is a file: the operating system refuses, the command says where and
    # what to check, exits 1, and leaves that file as it was.
    study = Path(__file__).parent / "fixtures" / "studies" / "synthetic-2020.yaml"
    blocker = tmp_path / "normalised"
    blocker.write_text("not a folder\n")
    proc = subprocess.run(
        [sys.executable, "-m", "stsmeta", "normalise", str(study), "-o", str(blocker / "s.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(blocker) in proc.stderr, proc.stderr
    assert "a file stands where a folder is needed" in proc.stderr
    assert "check that the path is right" in proc.stderr
    assert blocker.read_text() == "not a folder\n"
