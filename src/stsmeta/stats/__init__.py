"""Pooling engine: pure functions over arrays, results as small frozen dataclasses.

``pool(events, n, method=...)`` is the entry point; ``study_intervals`` gives per-study CIs;
``glmm_batch`` fits the binomial-normal model to many datasets at once (simulations, benchmarks).

Names are imported from their modules on first use, so that ``stsmeta.stats.results`` (plain
Python: the result shape and its field names) can be read at workflow start without loading
numpy and scipy.
"""

from importlib import import_module

_MODULE_OF = {
    "METHODS": "api",
    "pool": "api",
    "CommonExact": "common",
    "common_exact": "common",
    "DEFAULT_NODES": "glmm",
    "GlmmBatchFit": "glmm_fit",
    "glmm_batch": "glmm_fit",
    "profile_intervals": "glmm",
    "study_intervals": "intervals",
    "fit_ivre": "ivre",
    "transform_proportions": "ivre",
    "prediction_interval": "prediction",
    "PoolResult": "results",
    "StudyResult": "results",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'stsmeta.stats' has no attribute {name!r}")
    value = getattr(import_module(f"stsmeta.stats.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
