"""Tests of the coverage study (issue 6). All data here are synthetic, made by the tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from stsmeta.cli import coverage as cli_cov
from stsmeta.cli import main
from stsmeta.coverage import simulate as sim
from stsmeta.coverage import study as cov
from stsmeta.coverage import summary as summ
from stsmeta.coverage.design import design_sizes
from stsmeta.errors import InputError

LEVEL = 0.95


def clopper_pearson(x: np.ndarray, n: np.ndarray, level: float = LEVEL):
    """Exact (Clopper & Pearson 1934) interval from beta quantiles: the independent reference."""
    alpha = 1.0 - level
    lo = np.where(x > 0, stats.beta.ppf(alpha / 2, x, n - x + 1), 0.0)
    hi = np.where(x < n, stats.beta.ppf(1 - alpha / 2, x + 1, n - x), 1.0)
    return lo, hi


def pooled_cp_fitter(events: np.ndarray, n: np.ndarray):
    """Clopper-Pearson on the pooled counts (a common-effect method), vectorised over datasets."""
    x = events.sum(axis=1)
    total = np.full_like(x, n.sum())
    lo, hi = clopper_pearson(x, total)
    return x / total, lo, hi, [""] * len(x)


def fails_on_zero_fitter(events: np.ndarray, n: np.ndarray):
    """No answer when no study has an event (as a logit model without correction)."""
    est, lo, hi, failure = pooled_cp_fitter(events, n)
    zero = events.sum(axis=1) == 0
    est, lo, hi = (np.where(zero, np.nan, a) for a in (est, lo, hi))
    return est, lo, hi, ["zero events" if z else "" for z in zero]


def exact_cp_coverage(p: float, n: int, level: float = LEVEL) -> float:
    """Exact CP coverage: the binomial pmf summed over the x whose interval covers p."""
    x = np.arange(n + 1)
    lo, hi = clopper_pearson(x, np.full_like(x, n), level)
    return float(stats.binom.pmf(x, n, p)[(lo <= p) & (p <= hi)].sum())


SYNTHETIC_N = (4, 1, 6, 2, 1)  # synthetic design: five tiny series, like the evidence base


def run(shards: int, replicates: int = 60, seed: int = 7, fitters=None):
    cells = cov.grid([0.3, 0.8], [0.0, 0.7])
    fitters = fitters or {"cp": pooled_cp_fitter, "zero": fails_on_zero_fitter}
    blocks = []
    for s in range(shards):
        blocks += sim.run_shard(SYNTHETIC_N, cells, fitters, sim.Share(s, shards, replicates), seed)
    return blocks


def test_shards_cover_every_replicate_once():
    for total, shards in [(10, 3), (7, 7), (200, 4), (5, 1), (1000, 4), (250, 3), (50, 4)]:
        ranges = [sim.shard_replicates(total, shards, s) for s in range(shards)]
        assert [r for part in ranges for r in part] == list(range(total))
        # Boundaries on whole fitting blocks, so no block is split between shards.
        for part in ranges:
            assert part.start % sim.FIT_BLOCK == 0 or part.start == total
    # Fewer blocks than shards: some shards are empty.
    sizes = [len(sim.shard_replicates(sim.FIT_BLOCK // 2, 4, s)) for s in range(4)]
    assert sorted(sizes) == [0, 0, 0, sim.FIT_BLOCK // 2]


def test_fit_blocks_cut_at_global_block_boundaries():
    b = sim.FIT_BLOCK
    reps = np.arange(b - 2, 2 * b + 3)
    parts = [reps[s] for s in sim.fit_blocks(reps)]
    assert [(p[0], p[-1]) for p in parts] == [(b - 2, b - 1), (b, 2 * b - 1), (2 * b, 2 * b + 2)]
    assert sim.fit_blocks(np.zeros(0, dtype=int)) == []


def blocks_by_replicate(blocks):
    """Every replicate's fitted values and failure, by (method, cell, replicate)."""
    out = {}
    for b in blocks:
        for i, r in enumerate(b.replicate):
            values = (b.estimate[i], b.ci_low[i], b.ci_high[i])
            out[(b.method, b.cell, int(r))] = (np.array(values).tobytes(), b.failure[i])
    return out


def test_glmm_fits_byte_identical_for_any_shard_count(monkeypatch):
    # The real batched GLMM fitter, with blocks small enough that shards hold several blocks:
    # every replicate's numbers must be the same bits for every number of shards.
    monkeypatch.setattr(sim, "FIT_BLOCK", 4)
    spec = {"method": "glmm", "ci": "z"}
    fitters = {
        "glmm": cov.fitter_for(spec, LEVEL),
        "glmm_t": cov.fitter_for({**spec, "ci": "t"}, LEVEL),
    }
    n = (3, 1, 6, 2, 10, 4, 1, 25)
    cells = cov.grid([0.2, 0.7], [0.0, 1.5])
    replicates = 30

    def fitted(shards):
        blocks = []
        for s in range(shards):
            blocks += sim.run_shard(n, cells, fitters, sim.Share(s, shards, replicates), seed=5)
        return blocks_by_replicate(blocks)

    one = fitted(1)
    assert len(one) == 2 * 4 * replicates
    assert any(fail for _, fail in one.values()) and not all(fail for _, fail in one.values())
    for shards in (2, 3, 5, 8):
        assert fitted(shards) == one


def test_summary_does_not_depend_on_number_of_shards():
    one = summ.summarise(run(shards=1))
    for shards in (2, 3, 7):
        assert summ.summarise(run(shards=shards)) == one
    # and a different seed changes the data (the test could fail)
    assert summ.summarise(run(shards=1, seed=8)) != one


def test_replicate_data_do_not_depend_on_grid_or_neighbours():
    cell = cov.Cell(0.7, 0.5)
    alone = sim.simulate_events(SYNTHETIC_N, cell, [3, 4, 5], seed=11)
    block = sim.simulate_events(SYNTHETIC_N, cell, range(10), seed=11)
    assert np.array_equal(alone, block[3:6])
    other = sim.simulate_events(SYNTHETIC_N, cov.Cell(0.7, 0.6), [3, 4, 5], seed=11)
    assert not np.array_equal(alone, other)


def reference_events(n, cell, replicates, seed):
    """The simulation as its definition states it: a fresh numpy generator per replicate."""
    n_arr = np.asarray(n, dtype=np.int64)
    mu = math.log(cell.proportion / (1.0 - cell.proportion))
    rows = []
    for r in replicates:
        rng = np.random.default_rng(sim.replicate_seed(seed, cell, r))
        theta = mu + cell.tau * rng.standard_normal(n_arr.size)
        rows.append(rng.binomial(n_arr, 1.0 / (1.0 + np.exp(-theta))))
    return np.vstack(rows)


@pytest.mark.parametrize("seed", [0, 11, 2**32 - 1, 2**32, 2**70 + 3])
def test_generator_states_are_numpys_own(seed):
    # Cells whose key takes one 32-bit word and two (tau = 5000: 5e9 millionths), indices at
    # the edges of a word, and an index past it (numpy's own path).
    reps = [0, 1, 99, 100, 12345, 2**31, 2**32 - 1]
    for cell in (cov.Cell(0.5, 0.0), cov.Cell(0.05, 1.0), cov.Cell(0.3, 5000.0)):
        for indices in (reps, [2**32, 7]):
            expected = [np.random.PCG64(sim.replicate_seed(seed, cell, r)).state for r in indices]
            assert sim.pcg64_states(seed, cell, indices) == expected


@pytest.mark.parametrize("k", [1, 6, sim._SCALAR_DRAWS_MAX_K, sim._SCALAR_DRAWS_MAX_K + 1, 40])
def test_simulated_events_are_those_of_a_generator_per_replicate(k):
    n = [1 + (3 * i) % 17 for i in range(k)]  # sizes 1 to 17, repeated
    for cell in (cov.Cell(0.7, 0.5), cov.Cell(0.1, 2.0), cov.Cell(0.95, 0.0)):
        got = sim.simulate_events(n, cell, range(40, 340), seed=23)
        assert np.array_equal(got, reference_events(n, cell, range(40, 340), 23))


def test_simulated_events_follow_binomial_normal_model():
    # tau = 0: each study is Binomial(n_i, p); check the mean and variance of the totals.
    n = np.array([20, 30])
    events = sim.simulate_events(n, cov.Cell(0.3, 0.0), range(4000), seed=1)
    totals = events.sum(axis=1)
    assert abs(totals.mean() - 50 * 0.3) < 4 * math.sqrt(50 * 0.21 / 4000)
    assert abs(totals.var(ddof=1) / (50 * 0.21) - 1) < 0.1
    # tau > 0 inflates the variance of a study's proportion beyond the binomial (overdispersion).
    wide = sim.simulate_events(n, cov.Cell(0.3, 1.0), range(4000), seed=1)
    assert wide[:, 1].var(ddof=1) > 1.5 * 30 * 0.21


@pytest.mark.parametrize("p, n", [(0.3, 10), (0.9, 6), (0.2, 3)])
def test_simulated_cp_coverage_matches_exact(p, n):
    exact = exact_cp_coverage(p, n)
    reps = 3000
    blocks = sim.run_shard(
        (n,), [cov.Cell(p, 0.0)], {"cp": pooled_cp_fitter}, sim.Share(0, 1, reps), 5
    )
    (summary,) = summ.summarise(blocks)
    assert summary.answered == reps
    assert abs(summary.coverage - exact) < 4 * summary.coverage_mcse
    assert exact >= LEVEL  # CP is conservative, which is what a user must learn from the study


def test_failures_counted_apart_from_coverage():
    blocks = run(shards=2)
    summaries = {(s.method, s.proportion, s.tau): s for s in summ.summarise(blocks)}
    zero = [b for b in blocks if b.method == "zero" and b.cell == cov.Cell(0.3, 0.7)]
    n_fail = sum(sum(1 for f in b.failure if f) for b in zero)
    s = summaries[("zero", 0.3, 0.7)]
    assert s.replicates == 60
    assert s.answered == 60 - n_fail
    assert s.failure_rate == pytest.approx(n_fail / 60)
    # the answered replicates are the same intervals as the method that never fails
    merged = np.concatenate([b.ci_low for b in zero])
    assert np.isnan(merged).sum() == n_fail


def test_mcse_formulas_match_spread_over_repeated_studies():
    # Repeat a small study 300 times with independent seeds: the SD of each performance estimate
    # across repeats is what its Monte Carlo SE must estimate (Morris et al. 2019).
    coverages, biases, medians, cov_se, bias_se, med_se = [], [], [], [], [], []
    for seed in range(300):
        blocks = sim.run_shard(
            (12,), [cov.Cell(0.4, 0.0)], {"cp": pooled_cp_fitter}, sim.Share(0, 1, 150), seed
        )
        (s,) = summ.summarise(blocks)
        coverages.append(s.coverage)
        biases.append(s.bias)
        cov_se.append(s.coverage_mcse)
        bias_se.append(s.bias_mcse)
        rng = np.random.default_rng(seed)
        widths = rng.gamma(2.0, 0.1, size=301)  # skewed, like interval widths
        medians.append(np.median(widths))
        med_se.append(summ.mcse_median(widths))
    assert np.std(coverages, ddof=1) == pytest.approx(np.mean(cov_se), rel=0.15)
    assert np.std(biases, ddof=1) == pytest.approx(np.mean(bias_se), rel=0.15)
    assert np.std(medians, ddof=1) == pytest.approx(np.mean(med_se), rel=0.2)


def test_mcse_proportion_formula():
    assert summ.mcse_proportion(0.95, 1000) == pytest.approx(math.sqrt(0.95 * 0.05 / 1000))
    assert summ.mcse_proportion(1.0, 50) == 0.0
    assert math.isnan(summ.mcse_proportion(0.5, 0))


def summary(method, p, tau, coverage, failure_rate=0.0):
    return summ.CellSummary(
        method, p, tau, 100, 100, failure_rate, 0.0, coverage, 0.02, 0.3, 0.01, 0.0, 0.01
    )


def test_recommend_closest_to_nominal_among_non_failing():
    rows = [
        summary("liberal", 0.5, 0.0, 0.85),
        summary("liberal", 0.5, 1.0, 0.80),
        summary("conservative", 0.5, 0.0, 0.99),
        summary("conservative", 0.5, 1.0, 0.97),
        summary("fails", 0.5, 0.0, 0.95),
        summary("fails", 0.5, 1.0, 0.95, failure_rate=0.2),
    ]
    rec = summ.recommend(rows, LEVEL, max_failure_rate=0.01)
    assert rec.method == "conservative"
    verdicts = {v.method: v for v in rec.verdicts}
    assert not verdicts["fails"].eligible
    assert verdicts["liberal"].mean_abs_deviation == pytest.approx(0.125)
    # The claim holds over the grid only, and says which grid (a review read it as general).
    assert "over the grid of true proportion 0.5, τ 0 to 1)" in rec.reason  # one value: itself
    none = summ.recommend(rows[4:], LEVEL, max_failure_rate=0.01)
    assert none.method is None


CONFIG = {
    "confidence_level": 0.95,
    "methods": {
        "primary": {"label": "P", "method": "glmm", "ci": "z", "reason": "why"},
        "secondary": {
            "common_exact": {"label": "C", "method": "common"},
            "ft_dl": {"label": "F", "method": "ivre", "transform": "ft", "tau2": "DL"},
        },
    },
    "coverage": {
        "true_proportions": [0.8, 0.3],
        "taus": [0.0, 0.7],
        "replicates": 12,
        "shards": 3,
        "seed": 3,
        "max_failure_rate": 0.01,
    },
}


def test_settings_from_config():
    s = cov.settings_from_config(CONFIG)
    assert s.proportions == (0.3, 0.8)
    assert s.families() == ("common", "glmm", "ivre")
    assert list(s.methods_of("ivre")) == ["ft_dl"]
    assert cov.pool_arguments(s.methods_of("glmm")["primary"], 0.95) == {
        "method": "glmm",
        "ci": "z",
        "level": 0.95,
    }


@pytest.mark.parametrize(
    "change, field",
    [
        ({"true_proportions": [0.5, 1.0]}, "coverage.true_proportions[1]"),
        ({"taus": "big"}, "coverage.taus"),
        ({"replicates": 0}, "coverage.replicates"),
        ({"shards": 20}, "coverage.shards"),
        ({"methods": ["nope"]}, "coverage.methods[0]"),
        ({"colour": 1}, "coverage.colour"),
    ],
)
def test_settings_errors_name_the_field(change, field):
    bad = {**CONFIG, "coverage": {**CONFIG["coverage"], **change}}
    with pytest.raises(InputError) as err:
        cov.settings_from_config(bad, "config.yaml")
    assert [p.field for p in err.value.problems] == [field]
    assert str(err.value).startswith(f"config.yaml: {field}: ")


def test_design_from_pooled():
    doc = {"studies": [{"study": "a", "events": 1, "n": 4}, {"study": "b", "events": 0, "n": 2}]}
    assert design_sizes(doc, "p.json") == (("a", "b"), (4, 2))
    with pytest.raises(InputError, match=r"p.json: studies\[1\].n: "):
        design_sizes({"studies": [{"n": 3}, {"n": 0}]}, "p.json")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A synthetic config and design; pool() replaced by the CP reference for every method."""
    from stsmeta.config import effective_config

    # As the workflow writes it: the coverage stage's part of the effective configuration.
    (tmp_path / "config.json").write_text(effective_config(CONFIG, "coverage"), encoding="utf-8")
    design = {
        "studies": [
            {"study": f"synthetic-{i}", "events": 0, "n": n} for i, n in enumerate(SYNTHETIC_N)
        ]
    }
    (tmp_path / "primary.json").write_text(json.dumps(design), encoding="utf-8")
    monkeypatch.setattr(cov, "fitter_for", lambda spec, level, n=None: fails_on_zero_fitter)
    return tmp_path


def run_cli(project, shards: int, tag: str) -> tuple[str, str]:
    config = project / f"config-{tag}.json"
    text = (project / "config.json").read_text().replace('"shards": 3', f'"shards": {shards}')
    config.write_text(text)
    files = []
    for family in ("common", "glmm", "ivre"):
        for s in range(shards):
            out = project / tag / f"{family}-{s}.csv"
            args = [
                "coverage-shard",
                "--config",
                str(config),
                "--design",
                str(project / "primary.json"),
            ]
            assert main([*args, "--family", family, "--shard", str(s), "-o", str(out)]) == 0
            files.append(str(out))
    csv_out, json_out = project / tag / "summary.csv", project / tag / "summary.json"
    args = ["coverage-summary", "--config", str(config), "--design", str(project / "primary.json")]
    assert main([*args, "--csv", str(csv_out), "--json", str(json_out), *files]) == 0
    return csv_out.read_text(), json_out.read_text()


def test_cli_outputs_byte_identical_for_any_shard_count(project, monkeypatch):
    monkeypatch.setattr(sim, "FIT_BLOCK", 5)  # 12 replicates: blocks of 5, 5 and 2
    csv1, json1 = run_cli(project, 1, "one")
    csv3, json3 = run_cli(project, 3, "three")
    assert csv1 == csv3
    assert json1 == json3
    header = csv1.splitlines()[0].split(",")
    assert tuple(header) == cli_cov.SUMMARY_COLUMNS
    doc = json.loads(json1)
    assert len(doc["summary"]) == 3 * 4  # methods x cells
    assert doc["design"]["k"] == len(SYNTHETIC_N)
    assert (
        doc["recommendation"]["method"] is None or doc["recommendation"]["method"] in doc["methods"]
    )
    # The runner-up and the margin, recorded for the report, agree with the verdicts.
    rec = doc["recommendation"]
    verdicts = {v["method"]: v for v in rec["verdicts"]}
    up = rec["runner_up"]
    assert up["method"] != rec["method"] and verdicts[up["method"]]["eligible"]
    assert up["label"] == doc["methods"][up["method"]]["label"]
    assert up["worst_abs_deviation"] == verdicts[up["method"]]["worst_abs_deviation"]
    assert up["margin"] == pytest.approx(
        up["worst_abs_deviation"] - verdicts[rec["method"]]["worst_abs_deviation"], abs=2e-6
    )
    # Every method fits the same datasets with the same fitter here: one worst cell, a tie.
    assert up["same_cell"] and up["tied"] and up["margin"] == 0
    assert up["margin_mcse"] == pytest.approx(
        2 * verdicts[rec["method"]]["worst_coverage_mcse"], abs=2e-6
    )
    # Covered in every replicate or in none: an SE of 0, no count of SEs, and a margin of 0
    # is no separation.
    assert up["margin_mcse"] == 0 and up["margin_in_mcse"] is None and not up["separated"]
    assert (up["separation"], up["tie"]) == (summ.SEPARATION, summ.TIE)


def test_cli_summary_refuses_missing_shard(project, capsys, monkeypatch):
    monkeypatch.setattr(sim, "FIT_BLOCK", 4)  # 12 replicates: 3 blocks, one per shard
    run_cli(project, 3, "three")
    files = sorted(str(p) for p in (project / "three").glob("*-[01].csv"))
    args = ["coverage-summary", "--config", str(project / "config.json")]
    args += ["--design", str(project / "primary.json"), "--csv", str(project / "x.csv")]
    assert main([*args, "--json", str(project / "x.json"), *files]) == 2
    assert "a shard is missing or stale" in capsys.readouterr().err


def test_cli_summary_refuses_shards_of_different_runs(project, capsys, monkeypatch):
    # A replicate found in two shard files (shards left from another design or version, mixed
    # by hand): a clean error naming the files and the fix, no traceback, nothing written.
    monkeypatch.setattr(sim, "FIT_BLOCK", 4)
    run_cli(project, 3, "three")
    files = sorted(str(p) for p in (project / "three").glob("*-[012].csv"))
    again = project / "three" / "glmm-copy.csv"
    again.write_text((project / "three" / "glmm-0.csv").read_text())
    args = ["coverage-summary", "--config", str(project / "config.json")]
    args += ["--design", str(project / "primary.json"), "--csv", str(project / "x.csv")]
    assert main([*args, "--json", str(project / "x.json"), *files, str(again)]) == 2
    err = capsys.readouterr().err
    assert "occurs twice" in err and "different runs" in err and "glmm-copy.csv" in err
    assert "Traceback" not in err
    assert not (project / "x.csv").exists() and not (project / "x.json").exists()


def test_cli_empty_shards_are_valid(project):
    # 12 replicates in one block and 3 shards: two shards have no replicates. Their files hold
    # the header alone, and the summary is the one of a single shard.
    assert sim.FIT_BLOCK > 12
    csv1, json1 = run_cli(project, 1, "one")
    csv3, json3 = run_cli(project, 3, "three")
    empty = (project / "three" / "glmm-0.csv").read_text()
    assert empty == ",".join(cli_cov.SHARD_COLUMNS) + "\n"
    assert cli_cov.read_shard(str(project / "three" / "glmm-0.csv")) == []
    assert (csv3, json3) == (csv1, json1)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("glmm,0.5,0.0,1,0.4,0.1,0.9", "line 2"),  # a column short
        ("glmm,0.5,0.0,one,0.4,0.1,0.9,", "line 2"),
        ("glmm,half,0.0,1,0.4,0.1,0.9,", "true_proportion, tau"),
    ],
)
def test_a_malformed_shard_row_names_the_file_and_place(tmp_path, row, field):
    shard = tmp_path / "glmm-0.csv"
    shard.write_text(",".join(cli_cov.SHARD_COLUMNS) + "\n" + row + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        cli_cov.read_shard(str(shard))
    assert str(shard) in str(caught.value) and field in str(caught.value)


def test_progress_is_silent_off_a_terminal(capsys):
    import io

    log = io.StringIO()
    progress = cli_cov.Progress("x", stream=log)
    progress(5, 10)
    assert log.getvalue() == ""


def test_heatmap_is_deterministic(project, tmp_path):
    pytest.importorskip("matplotlib")
    _, json1 = run_cli(project, 1, "fig")
    doc = json.loads(json1)
    from stsmeta.figures.coverage_heatmap import save_coverage_heatmap

    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    save_coverage_heatmap(doc, [str(a), str(tmp_path / "a.pdf")])
    save_coverage_heatmap(doc, [str(b), str(tmp_path / "b.pdf")])
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_pool_fitter_common_matches_clopper_pearson_for_one_study():
    # For one study the exact common effect is the CP interval of the independent reference.
    fit = cov.pool_fitter({"method": "common", "label": "x"}, LEVEL)
    events = np.array([[0], [3], [7]])
    n = np.array([7])
    est, lo, hi, failure = fit(events, n)
    ref_lo, ref_hi = clopper_pearson(events[:, 0], np.full(3, 7))
    assert failure == ["", "", ""]
    np.testing.assert_allclose(lo, ref_lo, atol=1e-8)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-8)


# The batched GLMM fit differs from pool()'s one-dataset fit in the last bits only (its rows
# share Newton and mode iterations with their batch); 1e-8 on the proportion scale is far below
# anything the study reports (6 decimals of rates over >= 50 replicates).
GLMM_BATCH_ATOL = 1e-8


def test_glmm_fast_path_equals_pool():
    # The batched glmm_batch path must give what pool(method="glmm") gives, to within rounding,
    # and the same datasets without an estimate (synthetic datasets, some at 0% / 100%).
    spec = {"label": "GLMM", "method": "glmm", "ci": "z", "pi": "t-k1"}
    n = np.array([3, 1, 4])
    events = np.array([[1, 0, 2], [3, 1, 4], [0, 0, 0], [2, 1, 1], [3, 0, 4]])
    fast = cov.fitter_for(spec, LEVEL)(events, n)
    slow = cov.pool_fitter(spec, LEVEL)(events, n)
    for a, b in zip(fast[:3], slow[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=GLMM_BATCH_ATOL, equal_nan=True)
    assert fast[3] == slow[3]
    assert fast[3][1] and fast[3][2] and not fast[3][0]


FAST_PATH_SPECS = [
    {"method": "glmm", "ci": "z", "pi": "t-k1"},
    {"method": "glmm", "ci": "t"},
    {"method": "common"},
    {"method": "ivre", "transform": "logit", "tau2": "REML", "ci": "hk", "pi": "t-k1"},
    {"method": "ivre", "transform": "ft", "tau2": "DL", "ci": "z"},
    {"method": "ivre", "transform": "arcsine", "tau2": "PM", "ci": "t"},
    {"method": "ivre", "transform": "logit", "tau2": "ML"},
    {"method": "ivre", "transform": "raw", "tau2": "DL"},
]


@pytest.mark.parametrize("spec", FAST_PATH_SPECS, ids=lambda s: "-".join(map(str, s.values())))
def test_fast_fitters_give_what_pool_gives(spec):
    # SYNTHETIC designs (k = 1 to 40, small n, repeated sizes) and cells from 5% to 95%, so that
    # some replicates repeat others, some are at 0% or 100% and some methods fail. Exactly
    # pool()'s numbers, except the batched GLMM: to within rounding (GLMM_BATCH_ATOL).
    batched = spec["method"] == "glmm"
    rng = np.random.default_rng(11)
    checked = 0
    for k in (1, 2, 5, 40):
        n = rng.choice([1, 2, 3, 6, 10], size=k)
        for cell in (cov.Cell(0.05, 0.0), cov.Cell(0.5, 1.0), cov.Cell(0.95, 2.0)):
            events = sim.simulate_events(n, cell, range(12), 3)
            # A replicate with its studies reordered among equal n: same pairs, same answer.
            same_n = np.flatnonzero(n == n[0])
            events[-1] = events[0]
            events[-1, same_n] = events[0, same_n[::-1]]
            fast = cov.fitter_for(spec, LEVEL)(events, n)
            slow = cov.pool_fitter(spec, LEVEL)(events, n)
            for a, b in zip(fast[:3], slow[:3], strict=True):
                if batched and k > 1:
                    np.testing.assert_allclose(a, b, rtol=0, atol=GLMM_BATCH_ATOL, equal_nan=True)
                else:
                    assert np.array_equal(a, b, equal_nan=True)
            assert fast[3] == slow[3]
            # The GLMM fits the reordered replicate once with its twin: the very same numbers.
            assert not batched or all(np.array_equal(a[-1], a[0], equal_nan=True) for a in fast[:3])
            checked += len(events)
    assert checked == 144


def test_design_is_the_top_level_study_list_of_the_pooled_result(tmp_path):
    doc = {
        "estimate": 0.5,
        "leave_one_out": [{"studies": [{"n": 99, "study": "not this"}]}],
        "studies": [{"n": 4, "study": "a"}, {"n": 2, "study": "b \u00e9"}],
        "subgroups": {"x": {"studies": [{"n": 7, "study": "nor this"}]}},
    }
    written = tmp_path / "as_analysis.json"
    written.write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(doc), encoding="utf-8")
    expected = (("a", "b \u00e9"), (4, 2))
    assert cli_cov.load_design(str(written)) == expected
    assert cli_cov.load_design(str(compact)) == expected
    broken = tmp_path / "broken.json"
    broken.write_text('{"studies": [', encoding="utf-8")
    with pytest.raises(InputError):
        cli_cov.load_design(str(broken))


def test_selection_rule_worst_cell_then_mean_width():
    """The declared rule: worst cell closest to nominal among methods that do not fail; a tie
    (within coverage.summary.TIE) goes to the narrower method."""

    def row(method, cov, width, fail=0.0):
        return cov_summary(method, cov, fail, width)

    rows = [
        row("a", 0.95, 0.30),
        row("a", 0.90, 0.30),  # worst 0.05 away
        row("b", 0.94, 0.50),
        row("b", 0.93, 0.50),  # worst 0.02 away: best
        row("c", 0.951, 0.20),
        row("c", 0.932, 0.20),  # worst 0.018 away, ties with b (under 0.005) and is narrower
        row("d", 0.95, 0.10, fail=0.05),  # fails too often
    ]
    rec = summ.recommend(rows, LEVEL, max_failure_rate=0.01)
    assert rec.method == "c"
    assert "tied with b" in rec.reason
    assert not next(v for v in rec.verdicts if v.method == "d").eligible


def cov_summary(method, coverage, failure, width):
    """A synthetic cell of its own (p = 0.5, a tau per method name), MC SE 0.007."""
    return cell_at(method, 0.5, float(len(method)), coverage, 0.007, width=width, failure=failure)


def test_apply_selection_makes_the_recommended_method_primary():
    from stsmeta.selection import CONFIGURED_PRIMARY, apply_selection

    config = {
        "methods": {
            "selection": "coverage",
            "primary": {"label": "GLMM", "method": "glmm", "reason": "planned"},
            "secondary": {"bayes": {"label": "Bayes", "method": "bayes"}},
        }
    }
    summary = {"recommendation": {"method": "bayes", "reason": "closest to 95%"}}
    out = apply_selection(config, summary, "summary.json")
    assert out["methods"]["primary"]["method"] == "bayes"
    assert "closest to 95%" in out["methods"]["primary"]["reason"]
    assert out["methods"]["secondary"][CONFIGURED_PRIMARY]["method"] == "glmm"
    assert out["methods"]["selected"]["method"] == "bayes"
    assert config["methods"]["primary"]["method"] == "glmm"  # the input is not changed
    none = apply_selection(config, {"recommendation": {"method": None, "reason": "all fail"}}, "s")
    assert none["methods"]["primary"]["method"] == "glmm"
    assert "no method qualified" in none["methods"]["selected"]["reason"]
    with pytest.raises(InputError, match="--selection"):
        apply_selection(config, None, "config.yaml")
    # The reason names the one design the study simulated, and says the choice holds for all.
    config["outcomes"] = {"complete_remission": {"label": "Complete remission"}}
    summary["design"] = {"studies": [{"study": "a", "n": 1}, {"study": "b", "n": 3}]}
    summary["settings"] = {"outcome": "complete_remission", "scenario": "primary"}
    reason = apply_selection(config, summary, "summary.json")["methods"]["primary"]["reason"]
    assert "(complete remission, primary analysis: k = 2 studies of n = 1, 3)" in reason
    assert "used for every outcome" in reason


def test_pooling_config_is_the_plan_the_pooling_job_computes_with():
    from stsmeta.selection import apply_selection, pooling_config, selection_candidates

    config = {
        "methods": {
            "selection": "fixed",
            "primary": {"label": "GLMM", "method": "glmm"},
            "secondary": {"bayes": {"label": "Bayes", "method": "bayes"}},
        }
    }
    summary = {"recommendation": {"method": "bayes", "reason": "closest to 95%"}}
    # A fixed selection reads no summary and changes nothing.
    assert pooling_config(config, summary, "s") is config
    assert selection_candidates(config) == [None]
    config["methods"]["selection"] = "coverage"
    assert pooling_config(config, summary, "s") == apply_selection(config, summary, "s")
    with pytest.raises(InputError, match="--selection"):
        pooling_config(config, None, "config.yaml")
    # Before the coverage study has run: what it can recommend, each one a valid summary.
    candidates = selection_candidates(config)
    assert [c["recommendation"]["method"] for c in candidates] == ["primary", "bayes"]
    primaries = [pooling_config(config, c, "s")["methods"]["primary"] for c in candidates]
    assert [m["method"] for m in primaries] == ["glmm", "bayes"]


def test_an_analysis_without_a_study_is_refused_at_the_design_naming_the_setting():
    """No study in the simulated analysis: refused when the design is written (at start-up),
    naming coverage.outcome and the fix, not left to fail in a shard job."""
    import yaml

    from stsmeta.config import load_config
    from stsmeta.coverage.design import design_text

    shipped = Path(__file__).parent.parent / "config.yaml"
    config, problems = load_config(yaml.safe_load(shipped.read_text()), file="config.yaml")
    assert not problems
    with pytest.raises(InputError) as caught:
        design_text([], config, "complete_remission", "primary")
    text = str(caught.value)
    assert "config.yaml: coverage.outcome: no study enters the analysis" in text
    assert "(no study files); add a study that enters it (with complete_remission counts" in text


def cell_at(method, p, tau, coverage, mcse, width=0.3, failure=0.0):
    """One synthetic cell with a given coverage MC SE (answered kept consistent with it)."""
    return summ.CellSummary(
        method=method,
        proportion=p,
        tau=tau,
        replicates=1000,
        answered=1000,
        failure_rate=failure,
        failure_rate_mcse=0.0,
        coverage=coverage,
        coverage_mcse=mcse,
        median_width=width,
        median_width_mcse=0.0,
        bias=0.0,
        bias_mcse=0.0,
        mean_width=width,
    )


def test_recommendation_records_the_runner_up_and_the_margin_in_mc_ses():
    """Worst cells in different grid cells (independent datasets): SE sqrt(a^2 + b^2)."""
    rows = [
        cell_at("win", 0.5, 0.0, 0.985, 0.004),  # worst: 0.035 over
        cell_at("win", 0.9, 1.0, 0.940, 0.008),
        cell_at("next", 0.5, 0.0, 0.960, 0.006),
        cell_at("next", 0.9, 1.0, 0.904, 0.003),  # worst: 0.046 under
        cell_at("far", 0.5, 0.0, 0.880, 0.010),  # worst: 0.070
        cell_at("far", 0.9, 1.0, 0.950, 0.007),
        cell_at("fails", 0.5, 0.0, 0.950, 0.007),  # closest, but fails: never the runner-up
        cell_at("fails", 0.9, 1.0, 0.951, 0.007, failure=0.2),
    ]
    rec = summ.recommend(rows, LEVEL, max_failure_rate=0.01)
    assert rec.method == "win"
    m = rec.margin
    assert m.runner_up == "next"
    assert m.runner_up_worst_abs_deviation == pytest.approx(0.046)
    assert m.margin == pytest.approx(0.011)
    assert not m.same_cell and not m.tied
    assert m.mcse == pytest.approx(math.hypot(0.004, 0.003))  # 0.005
    assert m.in_mcse == pytest.approx(2.2)
    assert m.separated
    verdict = next(v for v in rec.verdicts if v.method == "win")
    assert (verdict.worst_proportion, verdict.worst_tau) == (0.5, 0.0)
    assert verdict.worst_coverage_mcse == 0.004
    # The same margin measured with noisier cells is under 2 MC SEs: not separated.
    noisy = [
        cell_at(
            r.method, r.proportion, r.tau, r.coverage, 2 * r.coverage_mcse, failure=r.failure_rate
        )
        for r in rows
    ]
    close = summ.recommend(noisy, LEVEL, max_failure_rate=0.01).margin
    assert close.runner_up == "next" and close.in_mcse == pytest.approx(1.1)
    assert not close.separated
    # The margin is reporting only: the choice is the same with or without it.
    assert summ.recommend(noisy, LEVEL, 0.01).method == rec.method


def test_margin_se_is_the_upper_bound_when_both_worst_cells_are_one_grid_cell():
    """Same cell (same datasets, correlation unknown): SE a + b, never too small."""
    rows = [
        cell_at("win", 0.9, 1.0, 0.975, 0.005),  # worst: 0.025 over
        cell_at("win", 0.5, 0.0, 0.950, 0.007),
        cell_at("next", 0.9, 1.0, 0.910, 0.009),  # worst: 0.040 under, in the same cell
        cell_at("next", 0.5, 0.0, 0.960, 0.006),
    ]
    m = summ.recommend(rows, LEVEL, max_failure_rate=0.01).margin
    assert m.same_cell
    assert m.mcse == pytest.approx(0.014)
    assert m.in_mcse == pytest.approx(0.015 / 0.014)
    assert not m.separated


def test_margin_upper_bound_covers_correlated_coverages_that_independence_understates():
    """Why the same-cell SE is a + b: two intervals fitted to the same datasets, one covering
    more often than nominal and one less, are positively correlated (datasets hard for one are
    hard for the other), so their deviations move in opposite directions and the margin varies
    more than independence says. Synthetic covering indicators from one latent per dataset."""
    rng = np.random.default_rng(20261201)
    runs, m = 2000, 1000
    latent = rng.standard_normal((runs, m))
    cover_win = latent < stats.norm.ppf(0.975)  # over-covers: 0.025 above nominal
    cover_next = latent < stats.norm.ppf(0.910)  # under-covers: 0.040 below
    margins = (LEVEL - cover_next.mean(axis=1)) - (cover_win.mean(axis=1) - LEVEL)
    a, b = summ.mcse_proportion(0.975, m), summ.mcse_proportion(0.910, m)
    empirical = float(np.std(margins, ddof=1))
    assert empirical > 1.1 * math.hypot(a, b)  # independence would be too small here
    rows = [cell_at("win", 0.9, 1.0, 0.975, a), cell_at("next", 0.9, 1.0, 0.910, b)]
    bound = summ.recommend(rows, LEVEL, max_failure_rate=0.01).margin.mcse
    assert bound == pytest.approx(a + b)
    assert empirical <= bound


def test_runner_up_in_a_tie_is_recorded_as_tied_with_its_signed_margin():
    """A tie (under TIE apart) goes to the narrower method; the runner-up, though closer to
    nominal, is behind by the rule: the margin is negative and the margin is not separated."""
    rows = [
        cell_at("wide", 0.5, 0.0, 0.984, 0.004, width=0.50),  # worst 0.034
        cell_at("wide", 0.9, 0.0, 0.950, 0.004, width=0.50),
        cell_at("narrow", 0.5, 0.0, 0.986, 0.004, width=0.40),  # worst 0.036, 0.002 further
        cell_at("narrow", 0.9, 0.0, 0.950, 0.004, width=0.40),
    ]
    rec = summ.recommend(rows, LEVEL, max_failure_rate=0.01)
    assert rec.method == "narrow" and "tied with wide" in rec.reason
    m = rec.margin
    assert m.runner_up == "wide" and m.tied and m.same_cell
    assert m.margin == pytest.approx(-0.002)
    assert m.mcse == pytest.approx(0.008)
    assert not m.separated


def test_runner_up_is_the_next_by_rank_not_by_deviation_alone():
    """Three eligible methods, two tied behind the winner: the narrower of the two is the
    runner-up, the rule's choice among the others."""
    rows = [
        cell_at("best", 0.5, 0.0, 0.960, 0.005, width=0.6),  # worst 0.010
        cell_at("wide", 0.5, 0.5, 0.978, 0.005, width=0.5),  # worst 0.028
        cell_at("narrow", 0.5, 1.0, 0.981, 0.005, width=0.3),  # worst 0.031, under 0.005 on
    ]
    m = summ.recommend(rows, LEVEL, max_failure_rate=0.01).margin
    assert m.runner_up == "narrow" and not m.tied
    assert m.margin == pytest.approx(0.021)


@pytest.mark.parametrize(
    ("next_worst", "winner"),
    [
        (0.078, "next"),  # 0.004 further: a tie, won by the narrower (0.005 steps kept "win")
        (0.0774, "next"),  # 0.0034: a tie
        (0.0749, "next"),
        (0.079, "win"),  # 0.005 exactly is not below it
        (0.080, "win"),
    ],
)
def test_a_tie_is_a_difference_below_tie_not_a_shared_step(next_worst, winner):
    """docs/analysis-plan.md: differences below 0.005 are ties. Rounding to 0.005 steps kept
    0.074 ahead of 0.078 (steps 15 and 16) while it tied 0.0726 with 0.0774 (0.0048 apart);
    the shipped design's 0.035 and 0.045 are not tied either way."""
    rows = [
        cell_at("win", 0.5, 0.0, 0.95 - 0.074, 0.005, width=0.5),
        cell_at("next", 0.5, 1.0, 0.95 - next_worst, 0.005, width=0.4),
    ]
    rec = summ.recommend(rows, LEVEL, max_failure_rate=0.01)
    assert rec.method == winner
    assert rec.margin.tied == (winner == "next")
    assert ("tied with" in rec.reason) == (winner == "next")
    if winner == "win":
        # The narrower runner-up would win a tie: the deciding margin is never negative.
        assert rec.margin.deciding_margin >= -1e-12


def test_no_runner_up_without_a_second_eligible_method():
    alone = [
        cell_at("only", 0.5, 0.0, 0.95, 0.007),
        cell_at("bad", 0.5, 0.0, 0.95, 0.007, failure=0.5),
    ]
    rec = summ.recommend(alone, LEVEL, max_failure_rate=0.01)
    assert rec.method == "only" and rec.margin is None
    assert summ.recommend(alone[1:], LEVEL, max_failure_rate=0.01).margin is None


def test_worst_cell_of_equally_far_cells_is_the_least_precise():
    """Two cells equally far from nominal: the one with the larger MC SE, so that the margin's
    SE is not understated; then the first by proportion and tau."""
    far = [
        cell_at("m", 0.5, 0.0, 0.97, 0.004),
        cell_at("m", 0.9, 0.0, 0.97, 0.009),
        cell_at("m", 0.7, 0.0, 0.95, 0.007),
    ]
    assert summ.worst_cell(far, LEVEL).proportion == 0.9
    same_se = [cell_at("m", 0.9, 0.5, 0.97, 0.005), cell_at("m", 0.5, 1.0, 0.97, 0.005)]
    assert (summ.worst_cell(same_se, LEVEL).proportion, summ.worst_cell(same_se, LEVEL).tau) == (
        0.5,
        1.0,
    )
    verdict = summ.recommend(far, LEVEL, max_failure_rate=0.01).verdicts[0]
    assert (verdict.worst_proportion, verdict.worst_coverage_mcse) == (0.9, 0.009)


def test_a_narrower_runner_up_would_win_a_tie_so_the_deciding_margin_is_beyond_the_tie_step():
    """The rule ties worst cells within a TIE step and prefers the narrower intervals: when the
    runner-up's are narrower, only the margin beyond TIE keeps the choice, and the verdict on
    separation weighs that (the shipped design: 0.010 ahead, 2.25 MC SEs, but 0.005 beyond the
    tie, about 1.1)."""
    rows = [
        cell_at("win", 0.5, 0.0, 0.985, 0.004, width=0.5),  # worst: 0.035 over
        cell_at("next", 0.9, 1.0, 0.904, 0.003, width=0.4),  # worst: 0.046, narrower
    ]
    m = summ.recommend(rows, LEVEL, max_failure_rate=0.01).margin
    assert m.runner_up == "next" and m.runner_up_narrower and not m.tied
    assert m.in_mcse == pytest.approx(2.2)  # the whole margin, as reported
    assert m.deciding_margin == pytest.approx(0.011 - summ.TIE)
    assert m.deciding_in_mcse == pytest.approx(1.2)
    assert not m.separated
    # The same cells with the winner narrower: a tie would keep the choice; the whole margin
    # decides.
    wider = [cell_at(r.method, r.proportion, r.tau, r.coverage, r.coverage_mcse,
                     width=0.4 if r.method == "win" else 0.5) for r in rows]  # fmt: skip
    m = summ.recommend(wider, LEVEL, max_failure_rate=0.01).margin
    assert not m.runner_up_narrower and m.deciding_margin == pytest.approx(0.011)
    assert m.separated


def test_an_se_of_zero_separates_nothing():
    # One replicate a cell: every coverage is 0 or 1 and every MC SE 0; the margin was called
    # separated however small (a config audit).
    rows = [cell_at("win", 0.5, 0.0, 1.0, 0.0, width=0.5), cell_at("next", 0.9, 1.0, 0.0, 0.0)]
    m = summ.recommend(rows, LEVEL, max_failure_rate=0.01).margin
    assert m.mcse == 0 and m.margin > 0 and not m.separated


@pytest.mark.parametrize(("key", "value"), [("outcome", "pain_relief"), ("scenario", "nonesuch")])
def test_the_design_outcome_and_scenario_are_checked_as_config_fields(key, value):
    # They were refused naming "command line: --scenario" (a config audit).
    import copy

    from stsmeta.coverage.plan import settings_from_config

    config = copy.deepcopy(CONFIG)
    config.update(outcomes={"complete_remission": {}}, scenarios={"primary": {}})
    cov.settings_from_config(config, "config.yaml")  # as named by default: accepted
    config["coverage"][key] = value
    with pytest.raises(InputError) as caught:
        settings_from_config(config, "config.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("config.yaml", f"coverage.{key}")
    assert f"no {key} {value!r}" in problem.message
