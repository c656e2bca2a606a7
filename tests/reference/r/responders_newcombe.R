## Reference fixtures: responder analysis and Newcombe's hybrid score interval
## for resolve.analysis.responders.
##
## Newcombe RG (1998). Interval estimation for the difference between independent
## proportions: comparison of eleven methods. Stat Med 17:873-890. Method 10
## ("hybrid score", no continuity correction): with Wilson score intervals
## (l1, u1) for p1 = x1/n1 and (l2, u2) for p2 = x2/n2, d = p1 - p2,
##   L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)
##   U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)
## The Wilson intervals come from R's own stats::prop.test(x, n, correct = FALSE)
## (an implementation independent of the Python one); the combination is the formula above.
## NNT (Altman DG 1998, BMJ 317:1309-1312): 1/d with limits 1/U and 1/L, only when the
## interval excludes 0 (NNTB when d > 0, NNTH = 1/|d| when d < 0), else NA.
##
## 1. newcombe_cases: Newcombe's (1998) Table II examples (a)-(h) plus edge cases, at the
##    95 % and 90 % levels.
## 2. resolve_responders: the responder definitions of the bundled plan
##    (src/resolve/analysis/plans/resolve.toml), counted here from resolve.csv independently:
##      improvement = baseline - value (pain and RMDQ: higher is worse), observed cases
##      (baseline and visit both present); percent threshold met when baseline > 0 and
##      improvement >= percent/100 * baseline (1e-9 tolerance); points threshold when
##      improvement >= points; either suffices.
##      pain_30: percent 30; pain_50: percent 50; rmdq_5_or_30: points 5 or percent 30.
##    resolve minus sham, per follow-up visit, 95 %.
##
## Run:  Rscript tests/reference/r/responders_newcombe.R   (base R + stats only; < 1 s)
## Writes (next to this script): responders_newcombe_cases.csv, responders_resolve.csv

args_all <- commandArgs(trailingOnly = FALSE)
script_dir <- normalizePath(dirname(sub("^--file=", "", args_all[grepl("^--file=", args_all)])))
repo_root <- normalizePath(file.path(script_dir, "..", "..", ".."), mustWork = TRUE)

wilson <- function(x, n, level) {
  ci <- suppressWarnings(prop.test(x, n, conf.level = level, correct = FALSE)$conf.int)
  c(ci[1], ci[2])
}

newcombe <- function(x1, n1, x2, n2, level) {
  p1 <- x1 / n1
  p2 <- x2 / n2
  w1 <- wilson(x1, n1, level)
  w2 <- wilson(x2, n2, level)
  d <- p1 - p2
  c(d = d,
    lower = d - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2),
    upper = d + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2))
}

nnt <- function(d, lower, upper) {
  if (lower > 0) return(c(type = "NNTB", nnt = 1 / d, low = 1 / upper, high = 1 / lower))
  if (upper < 0) return(c(type = "NNTH", nnt = -1 / d, low = -1 / lower, high = -1 / upper))
  c(type = "", nnt = NA, low = NA, high = NA)
}

## 1. cases ---------------------------------------------------------------------------
cases <- data.frame(
  x1 = c(56, 9, 6, 5, 0, 0, 10, 10, 1, 30, 0, 12),
  n1 = c(70, 10, 7, 56, 10, 10, 10, 10, 1, 40, 5, 100),
  x2 = c(48, 3, 2, 0, 0, 0, 0, 0, 0, 38, 5, 30),
  n2 = c(80, 10, 7, 29, 20, 10, 20, 10, 3, 40, 5, 100)
)
rows <- list()
for (level in c(0.95, 0.90)) {
  for (i in seq_len(nrow(cases))) {
    r <- newcombe(cases$x1[i], cases$n1[i], cases$x2[i], cases$n2[i], level)
    rows[[length(rows) + 1]] <- data.frame(
      x1 = cases$x1[i], n1 = cases$n1[i], x2 = cases$x2[i], n2 = cases$n2[i],
      conf_level = level, risk_difference = r[["d"]],
      conf_low = r[["lower"]], conf_high = r[["upper"]])
  }
}
out1 <- do.call(rbind, rows)
write.csv(out1, file.path(script_dir, "responders_newcombe_cases.csv"), row.names = FALSE)

## 2. the bundled trial ---------------------------------------------------------------
d <- read.csv(file.path(repo_root, "src", "resolve", "datasets", "resolve.csv"),
              colClasses = c(id = "character"))
defs <- list(
  list(name = "pain_30", column = "pain", percent = 30, points = NA),
  list(name = "pain_50", column = "pain", percent = 50, points = NA),
  list(name = "rmdq_5_or_30", column = "rmdq", percent = 30, points = 5)
)
visits <- c("week 12", "week 18", "week 26", "week 52")
tol <- 1e-9
rows <- list()
for (def in defs) {
  base <- d[d$visit == "baseline", c("id", "arm", def$column)]
  names(base)[3] <- "y0"
  for (v in visits) {
    at <- d[d$visit == v, c("id", def$column)]
    names(at)[2] <- "y"
    m <- merge(base, at, by = "id")
    m <- m[!is.na(m$y0) & !is.na(m$y), ]
    imp <- m$y0 - m$y
    hit <- rep(FALSE, nrow(m))
    if (!is.na(def$points)) hit <- hit | imp >= def$points - tol * max(1, abs(def$points))
    if (!is.na(def$percent)) {
      need <- def$percent / 100 * m$y0
      hit <- hit | (m$y0 > 0 & imp >= need - tol * pmax(1, abs(need)))
    }
    x1 <- sum(hit[m$arm == "resolve"]); n1 <- sum(m$arm == "resolve")
    x2 <- sum(hit[m$arm == "sham"]); n2 <- sum(m$arm == "sham")
    r <- newcombe(x1, n1, x2, n2, 0.95)
    k <- nnt(r[["d"]], r[["lower"]], r[["upper"]])
    rows[[length(rows) + 1]] <- data.frame(
      responder = def$name, visit = v, contrast = "resolve - sham",
      n_arm = n1, responders_arm = x1, n_comparator = n2, responders_comparator = x2,
      risk_difference = r[["d"]], conf_low = r[["lower"]], conf_high = r[["upper"]],
      nnt_type = k[["type"]], nnt = as.numeric(k[["nnt"]]),
      nnt_low = as.numeric(k[["low"]]), nnt_high = as.numeric(k[["high"]]))
  }
}
out2 <- do.call(rbind, rows)
write.csv(out2, file.path(script_dir, "responders_resolve.csv"), row.names = FALSE, na = "")
cat("wrote responders_newcombe_cases.csv and responders_resolve.csv\n")
