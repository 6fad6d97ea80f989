"""Coverage of the intervals: how often each method's interval covers the truth for a design like
this evidence base (the summary JSON of `stsmeta coverage-summary`).
"""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.report.base import (
    ReportData,
    estimate_with_ci,
    figure_block,
    file_src,
    pointer,
    pooled_methods,
    primary_outcome,
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
        blocks += runner_up_paragraph(data)
        blocks += scope_paragraph(data)
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
                "Largest |coverage − nominal| (the rule's worst cell; MC SE)",
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
        "the nominal level is the midpoint of the colour scale, whose colours are as dark for a "
        "cell as far under it as over it (lower coverage takes the lowest colour; every cell "
        "prints its value). Coverage counts the replicates that gave an interval; hatched: a "
        "cell where a method failed more often than the selection rule allows.",
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
            " study of n = " if design.get("k") == 1 else " studies of n = ",
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
            "interval, with their Monte Carlo SEs (Morris, White & Crowther 2019), and a "
            "replicate without one counts as a failure. The truth is the median "
            "proportion, expit(μ): the binomial-normal models (GLMM, Bayesian) estimate it; the "
            "common-effect and inverse-variance methods estimate other quantities (a pooled or "
            "transformed-scale mean), so their coverage and bias are against a target they do not "
            "aim at, as a reader of their results would use them. Bias: mean of estimate minus "
            "truth. Data are simulated from the binomial-normal model itself, which favours the "
            "methods built on it.",
        )
    )


def verdict_cell(verdict: dict, index: int | None, key: str, mcse_key: str = "") -> Cell:
    """One number of a method's verdict in the recommendation (a coverage distance), with the
    Monte Carlo SE under ``mcse_key`` when the verdict has it."""
    if index is None or verdict.get(key) is None:
        return cell(numbers.MISSING)
    where = ("recommendation", "verdicts", index)
    shown = cell(cov_num(verdict[key], where + (key,), "coverage"))
    if mcse_key and verdict.get(mcse_key) is not None:
        shown += (" (", cov_num(verdict[mcse_key], where + (mcse_key,), "mcse"), ")")
    return shown


UP = ("recommendation", "runner_up")


def runner_up_paragraph(data: ReportData) -> list[Block]:
    """How firmly the coverage study separates the recommended method from the runner-up, in one
    sentence: the runner-up (the next eligible method by the rule's ranking), its worst cell, the
    margin and its Monte Carlo SE (``coverage.summary.margin_mcse``), and, under
    ``coverage.summary.SEPARATION`` MC SEs, that the simulation does not clearly separate the
    two, with both methods' estimates for the primary outcome when the pooled results carry them.
    Nothing for a summary without a recommendation, or written before the runner-up was
    recorded."""
    rec = (data.coverage or {}).get("recommendation") or {}
    if not rec.get("method") or "runner_up" not in rec:
        return []
    up = rec["runner_up"]
    if not isinstance(up, dict):
        return [Paragraph(cell("No other method is eligible: there is no runner-up."))]
    same = bool(up.get("same_cell"))
    tie = (
        (
            " (a tie by the rule, less than ",
            cov_num(up.get("tie"), UP + ("tie",), "coverage"),
            " apart)",
        )
        if up.get("tied")
        else ()
    )
    se = cov_num(up.get("margin_mcse"), UP + ("margin_mcse",), "mcse")
    cells = (
        "both worst cells are the same grid cell, fitted to the same datasets"
        if same
        else "the two worst cells are different grid cells, simulated independently"
    )
    threshold: tuple = ()
    if up.get("margin_in_mcse") is None:  # an SE of 0: both worst cells at coverage 0 or 1
        size: tuple = (", with a Monte Carlo SE of ", se, f" ({cells}).")
    else:
        # With the same cell the SE is an upper bound: the count of SEs is at least as far from
        # zero as shown.
        bound = ("at least " if float(up.get("margin") or 0) >= 0 else "at most ") if same else ""
        size = (
            f", {bound}",
            cov_num(up["margin_in_mcse"], UP + ("margin_in_mcse",), "multiple"),
            f" Monte Carlo SEs (MC SE {'at most ' if same else ''}",
            se,
            f": {cells}).",
        )
        threshold = (cov_num(up.get("separation"), UP + ("separation",), "grid_value"),)
        if up.get("runner_up_narrower") and not up.get("tied"):
            # A tie goes to the narrower intervals: the runner-up's. What keeps the choice is
            # the margin beyond the tie step, and that is what the verdict weighs.
            size += (
                " But the rule counts worst cells less than ",
                cov_num(up.get("tie"), UP + ("tie",), "coverage"),
                " apart as a tie, which the runner-up's narrower intervals would win: "
                "the margin that keeps the choice is ",
                cov_num(up.get("deciding_margin"), UP + ("deciding_margin",), "coverage"),
                ", ",
                cov_num(up.get("deciding_in_mcse"), UP + ("deciding_in_mcse",), "multiple"),
                " Monte Carlo SEs.",
            )
    if up.get("separated"):
        verdict: tuple = (
            (" That is at least ", *threshold, ", so the simulation's precision separates ")
            if threshold
            else (" The simulation's precision separates ",)
        ) + ("the two methods.",)
    else:
        verdict = (
            (" That is under ", *threshold, ": the simulation's precision does not ")
            if threshold
            else (
                " An SE of 0 (each worst cell covered in every replicate or in none) measures no"
                " precision: the simulation does not ",
            )
        ) + ("clearly separate the choice from the runner-up.", *estimates_clause(data, rec, up))
    return [
        Paragraph(
            cell(
                f"Runner-up by the same rule: {up.get('label') or up.get('method')}, whose worst "
                "cell is ",
                cov_num(up.get("worst_abs_deviation"), UP + ("worst_abs_deviation",), "coverage"),
                " from nominal. The recommended method is ahead by ",
                cov_num(up.get("margin"), UP + ("margin",), "coverage"),
                *tie,
                *size,
                *verdict,
            )
        )
    ]


#: Methods whose tau is the binomial-normal model's between-study SD on the logit scale, the
#: tau of the simulation grid (the other methods' tau is on their own scales).
BINOMIAL_NORMAL = ("bayes", "glmm")


def scope_paragraph(data: ReportData) -> list[Block]:
    """Where the recommendation stops: when an outcome's binomial-normal fits (the primary
    method and the configured primary) put tau beyond the grid's largest, or its estimate
    outside the grid's true proportions, say so with their numbers. The rule reads the design
    only; this sentence reads the results, and never changes the choice. Every outcome: the
    recommendation is used for each."""
    settings = (data.coverage or {}).get("settings") or {}
    taus = [float(t) for t in settings.get("taus") or [] if numbers.is_number(t)]
    props = [float(p) for p in settings.get("true_proportions") or [] if numbers.is_number(p)]
    if not taus or not props:
        return []
    top = max(taus)
    parts: list = []
    heterogeneity = outside = False
    for outcome in data.plan.outcomes:
        pooled = (data.pooled.get(outcome) or {}).get("primary")
        if not isinstance(pooled, dict) or not numbers.is_estimable(pooled):
            continue
        src = file_src(outcome, "primary")
        clauses = _beyond_grid(pooled, src, top)
        estimate = pooled.get("estimate")
        off = numbers.is_number(estimate) and not min(props) <= float(estimate) <= max(props)
        if not clauses and not off:
            continue
        label = data.plan.outcome_label(outcome)
        parts += [" " if parts else "", f"{label[:1].upper()}{label[1:]}: "]
        for i, clause in enumerate(clauses):
            parts += (["; "] if i else []) + list(clause)
        if off:
            parts += [
                "; " if clauses else "",
                "the pooled estimate, ",
                Num(numbers.bound(estimate), src + pointer("estimate"), "bound"),
                ", lies outside the grid's true proportions",
            ]
        parts.append(".")
        heterogeneity |= bool(clauses)
        outside |= off
    if not parts:
        return []
    where = " and ".join(
        w
        for w, on in (
            ("with more heterogeneity than the grid holds", heterogeneity),
            ("at proportions outside it", outside),
        )
        if on
    )
    grid_top = cov_num(top, ("settings", "taus", settings["taus"].index(top)), "grid_value")
    return [
        Paragraph(
            cell(
                "The grid's largest between-study SD is τ = ",
                grid_top,
                "; the fits of the primary analyses reach beyond the grid. ",
                *parts,
                f" The coverage study does not show how the methods behave {where} (their "
                "coverage may be lower there): the recommendation rests on the grid alone.",
            )
        )
    ]


def _beyond_grid(pooled: dict, src: str, top: float) -> list[tuple]:
    """Clauses for the binomial-normal fits of one pooled result whose tau reaches beyond
    ``top``: the primary method and the configured primary, not the prior-sensitivity
    variants."""
    clauses: list[tuple] = []
    for index, (plan_name, label, result, at) in enumerate(pooled_methods(pooled)):
        method = str((result.get("settings") or {}).get("method") or "")
        if (index and plan_name != "primary") or method not in BINOMIAL_NORMAL:
            continue
        if not numbers.is_estimable(result):
            continue
        name = label or method
        median, high, tau2 = result.get("tau"), result.get("tau_ci_high"), result.get("tau2")
        if method == "bayes" and numbers.is_number(high) and float(high) > top:
            prior = not (numbers.is_number(median) and float(median) > top)
            clauses.append(
                (
                    f"{name}, posterior median τ ",
                    Num(numbers.tau(median), src + at + pointer("tau"), "tau"),
                    " with its credible interval up to ",
                    Num(numbers.tau(high), src + at + pointer("tau_ci_high"), "tau"),
                    " (with so few studies, largely the prior on τ)" if prior else "",
                )
            )
        elif method == "glmm" and numbers.is_number(tau2) and float(tau2) > top * top:
            clauses.append(
                (
                    f"{name}, τ² = ",
                    Num(numbers.tau2(tau2), src + at + pointer("tau2"), "tau2"),
                    " (τ above the grid's largest)",
                )
            )
    return clauses


def pooled_method(primary: dict, name: str) -> tuple[dict, str] | None:
    """A coverage-study method's result among a primary pooled result's methods, with its JSON
    pointer there: the result itself when the rule made it primary, the configured primary under
    ``secondary/configured_primary`` when another method was made primary, any other method under
    its own name among ``secondary`` (None when the result does not carry it)."""
    found = next((m for m in pooled_methods(primary) if m[0] == name), None)
    return (found[2], found[3]) if found is not None else None


def estimates_clause(data: ReportData, rec: dict, up: dict) -> tuple:
    """`` For complete remission, the runner-up gives 0.520 [..] and the recommended method
    0.550 [..].``, from the primary outcome's primary pooled result, or nothing when it does not
    carry both methods with an estimate."""
    outcome = primary_outcome(data.plan)
    primary = (data.pooled.get(outcome) or {}).get("primary")
    if not isinstance(primary, dict):
        return ()
    found = [pooled_method(primary, str(name)) for name in (up.get("method"), rec["method"])]
    if any(f is None or not numbers.is_estimable(f[0]) for f in found):
        return ()
    src = file_src(outcome, "primary")
    (runner_up, at_up), (chosen, at_chosen) = found
    label = data.plan.outcome_label(outcome)
    return (
        f" For {label[:1].lower()}{label[1:]}, the runner-up gives ",
        *estimate_with_ci(runner_up, src + at_up),
        " and the recommended method ",
        *estimate_with_ci(chosen, src + at_chosen),
        ".",
    )


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
                verdict_cell(verdict, vi, "worst_abs_deviation", "worst_coverage_mcse"),
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
