## R's factor() level order of character vectors in a UTF-8 English locale.
## Reference for resolve._levels.r_sort_levels (tests/stats/test_levels.py).
## Base R only. Writes levels_sort.csv next to this script:
##   case, position, level  -- levels(factor(x)) for each named input vector x
##   (character vectors, except `numbers`: a numeric vector, sorted numerically).
## Run: Rscript tests/reference/r/levels_sort.R   (needs the en_US.UTF-8 locale:
##   Debian: apt-get install -y locales && localedef -i en_US -f UTF-8 en_US.UTF-8)

options(warn = 1, stringsAsFactors = FALSE)
if (Sys.setlocale("LC_COLLATE", "en_US.UTF-8") == "") stop("locale en_US.UTF-8 is not installed")
message("LC_COLLATE = ", Sys.getlocale("LC_COLLATE"), "; ICU: ", capabilities("ICU"))

args <- commandArgs(trailingOnly = FALSE)
f <- sub("^--file=", "", args[grepl("^--file=", args)])
script_dir <- if (length(f) == 1L) normalizePath(dirname(f)) else normalizePath(".")

ascii <- vapply(32:126, intToUtf8, "")
set.seed(20240611)
alphabet <- c("a", "b", "c", "A", "B", "C", "0", "1", "2", " ", "-", "_", ".", "/", "(")
random <- unique(vapply(seq_len(600), function(i) {
  paste(sample(alphabet, sample(1:6, 1), replace = TRUE), collapse = "")
}, ""))

cases <- list(
  mixed_case = c("gamma", "Beta", "alpha"),
  case_pairs = c("B", "a", "b", "A"),
  visit_codes = c("VIS2", "VIS10", "VIS1", "VIS01", "vis3"),
  week_labels = c("week 6", "week 10", "week 26", "Week 2", "week 0"),
  arms = c("TRT", "PBO", "pbo", "Placebo", "placebo", "Drug A", "drug b", "DRUG-C"),
  fev_race = c("White", "Black or African American", "Asian"),
  fev_sex = c("Male", "Female"),
  bcva_arm = c("TRT", "CTL"),
  punctuation = c("a b", "a1", "ab", "a-b", "a_b", "A b", "a.b", "a/b", "a+b", "a(b)",
                  "ab ", "a  b", "a,b", "a:b", "a'b", "a$b", "a#b", "a&b", "a=b", "a~b"),
  accents = c("\u00e9", "\u00c9", "e", "E", "f", "ea", "\u00e9a", "e\u00e1", "Ea",
              "\u00e4", "a", "\u00c4", "z", "caf\u00e9", "cafe", "Caf\u00e9"),
  numbers = c(10, 2, 1, 2.5, -1, 100),
  ascii_chars = ascii,
  random_ascii = random
)

rows <- do.call(rbind, lapply(names(cases), function(nm) {
  lv <- levels(factor(cases[[nm]]))
  stopifnot(identical(lv, as.character(sort(unique(cases[[nm]])))))
  data.frame(case = nm, position = seq_along(lv), level = lv)
}))
out <- file.path(script_dir, "levels_sort.csv")
write.csv(rows, out, row.names = FALSE, fileEncoding = "UTF-8")
message("wrote ", nrow(rows), " rows to ", out)
