"""Write the corpus of hostile study files (SYNTHETIC test data, not real studies).

Each case is the synthetic fixture tests/fixtures/studies/synthetic-2020.yaml changed as text
(so that YAML quirks such as an unquoted `yes` are real), saved as
tests/corpus/<case>/synthetic-2020.yaml, and listed in tests/corpus/cases.yaml with the field
the error must name and words its message must hold. Run from the repository root:

    python tests/corpus/make_corpus.py

Files too big to keep in git (a 1 MB file) are made by the tests themselves.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).parent
FIXTURE = HERE.parent / "fixtures" / "studies" / "synthetic-2020.yaml"
HEADER = "# SYNTHETIC HOSTILE TEST FILE (tests/corpus/make_corpus.py) - not a real study.\n"

FOUR_ROWS = """patients:
  - {id: p1, outcome: complete_remission, source: synthetic-source, locator: line 4}
  - {id: p2, outcome: complete_remission, source: synthetic-source, locator: line 4}
  - {id: p3, outcome: partial_response, source: synthetic-source, locator: line 4}
  - {id: p4, outcome: no_response, source: synthetic-source, locator: line 4}
intervention:"""

MERGE_LINE = "  <<: {value: case series, source: synthetic-source, locator: line 2}"

ONE_ROW = """patients:
  - {id: p1, age: 50, sex: F, disease: scleroderma, calcinosis_type: dystrophic, site: finger,
     lesions: 2, outcome: complete_remission, systemic_sts: false, source: synthetic-source,
     locator: line 4}
intervention:"""


def sub(old: str, new: str, count: int = 1):
    def change(text: str) -> str:
        assert text.count(old) >= count, f"{old!r} not in the fixture"
        return text.replace(old, new, count)

    return change


def whole(text: str):
    return lambda _: text


# case: (change of the fixture's text, field named, words in the message)
CASES = {
    # Hostile YAML
    "deep-nesting": (whole("a: " + "[" * 100_000 + "]" * 100_000 + "\n"), "line 1", ["nested"]),
    "billion-laughs": (
        whole(
            'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join(["*" + chr(97 + i)] * 9) + "]\n"
                for i in range(8)
            )
        ),
        "line 2",
        ["alias", "write the value out"],
    ),
    "nul-byte": (sub("label: Synthetic 2020", 'label: "Synthetic\x002020"'), "line 5", ["NUL"]),
    "merge-key": (
        sub(
            "design: {value: case series, source: synthetic-source, locator: line 2}",
            "design:\n  <<: {value: case series, source: synthetic-source, locator: line 2}",
        ),
        # The line of the '<<' key, wherever the fixture puts the design.
        lambda text: f"line {text.splitlines().index(MERGE_LINE) + 1}",
        ["merge keys"],
    ),
    "percent-nan": (
        sub("    percent: 50\n", "    percent: .nan\n"),
        "outcomes[0].percent",
        [".nan"],
    ),
    "age-nan": (sub("age: 50", "age: .nan"), "patients[0].age", ["not a number"]),
    "count-inf": (
        sub("n_lesions: {value: 6", "n_lesions: {value: .inf"),
        "n_lesions.value",
        [".inf"],
    ),
    "float-n": (
        sub("    percent: 50\n    n: 4\n", "    percent: 33\n    n: 3.0\n"),
        "outcomes[0].n",
        ["whole number", "decimal point"],
    ),
    "huge-count": (
        sub("    events: 4\n    n: 4\n", f"    events: 4\n    n: {10**30}\n"),
        "outcomes[1].n",
        ["implausibly large"],
    ),
    # Values YAML 1.1 reads otherwise than they look, or cannot construct
    "count-leading-zero": (
        sub("    percent: 50\n    n: 4\n", "    percent: 50\n    n: 010\n"),
        "outcomes[0].n",
        ["'010'", "whole number"],
    ),
    "count-sexagesimal": (
        sub("    events: 4\n    n: 4\n", "    events: 4\n    n: 1:30\n"),
        "outcomes[1].n",
        ["'1:30'", "whole number"],
    ),
    "date-impossible": (
        sub("  year: 2020\n", "  year: 2020\n  epub_date: 2020-02-30\n"),
        "line 9",
        ["2020-02-30", "date", "quotes"],
    ),
    "tag-int-text": (
        sub("    percent: 50\n    n: 4\n", "    percent: 50\n    n: !!int abc\n"),
        "line 50",
        ["'abc'", "whole number"],
    ),
    # Messages a dermatologist can act on
    "unquoted-yes": (
        sub('q1: {judgement: "yes"', "q1: {judgement: yes"),
        "risk_of_bias.q1.judgement",
        ["quotes", "'yes'"],
    ),
    "inline-comma": (
        sub(
            "n_patients: {value: 4, source: synthetic-source, locator: line 2}",
            "n_patients: {value: 4, source: synthetic-source, locator: page 2, table 1}",
        ),
        "n_patients.table 1",
        ["comma", "quotes"],
    ),
    # Labels and text that could not be drawn or shown
    "label-cjk": (sub("label: Synthetic 2020", "label: 山田 2020"), "label", ["U+5C71", "romanis"]),
    "label-tab": (sub("label: Synthetic 2020", 'label: "Synthetic\\t2020"'), "label", ["TAB"]),
    "label-soft-hyphen": (
        sub("label: Synthetic 2020", 'label: "Syn\\u00adthetic 2020"'),
        "label",
        ["SOFT HYPHEN"],
    ),
    "label-zero-width": (
        sub("label: Synthetic 2020", 'label: "Syn\\u200bthetic 2020"'),
        "label",
        ["ZERO WIDTH SPACE"],
    ),
    "label-bidi": (
        sub("label: Synthetic 2020", 'label: "Synthetic \\u202e2020"'),
        "label",
        ["RIGHT-TO-LEFT OVERRIDE"],
    ),
    "label-escape": (
        sub("label: Synthetic 2020", 'label: "Synthetic \\e[31m2020"'),
        "label",
        ["ESCAPE"],
    ),
    "label-right-to-left": (
        sub("label: Synthetic 2020", "label: \u05db\u05d4\u05df 2020"),
        "label",
        ["right-to-left"],
    ),
    # Lookalike letters: a Cyrillic "у" inside a Latin word, a Cyrillic "О" in the year.
    "label-mixed-script": (
        sub("label: Synthetic 2020", "label: S\u0443nthetic 2020"),
        "label",
        ["mixes letters", "U+0443 CYRILLIC SMALL LETTER U", "one alphabet"],
    ),
    "label-lookalike-year": (
        sub("label: Synthetic 2020", "label: Synthetic 2\u041e20"),
        "label",
        ["mixes letters", "'2\u041e20'", "U+041E CYRILLIC CAPITAL LETTER O"],
    ),
    "complex-key": (whole("? [a, b]\n: 1\n"), "line 1", ["field name must be text"]),
    "empty-file": (whole(""), "(file)", ["holds no fields", "study-template.yaml"]),
    "label-long": (
        sub("label: Synthetic 2020", "label: " + "Synthetic " * 20),
        "label",
        ["at most 80"],
    ),
    "label-blank": (sub("label: Synthetic 2020", 'label: "   "'), "label", ["blank"]),
    "locator-blank": (sub("locator: line 2}", 'locator: " "}'), "design.locator", ["blank"]),
    "definition-control": (
        sub("definition: Synthetic definition.", 'definition: "Synthetic\\x07 definition."'),
        "outcomes[0].definition",
        ["U+0007"],
    ),
    # Impossible studies
    "response-below-remission": (
        sub("any_response\n    events: 4\n", "any_response\n    events: 1\n"),
        "outcomes[1].events",
        ["lower than complete_remission"],
    ),
    "patient-rows-contradict": (
        lambda t: sub(ONE_ROW, FOUR_ROWS)(t),
        "outcomes[1].events",
        ["patient rows give 3"],
    ),
    "year-future": (sub("  year: 2020\n", "  year: 2099\n"), "citation.year", ["future"]),
    "year-before-1900": (sub("  year: 2020\n", "  year: 1850\n"), "citation.year", ["1900"]),
    "id-year-differs": (
        sub("  year: 2020\n", "  year: 2019\n"),
        "study_id",
        ["differs from citation.year"],
    ),
    # Schema, vocabulary and unit problems in one round
    "all-at-once": (
        lambda t: sub("reported: 25% w/v", "reported: 25 bananas/mL")(
            sub("  - {value: dystrophic, source", "  - {value: marble, source")(
                sub("unit: patients\n    timepoint: 3 months", "unit: 4\n    timepoint: 3 months")(
                    t
                )
            )
        ),
        "intervention.concentration.reported",
        ["bananas"],
    ),
}
# all-at-once: the other two problems of that file, checked by the tests too.
ALSO = {
    "all-at-once": [["calcinosis_types[0].value", "marble"], ["outcomes[0].unit", "wrong type"]],
}


def main() -> None:
    fixture = FIXTURE.read_text(encoding="utf-8")
    cases = {}
    for name, (change, field, words) in CASES.items():
        text = change(fixture)
        if not text.startswith("a: "):
            text = HEADER + text
            field = field(text) if callable(field) else _shift(field)
        directory = HERE / name
        directory.mkdir(exist_ok=True)
        (directory / "synthetic-2020.yaml").write_text(text, encoding="utf-8")
        cases[name] = {"field": field, "words": words}
        if name in ALSO:
            cases[name]["also"] = [{"field": f, "words": [w]} for f, w in ALSO[name]]
    (HERE / "cases.yaml").write_text(
        "# Expected error of each hostile file (SYNTHETIC); written by make_corpus.py.\n"
        + yaml.safe_dump(cases, sort_keys=True, allow_unicode=True),
        encoding="utf-8",
    )


def _shift(field: str) -> str:
    """Line numbers move down by the header line."""
    if field.startswith("line "):
        return f"line {int(field.split()[1]) + 1}"
    return field


if __name__ == "__main__":
    main()
