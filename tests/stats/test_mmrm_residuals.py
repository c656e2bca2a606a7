"""Residuals against SAS PROC MIXED ``OUTP=`` listings, plus their defining properties.

Golden: tests/reference/sas/sas/sas_resid_un.txt, sas_resid_un_grp.txt,
sas_resid_un_weighted.txt and sas_resid_spatial.txt (models in ``outp_cases.py``),
columns ``Resid``, ``PearsonResid``, ``ScaledResid`` (``VCIRY``) and
``StudentResid``, compared observation by observation (537 per listing).

Tolerance: half a unit of the printed last digit plus 1e-4 relative, where
"relative" is taken to the scale the residual is computed from rather than to
the residual itself, because a residual is a difference of nearly equal
numbers: ``|y|`` for raw residuals, ``|y| / sd(y)`` for Pearson and studentized
residuals, and the larger of that and ``|ScaledDep|`` (SAS's ``L^-1 y``) for
scaled residuals.  SAS stops at its relative criterion ~1e-6 above the optimum
of ``-2 log L`` so its fitted values differ from ours by up to ~5e-6 relative
(2e-4 absolute on FEV1 ~ 40); residuals near zero inherit that absolute error,
which a tolerance relative to the residual would wrongly flag.  Observed worst
cases use at most 0.9 of this tolerance (scaled residuals, weighted fit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from outp_cases import OUTP_CASES, OutpCase, fit_case
from sas_listing import SasListing

from resolve.errors import UnknownNameError
from resolve.stats import mmrm

TYPES = {
    "response": "Resid",
    "pearson": "PearsonResid",
    "normalized": "ScaledResid",
    "studentized": "StudentResid",
}


@pytest.mark.parametrize("case", OUTP_CASES, ids=lambda c: c.file)
def test_model_matches_listing(case: OutpCase, fev: pd.DataFrame, shared: Path) -> None:
    """Same model as SAS: -2 Res Log Like (8 decimals) and covariance parameters."""
    fit, *_ = fit_case(case, fev, shared)
    lst = SasListing(shared / "sas" / case.file)
    assert fit.converged
    target = lst.minus2ll()
    assert -2 * fit.loglik <= target + 1e-6  # our optimum is at or below SAS's
    assert -2 * fit.loglik == pytest.approx(target, abs=2e-4)
    sas = lst.cov_params()
    assert len(sas) == fit.n_theta
    if case.kwargs["cov"] == "sp_pow":
        ours = fit.cov_params.set_index("name")["estimate"]
        for row in sas:
            number = row.numbers[-1]
            assert number is not None
            value = float(ours[row.label.split()[0]])
            tol = 1e-4 * abs(number.value)
            assert abs(value - number.value) <= number.half_unit + tol, (row.label, value)
        return
    # UN(i, j) in SAS's visit order (its Class Level Information: VIS2 VIS3 VIS4 VIS1
    # in the weighted listing, where AVISIT's reference level is printed last)
    order = case.sas_visits
    for row in sas:
        number = row.numbers[-1]
        assert number is not None
        i, j = (int(k) - 1 for k in row.label[3 : row.label.index(")")].split(","))
        level = row.label.split()[-1] if case.kwargs.get("group") else "all"
        sigma = fit.varcor[level]
        value = float(sigma.loc[order[i], order[j]])
        scale = float(np.abs(np.diag(sigma)).max())
        # 1e-3 of the variance scale, as tests/stats/test_mmrm_sas.py (SAS's early stop)
        assert abs(value - number.value) <= number.half_unit + 1e-3 * scale, (row.label, value)


@pytest.mark.parametrize("case", OUTP_CASES, ids=lambda c: c.file)
@pytest.mark.parametrize("kind", list(TYPES))
def test_residuals_match_sas(case: OutpCase, kind: str, fev: pd.DataFrame, shared: Path) -> None:
    fit, data, sas, half = fit_case(case, fev, shared)
    col = TYPES[kind]
    ours = fit.residuals(kind).reindex(data.index).to_numpy()
    ref = sas[col].to_numpy()
    assert np.array_equal(np.isnan(ours), np.isnan(ref))  # missing FEV1 rows have none
    y = data["FEV1"].to_numpy()
    sd = np.abs(
        fit.residuals("response").reindex(data.index) / fit.residuals("pearson").reindex(data.index)
    ).to_numpy()
    if kind == "response":
        scale = np.abs(y)
    elif kind == "normalized":
        scale = np.maximum(np.abs(y) / sd, np.abs(sas["ScaledDep"].to_numpy()))
    else:
        scale = np.abs(y) / sd
    ok = ~np.isnan(ref)
    tol = half[col].to_numpy() + 1e-4 * np.maximum(np.abs(ref), scale)
    diff = np.abs(ours - ref)
    worst = int(np.nanargmax(diff / tol))
    assert np.all(diff[ok] <= tol[ok]), (sas.index[worst], ours[worst], ref[worst])


def _fit_us(fev: pd.DataFrame, **kw: object) -> object:
    return mmrm("FEV1 ~ ARMCD * AVISIT", fev, subject="USUBJID", visit="AVISIT", **kw)


def test_residual_identities(fev: pd.DataFrame) -> None:
    """Pearson = raw / sd; normalized = L^-1 raw per subject; first visit of a subject equal."""
    fit = mmrm("FEV1 ~ ARMCD * AVISIT", fev, subject="USUBJID", visit="AVISIT", cov="us")
    raw = fit.residuals()
    pearson = fit.residuals("pearson")
    norm = fit.residuals("normalized")
    sigma = fit.varcor["all"]
    frame = fev.loc[raw.index]
    sd = np.sqrt(np.diag(sigma.loc[frame["AVISIT"], frame["AVISIT"]]))
    np.testing.assert_allclose(pearson.to_numpy(), raw.to_numpy() / sd, rtol=1e-12)
    np.testing.assert_allclose(
        raw.to_numpy(), frame["FEV1"] - fit.predict(frame)["fit"], atol=1e-10
    )
    for _, rows in frame.groupby("USUBJID"):
        visits = list(rows["AVISIT"])
        chol = np.linalg.cholesky(sigma.loc[visits, visits].to_numpy())
        expect = np.linalg.solve(chol, raw.loc[rows.index].to_numpy())
        np.testing.assert_allclose(norm.loc[rows.index].to_numpy(), expect, rtol=1e-10, atol=1e-12)
        assert norm.loc[rows.index[0]] == pytest.approx(pearson.loc[rows.index[0]], rel=1e-12)


def test_normalized_residuals_are_standardised(fev: pd.DataFrame) -> None:
    """Under the model the normalized residuals have mean ~0 and variance ~1 overall."""
    fit = mmrm("FEV1 ~ RACE + SEX + ARMCD * AVISIT", fev, subject="USUBJID", visit="AVISIT")
    norm = fit.residuals("normalized")
    assert abs(norm.mean()) < 0.1
    # REML: E sum r' V^-1 r = n - p, so the mean square is (n - p) / n
    assert float((norm**2).mean()) == pytest.approx(
        (fit.n_obs - fit.data.rank) / fit.n_obs, rel=0.02
    )


def test_residual_type_is_checked(fev: pd.DataFrame) -> None:
    fit = mmrm("FEV1 ~ ARMCD", fev, subject="USUBJID", visit="AVISIT", cov="cs")
    with pytest.raises(UnknownNameError, match="type must be one of"):
        fit.residuals("deviance")


def test_sp_pow_equals_sp_exp(fev: pd.DataFrame) -> None:
    """SP(POW) and SP(EXP) are one model: same likelihood, range = -1 / log(rho)."""
    kw = {"subject": "USUBJID", "visit": "AVISIT", "coordinates": "VISITN"}
    pow_ = mmrm("FEV1 ~ ARMCD", fev, cov="sp_pow", **kw)  # type: ignore[arg-type]
    exp_ = mmrm("FEV1 ~ ARMCD", fev, cov="sp_exp", **kw)  # type: ignore[arg-type]
    assert pow_.loglik == pytest.approx(exp_.loglik, abs=1e-8)
    rho = float(pow_.cov_params.set_index("name").loc["SP(POW)", "estimate"])
    rng_ = float(exp_.cov_params.set_index("name").loc["SP(EXP)", "estimate"])
    assert rng_ == pytest.approx(-1.0 / np.log(rho), rel=1e-6)
    assert "spatial power" in pow_.summary()


def test_sp_pow_hessian_is_exact() -> None:
    """Analytic second derivatives of sp_pow agree with differences of the first."""
    from resolve.stats.mmrm.covariance import Structure, get_structure

    s = get_structure("sp_pow")
    theta = np.array([0.3, -0.4])
    geo = 1.3 * np.abs(np.subtract.outer(np.arange(4.0), np.arange(4.0)))[None]
    exact = s.hessian_blocks(theta, 4, geo)
    numeric = Structure.hessian_blocks(s, theta, 4, geo)
    np.testing.assert_allclose(exact, numeric, atol=1e-8)
