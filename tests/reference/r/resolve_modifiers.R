## Reference fixtures: effect modification on the bundled simulated RESOLVE trial
## (src/resolve/datasets/resolve.csv), for resolve.analysis.effect_modifiers.
##
## For each modifier m (8) x outcome y (pain, rmdq) x follow-up visit t (weeks 12, 18, 26, 52),
## complete cases at t:
##   fit <- lm(y_t ~ arm * m + y_0)          arm = factor(c("sham", "resolve")), sham reference
## For pain x pain_baseline and rmdq x rmdq_baseline, y_0 equals m and lm reports it as
## aliased (NA); the interaction is unaffected.
##   interaction "armresolve:m": estimate, SE, t, p (summary.lm), 95% CI (confint)
##   treatment effect at the 25/50/75th percentiles of m over the 276 participants
##     (quantile type 7; binary modifiers at 0 and 1): b_arm + q * b_int, SE from vcov(fit)
##   non-linearity: restricted cubic spline of m in Harrell's parametrisation, written out
##     below (knots at quantiles .10/.50/.90 of m in the analysis sample, basis / (t3 - t1)^2),
##     anova(lm(y_t ~ arm * m + y_0), lm(y_t ~ arm * (m + s1) + y_0))
##   multiplicity: p.adjust(p, "holm") and p.adjust(p, "BH") over the family
##     (visits week 18 and week 52: 8 x 2 x 2 = 32 tests); other rows NA
## Global test per outcome x visit (complete cases):
##   anova(lm(y_t ~ arm + m_1 + ... + m_8 + y_0), lm(y_t ~ arm * (m_1 + ... + m_8) + y_0))
##
## Run:  Rscript tests/reference/r/resolve_modifiers.R   (from anywhere; base R + stats only)
## Writes (next to this script):
##   resolve_modifiers_lm.csv  resolve_modifiers_quartiles.csv  resolve_modifiers_global.csv

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))

source(file.path(script_dir, "modifiers_data.R"))

## Harrell restricted cubic spline, non-linear terms only (rms::rcspline.eval, norm = 2).
rcs_nonlinear <- function(x, knots) {
  k <- length(knots)
  cube <- function(z) pmax(z, 0)^3
  out <- sapply(seq_len(k - 2), function(j) {
    (cube(x - knots[j]) -
       cube(x - knots[k - 1]) * (knots[k] - knots[j]) / (knots[k] - knots[k - 1]) +
       cube(x - knots[k]) * (knots[k - 1] - knots[j]) / (knots[k] - knots[k - 1])) /
      (knots[k] - knots[1])^2
  })
  matrix(out, nrow = length(x))
}

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
    fit <- lm(y ~ arm * m + y0, data = cc)
    s <- summary(fit)$coefficients["armresolve:m", ]
    ci <- confint(fit, level = 0.95)["armresolve:m", ]
    nl_p <- NA_real_
    if (!(m %in% binary)) {
      knots <- unique(unname(quantile(cc$m, c(0.10, 0.50, 0.90), type = 7)))
      if (length(knots) >= 3) {
        S <- rcs_nonlinear(cc$m, knots)
        cc$s1 <- S[, 1]
        sfit <- lm(y ~ arm * (m + s1) + y0, data = cc)
        nl_p <- anova(fit, sfit)[2, "Pr(>F)"]
      }
    }
    rows[[length(rows) + 1]] <- data.frame(
      modifier = m, outcome = o, visit = v, n = nrow(cc),
      estimate = s[["Estimate"]], std_error = s[["Std. Error"]], statistic = s[["t value"]],
      df = fit$df.residual, p_value = s[["Pr(>|t|)"]], conf_low = ci[[1]], conf_high = ci[[2]],
      nonlinearity_p = nl_p, y0_aliased = is.na(coef(fit)[["y0"]])
    )
    b <- coef(fit); V <- vcov(fit)
    for (j in seq_along(qv)) {
      L <- setNames(rep(0, length(b)), names(b))
      L[["armresolve"]] <- 1; L[["armresolve:m"]] <- qv[j]
      ok <- !is.na(b)
      est <- sum(L[ok] * b[ok]); se <- sqrt(drop(t(L[ok]) %*% V[ok, ok] %*% L[ok]))
      tq <- qt(0.975, fit$df.residual)
      qrows[[length(qrows) + 1]] <- data.frame(
        modifier = m, outcome = o, visit = v, quartile = ql[j], modifier_value = qv[j],
        estimate = est, std_error = se, conf_low = est - tq * se, conf_high = est + tq * se
      )
    }
  }
}
lmtab <- do.call(rbind, rows)
fam <- lmtab$visit %in% family
lmtab$in_family <- fam
lmtab$p_holm <- NA_real_
lmtab$p_bh <- NA_real_
lmtab$p_holm[fam] <- p.adjust(lmtab$p_value[fam], "holm")
lmtab$p_bh[fam] <- p.adjust(lmtab$p_value[fam], "BH")
write_fixture(lmtab, script_dir, "resolve_modifiers_lm.csv")
write_fixture(do.call(rbind, qrows), script_dir, "resolve_modifiers_quartiles.csv")

grows <- list()
for (o in outs) for (v in visits) {
  dv <- cell_data(o, v)
  cc <- dv[complete.cases(dv[, c("y", "y0", mods)]), ]
  rhs <- paste(mods, collapse = " + ")
  red <- lm(as.formula(paste("y ~ arm +", rhs, "+ y0")), data = cc)
  full <- lm(as.formula(paste("y ~ arm * (", rhs, ") + y0")), data = cc)
  a <- anova(red, full)
  grows[[length(grows) + 1]] <- data.frame(
    outcome = o, visit = v, statistic = a[2, "F"], df_num = a[2, "Df"], df_den = a[2, "Res.Df"],
    p_value = a[2, "Pr(>F)"], n = nrow(cc)
  )
}
write_fixture(do.call(rbind, grows), script_dir, "resolve_modifiers_global.csv")
