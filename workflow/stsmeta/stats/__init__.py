"""Pooling engine: pure functions over arrays, results as small frozen dataclasses.

``pool(events, n, method=...)`` is the entry point; ``study_intervals`` gives per-study CIs;
``glmm_batch`` fits the binomial-normal model to many datasets at once (simulations, benchmarks).
"""

from stsmeta.stats.api import METHODS, pool
from stsmeta.stats.common import CommonExact, common_exact
from stsmeta.stats.glmm import DEFAULT_NODES, GlmmBatchFit, glmm_batch, profile_intervals
from stsmeta.stats.intervals import study_intervals
from stsmeta.stats.ivre import fit_ivre, transform_proportions
from stsmeta.stats.prediction import prediction_interval
from stsmeta.stats.results import PoolResult, StudyResult

__all__ = [
    "DEFAULT_NODES",
    "METHODS",
    "CommonExact",
    "GlmmBatchFit",
    "PoolResult",
    "StudyResult",
    "common_exact",
    "fit_ivre",
    "glmm_batch",
    "pool",
    "prediction_interval",
    "profile_intervals",
    "study_intervals",
    "transform_proportions",
]
