# MCMC reference for stsmeta's Bayesian binomial-normal model (stsmeta.stats.bayes), with JAGS.
#
# Run from the repository root:  Rscript tests/reference/bayes_jags.R
# Needs Debian's jags and r-cran-rjags (test-time only; the engine never calls JAGS).
# Writes tests/reference/bayes_jags.json, which tests/test_stats_bayes.py compares against.
#
# Each dataset: 8 independent chains (fixed seeds, JAGS's Mersenne-Twister), 5,000 burn-in and
# 250,000 kept iterations each. Every summary is computed per chain; the reported value is the
# mean over chains and its Monte Carlo SE the SD over chains / sqrt(8), so the test can allow
# for Monte Carlo error (it accepts differences within 4 SE plus 1e-4).
suppressPackageStartupMessages({
  library(rjags)
  library(jsonlite)
})

model_text <- function(prior_mu, prior_tau) {
  pm <- strsplit(prior_mu, ":")[[1]]
  pt <- strsplit(prior_tau, ":")[[1]]
  mu_line <- if (pm[1] == "normal") {
    sprintf("mu ~ dnorm(%s, %.17g)", pm[2], 1 / as.numeric(pm[3])^2)
  } else {
    # JAGS's dlogis(m, t) has scale 1 / t.
    sprintf("mu ~ dlogis(%s, %.17g)", pm[2], 1 / as.numeric(pm[3]))
  }
  tau_line <- if (pt[1] == "half-normal") {
    sprintf("tau ~ dnorm(0, %.17g) T(0,)", 1 / as.numeric(pt[2])^2)
  } else {
    sprintf("tau ~ dt(0, %.17g, 1) T(0,)", 1 / as.numeric(pt[2])^2)
  }
  paste(
    "model {",
    "  for (i in 1:k) {",
    "    theta[i] ~ dnorm(mu, 1 / (tau * tau))",
    "    x[i] ~ dbin(ilogit(theta[i]), n[i])",
    "  }",
    paste0("  ", mu_line),
    paste0("  ", tau_line),
    "  theta_new ~ dnorm(mu, 1 / (tau * tau))",
    "}",
    sep = "\n"
  )
}

datasets <- list(
  list(name = "cr_like", x = c(1, 1, 2, 3, 2, 1), n = c(1, 1, 2, 3, 3, 3),
       prior_mu = "logistic:0:1", prior_tau = "half-normal:1"),
  list(name = "all100_k4", x = c(3, 1, 5, 2), n = c(3, 1, 5, 2),
       prior_mu = "logistic:0:1", prior_tau = "half-normal:1"),
  list(name = "all0_k3_cauchy", x = c(0, 0, 0), n = c(4, 2, 7),
       prior_mu = "normal:0:2", prior_tau = "half-cauchy:0.5"),
  list(name = "k1", x = c(7), n = c(10),
       prior_mu = "normal:0:2", prior_tau = "half-normal:0.5"),
  list(name = "moderate_k8", x = c(12, 30, 5, 44, 20, 9, 61, 3), n = c(40, 52, 25, 60, 33, 30, 90, 14),
       prior_mu = "normal:0:2.5", prior_tau = "half-cauchy:1")
)

level <- 0.95
probs <- c((1 - level) / 2, 0.5, (1 + level) / 2)
thresholds <- c(0.5, 0.8)
chains <- 8
burn <- 5000
keep <- 250000

summaries <- function(draws) {
  p <- plogis(draws[, "mu"])
  q_p <- quantile(p, probs, names = FALSE, type = 7)
  q_tau <- quantile(draws[, "tau"], probs, names = FALSE, type = 7)
  q_new <- quantile(plogis(draws[, "theta_new"]), probs[c(1, 3)], names = FALSE, type = 7)
  c(
    estimate = q_p[2], ci_low = q_p[1], ci_high = q_p[3],
    tau = q_tau[2], tau_ci_low = q_tau[1], tau_ci_high = q_tau[3],
    pi_low = q_new[1], pi_high = q_new[2],
    prob_above_0.5 = mean(p > thresholds[1]), prob_above_0.8 = mean(p > thresholds[2])
  )
}

out <- list()
for (d in datasets) {
  per_chain <- sapply(seq_len(chains), function(ch) {
    inits <- list(.RNG.name = "base::Mersenne-Twister", .RNG.seed = 20261130 + ch,
                  mu = 0, tau = 0.5)
    m <- jags.model(textConnection(model_text(d$prior_mu, d$prior_tau)),
                    data = list(x = d$x, n = d$n, k = length(d$x)), inits = inits,
                    n.chains = 1, quiet = TRUE)
    update(m, burn, progress.bar = "none")
    s <- coda.samples(m, c("mu", "tau", "theta_new"), n.iter = keep, progress.bar = "none")
    summaries(as.matrix(s[[1]]))
  })
  est <- rowMeans(per_chain)
  se <- apply(per_chain, 1, sd) / sqrt(chains)
  out[[length(out) + 1]] <- list(
    name = d$name, events = d$x, n = d$n, prior_mu = d$prior_mu, prior_tau = d$prior_tau,
    level = level, values = as.list(est), mcse = as.list(se)
  )
  message(d$name, " done")
}

doc <- list(
  generator = "tests/reference/bayes_jags.R",
  jags = as.character(packageVersion("rjags")),
  chains = chains, burn_in = burn, iterations_per_chain = keep,
  datasets = out
)
writeLines(toJSON(doc, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/bayes_jags.json")
