## R mmrm reference values for the `convention = "mmrm"` parity of resolve.stats.mmrm
## (tests/stats/test_mmrm_parity_r.py): Kenward-Roger, Kenward-Roger-Linear, Between-Within
## and Between-Within with the empirical covariance, on a small unbalanced data set where
## the methods differ: the first 20 subjects of the mmrm example data fev_data.csv
## (tests/reference/sas/, Apache-2.0), 4 visits, outcomes missing as in the file.
##
## R mmrm is not packaged in Debian: build it from its public source (openpharma/mmrm,
## version 0.3.18, commit ec290b2) with R CMD INSTALL on Debian's r-cran-tmb,
## r-cran-rcppeigen, r-cran-checkmate, r-cran-lifecycle, r-cran-rdpack, r-cran-stringr,
## r-cran-tibble (README.md in this folder), then
##   R_LIBS=/path/to/lib Rscript tests/reference/r/mmrm_parity.R
## Writes mmrm_parity.csv next to this script.

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grepl("^--file=", args)])
  if (length(f) == 1L) normalizePath(dirname(f)) else normalizePath(".")
})
source(file.path(script_dir, "common.R"))
suppressMessages(library(mmrm))

fev <- load_fev(script_dir)
keep <- head(unique(as.character(fev$USUBJID)), 20)
d <- droplevels(fev[fev$USUBJID %in% keep, ])
cat("subjects", nlevels(d$USUBJID), "observations", nrow(d), "\n")

cases <- list(
  list(method = "Kenward-Roger", vcov = "Kenward-Roger", ours = "kenward-roger"),
  list(method = "Kenward-Roger", vcov = "Kenward-Roger-Linear", ours = "kenward-roger-linear"),
  list(method = "Between-Within", vcov = "Asymptotic", ours = "between-within"),
  list(method = "Between-Within", vcov = "Empirical", ours = "empirical"),
  list(method = "Satterthwaite", vcov = "Asymptotic", ours = "satterthwaite")
)
rows <- list()
for (cov in c("us", "ar1h", "csh", "toeph", "adh")) {
  f <- as.formula(paste0("FEV1 ~ ARMCD + AVISIT + ", cov, "(AVISIT | USUBJID)"))
  for (case in cases) {
    fit <- mmrm(f, data = d, method = case$method, vcov = case$vcov, reml = TRUE)
    co <- summary(fit)$coefficients
    rows[[length(rows) + 1L]] <- data.frame(
      cov = cov, df_method = case$ours, term = rownames(co),
      estimate = co[, "Estimate"], std_error = co[, "Std. Error"], df = co[, "df"],
      statistic = co[, "t value"], p_value = co[, "Pr(>|t|)"],
      loglik = as.numeric(logLik(fit)), row.names = NULL
    )
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(script_dir, "mmrm_parity.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(script_dir, "mmrm_parity_session.txt"))
