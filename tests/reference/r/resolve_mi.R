## Reference fixture (loose sanity check only): multiple imputation of the bundled simulated
## RESOLVE trial (src/resolve/datasets/resolve.csv) with R mice, for resolve.analysis.mi.
##
## Wide data, one row per participant: pain and rmdq at baseline, weeks 12, 18, 26, 52, and the
## 8 baseline modifiers. Each arm imputed separately:
##   mice(wide_arm, m = 20, maxit = 10, method = "pmm", seed = 2022 (sham) / 2023 (resolve))
## then the two mids objects are combined (rbind), and per outcome x visit
##   pool(with(imp, lm(y_t ~ arm + y_0)))   (arm = factor(c("sham", "resolve")))
## giving the pooled resolve - sham difference, its SE, Barnard-Rubin df and fmi.
## MI is stochastic and R's random streams differ from numpy's, so the Python tests compare
## only loosely (pooled estimates within 2 pooled SEs), never digit by digit.
##
## Run:  Rscript tests/reference/r/resolve_mi.R   (needs mice; Debian: r-cran-mice)
## Writes resolve_mi_pool.csv next to this script. mice is GPL; it is only called here.

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))
suppressPackageStartupMessages(library(mice))

repo_root <- normalizePath(file.path(script_dir, "..", "..", ".."), mustWork = TRUE)
d <- read.csv(file.path(repo_root, "src", "resolve", "datasets", "resolve.csv"),
              colClasses = c(id = "character"))
mods <- c("pseq", "pcs", "pain_baseline", "psychoactive", "frebaq", "tsk", "rmdq_baseline", "bbq")
visits <- c("baseline", "week 12", "week 18", "week 26", "week 52")
tag <- c("w0", "w12", "w18", "w26", "w52")

base <- d[d$visit == "baseline", c("id", "arm", mods)]
wide <- base
for (o in c("pain", "rmdq")) for (k in seq_along(visits)) {
  dv <- d[d$visit == visits[k], ]
  wide[[paste0(o, "_", tag[k])]] <- dv[[o]][match(wide$id, dv$id)]
}
wide$arm <- factor(wide$arm, levels = c("sham", "resolve"))
imp_cols <- setdiff(names(wide), c("id", "arm"))

imp_arm <- function(a, seed) {
  w <- wide[wide$arm == a, ]
  imp <- mice(w[, imp_cols], m = 20, maxit = 10, method = "pmm", seed = seed, printFlag = FALSE)
  imp$data$arm <- NULL
  list(imp = imp, arm = w$arm)
}
s <- imp_arm("sham", 2022)
r <- imp_arm("resolve", 2023)
arm <- c(as.character(s$arm), as.character(r$arm))

rows <- list()
for (o in c("pain", "rmdq")) for (k in 2:5) {
  y <- paste0(o, "_", tag[k]); y0 <- paste0(o, "_w0")
  fits <- lapply(seq_len(20), function(i) {
    cd <- rbind(complete(s$imp, i), complete(r$imp, i))
    cd$arm <- factor(arm, levels = c("sham", "resolve"))
    lm(as.formula(paste(y, "~ arm +", y0)), data = cd)
  })
  p <- summary(pool(as.mira(fits)), conf.int = TRUE)
  pp <- pool(as.mira(fits))$pooled
  i <- which(p$term == "armresolve")
  rows[[length(rows) + 1]] <- data.frame(
    outcome = o, visit = visits[k], estimate = p$estimate[i], std_error = p$std.error[i],
    df = p$df[i], p_value = p$p.value[i], conf_low = p[i, "2.5 %"], conf_high = p[i, "97.5 %"],
    fmi = pp$fmi[pp$term == "armresolve"], m = 20
  )
}
write_fixture(do.call(rbind, rows), script_dir, "resolve_mi_pool.csv")
