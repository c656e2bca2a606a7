"""MMRM fits against SAS PROC MIXED listings (golden: tests/reference/sas/sas/).

Every number comes from the named listing, parsed by ``sas_listing.py``.
Tolerances always include the printed precision of the listing (half a unit in
the last digit).  On top of that: 2e-4 absolute for ``-2 log L`` from the
iteration history (8 decimals; our optimum is at or below SAS's); 1e-4 relative
plus 2e-4 standard errors for estimates and confidence limits; 2e-4 relative for
standard errors; 1e-3 relative for df, t and p; 1e-3 of the variance scale for
covariance parameters.  The extra slack is needed because SAS stops at its
relative convergence criterion (1e-8) a few 1e-6 above the optimum of ``-2 log
L`` (e.g. sas_log_reml.txt 3386.44987722 vs 3386.449871), which moves small
covariances by up to ~5e-3 and standard errors by up to ~1.7e-4 relative; R
mmrm's own SAS comparisons use 1e-4 (mean relative difference over a vector)
and 1e-3 for covariance parameters.

sas_weighted.txt: SAS's Satterthwaite df for weighted fits (e.g. 407 for the
intercept) disagree with R mmrm and nlme (mmrm issue #132); for that file we
compare estimates, standard errors and t statistics, not df or p.

Covered here: sas_log, sas_log_reml (with LS-means, differences and slices),
sas_log_simple, sas_log_simple_reml, sas_{cs,csh,ar1,ar1h,adh,toeph}_{ml,reml},
sas_group_{cs,csh,ar1,ar1h,adh,toeph}_{ml,reml}, sas_sp_exp_{ml,reml},
sas_sp_exp2_{ml,reml}, sas_coef_ci_{ml,reml}_{un,ar1}, sas_weighted.

Covered elsewhere: sas_sp_gau*_*.txt and sas_sp_gau_kr.txt (spatial Gaussian,
Kenward-Roger) in test_mmrm_spatial_gau.py; sas_resid_*.txt (residuals,
predicted values and limits; spatial power in sas_resid_spatial) in
test_mmrm_residuals.py and test_mmrm_predict.py; sas_log_nonconvergence*.txt
(SAS's own convergence trouble) in test_mmrm_nonconvergence.py.

Known difference: for Type 3 tests with more than one numerator df, the
denominator df follows R mmrm (eigen-decomposition of ``L V L'``, combined as
Fai & Cornelius) and can differ from SAS by a few units (sas_log_reml.txt:
AVISIT 150.2 vs SAS 148); F statistics and 1-df tests agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sas_listing import Row, SasListing

from resolve.stats import MMRMResult, mmrm


@dataclass(frozen=True)
class Case:
    file: str
    formula: str = "FEV1 ~ 1"
    cov: str = "us"
    method: str = "reml"
    group: str | None = None
    coordinates: tuple[str, ...] = ()
    weights: str | None = None
    visit_ref: str = "VIS1"
    categories: dict[str, list[str]] = field(default_factory=dict)


FULL = "FEV1 ~ RACE + SEX + ARMCD * AVISIT_F"
CASES = [
    Case("sas_log.txt", FULL, method="ml", categories={"SEX": ["Male", "Female"]}),
    Case("sas_log_reml.txt", FULL, categories={"SEX": ["Male", "Female"]}),
    Case("sas_log_simple.txt", method="ml"),
    Case("sas_log_simple_reml.txt"),
    Case(
        "sas_weighted.txt",
        FULL,
        weights="WEIGHT",
        visit_ref="VIS4",
        categories={"SEX": ["Male", "Female"]},
    ),
]
for _cov, _sas in [
    ("cs", "cs"),
    ("csh", "csh"),
    ("ar1", "ar1"),
    ("ar1h", "ar1h"),
    ("adh", "adh"),
    ("toeph", "toeph"),
]:
    for _m in ("ml", "reml"):
        CASES.append(Case(f"sas_{_sas}_{_m}.txt", cov=_cov, method=_m))
        CASES.append(Case(f"sas_group_{_sas}_{_m}.txt", cov=_cov, method=_m, group="ARMCD"))
for _m in ("ml", "reml"):
    CASES.append(Case(f"sas_sp_exp_{_m}.txt", cov="sp_exp", method=_m, coordinates=("VISITN",)))
    CASES.append(
        Case(f"sas_sp_exp2_{_m}.txt", cov="sp_exp", method=_m, coordinates=("VISITN", "VISITN2"))
    )
    for _c in ("un", "ar1"):
        CASES.append(
            Case(
                f"sas_coef_ci_{_m}_{_c}.txt",
                "FEV1 ~ ARMCD + SEX",
                cov="us" if _c == "un" else "ar1",
                method=_m,
                categories={"SEX": ["Male", "Female"]},
            )
        )

_FITS: dict[str, tuple[MMRMResult, SasListing]] = {}


def _fit(case: Case, fev: pd.DataFrame, shared: Path) -> tuple[MMRMResult, SasListing]:
    if case.file not in _FITS:
        data = fev.copy()
        order = [case.visit_ref] + [
            v for v in ["VIS1", "VIS2", "VIS3", "VIS4"] if v != case.visit_ref
        ]
        data["AVISIT_F"] = pd.Categorical(data["AVISIT"], categories=order)
        for col, cats in case.categories.items():
            data[col] = pd.Categorical(data[col], categories=cats)
        fit = mmrm(
            case.formula,
            data,
            subject="USUBJID",
            visit="AVISIT",
            cov=case.cov,
            group=case.group,
            method=case.method,
            weights=case.weights,
            coordinates=case.coordinates or None,
        )
        _FITS[case.file] = (fit, SasListing(shared / "sas" / case.file))
    return _FITS[case.file]


def _sas_visit_order(listing: SasListing) -> list[str]:
    for ln in listing.lines:
        tok = ln.split()
        if len(tok) == 6 and tok[0] == "AVISIT" and tok[1] == "4":
            return tok[2:]
    return ["VIS1", "VIS2", "VIS3", "VIS4"]


def _coef_name(row: Row) -> str | None:
    """Map a SAS 'Solution for Fixed Effects' label to our coefficient name."""
    label = row.label
    if label == "Intercept":
        return "(Intercept)"
    effect, _, rest = label.partition(" ")
    variables = [v if v != "AVISIT" else "AVISIT_F" for v in effect.split("*")]
    levels = [rest] if len(variables) == 1 else rest.split()
    parts = {f"{v}{lev}" for v, lev in zip(variables, levels, strict=True)}
    return "|".join(sorted(parts))


def _ours_by_key(fit: MMRMResult) -> dict[str, pd.Series]:
    frame = fit.to_frame()
    return {
        "|".join(sorted(t.split(":"))): r
        for t, r in zip(frame.term, frame.itertuples(), strict=True)
    }


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_log_likelihood_and_information_criteria(
    case: Case, fev: pd.DataFrame, shared: Path
) -> None:
    # golden: tests/reference/sas/sas/<case.file> (Iteration History, Fit Statistics)
    fit, sas = _fit(case, fev, shared)
    assert fit.converged
    assert -2 * fit.loglik == pytest.approx(sas.minus2ll(), abs=2e-4)
    stats = sas.fit_statistics()
    assert stats["AIC"].close(fit.aic, rel=0)
    assert stats["BIC"].close(fit.bic, rel=0)
    assert stats["AICC"].close(fit.aicc, rel=0)


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_covariance_parameters(case: Case, fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/sas/<case.file> (Covariance Parameter Estimates)
    fit, sas = _fit(case, fev, shared)
    ours = fit.cov_params
    order = _sas_visit_order(sas)
    rows = sas.cov_params()
    assert len(rows) == len(ours)
    for row in rows:
        tokens = row.label.split()
        name = tokens[0]
        group = tokens[-1] if case.group else "all"
        est = row.numbers[0]
        assert est is not None
        if name.startswith("UN("):
            i, j = (int(v) - 1 for v in name[3:-1].split(","))
            mat = fit.varcor["all"]
            value = float(mat.loc[order[i], order[j]])
            scale = float(np.sqrt(mat.loc[order[i], order[i]] * mat.loc[order[j], order[j]]))
        else:
            sel = ours[(ours.group == group) & (ours.name == name.replace("Variance", "Residual"))]
            assert len(sel) == 1, (name, group)
            value = float(sel.estimate.iloc[0])
            if name == "CS":  # a covariance: scale by the total variance
                scale = float(ours[ours.group == group].estimate.sum())
            elif name.startswith(("Var", "Residual", "SP(")):
                scale = abs(value)
            else:  # correlations
                scale = 1.0
        # covariances: 1e-3 of the scale of the variances involved
        assert abs(value - est.value) <= est.half_unit + 1e-3 * scale, (row.label, value, est.text)


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_fixed_effects(case: Case, fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/sas/<case.file> (Solution for Fixed Effects)
    fit, sas = _fit(case, fev, shared)
    ours = _ours_by_key(fit)
    checked = 0
    for row in sas.rows("Solution for Fixed Effects"):
        if row.numbers[1] is None:  # reference level, zero by construction
            continue
        key = _coef_name(row)
        assert key in ours, (row.label, list(ours))
        r = ours[key]
        est, se, df, t, p = row.numbers[:5]
        assert est is not None and se is not None and df is not None and t is not None
        slack = 2e-4 * r.std_error
        assert abs(est.value - r.estimate) <= est.half_unit + 1e-4 * abs(r.estimate) + slack, (
            row.label,
            r.estimate,
            est.text,
        )
        assert se.close(r.std_error, rel=2e-4), (row.label, r.std_error, se.text)
        assert t.close(r.statistic, rel=1e-3), (row.label, r.statistic, t.text)
        if case.weights is not None:
            checked += 1
            continue
        assert df.close(r.df, rel=1e-3), (row.label, r.df, df.text)
        assert p is not None and p.close(r.p_value, rel=1e-3), (row.label, r.p_value, p.text)
        if len(row.numbers) == 8:
            lower, upper = row.numbers[6], row.numbers[7]
            assert lower is not None and upper is not None
            for sas_x, x in ((lower, r.conf_low), (upper, r.conf_high)):
                assert abs(sas_x.value - x) <= sas_x.half_unit + 1e-4 * abs(x) + slack, row.label
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("file", ["sas_log_reml.txt", "sas_log.txt", "sas_weighted.txt"])
def test_type3_tests(file: str, fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/sas/sas_log_reml.txt, sas_log.txt, sas_weighted.txt
    # (Type 3 Tests of Fixed Effects)
    case = next(c for c in CASES if c.file == file)
    fit, sas = _fit(case, fev, shared)
    ours = fit.anova().set_index("term")
    for row in sas.rows("Type 3 Tests of Fixed Effects"):
        term = ":".join(sorted(v if v != "AVISIT" else "AVISIT_F" for v in row.label.split("*")))
        match = [t for t in ours.index if ":".join(sorted(t.split(":"))) == term]
        r = ours.loc[match[0]]
        num, den, _chisq, f = row.numbers[:4]
        assert num is not None and int(num.value) == r.num_df
        assert f is not None and f.close(r.statistic, rel=1e-3), (row.label, r.statistic)
        if r.num_df == 1 and file != "sas_weighted.txt":
            assert den is not None and den.close(r.den_df, rel=1e-3), (row.label, r.den_df)


def test_lsmeans_and_differences_match_sas(fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/sas/sas_log_reml.txt (Least Squares Means,
    # Differences of Least Squares Means, Tests of Effect Slices)
    case = next(c for c in CASES if c.file == "sas_log_reml.txt")
    fit, sas = _fit(case, fev, shared)
    ls = fit.lsmeans(["AVISIT_F", "ARMCD"])
    est = ls.estimates.set_index(["AVISIT_F", "ARMCD"])
    for row in sas.rows("Least Squares Means"):
        _, vis, arm = row.label.split()
        r = est.loc[(vis, arm)]
        e, se, df = row.numbers[:3]
        assert e is not None and e.close(r.estimate)
        assert se is not None and se.close(r.std_error, rel=2e-4)
        assert df is not None and df.close(r.df, rel=1e-3)
        lo, hi = row.numbers[6], row.numbers[7]
        assert lo is not None and lo.close(r.conf_low) and hi is not None and hi.close(r.conf_high)
    diffs = ls.differences.set_index("contrast")
    n = 0
    for row in sas.rows("Differences of Least Squares Means"):
        _, v1, a1, v2, a2 = row.label.split()
        # SAS: (v1 a1) - (v2 a2); ours: later - earlier in level order
        if f"{v1} {a1} - {v2} {a2}" in diffs.index:
            r, sign = diffs.loc[f"{v1} {a1} - {v2} {a2}"], 1.0
        else:
            r, sign = diffs.loc[f"{v2} {a2} - {v1} {a1}"], -1.0
        e, se, df = row.numbers[:3]
        assert e is not None and e.close(sign * r.estimate), row.label
        assert se is not None and se.close(r.std_error, rel=2e-4), row.label
        assert df is not None and df.close(r.df, rel=1e-3), row.label
        n += 1
    assert n == 28
    by_visit = fit.lsmeans("ARMCD", by="AVISIT_F").differences.set_index("AVISIT_F")
    for row in sas.rows("Tests of Effect Slices"):
        _, vis = row.label.split()
        _num, den, f = row.numbers[:3]
        r = by_visit.loc[vis]
        assert r.contrast == "TRT - PBO"
        assert f is not None and f.close(r.statistic**2, rel=1e-3)
        assert den is not None and den.close(r.df, rel=1e-3)


def test_weighted_lsmeans_match_sas(fev: pd.DataFrame, shared: Path) -> None:
    # golden: tests/reference/sas/sas/sas_weighted.txt (Least Squares Means)
    case = next(c for c in CASES if c.file == "sas_weighted.txt")
    fit, sas = _fit(case, fev, shared)
    est = fit.lsmeans(["AVISIT_F", "ARMCD"]).estimates.set_index(["AVISIT_F", "ARMCD"])
    rows = sas.rows("Least Squares Means")
    assert len(rows) == 8
    for row in rows:
        _, vis, arm = row.label.split()
        r = est.loc[(vis, arm)]
        e, se = row.numbers[:2]
        assert e is not None and e.close(r.estimate)
        assert se is not None and se.close(r.std_error, rel=2e-4)


def test_listing_visit_order_is_parsed(shared: Path) -> None:
    # golden: tests/reference/sas/sas/sas_log_reml.txt (Class Level Information)
    assert _sas_visit_order(SasListing(shared / "sas" / "sas_log_reml.txt")) == [
        "VIS2",
        "VIS3",
        "VIS4",
        "VIS1",
    ]
    assert np.isfinite(SasListing(shared / "sas" / "sas_cs_reml.txt").minus2ll())
