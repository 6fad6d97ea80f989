"""The figures of stsmeta: forest, sensitivity, cumulative and risk-of-bias plots.

``write_figures`` draws every figure of the analysis plan and writes each as PNG (300 dpi),
SVG and PDF. File names (under the output directory), for each outcome O of config.yaml:
``forest_O``, ``sensitivity_O``, ``cumulative_O``; and once: ``risk_of_bias`` and
``prisma_flow`` (the PRISMA 2020 flow diagram, from the screening records when given) and
``summary_forest`` (the primary outcome for the report's first screen, in percent); and, given a
coverage summary, ``coverage`` (the coverage study's heat map, ``figures.coverage_heatmap``).
"""

from __future__ import annotations

import os
from pathlib import Path

from stsmeta.outputs import FIGURE_FORMATS

# Figures drawn in this process, saved by forked workers (inherited, never pickled).
_DRAWN: list = []


def default_processes() -> int:
    """The CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _save(entry: tuple, formats: tuple[str, ...] = FIGURE_FORMATS) -> list[Path]:
    """Save one drawn entry: ``(figure, outdir, stem)``, or with a 4th item, the function that
    saves it in place of ``style.save_figure`` (same signature)."""
    from stsmeta.figures.style import save_figure

    figure, outdir, stem, *saver = entry
    return (saver[0] if saver else save_figure)(figure, outdir, stem, formats)


def _save_task(task: tuple[int, str]) -> list[Path]:
    index, fmt = task
    return _save(_DRAWN[index], (fmt,))


def save_all(drawn: list[tuple], processes: int = 1) -> list[Path]:
    """Save each ``(figure, outdir, stem[, saver])`` in every format; ``processes`` > 1: in
    forked workers.

    Saving (rendering PNG, SVG and PDF) is most of the cost and each file depends only on its
    figure, so figures are drawn here and each (figure, format) saved in parallel: the same
    bytes, in less wall time. Workers are forked so that they inherit the drawn figures (nothing
    is pickled); where fork is not available, saving is serial.
    """
    import multiprocessing

    tasks = [(i, fmt) for i in range(len(drawn)) for fmt in FIGURE_FORMATS]
    processes = min(processes, len(tasks))
    if processes <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [path for entry in drawn for path in _save(entry)]
    # The tallest figures first, PDF (the slowest format) before PNG and SVG, so that no worker
    # is left with a big one at the end.
    cost = {"pdf": 0, "png": 1, "svg": 2}
    order = sorted(tasks, key=lambda t: (-drawn[t[0]][0].get_size_inches()[1], cost.get(t[1], 3)))
    _DRAWN[:] = drawn
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            saved = dict(zip(order, pool.map(_save_task, order, chunksize=1), strict=True))
    finally:
        _DRAWN.clear()
    return [path for task in tasks for path in saved[task]]


def flow_figure(plan, pooled: dict, studies: dict, screening: dict | None):
    """The PRISMA 2020 flow diagram of this evidence base."""
    from stsmeta.figures.prisma import prisma_flow_plot
    from stsmeta.presentation.screening import flow_counts

    syntheses = [
        (plan.outcome_label(o), len(pooled[o]["primary"].get("included") or []))
        for o in plan.outcomes
    ]
    counts = flow_counts(screening) if screening is not None else None
    return prisma_flow_plot(counts, syntheses, n_studies=len(studies))


def summary_figure(plan, pooled: dict, studies: dict):
    """The first screen's forest plot: the primary outcome, in percent, without statistics."""
    from stsmeta.figures.summary_forest import summary_forest_plot

    outcome = plan.outcomes[0]
    result = pooled[outcome]["primary"]
    units = {str(s.get("unit")) for s in result.get("included_studies") or [] if s.get("unit")}
    unit = units.pop() if len(units) == 1 else "patients or lesions"
    return summary_forest_plot(
        result, studies, outcome_label=plan.outcome_label(outcome), unit=unit
    )


def write_figures(
    plan,
    pooled: dict,
    studies: dict,
    outdir: Path | str,
    processes: int = 1,
    screening: dict | None = None,
    coverage: dict | None = None,
) -> list[Path]:
    """Draw and save every figure; return the paths written, in ``figure_stems`` order (then the
    coverage heat map's).

    ``plan`` is a ``stsmeta.presentation.inputs.Plan``;
    ``pooled`` is ``{outcome: {scenario: JSON}}``
    and ``studies`` ``{study_id: normalised study}`` (as loaded by ``stsmeta.presentation.inputs``).
    ``processes`` > 1 saves figures in that many forked processes (see ``save_all``).
    ``screening``: the screening records (``stsmeta.presentation.screening``), for the flow
    diagram; without them the diagram says that identification and screening were not recorded.
    ``coverage``: the coverage study's summary JSON (``stsmeta coverage-summary``), for its heat
    map ``coverage.*``; none without it.
    """
    from stsmeta.figures.cumulative import cumulative_plot
    from stsmeta.figures.forest import forest_plot
    from stsmeta.figures.risk_of_bias import risk_of_bias_plot
    from stsmeta.figures.sensitivity import sensitivity_plot
    from stsmeta.figures.style import figure_style

    level = plan.confidence_level
    primary_label = plan.method_label("primary")
    subgroup_variable = next(iter(plan.subgroups), None)
    drawn: list[tuple] = []  # (figure, outdir, stem)
    with figure_style():
        for outcome in plan.outcomes:
            label = plan.outcome_label(outcome)
            primary = pooled[outcome]["primary"]
            forest = forest_plot(
                primary,
                studies,
                outcome_label=label,
                primary_label=primary_label,
                secondary_labels={m: plan.method_label(m) for m in plan.secondary_methods},
                subgroup_variable=subgroup_variable,
                subgroup_label=plan.subgroups.get(subgroup_variable or "", ""),
                level=level,
            )
            drawn.append((forest.figure, outdir, f"forest_{outcome}"))
            sensitivity = sensitivity_plot(
                {s: pooled[outcome][s] for s in plan.scenarios},
                scenario_labels={s: plan.scenario_label(s) for s in plan.scenarios},
                studies=studies,
                outcome_label=label,
                primary_label=primary_label,
                level=level,
            )
            drawn.append((sensitivity.figure, outdir, f"sensitivity_{outcome}"))
            cumulative = cumulative_plot(
                primary,
                studies=studies,
                outcome_label=label,
                primary_label=primary_label,
                level=level,
            )
            drawn.append((cumulative.figure, outdir, f"cumulative_{outcome}"))
        rob = risk_of_bias_plot(studies)
        drawn.append((rob.figure, outdir, "risk_of_bias"))
        drawn.append((flow_figure(plan, pooled, studies, screening).figure, outdir, "prisma_flow"))
        drawn.append((summary_figure(plan, pooled, studies).figure, outdir, "summary_forest"))
    if coverage is not None:
        # Its own look (coverage_heatmap._RC), outside figure_style: the bytes that
        # `stsmeta coverage-figure` writes.
        from stsmeta.figures.coverage_heatmap import coverage_heatmap, save_heatmap

        drawn.append((coverage_heatmap(coverage), outdir, "coverage", save_heatmap))
    return save_all(drawn, processes)
