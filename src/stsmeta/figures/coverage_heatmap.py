"""The coverage heat map: one column per method, one row per grid cell, colour = coverage.

Drawn by the figures job (``write_figures(coverage=...)``, saved by its processes like
every other figure) and by ``stsmeta coverage-figure``; both give the same bytes. Its look is its
own, not ``style.RC``: 7 pt text, 300 dpi, about 7 in wide (a page column: with a column per grid
cell it was 11.6 in wide, and printed at page width its cell text was 4 pt), its own SVG hash
salt and metadata. Deterministic output: the Agg backend, a fixed SVG hash salt and no dates
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
_DPI = 300
# Method labels are the user's text: mathtext off, so '$' is a dollar sign.
_RC = {
    "svg.hashsalt": "stsmeta-coverage",
    "font.family": "DejaVu Sans",
    "font.size": 7,
    "text.parse_math": False,
    "text.usetex": False,
}


def coverage_matrix(doc: Mapping):
    """Methods (method, label), grid cells (p, tau) and the coverage / failure-rate matrices
    (a row per method, a column per cell)."""
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


# Geometry in inches, for a page column of about 7 in (the report prints it at that width): one
# column per method (its label wrapped over it), one row per grid cell. The margins are measured
# from the labels themselves (DejaVu Sans metrics, figures/rows.py), so a long method label or
# title is never cut off, whatever the grid.
_COLUMN_WIDTH = 1.0  # a method's column: "0.99" and "27% fail" at 6.5 pt, its wrapped label
_ROW_HEIGHT = 0.3  # a grid cell's row: two lines of 6.5 pt
_LINE_HEIGHT = 0.125  # a line of 7 pt text
_EDGE = 0.15  # free space at the figure's edges
_TICKS = 0.1  # tick and the gap to its label
_BAR_GAP, _BAR_WIDTH = 0.12, 0.15
_BAR_LABELS = 0.55  # the colour bar's tick labels and its own label
_ROWS_ARE = "Rows: true pooled proportion p and between-study SD \u03c4 (logit scale)"
# Text widths are measured unhinted (as PDF and SVG draw them); FreeType's hinting in the PNG
# widens a line by up to ~4%: 6% leaves the margins a little to spare.
_HINTING = 1.06


def coverage_heatmap(doc: Mapping):
    """The heat map of a coverage summary JSON document, drawn (a matplotlib Figure)."""
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from stsmeta.figures.canvas import FigureCanvas
    from stsmeta.figures.rows import text_width_pt, wrap
    from stsmeta.figures.style import rc_from_defaults

    methods, cells, cov, fail = coverage_matrix(doc)
    level = float(doc["settings"]["level"])
    recommended = doc.get("recommendation", {}).get("method")
    size = float(_RC["font.size"])
    headers = [
        "\n".join(wrap(f"{label} \u2605" if method == recommended else label,
                       (_COLUMN_WIDTH - 0.12) * 72 / _HINTING, size=size))
        for method, label in methods
    ]  # fmt: skip
    row_labels = [f"p = {p:g}, \u03c4 = {t:g}" for p, t in cells]
    k = doc["design"]["k"]
    reps = doc["settings"]["replicates"]
    title = [
        f"Coverage of nominal {level:.0%} intervals, design of k={k} studies,",
        f"{reps} replicates per cell (\u2605 recommended). {_ROWS_ARE}",
    ]

    def inches(text: str) -> float:
        return text_width_pt(text, size=size) * _HINTING / 72

    grid_width = _COLUMN_WIDTH * len(methods)
    left = _EDGE + max((inches(label) for label in row_labels), default=0.0) + _TICKS
    width = max(
        left + grid_width + _BAR_GAP + _BAR_WIDTH + _BAR_LABELS + _EDGE,
        2 * _EDGE + max(inches(line) for line in title),
    )
    header_lines = max((h.count("\n") + 1 for h in headers), default=1)
    title_height = 2 * _LINE_HEIGHT + 0.2
    header_height = header_lines * _LINE_HEIGHT + _TICKS + 0.05
    grid = _ROW_HEIGHT * len(cells)
    height = title_height + header_height + grid + _EDGE
    with rc_from_defaults(_RC):
        # Not registered with pyplot (nothing to close, no pyplot import).
        fig = Figure(figsize=(width, height))
        FigureCanvas(fig)
        ax = fig.add_axes((left / width, _EDGE / height, grid_width / width, grid / height))
        bar_axes = fig.add_axes(
            (
                (left + grid_width + _BAR_GAP) / width,
                _EDGE / height,
                _BAR_WIDTH / width,
                grid / height,
            )
        )
        # Symmetric about the nominal level: a cell 0.05 under it is as dark as one 0.05 over
        # (with two slopes, 1.00 was navy while 0.89 was nearly white). Coverage beyond the
        # scale's ends takes the end's colour; each cell prints its value.
        half = max(1.0 - level, 0.01)
        norm = Normalize(vmin=level - half, vmax=level + half, clip=True)
        image = ax.imshow(cov.T, cmap="RdBu", norm=norm, aspect="auto")
        limit = (doc.get("recommendation") or {}).get("max_failure_rate")
        for j in range(len(methods)):
            for i in range(len(cells)):
                value = cov[j, i]
                text = "n/a" if value != value else f"{value:.3f}"  # as the tables print it
                if fail[j, i] > 0:
                    text += f"\n{fail[j, i]:.0%} fail"
                if limit is not None and fail[j, i] > float(limit):
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
                    j, i, text, ha="center", va="center", fontsize=6.5, linespacing=1.0,
                    color="white" if dark else "black",
                )  # fmt: skip
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels(headers)
        ax.xaxis.tick_top()
        ax.set_yticks(range(len(cells)))
        ax.set_yticklabels(row_labels)
        for index, line in enumerate(title):
            fig.text(
                _EDGE / width, 1 - (0.1 + (index + 0.5) * _LINE_HEIGHT) / height, line,
                ha="left", va="center", fontsize=size,
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
    from stsmeta.figures.style import prepare_saving, rc_from_defaults

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prepare_saving((path.suffix.lower().lstrip("."),))
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
