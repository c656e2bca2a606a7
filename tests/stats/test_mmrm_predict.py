"""Predictions: SAS ``OUTP=`` predicted values and limits, and conditional prediction.

Golden: tests/reference/sas/sas/sas_resid_un.txt (all 800 rows of fev_data,
including the 263 with missing FEV1), sas_resid_un_grp.txt (800 rows),
sas_resid_un_weighted.txt and sas_resid_spatial.txt (537 rows each); columns
``Pred``, ``StdErrPred``, ``DF``, ``Lower``, ``Upper`` (models in ``outp_cases.py``).

Tolerances (on top of half a unit of the printed last digit): 1e-4 relative
for predictions (observed <= 5e-6: SAS stops ~1e-6 above the optimum of -2 log
L); 2e-4 relative for standard errors and 1e-4 relative plus 2e-4 standard
errors for limits, as tests/stats/test_mmrm_sas.py; df exact for DDFM=BW (SAS
gives predicted values the residual df, 526 and 535) and 1e-3 relative for
Satterthwaite.  sas_resid_un_weighted.txt: SAS's Satterthwaite df for weighted
fits disagree with R mmrm and with ours (mmrm issue #132), so there we check
that our prediction +- t(SAS df) x our standard error reproduces SAS's limits.

Conditional predictions have no SAS counterpart; they are checked against the
Gaussian conditioning formula computed independently, and against their
defining properties.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from outp_cases import OUTP_CASES, OutpCase, fit_case
from scipy import stats

from resolve.errors import DataValidationError, UnknownNameError
from resolve.stats import MMRMResult, mmrm


def _close(
    ours: np.ndarray, ref: np.ndarray, half: np.ndarray, rel: float, extra: float | np.ndarray = 0.0
) -> None:
    diff = np.abs(ours - ref)
    tol = half + rel * np.abs(ref) + extra
    bad = np.flatnonzero(~(diff <= tol))
    assert bad.size == 0, (bad[:5], ours[bad[:5]], ref[bad[:5]])


@pytest.mark.parametrize("case", OUTP_CASES, ids=lambda c: c.file)
def test_population_predictions_match_sas(case: OutpCase, fev: pd.DataFrame, shared: Path) -> None:
    fit, data, sas, half = fit_case(case, fev, shared)
    pred = fit.predict(data, interval="confidence")
    assert pred.index.equals(data.index)
    se = sas["StdErrPred"].to_numpy()
    _close(pred["fit"].to_numpy(), sas["Pred"].to_numpy(), half["Pred"].to_numpy(), 1e-4)
    _close(pred["std_error"].to_numpy(), se, half["StdErrPred"].to_numpy(), 2e-4)
    if "weights" in case.kwargs:
        q = stats.t.ppf(0.975, sas["DF"].to_numpy())
        lower = pred["fit"].to_numpy() - q * pred["std_error"].to_numpy()
        upper = pred["fit"].to_numpy() + q * pred["std_error"].to_numpy()
    else:
        lower, upper = pred["lower"].to_numpy(), pred["upper"].to_numpy()
        rel_df = 0.0 if case.kwargs.get("df") == "between-within" else 1e-3
        _close(pred["df"].to_numpy(), sas["DF"].to_numpy(), half["DF"].to_numpy(), rel_df)
    _close(lower, sas["Lower"].to_numpy(), half["Lower"].to_numpy(), 1e-4, 2e-4 * se)
    _close(upper, sas["Upper"].to_numpy(), half["Upper"].to_numpy(), 1e-4, 2e-4 * se)


@pytest.fixture(scope="module")
def fit_us(fev: pd.DataFrame) -> MMRMResult:
    return mmrm("FEV1 ~ RACE + ARMCD * AVISIT", fev, subject="USUBJID", visit="AVISIT", cov="us")


def test_default_newdata_gives_fitted_values(fit_us: MMRMResult) -> None:
    pred = fit_us.predict()
    raw = fit_us.residuals()
    frame = fit_us.data.frame
    np.testing.assert_allclose(pred["fit"] + raw, frame["FEV1"], atol=1e-10)
    assert list(pred.columns) == ["fit", "std_error"]


def test_conditional_prediction_formula(fit_us: MMRMResult, fev: pd.DataFrame) -> None:
    """Missing visits: X_m b + S_mo S_oo^-1 (y_o - X_o b), var S_mm - S_mo S_oo^-1 S_om."""
    pred = fit_us.predict(fev, conditional=True, interval="prediction")
    pop = fit_us.predict(fev, interval="prediction")
    sigma = fit_us.varcor["all"]
    checked = 0
    for _, rows in fev.groupby("USUBJID"):
        obs = rows["FEV1"].notna().to_numpy()
        if obs.all() or not obs.any():
            continue
        o, m = rows.index[obs], rows.index[~obs]
        vo, vm = list(rows.loc[o, "AVISIT"]), list(rows.loc[m, "AVISIT"])
        s_oo = sigma.loc[vo, vo].to_numpy()
        s_mo = sigma.loc[vm, vo].to_numpy()
        k = s_mo @ np.linalg.inv(s_oo)
        mean = (
            pop.loc[m, "fit"].to_numpy() + k @ (rows.loc[o, "FEV1"] - pop.loc[o, "fit"]).to_numpy()
        )
        cond_var = np.diag(sigma.loc[vm, vm].to_numpy() - k @ s_mo.T)
        np.testing.assert_allclose(pred.loc[m, "fit"], mean, rtol=1e-10)
        assert np.all(pred.loc[m, "std_error"] ** 2 >= cond_var - 1e-9)
        assert np.all(pred.loc[m, "std_error"] <= pop.loc[m, "std_error"] + 1e-12)
        # observed rows come back unchanged with zero standard error and a degenerate interval
        np.testing.assert_array_equal(pred.loc[o, "fit"], rows.loc[o, "FEV1"])
        assert (pred.loc[o, "std_error"] == 0).all()
        np.testing.assert_array_equal(pred.loc[o, "lower"], pred.loc[o, "upper"])
        checked += 1
    assert checked > 100


def test_conditional_without_observations_is_population(
    fit_us: MMRMResult, fev: pd.DataFrame
) -> None:
    new = fev.assign(FEV1=np.nan)
    cond = fit_us.predict(new, conditional=True, interval="prediction")
    pop = fit_us.predict(new, interval="prediction")
    pd.testing.assert_frame_equal(cond, pop, rtol=1e-12)
    conf = fit_us.predict(new, interval="confidence")
    sd = np.sqrt(np.diag(fit_us.varcor["all"].loc[new["AVISIT"], new["AVISIT"]]))
    np.testing.assert_allclose(pop["std_error"] ** 2, conf["std_error"] ** 2 + sd**2, rtol=1e-12)
    # without the outcome column, conditional prediction is the population one
    no_y = fit_us.predict(new.drop(columns="FEV1"), conditional=True, interval="prediction")
    pd.testing.assert_frame_equal(no_y, pop, rtol=1e-12)


def test_prediction_interval_covers_new_outcomes(fit_us: MMRMResult, fev: pd.DataFrame) -> None:
    """About 95% of outcomes simulated from the model fall in the 95% prediction interval."""
    pred = fit_us.predict(fev, interval="prediction")
    sims = fit_us.simulate(400, seed=20240501, newdata=fev, method="marginal")
    inside = (sims >= pred["lower"].to_numpy()[:, None]) & (
        sims <= pred["upper"].to_numpy()[:, None]
    )
    # the interval adds the (small) uncertainty of b, so coverage is a little above 95%
    assert 0.95 <= inside.mean() <= 0.96


def test_rows_keep_their_index_and_order(fit_us: MMRMResult, fev: pd.DataFrame) -> None:
    shuffled = fev.sample(frac=1.0, random_state=3)
    a = fit_us.predict(shuffled, conditional=True, interval="confidence")
    b = fit_us.predict(fev, conditional=True, interval="confidence")
    assert a.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(a.loc[fev.index], b, rtol=1e-12)


def test_missing_covariate_gives_nan_row(fit_us: MMRMResult, fev: pd.DataFrame) -> None:
    new = fev.head(8).copy()
    new.loc[new.index[2], "RACE"] = np.nan
    pred = fit_us.predict(new, interval="confidence")
    assert pred.loc[new.index[2]].isna().all()
    assert pred.drop(index=new.index[2]).notna().all().all()


def test_bad_newdata_and_options(fit_us: MMRMResult, fev: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"RACE.*not seen in the fit"):
        fit_us.predict(fev.assign(RACE="Martian"))
    with pytest.raises(DataValidationError, match="AVISIT"):
        fit_us.predict(fev.assign(AVISIT="VIS9"), conditional=True)
    with pytest.raises(DataValidationError, match="lacks column"):
        fit_us.predict(fev.drop(columns="ARMCD"))
    with pytest.raises(DataValidationError, match="USUBJID"):
        fit_us.predict(fev.drop(columns="USUBJID"), interval="prediction")
    with pytest.raises(UnknownNameError, match="interval"):
        fit_us.predict(fev, interval="tolerance")
    with pytest.raises(DataValidationError, match="level"):
        fit_us.predict(fev, interval="confidence", level=1.5)


def test_level_changes_only_the_limits(fit_us: MMRMResult, fev: pd.DataFrame) -> None:
    a = fit_us.predict(fev, interval="confidence", level=0.9)
    b = fit_us.predict(fev, interval="confidence")
    pd.testing.assert_series_equal(a["std_error"], b["std_error"])
    assert ((a["upper"] - a["lower"]) < (b["upper"] - b["lower"])).all()
