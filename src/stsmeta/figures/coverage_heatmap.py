"""The coverage heat map: one row per method, one column per grid cell, colour = coverage.

Drawn by the figures job (``write_figures(coverage=...)``, saved by its processes like
every other figure) and by ``stsmeta coverage-figure``; both give the same bytes. Its look is its
own, not ``style.RC``: 9 pt text, 150 dpi, its own SVG hash salt and metadata, as the heat map
has always been drawn. Deterministic output: the Agg backend, a fixed SVG hash salt and no dates
in SVG or PDF metadata, so that the same summary gives byte-identical files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

_METADATA = {
    ".svg": {"Date": None, "Creator": "stsmeta"},
    ".pdf": {"CreationDate": None, "ModDate": None, "Creator": "stsmeta", "Producer": "stsmeta"},
    ".png": {"Software": "stsmeta"},
}
_DPI = 150
# Method labels are the user's text: mathtext off, so '$' is a dollar sign.
_RC = {
    "svg.hashsalt": "stsmeta-coverage",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "text.parse_math": False,
    "text.usetex": False,
}


def coverage_matrix(doc: Mapping):
    """Rows (method, label), columns (p, tau) and the coverage / failure-rate matrices."""
    import numpy as np

    rows = sorted({(r["method"], r["label"]) for r in doc["summary"]})
    cols = sorted({(r["true_proportion"], r["tau"]) for r in doc["summary"]})
    cov = np.full((len(rows), len(cols)), np.nan)
    fail = np.zeros((len(rows), len(cols)))
    row_index = {m: i for i, (m, _) in enumerate(rows)}
    col_index = {c: j for j, c in enumerate(cols)}
    for r in doc["summary"]:
        i, j = row_index[r["method"]], col_index[(r["true_proportion"], r["tau"])]
        cov[i, j] = np.nan if r["coverage"] is None else r["coverage"]
        fail[i, j] = r["failure_rate"] or 0.0
    return rows, cols, cov, fail


# Geometry in inches. Each cell is wide enough for its two-line tick label at 9 pt and
# "27% fail" at 7 pt; the margins are measured from the labels themselves (DejaVu Sans metrics,
# figures/rows.py), so a long method label or title is never cut off, whatever the grid.
_CELL_WIDTH, _CELL_HEIGHT = 0.62, 0.5
# Method labels wrap at this width, so that a long label leaves the cells their room in a report
# column; a row grows with its label's lines.
_LABEL_WIDTH = 3.2
_LINE_HEIGHT = 0.16
_EDGE = 0.15  # free space at the figure's edges
_TICKS = 0.12  # tick and the gap to its label
_TITLE_HEIGHT = 0.45
_BOTTOM = 0.9  # two-line tick labels and the axis label under them
_BAR_GAP, _BAR_WIDTH = 0.12, 0.15
_BAR_LABELS = 0.75  # the colour bar's tick labels and its own label
_X_LABEL = "True pooled proportion p and between-study SD \u03c4 (logit scale)"
# Text widths are measured unhinted (as PDF and SVG draw them); FreeType's hinting in the PNG
# widens a line by up to ~4% at 150 dpi: 6% leaves the margins a little to spare.
_HINTING = 1.06


def coverage_heatmap(doc: Mapping):
    """The heat map of a coverage summary JSON document, drawn (a matplotlib Figure)."""
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from stsmeta.figures.canvas import FigureCanvas
    from stsmeta.figures.rows import text_width_pt, wrap
    from stsmeta.figures.style import rc_from_defaults

    rows, cols, cov, fail = coverage_matrix(doc)
    level = float(doc["settings"]["level"])
    recommended = doc.get("recommendation", {}).get("method")
    size = float(_RC["font.size"])
    labels = [
        "\n".join(wrap(f"{label} \u2605" if method == recommended else label, _LABEL_WIDTH * 72,
                       size=size))
        for method, label in rows
    ]  # fmt: skip
    k = doc["design"]["k"]
    reps = doc["settings"]["replicates"]
    title = (
        f"Coverage of nominal {level:.0%} intervals, design of k={k} studies, "
        f"{reps} replicates per cell (\u2605 recommended)"
    )

    def inches(text: str) -> float:
        return text_width_pt(text, size=size) * _HINTING / 72

    cells = _CELL_WIDTH * len(cols)
    # The axis label is centred under the cells: room for each half of it beside them.
    overhang = max(0.0, inches(_X_LABEL) / 2 - cells / 2)
    longest = max((inches(line) for label in labels for line in label.split("\n")), default=0.0)
    left = _EDGE + max(longest + _TICKS, overhang)
    width = max(
        left + cells + max(_BAR_GAP + _BAR_WIDTH + _BAR_LABELS, overhang + _EDGE),
        2 * _EDGE + inches(title),
    )
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    grid = max(_CELL_HEIGHT, _LINE_HEIGHT * lines + 0.12) * len(rows)
    height = _TITLE_HEIGHT + grid + _BOTTOM
    with rc_from_defaults(_RC):
        # Not registered with pyplot (nothing to close, no pyplot import).
        fig = Figure(figsize=(width, height))
        FigureCanvas(fig)
        ax = fig.add_axes((left / width, _BOTTOM / height, cells / width, grid / height))
        bar_axes = fig.add_axes(
            (
                (left + cells + _BAR_GAP) / width,
                _BOTTOM / height,
                _BAR_WIDTH / width,
                grid / height,
            )
        )
        # Symmetric about the nominal level: a cell 0.05 under it is as dark as one 0.05 over
        # (with two slopes, 1.00 was navy while 0.89 was nearly white). Coverage beyond the
        # scale's ends takes the end's colour; each cell prints its value.
        half = max(1.0 - level, 0.01)
        norm = Normalize(vmin=level - half, vmax=level + half, clip=True)
        image = ax.imshow(cov, cmap="RdBu", norm=norm, aspect="auto")
        limit = (doc.get("recommendation") or {}).get("max_failure_rate")
        for i in range(len(rows)):
            for j in range(len(cols)):
                value = cov[i, j]
                text = "n/a" if value != value else f"{value:.2f}"
                if fail[i, j] > 0:
                    text += f"\n{fail[i, j]:.0%} fail"
                if limit is not None and fail[i, j] > float(limit):
                    # Coverage counts only the replicates that gave an interval: a cell that
                    # fails more often than the rule allows is hatched, whatever its colour.
                    ax.add_patch(
                        Rectangle(
                            (j - 0.5, i - 0.5), 1, 1, fill=False, hatch="////",
                            edgecolor="#555555", linewidth=0,
                        )
                    )  # fmt: skip
                dark = value == value and abs(norm(value) - 0.5) > 0.35
                ax.text(
                    j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if dark else "black",
                )  # fmt: skip
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels([f"p={p:g}\n\u03c4={t:g}" for p, t in cols])
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels)
        ax.set_xlabel(_X_LABEL)
        fig.text(
            _EDGE / width, 1 - _TITLE_HEIGHT / 2 / height, title, ha="left", va="center",
            fontsize=size,
        )  # fmt: skip
        bar = fig.colorbar(image, cax=bar_axes, extend="min")
        bar.set_ticks(bar_ticks(level, half))
        bar.set_ticklabels([f"{t:g}" for t in bar.get_ticks()])
        bar.set_label("coverage")
    return fig


def bar_ticks(level: float, half: float) -> list[float]:
    """The colour bar's ticks: its ends and the nominal level, its midpoint (as the caption
    says); the arrow below marks coverage lower than the scale shows."""
    return [round(level - half, 6), level, round(level + half, 6)]


def save_heatmap_file(fig, path: Path | str) -> Path:
    """Write the drawn heat map to ``path`` (.png, .svg or .pdf, by its suffix)."""
    from stsmeta.figures.style import rc_from_defaults

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rc_from_defaults(_RC):
        fig.savefig(path, dpi=_DPI, metadata=_METADATA[path.suffix.lower()])
    return path


def save_heatmap(fig, outdir: Path | str, stem: str, formats: tuple[str, ...]) -> list[Path]:
    """``save_figure``'s signature for ``figures.draw_and_save``: ``<outdir>/<stem>.<fmt>``."""
    return [save_heatmap_file(fig, Path(outdir) / f"{stem}.{fmt}") for fmt in formats]


def save_coverage_heatmap(doc: Mapping, outputs: Sequence[str]) -> None:
    """Draw the heat map of a coverage summary JSON document and save it to each output file."""
    fig = coverage_heatmap(doc)
    for out in outputs:
        save_heatmap_file(fig, out)
