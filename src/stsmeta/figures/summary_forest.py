"""The forest plot of the first screen: each study and all studies combined, in percentages.

For the clinician, without statistics words: one row per study ("3 of 6", "50% (12% to 88%)"),
a diamond for all studies combined by the primary method, and the axis in percent. The full
forest plot (every method, subgroups, heterogeneity) is ``forest.py``.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from stsmeta.figures.forest import ForestPlot, publication_key
from stsmeta.figures.rows import (
    PlacedRow,
    Row,
    TextColumn,
    draw_diamond,
    draw_intervals,
    draw_prediction_bar,
    table_figure,
)
from stsmeta.figures.style import BLACK, BLUE
from stsmeta.presentation import numbers

WIDE_LABEL = 0.40


def in_words(estimate: object, low: object, high: object) -> str:
    """``50% (12% to 88%)``."""
    if not isinstance(estimate, int | float):
        return "no combined estimate"
    return f"{numbers.percent(estimate)} ({numbers.percent(low)} to {numbers.percent(high)})"


def summary_forest_plot(
    pooled: dict,
    studies: dict[str, dict],
    *,
    outcome_label: str,
    unit: str = "patients",
    level: float | None = None,
) -> ForestPlot:
    """Studies and all studies combined (the primary method of ``pooled``), in percent, with
    intervals at ``level`` (default: the level ``pooled`` was computed at)."""
    if level is None:
        level = float(pooled.get("confidence_level") or 0.95)
    percent = numbers.level(level)
    rows = _study_rows(pooled, studies)
    rows.append(_combined_row(pooled))
    notes = [
        f"Square: one study (larger for more {unit}); line: its {percent} interval. "
        "Diamond: all studies combined."
    ]
    if pooled.get("pi_low") is not None and pooled.get("pi_high") is not None:
        # What a clinic may see: where a new study like these would fall, wider than the
        # diamond (which is about the typical study).
        rows.append(_new_study_row(pooled))
        notes.append(f"Bar: where a new study's true rate may lie ({percent} prediction interval).")
    if not numbers.is_estimable(pooled):
        notes.append("No combined estimate: see the text above the figure.")
    table = table_figure(
        [
            TextColumn("study", "Study", 0.01, 0.30),
            TextColumn("events", f"{unit.capitalize()} with outcome", 0.47, 0.14, ha="right"),
            TextColumn("estimate", f"Percent ({percent} interval)", 0.76, 0.23),
        ],
        rows,
        plot_span=(0.50, 0.74),
        xlabel=f"{outcome_label} (% of {unit})",
        notes=notes,
    )
    ax = table.axes
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _draw(ax, table.rows)
    return ForestPlot(figure=table.figure, axes=ax, rows=table.rows)


def _study_rows(pooled: dict, studies: dict[str, dict]) -> list[Row]:
    """One row per study, in publication order."""
    entries = {str(e.get("study")): e for e in pooled.get("studies") or []}
    order = sorted(entries, key=lambda s: publication_key((studies.get(s) or {}).get("year"), s))
    rows = []
    for study_id in order:
        e = entries[study_id]
        label = str((studies.get(study_id) or {}).get("label") or study_id)
        rows.append(
            Row(
                kind="study",
                label=label,
                study_id=study_id,
                cells={
                    "study": label,
                    "events": f"{numbers.count(e.get('events'))} of {numbers.count(e.get('n'))}",
                    "estimate": in_words(e.get("proportion"), e.get("ci_low"), e.get("ci_high")),
                },
                estimate=e.get("proportion"),
                low=e.get("ci_low"),
                high=e.get("ci_high"),
                n=e.get("n"),
            )
        )
    return rows


def _combined_row(pooled: dict) -> Row:
    """All studies combined by the primary method."""
    combined = f"{numbers.count(pooled.get('events'))} of {numbers.count(pooled.get('n'))}"
    return Row(
        kind="pooled",
        label="All studies combined",
        cells={
            "study": "All studies combined",
            "events": combined,
            "estimate": in_words(
                pooled.get("estimate"), pooled.get("ci_low"), pooled.get("ci_high")
            ),
        },
        estimate=pooled.get("estimate"),
        low=pooled.get("ci_low"),
        high=pooled.get("ci_high"),
        bold=True,
        widths={"study": WIDE_LABEL},
    )


def _new_study_row(pooled: dict) -> Row:
    """Where a new study's true rate may lie (the primary method's prediction interval; its
    observed proportion, from a few patients, varies more)."""
    low, high = pooled.get("pi_low"), pooled.get("pi_high")
    return Row(
        kind="prediction",
        label="A new study",
        cells={
            "study": "A new study",
            "estimate": f"{numbers.percent(low)} to {numbers.percent(high)}",
        },
        low=low,
        high=high,
        widths={"study": WIDE_LABEL},
    )


def _draw(ax: Axes, placed_rows: tuple[PlacedRow, ...]) -> None:
    """Study squares and intervals, and the combined diamond."""
    drawn = [p for p in placed_rows if p.row.kind == "study" and p.row.estimate is not None]
    draw_intervals(ax, drawn, colors=BLUE, linewidths=0.9)
    max_n = max((p.row.n or 0 for p in drawn), default=1) or 1
    if drawn:
        ax.scatter(
            [p.row.estimate for p in drawn],
            [p.y for p in drawn],
            s=[10 + 60 * (p.row.n or 0) / max_n for p in drawn],
            marker="s",
            color=BLUE,
            edgecolors="none",
            zorder=3,
        )
    for placed in placed_rows:
        row = placed.row
        if row.kind == "pooled" and None not in (row.estimate, row.low, row.high):
            draw_diamond(
                ax, placed.y, row.estimate, row.low, row.high, facecolor=BLACK, edgecolor=BLACK
            )
        elif row.kind == "prediction":
            draw_prediction_bar(ax, placed.y, row.low, row.high)
