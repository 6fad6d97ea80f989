"""Units, durations, percentages and vocabularies: the readings every count and dose rests on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stsmeta.evidence import vocabulary as vocab
from stsmeta.evidence.normalise_outcomes import PercentNotACount, percent_to_count
from stsmeta.evidence.units import UnitProblem, concentration_mg_per_ml, duration_weeks

# Expected values are written as the arithmetic of the unit definitions (1 g = 1000 mg,
# w/v % = g per 100 mL), independent of pint, which the code under test uses.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250 mg/mL", 250),
        ("150 mg/ml", 150),
        ("12.5 g/50 mL", 12.5 * 1000 / 50),
        ("12.5mg/50mL", 12.5 / 50),
        ("25% w/v", 25 * 1000 / 100),
        ("25 % (w/v)", 25 * 1000 / 100),
        ("0.25 g/mL", 0.25 * 1000),
        ("250 mg/cc", 250),
        ("1 g/L", 1000 / 1000),
        ("500 µg/mL", 500 / 1000),
        ("2 mg per mL", 2),
    ],
)
def test_concentration_forms(text, expected):
    assert concentration_mg_per_ml(text) == pytest.approx(expected, rel=1e-12)


def test_literal_and_probable_readings_differ_thousandfold():
    assert concentration_mg_per_ml("12.5 g/50 mL") == 1000 * concentration_mg_per_ml("12.5mg/50mL")


@pytest.mark.parametrize("text", ["250 mmol/L", "250 mg/kg", "250 IU/mL", "250 mg/dram"])
def test_unknown_unit_lists_accepted_forms(text):
    with pytest.raises(UnitProblem) as err:
        concentration_mg_per_ml(text)
    message = str(err.value)
    assert "unknown" in message and "mg" in message and "mL" in message and "w/v" in message


@pytest.mark.parametrize("text", ["25%", "mg/mL", "", "two hundred mg/mL"])
def test_unreadable_concentration_is_an_error(text):
    with pytest.raises(UnitProblem, match="accepted forms"):
        concentration_mg_per_ml(text)


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("week 12", 12),
        ("by week 12", 12),
        ("12 weeks", 12),
        ("3 months", 3 * 52 / 12),
        ("1 month", 52 / 12),
        ("three monthly sessions", 3 * 52 / 12),
        ("14 days", 2),
        ("1 year", 52),
        ("3 weeks apart", 3),
        ("every 4 weeks", 4),
        ("weekly", 1),
        ("monthly", 52 / 12),
    ],
)
def test_durations_in_weeks(text, weeks):
    reading = duration_weeks(text)
    assert reading.status == "exact"
    assert reading.weeks == pytest.approx(weeks, abs=1e-4)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("several months", "vague"),
        ("within several months of therapy", "vague"),
        ("a few weeks", "vague"),
        ("not reported", "not_reported"),
        (None, "not_reported"),
    ],
)
def test_vague_durations_are_unknown(text, status):
    reading = duration_weeks(text)
    assert reading.weeks is None and reading.status == status


def test_unreadable_duration_is_an_error():
    with pytest.raises(UnitProblem, match="accepted forms"):
        duration_weeks("until the cows come home")


def test_percent_to_count_exact():
    assert percent_to_count(50, 6) == (3, False)
    assert percent_to_count(100, 6) == (6, False)
    assert percent_to_count(0, 3) == (0, False)


def test_fifty_percent_of_five_is_not_a_count():
    with pytest.raises(PercentNotACount, match="not a whole number"):
        percent_to_count(50, 5)


def test_rounded_percent_resolves_when_unique():
    assert percent_to_count(33, 3) == (1, True)
    assert percent_to_count(66.7, 3) == (2, True)


def test_too_coarse_percent_is_an_error():
    # 50% of 1001 fits 500 and 501 once rounding to whole percent is allowed.
    with pytest.raises(PercentNotACount, match="several counts"):
        percent_to_count(50, 1001)


@given(st.integers(min_value=1, max_value=99), st.data())
def test_percent_round_trip(n, data):
    k = data.draw(st.integers(min_value=0, max_value=n))
    # A whole-number percentage identifies k uniquely while one patient is over 1% (n < 100).
    assert percent_to_count(round(100 * k / n), n)[0] == k


@pytest.mark.parametrize(
    ("vocabulary", "given_value", "expected"),
    [
        (vocab.DISEASE, "SSc", "systemic_sclerosis"),
        (vocab.DISEASE, "scleroderma", "systemic_sclerosis"),
        (vocab.DISEASE, "Systemic sclerosis", "systemic_sclerosis"),
        (vocab.DISEASE, "NSF", "nephrogenic_systemic_fibrosis"),
        (vocab.CALCINOSIS_TYPE, "tumoral calcinosis", "tumoral"),
        (vocab.CALCINOSIS_TYPE, "Calciphylaxis", "calciphylaxis"),
        (vocab.ROUTE, "IL", "intralesional"),
        (vocab.CO_INTERVENTION, "IV STS", "intravenous_sts"),
        (vocab.CO_INTERVENTION, "lidocaine ring block", "lidocaine_ring_block"),
        (vocab.SEX, "F", "female"),
    ],
)
def test_synonyms_map_to_canonical(vocabulary, given_value, expected):
    assert vocab.canonical(vocabulary, given_value) == expected


def test_unknown_term_lists_allowed_values():
    with pytest.raises(vocab.UnknownTerm) as err:
        vocab.canonical(vocab.CALCINOSIS_TYPE, "crystalline")
    message = str(err.value)
    for term in (
        "dystrophic",
        "metastatic",
        "idiopathic",
        "iatrogenic",
        "calciphylaxis",
        "tumoral",
    ):
        assert term in message


def test_synonyms_do_not_collide():
    # A synonym must not be the canonical form of another term in the same vocabulary.
    for vocabulary in vocab.VOCABULARIES.values():
        for term in vocabulary.labels:
            assert vocab.canonical(vocabulary, term) == term


@pytest.mark.parametrize(
    "text", ["1" + "0" * 309 + " weeks", "week 1" + "0" * 309, "1" + "0" * 307 + " years"]
)
def test_a_duration_beyond_any_number_is_an_error_not_infinity(text):
    # A fuzzer's file: validate accepted it, then the run stopped with "inf" in a JSON writer.
    with pytest.raises(UnitProblem, match="not a number of weeks that can be read"):
        duration_weeks(text)
    assert duration_weeks("1000 years").weeks == 52000  # implausible, read and flagged elsewhere


@pytest.mark.parametrize(
    "text", ["1" + "0" * 309 + " mg/mL", "1" + "0" * 200 + " g/0." + "0" * 200 + "1 mL"]
)
def test_a_concentration_beyond_any_number_is_an_error_not_infinity(text):
    with pytest.raises(UnitProblem, match="is not a number that can be read"):
        concentration_mg_per_ml(text)
