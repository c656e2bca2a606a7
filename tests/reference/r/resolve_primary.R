## Reference fixtures: the RESOLVE primary analysis (SAP; spec resolve-trial.md section 6.3
## variant A) and its baseline-adjusted unstructured sensitivity model, on the bundled
## simulated trial src/resolve/datasets/resolve.csv, for pain and rmdq.
##
## Primary:     lmerTest::lmer(y ~ arm * visit + (1 | id), REML = TRUE), every visit,
##              baseline part of the outcome vector; Satterthwaite df;
##              pairs(emmeans(fit, ~ arm | visit, lmer.df = "satterthwaite"), reverse = TRUE).
## Sensitivity: nlme::gls(y ~ y0 + arm * visit, corSymm + varIdent (unstructured), REML)
##              on the follow-up visits, y0 = the participant's baseline value;
##              per-visit resolve - sham contrasts (estimate and SE; emmeans with
##              mode = "df.error", because emmeans' gls Satterthwaite df is not the
##              mmrm/SAS Satterthwaite df, see README.md).
##
## Factor levels: arm c("sham", "resolve") (reference first), visit in plan order
## c("baseline", "week 12", "week 18", "week 26", "week 52"); empty cells are NA and
## rows with an NA outcome are dropped.
##
## Run:  Rscript tests/reference/r/resolve_primary.R   (from anywhere)
## Writes (next to this script):
##   resolve_primary_lmer.csv  resolve_primary_emmeans.csv  resolve_sensitivity_gls.csv
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

## Tight optimiser tolerances so that the fixtures are converged well below the
## 1e-4 relative tolerance of the Python tests.
lctrl <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, maxeval = 1e5))
gctrl <- glsControl(natural = FALSE, tolerance = 1e-10, msTol = 1e-12,
                    msMaxIter = 1000, maxIter = 1000)

lmer_rows <- list(); emm_rows <- list(); gls_rows <- list()

for (outcome in c("pain", "rmdq")) {
  message(sprintf("[resolve_primary] %s ...", outcome))
  d <- raw[!is.na(raw[[outcome]]), c("id", "arm", "visit", outcome)]
  names(d)[4] <- "y"
  rownames(d) <- NULL

  ## ---- primary: random-intercept LMM on every visit
  res <- with_warnings(lmerTest::lmer(y ~ arm * visit + (1 | id), data = d, REML = TRUE,
                                      control = lctrl))
  fit <- res$value
  warn <- paste(unique(c(res$warnings, fit@optinfo$conv$lme4$messages)), collapse = " | ")
  vc <- as.data.frame(VarCorr(fit))
  cf <- summary(fit, ddf = "Satterthwaite")$coefficients
  lmer_rows[[length(lmer_rows) + 1]] <- data.frame(
    outcome = outcome, model = "lmer_ri", method = "REML", term = rownames(cf),
    estimate = cf[, "Estimate"], std_error = cf[, "Std. Error"], df = cf[, "df"],
    statistic = cf[, "t value"], p_value = cf[, "Pr(>|t|)"],
    loglik = as.numeric(logLik(fit)), n_obs = nobs(fit),
    intercept_variance = vc$vcov[vc$grp == "id"],
    residual_variance = vc$vcov[vc$grp == "Residual"], warnings = warn)

  emm <- emmeans(fit, ~ arm | visit, lmer.df = "satterthwaite")
  pr <- pairs(emm, reverse = TRUE)
  ps <- as.data.frame(summary(pr))
  ci <- as.data.frame(confint(pr, level = 0.95))
  stopifnot(all(ps$visit == ci$visit))
  emm_rows[[length(emm_rows) + 1]] <- data.frame(
    outcome = outcome, model = "lmer_ri", df_method = "satterthwaite",
    contrast = as.character(ps$contrast), visit = as.character(ps$visit),
    estimate = ps$estimate, std_error = ps$SE, df = ps$df, statistic = ps$t.ratio,
    p_value = ps$p.value, conf_low = ci$lower.CL, conf_high = ci$upper.CL)

  ## ---- sensitivity: baseline-adjusted unstructured model on follow-up visits
  base <- d[d$visit == "baseline", c("id", "y")]
  names(base)[2] <- "y0"
  f <- merge(d[d$visit != "baseline", ], base, by = "id")
  f$visit <- factor(as.character(f$visit), levels = visits[-1])
  f <- f[order(f$id, f$visit), ]
  rownames(f) <- NULL
  g <- with_warnings(gls(y ~ y0 + arm * visit, data = f,
                         correlation = corSymm(form = ~ as.integer(visit) | id),
                         weights = varIdent(form = ~ 1 | visit),
                         method = "REML", control = gctrl))
  gfit <- g$value
  gemm <- emmeans(gfit, ~ arm | visit, data = f, mode = "df.error")
  gp <- as.data.frame(summary(pairs(gemm, reverse = TRUE)))
  gls_rows[[length(gls_rows) + 1]] <- data.frame(
    outcome = outcome, model = "gls_us_baseline_adjusted", method = "REML",
    contrast = as.character(gp$contrast), visit = as.character(gp$visit),
    estimate = gp$estimate, std_error = gp$SE, df_error = gp$df,
    loglik = as.numeric(logLik(gfit)), n_obs = nrow(f),
    warnings = paste(unique(g$warnings), collapse = " | "))
}

write_fixture(bind_rows_list(lmer_rows), script_dir, "resolve_primary_lmer.csv")
write_fixture(bind_rows_list(emm_rows), script_dir, "resolve_primary_emmeans.csv")
write_fixture(bind_rows_list(gls_rows), script_dir, "resolve_sensitivity_gls.csv")
