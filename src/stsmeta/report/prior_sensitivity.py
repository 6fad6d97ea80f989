"""Prior sensitivity of the Bayesian model: every configured prior, side by side, for every outcome.

The rows are the methods of the analysis plan with ``method: bayes`` (primary or secondary), so a
user's own variants appear without code changes. The first row has the default priors: those of
the primary method when it is Bayesian, else of the secondary method ``bayes``. Under each table a
sentence computed from the numbers says how far the other priors move the posterior median and
judges it against ``ROBUST_SHIFT`` (declared in docs/analysis-plan.md). The analysis plan asks
for at least two other priors on tau and one other on mu; the section says which are missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from stsmeta.presentation import numbers
from stsmeta.prior_spec import DEFAULT_PRIOR_MU, DEFAULT_PRIOR_TAU, Prior, expit, parse_prior
from stsmeta.report.base import (
    NBSP_COMMA,
    ReportData,
    file_src,
    level_text,
    num,
    pointer,
)
from stsmeta.report.document import Block, Cell, Heading, Link, Num, Paragraph, Table, cell
from stsmeta.report.references import cite

ANCHOR = "prior-sensitivity"
# The posterior median is "robust to the priors" when no other prior moves it by more than this
# (proportion scale: 5 percentage points), compared as shown (to 0.1 point). docs/analysis-plan.md.
ROBUST_SHIFT = 0.05
# What the analysis plan asks for besides the default priors.
REQUIRED_TAU, REQUIRED_MU = 2, 1
DEFAULT_MARK = " — default priors"
PRIOR_REFERENCES = ["friede2017a", "friede2017b", "rover2021", "gunhan2020"]


@dataclass(frozen=True)
class PriorRow:
    """One configured Bayesian method: its name in the pooled JSON, label and priors."""

    name: str  # "primary" or the key under methods.secondary
    label: str
    prior_mu: Prior
    prior_tau: Prior
    default: bool


def priors_of(spec: dict) -> tuple[Prior, Prior]:
    return (
        parse_prior(str(spec.get("prior_mu") or DEFAULT_PRIOR_MU), "mu"),
        parse_prior(str(spec.get("prior_tau") or DEFAULT_PRIOR_TAU), "tau"),
    )


def prior_rows(data: ReportData) -> list[PriorRow]:
    """Every method with ``method: bayes``, the one with the default priors first."""
    methods = data.plan.config.get("methods") or {}
    found = [("primary", methods.get("primary") or {})] + list(
        (methods.get("secondary") or {}).items()
    )
    found = [(name, spec or {}) for name, spec in found if (spec or {}).get("method") == "bayes"]
    if not found:
        return []
    names = [name for name, _ in found]
    package_defaults = priors_of({})
    default = next(
        (n for n in ("primary", "bayes") if n in names),
        next((n for n, s in found if priors_of(s) == package_defaults), names[0]),
    )
    rows = [
        PriorRow(name, data.plan.method_label(name), *priors_of(spec), default=name == default)
        for name, spec in found
    ]
    first = next(r for r in rows if r.default)

    def order(row: PriorRow) -> int:
        """Default; other tau priors; other mu priors; both changed; the default's priors again
        (the configuration's order within each: the selection rule may have sorted it)."""
        if row.default:
            return 0
        same_mu, same_tau = row.prior_mu == first.prior_mu, row.prior_tau == first.prior_tau
        return {(True, False): 1, (False, True): 2, (False, False): 3}.get((same_mu, same_tau), 4)

    return sorted(rows, key=order)


# ----------------------------------------------------------------------------- priors in words


def short_prior(p: Prior) -> str:
    """``Logistic(0, 1)``, ``half-Cauchy(0.5)``."""
    name = {"normal": "Normal", "logistic": "Logistic"}.get(p.family, p.family)
    if p.family in ("normal", "logistic"):
        return f"{name}({p.loc:g}, {p.scale:g})"
    return f"{name.replace('cauchy', 'Cauchy')}({p.scale:g})"


def mu_words(p: Prior) -> str:
    """The prior on mu and what it says about the median proportion expit(mu)."""
    if p.family == "logistic" and p.loc == 0 and p.scale == 1:
        return "Logistic(0, 1): uniform on the median proportion"
    z = NormalDist().inv_cdf(0.975) if p.family == "normal" else math.log(39)
    low, high = (expit(p.loc + s * z * p.scale) for s in (-1, 1))
    spread = f"SD {p.scale:g}" if p.family == "normal" else f"scale {p.scale:g}"
    name = "Normal" if p.family == "normal" else "Logistic"
    return (
        f"{name}(mean {p.loc:g}, {spread}): 95% prior probability that the median proportion "
        f"is between {low:.2f} and {high:.2f}"
    )


def tau_quantile(p: Prior, q: float) -> float:
    if p.family == "half-normal":
        return p.scale * NormalDist().inv_cdf((1 + q) / 2)
    return p.scale * math.tan(math.pi * q / 2)


def tau_words(p: Prior) -> str:
    """The prior on tau with its median and 95th percentile (logit scale)."""
    tail = ", heavy tail" if p.family == "half-cauchy" else ""
    return (
        f"{short_prior(p)}: median τ {tau_quantile(p, 0.5):.2f}, "
        f"95% below {tau_quantile(p, 0.95):.2f}{tail}"
    )


def changed_prior(row: PriorRow, default: PriorRow) -> str:
    """``τ ~ half-Cauchy(0.5) instead of half-normal(1)`` (and/or the same for μ)."""
    parts = []
    if row.prior_mu != default.prior_mu:
        parts.append(f"μ ~ {short_prior(row.prior_mu)} instead of {short_prior(default.prior_mu)}")
    if row.prior_tau != default.prior_tau:
        parts.append(
            f"τ ~ {short_prior(row.prior_tau)} instead of {short_prior(default.prior_tau)}"
        )
    return " and ".join(parts) or "the same priors as the default"


# ----------------------------------------------------------------------------- the section


def result_of(data: ReportData, outcome: str, name: str) -> tuple[dict | None, str]:
    """(pooled result of method ``name`` in the primary scenario, its source)."""
    doc = data.pooled[outcome]["primary"]
    src = file_src(outcome, "primary")
    if name == "primary":
        return doc, src
    return (doc.get("secondary") or {}).get(name), f"{src}{pointer('secondary', name)}"


def thresholds_of(results: list[dict | None]) -> list[str]:
    """Every threshold of ``prob_above`` in the results, in numeric order."""
    keys = {str(k) for r in results if r for k in (r.get("prob_above") or {})}
    return sorted(keys, key=float)


def bracket(result: dict, src: str, low: str, high: str, fmt: str) -> Cell:
    return cell("[", num(result, src, low, fmt), NBSP_COMMA, num(result, src, high, fmt), "]")


def table_row(row: PriorRow, result: dict | None, src: str, thresholds: list[str]) -> tuple:
    label = row.label
    if row.default:
        label += DEFAULT_MARK + (", used for the primary analysis" if row.name == "primary" else "")
    head = (cell(label), cell(mu_words(row.prior_mu)), cell(tau_words(row.prior_tau)))
    if result is None:
        missing = "not in the pooled results (rerun the pooling)"
        return head + (cell(missing),) + (cell(numbers.MISSING),) * (4 + len(thresholds))
    if not numbers.is_estimable(result):
        return (
            head + (cell(numbers.NOT_ESTIMABLE),) + (cell(numbers.MISSING),) * (4 + len(thresholds))
        )
    above = result.get("prob_above") or {}
    probabilities = tuple(
        cell(
            Num(
                numbers.probability(above[t]),
                f"{src}{pointer('prob_above', t)}",
                "probability",
            )
        )
        if t in above
        else cell(numbers.MISSING)
        for t in thresholds
    )
    return (
        head
        + (
            cell(num(result, src, "estimate", "proportion")),
            bracket(result, src, "ci_low", "ci_high", "bound"),
            cell(num(result, src, "tau", "tau")),
            bracket(result, src, "tau_ci_low", "tau_ci_high", "tau"),
            bracket(result, src, "pi_low", "pi_high", "bound"),
        )
        + probabilities
    )


def outcome_blocks(data: ReportData, outcome: str, rows: list[PriorRow]) -> list[Block]:
    plan = data.plan
    label = plan.outcome_label(outcome)
    level = level_text(plan)
    shown = [(row, *result_of(data, outcome, row.name)) for row in rows]
    thresholds = thresholds_of([result for _, result, _ in shown])
    header = (
        "Model",
        "Prior on μ (logit of the median proportion)",
        "Prior on τ (between-study SD, logit scale)",
        "Median proportion",
        f"{level} CrI",
        "τ (median)",
        f"τ {level} CrI",
        f"{level} predictive interval",
    ) + tuple(f"P(median proportion > {t})" for t in thresholds)
    table = Table(
        header,
        tuple(table_row(row, result, src, thresholds) for row, result, src in shown),
        caption=f"{label}: the Bayesian model under every configured prior "
        "(primary analysis; posterior medians and equal-tailed credible intervals)",
    )
    blocks: list[Block] = [Heading(3, label, f"{ANCHOR}-{outcome.replace('_', '-')}"), table]
    if thresholds and any(not (r or {}).get("prob_above") for _, r, _ in shown):
        blocks.append(
            Paragraph(
                cell(
                    "P(median proportion > t) is computed only for methods whose `thresholds` "
                    "are set in the analysis plan; – marks the others."
                )
            )
        )
    return blocks + judgement_blocks(data, shown)


def judgement_blocks(data: ReportData, shown: list) -> list[Block]:
    """How much the priors move the answer, in words computed from the numbers."""
    default, result, src = shown[0]
    level = level_text(data.plan)
    if not numbers.is_estimable(result):
        return [
            Paragraph(
                cell(
                    "The default-prior model gave no estimate: the priors' "
                    "influence cannot be judged here."
                )
            )
        ]
    others = [(r, res, s) for r, res, s in shown[1:] if numbers.is_estimable(res)]
    blocks: list[Block] = []
    if others:
        blocks.append(Paragraph(shift_sentence(default, result, others, shown, level)))
    else:
        # No other prior configured is not the same as other priors failing to estimate.
        blocks.append(
            Paragraph(
                cell(
                    "No other prior gave an estimate here: the priors' influence is not "
                    "shown for this outcome."
                    if len(shown) > 1
                    else "No other prior is configured: the priors' influence is not shown."
                )
            )
        )
    blocks += tau_blocks(shown)
    blocks += boundary_blocks(default, result, shown)
    return blocks


# Posterior median of tau within this share of its prior's median under every prior: the data
# say little about the spread (what rests on tau rests on the prior).
TAU_CLOSE_TO_PRIOR = 0.25


def tau_blocks(shown: list) -> list[Block]:
    """Each prior's median tau against its posterior's, and the predictive interval's range:
    with few small studies tau is barely identified, and a reader must see that."""
    rows = [
        (row, res, s)
        for row, res, s in shown
        if numbers.is_estimable(res) and isinstance(res.get("tau"), (int, float))
    ]
    if not rows:
        return []
    parts: list = ["The posterior median of τ against its prior's median: "]
    close = True
    for i, (row, res, src) in enumerate(rows):
        prior = tau_quantile(row.prior_tau, 0.5)
        close = close and abs(float(res["tau"]) - prior) <= TAU_CLOSE_TO_PRIOR * prior
        parts += (["; "] if i else []) + [
            num(res, src, "tau", "tau"),
            f" against {prior:.2f} ({short_prior(row.prior_tau)})",
        ]
    parts.append(". ")
    with_pi = [(res, s) for _, res, s in rows if res.get("pi_low") is not None]
    if close:
        parts.append(
            "Under every prior the posterior of τ stays close to the prior: these studies carry "
            "little information about the between-study spread, so what rests on τ (the "
            "predictive interval, a judgement of inconsistency) rests largely on the prior. "
        )
    if len(with_pi) > 1:
        low = min(with_pi, key=lambda rs: float(rs[0]["pi_low"]))
        high = max(with_pi, key=lambda rs: float(rs[0]["pi_low"]))
        parts += [
            "The lower end of the predictive interval ranges from ",
            num(low[0], low[1], "pi_low", "bound"),
            " to ",
            num(high[0], high[1], "pi_low", "bound"),
            " across the priors.",
        ]
    if isinstance(parts[-1], str):
        parts[-1] = parts[-1].rstrip()
    return [Paragraph(cell(*parts))]


def shift_points(value: float, reference: float) -> float:
    """The difference in percentage points, as shown (one decimal)."""
    return round(100 * (value - reference), 1)


def _printed(value: object) -> float:
    """A proportion as the report prints it (three decimals): shifts are differences a reader
    can check by subtracting the printed medians."""
    return float(numbers.proportion(value))


def shift_sentence(default: PriorRow, result: dict, others: list, shown: list, level) -> Cell:
    base = _printed(result["estimate"])
    # One set of shifts, from the printed medians, for the largest, the judgement and its list.
    shifts = [
        (row, res, s, shift_points(_printed(res["estimate"]), base)) for row, res, s in others
    ]
    row, res, src, largest = max(shifts, key=lambda x: (abs(x[3]), -shifts.index(x)))
    estimable = [(res_, s_) for _, res_, s_ in shown if numbers.is_estimable(res_)]

    def extreme(key: str, pick) -> Num:
        res_, s_ = pick(estimable, key=lambda rs: float(rs[0][key]))
        return num(res_, s_, key, "bound")

    parts: list = [
        f"Across the {len(others)} other prior{'s' if len(others) > 1 else ''}, the posterior "
        f"median proportion moves by at most {abs(largest):.1f} percentage points from the "
        "default's ",
        num(result, shown[0][2], "estimate", "proportion"),
        " (to ",
        num(res, src, "estimate", "proportion"),
        f" with {changed_prior(row, default)}). Across all priors the lower end of the "
        f"{level} CrI ranges from ",
        extreme("ci_low", min),
        " to ",
        extreme("ci_low", max),
        ", the upper end from ",
        extreme("ci_high", min),
        " to ",
        extreme("ci_high", max),
        ". ",
    ]
    limit = round(100 * ROBUST_SHIFT, 1)
    beyond = [(r, sh) for r, _, _, sh in shifts if abs(sh) > limit]
    if not beyond:
        parts.append(
            f"Judgement: robust to the priors (no other prior moves the median by more than "
            f"{limit:g} percentage points, the threshold of the analysis plan)."
        )
    else:
        moves = "; ".join(
            f"{changed_prior(r, default)} moves it {'up' if sh > 0 else 'down'} by "
            f"{abs(sh):.1f} points"
            for r, sh in beyond
        )
        parts.append(
            f"Judgement: sensitive to the priors (threshold {limit:g} percentage points): {moves}."
        )
    return tuple(parts)


def boundary_blocks(default: PriorRow, result: dict, shown: list) -> list[Block]:
    """All 100% (or all 0%): the data give no upper (lower) limit; the prior on mu does."""
    events, n = result.get("events"), result.get("n")
    if not isinstance(events, int) or not isinstance(n, int) or n == 0 or 0 < events < n:
        return []
    share, end = ("100%", "upper") if events == n else ("0%", "lower")
    mu_rows = [r for r, _, _ in shown[1:] if r.prior_mu != default.prior_mu]
    compare = (
        "the rows with another prior on μ show by how much"
        if mu_rows
        else "no other prior on μ is configured to show by how much"
    )
    return [
        Paragraph(
            cell(
                f"Every study reports {share}: the data give no {end} limit, so the {end} end of "
                f"the credible interval, and the median's distance from {share}, rest on the "
                f"prior on μ; {compare}."
            )
        )
    ]


def plan_paragraph(rows: list[PriorRow]) -> Paragraph:
    """Which of "two other tau priors and one other mu prior" the plan fits, or what is missing."""
    default = rows[0]
    tau_others = {r.prior_tau for r in rows[1:] if r.prior_mu == default.prior_mu} - {
        default.prior_tau
    }
    mu_others = {r.prior_mu for r in rows[1:] if r.prior_tau == default.prior_tau} - {
        default.prior_mu
    }
    missing = []
    if len(tau_others) < REQUIRED_TAU:
        lack = REQUIRED_TAU - len(tau_others)
        missing.append(f"{lack} other prior{'s' if lack > 1 else ''} on τ")
    if len(mu_others) < REQUIRED_MU:
        missing.append("1 other prior on μ")
    if not missing:
        return Paragraph(
            cell(
                f"As the analysis plan requires, at least {REQUIRED_TAU} other priors on τ "
                f"({len(tau_others)} configured) and {REQUIRED_MU} other prior on μ "
                f"({len(mu_others)} configured) are fitted besides the default."
            )
        )
    return Paragraph(
        cell(
            f"The analysis plan asks for at least {REQUIRED_TAU} other priors on τ and "
            f"{REQUIRED_MU} other prior on μ besides the default; this configuration has "
            f"{len(tau_others)} and {len(mu_others)}, so {' and '.join(missing)} "
            f"{'are' if len(missing) > 1 or missing[0][0] != '1' else 'is'} missing. Add methods "
            "with `method: bayes` and another `prior_tau` or `prior_mu` under methods.secondary "
            "in config.yaml."
        )
    )


def intro_paragraph(data: ReportData, rows: list[PriorRow]) -> Paragraph:
    default = rows[0]
    if default.name == "primary":
        whose = "those of the primary method, which is Bayesian"
    else:
        primary = str(data.pooled[data.plan.outcomes[0]]["primary"].get("method_label") or "")
        whose = (
            f"those of the secondary method '{default.label}': the primary method "
            f"({primary or data.plan.method_label('primary')}) is not Bayesian, so these rows "
            "show how much the priors matter to the Bayesian answer, not to the headline"
        )
    return Paragraph(
        cell(
            "How much the Bayesian binomial-normal model's answer depends on its priors: each "
            "outcome's primary analysis under every prior of the analysis plan (every method "
            f"with `method: bayes`). The first row has the default priors, {whose}. Priors are "
            "on the logit scale: μ is the logit of the median proportion, τ the between-study "
            "SD. The judgement under each table is computed from the numbers: robust when no "
            f"other prior moves the posterior median by more than {100 * ROBUST_SHIFT:g} "
            "percentage points (declared in the analysis plan)."
        )
    )


def prior_sensitivity_section(data: ReportData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Prior sensitivity", ANCHOR)]
    rows = prior_rows(data)
    if not rows:
        return blocks + [
            Paragraph(
                cell(
                    "No Bayesian method (`method: bayes`) is configured in the analysis plan, "
                    "so there are no priors whose influence could be shown."
                )
            )
        ]
    blocks += [intro_paragraph(data, rows), plan_paragraph(rows)]
    for outcome in data.plan.outcomes:
        blocks += outcome_blocks(data, outcome, rows)
    return blocks


# ----------------------------------------------------------------------------- methods


def prior_methods_paragraph(data: ReportData) -> list[Block]:
    """The default priors, their scale and why, for the methods section (none without bayes)."""
    rows = prior_rows(data)
    if not rows:
        return []
    default = rows[0]
    see: Cell = cell(
        " How much the priors matter for each outcome: see ",
        Link("Prior sensitivity", f"#{ANCHOR}"),
        ".",
    )
    if (default.prior_mu, default.prior_tau) != priors_of({}):
        return [
            Paragraph(
                cell(
                    "Priors of the Bayesian model (logit scale), as set in the analysis plan: "
                    f"μ ~ {mu_words(default.prior_mu)}; τ ~ {tau_words(default.prior_tau)}. "
                    "These are not the package's default priors; the analysis plan gives the "
                    "reason."
                )
                + see
            )
        ]
    return [
        Paragraph(
            cell(
                "Priors of the Bayesian model, on the logit scale: μ (the logit of the median "
                "proportion) ~ Logistic(0, 1), which is exactly a uniform prior on the median "
                "proportion expit(μ): the conventional no-information choice for a proportion, "
                "and proper, so that all-0% and all-100% data have a posterior. τ (the "
                "between-study SD) ~ half-normal(1): weakly informative, it allows τ = 0 and "
                f"puts 95% of its mass below {tau_quantile(default.prior_tau, 0.95):.2f} on the "
                f"logit scale (median {tau_quantile(default.prior_tau, 0.5):.2f}). Half-normal "
                "priors on τ are recommended for meta-analyses of few, small studies "
                f"{cite(PRIOR_REFERENCES)}; Röver et al. suggest scale 0.5 for log odds ratios, "
                "and proportions from case series of different populations and outcome "
                "definitions vary more, hence scale 1. The same priors are used for every "
                "outcome, scenario and subgroup."
            )
            + see
        )
    ]
