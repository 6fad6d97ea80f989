"""Property: a mutated study file is refused with a message, or every later step can use it.

Fast part (no Snakemake): validation never raises and names the file; an accepted file is
normalised into strict JSON (no NaN), tabulated, and its label drawn by the figures' glyph
layout without a missing glyph. The whole pipeline on a few mutated files is in
test_robustness_workflow.py. Data: the SYNTHETIC fixture (tests/robust_mutations.py).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from robust_mutations import mutated_studies, write_study

from stsmeta.errors import InputError
from stsmeta.evidence.model import study_to_json
from stsmeta.evidence.studyfile import read_study, validate_paths
from stsmeta.evidence.tables import build_tables
from stsmeta.figures.glyphs import drawable_text, line_width


def _strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"{constant} in JSON")

    return json.loads(text, parse_constant=refuse)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=mutated_studies())
def test_mutated_study_is_refused_with_a_message_or_usable(data, tmp_path):
    path = write_study(data, tmp_path / "synthetic-2020.yaml")
    problems = validate_paths([path])
    if problems:
        for problem in problems:
            assert problem.file == str(path)
            assert problem.message
        return
    try:
        study = read_study(path)
    except InputError as exc:  # pragma: no cover - validate_paths said valid
        raise AssertionError(f"valid for validate, refused by read_study: {exc}") from None
    _strict_json(study_to_json(study))
    tables = build_tables([study])
    assert all(text.count("\n") >= 1 for text in tables.values())
    assert drawable_text(study.label) == study.label, "a label the font cannot draw passed"
    assert line_width(study.label) > 0
