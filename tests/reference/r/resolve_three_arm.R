## Reference fixtures: a three-arm trial with renamed columns (arms "usual care", "GSR",
## "GSR+education"; visits "Week 0", "Week 6", "Week 10", "Week 26"), read from
## resolve_three_arm_data.csv next to this script. That file is built from the bundled trial
## by tests/analysis/three_arm.py (rule in its docstring; a test checks the file equals it).
##
## Contrasts, each labelled "<arm> - <comparator>", all from one fitted model per outcome:
##   "GSR - usual care", "GSR+education - usual care", "GSR+education - GSR" and, to check
##   the direction of a plan's extra contrast, "GSR - GSR+education".
##
## Primary:     lmerTest::lmer(y ~ [Sex +] arm * visit + (1 | id), REML = TRUE), every visit,
##              Satterthwaite df; contrast(emmeans(fit, ~ arm | visit, lmer.df =
##              "satterthwaite"), method = <the 4 contrasts above>) with confint. Fitted
##              without a covariate and with Sex as a factor (R default levels: "female"
##              reference).
## Sensitivity: nlme::gls(y ~ y0 + arm * visit, corSymm + varIdent (unstructured), REML) on
##              the follow-up visits; the same contrasts (estimate and SE).
## Modifiers:   for each of the 8 modifiers m x outcome x follow-up visit t, complete cases:
##              lm(y_t ~ arm * m + y0); the interactions "armGSR:m" ("GSR - usual care")
##              and "armGSR+education:m" ("GSR+education - usual care"); Holm and BH over
##              the family = every contrast x modifier x outcome at Week 10 and Week 26
##              (2 x 8 x 2 x 2 = 64 tests).
## Global test: anova(lm(y_t ~ arm + m_1 + ... + m_8 + y0), lm(y_t ~ arm * (m_1 + ... + m_8) + y0))
##              per outcome x visit (16 numerator df with two non-reference arms).
##
## Run:  Rscript tests/reference/r/resolve_three_arm.R   (from anywhere; ~10 s)
## Writes (next to this script):
##   resolve_three_arm_emmeans.csv  resolve_three_arm_gls.csv
##   resolve_three_arm_modifiers.csv  resolve_three_arm_global.csv
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

raw <- read.csv(file.path(script_dir, "resolve_three_arm_data.csv"), check.names = FALSE,
                colClasses = c("Participant ID" = "character"))
arms <- c("usual care", "GSR", "GSR+education")
visits <- c("Week 0", "Week 6", "Week 10", "Week 26")
outcomes <- c(Pain = "Pain NRS (0-10)", Disability = "Disability (RMDQ)")
mods <- c(pseq = "Self-efficacy", pcs = "Catastrophising", pain_baseline = "Pain at entry",
          psychoactive = "Psychoactive meds", frebaq = "Back perception",
          tsk = "Kinesiophobia", rmdq_baseline = "RMDQ at entry", bbq = "Back beliefs")
family <- c("Week 10", "Week 26")

d0 <- data.frame(id = factor(raw[["Participant ID"]]),
                 arm = factor(raw[["Allocated group"]], levels = arms),
                 visit = factor(raw[["Timepoint"]], levels = visits),
                 sex = factor(raw[["Sex"]]))
stopifnot(!anyNA(d0$arm), !anyNA(d0$visit), identical(levels(d0$sex), c("female", "male")))

## coefficients over the arm levels (usual care, GSR, GSR+education)
con <- list("GSR - usual care" = c(-1, 1, 0),
            "GSR+education - usual care" = c(-1, 0, 1),
            "GSR+education - GSR" = c(0, -1, 1),
            "GSR - GSR+education" = c(0, 1, -1))

lctrl <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, maxeval = 1e5))
gctrl <- glsControl(natural = FALSE, tolerance = 1e-10, msTol = 1e-12,
                    msMaxIter = 1000, maxIter = 1000)

emm_rows <- list(); gls_rows <- list()
for (o in names(outcomes)) {
  d <- d0
  d$y <- raw[[outcomes[[o]]]]
  d <- d[!is.na(d$y), ]
  rownames(d) <- NULL
  for (cov in c("none", "Sex")) {
    message(sprintf("[resolve_three_arm] %s, covariate %s ...", o, cov))
    form <- if (cov == "none") y ~ arm * visit + (1 | id) else y ~ sex + arm * visit + (1 | id)
    res <- with_warnings(lmerTest::lmer(form, data = d, REML = TRUE, control = lctrl))
    fit <- res$value
    warn <- paste(unique(c(res$warnings, fit@optinfo$conv$lme4$messages)), collapse = " | ")
    emm <- emmeans(fit, ~ arm | visit, lmer.df = "satterthwaite")
    cc <- contrast(emm, method = con)
    cs <- as.data.frame(summary(cc))
    ci <- as.data.frame(confint(cc, level = 0.95))
    stopifnot(all(cs$visit == ci$visit), all(cs$contrast == ci$contrast))
    emm_rows[[length(emm_rows) + 1]] <- data.frame(
      outcome = o, model = "lmer_ri", covariate = cov,
      contrast = as.character(cs$contrast), visit = as.character(cs$visit),
      estimate = cs$estimate, std_error = cs$SE, df = cs$df, statistic = cs$t.ratio,
      p_value = cs$p.value, conf_low = ci$lower.CL, conf_high = ci$upper.CL,
      n_obs = nobs(fit), warnings = warn)
  }

  base <- d[d$visit == "Week 0", c("id", "y")]
  names(base)[2] <- "y0"
  f <- merge(d[d$visit != "Week 0", ], base, by = "id")
  f$visit <- factor(as.character(f$visit), levels = visits[-1])
  f <- f[order(f$id, f$visit), ]
  rownames(f) <- NULL
  g <- with_warnings(gls(y ~ y0 + arm * visit, data = f,
                         correlation = corSymm(form = ~ as.integer(visit) | id),
                         weights = varIdent(form = ~ 1 | visit),
                         method = "REML", control = gctrl))
  gfit <- g$value
  gemm <- emmeans(gfit, ~ arm | visit, data = f, mode = "df.error")
  gs <- as.data.frame(summary(contrast(gemm, method = con)))
  gls_rows[[length(gls_rows) + 1]] <- data.frame(
    outcome = o, model = "gls_us_baseline_adjusted",
    contrast = as.character(gs$contrast), visit = as.character(gs$visit),
    estimate = gs$estimate, std_error = gs$SE, n_obs = nrow(f),
    loglik = as.numeric(logLik(gfit)), warnings = paste(unique(g$warnings), collapse = " | "))
}
write_fixture(bind_rows_list(emm_rows), script_dir, "resolve_three_arm_emmeans.csv")
write_fixture(bind_rows_list(gls_rows), script_dir, "resolve_three_arm_gls.csv")

## ---- modifiers
b0 <- raw[raw[["Timepoint"]] == "Week 0", ]
cell <- function(o, v) {
  keep <- raw[["Timepoint"]] == v
  dv <- data.frame(id = raw[["Participant ID"]][keep],
                   arm = factor(raw[["Allocated group"]][keep], levels = arms),
                   y = raw[[outcomes[[o]]]][keep])
  for (m in names(mods)) dv[[m]] <- raw[[mods[[m]]]][keep]
  dv$y0 <- b0[[outcomes[[o]]]][match(dv$id, b0[["Participant ID"]])]
  dv
}
rows <- list(); grows <- list()
for (m in names(mods)) for (o in names(outcomes)) for (v in visits[-1]) {
  dv <- cell(o, v)
  dv$m <- dv[[m]]
  cc <- dv[complete.cases(dv[, c("y", "y0", "m")]), ]
  fit <- lm(y ~ arm * m + y0, data = cc)
  cf <- summary(fit)$coefficients
  ci <- confint(fit, level = 0.95)
  for (a in arms[-1]) {
    term <- paste0("arm", a, ":m")
    rows[[length(rows) + 1]] <- data.frame(
      modifier = m, outcome = o, visit = v, contrast = paste(a, "-", arms[1]), n = nrow(cc),
      estimate = cf[term, "Estimate"], std_error = cf[term, "Std. Error"],
      statistic = cf[term, "t value"], df = fit$df.residual, p_value = cf[term, "Pr(>|t|)"],
      conf_low = ci[term, 1], conf_high = ci[term, 2])
  }
}
tab <- bind_rows_list(rows)
fam <- tab$visit %in% family
tab$in_family <- fam
tab$p_holm <- NA_real_
tab$p_bh <- NA_real_
tab$p_holm[fam] <- p.adjust(tab$p_value[fam], "holm")
tab$p_bh[fam] <- p.adjust(tab$p_value[fam], "BH")
write_fixture(tab, script_dir, "resolve_three_arm_modifiers.csv")

for (o in names(outcomes)) for (v in visits[-1]) {
  dv <- cell(o, v)
  cc <- dv[complete.cases(dv[, c("y", "y0", names(mods))]), ]
  rhs <- paste(names(mods), collapse = " + ")
  red <- lm(as.formula(paste("y ~ arm +", rhs, "+ y0")), data = cc)
  full <- lm(as.formula(paste("y ~ arm * (", rhs, ") + y0")), data = cc)
  a <- anova(red, full)
  grows[[length(grows) + 1]] <- data.frame(
    outcome = o, visit = v, statistic = a[2, "F"], df_num = a[2, "Df"],
    df_den = a[2, "Res.Df"], p_value = a[2, "Pr(>F)"], n = nrow(cc))
}
write_fixture(bind_rows_list(grows), script_dir, "resolve_three_arm_global.csv")
