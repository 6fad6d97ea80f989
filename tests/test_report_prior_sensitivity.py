"""The report's prior-sensitivity section: a row per configured Bayesian prior for every outcome,
the numbers of the pooled JSON, a judgement computed from them, and what the plan leaves out.

The pooled results here are SYNTHETIC (shaped like `stsmeta pool` output for `method: bayes`,
numbers made up); the section only displays and compares them. No Snakemake.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from figure_helpers import tiny_svg
from report_helpers import two_outcome_plan
from test_report import build

from stsmeta.outputs import figure_stems
from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import Plan
from stsmeta.report.base import ReportData
from stsmeta.report.document import Heading, Num, Paragraph, Table, plain
from stsmeta.report.methods import methods_references, synthesis_blocks
from stsmeta.report.prior_sensitivity import ROBUST_SHIFT, prior_sensitivity_section

FIXTURES = Path(__file__).parent / "fixtures" / "pooled"
OUTCOMES = ["complete_remission", "any_response"]

VARIANTS = {
    "bayes_tau_hn05": {
        "label": "Bayesian, tau ~ half-normal(0.5)",
        "method": "bayes",
        "prior_mu": "logistic:0:1",
        "prior_tau": "half-normal:0.5",
        "thresholds": [0.5],
    },
    "bayes_tau_hc05": {
        "label": "Bayesian, tau ~ half-Cauchy(0.5)",
        "method": "bayes",
        "prior_mu": "logistic:0:1",
        "prior_tau": "half-cauchy:0.5",
    },
    "bayes_mu_n2": {
        "label": "Bayesian, mu ~ Normal(0, 2)",
        "method": "bayes",
        "prior_mu": "normal:0:2",
        "prior_tau": "half-normal:1",
        "thresholds": [0.5],
    },
}
DEFAULT = {
    "label": "Bayesian binomial-normal (uniform median proportion, half-normal(1) tau)",
    "method": "bayes",
    "prior_mu": "logistic:0:1",
    "prior_tau": "half-normal:1",
    "thresholds": [0.5],
}
GLMM = {"label": "Binomial-normal GLMM (ML)", "method": "glmm", "ci": "z", "pi": "t-k1"}

# (estimate, ci_low, ci_high, tau, tau_ci_low, tau_ci_high, pi_low, pi_high, P(>0.5)) SYNTHETIC
NUMBERS = {
    "primary": (0.781, 0.482, 0.958, 0.710, 0.035, 2.153, 0.260, 0.986, 0.968),
    "bayes": (0.781, 0.482, 0.958, 0.710, 0.035, 2.153, 0.260, 0.986, 0.968),
    "bayes_tau_hn05": (0.761, 0.491, 0.933, 0.359, 0.017, 1.142, 0.406, 0.954, 0.975),
    "bayes_tau_hc05": (0.772, 0.475, 0.959, 0.478, 0.020, 3.541, 0.231, 0.989, None),
    "bayes_mu_n2": (0.803, 0.498, 0.966, 0.743, 0.037, 2.192, 0.277, 0.989, 0.970),
}
KEYS = ("estimate", "ci_low", "ci_high", "tau", "tau_ci_low", "tau_ci_high", "pi_low", "pi_high")


def bayes_result(name: str, spec: dict, events: int, n: int, shift: float) -> dict:
    values = NUMBERS[name]
    result = {
        key: value + (shift if "tau" not in key else 0)
        for key, value in zip(KEYS, values[:8], strict=True)
    }
    return {
        **result,
        "k": 6,
        "events": events,
        "n": n,
        "tau2": result["tau"] ** 2,
        "prob_above": {} if values[8] is None else {"0.5": values[8]},
        "warnings": [],
        "settings": {
            "method": "bayes",
            "prior_mu": spec["prior_mu"],
            "prior_tau": spec["prior_tau"],
        },
    }


def make_data(primary_bayes: bool = True, variants: dict | None = None) -> ReportData:
    """Outcomes: complete remission 10/13; any response all 100% (15/15)."""
    variants = VARIANTS if variants is None else variants
    if primary_bayes:  # as after methods.selection: coverage chose the Bayesian model
        methods = {"primary": DEFAULT, "secondary": {"configured_primary": GLMM, **variants}}
    else:
        methods = {"primary": GLMM, "secondary": {"bayes": DEFAULT, **variants}}
    config = two_outcome_plan(methods)
    pooled = {}
    for outcome, (events, n, shift) in {
        "complete_remission": (10, 13, 0.0),
        "any_response": (15, 15, 0.01),
    }.items():
        bayes = {
            name: bayes_result(name, spec, events, n, shift)
            for name, spec in methods["secondary"].items()
            if spec["method"] == "bayes"
        }
        glmm = {"estimate": 0.884, "ci_low": 0.119, "ci_high": 0.998, "k": 6}
        doc = bayes_result("primary", DEFAULT, events, n, shift) if primary_bayes else glmm
        doc["method_label"] = methods["primary"]["label"]
        doc["secondary"] = {**bayes, "configured_primary" if primary_bayes else "glmm": glmm}
        pooled[outcome] = {"primary": doc}
    return ReportData(
        plan=Plan(config=config, path="config.yaml"),
        pooled=pooled,
        studies={},
        tables={},
        figures={},
        checksums={},
        software=(),
    )


def tables(blocks) -> list[Table]:
    return [b for b in blocks if isinstance(b, Table)]


def text_of(blocks) -> str:
    return "\n".join(plain(b.parts) for b in blocks if isinstance(b, Paragraph))


def outcome_blocks(blocks, outcome: str) -> list:
    """The blocks under one outcome's level-3 heading."""
    start = next(
        i
        for i, b in enumerate(blocks)
        if isinstance(b, Heading) and b.anchor.endswith(outcome.replace("_", "-"))
    )
    end = next(
        (i for i, b in enumerate(blocks[start + 1 :], start + 1) if isinstance(b, Heading)),
        len(blocks),
    )
    return blocks[start:end]


def resolve(pooled: dict, src: str):
    file, pointer = src.split("#", 1)
    outcome, scenario = file.removesuffix(".json").split("/")
    value = pooled[outcome][scenario]
    for token in pointer.split("/")[1:]:
        value = value[token.replace("~1", "/").replace("~0", "~")]
    return value


def test_a_row_per_configured_bayes_method_for_every_outcome_default_first():
    data = make_data()
    blocks = prior_sensitivity_section(data)
    assert isinstance(blocks[0], Heading) and blocks[0].anchor == "prior-sensitivity"
    labels = [DEFAULT["label"] + " — default priors, used for the primary analysis"] + [
        v["label"] for v in VARIANTS.values()
    ]
    for outcome in OUTCOMES:
        (table,) = tables(outcome_blocks(blocks, outcome))
        assert [plain(row[0]) for row in table.rows] == labels
        assert plain(table.rows[0][1]) == "Logistic(0, 1): uniform on the median proportion"
        assert plain(table.rows[3][1]).startswith("Normal(mean 0, SD 2)")
        assert plain(table.rows[2][2]).startswith("half-Cauchy(0.5)")
        assert table.header[-1] == "P(median proportion > 0.5)"
        # tau ~ half-Cauchy(0.5) has no thresholds configured: its cell says so, not 0.
        assert plain(table.rows[2][-1]) == numbers.MISSING


def test_every_number_equals_the_pooled_json():
    data = make_data()
    blocks = prior_sensitivity_section(data)
    seen = set()
    for block in blocks:
        parts = (
            [p for row in block.rows for c in row for p in c]
            if isinstance(block, Table)
            else list(block.parts)
            if isinstance(block, Paragraph)
            else []
        )
        for part in parts:
            if isinstance(part, Num):
                assert part.text == getattr(numbers, part.fmt)(resolve(data.pooled, part.src))
                seen.add(part.src)
    for outcome in OUTCOMES:
        src = f"{outcome}/primary.json#"
        for key in KEYS:
            assert f"{src}/{key}" in seen
            for name in VARIANTS:
                assert f"{src}/secondary/{name}/{key}" in seen
        assert f"{src}/prob_above/0.5" in seen


def test_the_judgement_follows_the_numbers():
    data = make_data()
    part = outcome_blocks(prior_sensitivity_section(data), "complete_remission")
    text = text_of(part)
    # The largest shift is mu ~ Normal(0, 2): 0.803 - 0.781 = 2.2 points.
    assert "moves by at most 2.2 percentage points" in text
    assert "robust to the priors" in text and "sensitive" not in text
    # Move that variant's median beyond the threshold: the judgement changes and names it.
    moved = data.pooled["complete_remission"]["primary"]["secondary"]["bayes_mu_n2"]
    moved["estimate"] = 0.781 + ROBUST_SHIFT + 0.03
    text = text_of(outcome_blocks(prior_sensitivity_section(data), "complete_remission"))
    assert "robust to the priors" not in text
    assert "sensitive to the priors" in text
    assert "μ ~ Normal(0, 2) instead of Logistic(0, 1) moves it up by 8.0 points" in text
    # Downwards, and the other variants not named.
    moved["estimate"] = 0.781 - 0.06
    text = text_of(outcome_blocks(prior_sensitivity_section(data), "complete_remission"))
    assert "moves it down by 6.0 points" in text and "half-Cauchy(0.5) instead" not in text


def test_interval_ends_range_over_all_priors():
    text = text_of(outcome_blocks(prior_sensitivity_section(make_data()), "complete_remission"))
    assert "lower end of the 95% CrI ranges from 0.475 to 0.498" in text
    assert "upper end from 0.933 to 0.966" in text


def test_all_100_percent_says_the_upper_end_rests_on_the_prior_on_mu():
    data = make_data()
    blocks = prior_sensitivity_section(data)
    assert "Every study reports 100%" in text_of(outcome_blocks(blocks, "any_response"))
    assert "rest on the prior on μ" in text_of(outcome_blocks(blocks, "any_response"))
    assert "Every study reports" not in text_of(outcome_blocks(blocks, "complete_remission"))
    without_mu = {k: v for k, v in VARIANTS.items() if k != "bayes_mu_n2"}
    text = text_of(
        outcome_blocks(prior_sensitivity_section(make_data(True, without_mu)), "any_response")
    )
    assert "no other prior on μ is configured" in text


@pytest.mark.parametrize(
    ("removed", "missing"),
    [
        (["bayes_tau_hc05"], "1 other prior on τ is missing"),
        (["bayes_mu_n2"], "1 other prior on μ is missing"),
        (["bayes_tau_hc05", "bayes_tau_hn05"], "2 other priors on τ are missing"),
        (list(VARIANTS), "2 other priors on τ and 1 other prior on μ are missing"),
    ],
)
def test_missing_variants_are_named(removed, missing):
    full = text_of(prior_sensitivity_section(make_data()))
    assert "As the analysis plan requires" in full and "missing" not in full
    kept = {k: v for k, v in VARIANTS.items() if k not in removed}
    data = make_data(True, kept)
    blocks = prior_sensitivity_section(data)
    assert missing in text_of(blocks)
    for outcome in OUTCOMES:
        (table,) = tables(outcome_blocks(blocks, outcome))
        assert len(table.rows) == 1 + len(kept)


def test_no_alternative_prior_configured_is_not_called_a_failure_to_estimate():
    # A config audit: with no variant configured the section said "No other prior gave an
    # estimate here", as if they had been fitted and failed.
    blocks = prior_sensitivity_section(make_data(True, {}))
    text = text_of(blocks)
    assert "No other prior is configured: the priors' influence is not shown." in text
    assert "No other prior gave an estimate" not in text


def test_without_a_bayesian_method_the_section_says_so():
    data = make_data(False, {})
    data.plan.config["methods"]["secondary"].pop("bayes")
    blocks = prior_sensitivity_section(data)
    assert not tables(blocks)
    assert len(blocks) == 2 and "No Bayesian method" in plain(blocks[1].parts)
    assert not [
        b for b in synthesis_blocks(data) if "Priors of the" in plain(getattr(b, "parts", ()))
    ]


def test_a_non_bayesian_primary_takes_the_default_from_the_bayes_method():
    data = make_data(primary_bayes=False)
    blocks = prior_sensitivity_section(data)
    assert "is not Bayesian" in text_of(blocks)
    (table,) = tables(outcome_blocks(blocks, "complete_remission"))
    assert plain(table.rows[0][0]) == DEFAULT["label"] + " — default priors"
    sources = [p.src for p in table.rows[0][3] if isinstance(p, Num)]
    assert sources == ["complete_remission/primary.json#/secondary/bayes/estimate"]


def test_methods_state_the_default_priors_with_references_and_point_to_the_section():
    data = make_data()
    text = "\n".join(plain(b.parts) for b in synthesis_blocks(data) if isinstance(b, Paragraph))
    assert "uniform prior on the median proportion" in text
    assert "half-normal(1)" in text and "95% of its mass below 1.96" in text
    for short in ("Friede et al. 2017a", "Friede et al. 2017b", "Röver et al. 2021", "Günhan"):
        assert short in text
    assert "see Prior sensitivity" in text
    listed = "".join(plain(item) for item in methods_references(data)[1].items)
    assert "Biom J 2017;59(4):658-671" in listed and "Res Synth Methods 2021;12(4):448" in listed
    other = copy.deepcopy(data.plan.config)
    other["methods"]["primary"]["prior_tau"] = "half-cauchy:1"
    data2 = dataclasses.replace(data, plan=Plan(config=other, path="config.yaml"))
    text2 = "\n".join(plain(b.parts) for b in synthesis_blocks(data2) if isinstance(b, Paragraph))
    assert "not the package's default priors" in text2 and "uniform prior" not in text2


def test_the_report_shows_the_section_in_html_and_markdown(tmp_path):
    """The whole report from the fixtures with Bayesian methods added: heading, contents entry,
    accessible table, every number traced to the JSON; the same section in Markdown."""
    root = tmp_path / "in"
    shutil.copytree(FIXTURES / "results", root / "results")
    config = yaml.safe_load((FIXTURES / "config.yaml").read_text(encoding="utf-8"))
    config["methods"]["secondary"].update({"bayes": DEFAULT, **VARIANTS})
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for outcome in OUTCOMES:
        path = root / "results/pool" / outcome / "primary.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        events, n = doc["events"], doc["n"]
        for name, spec in {"bayes": DEFAULT, **VARIANTS}.items():
            doc["secondary"][name] = {
                "label": spec["label"],
                **bayes_result(name, spec, events, n, 0),
            }
        path.write_text(json.dumps(doc), encoding="utf-8")
    figures = root / "results" / "figures"
    figures.mkdir()
    for i, stem in enumerate(figure_stems(OUTCOMES)):
        (figures / f"{stem}.svg").write_bytes(tiny_svg(i))
    html, md = build(root, out="out", coverage=None)
    assert '<h2 id="prior-sensitivity">Prior sensitivity</h2>' in html
    assert '<a href="#prior-sensitivity">Prior sensitivity</a>' in html  # contents
    section = html.split('id="prior-sensitivity"', 1)[1].split("<h2 ", 1)[0]
    assert section.count("<table") == len(OUTCOMES)
    assert '<th scope="col">Prior on μ (logit of the median proportion)</th>' in section
    assert section.count('<th scope="row">') == len(OUTCOMES) * 4
    pooled = {
        o: {"primary": json.loads((root / f"results/pool/{o}/primary.json").read_text())}
        for o in OUTCOMES
    }
    found = re.findall(
        r'<span class="num" data-src="([^"]*)" data-format="([^"]*)">([^<]*)</span>', section
    )
    assert len(found) > 50
    for src, fmt, text in found:
        assert text == getattr(numbers, fmt)(resolve(pooled, src.replace("&#x27;", "'")))
    assert "\n## Prior sensitivity\n" in md and "Judgement: robust to the priors" in md
    assert "— default priors" in md


def test_tau_against_its_prior_and_the_predictive_intervals_range():
    """With few small studies tau's posterior follows its prior: the section says so, with each
    prior's median beside the posterior's, and how far the predictive interval's end moves."""
    data = make_data()
    text = text_of(outcome_blocks(prior_sensitivity_section(data), "complete_remission"))
    assert "The posterior median of τ against its prior's median: " in text
    assert " against 0.67 (half-normal(1))" in text and " against 0.50 (half-Cauchy(0.5))" in text
    assert "stays close to the prior" in text
    assert "The lower end of the predictive interval ranges from " in text
    # A posterior far from its prior: no such claim.
    primary = data.pooled["complete_remission"]["primary"]
    primary["tau"] = 2.5
    text = text_of(outcome_blocks(prior_sensitivity_section(data), "complete_remission"))
    assert "stays close to the prior" not in text


def _text_with_medians(default: float, mu_n2: float) -> str:
    """Complete remission's section with these posterior medians (the half-normal(0.5) and
    half-Cauchy(0.5) variants near the default, so that mu ~ Normal(0, 2) moves it most)."""
    data = make_data()
    primary = data.pooled["complete_remission"]["primary"]
    primary["estimate"] = default
    for name, value in (("bayes_mu_n2", mu_n2), ("bayes_tau_hn05", 0.9), ("bayes_tau_hc05", 0.91)):
        primary["secondary"][name]["estimate"] = value
    return text_of(outcome_blocks(prior_sensitivity_section(data), "complete_remission"))


def test_the_shift_is_the_difference_of_the_printed_medians():
    # A review subtracted the printed 0.905 from 0.918 and found 1.3 points where the sentence
    # said 1.2 (the unrounded medians differ by 1.22).
    text = _text_with_medians(0.9054, mu_n2=0.91762)
    assert "from the default's 0.905 (to 0.918 with" in text
    assert "moves by at most 1.3 percentage points" in text


def test_the_judgement_weighs_the_same_printed_shift_as_the_sentence():
    # A diff review: 0.9054 and 0.95555 print as 0.905 and 0.956, 5.1 points apart, while the
    # judgement weighed the unrounded 5.0 and called it robust.
    text = _text_with_medians(0.9054, mu_n2=0.95555)
    assert "moves by at most 5.1 percentage points" in text
    assert "sensitive to the priors" in text and "moves it up by 5.1 points" in text


@pytest.mark.parametrize("prior", ["normal:0:400", "logistic:0:1000", "normal:-900:0.5"])
def test_a_very_wide_or_far_prior_on_mu_is_described_not_overflowed(prior):
    # The report job stopped on math.exp overflow (an outside config audit: normal:0:400).
    from stsmeta.prior_spec import parse_prior
    from stsmeta.report.prior_sensitivity import mu_words

    words = mu_words(parse_prior(prior, "mu"))
    assert re.search(r"between (0|1)\.\d\d and (0|1)\.\d\d$", words), words
