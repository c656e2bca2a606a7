"""Empirical (sandwich) covariance (``df="empirical"``) against SAS PROC MIXED ``EMPIRICAL``.

golden: tests/reference/sas/empirical/empirical_{us,cs,csh,ar1,arh1,adh,toep,toeph,spexp}
{,_weighted}{.txt,_covb.csv,_lsmean.csv}: ``PROC MIXED EMPIRICAL METHOD=REML; MODEL FEV1 =
ARMCD; REPEATED AVISIT / SUBJECT=USUBJID TYPE=...`` (``spexp``: ``SP(EXP)(VISITN VISITN2)``),
``WEIGHT WEIGHT`` in the ``_weighted`` files.  SAS reports between-within df (195)
for every row; the ``_covb.csv`` files hold the empirical covariance matrix, the
``_lsmean.csv`` files the LS-mean difference TRT - PBO at full precision.

Tolerances: 1e-4 relative on the covariance matrix, standard errors, t and
confidence limits (measured maximum 7.7e-5, empirical_toep_weighted_covb.csv; SAS
stops slightly above the optimum of ``-2 Res Log Like`` and the sandwich moves
with the covariance parameters); df exact; 1e-3 relative on p (measured 6.2e-4,
empirical_adh: p is about 1e-8 and its relative error is ``|t|`` times that of t).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sas_listing import SasListing

from resolve.stats import MMRMResult, mmrm

STRUCTURES = {
    "us": "us",
    "cs": "cs",
    "csh": "csh",
    "ar1": "ar1",
    "arh1": "ar1h",
    "adh": "adh",
    "toep": "toep",
    "toeph": "toeph",
    "spexp": "sp_exp",
}
FILES = [f"empirical_{n}{w}" for n in STRUCTURES for w in ("", "_weighted")]
_FITS: dict[str, MMRMResult] = {}


def _fit(fev: pd.DataFrame, file: str) -> MMRMResult:
    if file not in _FITS:
        name = file.removeprefix("empirical_").removesuffix("_weighted")
        cov = STRUCTURES[name]
        _FITS[file] = mmrm(
            "FEV1 ~ ARMCD",
            fev,
            subject="USUBJID",
            visit="AVISIT",
            cov=cov,
            df="empirical",
            weights="WEIGHT" if file.endswith("_weighted") else None,
            coordinates=("VISITN", "VISITN2") if cov == "sp_exp" else None,
        )
    return _FITS[file]


@pytest.mark.parametrize("file", FILES)
def test_covariance_matrix_matches_sas(file: str, fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/empirical/<file>_covb.csv
    sas = pd.read_csv(shared / "empirical" / f"{file}_covb.csv")
    expected = sas[["Col1", "Col2"]].to_numpy()[:2]  # row/column 3 is the aliased PBO level
    fit = _fit(fev, file)
    np.testing.assert_allclose(fit._df.vcov, expected, rtol=1e-4)


@pytest.mark.parametrize("file", FILES)
def test_lsmean_difference_matches_sas(file: str, fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/empirical/<file>_lsmean.csv
    sas = pd.read_csv(shared / "empirical" / f"{file}_lsmean.csv").iloc[0]
    ours = _fit(fev, file).lsmeans("ARMCD").differences.iloc[0]
    assert ours.contrast == "TRT - PBO"
    assert ours.estimate == pytest.approx(sas.Estimate, rel=1e-4)
    assert ours.std_error == pytest.approx(sas.StdErr, rel=1e-4)
    assert ours.df == sas.DF
    assert ours.statistic == pytest.approx(sas.tValue, rel=1e-4)
    assert ours.p_value == pytest.approx(sas.Probt, rel=1e-3)
    assert ours.conf_low == pytest.approx(sas.Lower, rel=1e-4)
    assert ours.conf_high == pytest.approx(sas.Upper, rel=1e-4)


@pytest.mark.parametrize("file", FILES)
def test_listing_tables_match(file: str, fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/empirical/<file>.txt (Solution for Fixed Effects,
    # Type 3 Tests, Least Squares Means)
    listing = SasListing(shared / "empirical" / f"{file}.txt")
    assert listing.info("Fixed Effects SE Method") == "Empirical"
    fit = _fit(fev, file)
    coef = fit.to_frame().set_index("term")
    n = 0
    for row in listing.rows("Solution for Fixed Effects"):
        # the section runs on into the "Empirical Covariance Matrix" rows (2-3 numbers)
        if len(row.numbers) < 5 or row.numbers[1] is None:
            continue
        r = coef.loc["(Intercept)" if row.label == "Intercept" else "ARMCDTRT"]
        est, se, df, t = row.numbers[:4]
        assert est is not None and est.close(r.estimate), row.label
        assert se is not None and se.close(r.std_error), row.label
        assert df is not None and df.value == r.df, row.label
        assert t is not None and t.close(r.statistic), row.label
        n += 1
    assert n == 2
    (t3,) = listing.rows("Type 3 Tests of Fixed Effects")
    ours = fit.anova().set_index("term").loc["ARMCD"]
    num, den, _chisq, f = t3.numbers[:4]
    assert num is not None and int(num.value) == ours.num_df
    assert den is not None and den.value == ours.den_df
    assert f is not None and f.close(ours.statistic, rel=2e-4)
    est_tab = fit.lsmeans("ARMCD").estimates.set_index("ARMCD")
    for row in listing.rows("Least Squares Means"):
        r = est_tab.loc[row.label.split()[1]]
        e, se, df = row.numbers[:3]
        lo, hi = row.numbers[6], row.numbers[7]
        assert e is not None and e.close(r.estimate)
        assert se is not None and se.close(r.std_error)
        assert df is not None and df.value == r.df
        assert lo is not None and lo.close(r.conf_low)
        assert hi is not None and hi.close(r.conf_high)


def test_sandwich_properties(fev: pd.DataFrame) -> None:
    # Within-subject coefficients get the within-subject df; the intercept and arm the
    # between-subject df; the sandwich does not depend on the row order of the data.
    fit = mmrm(
        "FEV1 ~ ARMCD + AVISIT", fev, subject="USUBJID", visit="AVISIT", cov="us", df="empirical"
    )
    tab = fit.to_frame().set_index("term")
    n_s, n = fit.n_subjects, fit.n_obs
    assert tab.loc["(Intercept)"].df == n_s - 2
    assert tab.loc["ARMCDTRT"].df == n_s - 2
    assert tab.loc["AVISITVIS2"].df == n - n_s - 3
    shuffled = fev.sample(frac=1.0, random_state=7)
    fit2 = mmrm(
        "FEV1 ~ ARMCD + AVISIT",
        shuffled,
        subject="USUBJID",
        visit="AVISIT",
        cov="us",
        df="empirical",
    )
    np.testing.assert_allclose(fit2._df.vcov, fit._df.vcov, rtol=1e-7)
    assert fit.anova().shape[0] == 2


def test_intercept_df_follows_sas_or_r_mmrm(fev: pd.DataFrame) -> None:
    # golden: tests/reference/sas/empirical/empirical_us.txt: SAS's between-within df for
    # the intercept is the between-subject df, 195 = 197 subjects - 2 between columns;
    # R mmrm's "Between-Within" gives it the within-subject df, 537 - 197 - 0 = 340
    kw = {"subject": "USUBJID", "visit": "AVISIT", "cov": "us"}
    for df in ("empirical", "between-within"):
        sas = mmrm("FEV1 ~ ARMCD", fev, df=df, **kw).to_frame().set_index("term")
        r = mmrm("FEV1 ~ ARMCD", fev, df=df, convention="mmrm", **kw).to_frame()
        r = r.set_index("term")
        assert sas.loc["(Intercept)", "df"] == 195 and sas.loc["ARMCDTRT", "df"] == 195
        assert r.loc["(Intercept)", "df"] == 340 and r.loc["ARMCDTRT", "df"] == 195
        assert r.loc["(Intercept)", "std_error"] == sas.loc["(Intercept)", "std_error"]
