"""The coverage study's design file: the studies (id and n) of the analysis whose design it
simulates, nothing else.

The shards and the summary read this small file rather than the pooled result, so that they
rerun when k or an n changes, and not when a label, a locator or a pooled estimate does. The
workflow writes it at start-up from the studies' analysis extracts (``stsmeta.pool.extract``)
with the very function that chooses the pooled rows (``build_dataset``), so the design is the
pooled result's ``studies`` by construction. Pure Python (no numpy): it runs in Snakemake's own
process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from stsmeta.errors import InputError, Problem


def design_document(
    studies: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    outcome: str,
    scenario: str,
    config_file: str = "config.yaml",
) -> dict[str, Any]:
    """``{outcome, scenario, k, studies: [{study, n}]}`` of one analysis, in its row order."""
    from stsmeta.pool.eligibility import build_dataset

    dataset = build_dataset(studies, config, outcome, scenario, config_file=config_file)
    return _document(dataset)


def _document(dataset) -> dict[str, Any]:
    return {
        "outcome": dataset.outcome,
        "scenario": dataset.scenario,
        "k": len(dataset.rows),
        "studies": [{"study": r.study_id, "n": r.n} for r in dataset.rows],
    }


def design_text(
    studies: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    outcome: str,
    scenario: str,
    config_file: str = "config.yaml",
) -> str:
    """The design file's text (sorted keys, trailing newline).

    An analysis without a study has no design to simulate (and the report needs the coverage
    study): refused here, at start-up, before any job runs, rather than by a shard job later.
    """
    from stsmeta.pool.eligibility import build_dataset

    dataset = build_dataset(studies, config, outcome, scenario, config_file=config_file)
    if not dataset.rows:
        raise InputError(_empty_design_problem(dataset, config_file))
    return json.dumps(_document(dataset), indent=1, sort_keys=True) + "\n"


def _empty_design_problem(dataset, config_file: str) -> Problem:
    """Why the analysis the coverage study simulates has no study: each criterion that left
    studies out, with the studies it left out (a study may have the counts and still be left
    out, by systemic STS or its unit, say)."""
    by_criterion: dict[str, list[str]] = {}
    for exclusion in dataset.excluded:
        for criterion in exclusion.criteria:
            by_criterion.setdefault(criterion, []).append(exclusion.label)
    why = "; ".join(
        f"{' '.join('STS' if w == 'sts' else w for w in criterion.split('_'))}: {', '.join(labels)}"
        for criterion, labels in sorted(by_criterion.items())
    )
    outcome, scenario = dataset.outcome, dataset.scenario
    return Problem(
        config_file,
        "coverage.outcome",
        f"no study enters the analysis the coverage study simulates ({outcome}, scenario "
        f"{scenario}), so it has no design and the report cannot be built"
        + (f" (left out by {why})" if why else " (no study files)")
        + f"; add a study that enters it (with {outcome} counts, and not left out by these "
        "criteria), or set coverage.outcome (and coverage.scenario) to an analysis that has "
        "studies",
    )


def design_sizes(doc: Any, file: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Study ids and sizes (n) of a design file, or of a pooled result's ``studies`` list."""
    studies = doc.get("studies") if isinstance(doc, Mapping) else None
    if not isinstance(studies, list) or not studies:
        raise InputError(Problem(file, "studies", "missing or empty: the design needs >= 1 study"))
    ids, sizes, problems = [], [], []
    for i, s in enumerate(studies):
        n = s.get("n") if isinstance(s, Mapping) else None
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            problems.append(Problem(file, f"studies[{i}].n", f"{n!r} is not a whole number >= 1"))
            continue
        ids.append(str(s.get("study", s.get("study_id", f"study {i + 1}"))))
        sizes.append(n)
    if problems:
        raise InputError(problems)
    return tuple(ids), tuple(sizes)
