"""Sensitivity plot: each named scenario and each leave-one-out analysis against the primary.

One row per scenario of the analysis plan (and per study left out, when the primary result
carries ``leave_one_out``), each with its pooled estimate and confidence interval from the
primary method; the primary analysis is drawn as a shaded band so that departures show.
"""

from __future__ import annotations

from stsmeta.figures.forest import ForestPlot, Notes, level_percent
from stsmeta.figures.rows import Row, TextColumn, draw_intervals, table_figure
from stsmeta.figures.style import BLACK, BLUE, SKY_BLUE, VERMILLION
from stsmeta.presentation import numbers


def result_row(kind: str, label: str, result: dict, study_id: str | None = None) -> Row:
    return Row(
        kind=kind,
        label=label,
        study_id=study_id,
        cells={
            "label": label,
            "k": numbers.count(result.get("k")),
            "events": numbers.events_over_n(result.get("events"), result.get("n")),
            "estimate": numbers.estimate_with_interval(
                result.get("estimate"), result.get("ci_low"), result.get("ci_high")
            ),
        },
        estimate=result.get("estimate"),
        low=result.get("ci_low"),
        high=result.get("ci_high"),
        bold=kind == "primary",
    )


def interval_columns(level: float, label_header: str, kind: str = "CI") -> list[TextColumn]:
    """The columns of a plot whose rows are all one method's; ``kind``: CI or CrI."""
    return [
        TextColumn("label", label_header, 0.01, 0.33),
        TextColumn("k", "k", 0.385, 0.03, ha="right"),
        TextColumn("events", "Events/N", 0.48, 0.08, ha="right"),
        TextColumn("estimate", f"Proportion [{level_percent(level)} {kind}]", 0.76, 0.2),
    ]


def band_note(primary: dict, level: float) -> str:
    """`` Shaded band: 95% CrI of the primary analysis.`` when the band is drawn (draw_rows),
    else nothing."""
    if not numbers.is_estimable(primary):
        return ""
    kind = numbers.interval_kind(primary)[0]
    return f" Shaded band: {level_percent(level)} {kind} of the primary analysis."


def draw_rows(plot, primary: dict) -> None:
    """Primary band and line, then a marker and interval per estimable row."""
    ax = plot.axes
    if numbers.is_estimable(primary):
        if primary.get("ci_low") is not None and primary.get("ci_high") is not None:
            ax.axvspan(
                primary["ci_low"],
                primary["ci_high"],
                color=SKY_BLUE,
                alpha=0.25,
                linewidth=0,
                zorder=0,
            )
        ax.axvline(primary["estimate"], color=BLACK, linestyle=(0, (2, 2)), linewidth=0.6, zorder=1)
    styles = {
        "primary": (BLACK, "D"),
        "scenario": (BLUE, "o"),
        "leave_one_out": (VERMILLION, "^"),
        "cumulative": (BLUE, "o"),
    }
    # One line collection and one scatter per kind of row, not one artist per row.
    for kind, (colour, marker) in styles.items():
        drawn = [p for p in plot.rows if p.row.kind == kind and p.row.estimate is not None]
        if not drawn:
            continue
        draw_intervals(ax, drawn, colors=colour, linewidths=0.9)
        ax.scatter(
            [p.row.estimate for p in drawn],
            [p.y for p in drawn],
            s=22,
            marker=marker,
            color=colour,
            zorder=3,
            edgecolors="none",
        )


def analysed_counts(result: dict) -> tuple:
    """The studies a result pooled, each with its events and n (empty when not given)."""
    return tuple(
        sorted(
            (str(s.get("study_id")), s.get("events"), s.get("n"))
            for s in result.get("included_studies") or []
            if isinstance(s, dict)
        )
    )


def sensitivity_plot(
    scenarios: dict[str, dict],
    *,
    scenario_labels: dict[str, str],
    studies: dict[str, dict],
    outcome_label: str,
    primary_label: str,
    level: float = 0.95,
) -> ForestPlot:
    """``scenarios`` maps scenario name to its pooled JSON; ``primary`` must be among them."""
    primary = scenarios.get("primary") or {}
    rows: list[Row] = []
    notes = Notes()
    seen: dict[tuple, str] = {}
    for name, result in scenarios.items():
        label = scenario_labels.get(name, name)
        rows.append(result_row("primary" if name == "primary" else "scenario", label, result))
        notes.not_estimable(label, result)
        # Two scenarios that keep the same studies with the same counts give the same row: said,
        # so that a reader does not take the agreement for robustness to two decisions.
        counts = analysed_counts(result)
        same = seen.setdefault(counts, label)
        if counts and same != label:
            notes.add(f"{label}: the same studies and counts as {same}, so the same result.")
    for study_id, result in sorted((primary.get("leave_one_out") or {}).items()):
        label = f"Without {(studies.get(study_id) or {}).get('label') or study_id}"
        rows.append(result_row("leave_one_out", label, result, study_id=study_id))
        notes.not_estimable(label, result)
    band = band_note(primary, level)
    marks = "Circles: named scenarios" + (
        "; triangles: leave-one-out." if primary.get("leave_one_out") else "."
    )
    notes.add(f"All rows: {primary_label}.{band} {marks}")
    plot = table_figure(
        interval_columns(level, "Scenario", numbers.interval_kind(primary)[0]),
        rows,
        plot_span=(0.50, 0.74),
        xlabel=f"Proportion ({outcome_label.lower()})",
        notes=notes.render(),
    )
    draw_rows(plot, primary)
    return ForestPlot(figure=plot.figure, axes=plot.axes, rows=plot.rows)
