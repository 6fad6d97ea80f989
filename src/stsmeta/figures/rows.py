"""A figure laid out as a table of text rows beside an interval plot.

Forest, sensitivity and cumulative plots share this layout: text columns at fixed positions
(in figure fractions), one plot column with a 0-1 proportion axis, and rows whose height
grows with the number of wrapped lines so that long labels wrap instead of overlapping.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stsmeta.figures.glyphs import FONT_SIZE, GlyphText, glyph_text, line_width
from stsmeta.figures.style import BLACK, new_figure
from stsmeta.presentation.links import study_anchor

LINE_IN = 0.15  # height of one text line, inches (7 pt type with 1.2 spacing, plus air)
TOP_PAD_IN = 0.08
AXIS_IN = 0.42  # tick labels and axis label under the plot
NOTE_WIDTH = 0.98  # figure fraction available to notes and the title


@dataclass(frozen=True)
class TextColumn:
    """A text column: its key in ``Row.cells``, header, x position and width (figure fractions).

    ``width`` is the room the column has; text is wrapped to fit it as measured in the font.
    """

    key: str
    header: str
    x: float
    width: float
    ha: str = "left"


@dataclass(frozen=True)
class Row:
    """One row of a table figure; the numbers say where to draw its mark, if any."""

    kind: str
    label: str
    cells: dict[str, str] = field(default_factory=dict)
    study_id: str | None = None
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    bold: bool = False
    widths: dict[str, float] = field(default_factory=dict)  # per-row width overrides
    # A pooled result known to mislead with these data (marked †, drawn grey): said here,
    # not read back from the label, which the configuration writes.
    misleading: bool = False


@dataclass(frozen=True)
class PlacedRow:
    """A row with its vertical position (axis data units; one text line = 1)."""

    row: Row
    y: float
    lines: int


@dataclass(frozen=True)
class TableFigure:
    figure: Figure
    axes: Axes
    rows: tuple[PlacedRow, ...]
    text: GlyphText  # every cell, header, title and note


def text_width_pt(text: str, bold: bool = False, size: float = FONT_SIZE) -> float:
    """Width of a line of text in points, in the figures' font (DejaVu Sans), as it is drawn."""
    return line_width(text, bold, size)


def wrap(text: str, width_pt: float, *, bold: bool = False, size: float = FONT_SIZE) -> list[str]:
    """Wrap on spaces and hyphens so that every line fits ``width_pt`` as measured.

    The widest character count whose lines all fit is used; words longer than the room are
    broken. A 4% margin covers the renderer's hinting.
    """
    if not text:
        return []
    room = 0.96 * width_pt
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        if text_width_pt(paragraph, bold, size) <= room:
            lines.append(paragraph)
            continue
        candidate: list[str] = []
        for chars in range(_widest_first_line(paragraph, room, bold, size), 0, -1):
            candidate = textwrap.wrap(paragraph, width=chars, break_on_hyphens=True)
            if all(text_width_pt(line, bold, size) <= room for line in candidate):
                break
        lines.extend(candidate or [""])
    return lines


def _first_line(paragraph: str, chars: int) -> str:
    # The first line depends only on the paragraph's start: wrapping a prefix a little longer
    # than the line gives the same first line at a fraction of the cost on long paragraphs.
    lines = textwrap.wrap(paragraph[: 3 * chars + 20], width=chars, break_on_hyphens=True)
    return lines[0] if lines else ""


def _widest_first_line(paragraph: str, room: float, bold: bool, size: float) -> int:
    """The largest character count whose first wrapped line fits ``room``: where to start.

    Scanning every count down from the paragraph's length made long paragraphs (a note naming
    hundreds of studies) quadratic. A wider count gives a first line that extends the narrower
    one's, so no wider count can fit, and the scan in ``wrap`` starting here returns what the
    scan from the paragraph's length returned. Binary search on that monotone test.
    """
    low, high = 1, len(paragraph)  # the answer lies in [low, high] unless nothing fits
    if text_width_pt(_first_line(paragraph, high), bold, size) <= room:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if text_width_pt(_first_line(paragraph, middle), bold, size) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def table_figure(
    columns: list[TextColumn],
    rows: list[Row],
    *,
    plot_span: tuple[float, float],
    xlabel: str,
    title: str = "",
    notes: list[str] | tuple[str, ...] = (),
    width: float = 7.0,
) -> TableFigure:
    """Lay out ``rows`` and return the figure, the plot axes and each row's y position."""
    pt = width * 72  # points per unit of figure fraction
    wrapped: list[dict[str, str]] = []
    placed_lines: list[int] = []
    for row in rows:
        cells = {}
        n_lines = 1
        for col in columns:
            room = row.widths.get(col.key, col.width) * pt
            lines = wrap(row.cells.get(col.key, ""), room, bold=row.bold)
            cells[col.key] = "\n".join(lines)
            n_lines = max(n_lines, len(lines))
        wrapped.append(cells)
        placed_lines.append(n_lines)
    headers = {col.key: "\n".join(wrap(col.header, col.width * pt, bold=True)) for col in columns}
    header_lines = max((h.count("\n") + 1 for h in headers.values() if h), default=1)
    title_lines = wrap(title, NOTE_WIDTH * pt, bold=True) if title else []
    note_lines = [line for note in notes for line in wrap(note, NOTE_WIDTH * pt)]

    total = sum(placed_lines)
    rows_in = (total + 1) * LINE_IN
    bottom_in = AXIS_IN + len(note_lines) * LINE_IN + TOP_PAD_IN
    top_in = TOP_PAD_IN + (len(title_lines) + header_lines + 0.5) * LINE_IN
    height = top_in + rows_in + bottom_in

    fig = new_figure(width, height)
    x0, x1 = plot_span
    ax = fig.add_axes((x0, bottom_in / height, x1 - x0, rows_in / height))
    ax.set_ylim(-total - 0.5, 0.5)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel(xlabel)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    # Text is placed in points from the figure's corner (see glyphs.py): a row's data y maps
    # to points through the axes' fixed position and limits.
    text = glyph_text(fig)
    fig_pt = width * 72

    def row_pt(y: float) -> float:
        return (bottom_in + (y + total + 0.5) * LINE_IN) * 72

    placed = []
    cursor = 0
    for row, cells, n_lines in zip(rows, wrapped, placed_lines, strict=True):
        y = -(cursor + (n_lines - 1) / 2)
        for col in columns:
            # A study's label links to its reference in the report (#study-<id>).
            url = f"#{study_anchor(row.study_id)}" if row.study_id and col.key == "study" else None
            text.add(col.x * fig_pt, row_pt(y), cells[col.key], ha=col.ha, bold=row.bold, url=url)
        placed.append(PlacedRow(row=row, y=y, lines=n_lines))
        cursor += n_lines

    header_pt = (bottom_in + rows_in + (header_lines / 2 + 0.25) * LINE_IN) * 72
    for col in columns:
        text.add(col.x * fig_pt, header_pt, headers[col.key], ha=col.ha, bold=True)
    if title_lines:
        title_pt = (height - TOP_PAD_IN - len(title_lines) * LINE_IN / 2) * 72
        text.add(0.01 * fig_pt, title_pt, "\n".join(title_lines), bold=True)
    if note_lines:
        notes_pt = (TOP_PAD_IN + len(note_lines) * LINE_IN / 2) * 72
        text.add(0.01 * fig_pt, notes_pt, "\n".join(note_lines))
    return TableFigure(figure=fig, axes=ax, rows=tuple(placed), text=text)


def draw_intervals(ax: Axes, placed: list[PlacedRow], **kwargs) -> None:
    """The interval lines of many rows as one collection (one artist, not one per row)."""
    from matplotlib.collections import LineCollection

    segments = [
        [(p.row.low, p.y), (p.row.high, p.y)]
        for p in placed
        if p.row.low is not None and p.row.high is not None
    ]
    if segments:
        # zorder 2: where a Line2D per row sat, above the primary band and line.
        lines = LineCollection(segments, capstyle="butt", zorder=2, **kwargs)
        ax.add_collection(lines, autolim=False)


def draw_prediction_bar(ax: Axes, y: float, low: float, high: float) -> None:
    """A prediction interval: a thick bar with end caps (the forest plots' last row)."""
    ax.errorbar(
        [(low + high) / 2],
        [y],
        xerr=[[(high - low) / 2]] * 2,
        fmt="none",
        ecolor=BLACK,
        elinewidth=1.6,
        capsize=2.5,
    )


def draw_diamond(
    ax: Axes,
    y: float,
    estimate: float,
    low: float,
    high: float,
    *,
    facecolor: str,
    edgecolor: str,
    half_height: float = 0.38,
) -> None:
    """A pooled-estimate diamond spanning its confidence interval."""
    from matplotlib.patches import Polygon

    ax.add_patch(
        Polygon(
            [(low, y), (estimate, y + half_height), (high, y), (estimate, y - half_height)],
            closed=True,
            facecolor=facecolor,
            edgecolor=edgecolor,
            linewidth=0.8,
        )
    )
