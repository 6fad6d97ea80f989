"""Cumulative meta-analysis by publication year: the pooled estimate as each study is added.

Each row is the primary method refitted on the studies published up to and including the one
named (the ``cumulative`` list of the primary pooled JSON, in the order given there).
"""

from __future__ import annotations

from stsmeta.figures.forest import ForestPlot, Notes
from stsmeta.figures.rows import table_figure
from stsmeta.figures.sensitivity import band_note, draw_rows, interval_columns, result_row
from stsmeta.presentation import numbers


def cumulative_plot(
    pooled: dict,
    *,
    studies: dict[str, dict],
    outcome_label: str,
    primary_label: str,
    level: float = 0.95,
) -> ForestPlot:
    rows = []
    notes = Notes()
    for step in pooled.get("cumulative") or []:
        study_id = str(step.get("added_study"))
        name = (studies.get(study_id) or {}).get("label") or study_id
        year = step.get("year")
        shown = "n.d." if year is None else str(year)  # n.d.: no publication year known
        label = f"+ {name}" + (f" ({shown})" if shown not in name else "")
        rows.append(result_row("cumulative", label, step, study_id=study_id))
        notes.not_estimable(label, step)
    if not rows and not pooled.get("k"):
        notes.add("No study in the review gives counts for this outcome.")
    elif not rows:
        notes.add("The pooled results carry no cumulative analysis (cumulative_by_year off).")
    band = band_note(pooled, level)
    notes.add(f"Each row: {primary_label} on all studies up to and including the one added.{band}")
    if any(step.get("year") is None for step in pooled.get("cumulative") or []):
        # The order is by year; a study whose year is not known has no place in it.
        notes.add("Studies without a known publication year (n.d.) are added last.")
    plot = table_figure(
        interval_columns(level, "Study added (by year)", numbers.interval_kind(pooled)[0]),
        rows,
        plot_span=(0.50, 0.74),
        xlabel=f"Proportion ({outcome_label.lower()})",
        notes=notes.render(),
    )
    draw_rows(plot, pooled)
    return ForestPlot(figure=plot.figure, axes=plot.axes, rows=plot.rows)
