"""Speed of the Bayesian binomial-normal model (stsmeta.stats.bayes), beside metafor's rma.glmm.

Prints, for SYNTHETIC data (fixed seed):
* one full posterior (every summary: credible, predictive and tau intervals, mean proportion,
  P(p > 0.5), marginal likelihood) of a k = 6 dataset like complete remission (10/13 in 6 series);
* the coverage study's fitter (coverage.bayes_fitter: estimate and credible interval only, each
  distinct dataset fitted once, one of each mirror pair) on 1,000 datasets simulated with that
  design, per dataset;
* the vectorised ``batch_intervals`` on 100 datasets with larger series (n 5..60), per dataset;
* R metafor ``rma.glmm`` per fit on the same k = 6 datasets, timed in one R process in this run.

    python benchmarks/bench_bayes.py [--no-r]

Each line ends with its target (issue 13: one posterior for k = 6 in at most 10 ms, the coverage
study's fitter in at most 1 ms per dataset). Wall and CPU (process) times are both printed, with
the load average at the start: on a shared machine the CPU time is the one that says what the
code costs. Nothing is asserted (no timed tests in the suite).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import special

from stsmeta.coverage.bayes_fitter import bayes_fitter
from stsmeta.coverage.simulate import mirror_pairs
from stsmeta.stats.bayes import batch_intervals, posterior

DESIGN = np.array([1, 1, 2, 3, 3, 3])  # k = 6, 13 patients (synthetic, shaped like the data)
R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
ids <- unique(d$dataset)
t0 <- proc.time()
ok <- 0
for (j in ids) {
  s <- d[d$dataset == j, ]
  fit <- tryCatch(suppressWarnings(rma.glmm(measure = "PLO", xi = s$events, ni = s$n)),
                  error = function(e) NULL)
  if (!is.null(fit)) ok <- ok + 1
}
el <- proc.time() - t0
cat(jsonlite::toJSON(list(fits = length(ids), ok = ok, elapsed = el[["elapsed"]],
                          cpu = el[["user.self"]] + el[["sys.self"]]), auto_unbox = TRUE))
"""


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus))


def simulate(n: np.ndarray, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.normal(special.logit(0.75), 0.7, size=(m, n.size))
    return rng.binomial(n, special.expit(theta))


def r_glmm(events: np.ndarray, n: np.ndarray) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d.csv"
        rows = ["dataset,events,n"] + [
            f"{j},{x},{k}"
            for j in range(events.shape[0])
            for x, k in zip(events[j], n, strict=True)
        ]
        data.write_text("\n".join(rows) + "\n")
        script = Path(tmp) / "fit.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(script), str(data)], capture_output=True, text=True, check=False
        )
    return json.loads(out.stdout) if out.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true", help="skip the metafor timing")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    one = np.array([1, 1, 2, 3, 2, 1])
    posterior(one, DESIGN)  # warm caches (quadrature rules)
    wall, cpu = timed(lambda: posterior(one, DESIGN, thresholds=(0.5,)), 15)
    line("one posterior, k = 6 (all summaries)", wall * 1e3, cpu * 1e3, "ms", "<= 10 ms")
    wall, cpu = timed(lambda: batch_intervals(one[None, :], DESIGN), 15)
    line("one posterior, k = 6 (estimate and CrI)", wall * 1e3, cpu * 1e3, "ms", "")

    events = simulate(DESIGN, 1000, 20261130)
    fit = bayes_fitter({"method": "bayes"}, 0.95)
    wall, cpu = timed(lambda: fit(events, DESIGN), 1)
    distinct = len({tuple(sorted(zip(r, DESIGN, strict=True))) for r in events.tolist()})
    # The fitter fits one dataset of each mirror pair (events counted as non-events).
    pairs = len({tuple(r) for r in mirror_pairs(events, DESIGN)[0].tolist()})
    line(
        f"coverage fitter, 1,000 datasets ({distinct} distinct, {pairs} fitted)",
        wall,
        cpu,
        "ms per dataset",
        "<= 1 ms per dataset",
    )
    big_n = np.random.default_rng(7).integers(5, 61, size=6)
    big = simulate(big_n, 100, 20261201)
    wall, cpu = timed(lambda: batch_intervals(big, big_n), 1)
    line("batch_intervals, 100 datasets, n 5..60", wall * 10, cpu * 10, "ms per dataset", "")
    if not args.no_r:
        res = r_glmm(events[:200], DESIGN)
        if res is None:
            print("metafor rma.glmm: Rscript or metafor not available")
        else:
            line(
                f"metafor rma.glmm, k = 6, {res['fits']} fits ({res['ok']} converged)",
                res["elapsed"] / res["fits"] * 1e3,
                res["cpu"] / res["fits"] * 1e3,
                "ms per fit",
                "(reference)",
            )


def line(label: str, wall: float, cpu: float, unit: str, target: str) -> None:
    print(f"{label + ':':<50} {wall:8.2f} wall {cpu:8.2f} CPU {unit:<15} {target}")


if __name__ == "__main__":
    main()
