"""Which characters text may hold, so that every text that passes validation can be drawn.

Decided per character class (docs/data-dictionary.md, "Characters allowed in text"):

- control characters (NUL, escape, carriage return, ...; Unicode category Cc): never, except a
  line break or tab inside free text such as a definition or a note. They are invisible, break
  terminals and CSV files, and most are not even valid YAML;
- format characters (soft hyphen, zero-width space and joiners, left-to-right and right-to-left
  marks and overrides, byte order mark; category Cf), unassigned and private-use code points
  and surrogates: never. They are invisible, so the same-looking text can differ (a study label
  with a hidden character is another label) or display reordered (bidi overrides);
- labels drawn in the figures (a study's ``label``; the labels of outcomes, methods, scenarios
  and subgroups in config.yaml): one line, at most ``LABEL_MAX`` characters, and only characters
  that the figures' font (DejaVu Sans, shipped with matplotlib, so the same on every machine)
  has a glyph for: Latin with accents, Greek, Cyrillic and common symbols, but not CJK; and no
  right-to-left letters (Arabic, Hebrew), which the figures' left-to-right layout would reverse.
  A study known by a name in another script is labelled by its romanised name (as PubMed lists
  it). No word of a label mixes Latin, Greek and Cyrillic letters, and no Cyrillic letter stands
  among digits: a Cyrillic "о" or Greek "ο" among Latin letters, or in a year ("Smith 2О13"),
  looks like the Latin letter or the digit, so the label would read as another study's but
  differ from it (the mixed-script check of Unicode's security mechanisms, UTS #39, reduced to
  the scripts the font has).

``$`` and ``{}`` are ordinary characters: figures draw text with mathtext off, and no label is
ever formatted as a Snakemake pattern.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

LABEL_MAX = 80
# Longest text of any kind: a definition or a reason is a paragraph, never a chapter.
TEXT_MAX = 10_000

# Categories refused everywhere: control (Cc) is handled apart (line break and tab allowed in
# free text), format (Cf), surrogate (Cs), private use (Co), unassigned (Cn), line and paragraph
# separators (Zl, Zp: a line break that YAML and CSV do not treat as one).
_REFUSED_CATEGORIES = {"Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_FREE_TEXT_CONTROLS = {"\n", "\t"}


def describe(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: a character named so that it can be found and deleted."""
    name = unicodedata.name(char, "")
    if not name and unicodedata.category(char) == "Cc":
        name = {
            "\x00": "NUL",
            "\t": "TAB",
            "\n": "LINE FEED",
            "\r": "CARRIAGE RETURN",
            "\x1b": "ESCAPE",
        }.get(char, "CONTROL CHARACTER")
    return f"U+{ord(char):04X} {name or 'UNASSIGNED'}".rstrip()


@lru_cache(maxsize=1)
def drawable() -> frozenset[int]:
    """Code points that the figures' font (DejaVu Sans, regular and bold) draws."""
    from matplotlib import ft2font
    from matplotlib.font_manager import FontProperties, findfont

    points: set[int] | None = None
    for weight in ("normal", "bold"):
        prop = FontProperties(family="DejaVu Sans", weight=weight)
        font = ft2font.FT2Font(findfont(prop, fallback_to_default=False))
        # Glyph 0 is .notdef, the box drawn for a missing character.
        charmap = {code for code, glyph in font.get_charmap().items() if glyph}
        points = charmap if points is None else points & charmap
    return frozenset(points or ())


def _listed(chars: list[str], limit: int = 5) -> str:
    distinct = list(dict.fromkeys(chars))
    shown = ", ".join(describe(c) for c in distinct[:limit])
    more = len(distinct) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def text_problem(value: str, *, label: bool = False, one_line: bool = False) -> str | None:
    """What is wrong with one text value, or None; ``label``: drawn in the figures."""
    if label:
        one_line = True
    refused = [
        c
        for c in value
        if unicodedata.category(c) in _REFUSED_CATEGORIES
        or (unicodedata.category(c) == "Cc" and (one_line or c not in _FREE_TEXT_CONTROLS))
    ]
    if refused:
        where = "one-line text (a label, an id, a locator)" if one_line else "text"
        return (
            f"contains characters not allowed in {where}: {_listed(refused)}; delete them"
            " (they are invisible or control characters; see docs/data-dictionary.md,"
            " 'Characters allowed in text')"
        )
    if not value.strip():
        return "is blank; give the text, or leave the field out if it is optional"
    limit = LABEL_MAX if label else TEXT_MAX
    if len(value) > limit:
        return f"is {len(value)} characters long; at most {limit} allowed here"
    if label and not value.isascii():
        right_to_left = [c for c in value if unicodedata.bidirectional(c) in {"R", "AL"}]
        if right_to_left:
            return (
                f"has right-to-left letters: {_listed(right_to_left)}; the figures draw text"
                " left to right, so spell the name in Latin letters (as PubMed romanises it)"
            )
        font = drawable()
        missing = [c for c in value if ord(c) not in font]
        if missing:
            return (
                f"has characters the figures' font cannot draw: {_listed(missing)};"
                " spell it in Latin, Greek or Cyrillic letters (a name as PubMed romanises it),"
                " or leave out the symbol"
            )
        mixed = _mixed_script_word(value)
        if mixed:
            return mixed
    if label and value != value.strip():
        return "begins or ends with spaces; remove them"
    return None


# The scripts of the figures' font whose letters look like one another (a Cyrillic "о", a
# Greek "ο" and a Latin "o"). Letters outside them (the micro sign, modifier letters such as
# the okina) are neutral.
_LOOKALIKE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")


def _script(char: str) -> str:
    """A letter's script as the first word of its Unicode name: LATIN, GREEK, CYRILLIC, ..."""
    return unicodedata.name(char, "UNNAMED").split()[0]


def _mixed_script_word(value: str) -> str | None:
    """The first word (letters, marks and digits) that mixes lookalike scripts, or has a
    Cyrillic letter among digits ("2О13": its "О" reads as a zero), described; or None. A Greek
    letter beside a digit ("τ0", "α1") is a symbol, not a lookalike."""
    for word in re.findall(r"[^\W_]+", unicodedata.normalize("NFC", value)):
        letters = [c for c in word if unicodedata.category(c).startswith("L")]
        by_script: dict[str, list[str]] = {}
        for c in letters:
            if _script(c) in _LOOKALIKE_SCRIPTS:
                by_script.setdefault(_script(c), []).append(c)
        digits = any(c in "0123456789" for c in word)
        if len(by_script) > 1 or (digits and "CYRILLIC" in by_script):
            # Name the letters outside the word's main script (Latin among digits).
            main = (
                "LATIN"
                if digits or "LATIN" in by_script
                else max(by_script, key=lambda k: len(by_script[k]))
            )
            odd = [c for k, cs in by_script.items() if k != main for c in cs]
            return (
                f"mixes letters of different scripts in the word {word!r}: {_listed(odd)};"
                " a letter of another alphabet that looks like a Latin one (or a digit) makes"
                " a label that reads like another but differs from it; type the word in one"
                " alphabet"
            )
    return None


def strings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str, bool]]:
    """Every (path, text, is_key) of a parsed YAML tree; a key's path ends with the key."""
    if isinstance(node, str):
        yield path, node, False
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield (*path, key), key, True
            yield from strings(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, (*path, i))
