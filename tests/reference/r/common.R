## Shared helpers for the R reference-fixture scripts in tests/reference/r/.
## Only base R here; the model-fitting packages are called from the family scripts.
## Sourced by gls.R and lmer.R (after they set `script_dir`).

options(digits = 15, warn = 1, stringsAsFactors = FALSE)

## Directory that holds this script (works under `Rscript path/to/x.R`).
this_script_dir <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grepl("^--file=", args)])
  if (length(f) == 1L) return(normalizePath(dirname(f)))
  normalizePath(".")
}

## The mmrm example data in the repository: tests/reference/sas/, a sibling of
## this script's folder tests/reference/r/ (see tests/reference/sas/NOTICE.md).
reference_data_dir <- function(script_dir) {
  normalizePath(file.path(script_dir, "..", "sas"), mustWork = TRUE)
}

data_path <- function(script_dir, name) {
  p <- file.path(reference_data_dir(script_dir), name)
  if (!file.exists(p)) stop("data file not found: ", p)
  p
}

## Factors get R's default (sorted) levels; rows with NA outcome are dropped.
load_fev <- function(script_dir) {
  d <- read.csv(data_path(script_dir, "fev_data.csv"), colClasses = c(USUBJID = "character"))
  d <- d[!is.na(d$FEV1), , drop = FALSE]
  for (v in c("USUBJID", "AVISIT", "ARMCD", "RACE", "SEX")) d[[v]] <- factor(d[[v]])
  rownames(d) <- NULL
  d
}

load_bcva <- function(script_dir) {
  d <- read.csv(data_path(script_dir, "bcva_data.csv"), colClasses = c(USUBJID = "character"))
  d <- d[!is.na(d$BCVA_CHG), , drop = FALSE]
  for (v in c("USUBJID", "AVISIT", "ARMCD", "RACE")) d[[v]] <- factor(d[[v]])
  rownames(d) <- NULL
  d
}

## Model specifications shared by every family.
datasets <- function(script_dir) {
  list(
    fev = list(data = load_fev(script_dir),
               formula = FEV1 ~ RACE + SEX + ARMCD * AVISIT),
    bcva = list(data = load_bcva(script_dir),
                formula = BCVA_CHG ~ BCVA_BL + RACE + ARMCD * AVISIT)
  )
}

## Full-precision CSV writer: numeric columns as %.17g (round-trips doubles
## exactly), NA as the bare token NA, character columns quoted.
write_fixture <- function(df, script_dir, file) {
  df <- as.data.frame(df, stringsAsFactors = FALSE)
  rownames(df) <- NULL
  is_num <- vapply(df, is.numeric, logical(1))
  for (v in names(df)[is_num]) {
    x <- as.numeric(df[[v]])
    df[[v]] <- ifelse(is.na(x), NA_character_, sprintf("%.17g", x))
  }
  for (v in names(df)[!is_num]) df[[v]] <- as.character(df[[v]])
  out <- file.path(script_dir, file)
  write.csv(df, out, row.names = FALSE, na = "NA", quote = which(!is_num))
  message("wrote ", out, " (", nrow(df), " rows)")
  invisible(out)
}

## rbind a list of data frames (possibly empty).
bind_rows_list <- function(lst) {
  lst <- Filter(Negate(is.null), lst)
  if (length(lst) == 0L) return(data.frame())
  do.call(rbind, lst)
}

## Capture warnings (as text) while evaluating expr; returns list(value, warnings).
with_warnings <- function(expr) {
  w <- character(0)
  val <- withCallingHandlers(expr, warning = function(cond) {
    w <<- c(w, conditionMessage(cond))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = w)
}
