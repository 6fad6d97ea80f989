"""Figure text: real text in the usual case; glyph outlines, a fixed number of artists and
parallel saving for very large evidence bases.

The table text of the figures is laid out by ``stsmeta.figures.glyphs``; below
``REAL_TEXT_MAX_CHARS`` it is drawn as text (selectable in SVG and PDF), above it as glyph
outlines (the speed path), which these tests hold to what matplotlib's own text layout gives.
Studies are the SYNTHETIC fixtures of tests/fixtures/pooled, copied to many ids where needed.
"""

from __future__ import annotations

import copy
import os
import random
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

from stsmeta.figures import glyphs as glyphs_module
from stsmeta.figures import write_figures
from stsmeta.figures.forest import forest_plot
from stsmeta.figures.glyphs import FAMILY, FONT_SIZE, GlyphText, glyph_text, line_width
from stsmeta.figures.risk_of_bias import risk_of_bias_plot
from stsmeta.figures.style import figure_style, new_figure
from stsmeta.outputs import FIGURE_FORMATS, figure_stems
from stsmeta.presentation.risk_of_bias import QUESTIONS

FIXTURES = Path(__file__).parent / "fixtures" / "pooled"


def matplotlib_width(text: str, bold: bool, size: float) -> float:
    prop = FontProperties(family=FAMILY, size=size, weight="bold" if bold else "normal")
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width


def test_line_width_is_what_matplotlib_measures():
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyzAVWTYLMI0123456789 .,;:()[]/%-–×τ²I²"
    for _ in range(200):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(1, 80)))
        bold = rng.random() < 0.5
        size = rng.choice([6.5, 7.0, 8.0])
        # Kerning pairs (AV, To, ...) included. HarfBuzz also joins "fi" and "fl" into
        # ligatures, which this layout does not: a few hundredths of a point each.
        assert line_width(text, bold, size) == pytest.approx(
            matplotlib_width(text, bold, size), rel=0.004, abs=0.02
        ), text


@pytest.mark.parametrize("ha", ["left", "center", "right"])
def test_a_block_sits_where_a_matplotlib_text_would(ha):
    text = "Synthetic Gamma-Longname-\nWith-A-Very-Long 2016\n0.500 [0.118, 0.882]"
    with figure_style():
        fig = new_figure(4, 2)
        fig.set_dpi(600)  # Agg measures hinted text; at high dpi hinting no longer shows
        glyphs = GlyphText(fig)
        glyphs.add(100.0, 70.0, text, ha=ha)
        reference = fig.text(100 / 288, 70 / 144, text, ha=ha, va="center", parse_math=False)
        fig.canvas.draw()
        expected = reference.get_window_extent(fig.canvas.get_renderer())
    [(drawn_text, box)] = glyphs.window_extents()
    assert drawn_text == text
    scale = fig.dpi / 72  # pixels a point
    for got, want in zip(box.extents, expected.extents, strict=True):
        assert got == pytest.approx(want, abs=0.3 * scale)


BLOCKS = [  # (x, y, text, options): points on a 4 x 2 inch figure
    (20.0, 120.0, "Baumgartner-Nielsen 2016   3/4", {}),
    (280.0, 120.0, "0.75 [0.19, 0.99]", {"ha": "right", "bold": True, "colour": "#D55E00"}),
    (144.0, 95.0, "Smith 2013", {"ha": "center", "url": "#study-smith-2013"}),
    (20.0, 50.0, "Synthetic Gamma-Longname-\nWith-A-Very-Long 2016\n0.500", {}),
    # Kerning pairs (AV, To) but no "fi" or "fl": HarfBuzz joins those into a ligature, which
    # GlyphText's layout does not (a right-aligned bold "fi" sits ~0.26 pt to the left).
    (280.0, 50.0, "AVWTo Pr\n10/12", {"ha": "right", "bold": True}),
]


def _svg_texts(path: Path) -> list[tuple[str | None, str, float, float, str]]:
    """(link, style, x, y, text) of each <text> element, in document order; (x, y) from its
    x and y attributes (an anchored line) or its translate() (a line of a multi-line block)."""
    import re
    import xml.etree.ElementTree as ET

    svg, xlink = "{http://www.w3.org/2000/svg}", "{http://www.w3.org/1999/xlink}"
    root = ET.parse(path).getroot()
    links = {child: a.get(f"{xlink}href") for a in root.iter(f"{svg}a") for child in a.iter()}
    found = []
    for element in root.iter(f"{svg}text"):
        if element.get("x") is not None:
            x, y = float(element.get("x")), float(element.get("y"))
        else:
            x, y = map(
                float, re.match(r"translate\((\S+) (\S+)\)", element.get("transform")).groups()
            )
        found.append((links.get(element), element.get("style"), x, y, element.text))
    return found


def test_real_text_is_drawn_where_matplotlib_draws_it(tmp_path):
    # Real text (SVG, PDF) is drawn at the positions GlyphText laid out, not laid out again by
    # matplotlib's Text: the same elements, styles, anchors and links as figure texts give,
    # within a hundredth of a point in SVG; in PDF each word's box within 0.06 pt (kerning by
    # FreeType's table here, by HarfBuzz in matplotlib's layout).
    import subprocess

    with figure_style():
        fig = new_figure(4, 2)
        glyphs = glyph_text(fig)
        reference = new_figure(4, 2)
        for x, y, text, options in BLOCKS:
            glyphs.add(x, y, text, **options)
            made = reference.text(
                x / 288, y / 144, text, ha=options.get("ha", "left"), va="center",
                fontsize=FONT_SIZE, fontfamily=FAMILY, parse_math=False,
                fontweight="bold" if options.get("bold") else "normal",
                color=options.get("colour", "black"),
            )  # fmt: skip
            made.set_url(options.get("url"))
        assert glyphs.real_text
        for figure, stem in ((fig, "drawn"), (reference, "text")):
            figure.savefig(tmp_path / f"{stem}.svg")
            figure.savefig(tmp_path / f"{stem}.pdf")
    got = _svg_texts(tmp_path / "drawn.svg")
    want = _svg_texts(tmp_path / "text.svg")
    assert len(got) == len(want) == 8  # one element a line
    for (link, style, x, y, text), (want_link, want_style, wx, wy, want_text) in zip(
        got, want, strict=True
    ):
        assert (link, style, text) == (want_link, want_style, want_text)
        assert x == pytest.approx(wx, abs=0.01) and y == pytest.approx(wy, abs=0.01), text

    def words(stem: str) -> list[tuple[str, list[float]]]:
        import re

        out = subprocess.run(
            ["pdftotext", "-bbox", str(tmp_path / f"{stem}.pdf"), "-"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return [
            (word, [float(v) for v in box])
            for *box, word in re.findall(
                r'xMin="([^"]*)" yMin="([^"]*)" xMax="([^"]*)" yMax="([^"]*)">([^<]*)<', out
            )
        ]

    got_words, want_words = words("drawn"), words("text")
    assert [w for w, _ in got_words] == [w for w, _ in want_words] and got_words
    for (word, box), (_, want_box) in zip(got_words, want_words, strict=True):
        assert box == pytest.approx(want_box, abs=0.06), word


@pytest.fixture
def speed_path(monkeypatch):
    """Every figure drawn as glyph outlines, as a very large evidence base is."""
    monkeypatch.setattr(glyphs_module, "REAL_TEXT_MAX_CHARS", 0)


def test_usual_figures_carry_real_text(inputs, tmp_path):
    import subprocess

    from stsmeta.figures.style import save_figure

    plan, pooled, studies = inputs
    result = pooled["complete_remission"]["primary"]
    with figure_style():
        forest = forest_plot(result, studies, outcome_label="Complete remission", primary_label="M")
    svg_path, pdf = save_figure(forest.figure, tmp_path, "forest", ("svg", "pdf"))
    shown = result["studies"][0]["study"]
    label = studies[shown]["label"]
    svg = svg_path.read_text()
    assert "<text" in svg and label in svg
    assert f'xlink:href="#study-{shown}"' in svg  # the label links to the study's reference
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert label in text and "Events/N" in text


def test_very_large_figures_take_the_speed_path():
    with figure_style():
        fig = new_figure(4, 2)
        glyphs = GlyphText(fig)
        glyphs.add(10, 20, "x" * (glyphs_module.REAL_TEXT_MAX_CHARS + 1))
    assert not glyphs.real_text and glyphs.lines()


def test_every_character_is_drawn_once(speed_path):
    with figure_style():
        fig = new_figure(4, 2)
        glyphs = GlyphText(fig)
        glyphs.add(10, 20, "abc aab\nτ² = 1", bold=True)
        glyphs.add(10, 60, "abc", colour="#D55E00")
        lines = glyphs.lines()
    drawn = sum(len(line.get_xdata()) for line in lines)
    assert drawn == len("abcaabτ²=1") + len("abc")
    # One marker line per (glyph, weight, size, colour): "a" bold black and "a" regular orange.
    assert len(lines) == len(set("abcτ²=1")) + len(set("abc"))


def _ink(path: Path) -> tuple[np.ndarray, int]:
    from PIL import Image

    dark = np.asarray(Image.open(path).convert("L")) < 128
    rows, cols = np.nonzero(dark)
    return np.array([cols.min(), rows.min(), cols.max(), rows.max()]), int(dark.sum())


def test_png_stamps_real_text_as_outlines_where_the_text_would_be(tmp_path, monkeypatch):
    # A PNG has no text to select: its table text is stamped glyph outlines (each rasterised
    # once), even below REAL_TEXT_MAX_CHARS, while SVG and PDF keep real text. The ink must be
    # where and what matplotlib's own text rendering gives.
    from matplotlib.text import Text

    text = "Baumgartner-Nielsen 2016   3/4   0.75 [0.19, 0.99]   AVWTo fi"
    drawn = []
    real_draw = Text.draw

    def counting_draw(self, renderer):
        drawn.append(self.get_text())
        return real_draw(self, renderer)

    with figure_style():
        fig = new_figure(4, 1)
        glyphs = GlyphText(fig)
        fig.add_artist(glyphs)
        glyphs.add(20, 36, text)
        assert glyphs.real_text
        monkeypatch.setattr(Text, "draw", counting_draw)
        fig.savefig(tmp_path / "stamped.png", dpi=300, facecolor="white")
        assert text not in drawn  # stamped, not laid out by FreeType
        monkeypatch.undo()
        fig.savefig(tmp_path / "stamped.svg")
        # The reference unhinted, as SVG and PDF viewers draw the text: FreeType's hinting in
        # matplotlib's own rasterising makes this line ~2% narrower at 300 dpi.
        with matplotlib.rc_context({"text.hinting": "no_hinting"}):
            reference = new_figure(4, 1)
            reference.text(
                20 / 288, 36 / 72, text, va="center", fontsize=FONT_SIZE, fontfamily=FAMILY,
                parse_math=False,
            )  # fmt: skip
            reference.savefig(tmp_path / "text.png", dpi=300, facecolor="white")
    svg = (tmp_path / "stamped.svg").read_text()
    assert f">{text}</text>" in svg  # vector formats: real text
    box, ink = _ink(tmp_path / "stamped.png")
    want_box, want_ink = _ink(tmp_path / "text.png")
    # Same extent to within 2 pixels at 300 dpi, and about the same amount of ink.
    assert np.abs(box - want_box).max() <= 2, (box, want_box)
    assert ink == pytest.approx(want_ink, rel=0.1)


def test_thin_glyphs_keep_their_ink_at_low_dpi(tmp_path, speed_path):
    # A tall figure's PNG has ~60 dpi: the stems of "l", "i" and "[" are under a pixel wide and
    # must not be snapped away.
    from PIL import Image

    with figure_style():
        fig = new_figure(2, 1)
        glyphs = GlyphText(fig)
        fig.add_artist(glyphs)
        glyphs.add(10, 36, "lllll iiiii [[[[[")
        fig.savefig(tmp_path / "thin.png", dpi=60, facecolor="white")
    ink = int((np.asarray(Image.open(tmp_path / "thin.png").convert("L")) < 200).sum())
    assert ink >= 15  # at least one dark pixel a character


def many_studies(pooled: dict, studies: dict, copies: int) -> tuple[dict, dict]:
    """The primary result and studies, each study repeated ``copies`` times under new ids."""
    result = copy.deepcopy(pooled["complete_remission"]["primary"])
    new_studies, entries = {}, []
    for i in range(copies):
        for entry in pooled["complete_remission"]["primary"]["studies"]:
            new_id = f"{entry['study']}-copy{i:04d}"
            info = copy.deepcopy(studies[entry["study"]])
            info["label"] = f"{info['label']} copy {i}"
            new_studies[new_id] = info
            entries.append({**entry, "study": new_id})
    result["studies"] = entries
    result["subgroups"] = {}
    return result, new_studies


def artist_count(figure) -> int:
    count = len(figure.artists) + len(figure.texts)
    for ax in figure.axes:
        count += len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.texts)
    for glyphs in figure.artists:
        if isinstance(glyphs, GlyphText):
            count += len(glyphs.lines())
    return count


def test_artists_do_not_grow_with_the_number_of_studies(inputs, speed_path):
    plan, pooled, studies = inputs
    counts = {}
    for copies in (2, 40):
        result, new_studies = many_studies(pooled, studies, copies)
        with figure_style():
            forest = forest_plot(
                result, new_studies, outcome_label="Complete remission", primary_label="GLMM"
            )
            rob = risk_of_bias_plot(new_studies)
        per_copy = len(pooled["complete_remission"]["primary"]["studies"])
        assert len(forest.rows_of("study")) == copies * per_copy
        assert len(rob.cells) == len(new_studies) * len(QUESTIONS)
        counts[copies] = (artist_count(forest.figure), artist_count(rob.figure))
    # Studies' labels add digits ("copy 39"), hence at most a few more glyph lines.
    for small, large in zip(counts[2], counts[40], strict=True):
        assert large <= small + 12


def test_risk_of_bias_draws_a_symbol_per_judged_cell(inputs):
    _, _, studies = inputs
    with figure_style():
        plot = risk_of_bias_plot(studies)
    [glyphs] = [a for a in plot.figure.artists if isinstance(a, GlyphText)]
    counts = glyphs.character_counts()
    for symbol in ("+", "×", "?", "–", "!"):
        judged = sum(
            1 for cell in plot.cells + plot.domain_cells if judgement_glyph(cell[2]) == symbol
        )
        in_labels = sum(label.count(symbol) for label in plot.labels)
        assert counts.get(symbol, 0) == judged + in_labels, symbol


def judgement_glyph(key: str) -> str:
    from stsmeta.presentation.risk_of_bias import DOMAIN_JUDGEMENTS, JUDGEMENTS

    return next(j.glyph for j in JUDGEMENTS + DOMAIN_JUDGEMENTS if j.key == key)


# A SYNTHETIC coverage summary (two methods, two cells), for the heat map.
SYNTHETIC_COVERAGE = {
    "settings": {"level": 0.95, "replicates": 10},
    "design": {"k": 3},
    "recommendation": {"method": "b"},
    "summary": [
        {"method": m, "label": m.upper(), "true_proportion": p, "tau": 0.5,
         "coverage": c, "failure_rate": f}
        for m, p, c, f in [("a", 0.3, 0.9, 0.0), ("a", 0.7, 0.8, 0.1), ("b", 0.3, 0.95, 0.0),
                           ("b", 0.7, None, 1.0)]
    ],
}  # fmt: skip


def test_parallel_saving_writes_the_same_bytes(inputs, tmp_path):
    # Three processes: two workers forked while the figures are drawn claim files side by side.
    processes = 3
    plan, pooled, studies = inputs
    kwargs = {"coverage": SYNTHETIC_COVERAGE}
    serial = write_figures(plan, pooled, studies, tmp_path / "serial", processes=1, **kwargs)
    parallel = write_figures(plan, pooled, studies, tmp_path / "par", processes=processes, **kwargs)
    # The documented order (figure_stems, then the heat map), whatever order they were drawn in.
    stems = [*figure_stems(plan.outcomes), "coverage"]
    assert [p.name for p in serial] == [f"{s}.{fmt}" for s in stems for fmt in FIGURE_FORMATS]
    assert [p.name for p in parallel] == [p.name for p in serial]
    assert sorted(p.name for p in (tmp_path / "par").iterdir()) == sorted(p.name for p in serial)
    for a, b in zip(serial, parallel, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_an_error_in_a_saving_process_reaches_the_caller(tmp_path):
    import time

    from stsmeta.figures import draw_and_save

    drawing = os.getpid()
    claimed = tmp_path / "claimed"

    def failing_saver(figure, outdir, stem, formats):
        # Fails in a worker only: this test is about an error crossing from a worker.
        if os.getpid() == drawing:
            return []
        claimed.touch()
        raise OSError(f"no space left on device writing {stem}.{formats[0]} in {os.getpid()}")

    def after_a_worker_failed(stem):
        def step():
            # Still drawing until a forked worker has claimed a file of the first figure and
            # failed (waiting at most a minute on a loaded machine).
            deadline = time.monotonic() + 60
            while not claimed.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return (new_figure(1, 1), tmp_path, stem)

        return step

    steps = [lambda: (new_figure(1, 1), tmp_path, "broken", failing_saver)]
    steps += [after_a_worker_failed(f"fine{i}") for i in range(3)]
    with pytest.raises(OSError, match="no space left on device writing broken") as caught:
        draw_and_save(steps, processes=2)
    # Raised in a worker, not in this process, and carried back with its type and message.
    assert claimed.exists()
    assert not str(caught.value).endswith(f"in {drawing}")
