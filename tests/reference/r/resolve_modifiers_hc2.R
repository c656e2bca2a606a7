## Reference fixtures: effect modification with HC2 standard errors and Bell-McCaffrey /
## HTZ small-sample tests on the bundled simulated RESOLVE trial
## (src/resolve/datasets/resolve.csv), for resolve.analysis.effect_modifiers with
## [effect_modification] standard_errors = "hc2".
##
## Same cells and complete cases as resolve_modifiers.R. For each modifier m (8) x outcome
## (pain, rmdq) x visit (weeks 12, 18, 26, 52):
##   fit <- lm(y_t ~ arm * m + y_0)      (y_0 left out where it equals m: pain x pain_baseline,
##                                        rmdq x rmdq_baseline; lm would alias it)
##   V <- clubSandwich::vcovCR(fit, cluster = seq_len(n), type = "CR2")
##        (each participant its own cluster: CR2 is HC2, sandwich::vcovHC(type = "HC2"))
##   interaction "armresolve:m": clubSandwich::coef_test(fit, vcov = V,
##     test = "Satterthwaite")   (Bell-McCaffrey df), CI from conf_int(..., test = "Satterthwaite")
##   treatment effect at the 25/50/75th percentiles of m (binary: 0 and 1):
##     clubSandwich::linear_contrast(fit, vcov = V, contrasts = L, test = "Satterthwaite")
## Global test per outcome x visit (complete cases on every modifier):
##   clubSandwich::Wald_test(full, constraints = constrain_zero(<arm:m_j terms>),
##                           vcov = vcovCR(full, cluster = seq_len(n), type = "CR2"),
##                           test = "HTZ")   (Pustejovsky & Tipton 2018)
##   with full = lm(y ~ arm * (m_1 + ... + m_8) + y0) (y0 left out where it equals a modifier)
##
## Run:  Rscript tests/reference/r/resolve_modifiers_hc2.R
##   needs the CRAN package clubSandwich (Debian: r-cran-clubsandwich)
## Writes (next to this script):
##   resolve_modifiers_hc2_lm.csv  resolve_modifiers_hc2_quartiles.csv
##   resolve_modifiers_hc2_global.csv

suppressPackageStartupMessages(library(clubSandwich))

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
    V <- vcovCR(fit, cluster = seq_len(nrow(cc)), type = "CR2")
    s <- coef_test(fit, vcov = V, test = "Satterthwaite", coefs = "armresolve:m")
    ci <- conf_int(fit, vcov = V, test = "Satterthwaite", coefs = "armresolve:m", level = 0.95)
    rows[[length(rows) + 1]] <- data.frame(
      modifier = m, outcome = o, visit = v, n = nrow(cc),
      estimate = s$beta, std_error = s$SE, statistic = s$tstat,
      df = s$df_Satt, p_value = s$p_Satt, conf_low = ci$CI_L, conf_high = ci$CI_U
    )
    b <- coef(fit)
    L <- matrix(0, nrow = length(qv), ncol = length(b), dimnames = list(NULL, names(b)))
    L[, "armresolve"] <- 1; L[, "armresolve:m"] <- qv
    lc <- linear_contrast(fit, vcov = V, contrasts = L, test = "Satterthwaite", level = 0.95)
    qrows[[length(qrows) + 1]] <- data.frame(
      modifier = m, outcome = o, visit = v, quartile = ql, modifier_value = qv,
      estimate = lc$Est, std_error = lc$SE, df = lc$df, conf_low = lc$CI_L, conf_high = lc$CI_U
    )
  }
}
write_fixture(do.call(rbind, rows), script_dir, "resolve_modifiers_hc2_lm.csv")
write_fixture(do.call(rbind, qrows), script_dir, "resolve_modifiers_hc2_quartiles.csv")

grows <- list()
for (o in outs) for (v in visits) {
  dv <- cell_data(o, v)
  cc <- dv[complete.cases(dv[, c("y", "y0", mods)]), ]
  rhs <- paste(mods, collapse = " + ")
  dup <- any(vapply(mods, function(m) isTRUE(all(cc$y0 == cc[[m]])), logical(1)))
  adj <- if (dup) "" else " + y0"
  full <- lm(as.formula(paste0("y ~ arm * (", rhs, ")", adj)), data = cc)
  V <- vcovCR(full, cluster = seq_len(nrow(cc)), type = "CR2")
  a <- Wald_test(full, constraints = constrain_zero(paste0("armresolve:", mods)), vcov = V,
                 test = "HTZ")
  grows[[length(grows) + 1]] <- data.frame(
    outcome = o, visit = v, statistic = a$Fstat, df_num = a$df_num,
    df_den = a$df_denom, p_value = a$p_val, n = nrow(cc)
  )
}
write_fixture(do.call(rbind, grows), script_dir, "resolve_modifiers_hc2_global.csv")
