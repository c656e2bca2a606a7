## Reference fixtures: effect modification with HC3 standard errors on the bundled simulated
## RESOLVE trial (src/resolve/datasets/resolve.csv), for resolve.analysis.effect_modifiers with
## [effect_modification] standard_errors = "hc3".
##
## Same cells and complete cases as resolve_modifiers.R. For each modifier m (8) x outcome
## (pain, rmdq) x visit (weeks 12, 18, 26, 52):
##   fit <- lm(y_t ~ arm * m + y_0)      (y_0 left out where it equals m: pain x pain_baseline,
##                                        rmdq x rmdq_baseline; lm would alias it)
##   V <- sandwich::vcovHC(fit, type = "HC3")         MacKinnon & White (1985)
##   interaction "armresolve:m": lmtest::coeftest(fit, vcov = V) (t on the residual df),
##     lmtest::coefci(fit, vcov = V, level = 0.95)
##   treatment effect at the 25/50/75th percentiles of m (binary: 0 and 1), SE from V
## Global test per outcome x visit (complete cases on every modifier):
##   lmtest::waldtest(lm(y ~ arm + m_1 + ... + m_8 + y0), full, vcov = vcovHC(full, "HC3"),
##                    test = "F")     with full = lm(y ~ arm * (m_1 + ... + m_8) + y0)
##                                    (y0 left out where it equals a modifier)
##
## Run:  Rscript tests/reference/r/resolve_modifiers_hc3.R
##   needs the CRAN packages sandwich and lmtest (Debian: r-cran-sandwich r-cran-lmtest)
## Writes (next to this script):
##   resolve_modifiers_hc3_lm.csv  resolve_modifiers_hc3_quartiles.csv
##   resolve_modifiers_hc3_global.csv

suppressPackageStartupMessages({
  library(sandwich)
  library(lmtest)
})

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))

source(file.path(script_dir, "modifiers_data.R"))

rows <- list()
qrows <- list()
for (m in mods) {
  pv <- participants[[m]]
  if (m %in% binary) {
    qv <- c(0, 1); ql <- c("level 0", "level 1")
  } else {
    qv <- unname(quantile(pv, c(0.25, 0.5, 0.75), type = 7)); ql <- c("p25", "p50", "p75")
  }
  for (o in outs) for (v in visits) {
    dv <- cell_data(o, v)
    dv$m <- dv[[m]]
    cc <- dv[complete.cases(dv[, c("y", "y0", "m")]), ]
    f <- if (isTRUE(all(cc$y0 == cc$m))) y ~ arm * m else y ~ arm * m + y0
    fit <- lm(f, data = cc)
    V <- vcovHC(fit, type = "HC3")
    s <- coeftest(fit, vcov. = V)["armresolve:m", ]
    ci <- coefci(fit, vcov. = V, level = 0.95)["armresolve:m", ]
    rows[[length(rows) + 1]] <- data.frame(
      modifier = m, outcome = o, visit = v, n = nrow(cc),
      estimate = s[["Estimate"]], std_error = s[["Std. Error"]], statistic = s[["t value"]],
      df = fit$df.residual, p_value = s[["Pr(>|t|)"]], conf_low = ci[[1]], conf_high = ci[[2]]
    )
    b <- coef(fit)
    tq <- qt(0.975, fit$df.residual)
    for (j in seq_along(qv)) {
      L <- setNames(rep(0, length(b)), names(b))
      L[["armresolve"]] <- 1; L[["armresolve:m"]] <- qv[j]
      est <- sum(L * b); se <- sqrt(drop(t(L) %*% V %*% L))
      qrows[[length(qrows) + 1]] <- data.frame(
        modifier = m, outcome = o, visit = v, quartile = ql[j], modifier_value = qv[j],
        estimate = est, std_error = se, conf_low = est - tq * se, conf_high = est + tq * se
      )
    }
  }
}
write_fixture(do.call(rbind, rows), script_dir, "resolve_modifiers_hc3_lm.csv")
write_fixture(do.call(rbind, qrows), script_dir, "resolve_modifiers_hc3_quartiles.csv")

grows <- list()
for (o in outs) for (v in visits) {
  dv <- cell_data(o, v)
  cc <- dv[complete.cases(dv[, c("y", "y0", mods)]), ]
  rhs <- paste(mods, collapse = " + ")
  dup <- any(vapply(mods, function(m) isTRUE(all(cc$y0 == cc[[m]])), logical(1)))
  adj <- if (dup) "" else " + y0"
  red <- lm(as.formula(paste0("y ~ arm + ", rhs, adj)), data = cc)
  full <- lm(as.formula(paste0("y ~ arm * (", rhs, ")", adj)), data = cc)
  a <- waldtest(red, full, vcov = vcovHC(full, type = "HC3"), test = "F")
  grows[[length(grows) + 1]] <- data.frame(
    outcome = o, visit = v, statistic = a[2, "F"], df_num = abs(a[2, "Df"]),
    df_den = a[2, "Res.Df"], p_value = a[2, "Pr(>F)"], n = nrow(cc)
  )
}
write_fixture(do.call(rbind, grows), script_dir, "resolve_modifiers_hc3_global.csv")
