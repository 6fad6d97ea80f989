# What make_reference_glmm_restart.R and make_reference_glmm_ascent.R share: one dataset fitted
# by metafor's rma.glmm (measure "PLO", ML, nAGQ = 25) and the JSON the tests read.
# Sourced from the repository root by those scripts.
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

num <- function(v) if (is.null(v) || length(v) == 0) NA_real_ else as.numeric(v)

fit_one <- function(d) {
  fit <- tryCatch(
    suppressWarnings(rma.glmm(measure = "PLO", xi = d$x, ni = d$n, method = "ML", nAGQ = 25)),
    error = function(e) NULL
  )
  if (is.null(fit)) return(list(x = d$x, n = d$n, error = TRUE))
  pr <- predict(fit, transf = transf.ilogit)
  list(
    x = d$x, n = d$n, error = FALSE, estimate = num(pr$pred), ci_low = num(pr$ci.lb),
    ci_high = num(pr$ci.ub), mu = num(fit$beta), se = num(fit$se), tau2 = num(fit$tau2)
  )
}

write_reference <- function(datasets, path) {
  json <- toJSON(
    list(
      metafor = as.character(packageVersion("metafor")), nAGQ = 25,
      datasets = lapply(datasets, fit_one)
    ),
    auto_unbox = TRUE, digits = NA, pretty = TRUE
  )
  writeLines(json, path)
}
