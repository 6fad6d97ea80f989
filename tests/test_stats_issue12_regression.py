"""Meta-regression, tests of subgroup differences and influence diagnostics of the
inverse-variance model against R metafor 3.8 (tests/reference/
make_reference_issue12_regression.R: 40 synthetic case series with a categorical and a continuous
moderator, fixed seed).

Tolerances: 1e-6 relative (absolute below 1) for everything fitted with a tau2 from ML or REML
(metafor's threshold 1e-12; agreement ~1e-8); 1e-9 for DL and the influence diagnostics (closed
forms given tau2; agreement ~1e-11).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from stsmeta.stats.influence import influence_ivre
from stsmeta.stats.ivre import fit_ivre, transform_proportions
from stsmeta.stats.metareg import (
    common_tau2_difference,
    design_from_groups,
    fit_metareg,
    metareg_tau2,
    q_between,
)

REFERENCE = Path(__file__).parent / "reference" / "metafor_reference_issue12_regression.json"


@lru_cache(maxsize=1)
def datasets() -> list[dict]:
    return json.loads(REFERENCE.read_text())["datasets"]


def _data(d):
    return transform_proportions(np.array(d["events"]), np.array(d["n"]), "logit")


def _close(ours, theirs, tol, what):
    ours = np.atleast_1d(np.asarray(ours, dtype=float))
    theirs = np.atleast_1d(np.asarray(theirs, dtype=float))
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, err_msg=what)


@pytest.mark.parametrize("method", ["REML", "ML", "DL"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_meta_regression_equals_metafor_rma_mods(method, test):
    tol = 1e-9 if method == "DL" else 1e-6
    for d in datasets():
        yi, vi = _data(d)
        x, names = design_from_groups(d["type"])
        x = np.column_stack([x, d["conc"]])
        fit = fit_metareg(yi, vi, x, [*names, "conc"], tau2_method=method, test=test)
        ref = d["fits"][f"type_conc_{method}_{test}"]
        for name in ("coef", "se", "ci_low", "ci_high", "stat", "p"):
            _close(getattr(fit, name), ref[name], tol, (d["name"], name))
        for name in ("tau2", "qm", "qm_p", "qe", "qe_p"):
            _close(getattr(fit, name), ref[name], tol, (d["name"], name))
        # metafor's R2 divides by its intercept-only tau2, which it leaves at ~1e-13 instead of
        # 0 (R2 then anything from 18 to 100); compared where that tau2 is clearly positive.
        if metareg_tau2(yi, vi, np.ones((yi.size, 1)), method) > 1e-8:
            _close(fit.r2, ref["r2"], 1e-4, (d["name"], "r2"))


def test_continuous_moderator_alone():
    for d in datasets():
        yi, vi = _data(d)
        x = np.column_stack([np.ones(yi.size), d["conc"]])
        fit = fit_metareg(yi, vi, x, ["intercept", "conc"], tau2_method="REML")
        ref = d["fits"]["conc_REML_z"]
        for name in ("coef", "se", "qm", "qm_p", "tau2"):
            _close(getattr(fit, name), ref[name], 1e-6, (d["name"], name))


def test_subgroup_differences_equal_metafor():
    """Separate tau2: Q between the subgroups' REML estimates (metafor: rma(b, sei, "FE")'s
    QE); common tau2: QM of rma(yi, vi, mods = ~ factor(type))."""
    for d in datasets():
        yi, vi = _data(d)
        ref = d["fits"]["subgroup"]
        estimates, ses = [], []
        for level_ in np.atleast_1d(ref["levels"]):
            inside = np.array(d["type"]) == level_
            if inside.sum() == 1:
                estimates.append(yi[inside][0])
                ses.append(np.sqrt(vi[inside][0]))
            else:
                fit = fit_ivre(yi[inside], vi[inside], tau2_method="REML")
                estimates.append(fit.mu)
                ses.append(fit.se)
        separate = q_between(estimates, ses)
        _close([separate.statistic, separate.p], [ref["q_separate"], ref["q_separate_p"]], 1e-6, d)
        common = common_tau2_difference(yi, vi, d["type"])
        _close([common.statistic, common.p], [ref["q_common"], ref["q_common_p"]], 1e-6, d)


@pytest.mark.parametrize("method, key", [("REML", "influence_reml"), ("DL", "influence_dl")])
def test_influence_diagnostics_equal_metafor(method, key):
    for d in datasets():
        inf = influence_ivre(*_data(d), tau2_method=method)
        ref = d["fits"][key]
        for name in (
            "rstudent",
            "dffits",
            "cook_d",
            "cov_r",
            "tau2_del",
            "qe_del",
            "hat",
            "weight",
        ):
            tol = 1e-9 if method == "DL" or name in ("hat", "weight", "qe_del") else 1e-6
            _close(getattr(inf, name), ref[name], tol, (d["name"], name))


def test_collinear_or_too_small_designs_are_refused():
    yi, vi = np.array([0.1, 0.5, 0.9]), np.array([0.2, 0.3, 0.25])
    with pytest.raises(ValueError, match="more than 3 studies"):
        fit_metareg(yi, vi, np.column_stack([np.ones(3), [1, 2, 3], [0, 1, 0]]), list("abc"))
    x = np.column_stack([np.ones(3), [1, 2, 3], [2, 4, 6]])
    with pytest.raises(ValueError, match="collinear"):
        fit_metareg(np.r_[yi, 0.3], np.r_[vi, 0.2], np.r_[x, [[1, 4, 8]]], list("abc"))


def test_cli_mods_and_influence_equal_metafor(tmp_path, capsys):
    from stsmeta.cli import main

    d = datasets()[0]
    lines = ["study,events,n,type,conc"]
    for i, (x, n, t, c) in enumerate(zip(d["events"], d["n"], d["type"], d["conc"], strict=True)):
        lines.append(f"s{i},{x},{n},{t},{c}")
    path = tmp_path / "mods.csv"
    path.write_text("\n".join(lines) + "\n")
    argv = ["pool", "--input", str(path), "--method", "ivre", "--mods", "type,conc"]
    assert main([*argv, "--influence", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = d["fits"]["type_conc_REML_z"]
    reg = out["meta_regression"]
    _close([c["estimate"] for c in reg["coefficients"]], ref["coef"], 1e-6, "coef")
    _close([reg["qm"], reg["qm_p"]], [ref["qm"], ref["qm_p"]], 1e-6, "qm")
    assert reg["coefficients"][-1]["name"] == "conc"
    _close([r["cook_d"] for r in out["influence"]], d["fits"]["influence_reml"]["cook_d"], 1e-6, "")
    assert main([*argv[:-2], "--mods", "dose"]) == 2
    assert "no column dose for --mods" in capsys.readouterr().err


def test_subgroup_difference_of_the_analysis_plan():
    """The plan's test uses each level's own fit (separate tau2), skips 'not reported', and is
    not computed when a study sits in two levels."""
    from types import SimpleNamespace

    from stsmeta.pool.subgroup_tests import subgroup_difference

    a, b, c, d = (SimpleNamespace(events=e, n=m) for e, m in ((1, 3), (2, 4), (3, 3), (0, 2)))
    results = {
        "x": {"mu": 0.2, "se": 0.3},
        "y": {"mu": 1.1, "se": 0.4},
        "not_reported": {"mu": 5.0, "se": 0.1},
    }
    members = {"x": [a, b], "y": [c], "not_reported": [d]}
    test = subgroup_difference(results, members, "not_reported")
    expected = q_between([0.2, 1.1], [0.3, 0.4])
    assert test["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert test["df"] == 1 and test["levels"] == ["x", "y"]
    assert test["single_study_levels"] == ["y"]
    # y is 3/3: the common-tau2 test has no finite estimate for it, and says why (without the
    # fit, whose verdict on such a level is the same: checked here).
    assert test["glmm_lrt"]["statistic"] is None and "0% or all 100%" in test["glmm_lrt"]["note"]
    from stsmeta.stats.glmm_reg import fit_glmm_regression

    design, names = design_from_groups(["x", "x", "y"])
    assert not fit_glmm_regression([1, 2, 3], [3, 4, 3], design, names).finite
    design, names = design_from_groups(["x", "x", "y", "y"])
    assert not fit_glmm_regression([1, 2, 0, 0], [3, 4, 2, 5], design, names).finite
    overlapping = subgroup_difference(results, {"x": [a, b], "y": [b, c]}, "not_reported")
    assert overlapping["statistic"] is None and "more than one level" in overlapping["note"]


def test_glmm_regression_equals_metafor_rma_glmm_mods():
    """rma.glmm(mods=) with lme4's 20 quadrature nodes: coefficients and SEs within 1e-4 (its
    quadrature error; ours is checked by doubling the nodes) wherever both fits are finite and
    agree on tau2 > 0 versus 0; where they differ our likelihood is at least as high. lme4's
    logLik with nAGQ > 1 is not the marginal likelihood, so the likelihoods are compared with
    our own quadrature at both sets of estimates."""
    from stsmeta.stats.glmm import log_choose
    from stsmeta.stats.glmm_reg import _terms, fit_glmm_regression

    compared = 0
    for d in datasets()[:20]:  # 40 fits; the rest only add run time
        x, n = np.array(d["events"], float), np.array(d["n"], float)
        groups, names = design_from_groups(d["type"])
        for key, design in (
            ("glmm_type_conc", np.column_stack([groups, d["conc"]])),
            ("glmm_type", groups),
        ):
            ref = d["fits"][key]
            fit = fit_glmm_regression(x, n, design, names + ["conc"] * (design.shape[1] > 2))
            theirs = np.array(ref["coef"], dtype=float)
            if not fit.finite or np.any(np.abs(theirs) > 15):
                continue
            eta = design @ theirs
            ll_theirs = _terms(x, n, log_choose(x, n), eta, np.sqrt(ref["tau2"]), 241)[0]
            assert fit.loglik >= ll_theirs - 1e-6, (d["name"], key)
            if (fit.tau2 == 0) == (ref["tau2"] == 0):
                _close(fit.coef, theirs, 1e-4, (d["name"], key, "coef"))
                _close(fit.se, ref["se"], 1e-4, (d["name"], key, "se"))
                _close(fit.qm, ref["qm"], 1e-3, (d["name"], key, "qm"))
                compared += 1
    assert compared >= 35


def test_glmm_lrt_of_subgroups_uses_the_intercept_only_glmm():
    from stsmeta.stats import pool
    from stsmeta.stats.glmm_reg import fit_glmm_regression

    d = datasets()[3]
    groups, names = design_from_groups(d["type"])
    fit = fit_glmm_regression(d["events"], d["n"], groups, names)
    null = pool(d["events"], d["n"], method="glmm", profile=False)
    assert fit.lrt == pytest.approx(2 * (fit.loglik - null.loglik), abs=1e-6)
    assert fit.lrt_p == pytest.approx(float(stats_chi2_sf(fit.lrt, groups.shape[1] - 1)))


def stats_chi2_sf(x, df):
    from scipy import stats

    return stats.chi2.sf(x, df)


def test_common_tau2_test_whatever_the_primary_method():
    """The GLMM likelihood-ratio test with a common tau2 is given beside the Q of the primary
    method's subgroup fits for every method (a level of one study has no tau2 of its own), and
    the Q of a Bayesian primary says that it treats the posteriors as normal."""
    from types import SimpleNamespace

    from stsmeta.pool.subgroup_tests import subgroup_difference
    from stsmeta.stats.glmm_reg import fit_glmm_regression

    counts = {"x": [(2, 5), (3, 4)], "y": [(1, 6)], "z": [(4, 9), (2, 7)]}
    members = {
        level: [SimpleNamespace(events=e, n=m) for e, m in rows] for level, rows in counts.items()
    }
    results = {
        "x": {"mu": 0.3, "se": 0.5},
        "y": {"mu": -1.2, "se": 1.1},
        "z": {"mu": -0.4, "se": 0.6},
    }
    order = [level for level in sorted(counts) for _ in counts[level]]
    design, names = design_from_groups(order)
    flat = [c for level in sorted(counts) for c in counts[level]]
    fit = fit_glmm_regression([c[0] for c in flat], [c[1] for c in flat], design, names)
    assert fit.finite
    for method in ("bayes", "ivre", "common", "glmm"):
        test = subgroup_difference(results, members, "not_reported", method)
        assert test["glmm_lrt"]["statistic"] == pytest.approx(fit.lrt, rel=1e-9), method
        assert test["glmm_lrt"]["df"] == 2 and test["single_study_levels"] == ["y"]
        assert ("posteriors taken as normal" in test["test"]) == (method == "bayes")


def test_glmm_subgroup_lrt_in_the_plan_output():
    from types import SimpleNamespace

    from stsmeta.pool.subgroup_tests import subgroup_difference
    from stsmeta.stats.glmm_reg import fit_glmm_regression

    d = datasets()[3]
    rows = [SimpleNamespace(events=e, n=m) for e, m in zip(d["events"], d["n"], strict=True)]
    members: dict[str, list] = {}
    for row, level_ in zip(rows, d["type"], strict=True):
        members.setdefault(level_, []).append(row)
    results = {level_: {"mu": 0.1 * i, "se": 0.5} for i, level_ in enumerate(sorted(members))}
    test = subgroup_difference(results, members, "not_reported", "glmm")
    order = [lv for lv in sorted(members) for _ in members[lv]]
    design, names = design_from_groups(order)
    counts = [(r.events, r.n) for lv in sorted(members) for r in members[lv]]
    fit = fit_glmm_regression([c[0] for c in counts], [c[1] for c in counts], design, names)
    assert test["glmm_lrt"]["statistic"] == pytest.approx(fit.lrt, rel=1e-9)
