"""The figures' canvas writes an opaque figure's PNG as RGB: the same pixels, dpi and text
chunks as matplotlib's own RGBA PNG; a figure with transparent pixels exactly as matplotlib."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from stsmeta.figures.canvas import FigureCanvas


def _figure(canvas_class) -> Figure:
    fig = Figure(figsize=(2, 1.5))
    canvas_class(fig)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], color="#D55E00", alpha=0.6)  # blended, antialiased ink
    ax.set_title("Synthetic 3/4")
    return fig


@pytest.mark.parametrize(
    "options",
    [
        {"metadata": {"Software": None}},
        {"metadata": {"Software": "stsmeta", "Title": "A"}, "bbox_inches": "tight"},
        {"pil_kwargs": {"compress_level": 2}},
    ],
)
def test_an_opaque_figure_is_matplotlibs_png_in_rgb(tmp_path, options):
    ours, theirs = tmp_path / "ours.png", tmp_path / "theirs.png"
    _figure(FigureCanvas).savefig(ours, dpi=150, facecolor="white", **options)
    _figure(FigureCanvasAgg).savefig(theirs, dpi=150, facecolor="white", **options)
    with Image.open(ours) as got, Image.open(theirs) as want:
        assert (got.mode, want.mode) == ("RGB", "RGBA")
        assert got.size == want.size and got.info == want.info  # dpi and text chunks
        assert np.array_equal(np.asarray(got), np.asarray(want)[..., :3])
        assert np.asarray(want)[..., 3].min() == 255
    assert ours.stat().st_size < theirs.stat().st_size


def test_a_figure_with_transparency_is_written_by_matplotlib(tmp_path):
    ours, theirs = tmp_path / "ours.png", tmp_path / "theirs.png"
    _figure(FigureCanvas).savefig(ours, dpi=100, transparent=True)
    _figure(FigureCanvasAgg).savefig(theirs, dpi=100, transparent=True)
    assert ours.read_bytes() == theirs.read_bytes()
    with Image.open(ours) as image:
        assert image.mode == "RGBA"
