## Independent Satterthwaite degrees of freedom for the unstructured-covariance
## MMRM on fev_data (the same model as gls_us in gls.R), REML and ML.
##
## Why this exists: emmeans' "satterthwaite" mode for nlme::gls fits does not
## give the Satterthwaite df of mmrm / SAS PROC MIXED (for the fev VIS1
## TRT - PBO contrast it gives ~394 where this computation gives ~145.5). So the
## df here are computed directly, in plain R, from the definition:
##   df(L) = 2 * (L' Phi L)^2 / (g' A g),  Phi = (X' V^-1 X)^-1,
##   g = d(L' Phi L)/d theta, A = inverse Hessian of -loglik in theta,
## theta = log-Cholesky parameters of the 4 x 4 visit covariance (df is
## invariant to this choice at the optimum). Derivatives by numDeriv.
## No package code is used beyond numDeriv::hessian / numDeriv::grad and, for
## starting values and a cross-check, nlme::gls.
##
## Run:  Rscript tests/reference/r/satterthwaite_us_fev.R
## Writes: satterthwaite_us_fev.csv (next to this script)

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))
suppressPackageStartupMessages({ library(numDeriv); library(nlme) })

d <- load_fev(script_dir)
form <- FEV1 ~ RACE + SEX + ARMCD * AVISIT
X <- model.matrix(form, d)
y <- d$FEV1
visits <- levels(d$AVISIT)
nv <- length(visits)
vi <- as.integer(d$AVISIT)
grp <- split(seq_len(nrow(d)), d$USUBJID)
grp <- grp[lengths(grp) > 0]
n <- nrow(X); p <- ncol(X)

theta_to_sigma <- function(th) {
  L <- matrix(0, nv, nv)
  L[lower.tri(L, diag = TRUE)] <- th
  diag(L) <- exp(diag(L))
  L %*% t(L)
}

parts <- function(th, reml) {
  S <- theta_to_sigma(th)
  XtVX <- matrix(0, p, p); XtVy <- numeric(p); logdet <- 0; Vinv <- vector("list", length(grp))
  for (k in seq_along(grp)) {
    g <- grp[[k]]; v <- vi[g]
    Si <- solve(S[v, v, drop = FALSE]); Vinv[[k]] <- Si
    Xg <- X[g, , drop = FALSE]
    XtVX <- XtVX + crossprod(Xg, Si %*% Xg)
    XtVy <- XtVy + as.vector(crossprod(Xg, Si %*% y[g]))
    logdet <- logdet + as.numeric(determinant(S[v, v, drop = FALSE])$modulus)
  }
  beta <- solve(XtVX, XtVy)
  q <- 0
  for (k in seq_along(grp)) {
    g <- grp[[k]]; r <- y[g] - X[g, , drop = FALSE] %*% beta
    q <- q + sum(r * (Vinv[[k]] %*% r))
  }
  nll <- if (reml) {
    0.5 * (logdet + q + as.numeric(determinant(XtVX)$modulus) + (n - p) * log(2 * pi))
  } else {
    0.5 * (logdet + q + n * log(2 * pi))
  }
  list(beta = as.vector(beta), Phi = solve(XtVX), nll = nll, Sigma = S)
}

## contrasts: TRT - PBO at each visit (treatment coding, VIS1 reference;
## RACE and SEX cancel, so emmeans' equal weights do not matter)
contrast_L <- function(v) {
  L <- setNames(numeric(p), colnames(X))
  L["ARMCDTRT"] <- 1
  if (v != visits[1]) L[paste0("ARMCDTRT:AVISIT", v)] <- 1
  L
}

rows <- list()
for (method in c("REML", "ML")) {
  reml <- method == "REML"
  fg <- gls(form, data = d, method = method,
            correlation = corSymm(form = ~ as.integer(AVISIT) | USUBJID),
            weights = varIdent(form = ~ 1 | AVISIT), na.action = na.omit)
  full <- names(which(table(d$USUBJID) == nv))[1]
  S0 <- unclass(getVarCov(fg, individual = full, type = "marginal"))
  L0 <- t(chol(S0)); diag(L0) <- log(diag(L0))
  th0 <- L0[lower.tri(L0, diag = TRUE)]
  nll <- function(th) parts(th, reml)$nll
  opt <- optim(th0, nll, method = "BFGS", control = list(maxit = 2000, reltol = 1e-15))
  th <- opt$par
  fitp <- parts(th, reml)
  ll <- -fitp$nll
  if (abs(ll - as.numeric(logLik(fg))) > 1e-5) stop("logLik mismatch vs gls: ", ll, " ", logLik(fg))
  A <- solve(hessian(nll, th))
  satt <- function(L) {
    f <- function(t) as.numeric(crossprod(L, parts(t, reml)$Phi %*% L))
    v <- f(th); g <- grad(f, th)
    c(variance = v, df = 2 * v^2 / as.numeric(crossprod(g, A %*% g)))
  }
  message(sprintf("[satterthwaite] fev us %s: logLik %.6f (gls %.6f)", method, ll, logLik(fg)))
  for (j in seq_len(p)) {
    L <- setNames(numeric(p), colnames(X)); L[j] <- 1
    s <- satt(L); est <- fitp$beta[j]; se <- sqrt(s[["variance"]])
    rows[[length(rows) + 1]] <- data.frame(
      dataset = "fev", model = "us", method = method, kind = "coefficient",
      term = colnames(X)[j], AVISIT = NA_character_, estimate = est, std_error = se,
      df = s[["df"]], statistic = est / se,
      p_value = 2 * pt(abs(est / se), s[["df"]], lower.tail = FALSE), loglik = ll)
  }
  for (v in visits) {
    L <- contrast_L(v)
    s <- satt(L); est <- sum(L * fitp$beta); se <- sqrt(s[["variance"]])
    rows[[length(rows) + 1]] <- data.frame(
      dataset = "fev", model = "us", method = method, kind = "contrast",
      term = "TRT - PBO", AVISIT = v, estimate = est, std_error = se,
      df = s[["df"]], statistic = est / se,
      p_value = 2 * pt(abs(est / se), s[["df"]], lower.tail = FALSE), loglik = ll)
  }
}
write_fixture(bind_rows_list(rows), script_dir, "satterthwaite_us_fev.csv")
