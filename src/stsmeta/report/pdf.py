"""results/report.pdf: the HTML report printed by headless Chromium with its print stylesheet.

Chromium draws the page margin boxes (running title, "Page N of M"), keeps figures and table
rows whole, and writes a tagged PDF whose text can be searched. Chromium stamps the clock into
the PDF's /CreationDate and /ModDate; both are overwritten, byte for byte, with the report's
date (config ``report.date``), so that a rebuild gives the same file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Nothing is fetched: every host resolves to nothing.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",
    # Print only once everything is drawn, however loaded the machine.
    "--run-all-compositor-stages-before-draw",
)
MISSING = (
    "no Chromium found (looked for {names} on PATH and $STSMETA_CHROMIUM): results/report.pdf "
    "is made by headless Chromium. Install Debian's `chromium` (apt-get install chromium) or "
    "point STSMETA_CHROMIUM at a Chromium or Chrome binary. results/report.html is complete "
    "without it."
)
_DATES = re.compile(rb"/(CreationDate|ModDate) \(D:(\d{14})([^)]*)\)")


class ChromiumMissing(RuntimeError):
    pass


def find_chromium() -> str | None:
    """The browser to print with: $STSMETA_CHROMIUM, else the first of BROWSERS on PATH."""
    override = os.environ.get("STSMETA_CHROMIUM")
    if override:
        return override if Path(override).is_file() else shutil.which(override)
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def fixed_dates(pdf: bytes, date: str) -> bytes:
    """The PDF with its creation and modification dates set to ``date`` (YYYY-MM-DD).

    The replacement has the same length as what it replaces, so the cross-reference offsets
    stay right.
    """
    digits = (re.sub(r"\D", "", date) + "000000")[:14].encode("ascii")
    if len(digits) != 14:
        digits = b"19700101000000"

    def replace(match: re.Match) -> bytes:
        zone = b"+00'00'"[: len(match.group(3))].ljust(len(match.group(3)), b"0")
        return b"/" + match.group(1) + b" (D:" + digits + zone + b")"

    return _DATES.sub(replace, pdf)


_NODE_ID = re.compile(rb"\(node(\d{8})\)")


def fixed_node_ids(pdf: bytes) -> bytes:
    """The PDF with the structure elements' ids (``/ID (node00000231)``) renumbered 0, 1, 2, ...
    in their own order.

    Chromium takes them from a counter of the browser process, which is offset by whatever it
    did before printing (a run under load differed from an idle one by 1). The ranks keep the
    order the ID tree needs, and the same 8 digits keep every cross-reference offset right.
    """
    ids = sorted(set(_NODE_ID.findall(pdf)), key=int)
    rank = {old: b"%08d" % i for i, old in enumerate(ids)}
    return _NODE_ID.sub(lambda m: b"(node" + rank[m.group(1)] + b")", pdf)


def print_pdf(html: Path | str, pdf: Path | str, date: str = "", timeout: float = 300) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium; raise ChromiumMissing without one."""
    browser = find_chromium()
    if browser is None:
        raise ChromiumMissing(MISSING.format(names=", ".join(BROWSERS)))
    html, pdf = Path(html).resolve(), Path(pdf)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stsmeta-chromium-") as profile:
        out = Path(profile) / "report.pdf"
        result = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}/user",
                f"--print-to-pdf={out}",
                html.as_uri(),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0 or not out.is_file():
            tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
            raise RuntimeError(
                f"{browser} could not print {html} (exit {result.returncode}):\n" + "\n".join(tail)
            )
        data = out.read_bytes()
    from stsmeta.atomic_write import write_bytes_atomically

    write_bytes_atomically(pdf, fixed_node_ids(fixed_dates(data, date)))
    return pdf


def printed_after(pdf: Path, html: Path) -> bool:
    """Whether ``pdf`` was printed from ``html`` as it is (dated after it): how a run tells the
    report's PDF from one of an earlier report (both files exist)."""
    return pdf.stat().st_mtime_ns >= html.stat().st_mtime_ns


def settle_pdf(html: Path, pdf: Path, withheld: bool = False) -> str:
    """After a run: the PDF printed from the current ``html``, or none at all.

    The PDF is printed on request (target ``pdf``), so a run that rewrote the report leaves the
    PDF of the earlier report behind: it is removed rather than left beside the new report,
    looking current. ``withheld``: this run set it aside and did not put it back, as the report
    changed (stsmeta.keep_previous): said as removed. Returns the sentence to print.
    """
    again = "`snakemake --cores 4 pdf` prints the new one"
    if not pdf.is_file():
        if withheld:
            return f"removed {pdf}, printed from an earlier report; {again}"
        return f"`snakemake --cores 4 pdf` prints the report to {pdf}"
    if printed_after(pdf, html):
        return f"its PDF is {pdf.resolve()}"
    pdf.unlink()
    return f"removed {pdf}, printed from an earlier report; {again}"
