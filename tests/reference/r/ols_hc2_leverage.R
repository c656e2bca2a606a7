## Reference fixture: HC2 / Bell-McCaffrey / HTZ when one observation has leverage 1
## (a 0/1 column with a single 1), for resolve.analysis._ols with vcov = "hc2".
## clubSandwich's CR2 uses the Moore-Penrose inverse square root of (1 - h_ii), so an
## observation fitted exactly contributes nothing.
##
## Run:  Rscript tests/reference/r/ols_hc2_leverage.R   (needs r-cran-clubsandwich)
## Writes: ols_hc2_leverage_data.csv (x, g, y), ols_hc2_leverage.csv (coef tests and the
## HTZ test of x = g = 0)
suppressPackageStartupMessages(library(clubSandwich))
args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
source(file.path(script_dir, "common.R"))

set.seed(2026)
n <- 20
d <- data.frame(x = round(rnorm(n), 6), g = c(1, rep(0, n - 1)), y = round(rnorm(n), 6))
fit <- lm(y ~ x + g, data = d)
V <- vcovCR(fit, cluster = seq_len(n), type = "CR2")
ct <- coef_test(fit, vcov = V, test = "Satterthwaite")
w <- Wald_test(fit, constraints = constrain_zero(2:3), vcov = V, test = "HTZ")
out <- rbind(
  data.frame(term = ct$Coef, estimate = ct$beta, std_error = ct$SE, df = ct$df_Satt,
             p_value = ct$p_Satt),
  data.frame(term = "HTZ x = g = 0", estimate = w$Fstat, std_error = NA, df = w$df_denom,
             p_value = w$p_val)
)
write_fixture(d, script_dir, "ols_hc2_leverage_data.csv")
write_fixture(out, script_dir, "ols_hc2_leverage.csv")
