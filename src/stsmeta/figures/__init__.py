"""The figures of stsmeta: forest, sensitivity, cumulative and risk-of-bias plots.

``write_figures`` draws every figure of the analysis plan and writes each as PNG (300 dpi),
SVG and PDF (or the formats asked for). File names (under the output directory), for each
outcome O of config.yaml:
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
# Each (figure, format) to save, in the order drawn: (index into _DRAWN, format).
_TASKS: list[tuple[int, str]] = []
# Within a figure, the slowest format first, so that no worker is left with a big file at the end.
_FORMAT_COST_RANK = {"pdf": 0, "png": 1, "svg": 2}


def _save_order(formats: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(formats, key=lambda fmt: _FORMAT_COST_RANK.get(fmt, 3)))


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


def _paths(entry: tuple, formats: tuple[str, ...]) -> list[Path]:
    """The files ``_save(entry, formats)`` writes, in ``formats`` order."""
    _, outdir, stem, *_ = entry
    return [Path(outdir) / f"{stem}.{fmt}" for fmt in formats]


def draw_and_save(
    steps: list, processes: int = 1, formats: tuple[str, ...] = FIGURE_FORMATS
) -> list[list[Path]]:
    """Call each step (it draws one figure and returns its ``(figure, outdir, stem[, saver])``)
    and save every figure in every one of ``formats``; return each step's paths, in step order.

    Saving (rendering PNG, SVG and PDF) is most of the cost and each file depends only on its
    figure. With ``processes`` > 1, workers are forked while the figures are still being drawn:
    a worker inherits every figure drawn before its fork (nothing is pickled) and saves, one
    (figure, format) at a time, what no other process has claimed among those. The drawing
    process saves too once it has drawn the last figure, and forks a new worker whenever one has
    run out of the figures it can see. The same bytes as saving serially
    (tests/test_figures_glyphs.py), with the drawing and the first saves overlapping. Where
    fork is not available, saving is serial.
    """
    import multiprocessing

    if processes <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [_save(step(), formats) for step in steps]
    context = multiprocessing.get_context("fork")
    claimed = context.Value("i", 0)  # how many of _TASKS have been taken, in order
    errors = context.SimpleQueue()
    workers: list = []

    def fork_workers() -> None:
        # Keep the other CPUs busy with what has been drawn so far.
        alive = sum(worker.exitcode is None for worker in workers)
        # No more workers than files left to claim: one with nothing to do would only exit.
        for _ in range(min(processes - 1 - alive, len(_TASKS) - claimed.value)):
            worker = context.Process(target=_save_visible, args=(len(_TASKS), claimed, errors))
            worker.start()
            workers.append(worker)

    _DRAWN.clear()
    _TASKS.clear()
    try:
        for step in steps:
            _DRAWN.append(step())
            _TASKS.extend((len(_DRAWN) - 1, fmt) for fmt in _save_order(formats))
            fork_workers()
        while (task := _claim(claimed, len(_TASKS))) is not None:
            _save(_DRAWN[task[0]], (task[1],))
            fork_workers()
        for worker in workers:
            worker.join()
        drawn = list(_DRAWN)
    finally:
        for worker in workers:
            if worker.exitcode is None:
                worker.terminate()
                worker.join()
        _DRAWN.clear()
        _TASKS.clear()
    if not errors.empty():
        raise errors.get()
    failed = [worker.exitcode for worker in workers if worker.exitcode != 0]
    if failed:
        raise RuntimeError(f"a process saving figures ended with exit status {failed[0]}")
    return [_paths(entry, formats) for entry in drawn]


def _claim(claimed, visible: int) -> tuple[int, str] | None:
    """The next task not yet taken among the first ``visible``, now taken; or None."""
    with claimed.get_lock():
        index = claimed.value
        if index >= visible:
            return None
        claimed.value = index + 1
    return _TASKS[index]


def _save_visible(visible: int, claimed, errors) -> None:
    """A worker's loop: save tasks until none of the first ``visible`` is left; an error is
    sent to the drawing process (which raises it) and ends the worker."""
    try:
        while (task := _claim(claimed, visible)) is not None:
            _save(_DRAWN[task[0]], (task[1],))
    except Exception as exc:  # raised again, with its message, by the drawing process
        try:
            errors.put(exc)
        except Exception:  # not picklable: its message
            errors.put(RuntimeError(f"{type(exc).__name__}: {exc}"))
        raise SystemExit(1) from None


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
    # Its intervals' level is the one the pooled file was computed at (summary_forest_plot).
    return summary_forest_plot(
        result, studies, outcome_label=plan.outcome_label(outcome), unit=unit
    )


# Figure kinds by the time their files take to save, costliest first (benchmarks/NOTES.md).
_SAVE_COST_RANK = {
    "coverage": 0,
    "forest": 1,
    "sensitivity": 2,
    "risk_of_bias": 3,
    "prisma_flow": 4,
    "cumulative": 5,
    "summary_forest": 6,
}


def write_figures(
    plan,
    pooled: dict,
    studies: dict,
    outdir: Path | str,
    processes: int = 1,
    screening: dict | None = None,
    coverage: dict | None = None,
    formats: tuple[str, ...] = FIGURE_FORMATS,
) -> list[Path]:
    """Draw and save every figure in each of ``formats``; return the paths written, in
    ``figure_stems`` order (then the coverage heat map's), each figure's in ``formats`` order.

    ``plan`` is a ``stsmeta.presentation.inputs.Plan``;
    ``pooled`` is ``{outcome: {scenario: JSON}}``
    and ``studies`` ``{study_id: normalised study}`` (as loaded by ``stsmeta.presentation.inputs``).
    ``processes`` > 1 saves figures in that many processes (see ``draw_and_save``).
    ``screening``: the screening records (``stsmeta.presentation.screening``), for the flow
    diagram; without them the diagram says that identification and screening were not recorded.
    ``coverage``: the coverage study's summary JSON (``stsmeta coverage-summary``), for its heat
    map ``coverage.*``; none without it.
    """
    from stsmeta.figures.cumulative import cumulative_plot
    from stsmeta.figures.forest import forest_plot
    from stsmeta.figures.risk_of_bias import risk_of_bias_plot
    from stsmeta.figures.sensitivity import sensitivity_plot
    from stsmeta.figures.style import figure_style, prepare_saving

    # Before any worker is forked: each would otherwise set it up on its own.
    prepare_saving(formats)

    level = plan.confidence_level
    primary_label = plan.method_label("primary")
    subgroup_variable = next(iter(plan.subgroups), None)

    def styled(kind: str, outcome: str | None, draw) -> tuple[str, object]:
        # (kind, step): the step of draw_and_save draws the figure in stsmeta's style; its stem
        # is <kind>_<outcome>, or the kind for a figure of the whole review.
        stem = f"{kind}_{outcome}" if outcome else kind

        def step() -> tuple:
            with figure_style():
                return (draw().figure, outdir, stem)

        return kind, step

    steps = []
    for outcome in plan.outcomes:
        label = plan.outcome_label(outcome)
        primary = pooled[outcome]["primary"]
        steps += [
            styled(
                "forest",
                outcome,
                lambda label=label, primary=primary: forest_plot(
                    primary,
                    studies,
                    outcome_label=label,
                    primary_label=primary_label,
                    secondary_labels={m: plan.method_label(m) for m in plan.secondary_methods},
                    subgroup_variable=subgroup_variable,
                    subgroup_label=plan.subgroups.get(subgroup_variable or "", ""),
                    level=level,
                ),
            ),
            styled(
                "sensitivity",
                outcome,
                lambda label=label, outcome=outcome: sensitivity_plot(
                    {s: pooled[outcome][s] for s in plan.scenarios},
                    scenario_labels={s: plan.scenario_label(s) for s in plan.scenarios},
                    studies=studies,
                    outcome_label=label,
                    primary_label=primary_label,
                    level=level,
                ),
            ),
            styled(
                "cumulative",
                outcome,
                lambda label=label, primary=primary: cumulative_plot(
                    primary,
                    studies=studies,
                    outcome_label=label,
                    primary_label=primary_label,
                    level=level,
                ),
            ),
        ]
    steps += [
        styled("risk_of_bias", None, lambda: risk_of_bias_plot(studies)),
        styled("prisma_flow", None, lambda: flow_figure(plan, pooled, studies, screening)),
        styled("summary_forest", None, lambda: summary_figure(plan, pooled, studies)),
    ]
    if coverage is not None:
        # Its own look (coverage_heatmap._RC), outside figure_style: the bytes that
        # `stsmeta coverage-figure` writes.
        from stsmeta.figures.coverage_heatmap import coverage_heatmap, save_heatmap

        steps.append(
            ("coverage", lambda: (coverage_heatmap(coverage), outdir, "coverage", save_heatmap))
        )
    # Drawn and saved the costliest first (the heat map's many cells, the tall forest plots), so
    # that the last files saved are small ones and no process is left alone with a big one;
    # returned in the documented order.
    order = sorted(range(len(steps)), key=lambda i: _SAVE_COST_RANK[steps[i][0]])
    drawn = draw_and_save([steps[i][1] for i in order], processes, formats)
    saved = dict(zip(order, drawn, strict=True))
    return [path for i in range(len(steps)) for path in saved[i]]
