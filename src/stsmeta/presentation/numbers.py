"""How numbers are written, in the report and in the figures alike.

One formatter per kind of number, so that the text of a figure, the HTML report and the
Markdown report show the same digits for the same value in the pooled JSON, and a test
can format a JSON value and find it verbatim in the output.
"""

from __future__ import annotations

import math

NOT_ESTIMABLE = "not estimable"
MISSING = "–"


def is_number(value: object) -> bool:
    """A finite int or float, not a boolean: what can be printed as a number."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def proportion(value: object) -> str:
    """A proportion on the 0-1 scale, three decimals (metafor prints four; three suffice here)."""
    return f"{float(value):.3f}" if is_number(value) else NOT_ESTIMABLE


def interval(low: object, high: object) -> str:
    """An interval of proportions as ``[low, high]``."""
    if is_number(low) and is_number(high):
        return f"[{float(low):.3f}, {float(high):.3f}]"
    return NOT_ESTIMABLE


def estimate_with_interval(estimate: object, low: object, high: object) -> str:
    """``0.812 [0.512, 0.943]``, or ``not estimable``."""
    if not is_number(estimate):
        return NOT_ESTIMABLE
    return f"{proportion(estimate)} {interval(low, high)}"


def _fixed(value: object, spec: str, scale: float = 1, suffix: str = "") -> str:
    """``value`` (times ``scale``) in format ``spec`` plus ``suffix``; ``–`` when missing."""
    return f"{scale * float(value):{spec}}{suffix}" if is_number(value) else MISSING


def bound(value: object) -> str:
    """One end of an interval of proportions; ``–`` when the end is not available."""
    return _fixed(value, ".3f")


def tau2(value: object) -> str:
    """Between-study variance on the analysis scale, four decimals."""
    return _fixed(value, ".4f")


def tau(value: object) -> str:
    """A between-study SD on the analysis (logit) scale, two decimals."""
    return _fixed(value, ".2f")


def probability(value: object) -> str:
    """A posterior probability, three decimals."""
    return _fixed(value, ".3f")


def i2(value: object) -> str:
    """I² as a percentage (the pooled JSON gives it in percent, as metafor does)."""
    return _fixed(value, ".1f", suffix="%")


def q_statistic(value: object) -> str:
    """Cochran's Q, two decimals."""
    return _fixed(value, ".2f")


def p_value(value: object) -> str:
    """A p-value, three decimals, or ``<0.001``."""
    if not is_number(value):
        return MISSING
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def weight(value: object) -> str:
    """A study's weight in percent (as in the pooled JSON), one decimal."""
    return _fixed(value, ".1f", suffix="%")


def coverage(value: object) -> str:
    """A coverage probability (or a distance between two), three decimals."""
    return _fixed(value, ".3f")


def mcse(value: object) -> str:
    """A Monte Carlo standard error on the 0-1 scale, four decimals."""
    return _fixed(value, ".4f")


def multiple(value: object) -> str:
    """A quantity in units of its standard error (a margin in Monte Carlo SEs), two decimals."""
    return _fixed(value, ".2f")


def rate(value: object) -> str:
    """A rate on the 0-1 scale as a percentage, one decimal (``0.4`` -> ``40.0%``)."""
    return _fixed(value, ".1f", scale=100, suffix="%")


def level(value: object) -> str:
    """A confidence level on the 0-1 scale as a percentage (``0.95`` -> ``95%``)."""
    return _fixed(value, "g", scale=100, suffix="%")


def grid_value(value: object) -> str:
    """A setting of the simulation grid as configured (``0.3``, ``1``)."""
    return _fixed(value, "g")


def count(value: object) -> str:
    """A count (events, n, k)."""
    if isinstance(value, bool) or value is None:
        return MISSING
    if isinstance(value, int):
        return str(value)
    if is_number(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def events_over_n(events: object, n: object) -> str:
    """``3/6``."""
    return f"{count(events)}/{count(n)}"


def is_estimable(result: dict | None) -> bool:
    """Whether a pooled result has a point estimate."""
    return bool(result) and is_number(result.get("estimate"))


# ---------------------------------------------------------------- for readers (first screen)


def percent(value: object) -> str:
    """A proportion as a whole percentage for readers (``0.884`` -> ``88%``).

    Whole percentages: the intervals of these small studies span tens of points, so a decimal
    would claim a precision the data do not have. Only 0 and 1 print as 0% and 100%: a value
    that rounds to them without being them is ``<1%`` or ``>99%``.
    """
    if not is_number(value):
        return NOT_ESTIMABLE
    p = float(value)
    shown = math.floor(100 * p + 0.5)
    if shown == 0 and p > 0:
        return "<1%"
    if shown == 100 and p < 1:
        return ">99%"
    return f"{shown}%"


def in_ten(value: object) -> str:
    """A proportion as a natural frequency out of 10 (``0.884`` -> ``9``), rounded half up."""
    if not is_number(value):
        return MISSING
    return str(math.floor(10 * float(value) + 0.5))


def interval_kind(result: object) -> tuple[str, str]:
    """What a pooled result's interval is, as (abbreviation, words): a Bayesian posterior gives a
    credible interval, every other method a confidence interval."""
    settings = result.get("settings") if isinstance(result, dict) else None
    if isinstance(settings, dict) and settings.get("method") == "bayes":
        return "CrI", "credible interval"
    return "CI", "confidence interval"
