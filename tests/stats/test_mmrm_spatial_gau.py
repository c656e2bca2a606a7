"""Spatial Gaussian covariance (``cov="sp_gau"``) against SAS PROC MIXED ``TYPE=SP(GAU)``.

golden: tests/reference/sas/sas/sas_sp_gau_{ml,reml}.txt (``SP(GAU)(VISITN)``),
sas_sp_gau2_{ml,reml}.txt (``SP(GAU)(VISITN VISITN2)``), both ``FEV1 = ``
intercept only with Satterthwaite df; sas_sp_gau_kr.txt: ``FEV1 = ARMCD`` (class
levels PBO TRT, so TRT is SAS's reference level), ``SP(GAU)(VISITN VISITN2)``,
REML, first ``DDFM=KR`` then ``DDFM=KR(LINEAR)`` (the second section's "Fixed
Effects SE Method" is Prasad-Rao-Jeske-Kackar-Harville).

Our ``-2 log L`` agrees with SAS's iteration history within 1e-6 for all five
fits, so the tolerances are the printed precision plus 1e-4 relative (estimates,
SEs, t, F, confidence limits), 1e-3 relative for Satterthwaite/KR df and p, and
1e-3 of the parameter for the covariance parameters (printed to 4-5 digits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sas_listing import SasListing

from resolve.stats import MMRMResult, mmrm
from resolve.stats.mmrm.covariance import get_structure

CASES = {
    "sas_sp_gau_ml.txt": ("ml", ("VISITN",)),
    "sas_sp_gau_reml.txt": ("reml", ("VISITN",)),
    "sas_sp_gau2_ml.txt": ("ml", ("VISITN", "VISITN2")),
    "sas_sp_gau2_reml.txt": ("reml", ("VISITN", "VISITN2")),
}


@pytest.mark.parametrize("file", sorted(CASES))
def test_sp_gau_matches_sas(file: str, fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/sas/<file>
    method, coords = CASES[file]
    sas = SasListing(shared / "sas" / file)
    assert sas.info("Covariance Structure") == "Spatial Gaussian"
    fit = mmrm(
        "FEV1 ~ 1",
        fev,
        subject="USUBJID",
        visit="AVISIT",
        cov="sp_gau",
        method=method,
        coordinates=coords,
    )
    assert -2.0 * fit.loglik == pytest.approx(sas.minus2ll(), abs=2e-5)
    ours = dict(zip(fit.cov_params.name, fit.cov_params.estimate, strict=True))
    for row in sas.cov_params():
        est = row.numbers[0]
        assert est is not None
        name = row.label.split()[0]
        assert est.close(ours[name], rel=1e-3), (name, ours[name], est.text)
    (row,) = sas.rows("Solution for Fixed Effects")
    r = fit.to_frame().iloc[0]
    est, se, df, t = row.numbers[:4]
    assert est is not None and est.close(r.estimate)
    assert se is not None and se.close(r.std_error)
    assert df is not None and df.close(r.df, rel=1e-3)
    assert t is not None and t.close(r.statistic)


@pytest.mark.parametrize(("occurrence", "df"), [(0, "kenward-roger"), (1, "kenward-roger-linear")])
def test_sp_gau_kenward_roger_matches_sas(
    occurrence: int, df: str, fev: pd.DataFrame, shared: Path
) -> None:
    # golden: tests/reference/sas/sas/sas_sp_gau_kr.txt
    sas = SasListing(shared / "sas" / "sas_sp_gau_kr.txt")
    data = fev.copy()
    data["ARMCD"] = pd.Categorical(data["ARMCD"], categories=["TRT", "PBO"])
    fit: MMRMResult = mmrm(
        "FEV1 ~ ARMCD",
        data,
        subject="USUBJID",
        visit="AVISIT",
        cov="sp_gau",
        df=df,
        coordinates=("VISITN", "VISITN2"),
    )
    assert -2.0 * fit.loglik == pytest.approx(sas.minus2ll(), abs=2e-5)
    coef = fit.to_frame().set_index("term")
    n = 0
    for row in sas.rows("Solution for Fixed Effects", occurrence):
        if row.numbers[1] is None:
            continue
        r = coef.loc["(Intercept)" if row.label == "Intercept" else "ARMCDPBO"]
        est, se, ddf, t = row.numbers[:4]
        assert est is not None and est.close(r.estimate), row.label
        assert se is not None and se.close(r.std_error), (row.label, r.std_error, se.text)
        assert ddf is not None and ddf.close(r.df, rel=1e-3), row.label
        assert t is not None and t.close(r.statistic), row.label
        n += 1
    assert n == 2
    (t3,) = sas.rows("Type 3 Tests of Fixed Effects", occurrence)
    ours = fit.anova().iloc[0]
    num, den, _chisq, f = t3.numbers[:4]
    assert num is not None and int(num.value) == ours.num_df
    assert den is not None and den.close(ours.den_df, rel=1e-3)
    assert f is not None and f.close(ours.statistic)


def test_sp_gau_derivatives_are_exact() -> None:
    # analytic first and second derivatives against central differences
    st = get_structure("sp_gau")
    rng = np.random.default_rng(20240611)
    pts = rng.normal(size=(4, 2))
    geo = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))[None]
    theta = np.array([0.7, -0.4])
    s, d = st.blocks(theta, 4, geo)
    h2 = st.hessian_blocks(theta, 4, geo)
    for k in range(2):
        e = np.zeros(2)
        e[k] = 1e-6
        sp, dp = st.blocks(theta + e, 4, geo)
        sm, dm = st.blocks(theta - e, 4, geo)
        np.testing.assert_allclose(d[:, k], (sp - sm) / 2e-6, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(h2[:, :, k], (dp - dm) / 2e-6, rtol=1e-6, atol=1e-8)
    rho = 1.0 / (1.0 + np.exp(0.4))
    np.testing.assert_allclose(s[0], np.exp(1.4) * rho ** (geo[0] ** 2))
    (name, rng_), (_, var) = st.sas_params(theta, 4)
    assert name == "SP(GAU)"
    # SAS: exp(-d^2 / range^2) = rho^(d^2)
    assert np.exp(-1.0 / rng_**2) == pytest.approx(rho, rel=1e-12)
    assert var == pytest.approx(np.exp(1.4))
