## Shared by resolve_modifiers.R, resolve_modifiers_hc2.R and resolve_modifiers_hc3.R:
## the bundled trial, the modifiers, outcomes and visits, and one outcome x visit cell.
## Sourced after common.R, with script_dir set.

repo_root <- normalizePath(file.path(script_dir, "..", "..", ".."), mustWork = TRUE)
d <- read.csv(file.path(repo_root, "src", "resolve", "datasets", "resolve.csv"),
              colClasses = c(id = "character"))

mods <- c("pseq", "pcs", "pain_baseline", "psychoactive", "frebaq", "tsk", "rmdq_baseline", "bbq")
binary <- c("psychoactive")
outs <- c("pain", "rmdq")
visits <- c("week 12", "week 18", "week 26", "week 52")
family <- c("week 18", "week 52")

base <- d[d$visit == "baseline", ]
participants <- base[!duplicated(base$id), ]

cell_data <- function(o, v) {
  dv <- d[d$visit == v, c("id", "arm", o, mods)]
  dv$y <- dv[[o]]
  dv$y0 <- base[[o]][match(dv$id, base$id)]
  dv$arm <- factor(dv$arm, levels = c("sham", "resolve"))
  dv
}
