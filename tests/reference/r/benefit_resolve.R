## Reference fixtures: "who benefits" (resolve.analysis.benefit) on two cells of the bundled
## simulated RESOLVE trial (src/resolve/datasets/resolve.csv): pain at week 52 and RMDQ at
## week 18, complete cases on the outcome and the 8 modifiers. The baseline outcome equals
## the modifier pain_baseline / rmdq_baseline, so it enters once, as that modifier.
##
## Written independently of the Python code from the method description in
## docs/effect-modification.md ("Who benefits"):
##   ridge: glmnet(alpha = 0) with penalty.factor 0 on arm and the standardised modifiers z
##     and 1 on the arm x z interactions, standardize = FALSE, thresh = 1e-25. glmnet's
##     objective is RSS/(2n) + lambda_g * sum(pf_j b_j^2)/2 with pf rescaled to sum to the
##     number of columns, solved on y / sd(y) (1/n): so lambda (of RSS + lambda |gamma|^2)
##     = lambda_g * n * ncol / sum(pf) / sd(y). Checked below against the closed form.
##     lambda = 0: lm(y ~ arm * z); lambda = Inf: lm(y ~ arm + z).
##   grid: n * 10^seq(-3, 3, by = 0.2), then Inf.
##   folds: deterministic, stratified by arm: within each arm (sham, then resolve) in data
##     order, dealt round-robin to folds 0..K-1, the count continuing across arms. K = 10.
##   CV error: mean over folds of the held-out mean squared prediction error (modifiers
##     standardised with the training fold's mean and SD).
##   rule one_se: the largest lambda whose CV error exceeds the minimum's (largest lambda on
##     ties) by at most sd(d)/sqrt(K), d = fold-wise error difference from the minimum.
##   nested CV: for each outer fold, inner folds (same rule) on its training part choose
##     lambda; the fit on the training part predicts the held-out effect (arm coefficient +
##     z'gamma) and the outcome under sham.
##   calibration slope: out-of-fold effects centred within their fold (b); lm(y ~ mu0 + A +
##     A:(b - mean(b))), coefficient and confint of the last term.
##   groups: ceiling(4 * rank(x, ties.method = "first") / n); per group t.test(treated,
##     control) (Welch): estimate difference and conf.int.
##   c-for-benefit (continuous analogue), on an equal-arm subset (the larger arm's last
##     participants in data order dropped): each arm ordered by b (stable), paired by rank;
##     pair predicted = mean of the two b, observed = y_treated - y_control; Harrell's C over
##     pairs of pairs with unequal observed (ties in predicted = 1/2; differences within
##     1e-10 x max(1, max |x|) are ties). b is exactly 0 in a fold whose predictions are
##     constant.
##   risk model: lm(y ~ modifiers) on both arms pooled without arm; prognosis p = fitted;
##     groups by p as above; one-df test lm(y ~ p + A + A:I(p - mean(p))).
##
## Run:  Rscript tests/reference/r/benefit_resolve.R   (base R, stats, glmnet: r-cran-glmnet)
## Writes (next to this script):
##   benefit_data.csv (the two cells: cell, id, arm, y, modifiers), benefit_ridge.csv,
##   benefit_cv.csv, benefit_oof.csv, benefit_groups.csv, benefit_summary.csv

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))
suppressPackageStartupMessages(library(glmnet))

repo_root <- normalizePath(file.path(script_dir, "..", "..", ".."), mustWork = TRUE)
d <- read.csv(file.path(repo_root, "src", "resolve", "datasets", "resolve.csv"),
              colClasses = c(id = "character"))
mods <- c("pseq", "pcs", "pain_baseline", "psychoactive", "frebaq", "tsk", "rmdq_baseline", "bbq")
cells <- list(c("pain", "week 52"), c("rmdq", "week 18"))
K <- 10

base <- d[d$visit == "baseline", ]
base <- base[!duplicated(base$id), ]

make_cell <- function(o, v) {
  dv <- d[d$visit == v, ]
  dv <- dv[!duplicated(dv$id), ]
  y0 <- base[[o]][match(dv$id, base$id)]
  stopifnot(all(y0 == dv[[paste0(o, "_baseline")]]))
  keep <- !is.na(dv[[o]]) & complete.cases(dv[, mods])
  dv <- dv[keep, ]
  data.frame(cell = paste(o, v, sep = "|"), id = dv$id, arm = dv$arm, y = dv[[o]], dv[, mods],
             check.names = FALSE)
}

grid_of <- function(n) c(n * 10^seq(-3, 3, by = 0.2), Inf)

standardiser <- function(M) {
  mu <- colMeans(M)
  s <- apply(M, 2, sd)
  function(X) sweep(sweep(X, 2, mu, "-"), 2, s, "/")
}

## Fit on (M, A, y) at each lambda; returns list(std, coef matrix (1 + 1 + k + k) x L).
fit_path <- function(M, A, y, lams) {
  st <- standardiser(M)
  z <- st(M)
  k <- ncol(z)
  X <- cbind(A, z, A * z)
  n <- length(y)
  pf <- c(rep(0, 1 + k), rep(1, k))
  sy <- sqrt(mean((y - mean(y))^2))
  out <- matrix(NA_real_, 2 + 2 * k, length(lams))
  fin <- is.finite(lams) & lams > 0
  if (any(fin)) {
    lg <- lams[fin] * sy * sum(pf) / (ncol(X) * n)
    o <- order(lg, decreasing = TRUE)
    fit <- glmnet(X, y, alpha = 0, lambda = lg[o], penalty.factor = pf, standardize = FALSE,
                  thresh = 1e-25, maxit = 1e8)
    cf <- as.matrix(coef(fit))
    out[, which(fin)[o]] <- cf
  }
  if (any(lams == 0)) out[, lams == 0] <- coef(lm(y ~ X))
  if (any(is.infinite(lams))) out[, is.infinite(lams)] <- c(coef(lm(y ~ A + z)), rep(0, k))
  list(st = st, coef = out, k = k)
}

predict_path <- function(p, M, A) {
  z <- p$st(M)
  cbind(1, A, z, A * z) %*% p$coef
}

effect_path <- function(p, M) {
  z <- p$st(M)
  k <- p$k
  sweep(z %*% p$coef[(2 + k + 1):(2 + 2 * k), , drop = FALSE], 2, p$coef[2, ], "+")
}

folds_det <- function(A) {
  f <- integer(length(A))
  off <- 0
  for (a in c(0, 1)) {
    idx <- which(A == a)
    f[idx] <- (off + seq_along(idx) - 1) %% K
    off <- off + length(idx)
  }
  f
}

cv_errors <- function(M, A, y, f, lams) {
  t(sapply(0:(K - 1), function(k) {
    tr <- f != k
    p <- fit_path(M[tr, , drop = FALSE], A[tr], y[tr], lams)
    pr <- predict_path(p, M[!tr, , drop = FALSE], A[!tr])
    colMeans((y[!tr] - pr)^2)
  }))
}

select_one_se <- function(err, lams) {
  cv <- colMeans(err)
  j <- max(which(cv <= min(cv) * (1 + 1e-12)))
  dd <- err - err[, j]
  se <- apply(dd, 2, sd) / sqrt(nrow(err))
  ok <- which(colMeans(dd) <= se + 1e-12 * min(cv))
  c(chosen = lams[max(ok)], minimum = lams[j])
}

groups_of <- function(x, g = 4) ceiling(g * rank(x, ties.method = "first") / length(x))

## ties: differences within 1e-10 x max(1, max |x|)
harrell_pairs <- function(pred, obs) {
  tp <- 1e-10 * max(1, abs(pred))
  to <- 1e-10 * max(1, abs(obs))
  num <- 0
  den <- 0
  m <- length(pred)
  for (i in 1:(m - 1)) for (j in (i + 1):m) {
    if (abs(obs[i] - obs[j]) <= to) next
    den <- den + 1
    if (abs(pred[i] - pred[j]) <= tp) num <- num + 0.5
    else if ((pred[i] > pred[j]) == (obs[i] > obs[j])) num <- num + 1
  }
  num / den
}

c_benefit_equal <- function(b, y, A) {
  t_idx <- which(A == 1)
  c_idx <- which(A == 0)
  m <- min(length(t_idx), length(c_idx))
  t_idx <- t_idx[seq_len(m)]
  c_idx <- c_idx[seq_len(m)]
  t_idx <- t_idx[order(b[t_idx])]
  c_idx <- c_idx[order(b[c_idx])]
  list(c = harrell_pairs((b[t_idx] + b[c_idx]) / 2, y[t_idx] - y[c_idx]), m = m)
}

data_rows <- list(); ridge_rows <- list(); cv_rows <- list(); oof_rows <- list()
group_rows <- list(); summary_rows <- list()
for (cl in cells) {
  cd <- make_cell(cl[1], cl[2])
  cell <- cd$cell[1]
  data_rows[[cell]] <- cd
  M <- as.matrix(cd[, mods])
  A <- as.numeric(cd$arm == "resolve")
  y <- cd$y
  n <- length(y)
  lams <- grid_of(n)

  ## ridge coefficients at a few penalties, with the closed-form check
  check <- c(0, n * 10^c(-1, 0, 0.4, 1, 2), Inf)
  p <- fit_path(M, A, y, check)
  z <- p$st(M)
  Xc <- cbind(1, A, z, A * z)
  for (i in seq_along(check)) {
    if (is.finite(check[i])) {
      pen <- c(rep(0, 2 + length(mods)), rep(check[i], length(mods)))
      closed <- solve(crossprod(Xc) + diag(pen), crossprod(Xc, y))
      stopifnot(max(abs(closed - p$coef[, i])) < 1e-8)
    }
  }
  terms <- c("(Intercept)", "arm", mods, paste0("arm:", mods))
  ridge_rows[[cell]] <- data.frame(cell = cell, penalty = rep(check, each = length(terms)),
                                   term = rep(terms, length(check)), estimate = as.vector(p$coef))

  ## CV errors on the full data and the chosen penalty
  f <- folds_det(A)
  err <- cv_errors(M, A, y, f, lams)
  sel <- select_one_se(err, lams)
  cv_rows[[cell]] <- data.frame(cell = cell, penalty = lams, cv_error = colMeans(err),
                                chosen = unname(sel["chosen"]), minimum = unname(sel["minimum"]))

  ## nested CV: out-of-fold effect and sham outcome
  eff_cv <- numeric(n); mu0_cv <- numeric(n); lam_k <- numeric(n)
  for (k in 0:(K - 1)) {
    tr <- f != k
    fi <- folds_det(A[tr])
    e_in <- cv_errors(M[tr, , drop = FALSE], A[tr], y[tr], fi, lams)
    lk <- select_one_se(e_in, lams)["chosen"]
    pk <- fit_path(M[tr, , drop = FALSE], A[tr], y[tr], lk)
    eff_cv[!tr] <- effect_path(pk, M[!tr, , drop = FALSE])[, 1]
    mu0_cv[!tr] <- predict_path(pk, M[!tr, , drop = FALSE], rep(0, sum(!tr)))[, 1]
    lam_k[!tr] <- lk
  }
  ## centred within fold; exactly 0 where a fold's predictions are constant (to 1e-10)
  b <- eff_cv - ave(eff_cv, f)
  for (k in 0:(K - 1)) {
    at <- f == k
    if (diff(range(eff_cv[at])) <= 1e-10 * max(1, abs(eff_cv[at]))) b[at] <- 0
  }
  oof_rows[[cell]] <- data.frame(cell = cell, id = cd$id, fold = f, fold_penalty = lam_k,
                                 effect_cv = eff_cv, reference_cv = mu0_cv, centred = b)

  ## calibration slope, groups, c-for-benefit
  bc <- b - mean(b)
  cal <- lm(y ~ mu0_cv + A + A:bc)
  ci <- confint(cal)["A:bc", ]
  cb <- c_benefit_equal(b, y, A)

  ## risk model
  prog <- fitted(lm(y ~ M))
  pc <- prog - mean(prog)
  rt <- summary(lm(y ~ prog + A + A:pc))$coefficients["A:pc", ]
  rci <- confint(lm(y ~ prog + A + A:pc))["A:pc", ]

  for (what in c("risk", "calibration")) {
    x <- if (what == "risk") prog else b
    g <- groups_of(x)
    for (gg in 1:4) {
      tt <- t.test(y[g == gg & A == 1], y[g == gg & A == 0])
      group_rows[[length(group_rows) + 1]] <- data.frame(
        cell = cell, view = what, group = gg, n_reference = sum(g == gg & A == 0),
        n_treatment = sum(g == gg & A == 1), x_mean = mean(x[g == gg]),
        estimate = unname(tt$estimate[1] - tt$estimate[2]), std_error = unname(tt$stderr),
        df = unname(tt$parameter), conf_low = tt$conf.int[1], conf_high = tt$conf.int[2])
    }
  }
  summary_rows[[cell]] <- data.frame(
    cell = cell, n = n, penalty = unname(sel["chosen"]), penalty_min = unname(sel["minimum"]),
    calibration_slope = unname(coef(cal)["A:bc"]), calibration_slope_low = ci[1],
    calibration_slope_high = ci[2], c_for_benefit_equal = cb$c, n_pairs_equal = cb$m,
    risk_r_squared = summary(lm(y ~ M))$r.squared, risk_estimate = rt[1],
    risk_std_error = rt[2], risk_p_value = rt[4], risk_conf_low = rci[1],
    risk_conf_high = rci[2])
}

w <- function(x, name) {
  x <- do.call(rbind, x)
  rownames(x) <- NULL
  write.csv(x, file.path(script_dir, name), row.names = FALSE)
}
w(data_rows, "benefit_data.csv")
w(ridge_rows, "benefit_ridge.csv")
w(cv_rows, "benefit_cv.csv")
w(oof_rows, "benefit_oof.csv")
w(group_rows, "benefit_groups.csv")
w(summary_rows, "benefit_summary.csv")
cat("wrote benefit_*.csv in", script_dir, "\n")
