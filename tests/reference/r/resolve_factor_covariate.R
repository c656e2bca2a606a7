## Reference fixtures: a categorical (factor) covariate in every model of the analysis plan,
## on the bundled simulated RESOLVE trial (src/resolve/datasets/resolve.csv), pain and rmdq.
## The covariate is `sex` (text "female"/"male") with R's default factor levels, so the
## reference level is "female" (R sorts the values) and the coefficient is `sexmale`.
##
## Primary:     lmerTest::lmer(y ~ sex + arm * visit + (1 | id), REML = TRUE), every visit;
##              Satterthwaite df; pairs(emmeans(fit, ~ arm | visit, lmer.df = "satterthwaite"),
##              reverse = TRUE) with confint (emmeans averages over sex with equal weights;
##              the arm contrasts do not depend on the weights).
## Sensitivity: nlme::gls(y ~ y0 + sex + arm * visit, corSymm + varIdent (unstructured), REML)
##              on the follow-up visits; per-visit resolve - sham estimate and SE.
## Modifiers:   for each modifier m x outcome x follow-up visit t, complete cases:
##              lm(y_t ~ arm * m + y0 + sex); interaction "armresolve:m" (estimate, SE, t, p,
##              95% CI); Holm and BH over the family (visits week 18 and week 52).
##
## Factor levels: arm c("sham", "resolve"), visit in plan order, sex R default.
## Run:  Rscript tests/reference/r/resolve_factor_covariate.R   (from anywhere; ~10 s)
## Writes (next to this script):
##   resolve_factor_covariate_lmer.csv      (fixed effects of the primary model)
##   resolve_factor_covariate_emmeans.csv   (primary contrasts)
##   resolve_factor_covariate_gls.csv       (sensitivity contrasts)
##   resolve_factor_covariate_modifiers.csv (modifier interactions)
## lme4, lmerTest, emmeans and nlme are GPL; they are only called here to produce numbers.

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(nlme)
})
emm_options(lmerTest.limit = Inf, pbkrtest.limit = Inf)

repo_root <- normalizePath(file.path(script_dir, "..", "..", ".."), mustWork = TRUE)
raw <- read.csv(file.path(repo_root, "src", "resolve", "datasets", "resolve.csv"),
                colClasses = c(id = "character"))
visits <- c("baseline", "week 12", "week 18", "week 26", "week 52")
raw$arm <- factor(raw$arm, levels = c("sham", "resolve"))
raw$visit <- factor(raw$visit, levels = visits)
raw$id <- factor(raw$id)
raw$sex <- factor(raw$sex)  # R's default order: "female", "male"
stopifnot(identical(levels(raw$sex), c("female", "male")))

lctrl <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, maxeval = 1e5))
gctrl <- glsControl(natural = FALSE, tolerance = 1e-10, msTol = 1e-12,
                    msMaxIter = 1000, maxIter = 1000)

lmer_rows <- list(); emm_rows <- list(); gls_rows <- list()
for (outcome in c("pain", "rmdq")) {
  message(sprintf("[resolve_factor_covariate] %s ...", outcome))
  d <- raw[!is.na(raw[[outcome]]), c("id", "arm", "visit", "sex", outcome)]
  names(d)[5] <- "y"
  rownames(d) <- NULL

  res <- with_warnings(lmerTest::lmer(y ~ sex + arm * visit + (1 | id), data = d,
                                      REML = TRUE, control = lctrl))
  fit <- res$value
  warn <- paste(unique(c(res$warnings, fit@optinfo$conv$lme4$messages)), collapse = " | ")
  cf <- summary(fit, ddf = "Satterthwaite")$coefficients
  lmer_rows[[length(lmer_rows) + 1]] <- data.frame(
    outcome = outcome, model = "lmer_ri", term = rownames(cf),
    estimate = cf[, "Estimate"], std_error = cf[, "Std. Error"], df = cf[, "df"],
    statistic = cf[, "t value"], p_value = cf[, "Pr(>|t|)"],
    loglik = as.numeric(logLik(fit)), n_obs = nobs(fit), warnings = warn)

  emm <- emmeans(fit, ~ arm | visit, lmer.df = "satterthwaite")
  pr <- pairs(emm, reverse = TRUE)
  ps <- as.data.frame(summary(pr))
  ci <- as.data.frame(confint(pr, level = 0.95))
  stopifnot(all(ps$visit == ci$visit))
  emm_rows[[length(emm_rows) + 1]] <- data.frame(
    outcome = outcome, model = "lmer_ri", covariate = "sex",
    contrast = as.character(ps$contrast), visit = as.character(ps$visit),
    estimate = ps$estimate, std_error = ps$SE, df = ps$df, statistic = ps$t.ratio,
    p_value = ps$p.value, conf_low = ci$lower.CL, conf_high = ci$upper.CL)

  base <- d[d$visit == "baseline", c("id", "y")]
  names(base)[2] <- "y0"
  f <- merge(d[d$visit != "baseline", ], base, by = "id")
  f$visit <- factor(as.character(f$visit), levels = visits[-1])
  f <- f[order(f$id, f$visit), ]
  rownames(f) <- NULL
  g <- with_warnings(gls(y ~ y0 + sex + arm * visit, data = f,
                         correlation = corSymm(form = ~ as.integer(visit) | id),
                         weights = varIdent(form = ~ 1 | visit),
                         method = "REML", control = gctrl))
  gfit <- g$value
  gemm <- emmeans(gfit, ~ arm | visit, data = f, mode = "df.error")
  gp <- as.data.frame(summary(pairs(gemm, reverse = TRUE)))
  gls_rows[[length(gls_rows) + 1]] <- data.frame(
    outcome = outcome, model = "gls_us_baseline_adjusted", covariate = "sex",
    contrast = as.character(gp$contrast), visit = as.character(gp$visit),
    estimate = gp$estimate, std_error = gp$SE,
    loglik = as.numeric(logLik(gfit)), n_obs = nrow(f),
    warnings = paste(unique(g$warnings), collapse = " | "))
}
write_fixture(bind_rows_list(lmer_rows), script_dir, "resolve_factor_covariate_lmer.csv")
write_fixture(bind_rows_list(emm_rows), script_dir, "resolve_factor_covariate_emmeans.csv")
write_fixture(bind_rows_list(gls_rows), script_dir, "resolve_factor_covariate_gls.csv")

## ---- modifiers: lm(y_t ~ arm * m + y0 + sex), complete cases
mods <- c("pseq", "pcs", "pain_baseline", "psychoactive", "frebaq", "tsk", "rmdq_baseline", "bbq")
family <- c("week 18", "week 52")
b0 <- raw[raw$visit == "baseline", ]
rows <- list()
for (m in mods) for (o in c("pain", "rmdq")) for (v in visits[-1]) {
  dv <- raw[raw$visit == v, c("id", "arm", "sex", o, m)]
  names(dv)[4:5] <- c("y", "m")
  dv$y0 <- b0[[o]][match(dv$id, b0$id)]
  cc <- dv[complete.cases(dv[, c("y", "y0", "m", "sex")]), ]
  fit <- lm(y ~ arm * m + y0 + sex, data = cc)
  s <- summary(fit)$coefficients["armresolve:m", ]
  ci <- confint(fit, level = 0.95)["armresolve:m", ]
  rows[[length(rows) + 1]] <- data.frame(
    modifier = m, outcome = o, visit = v, contrast = "resolve - sham", n = nrow(cc),
    estimate = s[["Estimate"]], std_error = s[["Std. Error"]], statistic = s[["t value"]],
    df = fit$df.residual, p_value = s[["Pr(>|t|)"]], conf_low = ci[[1]], conf_high = ci[[2]],
    sex_male = coef(fit)[["sexmale"]])
}
tab <- bind_rows_list(rows)
fam <- tab$visit %in% family
tab$p_holm <- NA_real_
tab$p_bh <- NA_real_
tab$p_holm[fam] <- p.adjust(tab$p_value[fam], "holm")
tab$p_bh[fam] <- p.adjust(tab$p_value[fam], "BH")
write_fixture(tab, script_dir, "resolve_factor_covariate_modifiers.csv")
