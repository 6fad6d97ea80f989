"""Issue 12, GLMM and command-line defects: each test reproduces one defect of the issue and
fails on the code before the fix (values noted in the docstrings)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from stsmeta.cli import main
from stsmeta.stats import glmm as glmm_mod
from stsmeta.stats import glmm_batch, pool
from stsmeta.stats.glmm_check import profile_end_error

REFERENCE = Path(__file__).parent / "reference" / "metafor_reference_issue12.json"


def test_boundary_standard_error_is_that_of_the_boundary_fit():
    """Defect 2: 3/3, 1/2, 2/2, 4/4 gave CI 0.141-0.998 (SE 2.10 from a nearly singular matrix
    at tau2 ~ 1e-9); metafor (nAGQ = 20) gives SE 1.0488 and CI 0.561-0.987."""
    ref = next(
        d
        for d in json.loads(REFERENCE.read_text())["datasets"]
        if d["name"] == "issue12_glmm_boundary"
    )["fits"]["glmm_nagq20"]
    res = pool([3, 1, 2, 4], [3, 2, 2, 4], method="glmm")
    assert res.tau2 == 0.0
    assert res.se == pytest.approx(ref["se"], abs=1e-6)
    assert res.ci_low == pytest.approx(ref["ci_low"], abs=1e-6)
    assert res.ci_high == pytest.approx(ref["ci_high"], abs=1e-6)


@pytest.mark.parametrize(
    "x, n",
    [([3, 1, 2, 4], [3, 2, 2, 4]), ([1, 2, 1], [3, 5, 4]), ([5, 6, 4, 5], [10, 11, 9, 10])],
)
def test_tau2_zero_always_comes_with_the_common_effect_standard_error(x, n):
    """One boundary threshold: whenever tau2 is reported as 0 the SE is 1/sqrt(information of
    the common-effect logistic model), never that of a nearly singular 2 x 2 matrix."""
    fit = glmm_batch([x], [n])
    assert fit.tau2[0] == 0.0
    p = sum(x) / sum(n)
    assert fit.se[0] == pytest.approx(1 / math.sqrt(sum(n) * p * (1 - p)), rel=1e-9)


def test_large_tau2_is_fitted_with_enough_nodes():
    """Defect 3: at tau2 ~ 98 the 61-node fit is off by 0.66 in SE (3.86 against 4.52); the
    fit now raises the nodes until doubling them changes it by < 1e-6."""
    x, n = [0, 30, 1, 29, 0, 30], [30] * 6
    res = pool(x, n, method="glmm", profile=False)
    fine = glmm_batch([x], [n], n_nodes=1921)
    coarse = glmm_batch([x], [n], n_nodes=61)
    assert abs(coarse.se[0] - fine.se[0]) > 0.1  # the defect: 61 nodes are not enough here
    assert res.settings["n_nodes"] > 61
    assert res.se == pytest.approx(fine.se[0], rel=1e-5)
    assert res.tau2 == pytest.approx(fine.tau2[0], rel=1e-5)
    assert res.mu == pytest.approx(fine.mu[0], abs=1e-5)
    assert not any("quadrature" in w for w in res.warnings)


def test_far_profile_ends_are_checked_against_more_nodes():
    """Defect 3 (profile): on 3/3, 1/2, 2/2, 4/4 the 121-node profile put the upper end for the
    proportion at logit 29.96 (a wrong finite end, so no 'extends to 1' warning) and the tau2
    upper end at 676; with the ends checked, the interval extends to 1 and the deviance at the
    tau2 end is within 1e-3 of chi2_1(0.95) with twice the nodes."""
    x, n = [3, 1, 2, 4], [3, 2, 2, 4]
    res = pool(x, n, method="glmm")
    assert res.profile_ci_high == 1.0
    assert "profile-likelihood CI for the pooled proportion extends to 1" in res.warnings
    ends = glmm_mod.ProfileIntervals(
        special.logit(res.profile_ci_low), math.inf, res.tau2_ci_low, res.tau2_ci_high
    )
    nodes = 2 * res.settings["profile_n_nodes"] - 1
    assert profile_end_error(x, n, ends, res.mu, res.tau2, nodes, 0.95) <= 1e-3
    assert res.tau2_ci_high == pytest.approx(715, rel=0.01)


def test_many_nodes_work_or_are_refused_clearly(tmp_path, capsys):
    """Defect 4: --nodes 400 returned NaN ('information matrix not positive definite')."""
    x, n = [3, 6, 10, 1], [11, 17, 21, 6]
    default = pool(x, n, method="glmm", profile=False)
    for nodes in (400, 1001):
        res = pool(x, n, method="glmm", n_nodes=nodes, profile=False)
        assert res.converged
        assert res.mu == pytest.approx(default.mu, abs=1e-9)
        assert res.se == pytest.approx(default.se, rel=1e-8)
    t, logw = glmm_mod._hermite(1001)
    assert np.exp(logw - t * t).sum() == pytest.approx(math.sqrt(math.pi), rel=1e-12)
    path = tmp_path / "s.csv"
    path.write_text("study,events,n\na,3,11\nb,6,17\n")
    assert main(["pool", "--input", str(path), "--nodes", "5000"]) == 2
    assert "--nodes: nodes: 5000 is not between 1 and 2001" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, words",
    [
        ("study,events,n\nM\xfcller,3,5\n".encode("latin-1"), "is not UTF-8 text (byte 0xfc)"),
        (b"study,events,n\na,3,1e20\n", "row 1: n: 1e20 is too large"),
        (b"study,events,n\na,3,9007199254740993\n", "row 1: n: 9007199254740993 is too large"),
    ],
)
def test_bad_encodings_and_huge_counts_are_clear_errors(tmp_path, capsys, content, words):
    """Defect 5: a Latin-1 CSV raised UnicodeDecodeError, n = 1e20 crashed, and counts above
    2**53 were rounded silently."""
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert main(["pool", "--input", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_counts_are_summed_exactly_and_huge_ones_refused():
    res = pool([2**52 - 1, 2**52], [2**53, 2**53], method="common")
    assert res.events == 2**53 - 1 and res.n == 2**54
    with pytest.raises(ValueError, match="2\\*\\*53"):
        pool([1, 1], [2**53 + 1, 3], method="common")
    with pytest.raises(ValueError, match="2\\*\\*53"):
        pool([1, 1], [2**70, 3], method="common")


def test_every_n_1_prints_no_heterogeneity_numbers(tmp_path, capsys):
    """Defect 6: every n = 1 printed tau2 = 0, I2 = 0 and a PI equal to the CI."""
    path = tmp_path / "n1.csv"
    path.write_text("study,events,n\na,1,1\nb,0,1\nc,1,1\nd,1,1\n")
    assert main(["pool", "--input", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tau2"] is None and out["i2"] is None and out["pi_low"] is None
    assert out["estimate"] == pytest.approx(0.75)
    assert any("not identifiable" in w for w in out["warnings"])


def test_smaller_defects_are_labelled(tmp_path, capsys):
    """Defect 7: duplicate names, the corrected k = 1 logit value, the FT tau2 scale, which Q,
    and the I2 correction are all said in the output."""
    path = tmp_path / "dup.csv"
    path.write_text("study,events,n\na,3,5\na,2,7\n")
    assert main(["pool", "--input", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("duplicate study names 'a'" in w for w in out["warnings"])
    assert out["qe_lrt"] == out["q"] and "QE.LRT" in out["q_test"]
    assert "1/2 added" in out["i2_note"]
    single = pool([5], [5], method="ivre", transform="logit")
    assert single.estimate == pytest.approx(5.5 / 6)
    assert "continuity-corrected proportion 5.5/6, not the observed 5/5" in single.warnings[0]
    ft = pool([3, 6, 10, 1], [11, 17, 21, 6], method="ivre", transform="ft").to_dict()
    assert "multiply by 4" in ft["tau2_scale"]
    assert ft["qe_wald"] == ft["q"]
