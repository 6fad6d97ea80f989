"""Words for the canonical ids of the study files' vocabularies ("case_series" -> "Case series").

Ids stay in the data; the report and the figures show ``stsmeta.evidence.vocabulary.label`` wording.
"""

from __future__ import annotations

import re

# Which vocabulary (stsmeta.evidence.vocabulary attribute) each kind of value belongs to.
KINDS = {
    "calcinosis_type": "CALCINOSIS_TYPE",
    "disease": "DISEASE",
    "design": "DESIGN",
    "route": "ROUTE",
    "co_intervention": "CO_INTERVENTION",
    "unit": "UNIT",
}
_SEARCH_ORDER = ("CALCINOSIS_TYPE", "DISEASE", "DESIGN", "ROUTE", "CO_INTERVENTION")


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 study``, ``2 studies``: the count and the noun that agrees with it."""
    return f"{n} {noun(n, one, many)}"


def noun(n: object, one: str, many: str | None = None) -> str:
    """The noun alone, singular for exactly 1 (``many`` defaults to ``one`` + s)."""
    return one if n == 1 else many or one + "s"


def unit_noun(n: object, units: str) -> str:
    """A plural unit word (``patients``, ``lesions``, ``patients or lesions``) made singular
    for exactly 1."""
    if n != 1:
        return units
    return " ".join(
        w.removesuffix("s") if w in ("patients", "lesions", "units") else w
        for w in units.split(" ")
    )


def term(value: object, kind: str | None = None) -> str:
    """The label of a vocabulary id, else the id with spaces for '_'.

    ``kind`` (a key of ``KINDS``, e.g. ``"disease"``) names the vocabulary; without it the
    vocabularies are searched in a fixed order.
    """
    import stsmeta.evidence.vocabulary as vocabulary  # the data model's vocabularies

    text = str(value)
    names = (KINDS[kind],) if kind in KINDS else _SEARCH_ORDER
    for name in names:
        vocab = getattr(vocabulary, name, None)
        if vocab is not None and text in vocab.labels:
            return vocabulary.label(vocab, text)
    return text.replace("_", " ")


def terms(values, kind: str | None = None) -> str:
    """Several ids as words, in the given order, joined with '; '."""
    return "; ".join(term(v, kind) for v in values)


def joined_terms(text: str, kind: str | None = None) -> str:
    """A ``; ``-joined cell of ids (as in studies.csv) as words."""
    return terms([t for t in str(text or "").split("; ") if t], kind)


_UNKNOWN_TAIL = re.compile(r";\s*unknown$")


def flag_text(reason: str) -> str:
    """A data-quality flag as a phrase: ``time point not reported; unknown`` reads oddly."""
    return _UNKNOWN_TAIL.sub(" (read as unknown)", str(reason).strip())
