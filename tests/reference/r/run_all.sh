#!/usr/bin/env bash
# Regenerate every R reference fixture in tests/reference/r/.
# Needs R with nlme, lme4, lmerTest, emmeans (Debian: r-base-core r-cran-nlme
# r-cran-lme4 r-cran-lmertest r-cran-emmeans). The mmrm example data come from
# tests/reference/sas/ in the repository (fev_data.csv, bcva_data.csv).
# Takes about 10 minutes, dominated by the bcva unstructured gls fits.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
Rscript "$here/lmer.R"
Rscript "$here/gls.R"
Rscript "$here/satterthwaite_us_fev.R"
Rscript "$here/resolve_modifiers.R"
Rscript "$here/resolve_modifiers_hc3.R"   # needs r-cran-sandwich r-cran-lmtest
Rscript "$here/resolve_modifiers_hc2.R"   # needs r-cran-clubsandwich
Rscript "$here/ols_hc2_leverage.R"       # needs r-cran-clubsandwich
Rscript "$here/resolve_mi.R"    # needs r-cran-mice
Rscript "$here/resolve_primary.R"
Rscript "$here/resolve_factor_covariate.R"
Rscript "$here/resolve_three_arm.R"
Rscript "$here/levels_sort.R"      # run with an en_US.UTF-8 locale (see README)
Rscript "$here/responders_newcombe.R"
Rscript "$here/resolve_robust.R"
Rscript "$here/benefit_resolve.R"    # needs r-cran-glmnet
Rscript -e 'pk <- c("nlme", "lme4", "lmerTest", "emmeans", "Matrix", "numDeriv");
  suppressPackageStartupMessages(for (p in pk) library(p, character.only = TRUE));
  print(sessionInfo())' > "$here/sessionInfo.txt"
echo "done: fixtures and sessionInfo.txt in $here"
