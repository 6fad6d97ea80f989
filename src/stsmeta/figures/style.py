"""Look and file output shared by every figure.

Colours are the Okabe & Ito (2008) colour-blind-safe palette, always paired with a marker
shape or a glyph so that nothing is told by colour alone. Files are written byte-identically
across runs: no dates or software strings in the metadata and a fixed SVG hash salt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from stsmeta.figures.pdf_fonts import install as install_pdf_fonts  # noqa: E402
from stsmeta.outputs import FIGURE_FORMATS  # noqa: E402

# Okabe & Ito (2008), "Color universal design".
from stsmeta.presentation.palette import (  # noqa: E402, F401 - the figures' colours, named here too
    BLACK,
    BLUE,
    BLUISH_GREEN,
    GREY,
    ORANGE,
    REDDISH_PURPLE,
    SKY_BLUE,
    VERMILLION,
    YELLOW,
)

# Secondary methods cycle through these (colour, marker) pairs, in config order.
SECONDARY_STYLES = (
    (BLUE, "D"),
    (VERMILLION, "s"),
    (BLUISH_GREEN, "^"),
    (REDDISH_PURPLE, "v"),
    (ORANGE, "o"),
    (SKY_BLUE, "P"),
)

PNG_DPI = 300
# A forest plot of hundreds of studies is hundreds of inches tall: at 300 dpi its PNG would pass
# Agg's limit of 2**16 pixels a side, and cost time in proportion. Such a PNG gets the dpi that
# makes it this tall (still readable when zoomed); figures up to ~55 inches keep 300 dpi.
PNG_MAX_PIXELS_TALL = 2**14
# zlib level 2, not 6: a third less time encoding a tall PNG, which comes out no larger (tall
# forest plots) or ~8% larger (an 11-study plot).
PNG_COMPRESS_LEVEL = 2

RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "font.size": 7,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "xtick.labelsize": 7,
    "axes.labelsize": 7,
    "svg.hashsalt": "stsmeta",  # fixed ids in SVG output
    # Text as text: selectable and searchable in SVG (and in the report, which inlines the SVG);
    # a viewer without DejaVu Sans substitutes a similar sans-serif font.
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "path.simplify": False,
    # Labels are the user's text: '$' is a dollar sign, never mathtext ('$\\undefinedmacro$'
    # in a label stopped the figures job). No figure uses mathtext on purpose.
    "text.parse_math": False,
    "text.usetex": False,
}

# Per-format metadata that would otherwise carry a clock time or a version string.
METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}


@contextmanager
def rc_from_defaults(rc: dict) -> Iterator[None]:
    """matplotlib's own defaults updated with ``rc``, whatever a matplotlibrc or a caller set:
    the same figure on every machine (and the result cache's key need not read the user's rc)."""
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(rc)
        yield


@contextmanager
def figure_style() -> Iterator[None]:
    """The rcParams every stsmeta figure is drawn and saved with."""
    with rc_from_defaults(RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure not registered with pyplot (no global state, nothing to close)."""
    from stsmeta.figures.canvas import FigureCanvas

    fig = Figure(figsize=(width, height))
    FigureCanvas(fig)
    return fig


def png_dpi(fig: Figure) -> float:
    """300 dpi, or less for a figure so tall that its PNG would pass ``PNG_MAX_PIXELS_TALL``."""
    height = fig.get_size_inches()[1]
    return min(PNG_DPI, PNG_MAX_PIXELS_TALL // max(height, 1e-9))


def prepare_saving(formats) -> None:
    """Set up, once per process, what saving in ``formats`` needs: for PDF, whose text is
    embedded TrueType (pdf.fonttype 42) subset by fontTools for every file, the subsetting
    without the OpenType layout tables from a font parsed once (figures/pdf_fonts.py). Only
    then: fontTools' import is a sixth of an SVG-only job's start-up."""
    if "pdf" in formats:
        install_pdf_fonts()


def save_figure(
    fig: Figure, outdir: Path | str, stem: str, formats: tuple[str, ...] = FIGURE_FORMATS
) -> list[Path]:
    """Write ``<outdir>/<stem>.{png,svg,pdf}`` (or ``formats``) deterministically; return paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    prepare_saving(formats)
    paths = []
    with figure_style():
        for fmt in formats:
            path = outdir / f"{stem}.{fmt}"
            fig.savefig(
                path,
                format=fmt,
                dpi=png_dpi(fig) if fmt == "png" else PNG_DPI,
                metadata=METADATA[fmt],
                facecolor="white",
                **({"pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}} if fmt == "png" else {}),
            )
            paths.append(path)
    return paths
