"""How firmly the coverage study separates the chosen method: the report's runner-up sentence.

SYNTHETIC inputs built here (a coverage summary's recommendation and a primary pooled result),
never the shipped results.
"""

from __future__ import annotations

import copy

import pytest
from report_helpers import two_outcome_plan

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import Plan
from stsmeta.report.base import ReportData
from stsmeta.report.coverage import (
    coverage_section,
    pooled_method,
    runner_up_paragraph,
    scope_paragraph,
)
from stsmeta.report.document import Num, Paragraph, plain
from stsmeta.report.methods import synthesis_blocks

CONFIG = two_outcome_plan(
    {
        "selection": "coverage",
        "primary": {"label": "B", "method": "bayes"},
        "secondary": {
            "configured_primary": {"label": "G", "method": "glmm"},
            "common_exact": {"label": "C", "method": "common"},
        },
    }
)

CLEAR = {
    "method": "common_exact",
    "label": "Exact common effect (SYNTHETIC)",
    "worst_abs_deviation": 0.045,
    "margin": 0.01,
    "margin_mcse": 0.004444,
    "margin_in_mcse": 2.250176,
    "same_cell": False,
    "tied": False,
    "separated": True,
    "separation": 2.0,
    "tie": 0.005,
}
CLOSE = {**CLEAR, "margin_mcse": 0.009091, "margin_in_mcse": 1.1, "separated": False}


def result(estimate: float, low: float, high: float) -> dict:
    return {"estimate": estimate, "ci_low": low, "ci_high": high, "k": 6}


def make_data(runner_up, selected: str = "bayes", rule: str = "coverage") -> ReportData:
    """The Bayesian model chosen by the rule; the GLMM kept as configured_primary."""
    pooled = {}
    for outcome, shift in (("complete_remission", 0.0), ("any_response", 0.1)):
        doc = result(0.55 + shift, 0.3, 0.8)
        doc["primary_selection"] = {"rule": rule, "method": selected, "reason": "SYNTHETIC"}
        doc["method_reason"] = "SYNTHETIC reason"
        doc["secondary"] = {
            "configured_primary": result(0.62 + shift, 0.2, 0.9),
            "common_exact": result(0.6 + shift, 0.35, 0.82),
        }
        pooled[outcome] = {"primary": doc}
    rec = {"method": "bayes", "label": "Bayesian (SYNTHETIC)", "reason": "SYNTHETIC reason"}
    if runner_up != "absent":
        rec["runner_up"] = copy.deepcopy(runner_up)
    coverage = {"recommendation": rec, "design": {}, "settings": {}, "methods": {}, "summary": []}
    return ReportData(
        plan=Plan(config=copy.deepcopy(CONFIG), path="config.yaml"),
        pooled=pooled,
        studies={},
        tables={},
        figures={},
        checksums={},
        software=(),
        coverage=coverage,
    )


def resolve(data: ReportData, src: str):
    file, pointer = src.split("#", 1)
    if file == "coverage/summary.json":
        value = data.coverage
    else:
        outcome, scenario = file.removesuffix(".json").split("/")
        value = data.pooled[outcome][scenario]
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def sentence(data: ReportData) -> tuple[str, list[Num]]:
    """The runner-up paragraph's text and its numbers, each checked against its source."""
    blocks = runner_up_paragraph(data)
    assert len(blocks) == 1 and isinstance(blocks[0], Paragraph)
    nums = [p for p in blocks[0].parts if isinstance(p, Num)]
    for n in nums:
        assert n.text == getattr(numbers, n.fmt)(resolve(data, n.src)), n.src
    return plain(blocks[0].parts), nums


def test_a_clear_margin_says_the_simulation_separates_the_two():
    text, nums = sentence(make_data(CLEAR))
    assert text == (
        "Runner-up by the same rule: Exact common effect (SYNTHETIC), whose worst cell is 0.045 "
        "from nominal. The recommended method is ahead by 0.010, 2.25 Monte Carlo SEs (MC SE "
        "0.0044: the two worst cells are different grid cells, simulated independently). That "
        "is at least 2, so the simulation's precision separates the two methods."
    )
    assert not any(n.src.startswith("complete_remission/") for n in nums)  # no estimates


def test_a_close_margin_says_so_with_both_estimates_for_the_primary_outcome():
    text, nums = sentence(make_data(CLOSE))
    assert text == (
        "Runner-up by the same rule: Exact common effect (SYNTHETIC), whose worst cell is 0.045 "
        "from nominal. The recommended method is ahead by 0.010, 1.10 Monte Carlo SEs (MC SE "
        "0.0091: the two worst cells are different grid cells, simulated independently). That "
        "is under 2: the simulation's precision does not clearly separate the choice from the "
        "runner-up. For complete remission, the runner-up gives 0.600 [0.350,\u00a00.820] and "
        "the recommended method 0.550 [0.300,\u00a00.800]."
    )
    sources = {n.src for n in nums}
    assert "complete_remission/primary.json#/secondary/common_exact/estimate" in sources
    assert "complete_remission/primary.json#/estimate" in sources
    assert not any(s.startswith("any_response/") for s in sources)  # the first outcome only


def test_the_configured_primary_as_runner_up_is_read_from_configured_primary():
    glmm = {**CLOSE, "method": "primary", "label": "GLMM (SYNTHETIC)"}
    text, nums = sentence(make_data(glmm))
    assert "the runner-up gives 0.620 [0.200,\u00a00.900]" in text
    assert "complete_remission/primary.json#/secondary/configured_primary/estimate" in {
        n.src for n in nums
    }


def test_pooled_method_follows_the_rule_s_rearrangement():
    data = make_data(CLOSE)
    primary = data.pooled["complete_remission"]["primary"]
    assert pooled_method(primary, "bayes") == (primary, "")
    assert pooled_method(primary, "primary")[1] == "/secondary/configured_primary"
    assert pooled_method(primary, "common_exact")[1] == "/secondary/common_exact"
    assert pooled_method(primary, "ft_dl") is None
    # The configured primary kept (the rule chose it): it is the pooled primary itself.
    kept = {"estimate": 0.5, "primary_selection": {"rule": "coverage", "method": "primary"}}
    assert pooled_method(kept, "primary") == (kept, "")


def test_a_close_margin_without_the_runner_up_s_result_gives_no_estimates():
    absent = {**CLOSE, "method": "ft_dl", "label": "Freeman-Tukey (SYNTHETIC)"}
    text, _ = sentence(make_data(absent))
    assert text.endswith("does not clearly separate the choice from the runner-up.")


def test_a_tie_in_one_grid_cell_says_tie_and_bounds_the_se():
    tie = {
        **CLOSE,
        "worst_abs_deviation": 0.034,
        "margin": -0.001,
        "margin_mcse": 0.008,
        "margin_in_mcse": -0.125,
        "same_cell": True,
        "tied": True,
    }
    text, _ = sentence(make_data(tie))
    assert (
        "ahead by -0.001 (a tie by the rule, less than 0.005 apart), at most -0.12 Monte Carlo SEs "
        "(MC SE at most 0.0080: both worst cells are the same grid cell, fitted to the same "
        "datasets). That is under 2: the simulation's precision does not clearly separate" in text
    )


def test_a_positive_margin_in_one_grid_cell_is_at_least_its_count_of_ses():
    same = {**CLOSE, "margin_mcse": 0.014, "margin_in_mcse": 0.714286, "same_cell": True}
    text, _ = sentence(make_data(same))
    assert "ahead by 0.010, at least 0.71 Monte Carlo SEs (MC SE at most 0.0140: both" in text


def test_an_se_of_zero_gives_no_count_of_ses():
    exact = {**CLEAR, "margin_mcse": 0.0, "margin_in_mcse": None, "separated": False}
    text, _ = sentence(make_data(exact))
    assert "with a Monte Carlo SE of 0.0000 (the two worst cells are different grid cells" in text
    # An SE of 0 (every replicate covered or none, as with one replicate a cell) measures no
    # precision: a config audit found it called any positive margin separated.
    assert "at least 2" not in text and "separates the two methods" not in text
    assert "An SE of 0 (each worst cell covered in every replicate or in none) measures no" in text


def test_no_runner_up_and_an_older_summary():
    text, _ = sentence(make_data(None))
    assert text == "No other method is eligible: there is no runner-up."
    assert runner_up_paragraph(make_data("absent")) == []  # written before runner_up existed


@pytest.mark.parametrize("margin", [CLEAR, CLOSE])
def test_the_sentence_follows_the_choice_in_the_coverage_section(margin):
    blocks = coverage_section(make_data(margin))
    texts = [plain(b.parts) for b in blocks if isinstance(b, Paragraph)]
    chosen = next(i for i, t in enumerate(texts) if t.startswith("Recommended for this evidence"))
    assert texts[chosen + 1].startswith("Runner-up by the same rule: Exact common effect")


def test_the_methods_section_gives_it_only_when_the_rule_chose_the_primary():
    def methods_text(data):
        return [plain(b.parts) for b in synthesis_blocks(data) if isinstance(b, Paragraph)]

    texts = methods_text(make_data(CLOSE))
    why = next(i for i, t in enumerate(texts) if t.startswith("Why this primary method"))
    assert texts[why + 1].startswith("Runner-up by the same rule")
    for other in (make_data(CLOSE, rule="fixed"), make_data(CLOSE, selected="primary")):
        assert not any(t.startswith("Runner-up") for t in methods_text(other))


def test_a_runner_up_that_would_win_a_tie_is_weighed_beyond_the_tie_step():
    """The shipped case: 2.25 MC SEs ahead, but the runner-up's narrower intervals would win a
    tie, so the margin beyond the tie step (about 1.1 MC SEs) decides: not clearly separated,
    with both estimates."""
    narrower = {
        **CLEAR,
        "runner_up_narrower": True,
        "deciding_margin": 0.005,
        "deciding_in_mcse": 1.125088,
        "separated": False,
    }
    text = plain(runner_up_paragraph(make_data(narrower))[0].parts)
    assert "ahead by 0.010, 2.25 Monte Carlo SEs" in text
    assert "counts worst cells less than 0.005 apart as a tie" in text
    assert "the margin that keeps the choice is 0.005, 1.13 Monte Carlo SEs" in text
    assert "does not clearly separate the choice from the runner-up" in text
    assert "separates the two methods" not in text


def with_grid(
    data: ReportData, taus, props, tau_high: float, glmm_tau2: float, tau: float = 0.7
) -> ReportData:
    """SYNTHETIC coverage settings and binomial-normal heterogeneity (what the scope reads)."""
    data.coverage["settings"] = {
        "outcome": "complete_remission",
        "scenario": "primary",
        "taus": list(taus),
        "true_proportions": list(props),
    }
    doc = data.pooled["complete_remission"]["primary"]
    doc["method_label"] = "Bayesian (SYNTHETIC)"
    doc["settings"] = {"method": "bayes"}
    doc["tau"], doc["tau_ci_high"] = tau, tau_high
    glmm = doc["secondary"]["configured_primary"]
    glmm.update(label="GLMM (SYNTHETIC)", settings={"method": "glmm"}, tau2=glmm_tau2)
    doc["secondary"]["common_exact"]["settings"] = {"method": "common"}
    return data


def scope(data: ReportData) -> str:
    blocks = scope_paragraph(data)
    if not blocks:
        return ""
    nums = [p for p in blocks[0].parts if isinstance(p, Num)]
    for n in nums:
        assert n.text == getattr(numbers, n.fmt)(resolve(data, n.src)), n.src
    return plain(blocks[0].parts)


def test_heterogeneity_beyond_the_grid_is_said_with_its_numbers():
    # A statistical review found the recommendation quoted over a grid reaching tau = 1 while
    # the primary analysis's own fits put tau beyond it, with nothing said.
    data = with_grid(make_data(CLEAR), (0.0, 0.5, 1.0), (0.3, 0.9), 2.15, 1.55)
    text = scope(data)
    assert text.startswith(
        "The grid's largest between-study SD is τ = 1; the fits of the primary analyses reach "
        "beyond the grid. Complete remission: Bayesian (SYNTHETIC), posterior median τ 0.70 "
        "with its credible interval up to 2.15 (with so few studies, largely the prior on τ); "
        "GLMM (SYNTHETIC), τ² = 1.5500 (τ above the grid's largest)."
    )
    assert "with more heterogeneity than the grid holds (their" in text
    assert "the recommendation rests on the grid alone" in text
    assert "Exact common" not in text  # not a binomial-normal tau
    paragraphs = [plain(b.parts) for b in coverage_section(data) if isinstance(b, Paragraph)]
    assert text in paragraphs  # in the coverage section, after the runner-up
    # A posterior median beyond the grid is the data's, not the prior's: no such remark.
    data = with_grid(make_data(CLEAR), (0.0, 0.5, 1.0), (0.3, 0.9), 2.15, 0.5, tau=1.2)
    assert "posterior median τ 1.20 with its credible interval up to 2.15." in scope(data)


def test_heterogeneity_within_the_grid_adds_nothing():
    data = with_grid(make_data(CLEAR), (0.0, 1.0, 2.0), (0.3, 0.9), 1.9, 1.2)
    assert scope(data) == ""
    # ... but an estimate outside the grid's proportions is said, and only that.
    data.pooled["complete_remission"]["primary"]["estimate"] = 0.95
    text = scope(data)
    assert "Complete remission: the pooled estimate, 0.950, lies outside the grid's true" in text
    assert "behave at proportions outside it (" in text and "heterogeneity" not in text
    # Every outcome is checked: the recommendation is used for each.
    data.pooled["any_response"]["primary"]["estimate"] = 0.96
    assert "Any response: the pooled estimate, 0.960, lies outside" in scope(data)


def test_odd_values_in_the_files_neither_crash_the_report_nor_print_a_dash():
    data = with_grid(make_data(CLEAR), (0.0, None, "x", float("nan"), 1.0), (0.3, 0.9), 2.15, 1.5)
    text = scope(data)
    assert "τ = 1;" in text and "–" not in text
    doc = data.pooled["complete_remission"]["primary"]
    doc["tau_ci_high"] = True  # not a number
    doc["secondary"]["configured_primary"]["tau2"] = float("nan")
    doc["estimate"] = float("nan")
    assert scope(data) == ""
    data.coverage["settings"]["taus"] = "0, 1"
    assert scope(data) == ""


def test_the_abstract_says_how_the_primary_method_came_to_be():
    # A config audit: with no method qualifying, the abstract still said the rule chose it.
    from stsmeta.report.abstract import how_chosen

    assert "the analysis plan's rule chose" in how_chosen(make_data(CLEAR))
    none = make_data("absent", selected="primary")
    none.coverage["recommendation"]["method"] = None
    assert how_chosen(none) == (
        " (the configured method: no method met the coverage study's criteria)"
    )
    assert how_chosen(make_data(CLEAR, selected="primary", rule="fixed")) == ""
