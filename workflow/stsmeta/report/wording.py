"""Words for the canonical ids of the study files' vocabularies ("case_series" -> "Case series")."""

from __future__ import annotations


def term(value: object) -> str:
    """The label of a vocabulary id (stsmeta.vocabulary), else the id with spaces for '_'."""
    text = str(value)
    try:
        from stsmeta import vocabulary
    except ImportError:  # the vocabulary module belongs to the normalise stage
        return text.replace("_", " ")
    for name in ("CALCINOSIS_TYPE", "DISEASE", "DESIGN", "ROUTE", "CO_INTERVENTION"):
        vocab = getattr(vocabulary, name, None)
        if vocab is not None and text in vocab.labels:
            return vocab.labels[text]
    return text.replace("_", " ")


def terms(values) -> str:
    """Several ids as words, in the given order, joined with '; '."""
    return "; ".join(term(v) for v in values)
