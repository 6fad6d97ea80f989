"""Coverage of the intervals: how often each method's interval covers the truth for a design like
this evidence base (the summary JSON of `stsmeta coverage-summary`).
"""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.report.base import (
    ReportData,
    figure_block,
    pointer,
)
from stsmeta.report.document import (
    Block,
    Cell,
    Heading,
    Num,
    Paragraph,
    Table,
    cell,
)

COVERAGE_SRC = "coverage/summary.json#"  # the --coverage file


def cov_num(doc_value: object, path: tuple, fmt: str) -> Num:
    """A number of the coverage summary JSON, tagged ``coverage/summary.json#<pointer>``."""
    return Num(getattr(numbers, fmt)(doc_value), COVERAGE_SRC + pointer(*map(str, path)), fmt)


def listed(values: list, path: tuple, fmt: str, key: str | None = None) -> Cell:
    """Values of a JSON list (or the ``key`` of each object in it), comma-separated."""
    parts: list = []
    for i, value in enumerate(values):
        where = path + (i,) + ((key,) if key else ())
        parts += ([", "] if i else []) + [cov_num(value, where, fmt)]
    return tuple(parts)


def coverage_section(data: ReportData) -> list[Block]:
    """How well each method's interval covers the truth for a design like this evidence base."""
    blocks: list[Block] = [Heading(2, "Coverage of the intervals", "coverage")]
    doc = data.coverage
    if doc is None:
        blocks.append(
            Paragraph(
                cell(
                    "The coverage study was not run for this report (run `snakemake coverage` "
                    "and pass its summary with --coverage)."
                )
            )
        )
        return blocks
    rec = doc.get("recommendation") or {}
    blocks.append(design_paragraph(data, doc))
    if rec.get("method"):
        blocks.append(
            Paragraph(
                cell(
                    f"Recommended for this evidence base: {rec.get('label') or rec['method']}, "
                    f"because {str(rec.get('reason') or '').strip().rstrip('.')}."
                )
            )
        )
    else:
        blocks.append(
            Paragraph(
                cell(
                    "No method qualifies: "
                    f"{str(rec.get('reason') or 'no reason recorded').strip().rstrip('.')}."
                )
            )
        )
    table_rows = method_rows(doc)
    blocks.append(
        Table(
            (
                "Method",
                "Lowest coverage (MC SE)",
                "Highest coverage (MC SE)",
                "Largest |coverage − nominal| (the rule's worst cell)",
                "Mean |coverage − nominal|",
                "Bias of the estimate, range over cells (MC SE)",
                "Median width, range over cells (MC SE)",
                "Failure rate, worst cell (MC SE)",
                "Fails rarely enough",
            ),
            tuple(table_rows),
            caption="Coverage of each method's interval over the simulation grid "
            "(MC SE: Monte Carlo standard error)",
        )
    )
    blocks += figure_block(
        data,
        "coverage",
        "Coverage of each method's interval by true proportion and between-study SD; "
        "the nominal level is the midpoint of the colour scale.",
    )
    return blocks


def design_paragraph(data: ReportData, doc: dict) -> Paragraph:
    """How the datasets were simulated: design, grid, replicates, model."""
    design, settings = doc.get("design") or {}, doc.get("settings") or {}
    level = settings.get("level")
    design_from = (
        f" ({data.plan.outcome_label(str(settings['outcome']))}, "
        f"{data.plan.scenario_label(str(settings.get('scenario') or 'primary'))})"
        if settings.get("outcome")
        else ""
    )
    sizes = [s.get("n") for s in design.get("studies") or []]
    return Paragraph(
        cell(
            f"Design: datasets were simulated with this evidence base's design{design_from}: k = ",
            cov_num(design.get("k"), ("design", "k"), "count"),
            " studies of n = ",
            *listed(sizes, ("design", "studies"), "count", key="n"),
            ". Grid: true pooled proportion ",
            *listed(
                settings.get("true_proportions") or [],
                ("settings", "true_proportions"),
                "grid_value",
            ),
            " by between-study SD τ (logit scale) ",
            *listed(settings.get("taus") or [], ("settings", "taus"), "grid_value"),
            "; ",
            cov_num(settings.get("replicates"), ("settings", "replicates"), "count"),
            " replicates per cell (seed ",
            cov_num(settings.get("seed"), ("settings", "seed"), "count"),
            f"). Model: {settings.get('model') or 'not recorded'}. Each method's nominal level is ",
            cov_num(level, ("settings", "level"), "level"),
            "; coverage, width and bias are over the replicates in which the method gave an "
            "interval, and a replicate without one counts as a failure. The truth is the median "
            "proportion, expit(μ): the binomial-normal models (GLMM, Bayesian) estimate it; the "
            "common-effect and inverse-variance methods estimate other quantities (a pooled or "
            "transformed-scale mean), so their coverage and bias are against a target they do not "
            "aim at, as a reader of their results would use them. Bias: mean of estimate minus "
            "truth. Data are simulated from the binomial-normal model itself, which favours the "
            "methods built on it.",
        )
    )


def verdict_cell(verdict: dict, index: int | None, key: str) -> Cell:
    """One number of a method's verdict in the recommendation (a coverage distance)."""
    if index is None or verdict.get(key) is None:
        return cell(numbers.MISSING)
    return cell(cov_num(verdict[key], ("recommendation", "verdicts", index, key), "coverage"))


def method_rows(doc: dict) -> list[tuple]:
    """One row per method: lowest and highest coverage, distance from nominal (largest, which the
    selection rule reads, and mean), bias, width, failures."""
    methods, rows = doc.get("methods") or {}, doc.get("summary") or []
    rec = doc.get("recommendation") or {}
    verdict_index = {str(v.get("method")): i for i, v in enumerate(rec.get("verdicts") or []) if v}
    table_rows = []
    for name in sorted(methods, key=lambda m: (verdict_index.get(m, len(verdict_index)), m)):
        own = [(i, r) for i, r in enumerate(rows) if r.get("method") == name]
        answered = [(i, r) for i, r in own if r.get("coverage") is not None]
        label = str((methods[name] or {}).get("label") or name)
        if name == rec.get("method"):
            label += " (recommended)"

        def at(pick, key, fmt, mcse_fmt, rows_=answered):
            if not rows_:
                return cell(numbers.MISSING)
            i, r = pick(rows_, key=lambda ir: (ir[1].get(key) is None, ir[1].get(key) or 0))
            return cell(
                cov_num(r.get(key), ("summary", i, key), fmt),
                " (",
                cov_num(r.get(f"{key}_mcse"), ("summary", i, f"{key}_mcse"), mcse_fmt),
                ")",
            )

        widths = [r.get("median_width") for _, r in answered if r.get("median_width") is not None]
        vi = verdict_index.get(name)
        verdict = (rec.get("verdicts") or [])[vi] if vi is not None else {}
        table_rows.append(
            (
                cell(label),
                at(min, "coverage", "coverage", "mcse"),
                at(max, "coverage", "coverage", "mcse"),
                verdict_cell(verdict, vi, "worst_abs_deviation"),
                verdict_cell(verdict, vi, "mean_abs_deviation"),
                at(min, "bias", "proportion", "mcse")
                + ((" to ",) + at(max, "bias", "proportion", "mcse") if answered else ()),
                at(min, "median_width", "proportion", "mcse")
                + ((" to ",) + at(max, "median_width", "proportion", "mcse") if widths else ()),
                at(max, "failure_rate", "rate", "rate", rows_=own),
                cell(
                    "yes"
                    if verdict.get("eligible")
                    else ("no" if vi is not None else numbers.MISSING)
                ),
            )
        )
    return table_rows
