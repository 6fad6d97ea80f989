"""The names of the files the workflow writes, defined once for the rules and the package.

Pure data and small functions, no imports beyond the standard library: the workflow reads this
module at every start.
"""

from __future__ import annotations

# Every figure is written in each of these formats (PNG 300 dpi, SVG, PDF).
FIGURE_FORMATS = ("png", "svg", "pdf")

# The analysis tables under results/tables/, as <name>.csv.
TABLE_NAMES = ("studies", "patients", "flags", "decisions", "harms", "risk_of_bias")


def figure_stems(outcomes: list[str]) -> list[str]:
    """The stems of every figure file the figures stage writes for these outcomes, in order."""
    stems = []
    for outcome in outcomes:
        stems += [f"forest_{outcome}", f"sensitivity_{outcome}", f"cumulative_{outcome}"]
    # summary_forest: the primary outcome's forest plot for the report's first screen.
    return stems + ["risk_of_bias", "prisma_flow", "summary_forest"]
