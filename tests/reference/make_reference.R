# Reference values for stsmeta's pooling engine, computed with R metafor (and lme4).
#
# Run from the repository root:  Rscript tests/reference/make_reference.R
# Writes tests/reference/metafor_reference.json. The Python tests compare against that committed
# file and need no R. All datasets are SYNTHETIC (fixed seed) except the two published ones:
# Miller 1978 (x = 3, 6, 10, 1; n = 11, 17, 21, 6) and metafor's dat.nielweise2007
# (Stijnen, Hamza & Ozdemir 2010, Table II), both arms analysed as single proportions.
#
# Iterative tau2 estimators are run with a tight threshold (metafor's default 1e-5 for REML/ML
# and uniroot's tol of about 1e-4 for PM are too loose for a 1e-6 comparison); the default-control
# REML fit is stored too ("logit_REML_z_defaultctl").
suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
  library(jsonlite)
})

set.seed(20261124)

datasets <- list()
add <- function(name, x, n) datasets[[length(datasets) + 1]] <<- list(name = name, x = x, n = n)

add("miller1978", c(3, 6, 10, 1), c(11, 17, 21, 6))
data(dat.nielweise2007, package = "metadat")
add("nielweise2007_control", dat.nielweise2007$ci, dat.nielweise2007$n2i)
add("nielweise2007_treated", dat.nielweise2007$ai, dat.nielweise2007$n1i)
add("all100_k4", c(3, 1, 5, 2), c(3, 1, 5, 2))
add("all0_k3", c(0, 0, 0), c(4, 2, 7))
add("mostly100", c(3, 1, 5, 2, 4), c(3, 1, 5, 2, 6))
add("mostly0", c(0, 0, 1, 0), c(5, 2, 6, 3))
add("n1_mix", c(1, 0, 1, 1, 0, 1), c(1, 1, 1, 1, 1, 1))
add("homogeneous", c(5, 10, 15), c(10, 20, 30))
add("hetero", c(1, 9, 2, 10), c(10, 10, 10, 10))

# Synthetic small case series: k = 2..8, n = 1..10, logit-normal true proportions.
for (i in seq_len(190)) {
  k <- sample(2:8, 1)
  n <- sample(1:10, k, replace = TRUE)
  mu <- runif(1, -2.5, 3)
  tau <- runif(1, 0, 1.5)
  p <- plogis(mu + tau * rnorm(k))
  x <- rbinom(k, n, p)
  add(sprintf("synthetic_%03d", i), x, n)
}

num <- function(v) if (is.null(v) || length(v) == 0) NA_real_ else as.numeric(v)

glmm_fit <- function(x, n, nAGQ, test) {
  fit <- rma.glmm(measure = "PLO", xi = x, ni = n, nAGQ = nAGQ, test = test)
  pr <- predict(fit, transf = transf.ilogit)
  list(
    estimate = num(pr$pred), ci_low = num(pr$ci.lb), ci_high = num(pr$ci.ub),
    pi_low = num(pr$pi.lb), pi_high = num(pr$pi.ub), mu = num(fit$beta), se = num(fit$se),
    tau2 = num(fit$tau2), i2 = num(fit$I2), h2 = num(fit$H2), q_lrt = num(fit$QE.LRT),
    q_lrt_p = num(fit$QEp.LRT), loglik = num(logLik(fit))
  )
}

glmm_fe_loglik <- function(x, n, nAGQ) {
  fit <- rma.glmm(measure = "PLO", xi = x, ni = n, nAGQ = nAGQ, method = "EE")
  num(logLik(fit))
}

profile_fit <- function(x, n) {
  s <- factor(seq_along(x))
  f <- suppressMessages(glmer(cbind(x, n - x) ~ 1 + (1 | s), family = binomial, nAGQ = 20))
  ci <- suppressMessages(suppressWarnings(confint(f, method = "profile", level = 0.95)))
  list(mu_low = num(ci["(Intercept)", 1]), mu_high = num(ci["(Intercept)", 2]),
       tau_low = num(ci[".sig01", 1]), tau_high = num(ci[".sig01", 2]))
}

transforms <- list(
  logit = list(measure = "PLO", back = function(v, n) transf.ilogit(v)),
  ft = list(measure = "PFT", back = function(v, n) transf.ipft.hm(v, targs = list(ni = n))),
  arcsine = list(measure = "PAS", back = function(v, n) transf.iarcsin(v)),
  raw = list(measure = "PR", back = function(v, n) v)
)
tight <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000)

ivre_fit <- function(x, n, transform, method, test, control = tight) {
  tr <- transforms[[transform]]
  es <- escalc(measure = tr$measure, xi = x, ni = n)
  fit <- rma(yi, vi, data = es, method = method, test = test, control = control)
  pr <- predict(fit)
  back <- function(v) tr$back(v, n)
  list(
    estimate = back(num(pr$pred)), ci_low = back(num(pr$ci.lb)), ci_high = back(num(pr$ci.ub)),
    pi_low = back(num(pr$pi.lb)), pi_high = back(num(pr$pi.ub)), mu = num(fit$beta),
    se = num(fit$se), tau2 = num(fit$tau2), i2 = num(fit$I2), h2 = num(fit$H2), q = num(fit$QE),
    q_p = num(fit$QEp), weights = as.numeric(weights(fit))
  )
}

safely <- function(expr) {
  tryCatch(expr, error = function(e) list(error = conditionMessage(e)))
}

out <- list()
for (j in seq_along(datasets)) {
  d <- datasets[[j]]
  x <- d$x
  n <- d$n
  k <- length(x)
  fits <- list()
  quiet <- function(e) suppressWarnings(suppressMessages(safely(e)))
  fits$glmm_nagq7_z <- quiet(glmm_fit(x, n, 7, "z"))
  fits$glmm_nagq20_z <- quiet(glmm_fit(x, n, 20, "z"))
  fits$glmm_nagq20_t <- quiet(glmm_fit(x, n, 20, "t"))
  fits$glmm_nagq20_fe_loglik <- quiet(list(loglik = glmm_fe_loglik(x, n, 20)))
  if (j <= 40 && !all(x == 0) && !all(x == n)) fits$glmm_profile_lme4_nagq20 <- quiet(profile_fit(x, n))
  for (transform in names(transforms)) {
    if (transform == "raw" && any(x == 0 | x == n)) next
    for (method in c("DL", "REML", "PM", "ML")) {
      for (test in c("z", "t", "knha")) {
        key <- paste(transform, method, test, sep = "_")
        fits[[key]] <- quiet(ivre_fit(x, n, transform, method, test))
      }
    }
  }
  fits$logit_REML_z_defaultctl <- quiet(ivre_fit(x, n, "logit", "REML", "z", control = list()))
  bt <- binom.test(sum(x), sum(n), conf.level = 0.95)
  fits$common <- list(estimate = sum(x) / sum(n), ci_low = num(bt$conf.int[1]),
                      ci_high = num(bt$conf.int[2]))
  study_cp <- lapply(seq_len(k), function(i) as.numeric(binom.test(x[i], n[i])$conf.int))
  fits$study_cp <- list(low = sapply(study_cp, `[`, 1), high = sapply(study_cp, `[`, 2))
  out[[j]] <- list(name = d$name, events = x, n = n, fits = fits)
}

meta <- list(
  generated_by = "tests/reference/make_reference.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  lme4_version = as.character(packageVersion("lme4")),
  note = paste("Synthetic datasets (fixed seed) except miller1978 and nielweise2007_*;",
               "ivre fits use control threshold 1e-12, tol 1e-13 except *_defaultctl.")
)
json <- toJSON(list(meta = meta, datasets = out), digits = NA, auto_unbox = TRUE, na = "null",
               pretty = FALSE)
writeLines(json, "tests/reference/metafor_reference.json")
cat("wrote", length(out), "datasets\n")
