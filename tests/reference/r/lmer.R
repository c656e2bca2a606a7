## Reference fixtures: random-intercept linear mixed models, lme4::lmer via lmerTest,
## REML and ML, on fev_data and bcva_data: Satterthwaite fixed-effect tests,
## variance components, fit statistics, type III ANOVA, emmeans LS-means and
## TRT - PBO contrasts per visit, and a timing of the bcva REML fit.
##
## Run:  Rscript tests/reference/r/lmer.R     (from anywhere; data from tests/reference/sas/)
## Writes (next to this script):
##   lmer_fixed_effects.csv  lmer_variance_components.csv  lmer_fit_stats.csv
##   lmer_anova_type3.csv    lmer_emmeans.csv              lmer_contrasts.csv
##   lmer_timing.csv
## lme4, lmerTest and emmeans are GPL; they are only called here to produce numbers.

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
})

## emmeans by default turns Satterthwaite off for lmer fits with more than
## 3000 observations (bcva has 8605): lift the limits so both datasets use it.
emm_options(lmerTest.limit = Inf, pbkrtest.limit = Inf)

ds <- datasets(script_dir)

fit_lmer <- function(formula, data, reml) {
  f <- update(formula, . ~ . + (1 | USUBJID))
  lmerTest::lmer(f, data = data, REML = reml)
}

fe_rows <- list(); vc_rows <- list(); st_rows <- list(); an_rows <- list()
emm_rows <- list(); con_rows <- list(); time_rows <- list()

for (dname in names(ds)) {
  d <- ds[[dname]]$data
  form <- ds[[dname]]$formula
  for (method in c("REML", "ML")) {
    message(sprintf("[lmer] %s %s ...", dname, method))
    res <- with_warnings(fit_lmer(form, d, method == "REML"))
    fit <- res$value
    msgs <- c(res$warnings, fit@optinfo$conv$lme4$messages)
    warn <- paste(unique(msgs), collapse = " | ")
    if (nzchar(warn)) message("  warnings: ", warn)
    tag <- data.frame(dataset = dname, model = "lmer_ri", method = method)

    ## fixed effects, Satterthwaite df (lmerTest summary default)
    cf <- summary(fit, ddf = "Satterthwaite")$coefficients
    fe_rows[[length(fe_rows) + 1]] <- data.frame(
      tag, term = rownames(cf), estimate = cf[, "Estimate"],
      std_error = cf[, "Std. Error"], df = cf[, "df"],
      statistic = cf[, "t value"], p_value = cf[, "Pr(>|t|)"])

    ## variance components
    vc <- as.data.frame(VarCorr(fit))
    vc_rows[[length(vc_rows) + 1]] <- data.frame(
      tag, component = ifelse(vc$grp == "Residual", "residual", "intercept"),
      group = vc$grp, variance = vc$vcov, std_dev = vc$sdcor)

    ## fit statistics
    ll <- logLik(fit)
    st_rows[[length(st_rows) + 1]] <- data.frame(
      tag, n_obs = nobs(fit), n_subjects = unname(ngrps(fit)["USUBJID"]),
      n_beta = length(fixef(fit)), df_loglik = attr(ll, "df"),
      loglik = as.numeric(ll), aic = AIC(fit), bic = BIC(fit),
      minus2loglik = -2 * as.numeric(ll),
      intercept_variance = vc$vcov[vc$grp == "USUBJID"],
      residual_variance = vc$vcov[vc$grp == "Residual"],
      sigma = sigma(fit), optimizer = fit@optinfo$optimizer,
      warnings = warn)

    ## type III ANOVA with Satterthwaite df (lmerTest)
    an <- anova(fit, type = 3, ddf = "Satterthwaite")
    an_rows[[length(an_rows) + 1]] <- data.frame(
      tag, term = rownames(an), sum_sq = an[["Sum Sq"]], mean_sq = an[["Mean Sq"]],
      num_df = an[["NumDF"]], den_df = an[["DenDF"]],
      statistic = an[["F value"]], p_value = an[["Pr(>F)"]])

    ## emmeans with Satterthwaite df, equal weights over RACE (and SEX)
    emm <- emmeans(fit, ~ ARMCD | AVISIT, lmer.df = "satterthwaite")
    df_mode <- attr(emm@dffun, "mesg")
    se <- as.data.frame(summary(emm))
    emm_rows[[length(emm_rows) + 1]] <- data.frame(
      tag, df_method = df_mode,
      ARMCD = as.character(se$ARMCD), AVISIT = as.character(se$AVISIT),
      estimate = se$emmean, std_error = se$SE, df = se$df,
      lower_cl = se$lower.CL, upper_cl = se$upper.CL)
    pr <- as.data.frame(summary(pairs(emm, reverse = TRUE)))
    con_rows[[length(con_rows) + 1]] <- data.frame(
      tag, df_method = df_mode,
      contrast = as.character(pr$contrast), AVISIT = as.character(pr$AVISIT),
      estimate = pr$estimate, std_error = pr$SE, df = pr$df,
      statistic = pr$t.ratio, p_value = pr$p.value)

    ## timing: bcva REML, median elapsed seconds of 5 fits
    if (dname == "bcva" && method == "REML") {
      f_ri <- update(form, . ~ . + (1 | USUBJID))
      n_rep <- 5L
      t_lme4 <- replicate(n_rep, unname(system.time(
        lme4::lmer(f_ri, data = d, REML = TRUE))["elapsed"]))
      t_lmerTest <- replicate(n_rep, unname(system.time(
        lmerTest::lmer(f_ri, data = d, REML = TRUE))["elapsed"]))
      time_rows[[length(time_rows) + 1]] <- data.frame(
        dataset = dname, model = "lmer_ri", method = method,
        fitter = c("lme4::lmer", "lmerTest::lmer"),
        n_runs = n_rep,
        median_elapsed_seconds = c(median(t_lme4), median(t_lmerTest)),
        min_elapsed_seconds = c(min(t_lme4), min(t_lmerTest)),
        max_elapsed_seconds = c(max(t_lme4), max(t_lmerTest)),
        r_version = R.version.string,
        cpu = tryCatch({
          x <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1]
          trimws(sub("^model name\\s*:", "", x))
        }, error = function(e) NA_character_))
    }
  }
}

write_fixture(bind_rows_list(fe_rows), script_dir, "lmer_fixed_effects.csv")
write_fixture(bind_rows_list(vc_rows), script_dir, "lmer_variance_components.csv")
write_fixture(bind_rows_list(st_rows), script_dir, "lmer_fit_stats.csv")
write_fixture(bind_rows_list(an_rows), script_dir, "lmer_anova_type3.csv")
write_fixture(bind_rows_list(emm_rows), script_dir, "lmer_emmeans.csv")
write_fixture(bind_rows_list(con_rows), script_dir, "lmer_contrasts.csv")
write_fixture(bind_rows_list(time_rows), script_dir, "lmer_timing.csv")
