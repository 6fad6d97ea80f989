"""The report as a list of blocks, and its two renderings: self-contained HTML and Markdown.

Building the content once and rendering it twice keeps report.html and report.md the same
report. Every string is escaped by the renderer (study files are untrusted text); numbers are
``Num`` parts that carry where they came from, so the HTML says, for each number, which JSON
value it shows (``data-src``) and how it was formatted (``data-format``).
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stsmeta.report.inline_svg import inline_svg


@dataclass(frozen=True)
class Num:
    """A number as shown, with its source (``<outcome>/<scenario>.json#/json/pointer``)."""

    text: str
    src: str
    fmt: str


Inline = str | Num
Cell = tuple[Inline, ...]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Paragraph:
    parts: Cell


@dataclass(frozen=True)
class Bullets:
    items: tuple[Cell, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A figure: inlined in HTML (its SVG, else its PNG), linked by relative path in Markdown."""

    png: Path
    png_bytes: bytes
    caption: str
    stem: str
    svg_bytes: bytes | None = None


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Paragraph | Bullets | Table | Image | Code


def cell(*parts: Inline) -> Cell:
    return tuple(parts)


def plain(parts: Cell) -> str:
    return "".join(p.text if isinstance(p, Num) else p for p in parts)


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#111}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.88rem;width:100%}
th,td{border:1px solid #bbb;padding:.25rem .45rem;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f0f0f0}caption{text-align:left;font-weight:600;padding:.3rem 0}
figure{margin:1rem 0}figure img,figure svg{max-width:100%;height:auto;border:1px solid #ddd}
figure svg{width:100%}
figure svg *{stroke-linejoin:round;stroke-linecap:butt}
.summary li{margin:.3rem 0}
figcaption{font-size:.9rem;color:#333}code,pre{font-family:"DejaVu Sans Mono",monospace;
font-size:.85rem}pre{background:#f6f6f6;padding:.5rem;overflow-x:auto}
.num{font-variant-numeric:tabular-nums}nav li{margin:0}
@media print{body{max-width:none}}
"""


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _inline_html(parts: Cell) -> str:
    out = []
    for part in parts:
        if isinstance(part, Num):
            out.append(
                f'<span class="num" data-src="{_esc(part.src)}" data-format="{_esc(part.fmt)}">'
                f"{_esc(part.text)}</span>"
            )
        else:
            out.append(_esc(part))
    return "".join(out)


def render_html(blocks: list[Block], title: str) -> str:
    """One self-contained HTML file: inline CSS, figures as data: URIs, no script, no link."""
    toc = [b for b in blocks if isinstance(b, Heading) and b.level == 2]
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(
                f'<h{block.level} id="{_esc(block.anchor)}">{_esc(block.text)}</h{block.level}>'
            )
            if block.level == 1 and toc:
                items = "".join(
                    f'<li><a href="#{_esc(h.anchor)}">{_esc(h.text)}</a></li>' for h in toc
                )
                body.append(f"<nav><ol>{items}</ol></nav>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline_html(block.parts)}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_inline_html(item)}</li>" for item in block.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            caption = f"<caption>{_esc(block.caption)}</caption>" if block.caption else ""
            head = "".join(f"<th>{_esc(h)}</th>" for h in block.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            body.append(
                f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            )
        elif isinstance(block, Image):
            if block.svg_bytes is not None:
                drawing = inline_svg(block.svg_bytes, f"{block.stem}-", block.caption)
            else:
                data = base64.b64encode(block.png_bytes).decode("ascii")
                drawing = f'<img src="data:image/png;base64,{data}" alt="{_esc(block.caption)}">'
            body.append(
                f'<figure id="figure-{_esc(block.stem)}">{drawing}'
                f"<figcaption>{_esc(block.caption)}</figcaption></figure>"
            )
        elif isinstance(block, Code):
            body.append(f"<pre><code>{_esc(block.text)}</code></pre>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # An empty icon: without it a browser asks for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# ------------------------------------------------------------ Markdown

# Markdown gets its own escaping (backslashes; CommonMark and pandoc show ``\<`` as ``<``):
# enough to stop emphasis, links, code, tables and raw HTML. '#', '-' and '+' only act at the
# start of a line, and every line here starts with text the report itself writes.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~<>])")
# '_' only opens emphasis at a word boundary: snake_case ids stay readable.
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# '&' only matters where it would start an entity (``&amp;``, ``&#60;``).
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


def md_escape(text: str) -> str:
    """Escape Markdown syntax and raw HTML so that text shows as typed."""
    text = _MD_SPECIAL.sub(r"\\\1", str(text))
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = _MD_ENTITY.sub(r"\\&", text)
    return text.replace("\n", " ")


def _inline_md(parts: Cell) -> str:
    return "".join(md_escape(p.text if isinstance(p, Num) else p) for p in parts)


def render_markdown(blocks: list[Block], md_path: Path | str) -> str:
    """Markdown (GitHub/pandoc pipe tables); figures linked relative to ``md_path``."""
    out: list[str] = []
    base = Path(md_path).resolve().parent
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {md_escape(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(_inline_md(block.parts))
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {_inline_md(item)}" for item in block.items))
        elif isinstance(block, Table):
            lines = []
            if block.caption:
                lines += [f"**{md_escape(block.caption)}**", ""]
            lines.append("| " + " | ".join(md_escape(h) for h in block.header) + " |")
            lines.append("|" + "|".join(" --- " for _ in block.header) + "|")
            for row in block.rows:
                lines.append("| " + " | ".join(_inline_md(c) or " " for c in row) + " |")
            out.append("\n".join(lines))
        elif isinstance(block, Image):
            rel = Path(os.path.relpath(Path(block.png).resolve(), base)).as_posix()
            out.append(f"![{md_escape(block.caption)}]({rel})\n\n*{md_escape(block.caption)}*")
        elif isinstance(block, Code):
            fence = "````" if "```" in block.text else "```"
            out.append(f"{fence}\n{block.text}\n{fence}")
    return "\n\n".join(out) + "\n"
