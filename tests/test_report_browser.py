"""The report in a real browser: headless Chromium, no network, every section and figure, axe.

Builds figures and report from the SYNTHETIC fixtures (tests/fixtures/pooled, with synthetic
screening records and certainty judgements) into a temporary results directory, opens
report.html in headless Chromium driven through the Chrome DevTools protocol over
``--remote-debugging-pipe`` (no websocket library needed), and checks: every section is there;
every figure (inline <svg>, or <img>) is laid out with a non-zero size and draws something; the
page logs no error, runs no script of its own and fetches nothing but file: and data: URLs; a
hostile study label shows as text; axe-core (npm, tests/node_modules; ``npm ci --prefix tests``)
finds no violation; at phone width the page does not scroll sideways (wide tables scroll in
their own box). Screenshots of the first screen at desktop and phone width are saved as
``results/report-first-screen-desktop.png`` and ``-phone.png`` in the temporary directory. The
PDF test prints the report with ``stsmeta report-pdf`` and reads it back with pdftotext.

Skipped when no Chromium is installed (``apt-get install chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import pytest
import yaml

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
    for name in ("config.yaml", "screening.yaml", "certainty.yaml"):
        shutil.copy(FIXTURES / name, root / name)
    study = root / "results/normalised/beta-2013.json"
    data = json.loads(study.read_text())
    data["label"] = HOSTILE
    study.write_text(json.dumps(data))
    common = ["--config", "config.yaml", "--pool-dir", "results/pool"]
    with contextlib.chdir(root):
        common += ["--studies", *map(str, sorted(Path("results/normalised").glob("*.json")))]
        coverage = ["results/coverage/summary.json", "-o", "results/figures/coverage.png"]
        assert main(["coverage-figure", *coverage, "results/figures/coverage.svg"]) == 0
        figures = ["--outdir", "results/figures", "--screening", "screening.yaml"]
        assert main(["figures", *common, *figures]) == 0
        report = ["--tables", "results/tables", "--figures-dir", "results/figures"]
        report += ["--coverage", "results/coverage/summary.json", "--screening", "screening.yaml"]
        report += ["--certainty", "certainty.yaml"]
        report += ["--html", "results/report.html", "--md", "results/report.md"]
        assert main(["report", *common, *report]) == 0
    return root / "results"


SECTIONS = (
    "at-a-glance",
    "summary-of-findings",
    "harms",
    "question",
    "methods",
    "information-sources",
    "search",
    "selection",
    "data-collection",
    "reporting-bias-methods",
    "certainty-methods",
    "study-selection",
    "included-studies",
    "excluded-studies",
    "results",
    "subgroups",
    "sensitivity",
    "prior-sensitivity",
    "coverage",
    "risk-of-bias",
    "discussion",
    "registration",
    "funding",
    "competing-interests",
    "data-availability",
    "study-references",
    "prisma-checklist",
    "notes",
    "decisions",
    "checksums",
)
PROBE = (
    "JSON.stringify({"
    "figures: Array.from(document.querySelectorAll('figure')).map(f => {"
    "  const d = f.querySelector(':scope > svg, :scope > img');"
    "  const r = d ? d.getBoundingClientRect() : {width: 0, height: 0};"
    "  const drawn = !d ? 0 : d.tagName === 'IMG' ? d.naturalWidth * d.complete"
    "    : d.getBBox().width * d.getBBox().height;"
    "  const label = d ? (d.getAttribute('aria-label') || d.getAttribute('alt') || '') : '';"
    "  return [f.id, d ? d.tagName : null, r.width, r.height, drawn, label];}),"
    "ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),"
    "landmarks: ['header', 'nav', 'main'].map(t => document.querySelectorAll(t).length),"
    "images: document.images.length,"
    "scripts: document.scripts.length,"
    "pageWidth: document.documentElement.scrollWidth, viewWidth: window.innerWidth,"
    "wideTables: Array.from(document.querySelectorAll('.table-wrap'))"
    "  .filter(w => w.scrollWidth > w.clientWidth + 1).length,"
    "text: document.body.innerText})"
)
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


def open_page(devtools: DevTools, session: str, url: str, width: int, mobile: bool) -> dict:
    devtools.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile},
        session=session,
    )
    devtools.send("Page.navigate", {"url": url}, session=session)
    devtools.wait_for("Page.loadEventFired")
    devtools.events = [e for e in devtools.events if e.get("method") != "Page.loadEventFired"]
    probe = devtools.send(
        "Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session
    )
    return json.loads(probe["result"]["value"])


def screenshot(devtools: DevTools, session: str, path: Path) -> None:
    import base64

    shot = devtools.send("Page.captureScreenshot", {"format": "png"}, session=session)
    path.write_bytes(base64.b64decode(shot["data"]))


def axe_violations(devtools: DevTools, session: str) -> list:
    devtools.send("Runtime.evaluate", {"expression": AXE.read_text()}, session=session)
    run = devtools.send(
        "Runtime.evaluate",
        {
            "expression": "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => JSON.stringify(r.violations.map(v => [v.id, v.help,"
            " v.nodes.slice(0, 3).map(n => n.target.join(' '))])))",
            "awaitPromise": True,
            "returnByValue": True,
        },
        session=session,
        timeout=120,
    )
    return json.loads(run["result"]["value"])


def page_errors(events: list) -> list:
    errors = []
    for event in events:
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
    return errors


@pytest.fixture(scope="module")
def browser_results(tmp_path_factory):
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium on PATH (install Debian's `chromium`; .ci/run does)")
    tmp = tmp_path_factory.mktemp("browser")
    return browser, build_results(tmp / "project"), tmp


def test_report_renders_in_headless_chromium(browser_results):
    browser, results, tmp = browser_results
    if not AXE.is_file():
        pytest.fail(f"axe-core missing: run `npm ci --prefix tests` (looked for {AXE})")
    report = results / "report.html"
    devtools = DevTools(browser, tmp / "profile")
    try:
        targets = devtools.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        session = devtools.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            devtools.send(f"{domain}.enable", session=session)
        phone = open_page(devtools, session, report.as_uri(), 390, mobile=True)
        screenshot(devtools, session, results / "report-first-screen-phone.png")
        desktop = open_page(devtools, session, report.as_uri(), 1280, mobile=False)
        screenshot(devtools, session, results / "report-first-screen-desktop.png")
        errors = page_errors(devtools.events)  # before axe runs its own script
        violations = axe_violations(devtools, session)
    finally:
        devtools.close()

    html = report.read_text()
    expected = {f"figure-{stem}" for stem in figure_stems(OUTCOMES) + ["coverage"]}
    figures = desktop["figures"]
    assert {f[0] for f in figures} == expected
    assert html.count("<figure ") == len(figures)
    assert desktop["images"] == html.count("<img") == 0  # figures are inline SVG
    for figure_id, tag, width, height, drawn, label in figures:
        assert tag == "svg", figure_id
        assert width > 100 and height > 50 and drawn > 0, f"{figure_id} did not render"
        assert len(label) > 20, f"{figure_id} has no text alternative"
    assert set(SECTIONS) <= set(desktop["ids"]), set(SECTIONS) - set(desktop["ids"])
    assert desktop["landmarks"] == [1, 1, 1]
    assert desktop["scripts"] == 0
    assert HOSTILE in desktop["text"]  # shown as text, not run
    assert errors == []
    requested = [
        e["params"]["request"]["url"]
        for e in devtools.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested and all(url.startswith(("file:", "data:")) for url in requested), requested
    assert violations == []
    # Phone width: the page itself never scrolls sideways; wide tables scroll in their box.
    assert phone["pageWidth"] <= phone["viewWidth"], phone["pageWidth"]
    assert phone["wideTables"] > 0
    for name in ("desktop", "phone"):
        shot = results / f"report-first-screen-{name}.png"
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_report_prints_to_pdf(browser_results):
    import subprocess

    _, results, _ = browser_results
    pdf = results / "report.pdf"
    date = ["--date", "2026-01-01"]
    assert (
        main(["report-pdf", "--html", str(results / "report.html"), "--pdf", str(pdf), *date]) == 0
    )
    first = pdf.read_bytes()
    assert first.startswith(b"%PDF") and b"D:20260101000000" in first
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) > 5
    # Page numbers and the running title on every page but the first.
    for i, text in enumerate(pages, 1):
        assert f"Page {i} of {len(pages)}" in text
    title = yaml.safe_load((FIXTURES / "config.yaml").read_text())["report"]["title"]
    assert all(title[:30] in p for p in pages[1:])
    whole = "\n".join(pages)
    for heading in ("At a glance", "Summary of findings", "PRISMA 2020 checklist", "Harms"):
        assert heading in whole
    # Figure text is real text: study labels of the forest plot can be found in the PDF.
    study = json.loads((results / "normalised/alpha-2013.json").read_text())
    assert whole.count(study["label"]) >= 2  # tables and the forest plot's own text
    # Printed at full size: Chromium shrinks every page to fit content wider than the page (a
    # long unbreakable string in a table did: body text came out at 84%). The page footer, in
    # the page margin, is never shrunk: 10 pt body text over 8 pt footer text.
    boxes = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words = re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<', boxes)
    heights = [round(float(b) - float(a), 1) for a, b, _ in words]
    footer = statistics.median(round(float(b) - float(a), 1) for a, b, w in words if w == "Page")
    body = collections.Counter(h for h in heights if h > footer).most_common(1)[0][0]
    assert body / footer > 1.2, (body, footer)
    # Printing again gives the same bytes (dates fixed, nothing from the clock).
    assert (
        main(["report-pdf", "--html", str(results / "report.html"), "--pdf", str(pdf), *date]) == 0
    )
    assert pdf.read_bytes() == first
