"""The report as a list of blocks, and its two renderings: self-contained HTML and Markdown.

Building the content once and rendering it twice keeps report.html and report.md the same
report. Every string is escaped by the renderer (study files are untrusted text); numbers are
``Num`` parts that carry where they came from, so the HTML says, for each number, which JSON
value it shows (``data-src``) and how it was formatted (``data-format``).
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stsmeta.report.css import stylesheet
from stsmeta.report.inline_svg import inline_svg


@dataclass(frozen=True)
class Num:
    """A number as shown, with its source (``<outcome>/<scenario>.json#/json/pointer``)."""

    text: str
    src: str
    fmt: str


@dataclass(frozen=True)
class Link:
    """A link: ``#anchor`` inside the report, or an ``https:`` address (DOI, PubMed)."""

    text: str
    href: str


Inline = str | Num | Link
Cell = tuple[Inline, ...]


@dataclass(frozen=True)
class Heading:
    """A heading; a level-2 heading opens a ``<section>`` (``role``: its CSS class)."""

    level: int
    text: str
    anchor: str
    role: str = ""


@dataclass(frozen=True)
class Paragraph:
    parts: Cell
    role: str = ""  # a CSS class (the first screen's question and answers); none in Markdown


@dataclass(frozen=True)
class Bullets:
    items: tuple[Cell, ...]


@dataclass(frozen=True)
class Numbered:
    """A numbered list whose items are link targets (the study references)."""

    items: tuple[Cell, ...]
    ids: tuple[str, ...]
    start: int = 1


@dataclass(frozen=True)
class Table:
    """A table; the first cell of each row is the row's header (``<th scope="row">``)."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""
    row_headers: bool = True


@dataclass(frozen=True)
class Image:
    """A figure: its SVG inlined in HTML, linked by relative path in Markdown."""

    svg: Path
    svg_bytes: bytes
    caption: str
    stem: str
    alt: str = ""  # what the figure shows, for screen readers; the caption when empty


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Paragraph | Bullets | Numbered | Table | Image | Code


def cell(*parts: Inline) -> Cell:
    return tuple(parts)


def plain(parts: Cell) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in parts)


# ---------------------------------------------------------------- HTML


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


_SAFE_HREF = re.compile(r"^(#[A-Za-z0-9_-]+|https://[^\s\"<>]+)$")


def _href(link: Link) -> str:
    """Only in-report anchors and https: addresses are links; anything else is refused."""
    if not _SAFE_HREF.match(link.href):
        raise ValueError(f"refusing to link to {link.href!r}")
    return link.href


def _inline_html(parts: Cell) -> str:
    out = []
    for part in parts:
        if isinstance(part, Num):
            out.append(
                f'<span class="num" data-src="{_esc(part.src)}" data-format="{_esc(part.fmt)}">'
                f"{_esc(part.text)}</span>"
            )
        elif isinstance(part, Link):
            out.append(f'<a href="{_esc(_href(part))}">{_esc(part.text)}</a>')
        else:
            out.append(_esc(part))
    return "".join(out)


def _table_html(block: Table) -> str:
    caption = f"<caption>{_esc(block.caption)}</caption>" if block.caption else ""
    head = "".join(f'<th scope="col">{_esc(h)}</th>' for h in block.header)
    rows = []
    for row in block.rows:
        cells = []
        for i, value in enumerate(row):
            tag = "th" if block.row_headers and i == 0 else "td"
            scope = ' scope="row"' if tag == "th" else ""
            cells.append(f"<{tag}{scope}>{_inline_html(value)}</{tag}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    # A wide table scrolls in its own box (focusable, so that keyboard users can scroll it).
    # "(table)": a region's name must differ from a section's of the same title (axe).
    label = _esc(f"{block.caption} (table)" if block.caption else "table")
    return (
        f'<div class="table-wrap" role="region" tabindex="0" aria-label="{label}">'
        f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table></div>"
    )


def _figure_html(block: Image) -> str:
    alt = block.alt or block.caption
    drawing = inline_svg(block.svg_bytes, f"{block.stem}-", alt)
    return (
        f'<figure id="figure-{_esc(block.stem)}">{drawing}'
        f"<figcaption>{_esc(block.caption)}</figcaption></figure>"
    )


def _block_html(block: Block) -> str:
    if isinstance(block, Heading):
        return f'<h{block.level} id="{_esc(block.anchor)}">{_esc(block.text)}</h{block.level}>'
    if isinstance(block, Paragraph):
        role = f' class="{_esc(block.role)}"' if block.role else ""
        return f"<p{role}>{_inline_html(block.parts)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Numbered):
        items = "".join(
            f'<li id="{_esc(i)}">{_inline_html(item)}</li>'
            for item, i in zip(block.items, block.ids, strict=True)
        )
        start = f' start="{block.start}"' if block.start != 1 else ""
        return f'<ol class="references"{start}>{items}</ol>'
    if isinstance(block, Table):
        return _table_html(block)
    if isinstance(block, Image):
        return _figure_html(block)
    return f"<pre><code>{_esc(block.text)}</code></pre>"


def render_html(blocks: list[Block], title: str) -> str:
    """One self-contained HTML file: inline CSS, figures inline, no script, nothing fetched.

    Landmarks: the title block is the ``<header>``, the contents the ``<nav>``, everything else
    ``<main>``; each level-2 heading opens a ``<section>`` labelled by it. The contents follow
    the first-screen section (role ``first-screen``), so that the answer is what a reader sees
    first.
    """
    toc = [b for b in blocks if isinstance(b, Heading) and b.level == 2]
    head: list[str] = []
    body: list[str] = []
    open_section = False
    for block in blocks:
        if isinstance(block, Heading) and block.level == 1:
            head.append(_block_html(block))
            continue
        if isinstance(block, Heading) and block.level == 2:
            if open_section:
                body.append("</section>")
            role = f' class="{_esc(block.role)}"' if block.role else ""
            body.append(f'<section{role} aria-labelledby="{_esc(block.anchor)}">')
            open_section = True
        (body if open_section or body else head).append(_block_html(block))
    if open_section:
        body.append("</section>")
    items = "".join(f'<li><a href="#{_esc(h.anchor)}">{_esc(h.text)}</a></li>' for h in toc)
    nav = f'<nav aria-label="Contents"><h2 class="toc">Contents</h2><ol>{items}</ol></nav>'
    first = next((i for i, part in enumerate(body) if part == "</section>"), -1)
    if toc and toc[0].role == "first-screen" and first >= 0:
        # The first screen, then the contents, then the rest (all inside <main>, nav too).
        body.insert(first + 1, nav)
        nav = ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # An empty icon: without it a browser asks for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{_esc(title)}</title>\n<style>{stylesheet(title)}</style>\n</head>\n<body>\n"
        + "<header>\n"
        + "\n".join(head)
        + "\n</header>\n"
        + nav
        + "\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


# ------------------------------------------------------------ Markdown

# Markdown gets its own escaping (backslashes; CommonMark and pandoc show ``\<`` as ``<``):
# enough to stop emphasis, links, code, tables and raw HTML. '#', '-' and '+' only act at the
# start of a line, and every line here starts with text the report itself writes.
# '$' too: pandoc and other readers take $...$ for mathematics.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~<>$])")
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
    out = []
    for part in parts:
        if isinstance(part, Link) and not part.href.startswith("#"):
            out.append(f"[{md_escape(part.text)}]({_href(part)})")
        else:
            out.append(md_escape(part if isinstance(part, str) else part.text))
    return "".join(out)


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
        elif isinstance(block, Numbered):
            # No anchors in Markdown (no raw HTML): "[3]" in a table names reference 3.
            out.append(
                "\n".join(
                    f"{n}. {_inline_md(item)}" for n, item in enumerate(block.items, block.start)
                )
            )
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
            rel = Path(os.path.relpath(Path(block.svg).resolve(), base)).as_posix()
            alt = md_escape(block.alt or block.caption)
            out.append(f"![{alt}]({rel})\n\n*{md_escape(block.caption)}*")
        elif isinstance(block, Code):
            fence = "````" if "```" in block.text else "```"
            out.append(f"{fence}\n{block.text}\n{fence}")
    return "\n\n".join(out) + "\n"
