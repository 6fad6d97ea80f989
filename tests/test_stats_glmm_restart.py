"""The GLMM's ML fit where its likelihood has a local maximum at tau2 = 0 and another far out.

A large study beside single-patient ones (0/1, 1/3, 462/500): Newton from tau = 0.5 ended at the
boundary, whose log-likelihood is 1.2 below the fit rma.glmm finds (tau2 = 3.12), and stsmeta
reported tau2 = 0 with a pooled 92% (CI 89% to 94%) where the ML estimate is 62% (8% to 97%).
References: tests/reference/make_reference_glmm_restart.R (metafor's rma.glmm, nAGQ = 25), on
the two datasets an audit reported and 40 SYNTHETIC ones of the same shape. Both fits are judged
by one yardstick, the marginal log-likelihood on 201 adaptive nodes: stsmeta's is never lower
than that of metafor's fit, and where they reach the same maximum their numbers agree. Where
metafor's optimiser stops at a lower point (6 of the synthetic datasets, all at tau2 = 0 in
stsmeta), the comparison says so instead.
"""

from __future__ import annotations

import pytest
from glmm_reference import assert_never_below_and_alike_at_the_same_maximum, datasets, fit, kinds

DATASETS = datasets("restart")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_the_fit_is_never_below_metafors_and_agrees_where_both_reach_the_maximum(name):
    assert_never_below_and_alike_at_the_same_maximum(name, DATASETS[name])


def test_the_audits_datasets_are_fitted_off_the_boundary():
    for name in ("audit_1", "audit_2"):
        ref = DATASETS[name]
        ours, _ = fit(ref)
        assert ours.tau2 == pytest.approx(ref["tau2"], rel=1e-4)
        assert ours.tau2 > 1.0
        assert not any("boundary" in w for w in ours.warnings)


def test_the_reference_holds_both_kinds_of_dataset():
    """Fits off the boundary that both reach, and datasets where metafor stops short: the test
    above meets each branch."""
    same, below = kinds(DATASETS)
    assert same >= 30 and below >= 1
