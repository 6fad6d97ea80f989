"""Forest plot of one outcome: studies, subgroup blocks, every pooling method, heterogeneity.

Study intervals are the exact intervals of the pooled JSON (Clopper & Pearson 1934); the
primary diamond is the primary method (by default the binomial-normal GLMM of Stijnen, Hamza
& Ozdemir 2010), with one row per secondary method beneath it, the prediction interval
(IntHout et al. 2016) and the heterogeneity statistics (Higgins et al. 2009). The layout follows
metafor's ``forest()`` (Viechtbauer 2010) with the numbers written out as text.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stsmeta.figures.rows import (
    PlacedRow,
    Row,
    TextColumn,
    draw_diamond,
    draw_intervals,
    draw_prediction_bar,
    table_figure,
)
from stsmeta.figures.style import BLACK, BLUE, GREY, SECONDARY_STYLES
from stsmeta.presentation import numbers
from stsmeta.presentation.wording import term, terms
from stsmeta.stats.results import MISLEADING_WARNINGS

STUDY_CI_NAMES = {"cp": "Clopper-Pearson exact", "wilson": "Wilson score"}
WIDE_LABEL = 0.40  # figure fraction: pooled-row labels span the study and type columns
HETEROGENEITY_WIDTH = 0.47


@dataclass(frozen=True)
class ForestPlot:
    """The figure plus its rows, so that tests can check structure rather than pixels."""

    figure: Figure
    axes: Axes
    rows: tuple[PlacedRow, ...]

    def rows_of(self, kind: str) -> list[PlacedRow]:
        return [r for r in self.rows if r.row.kind == kind]


def level_percent(level: float) -> str:
    return f"{100 * level:g}%"


def columns(level: float, weights: bool = True, types: bool = True) -> list[TextColumn]:
    """The text columns; ``types``: a calcinosis type column (not when the studies are grouped
    by it: the block headings say it already)."""
    cols = [
        TextColumn("study", "Study", 0.01, 0.245 if types else 0.38),
        *([TextColumn("type", "Calcinosis type", 0.27, 0.115)] if types else []),
        TextColumn("events", "Events/N", 0.47, 0.08, ha="right"),
        # Study rows have confidence intervals, a Bayesian pooled row a credible one: the notes
        # under the plot say which is which. Without a weight column, room for the header.
        TextColumn(
            "estimate",
            f"Proportion [{level_percent(level)} interval]",
            0.76,
            0.17 if weights else 0.235,
        ),
    ]
    if weights:
        cols.append(TextColumn("weight", "Weight", 0.995, 0.06, ha="right"))
    return cols


def study_row(entry: dict, studies: dict[str, dict]) -> Row:
    study_id = str(entry.get("study"))
    info = studies.get(study_id) or {}
    types = info.get("calcinosis_types") or []
    return Row(
        kind="study",
        label=str(info.get("label") or study_id),
        study_id=study_id,
        cells={
            "study": str(info.get("label") or study_id),
            "type": terms(sorted(str(t) for t in types), "calcinosis_type"),
            "events": numbers.events_over_n(entry.get("events"), entry.get("n")),
            "estimate": numbers.estimate_with_interval(
                entry.get("proportion"), entry.get("ci_low"), entry.get("ci_high")
            ),
            "weight": numbers.weight(entry.get("weight")),
        },
        estimate=entry.get("proportion"),
        low=entry.get("ci_low"),
        high=entry.get("ci_high"),
        n=entry.get("n"),
    )


def pooled_row(kind: str, label: str, result: dict, misleading: bool = False) -> Row:
    return Row(
        kind=kind,
        label=label,
        cells={
            "study": label,
            "events": numbers.events_over_n(result.get("events"), result.get("n")),
            "estimate": numbers.estimate_with_interval(
                result.get("estimate"), result.get("ci_low"), result.get("ci_high")
            ),
        },
        estimate=result.get("estimate"),
        low=result.get("ci_low"),
        high=result.get("ci_high"),
        bold=kind == "pooled",
        widths={"study": WIDE_LABEL},
        misleading=misleading,
    )


def heterogeneity_text(result: dict, level: float = 0.95) -> str:
    """τ² with its interval when the model gives one, I² where it is defined, and the test of
    homogeneity named for what it is (Cochran's Q, or a likelihood-ratio statistic: the two
    are not comparable, and the table's Q of another method is Cochran's)."""
    k = result.get("k")
    df = f"df = {k - 1}, " if isinstance(k, int) and k > 1 else ""
    tau2 = f"τ² = {numbers.tau2(result.get('tau2'))}"
    if result.get("tau2_ci_low") is not None and result.get("tau2_ci_high") is not None:
        kind = numbers.interval_kind(result)[0]
        tau2 += (
            f" ({level_percent(level)} {kind} {numbers.tau2(result['tau2_ci_low'])} to "
            f"{numbers.tau2(result['tau2_ci_high'])})"
        )
    i2 = (
        f"I² = {numbers.i2(result.get('i2'))}"
        if result.get("i2") is not None
        else "I² not defined for this model"
    )
    likelihood_ratio = str(result.get("q_test") or "").startswith("likelihood ratio")
    test = "LR χ²" if likelihood_ratio else "Q"
    return (
        f"Heterogeneity: {tau2}, {i2},\n"
        f"{test} = {numbers.q_statistic(result.get('q'))} "
        f"({df}p = {numbers.p_value(result.get('q_p'))})"
    )


def publication_key(year: object, study_id: str) -> tuple:
    return (not isinstance(year, int), year if isinstance(year, int) else 0, study_id)


def humanise(level: str, variable: str | None = None) -> str:
    words = term(level, variable)
    return words[:1].upper() + words[1:]


class Notes:
    """Notes under a plot; results not estimable for the same reason share one line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.unestimable: dict[str, list[str]] = {}

    def not_estimable(self, label: str, result: dict) -> None:
        if numbers.is_estimable(result):
            return
        warnings = [str(w) for w in result.get("warnings") or []]
        # The reasons are the "not estimable" warnings; other notes on the result (a subgroup
        # level's unassessable patients) are not why it has no estimate.
        why = [w for w in warnings if w.startswith("not estimable: ")] or warnings
        reasons = "; ".join(w.removeprefix("not estimable: ") for w in why)
        self.unestimable.setdefault(reasons or "no reason given", []).append(label)

    def add(self, text: str) -> None:
        self.lines.append(text)

    def render(self) -> list[str]:
        grouped = [
            f"Not estimable: {'; '.join(labels)} ({reason})."
            for reason, labels in self.unestimable.items()
        ]
        return grouped + self.lines


def forest_plot(
    pooled: dict,
    studies: dict[str, dict],
    *,
    outcome_label: str,
    primary_label: str,
    secondary_labels: dict[str, str] | None = None,
    subgroup_variable: str | None = None,
    subgroup_label: str = "",
    level: float = 0.95,
) -> ForestPlot:
    """Draw the forest plot of one pooled result (one outcome, one scenario).

    ``pooled`` is the analyse JSON; ``studies`` maps study ids to normalised studies (for the
    label and calcinosis types); ``subgroup_variable`` picks the blocks, if the JSON has them.
    """
    secondary_labels = secondary_labels or {}
    entries = list(pooled.get("studies") or [])
    rows: list[Row] = []
    notes = Notes()
    notes.not_estimable(primary_label, pooled)
    if numbers.is_estimable(pooled) and pooled.get("warnings"):
        notes.add(f"{primary_label}: " + "; ".join(str(w) for w in pooled["warnings"]))

    subgroups = (pooled.get("subgroups") or {}).get(subgroup_variable or "", {}) or {}
    by_id = {str(e.get("study")): e for e in entries}
    # Publication order; a study without a year (n.d.) last, as in the pooled JSON.
    order = sorted(by_id, key=lambda s: publication_key(studies.get(s, {}).get("year"), s))
    if subgroups:
        rows.extend(
            _subgroup_rows(
                subgroups, order, by_id, studies, notes, subgroup_variable, subgroup_label
            )
        )
    else:
        rows.extend(study_row(by_id[s], studies) for s in order)
    rows.extend(_summary_rows(pooled, primary_label, secondary_labels, notes, level))

    study_ci = (pooled.get("settings") or {}).get("study_ci", "cp")
    pooled_results = [pooled, *(pooled.get("secondary") or {}).values()]
    bayes = any(numbers.interval_kind(r)[0] == "CrI" for r in pooled_results)
    notes.add(
        f"Study intervals: {STUDY_CI_NAMES.get(study_ci, study_ci)} "
        f"{level_percent(level)} CI; marker size grows with n. Diamonds: pooled "
        f"estimates with {level_percent(level)} "
        + ("intervals (credible intervals for Bayesian methods, CI otherwise)" if bayes else "CI")
        + "; bar: prediction interval."
    )

    if numbers.is_estimable(pooled):
        notes.add(f"Dotted line: the primary method's estimate ({primary_label}).")
    weights = any(numbers.weight(e.get("weight")) != numbers.MISSING for e in entries)
    if entries and not weights:
        notes.add(f"{primary_label}: no study weights (the model has none).")
    table = table_figure(
        columns(level, weights, types=not (subgroups and subgroup_variable == "calcinosis_type")),
        rows,
        plot_span=(0.50, 0.74),
        xlabel=f"Proportion ({outcome_label.lower()})",
        notes=notes.render(),
    )
    ax = table.axes
    if numbers.is_estimable(pooled):
        ax.axvline(pooled["estimate"], color=GREY, linestyle=(0, (2, 2)), linewidth=0.6, zorder=0)
    _draw_studies(ax, table.rows)
    _draw_summaries(ax, table.rows)
    return ForestPlot(figure=table.figure, axes=ax, rows=table.rows)


def _subgroup_blocks(
    subgroups: dict, order: list[str]
) -> tuple[list[tuple[str, list[str], dict | None]], list[str]]:
    """One block per subgroup level (its studies in publication order), and the studies in none.

    A study in several levels goes in the first of them only.
    """
    placed: set[str] = set()
    blocks: list[tuple[str, list[str], dict | None]] = []
    for level_name in sorted(subgroups):
        result = subgroups[level_name] or {}
        in_level = {str(e.get("study")) for e in result.get("studies") or []}
        members = [s for s in order if s in in_level and s not in placed]
        placed.update(members)
        blocks.append((level_name, members, result))
    return blocks, [s for s in order if s not in placed]


def _note_studies_in_several_levels(
    subgroups: dict,
    blocks: list[tuple[str, list[str], dict | None]],
    studies: dict[str, dict],
    notes: Notes,
    subgroup_variable: str | None,
) -> None:
    # A study in several levels (e.g. two calcinosis types) is drawn once, in its first
    # level, and counted in each: say so rather than draw it twice.
    drawn_under = {s: name for name, members, _ in reversed(blocks) for s in members}
    for level_name in sorted(subgroups):
        for entry in (subgroups[level_name] or {}).get("studies") or []:
            study_id = str(entry.get("study"))
            first = drawn_under.get(study_id)
            if first is not None and first != level_name:
                label = (studies.get(study_id) or {}).get("label") or study_id
                notes.add(
                    f"{label} is drawn under {humanise(first, subgroup_variable)} and also "
                    f"counted in subgroup {humanise(level_name, subgroup_variable)}."
                )


def _subgroup_rows(
    subgroups: dict,
    order: list[str],
    by_id: dict[str, dict],
    studies: dict[str, dict],
    notes: Notes,
    subgroup_variable: str | None,
    subgroup_label: str,
) -> list[Row]:
    """The study rows in subgroup blocks: a heading, the studies, the subgroup's diamond."""
    rows: list[Row] = []
    blocks, rest = _subgroup_blocks(subgroups, order)
    _note_studies_in_several_levels(subgroups, blocks, studies, notes, subgroup_variable)
    if rest:
        blocks.append(("not classified", rest, None))
    for level_name, members, result in blocks:
        rows.append(
            Row(
                kind="subgroup",
                label=humanise(level_name, subgroup_variable),
                cells={"study": humanise(level_name, subgroup_variable)},
                bold=True,
                widths={"study": WIDE_LABEL},
            )
        )
        rows.extend(study_row(by_id[s], studies) for s in members)
        if result is not None and result.get("k") == 1:
            # One study is not pooled: its row is its result. A diamond beside it would show
            # the model's assumption (the Bayesian model's prior on tau pulls it in), drawn as
            # if it were a pooled result.
            if SINGLE_STUDY_NOTE not in notes.lines:
                notes.add(SINGLE_STUDY_NOTE)
        elif result is not None:
            k = result.get("k")
            label = f"Subgroup {humanise(level_name, subgroup_variable)} (k = {numbers.count(k)})"
            rows.append(pooled_row("subgroup_pooled", label, result))
            notes.not_estimable(
                f"{subgroup_label or 'Subgroup'}: {humanise(level_name, subgroup_variable)}",
                result,
            )
    return rows


SINGLE_STUDY_NOTE = (
    "A subgroup of one study has no pooled diamond: its study row is its result (the report's "
    "subgroup table gives the model's estimate)."
)

MISLEADING_NOTE = (
    "\u2020 Known to mislead with studies like these (see the report's notes to the tables): "
    "a Hartung-Knapp interval with a variance factor below 1 is too narrow, and Freeman-Tukey "
    "back-transformed with the harmonic mean of unequal n can be far off."
)


def _summary_rows(
    pooled: dict,
    primary_label: str,
    secondary_labels: dict[str, str],
    notes: Notes,
    level: float = 0.95,
) -> list[Row]:
    """The rows under the studies: primary, secondary methods, prediction, heterogeneity."""
    rows: list[Row] = []
    k = pooled.get("k")
    primary_text = f"Primary: {primary_label} (k = {numbers.count(k)})"
    rows.append(pooled_row("pooled", primary_text, pooled))
    secondary = pooled.get("secondary") or {}
    # The plan's order, then any method the plan does not name.
    for name in [m for m in secondary_labels if m in secondary] + [
        m for m in secondary if m not in secondary_labels
    ]:
        result = secondary[name] or {}
        label = str(secondary_labels.get(name) or result.get("label") or name)
        misleading = any(w in MISLEADING_WARNINGS for w in result.get("warnings") or [])
        if misleading:
            # Known to mislead with these data: marked here, as the report's text leaves it out
            # of the methods' quoted range.
            label += " \u2020"
            if MISLEADING_NOTE not in notes.lines:
                notes.add(MISLEADING_NOTE)
        rows.append(pooled_row("secondary", label, result, misleading))
        notes.not_estimable(label, result)
    rows.append(
        Row(
            kind="prediction",
            label="Prediction interval",
            cells={
                "study": f"Prediction interval ({primary_label})",
                "estimate": numbers.interval(pooled.get("pi_low"), pooled.get("pi_high")),
            },
            low=pooled.get("pi_low"),
            high=pooled.get("pi_high"),
            widths={"study": WIDE_LABEL},
        )
    )
    rows.append(
        Row(
            kind="heterogeneity",
            label="Heterogeneity",
            cells={"study": heterogeneity_text(pooled, level)},
            widths={"study": HETEROGENEITY_WIDTH},
        )
    )
    return rows


def _draw_studies(ax: Axes, placed_rows: tuple[PlacedRow, ...]) -> None:
    """Study intervals and squares (size growing with n)."""
    study_rows = [p for p in placed_rows if p.row.kind == "study"]
    max_n = max((p.row.n or 0 for p in study_rows), default=1) or 1
    # All studies in one line collection and one scatter: per-row artists cost per row.
    drawn = [p for p in study_rows if p.row.estimate is not None]
    draw_intervals(ax, drawn, colors=BLUE, linewidths=0.9)
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


def _draw_summaries(ax: Axes, placed_rows: tuple[PlacedRow, ...]) -> None:
    """Diamonds of the pooled rows and the prediction interval bar."""
    for placed_row in placed_rows:
        row, y = placed_row.row, placed_row.y
        if row.kind in ("pooled", "subgroup_pooled", "secondary") and row.estimate is not None:
            if row.kind == "secondary":
                index = [p.row for p in placed_rows if p.row.kind == "secondary"].index(row)
                colour = SECONDARY_STYLES[index % len(SECONDARY_STYLES)][0]
                # A method known to mislead with these data (†) is drawn grey: no colour of
                # its own that puts it beside the credible methods.
                face, edge = "white", GREY if row.misleading else colour
            else:
                face = edge = BLACK if row.kind == "pooled" else GREY
            if row.low is not None and row.high is not None:
                draw_diamond(ax, y, row.estimate, row.low, row.high, facecolor=face, edgecolor=edge)
        elif row.kind == "prediction" and row.low is not None and row.high is not None:
            draw_prediction_bar(ax, y, row.low, row.high)
