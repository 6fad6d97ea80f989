# Reference values for the GLMM meta-regression where Newton's method stopped short of the
# maximum: stsmeta's glmm_reg (8cf53ca) started the search with tau free only at tau = 0.5 and,
# where the tau cap turned the Levenberg-shifted Newton step downhill, stopped where the score was
# not 0; it then reported the boundary tau2 = 0 below a higher maximum inside. From R metafor's
# rma.glmm (measure "PLO", mods, ML, nAGQ = 25).
#
# Run from the repository root:  Rscript tests/reference/make_reference_glmm_reg_ascent.R
# Writes tests/reference/metafor_reference_glmm_reg_ascent.json (read by
# tests/test_stats_glmm_reg_ascent.py, which needs no R). Every dataset is SYNTHETIC. The "scan"
# ones are among the 2,242 that 8cf53ca put at tau2 = 0 so, found by fitting every dataset of 33
# designs (a study of 1 to 4 patients beside two or three of 5 to 60; a binary moderator, a
# continuous one or both): per design and kind (tau2-score at the boundary positive or not),
# the one gaining most and the one of least tau2 (below 10). Named scan_<n>_<moderators>_<events>.
# "random_k5" are two that a sample of 1,422 random datasets found. The others are drawn with a
# fixed seed: a study of 1 to 4 patients beside 2 to 5 of 5 to 60, a binary moderator (the small
# study in a level with another), a continuous one or both, no level at all 0% or all 100%.
source("tests/reference/glmm_reference_fits.R")  # fit_reg, write_reference

set.seed(20261204)

datasets <- list(
  scan_1_10_40_binary_0_10_39 = list(x = c(0, 10, 39), n = c(1, 10, 40), mods = cbind(c(0, 0, 1))),
  scan_1_10_40_binary_0_10_1 = list(x = c(0, 10, 1), n = c(1, 10, 40), mods = cbind(c(0, 0, 1))),
  scan_1_10_40_continuous_0_9_5 = list(x = c(0, 9, 5), n = c(1, 10, 40), mods = cbind(c(0, 1, 2))),
  scan_1_10_40_continuous_1_3_37 = list(
    x = c(1, 3, 37), n = c(1, 10, 40), mods = cbind(c(0, 1, 2))
  ),
  scan_2_10_40_binary_0_9_37 = list(x = c(0, 9, 37), n = c(2, 10, 40), mods = cbind(c(0, 0, 1))),
  scan_2_10_40_binary_2_1_3 = list(x = c(2, 1, 3), n = c(2, 10, 40), mods = cbind(c(0, 0, 1))),
  scan_2_10_40_continuous_1_0_31 = list(
    x = c(1, 0, 31), n = c(2, 10, 40), mods = cbind(c(0, 1, 2))
  ),
  scan_2_10_40_continuous_1_2_37 = list(
    x = c(1, 2, 37), n = c(2, 10, 40), mods = cbind(c(0, 1, 2))
  ),
  scan_4_20_60_binary_4_6_53 = list(x = c(4, 6, 53), n = c(4, 20, 60), mods = cbind(c(0, 0, 1))),
  scan_4_20_60_binary_0_13_56 = list(x = c(0, 13, 56), n = c(4, 20, 60), mods = cbind(c(0, 0, 1))),
  scan_4_20_60_continuous_3_20_9 = list(
    x = c(3, 20, 9), n = c(4, 20, 60), mods = cbind(c(0, 1, 2))
  ),
  scan_4_20_60_continuous_0_15_43 = list(
    x = c(0, 15, 43), n = c(4, 20, 60), mods = cbind(c(0, 1, 2))
  ),
  scan_3_5_25_continuous_1_0_21 = list(x = c(1, 0, 21), n = c(3, 5, 25), mods = cbind(c(0, 1, 2))),
  scan_2_10_10_10_continuous_1_0_5_10 = list(
    x = c(1, 0, 5, 10), n = c(2, 10, 10, 10), mods = cbind(c(0, 1, 2, 3))
  ),
  scan_2_10_10_10_continuous_1_0_3_9 = list(
    x = c(1, 0, 3, 9), n = c(2, 10, 10, 10), mods = cbind(c(0, 1, 2, 3))
  ),
  scan_3_10_10_10_binary_continuous_1_0_0_8 = list(
    x = c(1, 0, 0, 8), n = c(3, 10, 10, 10), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_3_10_10_10_binary_continuous_2_10_7_0 = list(
    x = c(2, 10, 7, 0), n = c(3, 10, 10, 10), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_1_5_20_30_continuous_1_0_2_20 = list(
    x = c(1, 0, 2, 20), n = c(1, 5, 20, 30), mods = cbind(c(0, 1, 2, 3))
  ),
  scan_1_5_20_30_continuous_1_4_18_4 = list(
    x = c(1, 4, 18, 4), n = c(1, 5, 20, 30), mods = cbind(c(0, 1, 2, 3))
  ),
  scan_4_8_12_16_binary_continuous_1_0_2_16 = list(
    x = c(1, 0, 2, 16), n = c(4, 8, 12, 16), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_4_8_12_16_binary_continuous_2_7_12_9 = list(
    x = c(2, 7, 12, 9), n = c(4, 8, 12, 16), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_2_40_40_binary_0_38_30 = list(x = c(0, 38, 30), n = c(2, 40, 40), mods = cbind(c(0, 0, 1))),
  scan_2_40_40_binary_2_6_39 = list(x = c(2, 6, 39), n = c(2, 40, 40), mods = cbind(c(0, 0, 1))),
  scan_2_40_40_continuous_1_0_30 = list(
    x = c(1, 0, 30), n = c(2, 40, 40), mods = cbind(c(0, 1, 2))
  ),
  scan_2_40_40_continuous_2_6_8 = list(x = c(2, 6, 8), n = c(2, 40, 40), mods = cbind(c(0, 1, 2))),
  scan_2_40_40_continuous_0_27_7 = list(
    x = c(0, 27, 7), n = c(2, 40, 40), mods = cbind(c(0, 1, 2))
  ),
  scan_2_40_40_continuous_0_13_1 = list(
    x = c(0, 13, 1), n = c(2, 40, 40), mods = cbind(c(0, 1, 2))
  ),
  scan_3_50_50_binary_0_43_13 = list(x = c(0, 43, 13), n = c(3, 50, 50), mods = cbind(c(0, 0, 1))),
  scan_3_50_50_binary_1_47_47 = list(x = c(1, 47, 47), n = c(3, 50, 50), mods = cbind(c(0, 0, 1))),
  scan_3_50_50_continuous_1_0_41 = list(
    x = c(1, 0, 41), n = c(3, 50, 50), mods = cbind(c(0, 1, 2))
  ),
  scan_3_50_50_continuous_3_37_48 = list(
    x = c(3, 37, 48), n = c(3, 50, 50), mods = cbind(c(0, 1, 2))
  ),
  scan_3_50_50_continuous_1_40_12 = list(
    x = c(1, 40, 12), n = c(3, 50, 50), mods = cbind(c(0, 1, 2))
  ),
  scan_3_50_50_continuous_0_40_41 = list(
    x = c(0, 40, 41), n = c(3, 50, 50), mods = cbind(c(0, 1, 2))
  ),
  scan_1_30_30_continuous_1_1_25 = list(
    x = c(1, 1, 25), n = c(1, 30, 30), mods = cbind(c(0, 1, 2))
  ),
  scan_1_30_30_continuous_1_7_26 = list(
    x = c(1, 7, 26), n = c(1, 30, 30), mods = cbind(c(0, 1, 2))
  ),
  scan_2_10_10_10_binary_2_0_5_5 = list(
    x = c(2, 0, 5, 5), n = c(2, 10, 10, 10), mods = cbind(c(0, 0, 1, 1))
  ),
  scan_2_10_10_10_binary_0_10_5_5 = list(
    x = c(0, 10, 5, 5), n = c(2, 10, 10, 10), mods = cbind(c(0, 0, 1, 1))
  ),
  scan_2_10_10_10_binary_continuous_1_10_8_0 = list(
    x = c(1, 10, 8, 0), n = c(2, 10, 10, 10), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_2_10_10_10_binary_continuous_0_6_10_5 = list(
    x = c(0, 6, 10, 5), n = c(2, 10, 10, 10), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_3_10_10_10_continuous_1_0_5_10 = list(
    x = c(1, 0, 5, 10), n = c(3, 10, 10, 10), mods = cbind(c(0, 1, 2, 3))
  ),
  scan_3_10_10_10_continuous_1_0_6_10 = list(
    x = c(1, 0, 6, 10), n = c(3, 10, 10, 10), mods = cbind(c(0, 1, 2, 3))
  ),
  scan_1_5_20_30_binary_continuous_0_5_19_1 = list(
    x = c(0, 5, 19, 1), n = c(1, 5, 20, 30), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_1_5_20_30_binary_continuous_0_3_19_0 = list(
    x = c(0, 3, 19, 0), n = c(1, 5, 20, 30), mods = cbind(c(0, 0, 1, 1), c(0.5, 0.2, 0.9, 0.4))
  ),
  scan_4_8_12_16_continuous_3_8_6_0 = list(
    x = c(3, 8, 6, 0), n = c(4, 8, 12, 16), mods = cbind(c(0, 1, 2, 3))
  ),
  scan_4_8_12_16_continuous_1_0_2_13 = list(
    x = c(1, 0, 2, 13), n = c(4, 8, 12, 16), mods = cbind(c(0, 1, 2, 3))
  ),
  random_k5_a = list(
    x = c(1, 11, 34, 8, 23), n = c(1, 25, 36, 13, 27),
    mods = cbind(c(0, 1, 1, 1, 0), c(0, 0.9, 1.3, 1, 1.1))
  ),
  random_k5_b = list(
    x = c(0, 38, 3, 37, 23), n = c(4, 39, 36, 58, 30),
    mods = cbind(c(0, 1, 0, 1, 0), c(1.4, 0.2, 2.5, 2.7, 1.2))
  )
)
extreme_level <- function(x, n, g) {
  any(sapply(unique(g), function(v) all(x[g == v] == 0) || all(x[g == v] == n[g == v])))
}
for (i in seq_len(30)) {
  k <- sample(3:6, 1)
  n <- c(sample(1:4, 1), sample(5:60, k - 1, replace = TRUE))
  kinds <- c("binary", "continuous", "both")
  kind <- sample(kinds[seq_len(if (k >= 4) 3 else 2)], 1)
  g <- c(0, 0, 1, sample(0:1, k - 3, replace = TRUE))  # the small study beside a larger one
  conc <- round(runif(k, 0, 3), 1)
  mods <- switch(kind, binary = cbind(g), continuous = cbind(conc), both = cbind(g, conc))
  repeat {
    eta <- rnorm(1, 0, 1) + 0.8 * g + rnorm(k, 0, runif(1, 0, 1.5))
    x <- rbinom(k, n, plogis(eta))
    if (!all(x == 0 | x == n) && !(kind != "continuous" && extreme_level(x, n, g))) break
  }
  datasets[[sprintf("synthetic_%02d", i)]] <- list(x = x, n = n, mods = unname(mods))
}

write_reference(datasets, "tests/reference/metafor_reference_glmm_reg_ascent.json", fit_reg)
