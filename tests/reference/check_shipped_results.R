# Independent check of the SHIPPED pooled results (results/pool/*/*.json) against R metafor
# (3.8.1 when written) and own integrals: every non-Bayesian method of both outcomes in every
# scenario, per-study Clopper-Pearson intervals, leave-one-out; the Bayesian model roughly, by a
# brute-force grid. Written by an independent reviewer (2026-12-01); a reviewer's command, not
# run in CI (it needs R).
# Usage, from the repository root after `snakemake --cores 4`:
#   Rscript tests/reference/check_shipped_results.R
# Writes check_results.csv (every comparison) and exits 1 if any CHECK is beyond tolerance.
# Rows marked "[metafor ... default ...]" are CONTRASTS, not checks: they show where metafor's own
# defaults give other numbers (rma.glmm's optimiser stops early unless bobyqa with rhoend 1e-12
# and nAGQ >= 20; predict() uses z, not t(k-1), for a PI after a z test; confint()'s default root
# tolerance leaves ~1e-5 on Q-profile ends), so that a reader who tries the defaults knows why.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
options(warn = 1)

outcomes  <- c("complete_remission", "any_response")
scenarios <- c("primary", "per_lesion", "with_systemic_sts", "baumgartner_evaluable",
               "literal_concentration", "without_calciphylaxis", "without_co_interventions")
LOO_OUTCOMES <- c("complete_remission")

rows <- list()
add <- function(outc, scen, meth, what, py, r, tol) {
  py <- if (is.null(py)) NA_real_ else as.numeric(py)
  r  <- if (is.null(r)) NA_real_ else as.numeric(r)
  d  <- abs(py - r)
  ok <- (is.na(py) && is.na(r)) || (!is.na(d) && d <= tol) ||
        (isTRUE(is.infinite(py) && is.infinite(r) && sign(py) == sign(r)))
  rows[[length(rows) + 1]] <<- data.frame(outcome = outc, scenario = scen, method = meth,
    what = what, stsmeta = py, R = r, absdiff = d, tol = tol, ok = ok)
}
nz <- function(x) if (is.null(x)) NA_real_ else x

## ---------- GLMM: own ML fit by adaptive integrate(), for a second opinion ----------
glmm_ll_study <- function(x, n, mu, tau) {
  if (tau < 1e-10) return(dbinom(x, n, plogis(mu), log = TRUE))
  f <- function(th) exp(dbinom(x, n, plogis(th), log = TRUE) + dnorm(th, mu, tau, log = TRUE))
  # centre the integration near the mode of the integrand
  lo <- mu - 12 * tau; hi <- mu + 12 * tau
  log(integrate(f, lo, hi, rel.tol = 1e-12, abs.tol = 0, subdivisions = 2000)$value)
}
glmm_ll <- function(xi, ni, mu, tau) sum(mapply(glmm_ll_study, xi, ni, MoreArgs = list(mu = mu, tau = tau)))
own_glmm <- function(xi, ni) {
  nll <- function(p) -glmm_ll(xi, ni, p[1], exp(p[2]))
  st <- c(qlogis((sum(xi) + .5) / (sum(ni) + 1)), log(0.5))
  o <- optim(st, nll, method = "Nelder-Mead", control = list(reltol = 1e-14, maxit = 5000))
  o <- optim(o$par, nll, method = "BFGS", control = list(reltol = 1e-15, maxit = 1000))
  # boundary tau = 0 fit
  nll0 <- function(mu) -glmm_ll(xi, ni, mu, 0)
  o0 <- optimize(nll0, c(-30, 30), tol = 1e-12)
  if (o0$objective <= o$value + 1e-9) {  # no gain from tau > 0: boundary
    mu <- o0$minimum; tau <- 0
    # se from observed information of mu at tau2 = 0 (as a Wald se at the boundary)
    p <- plogis(mu); se <- 1 / sqrt(sum(ni) * p * (1 - p))  # common-effect logistic
    return(list(mu = mu, tau2 = 0, se = se, ll = -o0$objective, ll0 = -o0$objective))
  }
  mu <- o$par[1]; tau <- exp(o$par[2])
  # observed information in (mu, tau2) parametrisation
  nll2 <- function(p) -glmm_ll(xi, ni, p[1], sqrt(max(p[2], 1e-14)))
  H <- optimHess(c(mu, tau^2), nll2, control = list(ndeps = c(1e-4, 1e-4 * max(tau^2, 1e-3))))
  V <- solve(H)
  list(mu = mu, tau2 = tau^2, se = sqrt(V[1, 1]), ll = -o$value, ll0 = -o0$objective)
}

## ---------- Bayesian model, rough brute-force grid (priors of the default 'bayes') ----------
bayes_rough <- function(xi, ni, prior_mu = "logistic", tau_scale = 1) {
  mus <- seq(-12, 16, length.out = 561); taus <- seq(0, 8, length.out = 321)[-1]
  ths <- seq(-25, 32, length.out = 1426); dth <- ths[2] - ths[1]
  lik_th <- sapply(seq_along(xi), function(i) dbinom(xi[i], ni[i], plogis(ths)))  # th x k
  post <- matrix(0, length(mus), length(taus))
  D <- outer(ths, mus, "-")
  for (j in seq_along(taus)) {
    G <- dnorm(D / taus[j]) / taus[j] * dth          # th x mu
    L <- crossprod(lik_th, G)                          # k x mu
    post[, j] <- exp(colSums(log(L)))
  }
  pm <- if (prior_mu == "logistic") dlogis(mus) else dnorm(mus, 0, 2)
  pt <- 2 * dnorm(taus, 0, tau_scale)
  post <- post * outer(pm, pt)
  mmarg <- rowSums(post); cdf <- (cumsum(mmarg) - mmarg / 2) / sum(mmarg)  # CDF at the nodes (midpoint)
  q <- function(p) approx(cdf, mus, p, ties = "ordered")$y
  list(estimate = plogis(q(.5)), ci_low = plogis(q(.025)), ci_high = plogis(q(.975)))
}

check_cp <- function(outc, scen, meth, st) {
  for (i in seq_len(nrow(st))) {
    bt <- binom.test(st$events[i], st$n[i])$conf.int
    add(outc, scen, meth, paste0("study_cp_low[", st$study[i], "]"), st$ci_low[i], bt[1], 1e-9)
    add(outc, scen, meth, paste0("study_cp_high[", st$study[i], "]"), st$ci_high[i], bt[2], 1e-9)
  }
}

check_glmm <- function(outc, scen, nm, m, xi, ni) {
  k <- length(xi); lev <- m$settings$level
  # QE.LRT (metafor) is defined even when the model is not
  # metafor 3.8 defaults stop lme4's optimiser early (loglik up to 1.3e-5 below the maximum);
  # a tight bobyqa is passed so that the comparison is of the method, not of a stopping rule.
  # The untightened default fit is compared as well (rows tagged [metafor default]).
  fit <- tryCatch(suppressWarnings(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = "ML", nAGQ = 25,
                   control = list(glmerCtrl = list(optimizer = "bobyqa",
                     optCtrl = list(rhoend = 1e-12, maxfun = 1e5))))), error = function(e) e)
  fit_def <- tryCatch(suppressWarnings(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = "ML")),
                      error = function(e) NULL)
  if (inherits(fit, "error")) {
    cat(sprintf("[%s/%s %s] metafor rma.glmm error: %s\n", outc, scen, nm, conditionMessage(fit)))
    # saturated vs common LRT by hand
    p0 <- sum(xi) / sum(ni)
    sat <- sum(dbinom(xi, ni, xi / ni, log = TRUE)); com <- sum(dbinom(xi, ni, p0, log = TRUE))
    add(outc, scen, nm, "Q (LRT, by hand)", m$q, 2 * (sat - com), 1e-6)
    add(outc, scen, nm, "estimate (should be null)", nz(m$estimate), NA, 0)
    return(invisible())
  }
  add(outc, scen, nm, "Q (QE.LRT)", m$q, fit$QE.LRT, 1e-4)
  add(outc, scen, nm, "Q p (QEp.LRT)", m$q_p, fit$QEp.LRT, 1e-4)
  own <- own_glmm(xi, ni)
  ## metafor
  mu <- c(fit$beta); se <- fit$se; tau2 <- fit$tau2
  if (!is.null(fit_def)) {
    add(outc, scen, nm, "mu [metafor default control]", m$mu, c(fit_def$beta), 1e-4)
    add(outc, scen, nm, "se [metafor default control]", m$se, fit_def$se, 1e-4)
    add(outc, scen, nm, "tau2 [metafor default control]", m$tau2, fit_def$tau2, 1e-4)
  }
  add(outc, scen, nm, "mu [metafor nAGQ=25, tight bobyqa]", m$mu, mu, 1e-4)
  add(outc, scen, nm, "se [metafor nAGQ=25, tight bobyqa]", m$se, se, 1e-4)
  add(outc, scen, nm, "tau2 [metafor nAGQ=25, tight bobyqa]", m$tau2, tau2, 1e-4)
  add(outc, scen, nm, "I2 [metafor]", m$i2, fit$I2, 1e-3)
  add(outc, scen, nm, "H2 [metafor]", m$h2, fit$H2, 1e-4)
  pr <- predict(fit, transf = transf.ilogit)
  add(outc, scen, nm, "estimate [metafor]", m$estimate, pr$pred, 1e-4)
  add(outc, scen, nm, "ci_low (Wald z) [metafor]", m$ci_low, pr$ci.lb, 1e-4)
  add(outc, scen, nm, "ci_high (Wald z) [metafor]", m$ci_high, pr$ci.ub, 1e-4)
  crit <- switch(m$settings$pi, "t-k1" = qt(.5 + lev / 2, k - 1), "t-k2" = qt(.5 + lev / 2, k - 2),
                 z = qnorm(.5 + lev / 2))
  add(outc, scen, nm, "pi_low (t(k-1), manual from metafor fit)", m$pi_low, plogis(mu - crit * sqrt(se^2 + tau2)), 1e-4)
  add(outc, scen, nm, "pi_high (t(k-1), manual from metafor fit)", m$pi_high, plogis(mu + crit * sqrt(se^2 + tau2)), 1e-4)
  add(outc, scen, nm, "pi_low [metafor default PI, z]", m$pi_low, pr$pi.lb, 1e-4)
  ## own integrate() fit
  add(outc, scen, nm, "mu [own integrate]", m$mu, own$mu, 1e-5)
  add(outc, scen, nm, "se [own integrate]", m$se, own$se, 1e-4)
  add(outc, scen, nm, "tau2 [own integrate]", m$tau2, own$tau2, 1e-5)
  add(outc, scen, nm, "loglik (binomial coef incl.) [own]", m$loglik, own$ll, 1e-6)
  lrt <- max(2 * (own$ll - own$ll0), 0)
  add(outc, scen, nm, "lrt_stat tau2=0 [own]", m$lrt_stat, lrt, 1e-5)
  add(outc, scen, nm, "lrt_p (0.5*chi2_1) [own]", m$lrt_p, if (lrt <= 0) 1 else 0.5 * pchisq(lrt, 1, lower.tail = FALSE), 1e-5)
  ## profile-likelihood CI for mu and tau2 (own)
  mu_hat <- own$mu; ll_hat <- own$ll; cut <- qchisq(lev, 1) / 2
  prof_mu <- function(mu0) {
    o <- optimize(function(lt) -glmm_ll(xi, ni, mu0, exp(lt)), c(-12, 4), tol = 1e-10)
    max(-o$objective, glmm_ll(xi, ni, mu0, 0))
  }
  f <- function(mu0) ll_hat - prof_mu(mu0) - cut
  lo <- tryCatch(uniroot(f, c(mu_hat - 12, mu_hat), tol = 1e-10)$root, error = function(e) -Inf)
  hi <- tryCatch(uniroot(f, c(mu_hat, mu_hat + 12), tol = 1e-10)$root, error = function(e) Inf)
  add(outc, scen, nm, "profile_ci_low [own]", m$profile_ci_low, plogis(lo), 1e-4)
  add(outc, scen, nm, "profile_ci_high [own]", m$profile_ci_high, plogis(hi), 1e-4)
  prof_t <- function(t2) -optimize(function(mu0) -glmm_ll(xi, ni, mu0, sqrt(t2)), c(-30, 60), tol = 1e-11)$objective
  g <- function(t2) ll_hat - prof_t(t2) - cut
  t_lo <- if (own$tau2 == 0 || g(0) <= 0) 0 else uniroot(g, c(0, own$tau2), tol = 1e-10)$root
  add(outc, scen, nm, "tau2_ci_low (profile) [own]", m$tau2_ci_low, t_lo, 1e-3)
  # upper end: far out the integrals are fragile, so check that the deviance at the reported
  # end equals the chi2(1) quantile (the defining equation of the profile-likelihood end)
  if (!is.null(m$tau2_ci_high) && is.finite(m$tau2_ci_high))
    add(outc, scen, nm, "2*(llmax - profile ll) at reported tau2_ci_high [own] vs qchisq(.95,1)",
        # stsmeta's own tolerance for a profile end's deviance (PROFILE_DEVIANCE_TOL, 1e-3)
        2 * (ll_hat - prof_t(m$tau2_ci_high)), qchisq(lev, 1), 1e-3)
}

check_ivre <- function(outc, scen, nm, m, xi, ni) {
  s <- m$settings; k <- length(xi); lev <- s$level
  meas <- switch(s$transform, logit = "PLO", ft = "PFT", arcsine = "PAS", raw = "PR", log = "PLN")
  es <- escalc(measure = meas, xi = xi, ni = ni, add = s$cc_add, to = s$cc_to)
  test <- switch(s$ci, z = "z", t = "t", hk = "knha", "hk-adhoc" = "adhoc")
  fit <- rma(yi, vi, data = es, method = s$tau2, test = test, level = lev * 100)
  add(outc, scen, nm, "mu", m$mu, c(fit$beta), 1e-6)
  add(outc, scen, nm, "se", m$se, fit$se, 1e-6)
  add(outc, scen, nm, "tau2", m$tau2, fit$tau2, 1e-6)
  add(outc, scen, nm, "I2", m$i2, fit$I2, 1e-6)
  add(outc, scen, nm, "H2", m$h2, fit$H2, 1e-6)
  add(outc, scen, nm, "Q", m$q, fit$QE, 1e-6)
  add(outc, scen, nm, "Q p", m$q_p, fit$QEp, 1e-6)
  tf <- if (s$transform == "ft") function(x) transf.ipft.hm(x, targs = list(ni = ni)) else
        if (s$transform == "logit") transf.ilogit else identity
  crit_pi <- switch(s$pi, "t-k1" = qt(.5 + lev / 2, k - 1), "t-k2" = qt(.5 + lev / 2, k - 2), z = qnorm(.5 + lev / 2))
  pr <- predict(fit)
  add(outc, scen, nm, "estimate", m$estimate, tf(pr$pred), 1e-6)
  add(outc, scen, nm, "ci_low", m$ci_low, tf(pr$ci.lb), 1e-6)
  add(outc, scen, nm, "ci_high", m$ci_high, tf(pr$ci.ub), 1e-6)
  hw <- crit_pi * sqrt(fit$se^2 + fit$tau2)
  add(outc, scen, nm, "pi_low (declared PI, manual)", m$pi_low, tf(c(fit$beta) - hw), 1e-6)
  add(outc, scen, nm, "pi_high (declared PI, manual)", m$pi_high, tf(c(fit$beta) + hw), 1e-6)
  add(outc, scen, nm, "pi_low [metafor predict() default]", m$pi_low, tf(pr$pi.lb), 1e-6)
  add(outc, scen, nm, "pi_high [metafor predict() default]", m$pi_high, tf(pr$pi.ub), 1e-6)
  ci <- tryCatch(suppressMessages(suppressWarnings(confint(fit, control = list(tol = 1e-12)))), error = function(e) NULL)
  ci_def <- tryCatch(suppressMessages(suppressWarnings(confint(fit))), error = function(e) NULL)
  if (!is.null(ci_def)) add(outc, scen, nm, "tau2_ci_high (QP) [metafor default tol]", m$tau2_ci_high, ci_def$random["tau^2", "ci.ub"], 1e-6)
  if (!is.null(ci)) {
    r <- ci$random
    add(outc, scen, nm, "tau2_ci_low (QP)", m$tau2_ci_low, r["tau^2", "ci.lb"], 1e-6)
    add(outc, scen, nm, "tau2_ci_high (QP)", m$tau2_ci_high, r["tau^2", "ci.ub"], 1e-6)
    add(outc, scen, nm, "I2_ci_low (QP)", m$i2_ci_low, r["I^2(%)", "ci.lb"], 1e-5)
    add(outc, scen, nm, "I2_ci_high (QP)", m$i2_ci_high, r["I^2(%)", "ci.ub"], 1e-5)
    add(outc, scen, nm, "H2_ci_high (QP)", m$h2_ci_high, r["H^2", "ci.ub"], 1e-6)
  }
  w <- weights(fit)
  for (i in seq_len(k)) add(outc, scen, nm, paste0("weight[", i, "]"), m$studies$weight[i], w[i], 1e-6)
}

check_common <- function(outc, scen, nm, m, xi, ni) {
  bt <- binom.test(sum(xi), sum(ni))
  add(outc, scen, nm, "estimate", m$estimate, sum(xi) / sum(ni), 1e-12)
  add(outc, scen, nm, "ci_low (CP)", m$ci_low, bt$conf.int[1], 1e-9)
  add(outc, scen, nm, "ci_high (CP)", m$ci_high, bt$conf.int[2], 1e-9)
}

for (outc in outcomes) for (scen in scenarios) {
  f <- file.path("results/pool", outc, paste0(scen, ".json"))
  if (!file.exists(f)) next
  d <- fromJSON(f, simplifyVector = TRUE)
  check_cp(outc, scen, "primary-study-rows", d$studies)
  for (nm in names(d$secondary)) {
    m <- d$secondary[[nm]]; xi <- m$studies$events; ni <- m$studies$n
    stopifnot(identical(m$studies$study, d$included))
    meth <- m$settings$method
    if (meth == "glmm") check_glmm(outc, scen, nm, m, xi, ni)
    else if (meth == "ivre") check_ivre(outc, scen, nm, m, xi, ni)
    else if (meth == "common") check_common(outc, scen, nm, m, xi, ni)
    if (meth != "bayes") check_cp(outc, scen, nm, m$studies)
  }
  # Primary (Bayesian): rough check by brute-force grid (default priors only)
  if (d$settings$method == "bayes" && scen %in% c("primary", "per_lesion", "with_systemic_sts")) {
    xi <- d$studies$events; ni <- d$studies$n
    b <- bayes_rough(xi, ni)
    add(outc, scen, "bayes(primary) ROUGH", "estimate", d$estimate, b$estimate, 2e-3)
    add(outc, scen, "bayes(primary) ROUGH", "ci_low", d$ci_low, b$ci_low, 2e-3)
    add(outc, scen, "bayes(primary) ROUGH", "ci_high", d$ci_high, b$ci_high, 2e-3)
  }
  # Leave-one-out of the primary (Bayesian) result
  if (scen == "primary" && outc %in% LOO_OUTCOMES && !is.null(d$leave_one_out)) {
    for (sid in names(d$leave_one_out)) {
      e <- d$leave_one_out[[sid]]
      keep <- d$studies$study != sid
      xi <- d$studies$events[keep]; ni <- d$studies$n[keep]
      tag <- paste0("LOO -", sid)
      add(outc, scen, tag, "k", e$k, sum(keep), 0)
      add(outc, scen, tag, "events", e$events, sum(xi), 0)
      add(outc, scen, tag, "n", e$n, sum(ni), 0)
      fit <- tryCatch(suppressWarnings(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = "ML")),
                      error = function(err) NULL)
      p0 <- sum(xi) / sum(ni)
      qlrt <- 2 * (sum(dbinom(xi, ni, xi / ni, log = TRUE)) - sum(dbinom(xi, ni, p0, log = TRUE)))
      add(outc, scen, tag, "Q (LRT by hand)", e$q, qlrt, 1e-8)
      add(outc, scen, tag, "Q p", e$q_p, pchisq(qlrt, length(xi) - 1, lower.tail = FALSE), 1e-8)
      if (!is.null(fit)) add(outc, scen, tag, "Q vs metafor QE.LRT", e$q, fit$QE.LRT, 1e-4)
      b <- bayes_rough(xi, ni)
      add(outc, scen, paste(tag, "ROUGH"), "estimate", e$estimate, b$estimate, 2e-3)
      add(outc, scen, paste(tag, "ROUGH"), "ci_low", e$ci_low, b$ci_low, 2e-3)
      add(outc, scen, paste(tag, "ROUGH"), "ci_high", e$ci_high, b$ci_high, 2e-3)
    }
  }
}

res <- do.call(rbind, rows)
write.csv(res, "check_results.csv", row.names = FALSE)
contrast <- grepl("\\[metafor[^]]*default", res$what)
checks <- res[!contrast, ]
cat(sprintf("\n%d checks, %d beyond tolerance; %d contrasts with metafor's defaults (%d differ)\n",
            nrow(checks), sum(!checks$ok), sum(contrast), sum(!res$ok[contrast])))
bad <- checks[!checks$ok, ]
if (nrow(bad)) { options(width = 250); print(bad, row.names = FALSE, digits = 10); quit(status = 1) }
