# Reference values for the issue-12 additions to stsmeta's pooling engine, from R metafor.
#
# Run from the repository root:  Rscript tests/reference/make_reference_issue12.R
# Writes tests/reference/metafor_reference_issue12.json (read by tests/test_stats_issue12_*.py,
# which need no R). Datasets: the reproducers of issue 12 and SYNTHETIC random case series
# (fixed seed below), some with one large study (the case where ML tau2 has two maxima).
#
# What is computed, per dataset:
# - rma() by ML and REML on the logit, log (PLN), Freeman-Tukey and arcsine scales, with a tight
#   convergence threshold, and the GLOBAL maximiser of the same (restricted) log-likelihood found
#   here independently (a fine grid over tau2 >= 0 refined by optimize()), since rma's Fisher
#   scoring can stop at a local maximum;
# - confint() Q-profile intervals for tau2, tau, I2 and H2 (REML fits; tol 1e-12);
# - the SJ, HE, EB and HS estimators; test = "adhoc" (Hartung-Knapp with the ad hoc correction);
# - escalc() continuity corrections (add, to = "all", "if0all", "none");
# - study intervals: Wilson with continuity correction (prop.test(correct = TRUE)); Agresti-Coull
#   (its formula, Agresti & Coull 1998); pooled mid-p interval (uniroot on pbinom/dbinom) and
#   Wilson (prop.test(correct = FALSE));
# - rma.glmm() for the GLMM boundary reproducer.
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

set.seed(20261130)

datasets <- list()
add <- function(name, x, n) datasets[[length(datasets) + 1]] <<- list(name = name, x = x, n = n)

add("issue12_ml_two_maxima", c(21, 13), c(21, 30))
add("issue12_arcsine_reml", c(21, 20, 4), c(28, 29, 4))
add("issue12_glmm_boundary", c(3, 1, 2, 4), c(3, 2, 2, 4))
add("miller1978", c(3, 6, 10, 1), c(11, 17, 21, 6))
for (i in seq_len(70)) {
  k <- sample(2:9, 1)
  n <- sample(c(1:25, 40, 80), k, replace = TRUE)
  if (i %% 3 == 0) n[1] <- sample(c(150, 300, 600), 1)  # one large study
  mu <- runif(1, -2.5, 3)
  tau <- runif(1, 0, 1.8)
  x <- rbinom(k, n, plogis(mu + tau * rnorm(k)))
  add(sprintf("synthetic_%03d", i), x, n)
}

num <- function(v) if (is.null(v) || length(v) == 0) NA_real_ else as.numeric(v)
tight <- list(threshold = 1e-12, tol = 1e-13, maxiter = 10000, stepadj = 0.5)
measures <- c(logit = "PLO", log = "PLN", ft = "PFT", arcsine = "PAS")

# (Restricted) log-likelihood of tau2, mu profiled out, written here from its definition.
loglik_tau2 <- function(t2, yi, vi, reml) {
  w <- 1 / (vi + t2)
  mu <- sum(w * yi) / sum(w)
  ll <- -0.5 * (sum(log(vi + t2)) + sum(w * (yi - mu)^2))
  if (reml) ll <- ll - 0.5 * log(sum(w))
  ll
}

global_tau2 <- function(yi, vi, reml) {
  upper <- 10 * (4 * diff(range(yi))^2 + max(vi))
  grid <- c(0, upper * 10^seq(-12, 0, length.out = 20000))
  ll <- sapply(grid, loglik_tau2, yi = yi, vi = vi, reml = reml)
  b <- which.max(ll)
  lo <- grid[max(b - 1, 1)]
  hi <- grid[min(b + 1, length(grid))]
  opt <- optimize(loglik_tau2, c(lo, hi), yi = yi, vi = vi, reml = reml, maximum = TRUE,
                  tol = 1e-14)
  best <- if (opt$objective > ll[b]) opt$maximum else grid[b]
  list(tau2 = best, loglik = loglik_tau2(best, yi, vi, reml))
}

fit_summary <- function(fit) {
  list(mu = num(fit$beta), se = num(fit$se), tau2 = num(fit$tau2), ci_low = num(fit$ci.lb),
       ci_high = num(fit$ci.ub), i2 = num(fit$I2), h2 = num(fit$H2), q = num(fit$QE),
       q_p = num(fit$QEp))
}

ivre <- function(x, n, transform, method, test = "z", add = NULL, to = "only0") {
  es <- if (is.null(add)) escalc(measures[[transform]], xi = x, ni = n, to = to)
        else escalc(measures[[transform]], xi = x, ni = n, add = add, to = to)
  fit <- rma(yi, vi, data = es, method = method, test = test, control = tight)
  out <- fit_summary(fit)
  out$yi <- as.numeric(es$yi)
  out$vi <- as.numeric(es$vi)
  if (method %in% c("ML", "REML")) {
    out$restricted_loglik <- loglik_tau2(fit$tau2, es$yi, es$vi, method == "REML")
    g <- global_tau2(es$yi, es$vi, method == "REML")
    out$global_tau2 <- g$tau2
    out$global_loglik <- g$loglik
  }
  out
}

qprofile <- function(x, n, transform) {
  es <- escalc(measures[[transform]], xi = x, ni = n)
  fit <- rma(yi, vi, data = es, method = "REML", control = tight)
  ci <- confint(fit, control = list(tol = 1e-12, tau2.max = 1e6))$random
  list(tau2_low = ci[1, 2], tau2_high = ci[1, 3], tau_low = ci[2, 2], tau_high = ci[2, 3],
       i2_low = ci[3, 2], i2_high = ci[3, 3], h2_low = ci[4, 2], h2_high = ci[4, 3])
}

midp <- function(x, n, level = 0.95) {
  a <- (1 - level) / 2
  lower <- if (x == 0) 0 else uniroot(function(p) 1 - pbinom(x, n, p) + 0.5 * dbinom(x, n, p) - a,
                                      c(0, 1), tol = 1e-15)$root
  upper <- if (x == n) 1 else uniroot(function(p) pbinom(x - 1, n, p) + 0.5 * dbinom(x, n, p) - a,
                                      c(0, 1), tol = 1e-15)$root
  c(lower, upper)
}

# Wilson with continuity correction: prop.test's interval, with a null value far from x / n so
# that its Yates correction is the full 1/2 (it is cut to |x - n p| otherwise).
wilson_cc <- function(x, n) {
  p0 <- if (x > 0) 1e-9 else 1 - 1e-9
  as.numeric(suppressWarnings(prop.test(x, n, p = p0, correct = TRUE))$conf.int)
}

agresti_coull <- function(x, n, level = 0.95) {
  z <- qnorm(1 - (1 - level) / 2)
  nt <- n + z^2
  pt <- (x + z^2 / 2) / nt
  h <- z * sqrt(pt * (1 - pt) / nt)
  c(max(pt - h, 0), min(pt + h, 1))
}

safely <- function(expr) tryCatch(expr, error = function(e) list(error = conditionMessage(e)))
quiet <- function(e) suppressWarnings(suppressMessages(safely(e)))

out <- list()
for (j in seq_along(datasets)) {
  d <- datasets[[j]]
  x <- d$x
  n <- d$n
  fits <- list()
  for (tr in names(measures)) {
    for (method in c("ML", "REML")) fits[[paste(tr, method, sep = "_")]] <- quiet(ivre(x, n, tr, method))
    for (method in c("SJ", "HE", "EB", "HS")) {
      fits[[paste(tr, method, sep = "_")]] <- quiet(ivre(x, n, tr, method))
    }
    fits[[paste(tr, "REML_adhoc", sep = "_")]] <- quiet(ivre(x, n, tr, "REML", test = "adhoc"))
    fits[[paste(tr, "DL_adhoc", sep = "_")]] <- quiet(ivre(x, n, tr, "DL", test = "adhoc"))
    fits[[paste(tr, "qprofile", sep = "_")]] <- quiet(qprofile(x, n, tr))
  }
  fits$logit_cc_all <- quiet(ivre(x, n, "logit", "REML", to = "all"))
  fits$logit_cc_if0all <- quiet(ivre(x, n, "logit", "REML", to = "if0all"))
  fits$logit_cc_add025 <- quiet(ivre(x, n, "logit", "DL", add = 0.25, to = "only0"))
  fits$ft_cc_add05 <- quiet(ivre(x, n, "ft", "REML", add = 0.5, to = "only0"))
  fits$arcsine_cc_all <- quiet(ivre(x, n, "arcsine", "DL", add = 0.5, to = "all"))
  fits$log_cc_if0all <- quiet(ivre(x, n, "log", "REML", to = "if0all"))
  if (all(x > 0 & x < n)) fits$logit_cc_none <- quiet(ivre(x, n, "logit", "REML", to = "none"))
  fits$study_wilson_cc <- list(low = sapply(seq_along(x), function(i) wilson_cc(x[i], n[i])[1]),
                               high = sapply(seq_along(x), function(i) wilson_cc(x[i], n[i])[2]))
  fits$study_ac <- list(low = sapply(seq_along(x), function(i) agresti_coull(x[i], n[i])[1]),
                        high = sapply(seq_along(x), function(i) agresti_coull(x[i], n[i])[2]))
  mp <- midp(sum(x), sum(n))
  wl <- as.numeric(prop.test(sum(x), sum(n), correct = FALSE)$conf.int)
  fits$common_midp <- list(low = mp[1], high = mp[2])
  fits$common_wilson <- list(low = wl[1], high = wl[2])
  if (d$name == "issue12_glmm_boundary") {
    g <- rma.glmm(measure = "PLO", xi = x, ni = n, nAGQ = 20)
    pr <- predict(g, transf = transf.ilogit)
    fits$glmm_nagq20 <- list(mu = num(g$beta), se = num(g$se), tau2 = num(g$tau2),
                             ci_low = num(pr$ci.lb), ci_high = num(pr$ci.ub))
  }
  out[[j]] <- list(name = d$name, events = x, n = n, fits = fits)
}

meta <- list(
  generated_by = "tests/reference/make_reference_issue12.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  note = paste("Issue-12 reproducers, Miller 1978, and synthetic datasets (seed 20261130);",
               "rma control threshold 1e-12; confint tol 1e-12; global_tau2 by grid + optimize.")
)
json <- toJSON(list(meta = meta, datasets = out), digits = NA, auto_unbox = TRUE, na = "null",
               pretty = FALSE)
writeLines(json, "tests/reference/metafor_reference_issue12.json")
cat("wrote", length(out), "datasets\n")
