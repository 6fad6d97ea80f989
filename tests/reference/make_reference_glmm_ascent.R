# Reference values for the GLMM where Newton's method stopped short of the maximum: where the
# Hessian was not negative definite, the cap that keeps tau from crossing 0 could turn the Newton
# step downhill, every halving was rejected, and the fit was called converged at a point whose
# score was not 0 (events 2, 4, 8 of n = 2, 40, 40 came out at tau2 = 0, their mirror image
# 0, 36, 32 at tau2 = 0.026). From R metafor's rma.glmm (measure "PLO", ML, nAGQ = 25).
#
# Run from the repository root:  Rscript tests/reference/make_reference_glmm_ascent.R
# Writes tests/reference/metafor_reference_glmm_ascent.json (read by
# tests/test_stats_glmm_ascent.py, which needs no R). Every dataset is SYNTHETIC. The named ones:
# that dataset and its mirror image; the 8 others where stsmeta 991c70c stopped that way, below
# the best of Newton's runs from tau = 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2 and 6, found by fitting
# every dataset of 21 designs (a study of 1 to 4 patients beside two or three of 5 to 60; these 8
# are in n = (3, 40, 40), (2, 10, 40) and (3, 50, 50)); and events 2, 4, 8 of n = 2, 50, 50 with
# its mirror image, whose likelihood has two maxima inside (tau2 = 0.020 and, higher, 1.62). The
# others are drawn with a fixed seed: a study of 1 to 3 patients beside two or three of 5 to 60.
source("tests/reference/glmm_reference_fits.R")  # fit_one, write_reference

set.seed(20261203)

datasets <- list(
  defect = list(x = c(2, 4, 8), n = c(2, 40, 40)),
  defect_mirror = list(x = c(0, 36, 32), n = c(2, 40, 40)),
  scan_3_40_40_a = list(x = c(0, 27, 32), n = c(3, 40, 40)),
  scan_3_40_40_b = list(x = c(3, 13, 8), n = c(3, 40, 40)),
  scan_2_10_40_a = list(x = c(0, 0, 9), n = c(2, 10, 40)),
  scan_2_10_40_b = list(x = c(2, 10, 31), n = c(2, 10, 40)),
  scan_3_50_50_a = list(x = c(0, 35, 41), n = c(3, 50, 50)),
  scan_3_50_50_b = list(x = c(3, 15, 9), n = c(3, 50, 50)),
  scan_3_50_50_c = list(x = c(0, 36, 41), n = c(3, 50, 50)),
  scan_3_50_50_d = list(x = c(3, 14, 9), n = c(3, 50, 50)),
  two_maxima = list(x = c(2, 4, 8), n = c(2, 50, 50)),
  two_maxima_mirror = list(x = c(0, 46, 42), n = c(2, 50, 50))
)
for (i in seq_len(40)) {
  k <- sample(2:3, 1)
  n <- c(sample(1:3, 1), sample(5:60, k, replace = TRUE))
  p <- plogis(rnorm(1, 0, 1.5) + runif(1, 0, 1.5) * rnorm(k + 1))
  datasets[[sprintf("synthetic_%02d", i)]] <- list(x = rbinom(k + 1, n, p), n = n)
}

write_reference(datasets, "tests/reference/metafor_reference_glmm_ascent.json")
