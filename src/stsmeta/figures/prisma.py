"""The PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71), from the screening records.

Identification, screening and inclusion as boxes with the counts of
``stsmeta.presentation.screening.flow_counts``; the last box separates the studies included in
the review from those included in each synthesis (from the pooled results). Text is real text
(selectable in SVG and PDF); the house style: DejaVu Sans, Okabe-Ito blue for the stage bars.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from stsmeta.figures.style import BLACK, BLUE, new_figure
from stsmeta.presentation.screening import FlowCounts, assessed_on_counts

WIDTH = 7.2  # inches
TEXT_SIZE = 7  # points, the boxes' text
LINE = 0.15  # inches per line of TEXT_SIZE text
PAD = 0.08
GAP = 0.28  # between rows
LEFT = (0.45, 3.55)  # x0, x1 of the main column (inches)
RIGHT = (4.0, 7.1)
KIND_WORDS = {
    "reference_list": "Reference lists",
    "targeted_lookup": "Targeted look-ups",
    "outside_check": "Outside check",
    "website": "Websites",
    # A series its authors sent to the review (their own patients; unpublished or in press).
    "author_submission": "Submitted by authors",
    "database": "Databases",
    "register": "Registers",
    "trial_register": "Trial registers",
}


@dataclass(frozen=True)
class FlowFigure:
    figure: Figure
    texts: tuple[str, ...]  # every box's text, in drawing order (for tests)


def _reasons(counter) -> list[str]:
    # A dash, not leading spaces: SVG viewers collapse leading white space in text.
    return [f"– {reason}: {n}" for reason, n in sorted(counter.items(), key=lambda kv: -kv[1])]


def _synthesis_lines(syntheses: list[tuple[str, int]]) -> list[str]:
    return ["Included in each synthesis:"] + [
        f"– {label}: {k} {'study' if k == 1 else 'studies'}" for label, k in syntheses
    ]


def _unrecorded(n_studies: int, syntheses: list[tuple[str, int]]) -> list[tuple[str, list, list]]:
    """Without screening records: only what the study files show, and say so."""
    return [
        (
            "Identification",
            [
                "Screening records not given:",
                "records identified, screened and",
                "excluded are not recorded",
            ],
            ["Not recorded"],
        ),
        (
            "Included",
            [f"Studies included in review (n = {n_studies})"],
            _synthesis_lines(syntheses),
        ),
    ]


def _boxes(counts: FlowCounts, syntheses: list[tuple[str, int]]) -> list[tuple[str, list, list]]:
    """(stage, main box lines, side box lines) per row."""
    by_kind: dict[str, int] = {}
    for _, kind, n in counts.by_source:
        word = KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())
        by_kind[word] = by_kind.get(word, 0) + n
    identified = [f"Records identified (n = {counts.identified})", "by source type:"]
    identified += [f"– {word}: {n}" for word, n in sorted(by_kind.items())]
    if not counts.databases_searched:
        identified.append("No bibliographic database or register searched")
    excluded_after = sum(counts.excluded_assessment.values())
    side_assessed = [f"Reports excluded (n = {excluded_after})"] + _reasons(
        counts.excluded_assessment
    )
    # Not exclusions: set apart under their own heading (they sat among the reasons).
    side_assessed += [
        "Neither excluded nor included:",
        f"– Awaiting classification: {counts.awaiting}",
        f"– Ongoing studies: {counts.ongoing}",
    ]
    # How much of each report was read: a reader weighs a review that read no full text
    # differently (PRISMA 2020 item 16a's flow counts do not say it).
    assessed = [f"Reports assessed for eligibility (n = {counts.assessed})", "read as:"] + [
        f"– {words}: {n}" for words, n in assessed_on_counts(counts)
    ]
    in_synthesis = _synthesis_lines(syntheses)
    return [
        (
            "Identification",
            identified,
            [f"Duplicate records removed (n = {counts.duplicates})"],
        ),
        (
            "Screening",
            [f"Records screened (n = {counts.screened})"],
            [f"Records excluded (n = {sum(counts.excluded_screening.values())})"]
            + _reasons(counts.excluded_screening),
        ),
        (
            "",
            [f"Reports sought for retrieval (n = {counts.sought})"],
            [f"Reports not retrieved (n = {counts.not_retrieved})"],
        ),
        ("", assessed, side_assessed),
        (
            "Included",
            [
                f"Studies included in review (n = {len(counts.included_studies)})",
                f"Reports of included studies (n = {counts.included_reports})",
            ],
            in_synthesis,
        ),
    ]


def _box(fig: Figure, x: tuple[float, float], top: float, lines: list[str], height: float):
    fig.add_artist(
        Rectangle(
            (x[0], top - height),
            x[1] - x[0],
            height,
            transform=fig.dpi_scale_trans,
            facecolor="white",
            edgecolor=BLACK,
            linewidth=0.7,
        )
    )
    fig.text(
        x[0] + PAD,
        top - PAD,
        "\n".join(lines),
        transform=fig.dpi_scale_trans,
        ha="left",
        va="top",
        fontsize=TEXT_SIZE,
        linespacing=1.35,
    )


# Continuation lines of a "– reason" item start under its text: no-break spaces, which SVG
# viewers keep (they collapse ordinary leading spaces).
_HANG = "\u00a0\u00a0\u00a0"


def _fit(lines: list[str], column: tuple[float, float]) -> list[str]:
    """Each line wrapped to the box's inner width: reasons and labels are the user's text (a
    screening record's reason, an outcome's label) and may be of any length."""
    from stsmeta.figures.rows import text_width_pt, wrap

    room = (column[1] - column[0] - 2 * PAD) * 72
    out: list[str] = []
    for line in lines:
        hang = _HANG if line.startswith("– ") else ""
        width = room - text_width_pt(hang, size=TEXT_SIZE)
        first, *rest = wrap(line, width, size=TEXT_SIZE) or [""]
        out += [first, *(hang + more for more in rest)]
    return out


def _arrow(fig: Figure, start: tuple[float, float], end: tuple[float, float]) -> None:
    fig.add_artist(
        FancyArrowPatch(
            start,
            end,
            transform=fig.dpi_scale_trans,
            arrowstyle="-|>",
            mutation_scale=8,
            color=BLACK,
            linewidth=0.7,
        )
    )


def prisma_flow_plot(
    counts: FlowCounts | None, syntheses: list[tuple[str, int]], n_studies: int = 0
) -> FlowFigure:
    """The flow diagram; ``syntheses`` is (outcome label, studies in its primary analysis).

    Without screening records (``counts`` None) it shows the ``n_studies`` of the study files
    and says that identification and screening were not recorded.
    """
    rows = _boxes(counts, syntheses) if counts is not None else _unrecorded(n_studies, syntheses)
    rows = [(stage, _fit(main, LEFT), _fit(side, RIGHT)) for stage, main, side in rows]
    heights = [max(len(main), len(side)) * LINE + 2 * PAD for _, main, side in rows]
    total = sum(heights) + GAP * (len(rows) - 1) + 0.5
    fig = new_figure(WIDTH, total)
    top = total - 0.3
    texts: list[str] = []
    stage_tops: list[tuple[str, float]] = []
    previous_bottom = None
    for (stage, main, side), height in zip(rows, heights, strict=True):
        if stage:
            stage_tops.append((stage, top))
        _box(fig, LEFT, top, main, height)
        _box(fig, RIGHT, top, side, height)
        texts += ["\n".join(main), "\n".join(side)]
        middle = (LEFT[0] + LEFT[1]) / 2
        if previous_bottom is not None:
            _arrow(fig, (middle, previous_bottom), (middle, top))
        if stage != "Included":
            # A rightward arrow means "left the flow"; the syntheses beside the included
            # studies are a breakdown of them, not an exit.
            _arrow(fig, (LEFT[1], top - height / 2), (RIGHT[0], top - height / 2))
        previous_bottom = top - height
        top -= height + GAP
    bottom = previous_bottom if previous_bottom is not None else 0.0
    # Stage bars on the left, as in the PRISMA 2020 template.
    for i, (stage, start) in enumerate(stage_tops):
        end = stage_tops[i + 1][1] + GAP / 2 if i + 1 < len(stage_tops) else bottom
        fig.add_artist(
            Rectangle(
                (0.1, end),
                0.22,
                start - end,
                transform=fig.dpi_scale_trans,
                facecolor=BLUE,
                edgecolor="none",
            )
        )
        fig.text(
            0.21,
            (start + end) / 2,
            stage,
            transform=fig.dpi_scale_trans,
            rotation=90,
            ha="center",
            va="center",
            color="white",
            fontsize=7.5,
            fontweight="bold",
        )
    fig.text(
        0.1,
        total - 0.12,
        "PRISMA 2020 flow diagram",
        transform=fig.dpi_scale_trans,
        ha="left",
        va="center",
        fontsize=8,
        fontweight="bold",
    )
    return FlowFigure(figure=fig, texts=tuple(texts))
