"""PDF font subsetting from a font parsed once per process (stsmeta/figures/pdf_fonts.py) gives
the bytes a fresh parse of the font file gives: subset by subset, and PDF by PDF."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stsmeta.figures import pdf_fonts
from stsmeta.figures.style import prepare_saving

# What saving a PDF sets up (the subsetting wrapper), done before any PDF is saved: the tests
# must not rely on another test of the same process having saved one first.
prepare_saving(("pdf",))

POOLED_FIXTURES = Path(__file__).parent / "fixtures" / "pooled"

# Each text's glyphs as one subset: ASCII, Greek and symbols of the figures, accented letters
# (composite glyphs, whose component ids the subsetter rewrites in place), ligatures; the first
# again after the others (a copy must not carry what an earlier subset did to the font).
TEXTS = (
    "Study 95% CI (k = 11) Baumgartner-Nielsen 2016",
    "\u03c4=0.5 p=0.1 \u2605 \u2264 \u2265 \u2013 \u2014 \u00b7",
    "\u00e0\u00e9\u00ee\u00f5\u00fc\u00e7\u00f1\u00c5\u00d8 \u01c5",
    "Study 95% CI (k = 11) Baumgartner-Nielsen 2016",
)


def _subsets(font_name: str, weight: str = "normal") -> list[tuple[bytes, dict]]:
    from matplotlib import font_manager
    from matplotlib.backends import _backend_pdf_ps
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family=font_name, weight=weight))
    font = FT2Font(path)
    arg = font_manager.FontPath(path, 0) if hasattr(font_manager, "FontPath") else path
    out = []
    for text in TEXTS:
        glyphs = {font.get_char_index(ord(c)) for c in text}
        with _backend_pdf_ps.get_glyphs_subset(arg, glyphs) as subset:
            data = _backend_pdf_ps.font_as_file(subset.font).getvalue()
            out.append((data, dict(subset.glyph_index_map)))
    return out


def _plain_load(load_font, fontfile, options):
    return load_font(fontfile, options)


@pytest.mark.parametrize("weight", ["normal", "bold"])
def test_a_subset_from_the_parsed_font_equals_one_from_the_file(monkeypatch, weight):
    pdf_fonts._PREPARED.clear()
    cached = _subsets("DejaVu Sans", weight)
    assert pdf_fonts._PREPARED, "the subsets did not go through the parsed font"
    monkeypatch.setattr(pdf_fonts, "_prepared_copy", _plain_load)
    fresh = _subsets("DejaVu Sans", weight)
    assert len(cached) == len(fresh) == len(TEXTS)
    for i, (a, b) in enumerate(zip(cached, fresh, strict=True)):
        assert a == b, TEXTS[i]
    assert cached[0] == cached[-1]


# Draws two figures with the plain loader (each subset parses the font file) and writes their
# PDFs; run in a fresh process, as the figures job's workers are.
FRESH = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from stsmeta.figures import pdf_fonts
    pdf_fonts._prepared_copy = lambda load_font, fontfile, options: load_font(fontfile, options)
    from stsmeta.figures.risk_of_bias import risk_of_bias_plot
    from stsmeta.figures.style import figure_style, save_figure
    from stsmeta.figures.cumulative import cumulative_plot
    from stsmeta.presentation.inputs import InputFiles, load_normalised, load_plan, load_pooled

    fixtures, out = Path(sys.argv[1]), Path(sys.argv[2])
    files = InputFiles()
    plan = load_plan(fixtures / "config.yaml", files)
    pooled = load_pooled(fixtures / "results" / "pool", plan, files)
    studies = load_normalised(sorted((fixtures / "results" / "normalised").glob("*.json")), files)
    with figure_style():
        rob = risk_of_bias_plot(studies).figure
        result = pooled["complete_remission"]["primary"]
        cumulative = cumulative_plot(
            result, studies=studies, outcome_label="Complete remission", primary_label="GLMM"
        ).figure
    save_figure(rob, out, "rob", ("pdf",))
    save_figure(cumulative, out, "cumulative", ("pdf",))
    """
)


def test_pdfs_drawn_in_one_process_equal_pdfs_from_a_fresh_parse(inputs, tmp_path):
    from stsmeta.figures.cumulative import cumulative_plot
    from stsmeta.figures.risk_of_bias import risk_of_bias_plot
    from stsmeta.figures.style import figure_style, save_figure

    plan, pooled, studies = inputs
    pdf_fonts._PREPARED.clear()
    here = tmp_path / "here"
    for _ in range(2):  # the second time every font comes from the parsed copy
        with figure_style():
            rob = risk_of_bias_plot(studies).figure
            cumulative = cumulative_plot(
                pooled["complete_remission"]["primary"],
                studies=studies,
                outcome_label="Complete remission",
                primary_label="GLMM",
            ).figure
        save_figure(rob, here, "rob", ("pdf",))
        save_figure(cumulative, here, "cumulative", ("pdf",))
    assert pdf_fonts._PREPARED
    fresh = tmp_path / "fresh"
    subprocess.run(
        [sys.executable, "-c", FRESH, str(POOLED_FIXTURES), str(fresh)], check=True, timeout=120
    )
    for name in ("rob.pdf", "cumulative.pdf"):
        assert (here / name).read_bytes() == (fresh / name).read_bytes(), name
