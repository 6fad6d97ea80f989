"""The report in a real browser: headless Chromium, no network, every figure rendered.

Builds figures and report from the SYNTHETIC fixtures (tests/fixtures/pooled) into a temporary
results directory, opens report.html in headless Chromium driven through the Chrome DevTools
protocol over ``--remote-debugging-pipe`` (no websocket library needed), and checks that every
figure (inline <svg>, or <img>) is laid out with a non-zero size and draws something, that the
page logs no error, runs no script, fetches nothing but file: and data: URLs, and shows a
hostile study label as text. The coverage heat map is drawn from the synthetic coverage
summary. A screenshot is saved as ``results/report-screenshot.png`` in the temporary directory.

Skipped when no Chromium is installed (``apt-get install chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from stsmeta.cli import main
from stsmeta.outputs import figure_stems

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent / "fixtures" / "pooled"
HOSTILE = "<script>alert(1)</script>"
OUTCOMES = ["complete_remission", "any_response"]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # No network: every host resolves to nothing and any proxied request goes nowhere.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _high(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class DevTools:
    """A minimal Chrome DevTools protocol client over the debugging pipe (fds 3 and 4)."""

    def __init__(self, browser: str, profile: Path):
        # Move the pipe ends above fd 10 so that the child's dup2 onto 3 and 4 never meets
        # one of them already sitting there (dup2 of an fd onto itself keeps close-on-exec).
        to_child_r, self._out = (_high(fd) for fd in os.pipe())
        self._in, from_child_w = (_high(fd) for fd in os.pipe())

        def wire_pipes():  # runs in the child before exec: Chromium reads fd 3, writes fd 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.process = subprocess.Popen(
            [
                browser,
                *FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            close_fds=False,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from the browser")
            ready, _, _ = select.select([self._in], [], [], remaining)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise EOFError("the browser closed the debugging pipe")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 60,
    ) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._read_message(deadline))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._in)
        os.close(self._out)


def build_results(root: Path) -> Path:
    """Figures and report from the synthetic fixtures, one study labelled with a script tag."""
    shutil.copytree(FIXTURES / "results", root / "results")
    shutil.copy(FIXTURES / "config.yaml", root / "config.yaml")
    study = root / "results/normalised/beta-2013.json"
    data = json.loads(study.read_text())
    data["label"] = HOSTILE
    study.write_text(json.dumps(data))
    with contextlib.chdir(root):
        assert (
            main(
                [
                    "coverage-figure",
                    "results/coverage/summary.json",
                    "-o",
                    "results/figures/coverage.png",
                    "results/figures/coverage.svg",
                ]
            )
            == 0
        )
        assert (
            main(
                [
                    "figures",
                    "--config",
                    "config.yaml",
                    "--pool-dir",
                    "results/pool",
                    "--studies",
                    *map(str, sorted(Path("results/normalised").glob("*.json"))),
                    "--outdir",
                    "results/figures",
                ]
            )
            == 0
        )
        assert (
            main(
                [
                    "report",
                    "--config",
                    "config.yaml",
                    "--pool-dir",
                    "results/pool",
                    "--studies",
                    *map(str, sorted(Path("results/normalised").glob("*.json"))),
                    "--tables",
                    "results/tables",
                    "--figures-dir",
                    "results/figures",
                    "--coverage",
                    "results/coverage/summary.json",
                    "--html",
                    "results/report.html",
                    "--md",
                    "results/report.md",
                ]
            )
            == 0
        )
    return root / "results"


def test_report_renders_in_headless_chromium(tmp_path):
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium on PATH (install Debian's `chromium`; .ci/run does)")
    results = build_results(tmp_path / "project")
    report = results / "report.html"
    devtools = DevTools(browser, tmp_path / "profile")
    try:
        targets = devtools.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        session = devtools.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            devtools.send(f"{domain}.enable", session=session)
        devtools.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 1600, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        devtools.send("Page.navigate", {"url": report.as_uri()}, session=session)
        devtools.wait_for("Page.loadEventFired")
        probe = devtools.send(
            "Runtime.evaluate",
            {
                "expression": "JSON.stringify({"
                "figures: Array.from(document.querySelectorAll('figure')).map(f => {"
                "  const d = f.querySelector(':scope > svg, :scope > img');"
                "  const r = d ? d.getBoundingClientRect() : {width: 0, height: 0};"
                "  const drawn = !d ? 0 : d.tagName === 'IMG' ? d.naturalWidth * d.complete"
                "    : d.getBBox().width * d.getBBox().height;"
                "  return [f.id, d ? d.tagName : null, r.width, r.height, drawn];}),"
                "images: document.images.length,"
                "scripts: document.scripts.length,"
                "text: document.body.innerText})",
                "returnByValue": True,
            },
            session=session,
        )
        page_state = json.loads(probe["result"]["value"])
        shot = devtools.send("Page.captureScreenshot", {"format": "png"}, session=session)
        screenshot = results / "report-screenshot.png"
        import base64

        screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        devtools.close()

    figures = page_state["figures"]
    html = report.read_text()
    expected = {f"figure-{stem}" for stem in figure_stems(OUTCOMES) + ["coverage"]}
    assert {f[0] for f in figures} == expected
    assert html.count("<figure ") == len(figures)
    assert page_state["images"] == html.count("<img") == 0  # figures are inline SVG
    for figure_id, tag, width, height, drawn in figures:
        assert tag == "svg", figure_id
        assert width > 100 and height > 50 and drawn > 0, f"{figure_id} did not render"
    assert page_state["scripts"] == 0
    assert HOSTILE in page_state["text"]  # shown as text, not run

    errors = []
    for event in devtools.events:
        method, params = event.get("method"), event.get("params", {})
        console_error = params.get("type") in ("error", "assert")
        if method == "Runtime.exceptionThrown" or (
            method == "Runtime.consoleAPICalled" and console_error
        ):
            errors.append(params)
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"])
        elif method == "Page.javascriptDialogOpening":
            errors.append(params)
    assert errors == []
    requested = [
        e["params"]["request"]["url"]
        for e in devtools.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested and all(url.startswith(("file:", "data:")) for url in requested), requested
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
