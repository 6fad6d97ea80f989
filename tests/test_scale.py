"""Scale work (issue 6): each speed-up must give what the slower code it replaced gave.

References are independent of the code under test: the exhaustive wrap scan the figures used
before, pint's full default unit registry, PyYAML's pure-Python SafeLoader. Texts are random
(SYNTHETIC) or the shipped study files.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest
import yaml

from stsmeta.errors import InputError
from stsmeta.evidence import units
from stsmeta.evidence.studyfile import load_yaml
from stsmeta.figures import rows

REPO = Path(__file__).resolve().parent.parent


def exhaustive_wrap(text: str, width_pt: float, bold: bool = False) -> list[str]:
    """The wrap the figures used before: every character count from the longest down."""
    room = 0.96 * width_pt
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if rows.text_width_pt(paragraph, bold) <= room:
            lines.append(paragraph)
            continue
        for chars in range(len(paragraph), 0, -1):
            candidate = textwrap.wrap(paragraph, width=chars, break_on_hyphens=True)
            if all(rows.text_width_pt(line, bold) <= room for line in candidate):
                break
        lines.extend(candidate or [""])
    return lines


WORDS = [
    "Synthetic", "00042", "(copy", "of", "Smith", "2013)", "-", "well-known", "x", "W", "iiii",
    "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMM", "a-b-c-d-e-f", "τ²", "I²", "k = 3;", "Not estimable:",
]  # fmt: skip


def random_texts(seed: int, count: int):
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzWMIil.-,;()0123456789   "
    for i in range(count):
        if i % 2:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))
        else:
            text = "".join(rng.choice(letters) for _ in range(rng.randint(1, 200)))
        if rng.random() < 0.2:
            text = text.replace(" ", "\n", 2)
        yield text, rng.choice([10, 25, 40, 60, 90, 150, 300]), rng.random() < 0.3


def test_wrap_gives_what_the_exhaustive_scan_gave():
    for text, width, bold in random_texts(seed=6, count=150):
        assert rows.wrap(text, width, bold=bold) == exhaustive_wrap(text, width, bold), (
            text,
            width,
            bold,
        )


def test_wrap_of_a_long_note_fits_and_keeps_every_word():
    # A note naming hundreds of studies: the case that was quadratic.
    labels = [f"Synthetic {i:05d} (copy of Smith 2013)" for i in range(400)]
    note = "Not estimable: " + "; ".join(labels) + " (k = 1)."
    lines = rows.wrap(note, 0.98 * 7 * 72)
    assert all(rows.text_width_pt(line) <= 0.96 * 0.98 * 7 * 72 for line in lines)
    assert " ".join(lines).split() == note.split()


@pytest.fixture(scope="module")
def full_registry():
    import pint

    return pint.UnitRegistry()


AMOUNTS = ["0.001", ".3", "1", "2.5", "12.5", "25", "150", "250", "333.3", "1000", "123456.789"]


@pytest.mark.parametrize("mass", sorted(units.MASS_UNITS))
@pytest.mark.parametrize("volume", sorted(units.VOLUME_UNITS))
def test_concentrations_match_pints_default_registry(full_registry, mass, volume):
    for amount in AMOUNTS:
        for per in [None, "1", "3", "50", "0.7"]:
            text = f"{amount} {mass}/{per} {volume}" if per else f"{amount}{mass}/{volume}"
            quantity = full_registry.Quantity(
                float(amount), units.MASS_UNITS[mass]
            ) / full_registry.Quantity(float(per or 1), units.VOLUME_UNITS[volume])
            expected = float(f"{quantity.to('milligram / milliliter').magnitude:.10g}")
            assert units.concentration_mg_per_ml(text) == expected, text


def test_percent_weight_in_volume_matches_pints_default_registry(full_registry):
    for amount in AMOUNTS:
        quantity = full_registry.Quantity(float(amount), "gram") / full_registry.Quantity(
            100, "milliliter"
        )
        expected = float(f"{quantity.to('milligram / milliliter').magnitude:.10g}")
        assert units.concentration_mg_per_ml(f"{amount}% w/v") == expected


STUDY_FILES = sorted((REPO / "data" / "raw").glob("*.yaml")) + sorted(
    (REPO / "tests" / "fixtures" / "studies").rglob("*.yaml")
)


@pytest.mark.parametrize("path", STUDY_FILES, ids=lambda p: p.name)
def test_fast_yaml_parse_equals_pure_python_safe_loader(path):
    text = path.read_text(encoding="utf-8")
    try:
        expected = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        # Malformed on purpose: the fast loader refuses it too, at the same line (its whole
        # message is tested in test_validate.py).
        with pytest.raises(InputError) as caught:
            load_yaml(path)
        assert f"line {exc.problem_mark.line + 1}" in str(caught.value)
        assert "malformed YAML" in str(caught.value)
        return
    try:
        data, raw = load_yaml(path)
    except Exception as exc:  # duplicate keys are refused by both loaders of load_yaml
        assert "duplicate key" in str(exc)
        return
    assert data == expected
    assert raw == path.read_bytes()


def test_tall_png_is_capped_and_small_png_keeps_300_dpi():
    from stsmeta.figures.style import PNG_DPI, PNG_MAX_PIXELS_TALL, new_figure, png_dpi

    assert png_dpi(new_figure(7, 5)) == PNG_DPI
    assert png_dpi(new_figure(7, 50)) == PNG_DPI
    tall = new_figure(7, 280)
    assert png_dpi(tall) < PNG_DPI
    assert 280 * png_dpi(tall) <= PNG_MAX_PIXELS_TALL
