# Reference values for meta-regression, subgroup-difference tests and influence diagnostics of
# stsmeta's inverse-variance model, from R metafor.
#
# Run from the repository root:  Rscript tests/reference/make_reference_issue12_regression.R
# Also the GLMM meta-regression (rma.glmm(mods=), nAGQ = 20).
# Writes tests/reference/metafor_reference_issue12_regression.json (read by
# tests/test_stats_issue12_regression.py, which needs no R). All datasets are SYNTHETIC (fixed
# seed): case series with a categorical moderator (calcinosis type, 2 or 3 levels) and a
# continuous one (concentration in mg/mL), logit scale (escalc "PLO", 1/2 added to 0%/100%).
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

set.seed(20261201)
tight <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000, stepadj = 0.5)
num <- function(v) if (is.null(v) || length(v) == 0) NA_real_ else as.numeric(v)
safely <- function(expr) tryCatch(expr, error = function(e) list(error = conditionMessage(e)))
quiet <- function(e) suppressWarnings(suppressMessages(safely(e)))

metareg <- function(es, mods, method, test) {
  fit <- rma(yi, vi, mods = mods, data = es, method = method, test = test, control = tight)
  list(coef = num(fit$beta), se = num(fit$se), ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
       stat = num(fit$zval), p = num(fit$pval), tau2 = num(fit$tau2), qm = num(fit$QM),
       qm_p = num(fit$QMp), qe = num(fit$QE), qe_p = num(fit$QEp), r2 = num(fit$R2))
}

out <- list()
for (j in seq_len(40)) {
  k <- sample(5:12, 1)
  n <- sample(c(2:30, 60), k, replace = TRUE)
  type <- sample(c("dystrophic", "metastatic", "calciphylaxis")[seq_len(sample(2:3, 1))], k,
                 replace = TRUE)
  if (length(unique(type)) < 2) type[1:2] <- c("dystrophic", "metastatic")
  conc <- sample(c(25, 50, 100, 150, 250), k, replace = TRUE)
  eta <- rnorm(1, 0.5, 1) + 0.6 * (type == "metastatic") + 0.004 * conc + rnorm(k, 0, runif(1, 0, 1))
  x <- rbinom(k, n, plogis(eta))
  es <- escalc("PLO", xi = x, ni = n)
  es$type <- type
  es$conc <- conc
  fits <- list()
  for (method in c("REML", "ML", "DL")) {
    for (test in c("z", "knha")) {
      fits[[paste("type_conc", method, test, sep = "_")]] <- quiet(metareg(es, ~ type + conc, method, test))
    }
    fits[[paste("conc", method, "z", sep = "_")]] <- quiet(metareg(es, ~ conc, method, "z"))
  }
  # Subgroup differences by type: separate tau2 (Q between subgroup REML estimates) and common
  # tau2 (QM of the meta-regression on type).
  levels_ <- sort(unique(type))
  sub <- lapply(levels_, function(l) {
    s <- es[es$type == l, ]
    if (nrow(s) == 1) list(b = s$yi, se = sqrt(s$vi))
    else { f <- rma(yi, vi, data = s, method = "REML", control = tight); list(b = num(f$beta), se = num(f$se)) }
  })
  b <- sapply(sub, `[[`, "b")
  se <- sapply(sub, `[[`, "se")
  between <- rma(b, sei = se, method = "FE")
  common <- rma(yi, vi, mods = ~ factor(type), data = es, method = "REML", control = tight)
  fits$subgroup <- list(levels = levels_, estimates = b, ses = se, q_separate = num(between$QE),
                        q_separate_p = num(between$QEp), q_common = num(common$QM),
                        q_common_p = num(common$QMp))
  inf <- influence(rma(yi, vi, data = es, method = "REML", control = tight))$inf
  fits$influence_reml <- list(rstudent = inf$rstudent, dffits = inf$dffits, cook_d = inf$cook.d,
                              cov_r = inf$cov.r, tau2_del = inf$tau2.del, qe_del = inf$QE.del,
                              hat = inf$hat, weight = inf$weight)
  inf <- influence(rma(yi, vi, data = es, method = "DL"))$inf
  fits$influence_dl <- list(rstudent = inf$rstudent, dffits = inf$dffits, cook_d = inf$cook.d,
                            cov_r = inf$cov.r, tau2_del = inf$tau2.del, qe_del = inf$QE.del,
                            hat = inf$hat, weight = inf$weight)
  # GLMM meta-regression (rma.glmm, lme4 with 20 quadrature nodes) and the likelihood-ratio test
  # against the intercept-only GLMM; type alone is the GLMM's test of subgroup differences.
  for (mods in c("type_conc", "type")) {
    f <- if (mods == "type") ~ type else ~ type + conc
    fits[[paste0("glmm_", mods)]] <- quiet({
      g <- rma.glmm(measure = "PLO", xi = x, ni = n, mods = f, data = es, nAGQ = 20)
      g0 <- rma.glmm(measure = "PLO", xi = x, ni = n, data = es, nAGQ = 20)
      list(coef = num(g$beta), se = num(g$se), tau2 = num(g$tau2), qm = num(g$QM),
           qm_p = num(g$QMp), loglik = num(logLik(g)), loglik_null = num(logLik(g0)))
    })
  }
  out[[j]] <- list(name = sprintf("synthetic_mods_%03d", j), events = x, n = n, type = type,
                   conc = conc, fits = fits)
}

meta <- list(
  generated_by = "tests/reference/make_reference_issue12_regression.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  note = "Synthetic datasets (seed 20261201); rma control threshold 1e-12."
)
json <- toJSON(list(meta = meta, datasets = out), digits = NA, auto_unbox = TRUE, na = "null",
               pretty = FALSE)
writeLines(json, "tests/reference/metafor_reference_issue12_regression.json")
cat("wrote", length(out), "datasets\n")
