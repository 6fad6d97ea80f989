"""Faster font subsetting for PDF output, with the same bytes.

PDF text is embedded TrueType (``pdf.fonttype: 42``), subset by fontTools for every font of every
file: matplotlib's ``_backend_pdf_ps.get_glyphs_subset`` loads the font file afresh each time and
fontTools decompiles its glyph names, metrics and character map (~6,000 glyphs of DejaVu Sans) and
its OpenType layout tables, to keep ~100 glyphs. That was ~0.8 s of the figures job (24 subsets;
benchmarks/NOTES.md). Two changes, both wrapped around matplotlib's helper so that matplotlib
still builds the subsetting options and runs the subsetter:

- Layout tables: GSUB, GPOS, GDEF and kern are dropped (a PDF viewer never reads them: matplotlib
  has placed every glyph before subsetting). The rendered pages are pixel-identical, the text
  extractable, the files smaller.
- One parse per process: the font is loaded once, the tables fontTools would drop anyway are
  removed (so it no longer decompiles the layout tables only to drop them), the character map,
  glyph names and metrics are decompiled, and the result is pickled; each subset starts from a
  fresh unpickled copy, as independent of the others as a font read from its file. The subsetter
  sees the same font with the same options: the PDFs are byte-identical (tests/test_figures.py).

If a later matplotlib or fontTools changes these internals, each wrapper falls back to the plain
path (same output, old speed).
"""

from __future__ import annotations

import io
import os
import pickle

# Never read from an embedded PDF font (matplotlib lays the glyphs out itself).
LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "kern")
# Decompiled once per process and copied (the costly tables, each ~6,000 entries); the glyph
# outlines are not (their table is cheaper to decompile than to copy).
_PREPARED_TABLES = ("cmap", "post", "hmtx")

# (path, size, mtime, the load options that matter) -> the pickled prepared font.
_PREPARED: dict[tuple, bytes] = {}


def install() -> None:
    """Wrap matplotlib's PDF/PS font subsetting (once; a no-op when its internals differ)."""
    try:
        from fontTools import subset
        from matplotlib.backends import _backend_pdf_ps
    except ImportError:  # pragma: no cover - both ship with matplotlib
        return
    original = getattr(_backend_pdf_ps, "get_glyphs_subset", None)
    load_font = getattr(subset, "load_font", None)
    if original is None or load_font is None or getattr(original, "_stsmeta", False):
        return

    class Options(subset.Options):  # type: ignore[misc,name-defined]
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.drop_tables += [t for t in LAYOUT_TABLES if t not in self.drop_tables]

    def cached_load_font(fontfile, options, *args, **kwargs):
        if args or kwargs:  # not the call matplotlib makes today: the plain loader
            return load_font(fontfile, options, *args, **kwargs)
        return _prepared_copy(load_font, fontfile, options)

    # Swaps fontTools' module attributes for the duration of matplotlib's call: not for
    # threads saving PDFs at once (stsmeta saves figures in processes).
    def get_glyphs_subset(fontfile, glyphs):
        plain_options, plain_load = subset.Options, subset.load_font
        subset.Options, subset.load_font = Options, cached_load_font
        try:
            return original(fontfile, glyphs)
        finally:
            subset.Options, subset.load_font = plain_options, plain_load

    get_glyphs_subset._stsmeta = True  # type: ignore[attr-defined]
    _backend_pdf_ps.get_glyphs_subset = get_glyphs_subset


def _prepared_copy(load_font, fontfile, options):
    """A fresh copy of the prepared font: what ``load_font(fontfile, options)`` gives, with the
    tables ``options`` drops removed and the costly tables already decompiled."""
    try:
        path = os.fspath(fontfile)
        stat = os.stat(path)
    except (TypeError, OSError):
        return load_font(fontfile, options)
    key = (
        path,
        stat.st_size,
        stat.st_mtime_ns,
        options.font_number,
        options.recalc_bounds,
        options.recalc_timestamp,
        tuple(options.drop_tables),
    )
    prepared = _PREPARED.get(key)
    if prepared is None:
        prepared = _PREPARED[key] = _prepare(load_font, path, options)
    return pickle.loads(prepared)


def _prepare(load_font, path: str, options) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read()
    # From memory, so that the pickled font carries its own copy of the file (its reader).
    font = load_font(io.BytesIO(data), options)
    # What the subsetter's first step deletes (Subsetter._prune_pre_subset), deleted before it
    # runs: fontTools 4.6x decompiles the layout tables on entry (beyond64k) even when dropped.
    for tag in list(font.keys()):
        if tag != "GlyphOrder" and tag.strip() in options.drop_tables:
            del font[tag]
    for tag in _PREPARED_TABLES:
        if tag in font:
            font[tag]  # noqa: B018 - decompiles the table, kept in the pickle
    font.getGlyphOrder()
    return pickle.dumps(font, protocol=pickle.HIGHEST_PROTOCOL)
