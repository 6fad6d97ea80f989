# What make_reference_glmm_restart.R, make_reference_glmm_ascent.R and
# make_reference_glmm_reg_ascent.R share: one dataset fitted by metafor's rma.glmm (measure "PLO",
# ML, nAGQ = 25; fit_reg with moderators) and the JSON the tests read.
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

# A dataset with moderators: d$mods a matrix, one column each (rma.glmm adds the intercept).
# Written back as a list of columns; coef and se are those of the intercept and each column.
fit_reg <- function(d) {
  mods <- lapply(seq_len(ncol(d$mods)), function(j) as.numeric(d$mods[, j]))
  fit <- tryCatch(
    suppressWarnings(rma.glmm(
      measure = "PLO", xi = d$x, ni = d$n, mods = d$mods, method = "ML", nAGQ = 25
    )),
    error = function(e) NULL
  )
  if (is.null(fit)) return(list(x = d$x, n = d$n, mods = mods, error = TRUE))
  list(
    x = d$x, n = d$n, mods = mods, error = FALSE, coef = num(fit$beta), se = num(fit$se),
    tau2 = num(fit$tau2), qm = num(fit$QM)
  )
}

write_reference <- function(datasets, path, fit = fit_one) {
  json <- toJSON(
    list(
      metafor = as.character(packageVersion("metafor")), nAGQ = 25,
      datasets = lapply(datasets, fit)
    ),
    auto_unbox = TRUE, digits = NA, pretty = TRUE
  )
  writeLines(json, path)
}
