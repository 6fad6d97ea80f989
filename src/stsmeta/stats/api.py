"""``pool(events, n, ...)``: one entry point for every pooling method."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from stsmeta.stats import glmm as glmm_mod
from stsmeta.stats import ivre as ivre_mod
from stsmeta.stats.common import COMMON_CI_LABELS, COMMON_CI_METHODS, common_exact
from stsmeta.stats.glmm_pool import pool_glmm
from stsmeta.stats.intervals import STUDY_CI_METHODS, study_intervals
from stsmeta.stats.ivre_pool import ivre_values, pool_ivre  # noqa: F401 (ivre_values: re-exported)
from stsmeta.stats.prediction import PI_METHODS
from stsmeta.stats.results import PoolResult, StudyResult
from stsmeta.stats.shared import NAN

METHODS = ("glmm", "ivre", "common", "bayes")
_STUDY_CI_LABELS = {
    "cp": "Clopper-Pearson",
    "wilson": "Wilson",
    "jeffreys": "Jeffreys",
    "ac": "Agresti-Coull",
    "wilson-cc": "Wilson (continuity-corrected)",
}
# Counts above 2**53 are not all representable as floats, in which the engine computes.
MAX_COUNT = 2**53


def _check_counts(events, n) -> tuple[np.ndarray, np.ndarray]:
    for name, values in (("events", events), ("n", n)):
        # A boolean among whole numbers ([True, 2]) becomes 1 in an integer array.
        if not isinstance(values, np.ndarray) and any(
            isinstance(v, (bool, np.bool_)) for v in values
        ):
            raise ValueError(f"{name} must be whole numbers, not booleans")
    x = np.asarray(events)
    m = np.asarray(n)
    if (
        x.dtype == object
        or m.dtype == object
        or any(
            abs(int(v)) > MAX_COUNT
            for v in (*x.ravel().tolist(), *m.ravel().tolist())
            if isinstance(v, int)
        )
    ):
        # Python ints beyond int64, or beyond 2**53: floats would round them silently.
        raise ValueError(f"counts must be whole numbers no larger than 2**53 = {MAX_COUNT}")
    for name, values in (("events", x), ("n", m)):
        # Text ("3") and booleans (True) would otherwise pass as counts through astype(float).
        if values.dtype.kind not in "iuf":
            kind = values.dtype.kind
            what = {"b": "booleans", "U": "text", "S": "text"}.get(kind, f"{values.dtype} values")
            raise ValueError(f"{name} must be whole numbers, not {what}")
    if x.ndim != 1 or m.ndim != 1 or x.size != m.size:
        raise ValueError("events and n must be 1-D arrays of the same length")
    if x.size == 0:
        raise ValueError("at least one study is needed")
    xf = x.astype(float)
    mf = m.astype(float)
    if not (
        np.all(np.isfinite(xf))
        and np.all(xf == np.round(xf))
        and np.all(np.isfinite(mf))
        and np.all(mf == np.round(mf))
    ):
        raise ValueError("events and n must be whole numbers")
    if np.any(mf < 1) or np.any(xf < 0) or np.any(xf > mf):
        raise ValueError("every study needs n >= 1 and 0 <= events <= n")
    if np.any(mf > MAX_COUNT):
        raise ValueError(f"counts must be whole numbers no larger than 2**53 = {MAX_COUNT}")
    return xf.astype(np.int64), mf.astype(np.int64)


def pool(
    events: Sequence[int] | np.ndarray,
    n: Sequence[int] | np.ndarray,
    *,
    method: str = "glmm",
    transform: str = "logit",
    tau2: str = "REML",
    ci: str = "z",
    pi: str = "z",
    level: float = 0.95,
    study_ci: str = "cp",
    studies: Sequence[str] | None = None,
    n_nodes: int = glmm_mod.DEFAULT_NODES,
    profile: bool = True,
    study_results: bool = True,
    prior_mu: str | None = None,
    prior_tau: str | None = None,
    thresholds: Sequence[float] = (),
    cc_add: float | None = None,
    cc_to: str = "only0",
    common_ci: str = "cp",
) -> PoolResult:
    """Pool single proportions events/n by ``method`` ("glmm", "ivre" or "common").

    ``transform``/``tau2`` apply to "ivre" only; ``ci`` is "z", "t" (t with k-1 df) or "hk"
    (ivre only); ``pi`` is "z", "t-k1" or "t-k2". Missing results are NaN with the reason in
    ``warnings``; nothing raises for data that are valid counts. ``profile=False`` skips the
    GLMM's profile-likelihood intervals (the slowest part; they are then NaN).
    ``study_results=False`` leaves ``studies`` empty: the pooled numbers only, for results that
    show no study rows (leave-one-out and cumulative steps, k of them over k studies each).
    "bayes" (``stats.bayes``) takes ``prior_mu``, ``prior_tau`` (None: the defaults) and
    ``thresholds`` (proportions for ``prob_above``); its CI is an equal-tailed credible interval.
    ``cc_add``/``cc_to``: continuity correction for "ivre" as metafor escalc's add/to (None:
    the transform's default); ``common_ci``: "cp", "wilson" or "midp" for "common".
    """
    _check_options(method, pi, ci, study_ci, transform, tau2, level, cc_add, cc_to, common_ci)
    x, m = _check_counts(events, n)
    k = int(x.size)
    labels = [str(s) for s in studies] if studies is not None else [str(i + 1) for i in range(k)]
    if len(labels) != k:
        raise ValueError("studies must have one label per study")
    if study_results:
        s_low, s_high = study_intervals(x, m, study_ci, level)
    settings = _settings(method, transform, tau2, ci, pi, level, study_ci, n_nodes, common_ci)
    # Python-int sums: exact, where int64 could overflow.
    common = {"k": k, "events": sum(x.tolist()), "n": sum(m.tolist())}

    def study_rows(weights=None):
        if not study_results:
            return ()
        # Python numbers taken from whole arrays at once: with hundreds of studies, refitted in
        # every leave-one-out and cumulative step, per-element numpy scalars were the cost.
        w = [None] * k if weights is None else np.asarray(weights, dtype=float).tolist()
        numbers = (x.tolist(), m.tolist(), (x / m).tolist(), s_low.tolist(), s_high.tolist())
        columns = zip(labels, *numbers, w, strict=True)
        return tuple(
            StudyResult(study=s, events=e, n=nn, proportion=p, ci_low=lo, ci_high=hi, weight=wt)
            for s, e, nn, p, lo, hi, wt in columns
        )

    scope = f"{_STUDY_CI_LABELS[study_ci]} study CIs"
    if method == "common":
        return _pool_common(x, m, settings, common, study_rows, level, common_ci, scope)
    if method == "bayes":
        from stsmeta.stats.bayes import pool_bayes

        return pool_bayes(
            x, m, settings, common, study_rows, level, prior_mu, prior_tau, thresholds, scope
        )
    if method == "ivre":
        return pool_ivre(
            x, m, settings, common, study_rows, transform, tau2, ci, pi, level, scope, cc_add, cc_to
        )
    return pool_glmm(x, m, settings, common, study_rows, ci, pi, level, n_nodes, scope, profile)


def _check_options(method, pi, ci, study_ci, transform, tau2, level, cc_add, cc_to, common_ci):
    """Raise ValueError for an option that ``pool`` does not know."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if pi not in PI_METHODS:
        raise ValueError(f"pi must be one of {', '.join(PI_METHODS)}")
    if ci not in ivre_mod.CI_METHODS or (method == "glmm" and ci.startswith("hk")):
        allowed = "z, t" if method == "glmm" else ", ".join(ivre_mod.CI_METHODS)
        raise ValueError(f"ci for method {method} must be one of {allowed}")
    if study_ci not in STUDY_CI_METHODS:
        raise ValueError(f"study_ci must be one of {', '.join(STUDY_CI_METHODS)}")
    if transform not in ivre_mod.TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(ivre_mod.TRANSFORMS)}")
    if tau2 not in ivre_mod.TAU2_METHODS:
        raise ValueError(f"tau2 must be one of {', '.join(ivre_mod.TAU2_METHODS)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")
    if cc_to not in ivre_mod.CC_TO or (cc_add is not None and not 0 <= cc_add < math.inf):
        raise ValueError(f"cc_to must be one of {', '.join(ivre_mod.CC_TO)}, cc_add >= 0")
    if common_ci not in COMMON_CI_METHODS:
        raise ValueError(f"common_ci must be one of {', '.join(COMMON_CI_METHODS)}")


def _settings(method, transform, tau2, ci, pi, level, study_ci, n_nodes, common_ci) -> dict:
    """The settings a result records: those that apply to ``method``."""
    return {
        "method": method,
        "transform": transform if method == "ivre" else None,
        "tau2": tau2 if method == "ivre" else ("ML" if method == "glmm" else None),
        "ci": ci if method != "common" else common_ci,
        "pi": pi if method != "common" else None,
        "level": float(level),
        "study_ci": study_ci,
        "n_nodes": int(n_nodes) if method == "glmm" else None,
    }


def _pool_common(x, m, settings, common, study_rows, level, common_ci, scope) -> PoolResult:
    """The exact (or Wilson, mid-p) common-effect result of ``pool(method="common")``."""
    res = common_exact(x, m, level, common_ci)
    settings["description"] = (
        f"Exact common effect (Clopper-Pearson on the pooled counts), {scope}"
        if common_ci == "cp"
        else f"Common effect ({COMMON_CI_LABELS[common_ci]} CI on the pooled counts), {scope}"
    )
    return PoolResult(
        settings=settings,
        **common,
        estimate=res.estimate,
        ci_low=res.ci_low,
        ci_high=res.ci_high,
        pi_low=NAN,
        pi_high=NAN,
        mu=NAN,
        se=NAN,
        tau2=NAN,
        i2=NAN,
        q=NAN,
        q_p=NAN,
        warnings=(),
        studies=study_rows(),
    )
