"""The figures of stsmeta: forest, sensitivity, cumulative and risk-of-bias plots.

``write_figures`` draws every figure of the analysis plan and writes each as PNG (300 dpi),
SVG and PDF. File names (under the output directory), for each outcome O of config.yaml:
``forest_O``, ``sensitivity_O``, ``cumulative_O``; and once: ``risk_of_bias``.
"""

from __future__ import annotations

from pathlib import Path

FORMATS = ("png", "svg", "pdf")


def figure_stems(outcomes: list[str]) -> list[str]:
    """The stems of every figure file written for these outcomes, in writing order."""
    stems = []
    for outcome in outcomes:
        stems += [f"forest_{outcome}", f"sensitivity_{outcome}", f"cumulative_{outcome}"]
    return stems + ["risk_of_bias"]


def write_figures(plan, pooled: dict, studies: dict, outdir: Path | str) -> list[Path]:
    """Draw and save every figure; return the paths written.

    ``plan`` is a ``stsmeta.report.inputs.Plan``; ``pooled`` is ``{outcome: {scenario: JSON}}``
    and ``studies`` ``{study_id: normalised study}`` (as loaded by ``stsmeta.report.inputs``).
    """
    from stsmeta.figures.cumulative import cumulative_plot
    from stsmeta.figures.forest import forest_plot
    from stsmeta.figures.risk_of_bias import risk_of_bias_plot
    from stsmeta.figures.sensitivity import sensitivity_plot
    from stsmeta.figures.style import figure_style, save_figure

    level = plan.confidence_level
    primary_label = plan.method_label("primary")
    subgroup_variable = next(iter(plan.subgroups), None)
    paths: list[Path] = []
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
            paths += save_figure(forest.figure, outdir, f"forest_{outcome}")
            sensitivity = sensitivity_plot(
                {s: pooled[outcome][s] for s in plan.scenarios},
                scenario_labels={s: plan.scenario_label(s) for s in plan.scenarios},
                studies=studies,
                outcome_label=label,
                primary_label=primary_label,
                level=level,
            )
            paths += save_figure(sensitivity.figure, outdir, f"sensitivity_{outcome}")
            cumulative = cumulative_plot(
                primary,
                studies=studies,
                outcome_label=label,
                primary_label=primary_label,
                level=level,
            )
            paths += save_figure(cumulative.figure, outdir, f"cumulative_{outcome}")
        rob = risk_of_bias_plot(studies)
        paths += save_figure(rob.figure, outdir, "risk_of_bias")
    return paths
