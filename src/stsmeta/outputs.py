"""The names of the files the workflow writes, defined once for the rules and the package.

Pure data and small functions, no imports beyond the standard library: the workflow reads this
module at every start.
"""

from __future__ import annotations

# Every figure is written in each of these formats (PNG 300 dpi, SVG, PDF).
FIGURE_FORMATS = ("png", "svg", "pdf")
# The default target draws SVG, which the report inlines; the formats a journal asks for are
# drawn on request (`snakemake publication`) and for the archive: they cost two thirds of the
# figures job, and the living-review loop (change a study, rerun, read the report) reads none.
PRINT_FORMATS = ("png", "pdf")
# Beside the PNG and PDF figures: the SHA-256 of each SVG drawn from the same inputs, so that a
# run that redraws the SVGs removes PNG and PDF files drawn before (stsmeta.figures.print_state).
PRINT_RECORD = "print-record.sha256"

# The analysis tables under results/tables/, as <name>.csv.
TABLE_NAMES = ("studies", "patients", "flags", "decisions", "harms", "risk_of_bias")


def figure_stems(outcomes: list[str]) -> list[str]:
    """The stems of every figure file the figures stage writes for these outcomes, in order."""
    stems = []
    for outcome in outcomes:
        stems += [f"forest_{outcome}", f"sensitivity_{outcome}", f"cumulative_{outcome}"]
    # summary_forest: the primary outcome's forest plot for the report's first screen.
    return stems + ["risk_of_bias", "prisma_flow", "summary_forest"]


# With thousands of studies the cost of one normalise job per study is Snakemake's scheduler, not
# the work (~5 ms a study): it weighs every ready job at every step, O(n^2) in all (10,000 studies
# took over an hour to normalise). Above PER_STUDY_JOBS_UP_TO studies they are normalised in
# chunks of about CHUNK_SIZE, a study's chunk fixed by its id and the number of chunks (a power of
# two), so that adding a study reruns one chunk and only a doubling of the evidence base
# reshuffles them.
PER_STUDY_JOBS_UP_TO = 500
CHUNK_SIZE = 100


def normalise_chunks(studies: list[str]) -> dict[str, list[str]]:
    """{chunk name: study ids} above PER_STUDY_JOBS_UP_TO studies; {} (one job each) below."""
    import hashlib

    if len(studies) <= PER_STUDY_JOBS_UP_TO:
        return {}
    count = 1
    while count * CHUNK_SIZE < len(studies):
        count *= 2
    chunks: dict[str, list[str]] = {}
    for study in studies:
        index = int(hashlib.sha256(study.encode()).hexdigest()[:8], 16) % count
        chunks.setdefault(f"{index:04d}", []).append(study)
    return dict(sorted(chunks.items()))
