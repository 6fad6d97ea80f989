"""Figures whose text is the user's (method labels, screening reasons) fit it: nothing cut off at
the figure's edge or out of its box, nothing overlapping. Values here are SYNTHETIC."""

from __future__ import annotations

import numpy as np
import pytest


def _summary(proportions, taus, labels) -> dict:
    """A SYNTHETIC coverage summary: every method in every cell, some failing."""
    rows = [
        {
            "method": f"m{i}",
            "label": label,
            "true_proportion": p,
            "tau": t,
            "coverage": 0.9 + 0.01 * ((i + j) % 9),
            "failure_rate": 0.27 if (i + j) % 3 else 0,
        }  # fmt: skip
        for i, label in enumerate(labels)
        for j, (p, t) in enumerate((p, t) for p in proportions for t in taus)
    ]
    return {
        "summary": rows,
        "settings": {"level": 0.95, "replicates": 1000},
        "design": {"k": 7},
        "recommendation": {"method": "m0"},
    }


LONG = "Bayesian binomial-normal (uniform median proportion, half-normal(1) tau)"


@pytest.mark.parametrize(
    ("proportions", "taus", "labels"),
    [
        ([0.3, 0.5, 0.7, 0.9], [0.0, 0.5, 1.0], [LONG, "Exact common effect", "GLMM"]),
        ([0.5, 0.9], [0.0, 1.0], [LONG, "Logit, REML, Hartung-Knapp"]),
        ([0.5], [0.0], ["A"]),  # one cell, a one-letter label: the axis label is the widest
    ],
)
def test_the_coverage_heat_map_fits_every_label(proportions, taus, labels):
    # Nothing cut off at the figure's edges, tick labels side by side without touching, and
    # each cell's text inside its cell, however few cells and however long the labels.
    import matplotlib
    from matplotlib.text import Text

    from stsmeta.figures import coverage_heatmap as heatmap

    fig = heatmap.coverage_heatmap(_summary(proportions, taus, labels))
    with matplotlib.rc_context(heatmap._RC):
        fig.set_dpi(heatmap._DPI)  # as saved: hinted text is widest at the PNG's dpi
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    # Every label is drawn whole (wrapped onto lines at spaces or after hyphens).
    drawn = {"".join(t.get_text().split()) for t in texts}
    assert all(any("".join(label.split()) in d for d in drawn) for label in labels)
    for text in texts:
        box = text.get_window_extent(renderer)
        if not np.isfinite(box.extents).all():
            continue  # a colour-bar tick outside its range: not drawn
        assert page.x0 <= box.x0 and box.x1 <= page.x1, text.get_text()
        assert page.y0 <= box.y0 and box.y1 <= page.y1, text.get_text()
    ax = fig.axes[0]
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
    assert all(a.x1 < b.x0 for a, b in zip(ticks, ticks[1:], strict=False))
    # A page column wide (it was 11.6 in, and printed at page width its cell text was 4 pt).
    assert fig.get_figwidth() <= 7.2
    # A column per method, a row per grid cell: each cell's text inside its cell.
    cell_width = ax.bbox.width / len(labels)
    cell_height = ax.bbox.height / len(proportions) / len(taus)
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert box.width < cell_width and box.height < cell_height, text.get_text()
    # The colour bar marks the nominal level (the midpoint of its two slopes), and its tick
    # labels do not touch one another.
    bar = fig.axes[1]
    assert 0.95 in [round(t, 6) for t in bar.get_yticks()]
    labels_drawn = sorted(
        (t.get_window_extent(renderer) for t in bar.get_yticklabels() if t.get_text()),
        key=lambda b: b.y0,
    )
    assert all(a.y1 <= b.y0 for a, b in zip(labels_drawn, labels_drawn[1:], strict=False))


def test_the_coverage_heat_map_is_as_dark_under_the_nominal_level_as_over_it():
    # Two slopes (0.5 to 0.95, 0.95 to 1) coloured 1.00 navy and 0.89 nearly white; and a cell
    # whose method often gave no interval is hatched (its coverage counts only the others).
    from stsmeta.figures import coverage_heatmap as heatmap

    doc = _summary([0.5, 0.9], [0.0, 1.0], ["A", "B"])
    doc["recommendation"]["max_failure_rate"] = 0.01
    fig = heatmap.coverage_heatmap(doc)
    norm = fig.axes[0].images[0].norm
    assert abs(norm(0.90) - 0.5) == pytest.approx(abs(norm(1.00) - 0.5))
    assert norm(0.95) == pytest.approx(0.5)
    failing = sum(r["failure_rate"] > 0.01 for r in doc["summary"])
    hatched = [patch for patch in fig.axes[0].patches if patch.get_hatch()]
    assert failing and len(hatched) == failing


LONG_REASON = (
    "Review of intravenous and topical sodium thiosulfate, not a primary report; its reference "
    "list was hand-searched separately"
)


@pytest.mark.parametrize("reasons", [{LONG_REASON: 6, "Topical STS only": 3}, {"x" * 150: 1}])
def test_every_line_of_the_flow_diagram_stays_in_its_box(reasons):
    # A screening record's reason is free text of any length: each box's lines wrap to it.
    from collections import Counter

    from matplotlib.patches import Rectangle

    from stsmeta.figures import prisma
    from stsmeta.figures.style import figure_style
    from stsmeta.presentation.screening import FlowCounts

    excluded = sum(reasons.values())
    counts = FlowCounts(
        by_source=(("Outside check", "outside_check", 40),),
        identified=40, duplicates=2, screened=38, excluded_screening=Counter(reasons),
        excluded_assessment=Counter({LONG_REASON: 1}), included_reports=38 - excluded - 1,
        included_studies=("a",),
    )  # fmt: skip
    with figure_style():
        flow = prisma.prisma_flow_plot(counts, [("Complete remission " + "long " * 20, 1)])
        fig = flow.figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
    boxes = [
        patch for patch in fig.artists
        if isinstance(patch, Rectangle) and patch.get_x() in (prisma.LEFT[0], prisma.RIGHT[0])
    ]  # fmt: skip
    inside = 0
    for text in fig.texts:
        x, y = text.get_position()
        if x not in (prisma.LEFT[0] + prisma.PAD, prisma.RIGHT[0] + prisma.PAD):
            continue
        [box] = [
            b for b in boxes
            if abs(b.get_x() + prisma.PAD - x) < 1e-9 and b.get_y() < y < b.get_y() + b.get_height()
        ]  # fmt: skip
        want = box.get_window_extent(renderer)
        got = text.get_window_extent(renderer)
        assert want.x0 < got.x0 and got.x1 < want.x1, text.get_text()
        assert want.y0 < got.y0 and got.y1 < want.y1, text.get_text()
        inside += 1
    assert inside == 2 * 5  # every box of the five rows checked
    shown = "".join("".join(flow.texts).split()).replace("\u00a0", "")
    for reason in reasons:
        assert "".join(reason.split()) in shown  # wrapped, not cut
