"""Risk-of-bias chart: studies by the eight questions of Murad et al. (2018), then the four domain
judgements and the overall judgement.

Murad MH, Sultan S, Haffar S, Bazerbachi F. Methodological quality and synthesis of case series
and case reports. BMJ Evid Based Med 2018;23:60-63. Four domains: selection (Q1),
ascertainment (Q2-Q3), causality (Q4-Q7), reporting (Q8). Each judgement is a colour of the
Okabe-Ito palette *and* a glyph, so the chart reads in grey scale and for colour-blind readers.
Domain and overall judgements (low, some concerns, high risk of bias) follow the questions; a study
file without them shows "not assessed" there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stsmeta.presentation.risk_of_bias import (
    DOMAIN_COLUMNS,
    DOMAIN_JUDGEMENTS,
    DOMAINS,
    JUDGEMENTS,
    QUESTION_TEXT,
    QUESTIONS,
    Judgement,
    domain_judgement_of,
    judgement_of,
)

if TYPE_CHECKING:  # drawing needs matplotlib; the report, which reads judgements, does not
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from stsmeta.figures.glyphs import GlyphText

LABEL_PAD_PT = 3.5


@dataclass(frozen=True)
class RiskOfBiasPlot:
    figure: Figure
    axes: Axes
    cells: tuple[tuple[str, str, str], ...]  # (study_id, question, judgement key)
    labels: tuple[str, ...]  # study labels as drawn (wrapped), top to bottom
    # (study_id, domain or "overall", judgement key), drawn right of the questions.
    domain_cells: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class _Grid:
    """Where the chart's columns and rows are, in figure fractions, inches and points."""

    width: float  # inches
    height: float  # inches
    legend_in: float  # height of the legend under the chart
    rows_in: float  # height of the rows
    x0: float  # left and right of the axes, figure fraction
    x1: float
    columns: int
    y_low: float  # the axes' y limits
    y_high: float

    def y_pt(self, y: float) -> float:
        return self.legend_in * 72 + (y - self.y_low) / (self.y_high - self.y_low) * (
            self.rows_in * 72
        )

    def x_pt(self, column: int) -> float:
        return (self.x0 + (self.x1 - self.x0) * (column - 0.5) / self.columns) * (self.width * 72)


def risk_of_bias_plot(studies: dict[str, dict], *, width: float = 7.0) -> RiskOfBiasPlot:
    """Chart ``studies`` ({study_id: normalised study}), one row per study by year and label."""
    from stsmeta.figures.glyphs import glyph_text
    from stsmeta.figures.rows import wrap
    from stsmeta.figures.style import new_figure

    # Publication order, as everywhere: year, then id; studies without a year last.
    order = sorted(
        studies,
        key=lambda s: (studies[s].get("year") is None, studies[s].get("year") or 0, s),
    )
    # Labels sit right-aligned left of the first column: 0.33 of the width is theirs.
    labels = ["\n".join(wrap(str(studies[s].get("label") or s), 0.32 * width * 72)) for s in order]
    lines = [label.count("\n") + 1 for label in labels]
    row_in = 0.2
    rows_in = sum(max(1, n * 0.75) for n in lines) * row_in + 0.1
    head_in, legend_in = 0.6, 0.7 + 0.15 * len(QUESTIONS)
    height = head_in + rows_in + legend_in
    fig = new_figure(width, height)
    x0, x1 = 0.36, 0.98
    ax = fig.add_axes((x0, legend_in / height, x1 - x0, rows_in / height))
    ys = _set_up_axes(ax, lines)
    # Labels and glyphs as glyph collections, circles as one scatter per judgement: a Text,
    # tick or scatter per cell made a chart of 1,000 studies take tens of seconds to save.
    text = glyph_text(fig)
    y_low, y_high = ax.get_ylim()
    grid = _Grid(
        width=width,
        height=height,
        legend_in=legend_in,
        rows_in=rows_in,
        x0=x0,
        x1=x1,
        columns=len(QUESTIONS) + len(DOMAIN_COLUMNS),
        y_low=y_low,
        y_high=y_high,
    )
    cells, domain_cells = _draw_judgements(ax, text, grid, studies, order, ys, labels)
    _draw_headings(fig, grid)
    # Only the judgements the chart shows: a legend entry for none ("Not assessed") is noise.
    used = {key for *_, key in cells} | {key for *_, key in domain_cells}
    _draw_legend(fig, grid, used)
    return RiskOfBiasPlot(
        figure=fig,
        axes=ax,
        cells=tuple(cells),
        labels=tuple(labels),
        domain_cells=tuple(domain_cells),
    )


def _set_up_axes(ax: Axes, lines: list[int]) -> list[float]:
    """Limits, column ticks and no frame; returns the centre of each study's row."""
    columns = len(QUESTIONS) + len(DOMAIN_COLUMNS)
    ax.set_xlim(0.5, columns + 0.5)
    ys, cursor = [], 0.0
    for n in lines:
        span = max(1, n * 0.75)
        ys.append(-(cursor + span / 2))
        cursor += span
    ax.set_ylim(-cursor - 0.25, 0.25)
    ax.set_xticks(
        range(1, columns + 1),
        [q.upper() for q in QUESTIONS] + [label for _, label in DOMAIN_COLUMNS],
        fontsize=6.5,
    )
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ys


def _draw_judgements(
    ax: Axes,
    text: GlyphText,
    grid: _Grid,
    studies: dict[str, dict],
    order: list[str],
    ys: list[float],
    labels: list[str],
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Study labels and one circle and glyph per judgement; returns the question and domain
    cells drawn."""
    label_right = grid.x0 * (grid.width * 72) - LABEL_PAD_PT
    cells, domain_cells = [], []
    every = (*JUDGEMENTS, *DOMAIN_JUDGEMENTS)
    by_judgement: dict[str, list[tuple[int, float]]] = {j.key: [] for j in every}
    for study_id, y, label in zip(order, ys, labels, strict=True):
        text.add(label_right, grid.y_pt(y), label, ha="right")
        for i, question in enumerate(QUESTIONS, start=1):
            judgement = judgement_of(studies[study_id], question)
            cells.append((study_id, question, judgement.key))
            by_judgement[judgement.key].append((i, y))
        for i, (domain, _) in enumerate(DOMAIN_COLUMNS, start=len(QUESTIONS) + 1):
            judgement = domain_judgement_of(studies[study_id], domain)
            domain_cells.append((study_id, domain, judgement.key))
            by_judgement[judgement.key].append((i, y))
    for judgement in every:
        points = by_judgement[judgement.key]
        if not points:
            continue
        ax.scatter(
            [i for i, _ in points],
            [y for _, y in points],
            s=95,
            color=judgement.colour,
            edgecolors="#333333",
            linewidths=0.5,
            zorder=2,
        )
        if judgement.glyph:
            for i, y in points:
                text.add_centred_glyph(
                    grid.x_pt(i), grid.y_pt(y), judgement.glyph, bold=True, size=8.0, colour="black"
                )
    return cells, domain_cells


def _draw_headings(fig: Figure, grid: _Grid) -> None:
    """Domain names above the question numbers, each with a rule over its columns."""
    from matplotlib.lines import Line2D

    from stsmeta.figures.style import BLACK

    x0, x1, columns, height = grid.x0, grid.x1, grid.columns, grid.height
    top = 1 - 0.12 / height
    headings = [
        (name, QUESTIONS.index(questions[0]) + 1, QUESTIONS.index(questions[-1]) + 1)
        for name, questions in DOMAINS
    ]
    headings.append(("Judgements", len(QUESTIONS) + 1, columns))
    for i, (name, first, last) in enumerate(headings):
        centre = x0 + (x1 - x0) * ((first + last) / 2 - 0.5) / columns
        # Alternate heights: "Selection" over one narrow column would run into "Ascertainment".
        y = top - (0.13 / height if i % 2 else 0.0)
        fig.text(centre, y, name, ha="center", va="center", fontweight="bold", fontsize=6.5)
        # A rule under the name over its columns: staggered names alone left it unclear
        # which questions a domain has (is Q7 causality or reporting?).
        left = x0 + (x1 - x0) * (first - 1 + 0.15) / columns
        right = x0 + (x1 - x0) * (last - 0.15) / columns
        fig.add_artist(Line2D([left, right], [y - 0.065 / height] * 2, color=BLACK, linewidth=0.5))


def _draw_legend(fig: Figure, grid: _Grid, used: set[str]) -> None:
    """Legend: glyph, colour and meaning of each judgement the chart ``used``; then the
    questions in full."""
    legend_in, height = grid.legend_in, grid.height
    for row, (title, judgements) in enumerate(
        (("Questions", JUDGEMENTS), ("Judgements", DOMAIN_JUDGEMENTS))
    ):
        shown = tuple(j for j in judgements if j.key in used) or judgements
        _legend_row(fig, (legend_in - 0.2 - 0.22 * row) / height, title, shown)
    for i, question in enumerate(QUESTIONS):
        fig.text(
            0.01,
            (legend_in - 0.64 - 0.15 * i) / height,
            f"{question.upper()}: {QUESTION_TEXT[question]}",
            ha="left",
            va="center",
            fontsize=6.5,
        )


def _legend_row(fig: Figure, y: float, title: str, judgements: tuple[Judgement, ...]) -> None:
    """One legend line: a title, then glyph, colour and meaning of each judgement."""
    fig.text(0.01, y, f"{title}:", ha="left", va="center", fontsize=6.5, fontweight="bold")
    for i, judgement in enumerate(judgements):
        x = 0.13 + i * 0.17
        fig.text(
            x,
            y,
            f"{judgement.glyph or ' '}",
            ha="left",
            va="center",
            fontweight="bold",
            bbox={
                "boxstyle": "circle,pad=0.25",
                "facecolor": judgement.colour,
                "edgecolor": "#333333",
                "linewidth": 0.5,
            },
        )
        fig.text(x + 0.03, y, judgement.label, ha="left", va="center", fontsize=6.5)
