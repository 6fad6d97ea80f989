"""Table text of the figures: real text, or for very large figures glyph outlines.

Real text (the usual case): each block is a matplotlib ``Text``, written as text into SVG
(``svg.fonttype: none``) and PDF (embedded TrueType), so that study names and numbers can be
selected, searched and read by ``pdftotext`` and screen readers. Figures with more than
``REAL_TEXT_MAX_CHARS`` characters of table text (hundreds of studies) take the speed path below,
and so does every PNG: a raster has no text to select, and stamping each glyph rasterised once
took the PNGs of the shipped figures from 1.8 to 1.2 s (benchmarks/NOTES.md). The glyphs are the
same outlines at the same positions; only FreeType's hinting, which matplotlib applies to the
text it rasterises itself, is absent (at 300 dpi it moves an edge by a fraction of a pixel).

Speed path: one marker line per distinct glyph, not one Text per cell.

A matplotlib ``Text`` is laid out by FreeType and HarfBuzz on every draw, in every output format:
about 13 µs a character here, so a forest plot of 1,000 studies (some 100,000 characters, drawn
for PNG, SVG and PDF) spent most of a minute in text layout alone. Table text is plain, one font
(DejaVu Sans), left to right, so it is laid out here once: advance widths and pair kerning from
the font file, what matplotlib's layout gives for this font to within its "fi"/"fl" ligatures
(a few hundredths of a point), and line boxes as matplotlib 3.11 makes them. Every occurrence of
a glyph is one marker of that glyph's single marker-only ``Line2D``: PNG stamps the outline
rasterised once, SVG writes each outline once and ``<use>``s it (as ``svg.fonttype: path`` did),
PDF draws each outline once as an XObject and places it (text in the PDF is outlines, as in SVG).
Positions are in points from the figure's lower left corner, so they hold at every dpi.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path
from matplotlib.transforms import Affine2D, Bbox

FAMILY = "DejaVu Sans"
FONT_SIZE = 7.0
# Above this many characters of table text a figure is drawn with glyph outlines (speed path):
# a forest plot of ~150 studies has about 20,000; 1,000 studies (issue 6) about 100,000.
REAL_TEXT_MAX_CHARS = 20_000


@lru_cache(maxsize=4)
def _font(bold: bool):
    from matplotlib import ft2font
    from matplotlib.font_manager import FontProperties, findfont

    prop = FontProperties(family=FAMILY, weight="bold" if bold else "normal")
    font = ft2font.FT2Font(findfont(prop, fallback_to_default=False))
    # Unhinted metrics at 72 dpi: font units scaled straight to points (per unit of size).
    font.set_size(1.0, 72)
    return font


@lru_cache(maxsize=8192)
def _glyph(char: str, bold: bool) -> tuple[int, float]:
    """The glyph index of ``char`` and its advance in points per point of size."""
    from matplotlib import ft2font

    font = _font(bold)
    glyph = font.load_char(ord(char), flags=ft2font.LoadFlags.NO_HINTING)
    return font.get_char_index(ord(char)), glyph.linearHoriAdvance / 65536


@lru_cache(maxsize=65536)
def _kerning(left: int, right: int, bold: bool) -> float:
    from matplotlib import ft2font

    # 26.6 fixed point at 1 pt and 72 dpi: too coarse, so measure at 64 pt and scale back.
    font = _font(bold)
    font.set_size(64.0, 72)
    kern = font.get_kerning(left, right, ft2font.Kerning.UNFITTED) / 64 / 64
    font.set_size(1.0, 72)
    return kern


@lru_cache(maxsize=16384)
def advances(text: str, bold: bool = False, size: float = FONT_SIZE) -> tuple[float, ...]:
    """Pen position of each character of one line, then the line's width, in points."""
    pens = []
    pen = 0.0
    previous = None
    for char in drawable_text(text):
        index, advance = _glyph(char, bold)
        if previous is not None:
            pen += _kerning(previous, index, bold) * size
        pens.append(pen)
        pen += advance * size
        previous = index
    pens.append(pen)
    return tuple(pens)


def line_width(text: str, bold: bool = False, size: float = FONT_SIZE) -> float:
    """Width of one line of text in points, as ``advances`` lays it out."""
    return advances(text, bold, size)[-1]


@lru_cache(maxsize=16)
def line_metrics(bold: bool = False, size: float = FONT_SIZE) -> tuple[float, float, float]:
    """Ascent, descent and line gap of the font in points, from its OS/2 table.

    matplotlib (3.11, ``linespacing="normal"``) gives each line of a Text the font's ascent and
    descent plus, when there are several lines, the line gap; a single line has no gap.
    """
    font = _font(bold)
    table = font.get_sfnt_table("OS/2")
    scale = size / font.get_sfnt_table("head")["unitsPerEm"]
    return (
        table["sTypoAscender"] * scale,
        -table["sTypoDescender"] * scale,
        table["sTypoLineGap"] * scale,
    )


@lru_cache(maxsize=1024)
def glyph_path(char: str, bold: bool = False, size: float = FONT_SIZE) -> Path:
    """Outline of one character in points, pen at the origin, baseline at y = 0."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(family=FAMILY, weight="bold" if bold else "normal")
    try:
        return TextPath((0, 0), char, size=size, prop=prop)
    except AttributeError:
        # matplotlib 3.11 fails on a glyph without outline (a zero-width or format character
        # that validation did not refuse): draw nothing for it.
        return Path(np.empty((0, 2)))


def drawable_text(text: str) -> str:
    """``text`` with each character the font lacks shown as U+FFFD, the replacement character.

    Validation refuses such characters in every label (stsmeta.text_rules); this keeps a
    figure drawable, with a visible mark, should one reach it by another way.
    """
    from stsmeta.text_rules import drawable

    if text.isascii() and text.isprintable():
        return text
    font = drawable()
    return "".join(c if c == "\n" or ord(c) in font else "\ufffd" for c in text)


@lru_cache(maxsize=256)
def _ink_centre(char: str, bold: bool, size: float) -> tuple[float, float]:
    extents = glyph_path(char, bold, size).get_extents()
    return (extents.x0 + extents.x1) / 2, (extents.y0 + extents.y1) / 2


@dataclass(frozen=True)
class PlacedText:
    """A block of text as drawn: its lines and the box they fill, in figure points."""

    text: str
    box: Bbox  # points from the figure's lower left corner


class GlyphText(Artist):
    """Text blocks collected, then drawn as one marker line per (glyph, weight, size, colour).

    ``add`` mirrors ``Figure.text`` with ``va="center"`` for positions given in points; the
    blocks added are kept in ``placed`` so that tests can read the text and check boxes.
    """

    def __init__(self, figure: Figure) -> None:
        super().__init__()
        self.placed: list[PlacedText] = []
        self._figure = figure
        # (char, bold, size, colour) -> offsets of each occurrence (points).
        self._uses: dict[tuple[str, bool, float, str], list[tuple[float, float]]] = {}
        # Symbols centred in markers: always outlines (their ink, not their box, is centred).
        self._centred: dict[tuple[str, bool, float, str], list[tuple[float, float]]] = {}
        # Each block as added: (x, y, text, ha, bold, size, colour, url), for real text.
        self._blocks: list[tuple[float, float, str, str, bool, float, str, str | None]] = []
        # Each block's lines as laid out: (line, left, baseline) in points, for real text.
        self._runs: list[list[tuple[str, float, float]]] = []
        self._chars = 0
        # Built once for each way of drawing: {outlines of every block?: marker lines}.
        self._lines: dict[bool, list[Line2D]] = {}
        self._texts: list | None = None
        self.set_zorder(3)

    def get_texts(self) -> list[str]:
        return [p.text for p in self.placed]

    def character_counts(self) -> dict[str, int]:
        """How many times each character is drawn (blocks and centred glyphs)."""
        counts: dict[str, int] = {}
        for uses in (self._uses, self._centred):
            for (char, *_), offsets in uses.items():
                counts[char] = counts.get(char, 0) + len(offsets)
        return counts

    def add(
        self,
        x: float,
        y: float,
        text: str,
        *,
        ha: str = "left",
        bold: bool = False,
        size: float = FONT_SIZE,
        colour: str = "black",
        url: str | None = None,
    ) -> None:
        """Lines of ``text`` centred vertically on ``y``, aligned on ``x`` (points), as Text.

        ``url``: a link target for the block (SVG and PDF, real text only).
        """
        if not text:
            return
        text = drawable_text(text)
        ascent, descent, gap = line_metrics(bold, size)
        lines = text.split("\n")
        if len(lines) == 1:
            gap = 0.0
        pitch = ascent + descent + gap  # baseline to baseline, as matplotlib lays out lines
        height = len(lines) * pitch
        top = y + height / 2
        widths = []
        runs = []
        for i, line in enumerate(lines):
            pens = advances(line, bold, size)
            width = pens[-1]
            widths.append(width)
            left = x - {"left": 0.0, "center": width / 2, "right": width}[ha]
            baseline = top - gap / 2 - ascent - i * pitch
            runs.append((line, left, baseline))
            for char, pen in zip(line, pens, strict=False):
                if not char.isspace():
                    key = (char, bold, size, colour)
                    self._uses.setdefault(key, []).append((left + pen, baseline))
        widest = max(widths)
        x0 = x - {"left": 0.0, "center": widest / 2, "right": widest}[ha]
        self.placed.append(PlacedText(text, Bbox([[x0, top - height], [x0 + widest, top]])))
        self._blocks.append((x, y, text, ha, bold, size, colour, url))
        self._runs.append(runs)
        self._chars += len(text)
        self._lines = {}
        self._texts = None

    @property
    def real_text(self) -> bool:
        """Whether the blocks are drawn as text (else as glyph outlines, the speed path)."""
        return self._chars <= REAL_TEXT_MAX_CHARS

    def add_centred_glyph(
        self, x: float, y: float, char: str, *, bold: bool, size: float, colour: str
    ) -> None:
        """One character whose ink is centred on (x, y) points: a symbol inside a marker."""
        dx, dy = _ink_centre(char, bold, size)
        pen = (x - dx, y - dy)
        self._centred.setdefault((char, bold, size, colour), []).append(pen)
        self._lines = {}

    def texts(self) -> list:
        """One ``Text`` per block (real-text mode), built once."""
        from matplotlib.text import Text

        if self._texts is None:
            points = Affine2D().scale(1 / 72) + self._figure.dpi_scale_trans
            self._texts = []
            for x, y, text, ha, bold, size, colour, url in self._blocks:
                artist = Text(
                    x,
                    y,
                    text,
                    ha=ha,
                    va="center",
                    fontsize=size,
                    fontfamily=FAMILY,
                    fontweight="bold" if bold else "normal",
                    color=colour,
                    transform=points,
                    parse_math=False,  # study text is data: "$" is a dollar sign
                )
                artist.set_figure(self._figure)
                if url:
                    artist.set_url(url)
                self._texts.append(artist)
        return self._texts

    def lines(self, outlines: bool | None = None) -> list[Line2D]:
        """One marker-only ``Line2D`` per (glyph, weight, size, colour), built once.

        ``outlines``: whether the blocks are drawn as outlines too, not only the centred glyphs
        (default: the speed path's choice, ``not real_text``).
        """
        if outlines is None:
            outlines = not self.real_text
        if outlines not in self._lines:
            points = Affine2D().scale(1 / 72) + self._figure.dpi_scale_trans
            lines = self._lines[outlines] = []
            uses = dict(self._centred)
            if outlines:
                for key, offsets in self._uses.items():
                    uses.setdefault(key, []).extend(offsets)
            for (char, bold, size, colour), offsets in sorted(uses.items()):
                path = glyph_path(char, bold, size)
                if not len(path.vertices):
                    continue
                # A marker path is scaled by markersize * 0.5 / max|vertex|: undo that, so the
                # glyph keeps its size in points; the pen origin is the marker's anchor.
                extent = float(np.max(np.abs(path.vertices)))
                xy = np.asarray(offsets, dtype=float)
                marker = MarkerStyle(path)
                # Snapping rounds a rectilinear marker ("l", "i", "[") to whole pixels: at the
                # low dpi of a tall PNG its stem collapses to nothing. matplotlib snaps markers
                # at least this many pixels wide; there is no public setter (3.11).
                marker._snap_threshold = math.inf
                line = Line2D(
                    xy[:, 0],
                    xy[:, 1],
                    linestyle="none",
                    marker=marker,
                    markersize=2 * extent,
                    markerfacecolor=colour,
                    markeredgecolor="none",
                    markeredgewidth=0,
                    transform=points,
                )
                line.set_figure(self._figure)
                lines.append(line)
        return self._lines[outlines]

    def window_extents(self) -> list[tuple[str, Bbox]]:
        """Each block's text and box in display pixels (for overlap checks)."""
        scale = self._figure.dpi / 72
        return [(p.text, Bbox(p.box.get_points() * scale)) for p in self.placed]

    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        outlines = not self.real_text or _is_raster(renderer)
        for line in self.lines(outlines):
            line.draw(renderer)
        if not outlines:
            self._draw_text(renderer)
        self.stale = False

    def _draw_text(self, renderer) -> None:
        """Each block's lines drawn as text where ``add`` laid them out.

        What ``Text.draw`` does for a block, less its layout: it measures every line again with
        FreeType, in every format, to find positions ``add`` already has (to a few hundredths
        of a point; a right-aligned "fi" or "fl", which HarfBuzz joins, up to ~0.26 pt:
        tests/test_figures_glyphs.py). That was about a third of saving an SVG and a tenth of a
        PDF (benchmarks/NOTES.md). As in ``Text.draw``, a one-line block passes its ``Text`` to
        the renderer, so that SVG anchors it (``text-anchor``) and a viewer that substitutes
        another font keeps the column aligned.
        """
        from matplotlib.colors import to_rgba

        scale = self._figure.dpi / 72  # display units a point
        # y from the top (SVG) or from the bottom (PDF), in display units.
        top = renderer.get_canvas_width_height()[1] if renderer.flipy() else None
        for text, runs in zip(self.texts(), self._runs, strict=True):
            renderer.open_group("text", text.get_gid())
            gc = renderer.new_gc()
            gc.set_foreground(to_rgba(text.get_color()), isRGBA=True)
            gc.set_alpha(text.get_alpha())
            gc.set_url(text.get_url())
            gc.set_antialiased(text.get_antialiased())
            gc.set_snap(text.get_snap())
            anchor = text if len(runs) == 1 else None
            for line, left, baseline in runs:
                y = baseline * scale if top is None else top - baseline * scale
                renderer.draw_text(
                    gc, left * scale, y, line, text.get_fontproperties(), 0.0, mtext=anchor
                )
            gc.restore()
            renderer.close_group("text")


def _is_raster(renderer) -> bool:
    """Whether ``renderer`` paints pixels (PNG), where text cannot be selected anyway."""
    from matplotlib.backends.backend_agg import RendererAgg

    return isinstance(renderer, RendererAgg)


def glyph_text(figure: Figure) -> GlyphText:
    """A ``GlyphText`` added to ``figure``."""
    artist = GlyphText(figure)
    figure.add_artist(artist)
    return artist
