## Reference fixture: the recommended robust model of the RESOLVE plan,
## "mmrm_unstructured_all_visits" (src/resolve/analysis/primary.py), on the bundled
## simulated trial src/resolve/datasets/resolve.csv, for pain and rmdq.
##
## Model: the SAP primary model's mean structure y ~ arm * visit on EVERY visit (baseline
## part of the outcome vector, free arm main effect) with an unstructured visit covariance,
## REML:
##   nlme::gls(y ~ arm * visit, correlation = corSymm(form = ~ as.integer(visit) | id),
##             weights = varIdent(form = ~ 1 | visit), method = "REML")
## Per-visit resolve - sham differences: estimate and SE from
##   pairs(emmeans(fit, ~ arm | visit, mode = "df.error"), reverse = TRUE)
## (emmeans' df for gls are not Satterthwaite df, see tests/reference/README.md), and
## independently, in plain R from the definitions (as satterthwaite_us_fev.R): the REML
## criterion in the log-Cholesky parameters of the 5 x 5 visit covariance, maximised by
## optim from the gls estimate (its log-likelihood must equal gls's), and
##   df(L) = 2 (L' Phi L)^2 / (g' A g),  Phi = (X' V^-1 X)^-1,  g = d(L' Phi L)/d theta,
##   A = inverse Hessian of -loglik,
## with numDeriv; t, two-sided p and 95% CI on those df.
##
## Factor levels: arm c("sham", "resolve") (reference first), visit in plan order
## c("baseline", "week 12", "week 18", "week 26", "week 52"); rows with an NA outcome
## are dropped.
##
## Run:  Rscript tests/reference/r/resolve_robust.R   (from anywhere; about a minute)
## Writes (next to this script): resolve_robust_gls.csv
## nlme, emmeans and numDeriv are GPL; they are only called here to produce numbers.

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))

suppressPackageStartupMessages({
  library(nlme)
  library(emmeans)
  library(numDeriv)
})

repo_root <- normalizePath(file.path(script_dir, "..", "..", ".."), mustWork = TRUE)
raw <- read.csv(file.path(repo_root, "src", "resolve", "datasets", "resolve.csv"),
                colClasses = c(id = "character"))
visits <- c("baseline", "week 12", "week 18", "week 26", "week 52")
raw$arm <- factor(raw$arm, levels = c("sham", "resolve"))
raw$visit <- factor(raw$visit, levels = visits)
gctrl <- glsControl(natural = FALSE, tolerance = 1e-10, msTol = 1e-12,
                    msMaxIter = 1000, maxIter = 1000)
nv <- length(visits)

rows <- list()
for (outcome in c("pain", "rmdq")) {
  message(sprintf("[resolve_robust] %s ...", outcome))
  d <- raw[!is.na(raw[[outcome]]), c("id", "arm", "visit", outcome)]
  names(d)[4] <- "y"
  d <- d[order(d$id, d$visit), ]
  rownames(d) <- NULL

  g <- with_warnings(gls(y ~ arm * visit, data = d,
                         correlation = corSymm(form = ~ as.integer(visit) | id),
                         weights = varIdent(form = ~ 1 | visit),
                         method = "REML", control = gctrl))
  gfit <- g$value
  gp <- as.data.frame(summary(pairs(emmeans(gfit, ~ arm | visit, data = d,
                                            mode = "df.error"), reverse = TRUE)))

  ## ---- the same model from its definition: REML criterion, Satterthwaite df
  X <- model.matrix(~ arm * visit, d)
  y <- d$y
  vi <- as.integer(d$visit)
  grp <- split(seq_len(nrow(d)), d$id)
  n <- nrow(X); p <- ncol(X)
  theta_to_sigma <- function(th) {
    L <- matrix(0, nv, nv)
    L[lower.tri(L, diag = TRUE)] <- th
    diag(L) <- exp(diag(L))
    L %*% t(L)
  }
  parts <- function(th) {
    S <- theta_to_sigma(th)
    XtVX <- matrix(0, p, p); XtVy <- numeric(p); logdet <- 0
    Vinv <- vector("list", length(grp))
    for (k in seq_along(grp)) {
      i <- grp[[k]]; v <- vi[i]
      Si <- solve(S[v, v, drop = FALSE]); Vinv[[k]] <- Si
      Xi <- X[i, , drop = FALSE]
      XtVX <- XtVX + crossprod(Xi, Si %*% Xi)
      XtVy <- XtVy + as.vector(crossprod(Xi, Si %*% y[i]))
      logdet <- logdet + as.numeric(determinant(S[v, v, drop = FALSE])$modulus)
    }
    beta <- solve(XtVX, XtVy)
    q <- 0
    for (k in seq_along(grp)) {
      i <- grp[[k]]; r <- y[i] - X[i, , drop = FALSE] %*% beta
      q <- q + sum(r * (Vinv[[k]] %*% r))
    }
    nll <- 0.5 * (logdet + q + as.numeric(determinant(XtVX)$modulus) + (n - p) * log(2 * pi))
    list(beta = as.vector(beta), Phi = solve(XtVX), nll = nll)
  }
  full <- names(which(table(d$id) == nv))[1]
  S0 <- unclass(getVarCov(gfit, individual = full, type = "marginal"))
  L0 <- t(chol(S0)); diag(L0) <- log(diag(L0))
  th0 <- L0[lower.tri(L0, diag = TRUE)]
  nll <- function(th) parts(th)$nll
  opt <- optim(th0, nll, method = "BFGS", control = list(maxit = 5000, reltol = 1e-15))
  th <- opt$par
  fitp <- parts(th)
  ll <- -fitp$nll
  if (abs(ll - as.numeric(logLik(gfit))) > 1e-5) {
    stop("logLik mismatch vs gls: ", ll, " ", as.numeric(logLik(gfit)))
  }
  A <- solve(hessian(nll, th))
  for (v in visits[-1]) {
    L <- setNames(numeric(p), colnames(X))
    L["armresolve"] <- 1
    L[paste0("armresolve:visit", v)] <- 1
    f <- function(t) as.numeric(crossprod(L, parts(t)$Phi %*% L))
    var_l <- f(th)
    gr <- grad(f, th)
    df <- 2 * var_l^2 / as.numeric(crossprod(gr, A %*% gr))
    est <- sum(L * fitp$beta)
    se <- sqrt(var_l)
    half <- qt(0.975, df) * se
    ge <- gp[as.character(gp$visit) == v, ]
    rows[[length(rows) + 1]] <- data.frame(
      outcome = outcome, model = "gls_us_all_visits", method = "REML",
      contrast = as.character(ge$contrast), visit = v,
      estimate = est, std_error = se, df = df, statistic = est / se,
      p_value = 2 * pt(abs(est / se), df, lower.tail = FALSE),
      conf_low = est - half, conf_high = est + half,
      gls_estimate = ge$estimate, gls_std_error = ge$SE,
      loglik = ll, gls_loglik = as.numeric(logLik(gfit)), n_obs = nrow(d),
      warnings = paste(unique(g$warnings), collapse = " | "))
  }
}

write_fixture(bind_rows_list(rows), script_dir, "resolve_robust_gls.csv")
