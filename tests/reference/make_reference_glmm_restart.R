# Reference values for the GLMM where its likelihood has a local maximum at tau2 = 0 and a higher
# one far out: a large study beside single-patient ones (an audit found stsmeta reporting the
# boundary fit there). From R metafor's rma.glmm (measure "PLO", nAGQ = 25).
#
# Run from the repository root:  Rscript tests/reference/make_reference_glmm_restart.R
# Writes tests/reference/metafor_reference_glmm_restart.json (read by
# tests/test_stats_glmm_restart.py, which needs no R). The two named datasets are those the audit
# reported; the others are SYNTHETIC (fixed seed): k = 3 to 6 studies of 1 to 3 patients and one
# of 200 to 600.
source("tests/reference/glmm_reference_fits.R")  # fit_one, write_reference

set.seed(20261202)

datasets <- list(
  audit_1 = list(x = c(0, 1, 462), n = c(1, 3, 500)),
  audit_2 = list(x = c(0, 1, 2, 5, 480), n = c(1, 1, 3, 6, 500))
)
for (i in seq_len(40)) {
  k <- sample(2:5, 1)
  n <- c(sample(1:3, k, replace = TRUE), sample(200:600, 1))
  p <- plogis(rnorm(1, 0.5, 1) + runif(1, 0, 2.5) * rnorm(k + 1))
  datasets[[sprintf("synthetic_%02d", i)]] <- list(x = rbinom(k + 1, n, p), n = n)
}

write_reference(datasets, "tests/reference/metafor_reference_glmm_restart.json")
