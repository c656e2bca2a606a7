## Reference fixtures: nlme::gls MMRM fits (unstructured / compound symmetry / AR(1)),
## REML and ML, on fev_data and bcva_data, plus emmeans LS-means and TRT - PBO
## contrasts per visit for the unstructured fits.
##
## Run:  Rscript tests/reference/r/gls.R      (from anywhere; data from tests/reference/sas/)
## Writes (next to this script):
##   gls_coefficients.csv  gls_fit_stats.csv  gls_covariance.csv
##   gls_emmeans.csv       gls_contrasts.csv
## nlme and emmeans are GPL; they are only called here to produce numbers.

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))

suppressPackageStartupMessages({
  library(nlme)
  library(emmeans)
})

ds <- datasets(script_dir)

## Covariance structures (as requested for the Python engine's validation).
## Visit index for corSymm / corAR1 is as.integer(AVISIT): the position of the
## visit in the sorted factor levels (VIS1..VIS4, VIS01..VIS10).
structures <- list(
  us = list(correlation = function() corSymm(form = ~ as.integer(AVISIT) | USUBJID),
            weights = function() varIdent(form = ~ 1 | AVISIT)),
  cs = list(correlation = function() corCompSymm(form = ~ 1 | USUBJID),
            weights = function() NULL),
  ar1 = list(correlation = function() corAR1(form = ~ as.integer(AVISIT) | USUBJID),
             weights = function() NULL)
)

## control = glsControl(natural = FALSE): only changes the parametrisation of
## fit$apVar (the approximate covariance of the variance parameters) to the
## unconstrained one used by coef(fit$modelStruct). Estimates and logLik are
## unchanged. emmeans' analytic Satterthwaite for gls requires this; with the
## default natural = TRUE it silently falls back to its simulation-based
## "appx-satterthwaite", which fails here.
fit_gls <- function(formula, data, cov, method) {
  ## build the call with literal arguments so that emmeans/update can re-evaluate it
  cl <- substitute(
    gls(FORM, data = data, correlation = COR, weights = W, method = METHOD,
        na.action = na.omit, control = glsControl(natural = FALSE)),
    list(FORM = formula,
         COR = body(structures[[cov]]$correlation),
         W = body(structures[[cov]]$weights),
         METHOD = method))
  eval(cl)
}

## Full visit x visit covariance matrix built from the estimated parameters.
visit_cov <- function(fit, cov, visits) {
  nv <- length(visits)
  sigma <- fit$sigma
  cs <- fit$modelStruct$corStruct
  R <- diag(nv)
  if (cov == "us") {
    rho <- coef(cs, unconstrained = FALSE)   # order (1,2),(1,3),...,(1,n),(2,3),...
    k <- 0
    for (i in 1:(nv - 1)) for (j in (i + 1):nv) {
      k <- k + 1
      R[i, j] <- R[j, i] <- rho[k]
    }
    ratio <- coef(fit$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
    sds <- sigma * unname(ratio[visits])
  } else if (cov == "cs") {
    rho <- coef(cs, unconstrained = FALSE)
    R[] <- rho; diag(R) <- 1
    sds <- rep(sigma, nv)
  } else if (cov == "ar1") {
    phi <- coef(cs, unconstrained = FALSE)
    R <- phi^abs(outer(1:nv, 1:nv, "-"))
    sds <- rep(sigma, nv)
  }
  S <- diag(sds, nv) %*% R %*% diag(sds, nv)
  dimnames(S) <- list(visits, visits)
  S
}

## Cross-check visit_cov against nlme's own per-subject matrices.
check_visit_cov <- function(fit, S, data) {
  subj <- unique(as.character(data$USUBJID))
  ## a few complete and incomplete subjects
  nvis <- table(data$USUBJID)[subj]
  pick <- unique(c(head(subj[nvis == max(nvis)], 2), head(subj[nvis < max(nvis)], 3)))
  for (s in pick) {
    V <- getVarCov(fit, individual = s, type = "marginal")
    V <- if (is.list(V)) V[[1]] else V
    vis <- as.character(data$AVISIT[data$USUBJID == s])
    err <- max(abs(unclass(V) - S[vis, vis]))
    if (err > 1e-8 * max(abs(S))) stop("visit covariance mismatch for subject ", s, ": ", err)
  }
  invisible(TRUE)
}

coef_rows <- list(); stat_rows <- list(); cov_rows <- list()
emm_rows <- list(); con_rows <- list()

for (dname in names(ds)) {
  d <- ds[[dname]]$data
  form <- ds[[dname]]$formula
  visits <- levels(d$AVISIT)
  for (cov in names(structures)) for (method in c("REML", "ML")) {
    message(sprintf("[gls] %s %s %s ...", dname, cov, method))
    tm <- system.time(res <- with_warnings(fit_gls(form, d, cov, method)))
    fit <- res$value
    warn <- paste(unique(res$warnings), collapse = " | ")
    if (nzchar(warn)) message("  warnings: ", warn)
    n <- fit$dims$N; p <- fit$dims$p
    tt <- summary(fit)$tTable
    coef_rows[[length(coef_rows) + 1]] <- data.frame(
      dataset = dname, model = paste0("gls_", cov), method = method,
      term = rownames(tt), estimate = tt[, "Value"], std_error = tt[, "Std.Error"],
      df = n - p, statistic = tt[, "t-value"], p_value = tt[, "p-value"])
    S <- visit_cov(fit, cov, visits)
    check_visit_cov(fit, S, d)
    cov_rows[[length(cov_rows) + 1]] <- data.frame(
      dataset = dname, model = paste0("gls_", cov), method = method, group = "all",
      row_visit = rep(visits, times = length(visits)),
      col_visit = rep(visits, each = length(visits)),
      value = as.vector(S))
    ll <- logLik(fit)
    stat_rows[[length(stat_rows) + 1]] <- data.frame(
      dataset = dname, model = paste0("gls_", cov), method = method,
      n_obs = n, n_subjects = nlevels(droplevels(d$USUBJID)), n_beta = p,
      n_theta = length(coef(fit$modelStruct)), df_loglik = attr(ll, "df"),
      loglik = as.numeric(ll), aic = AIC(fit), bic = BIC(fit),
      minus2loglik = -2 * as.numeric(ll), sigma = fit$sigma, residual_df = n - p,
      apvar_available = is.matrix(fit$apVar),
      elapsed_seconds = unname(tm["elapsed"]), warnings = warn)

    if (cov == "us") {
      ## emmeans: mode "auto" = analytic Satterthwaite when fit$apVar is a matrix,
      ## otherwise df.error (N - p - #covariance parameters). Also always write df.error.
      modes <- c("auto", "df.error")
      for (mode in modes) {
        emm <- emmeans(fit, ~ ARMCD | AVISIT, data = d, mode = mode)
        df_mode <- attr(emm@dffun, "mesg")
        if (is.null(df_mode)) df_mode <- NA_character_
        se <- as.data.frame(summary(emm))
        emm_rows[[length(emm_rows) + 1]] <- data.frame(
          dataset = dname, model = "gls_us", method = method,
          emmeans_mode = mode, df_method = df_mode,
          ARMCD = as.character(se$ARMCD), AVISIT = as.character(se$AVISIT),
          estimate = se$emmean, std_error = se$SE, df = se$df,
          lower_cl = se$lower.CL, upper_cl = se$upper.CL)
        pr <- as.data.frame(summary(pairs(emm, reverse = TRUE)))
        con_rows[[length(con_rows) + 1]] <- data.frame(
          dataset = dname, model = "gls_us", method = method,
          emmeans_mode = mode, df_method = df_mode,
          contrast = as.character(pr$contrast), AVISIT = as.character(pr$AVISIT),
          estimate = pr$estimate, std_error = pr$SE, df = pr$df,
          statistic = pr$t.ratio, p_value = pr$p.value)
      }
    }
  }
}

write_fixture(bind_rows_list(coef_rows), script_dir, "gls_coefficients.csv")
write_fixture(bind_rows_list(stat_rows), script_dir, "gls_fit_stats.csv")
write_fixture(bind_rows_list(cov_rows), script_dir, "gls_covariance.csv")
write_fixture(bind_rows_list(emm_rows), script_dir, "gls_emmeans.csv")
write_fixture(bind_rows_list(con_rows), script_dir, "gls_contrasts.csv")
