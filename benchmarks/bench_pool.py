"""Speed and agreement of the pooling engine on simulated small case series.

Simulates many SYNTHETIC datasets (k = 6 studies, n from 1 to 10, logit-normal true proportions,
fixed seed), fits them with every method (and the GLMM also at k = 545 series of 1, 3 or 6
patients, the coverage design of a 1,000-study synthetic evidence base), and, when ``Rscript``
with metafor is installed, fits the same datasets with ``rma.glmm`` and ``rma`` in one R process.
Prints the time per fit, the speed ratio and the largest disagreement on the proportion scale;
and the GLMM with its profile-likelihood CI on the scalar evaluation and on the batch one.

    python benchmarks/bench_pool.py [--datasets 300] [--no-r]

Nothing here is asserted: it prints figures (timed tests do not belong in the test suite).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import special

from stsmeta.stats import glmm_batch, pool
from stsmeta.stats.glmm import marginal_loglik

R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
ids <- unique(d$dataset)
one <- function(f) tryCatch(f, error = function(e) c(NA_real_, NA_real_, NA_real_))
fit_glmm <- function(x, n) one({
  fit <- rma.glmm(measure = "PLO", xi = x, ni = n)
  c(plogis(fit$beta[1]), fit$beta[1], fit$tau2)
})
fit_reml <- function(x, n) one({
  fit <- rma(measure = "PLO", xi = x, ni = n, method = "REML")
  c(plogis(fit$beta[1]), fit$beta[1], fit$tau2)
})
run <- function(f) {
  out <- matrix(NA_real_, length(ids), 3)
  # Warm, as the Python side is: the first rma.glmm call loads lme4.
  s <- d[d$dataset == ids[1], ]
  invisible(suppressWarnings(f(s$events, s$n)))
  t0 <- proc.time()
  for (j in seq_along(ids)) {
    s <- d[d$dataset == ids[j], ]
    out[j, ] <- suppressWarnings(f(s$events, s$n))
  }
  t1 <- proc.time()
  cpu <- (t1[["user.self"]] + t1[["sys.self"]]) - (t0[["user.self"]] + t0[["sys.self"]])
  list(seconds = t1[["elapsed"]] - t0[["elapsed"]], cpu_seconds = cpu, estimate = out[, 1],
       mu = out[, 2], tau2 = out[, 3])
}
g <- run(fit_glmm)
r <- run(fit_reml)
cat(jsonlite::toJSON(list(glmm = g, reml = r), digits = NA, na = "null", auto_unbox = TRUE))
"""


def simulate(m: int, k: int = 6, seed: int = 20261124) -> tuple[np.ndarray, np.ndarray]:
    """SYNTHETIC datasets: n ~ U{1..10}, logit p ~ N(mu, tau^2) with mu ~ U(-1.5, 2.5)."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 11, size=(m, k))
    mu = rng.uniform(-1.5, 2.5, size=(m, 1))
    tau = rng.uniform(0.0, 1.0, size=(m, 1))
    p = special.expit(mu + tau * rng.standard_normal((m, k)))
    return rng.binomial(n, p), n


def timed(fn, repeat: int = 1) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_r(x: np.ndarray, n: np.ndarray) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.csv"
        rows = ["dataset,events,n"] + [
            f"{i},{x[i, j]},{n[i, j]}" for i in range(x.shape[0]) for j in range(x.shape[1])
        ]
        data.write_text("\n".join(rows) + "\n")
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        proc = subprocess.run(
            ["Rscript", str(script), str(data)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            print("R failed:", proc.stderr.strip().splitlines()[-1:])
            return None
        return json.loads(proc.stdout)


def large_k(m: int = 20, k: int = 545) -> None:
    """The GLMM at large k of tiny series: fitted on the distinct (events, n) pairs, and on
    every study as given."""
    rng = np.random.default_rng(20261125)
    n = rng.choice([1, 3, 6], size=(m, k), p=[0.66, 0.17, 0.17])
    x = rng.binomial(n, special.expit(0.5 + 0.8 * rng.standard_normal((m, k))))
    for label, kwargs in (("distinct pairs", {}), ("every study", {"collapse": False})):
        t = timed(
            lambda kw=kwargs: [glmm_batch(x[i : i + 1], n[i : i + 1], **kw) for i in range(m)]
        )
        print(
            f"glmm_batch one at a time, k = {k}, n in 1/3/6, {label:<14} {1e3 * t / m:8.3f} ms/fit"
        )
    sub = range(min(m, 5))
    t = timed(lambda: [pool(x[i], n[i], method="glmm") for i in sub]) / len(sub)
    print(f"pool glmm with profile CI, k = {k}, n in 1/3/6: {1e3 * t:8.3f} ms/fit")


def profiled_fits(x: np.ndarray, n: np.ndarray, m: int = 60) -> None:
    """The GLMM with its profile-likelihood CI (``pool(method="glmm")``), one dataset at a time:
    on the scalar evaluation (``glmm_profile_one``) and on the batch path it replaced
    (``glmm.profile_intervals``, ``glmm_check.profile_end_error``); CPU and wall per dataset,
    and the largest difference of the interval ends (logit scale for mu, tau2)."""
    from stsmeta.stats import glmm as glmm_mod
    from stsmeta.stats import glmm_check, glmm_profile_one

    def batch_loglik(x_, n_, mu, tau, nodes):
        return float(glmm_mod.marginal_loglik(x_, n_, mu, tau, nodes)[0])

    fast = (
        glmm_profile_one.profile_intervals_one,
        glmm_profile_one.profile_end_error_one,
        glmm_profile_one.marginal_loglik_one,
    )
    paths = {
        "scalar (glmm_profile_one)": fast,
        "batch (glmm._Profiler)": (
            glmm_mod.profile_intervals,
            glmm_check.profile_end_error,
            batch_loglik,
        ),
    }
    rows = range(min(m, x.shape[0]))
    pool(x[0], n[0], method="glmm")  # imports (scipy.optimize for the Brent fallback) first
    ends = {}
    try:
        for label, (intervals, end_error, loglik) in paths.items():
            glmm_profile_one.profile_intervals_one = intervals
            glmm_profile_one.profile_end_error_one = end_error
            glmm_profile_one.marginal_loglik_one = loglik
            wall, cpu = time.perf_counter(), time.process_time()
            results = [pool(x[i], n[i], method="glmm") for i in rows]
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            ends[label] = np.array(
                [
                    [
                        special.logit(r.profile_ci_low),
                        special.logit(r.profile_ci_high),
                        r.tau2_ci_low,
                        r.tau2_ci_high,
                    ]
                    for r in results
                ],
                dtype=float,
            )
            print(
                f"pool glmm with profile CI, {label:<27} {1e3 * cpu / len(rows):8.3f} ms/fit CPU, "
                f"{1e3 * wall / len(rows):8.3f} ms/fit wall"
            )
    finally:
        (
            glmm_profile_one.profile_intervals_one,
            glmm_profile_one.profile_end_error_one,
            glmm_profile_one.marginal_loglik_one,
        ) = fast
    a, b = ends.values()
    both = np.isfinite(a) & np.isfinite(b)
    same_missing = bool(np.all(np.isfinite(a) == np.isfinite(b)))
    print(
        f"  largest |scalar - batch| of the interval ends (relative above 1): "
        f"{np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(a[both]), 1.0)):.1e} over "
        f"{len(rows)} datasets (ends missing in the same places: {same_missing})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=300)
    parser.add_argument("--no-r", action="store_true", help="skip the comparison with R")
    args = parser.parse_args()
    x, n = simulate(args.datasets)
    m = x.shape[0]
    print(f"{m} synthetic datasets, k = {x.shape[1]}, n in 1..10")

    fit = None

    def batch():
        nonlocal fit
        fit = glmm_batch(x, n)

    t_batch = timed(batch, repeat=3) / m
    ok = fit.status == "ok"
    est_batch = np.where(ok, special.expit(fit.mu), np.nan)
    print(
        f"glmm_batch (vectorised, {fit.n_nodes} nodes): {1e3 * t_batch:8.3f} ms/fit "
        f"({ok.sum()} fitted, {m - ok.sum()} without an ML estimate)"
    )

    sub = range(min(m, 60))
    rows = [
        ("pool glmm, one at a time, no profile CI", dict(method="glmm", profile=False)),
        ("pool glmm, one at a time, with profile CI", dict(method="glmm")),
        ("pool ivre logit REML", dict(method="ivre", transform="logit", tau2="REML")),
        ("pool ivre ft DL", dict(method="ivre", transform="ft", tau2="DL")),
        ("pool ivre logit PM, HK", dict(method="ivre", tau2="PM", ci="hk")),
        ("pool common (exact)", dict(method="common")),
    ]
    for label, kwargs in rows:
        t = timed(lambda kw=kwargs: [pool(x[i], n[i], **kw) for i in sub]) / len(sub)
        print(f"{label:<44} {1e3 * t:8.3f} ms/fit")
    profiled_fits(x, n)
    est_reml = np.array([pool(x[i], n[i], method="ivre").estimate for i in range(m)])
    large_k()

    if args.no_r:
        return
    r = run_r(x, n)
    if r is None:
        print("R with metafor not available: no comparison")
        return

    def arr(v):
        return np.array([np.nan if e is None else e for e in v], dtype=float)

    r_glmm, r_mu, r_tau2 = (arr(r["glmm"][key]) for key in ("estimate", "mu", "tau2"))
    r_reml = arr(r["reml"]["estimate"])
    t_r = r["glmm"]["seconds"] / m
    both = np.isfinite(r_glmm) & np.isfinite(est_batch)
    print(f"metafor rma.glmm (nAGQ = 7), one R process: {1e3 * t_r:8.3f} ms/fit")
    print(f"speed ratio rma.glmm / glmm_batch: {t_r / t_batch:8.1f}x")
    print(
        f"GLMM largest |ours - metafor| on the proportion scale: "
        f"{np.max(np.abs(est_batch[both] - r_glmm[both])):.2e} over {both.sum()} datasets; "
        f"median {np.median(np.abs(est_batch[both] - r_glmm[both])):.1e}"
    )
    small = both & (r_tau2 <= 1)
    print(
        f"  where metafor's tau2 <= 1 ({small.sum()} datasets): largest "
        f"{np.max(np.abs(est_batch[small] - r_glmm[small])):.2e}"
    )
    # Where we differ by more than 5e-5, whose fit is better? Judge by a 151-node likelihood.
    far = np.flatnonzero(both & (np.abs(est_batch - r_glmm) > 5e-5))
    if far.size:
        ours = marginal_loglik(x[far], n[far], fit.mu[far], np.sqrt(fit.tau2[far]), 151)
        theirs = marginal_loglik(x[far], n[far], r_mu[far], np.sqrt(r_tau2[far]), 151)
        print(
            f"  differing by > 5e-5: {far.size} datasets; our log-likelihood (151 nodes) is "
            f"higher in {(ours >= theirs - 1e-9).sum()}, by up to {np.max(ours - theirs):.1e}"
        )
    print(
        f"missing in exactly one of the two: {(np.isfinite(r_glmm) != ok).sum()} "
        "(e.g. every study at 0% or 100%, some each way, where metafor returns an estimate "
        "with a diverging tau2)"
    )
    t_reml = r["reml"]["seconds"] / m
    both = np.isfinite(r_reml) & np.isfinite(est_reml)
    print(
        f"metafor rma REML (logit): {1e3 * t_reml:8.3f} ms/fit; largest |ours - metafor| "
        f"{np.max(np.abs(est_reml[both] - r_reml[both])):.2e} (metafor's default REML "
        f"threshold is 1e-5)"
    )


if __name__ == "__main__":
    main()
