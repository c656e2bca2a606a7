"""MMRM fits against R (nlme, lme4 + lmerTest, emmeans) on fev and bcva.

Golden files: ``tests/reference/r/*.csv``, documented (with the exact R calls
and caveats) in ``tests/reference/README.md``; data ``fev_data.csv`` and
``bcva_data.csv`` from ``tests/reference/sas`` (in the repository).
Models: fev ``FEV1 ~ RACE + SEX + ARMCD * AVISIT``, bcva ``BCVA_CHG ~ BCVA_BL +
RACE + ARMCD * AVISIT``; subject ``USUBJID``, visit ``AVISIT``.  Each R model is
matched by an engine structure: ``gls_us``/``gls_cs``/``gls_ar1`` by ``cov="us"/
"cs"/"ar1"`` and ``lmer_ri`` (lme4 ``(1 | USUBJID)``) by ``cov="ri"``.

Tolerances (why they are what they are):

* logLik: 1e-5 absolute for gls, and ours must not be below R's (we maximise
  at least as well).  nlme's gls stops ~1e-7 short of the optimum (README: fev
  REML gls_us -1693.2249356919 vs -1693.2249355812 in the tighter fit of
  ``satterthwaite_us_fev.csv``), so 1e-5 keeps a 100x margin while any change of
  the model moves logLik by far more.  lmer: 1e-6 absolute; lme4 agrees with
  gls_cs (the same model) to ~1e-9 (README), so it is converged that well.
* Coefficients and LS-means: ``|ours - R| <= 1e-4 * max(|R|, SE)``.  gls
  estimates are converged only to ~1e-5 relative (README); the error an
  inexact optimum puts on a coefficient is on the scale of its standard error,
  not of its size, so a near-zero coefficient needs the SE floor (fev gls_us
  REML ``ARMCDTRT:AVISITVIS2`` = -0.04209: ours vs gls 7.3e-4 relative, 3e-5 SE;
  ours vs the tighter R fit in ``satterthwaite_us_fev.csv`` 2.7e-7 relative).
* Standard errors, lmer Satterthwaite df, t, p, F, variance components: 1e-4
  relative (t with an absolute floor of 1e-4, as t = estimate / SE inherits the
  estimate tolerance).
* gls visit covariance matrix: 1e-3 relative per entry (R mmrm's own tests use
  1e-3 for covariance parameters; a loosely converged variance parameter
  moves a small covariance most: bcva/fev gls_us up to 4e-4 observed).
* ``satterthwaite_us_fev.csv`` df: 1e-3 relative, the README's bound for its
  numerical derivatives (numDeriv gradient and Hessian); p from that file 1e-3
  relative as well: a far-tail p (intercept, p ~ 1.8e-89) amplifies a df
  difference ~200 times.

Known conventions handled explicitly (README "Caveats"):

* nlme's gls ML standard errors are inflated by ``sqrt(N / (N - p))`` relative
  to the ML ``(X' V^-1 X)^-1`` of mmrm / SAS; they are divided by that factor
  before comparing (the same for emmeans on gls ML fits).
  ``satterthwaite_us_fev.csv`` has the uninflated SEs and is compared directly.
* REML AIC: nlme and lme4 count the fixed effects as parameters (``df_loglik =
  n_beta + n_theta + 1``); SAS / mmrm and the engine count only the covariance
  parameters.  BIC: nlme REML uses ``log(N - p)``, nlme ML and lme4
  ``log(N)``, the engine SAS's ``log(number of subjects)`` -- R's BIC is checked
  to be reproduced from our logLik with R's convention.
* gls ``df`` in ``gls_coefficients.csv`` is ``N - p`` (compared with our
  ``df="residual"``); emmeans' gls df are not Satterthwaite and are not used --
  fev unstructured Satterthwaite df are compared with ``satterthwaite_us_fev.csv``.
* emmeans LS-means weight RACE (and SEX) levels equally and put BCVA_BL at its
  mean over the 8605 analysis rows; ``lsmeans(weights="equal")`` is checked to
  build exactly that reference grid.
* Type III tests with several numerator df: the Satterthwaite denominator df
  (eigen decomposition of ``L V L'``, combined as Fai & Cornelius; lmerTest and
  mmrm both do this) depends on which basis ``L`` of the hypothesis is used, not
  only on the hypothesis.  The engine's ``anova()`` uses the rows of the
  sum-to-zero reparametrisation, lmerTest its own orthogonalised treatment
  contrasts; F and numerator df are basis-free and are compared at 1e-4.  The
  denominator df of ``anova()`` for multi-df terms differs from lmerTest by up
  to 2.8e-4 relative (fev RACE: 185.0659 vs 185.0161), so it is compared at
  1e-3 (its p on the log scale at 1e-3); the exact check is
  ``test_lmer_type3_lmertest_hypotheses``, which rebuilds lmerTest's ``L``
  (``extract_contrasts_type3``) and compares ``contrast(L, joint=True)`` at 1e-4.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pytest
from numpy.typing import ArrayLike, NDArray

from resolve.stats import MMRMResult, mmrm

R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"
FORMULAS = {
    "fev": "FEV1 ~ RACE + SEX + ARMCD * AVISIT",
    "bcva": "BCVA_CHG ~ BCVA_BL + RACE + ARMCD * AVISIT",
}
OUTCOME = {"fev": "FEV1", "bcva": "BCVA_CHG"}
TERMS = {
    "fev": ["RACE", "SEX", "ARMCD", "AVISIT", "ARMCD:AVISIT"],
    "bcva": ["BCVA_BL", "RACE", "ARMCD", "AVISIT", "ARMCD:AVISIT"],
}
CONTROL = {"fev": "PBO", "bcva": "CTL"}  # bcva's control arm is CTL (README)
# emmeans holds BCVA_BL at its mean over the rows used in the fit (README).
BCVA_BL_MEAN = 75.0313822984545
COV = {"gls_us": "us", "gls_cs": "cs", "gls_ar1": "ar1", "lmer_ri": "ri"}
DATASETS = ("fev", "bcva")
METHODS = ("REML", "ML")
GLS_CASES = [
    (d, m, me) for d in DATASETS for m in ("gls_us", "gls_cs", "gls_ar1") for me in METHODS
]
DS_METHODS = [(d, me) for d in DATASETS for me in METHODS]

# R's coefficient names (contr.treatment, e.g. "ARMCDTRT:AVISITVIS2").  The engine
# names coefficients the same way (resolve.stats.mmrm.design.r_name turns
# formulaic's "ARMCD[T.TRT]:AVISIT[T.VIS2]" into "ARMCDTRT:AVISITVIS2"), so the
# map is the identity; a renaming in the engine belongs here, never in the numbers.
TERM_MAP: dict[str, str] = {}

EST_REL = 1e-4  # estimates: relative to max(|R|, SE) -- see module docstring
REL = 1e-4  # SEs, lmer df, t, p, F, variance components
COV_REL = 1e-3  # gls visit covariance entries
NUMDERIV_REL = 1e-3  # satterthwaite_us_fev.csv df and p
GLS_LOGLIK_ABS = 1e-5
LMER_LOGLIK_ABS = 1e-6


class FitFn(Protocol):
    def __call__(
        self, dataset: str, model: str, method: str, df: str = "satterthwaite"
    ) -> MMRMResult: ...


Array = NDArray[np.float64]


def ours_term(r_term: str) -> str:
    return TERM_MAP.get(r_term, r_term)


# -- golden files ------------------------------------------------------------------


@cache
def _table(name: str) -> pd.DataFrame:
    return pd.read_csv(R_DIR / name)


def golden(name: str, dataset: str, model: str, method: str, **equal: str) -> pd.DataFrame:
    """Rows of ``tests/reference/r/<name>`` for one fit (plus column filters)."""
    t = _table(name)
    sel = (t["dataset"] == dataset) & (t["model"] == model) & (t["method"] == method)
    for col, value in equal.items():
        sel &= t[col] == value
    out = t.loc[sel].reset_index(drop=True)
    assert len(out) > 0, f"{name} has no rows for {dataset}/{model}/{method} {equal}"
    return out


def fit_stats(dataset: str, model: str, method: str) -> pd.Series:
    name = "lmer_fit_stats.csv" if model == "lmer_ri" else "gls_fit_stats.csv"
    rows = golden(name, dataset, model, method)
    assert len(rows) == 1
    return rows.iloc[0]


def ml_se_inflation(dataset: str, model: str, method: str) -> float:
    """nlme's factor sqrt(N / (N - p)) on gls ML standard errors (1 for REML)."""
    if method != "ML":
        return 1.0
    st = fit_stats(dataset, model, method)
    return float(np.sqrt(st["n_obs"] / (st["n_obs"] - st["n_beta"])))


# -- comparisons ---------------------------------------------------------------------


def check(
    what: str,
    labels: Iterable[object],
    ours: ArrayLike,
    ref: ArrayLike,
    *,
    rel: float,
    floor: ArrayLike = 0.0,
) -> None:
    """Assert ``|ours - ref| <= rel * max(|ref|, floor)`` elementwise, listing failures."""
    o = np.asarray(ours, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    tol = rel * np.maximum(np.abs(r), np.asarray(floor, dtype=np.float64))
    both_inf = np.isinf(o) & np.isinf(r) & (np.sign(o) == np.sign(r))
    bad = ~((np.abs(o - r) <= tol) | both_inf)
    if bad.any():
        lines = [
            f"  {lab}: ours {float(ov)!r} R {float(rv)!r} "
            f"(rel diff {abs(ov - rv) / max(abs(rv), 1e-300):.3g}, tol {float(t):.3g})"
            for lab, ov, rv, t, b in zip(
                labels, o, r, np.broadcast_to(tol, o.shape), bad, strict=True
            )
            if b
        ]
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} differ\n" + "\n".join(lines))


def keys(a: Iterable[object], b: Iterable[object]) -> list[tuple[object, object]]:
    """Row keys for ``.loc`` on a two-level index."""
    return list(zip(a, b, strict=True))


def coef_rows(result: MMRMResult, r_terms: Iterable[str]) -> pd.DataFrame:
    frame = result.to_frame().set_index("term")
    names = [ours_term(t) for t in r_terms]
    missing = [n for n in names if n not in frame.index]
    assert not missing, f"engine has no coefficient(s) {missing}; has {list(frame.index)}"
    return frame.loc[names]


# -- fits (once per module) --------------------------------------------------------


@pytest.fixture(scope="module")
def data(fev: pd.DataFrame, bcva: pd.DataFrame) -> dict[str, pd.DataFrame]:
    # golden data: tests/reference/sas/fev_data.csv, bcva_data.csv
    return {"fev": fev, "bcva": bcva}


@pytest.fixture(scope="module")
def fit(data: dict[str, pd.DataFrame]) -> FitFn:
    cache_: dict[tuple[str, str, str], MMRMResult] = {}

    def get(dataset: str, model: str, method: str, df: str = "satterthwaite") -> MMRMResult:
        key = (dataset, model, method + ("" if df == "satterthwaite" else f"/{df}"))
        if key not in cache_:
            cache_[key] = mmrm(
                FORMULAS[dataset],
                data[dataset],
                subject="USUBJID",
                visit="AVISIT",
                cov=COV[model],
                method=method.lower(),
                df=df,
            )
        return cache_[key]

    return get


# -- sample sizes and names ----------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_sample_sizes_and_term_names(dataset: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_fit_stats.csv, lmer_fit_stats.csv, gls_coefficients.csv
    for model in ("gls_us", "lmer_ri"):
        st = fit_stats(dataset, model, "REML")
        ours = fit(dataset, model, "REML")
        assert ours.converged
        assert (ours.n_obs, ours.n_subjects, len(ours.coef_names)) == (
            st["n_obs"],
            st["n_subjects"],
            st["n_beta"],
        )
        assert ours.aliased == ()
    r_terms = golden("gls_coefficients.csv", dataset, "gls_us", "REML")["term"]
    assert [ours_term(t) for t in r_terms] == list(fit(dataset, "gls_us", "REML").coef_names)


# -- nlme::gls: us / cs / ar1 --------------------------------------------------------


@pytest.mark.parametrize(("dataset", "model", "method"), GLS_CASES)
def test_gls_loglik(dataset: str, model: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_fit_stats.csv
    st = fit_stats(dataset, model, method)
    ours = fit(dataset, model, method)
    assert ours.converged
    assert ours.loglik == pytest.approx(st["loglik"], abs=GLS_LOGLIK_ABS, rel=0)
    # nlme stops short of the optimum, never beyond it (1e-8: rounding of the sums)
    assert ours.loglik >= st["loglik"] - 1e-8


@pytest.mark.parametrize(
    ("dataset", "model", "method"), GLS_CASES + [(d, "lmer_ri", m) for d, m in DS_METHODS]
)
def test_information_criteria(dataset: str, model: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_fit_stats.csv, lmer_fit_stats.csv
    st = fit_stats(dataset, model, method)
    ours = fit(dataset, model, method)
    n_beta = int(st["n_beta"])
    # R's df_loglik = fixed effects + covariance parameters (sigma included).
    assert ours.n_theta == st["df_loglik"] - n_beta
    tol = 2 * (LMER_LOGLIK_ABS if model == "lmer_ri" else GLS_LOGLIK_ABS)
    # AIC: the same for ML; for REML, R also counts the n_beta fixed effects.
    expected_aic = st["aic"] - (2 * n_beta if method == "REML" else 0)
    assert ours.aic == pytest.approx(expected_aic, abs=tol, rel=0)
    # BIC: R's number reproduced from our logLik with R's convention (see docstring).
    n_bic = st["n_obs"] - n_beta if (model != "lmer_ri" and method == "REML") else st["n_obs"]
    r_bic = -2 * ours.loglik + st["df_loglik"] * np.log(n_bic)
    assert r_bic == pytest.approx(st["bic"], abs=tol, rel=0)


@pytest.mark.parametrize(("dataset", "model", "method"), GLS_CASES)
def test_gls_coefficients(dataset: str, model: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_coefficients.csv
    ref = golden("gls_coefficients.csv", dataset, model, method)
    ours = coef_rows(fit(dataset, model, method), ref["term"])
    # ML: undo nlme's sqrt(N / (N - p)) inflation of the standard errors.
    se_ref = ref["std_error"] / ml_se_inflation(dataset, model, method)
    check("estimate", ref["term"], ours["estimate"], ref["estimate"], rel=EST_REL, floor=se_ref)
    check("std_error", ref["term"], ours["std_error"], se_ref, rel=REL)


@pytest.mark.parametrize(("dataset", "model"), [(d, m) for d, m, me in GLS_CASES if me == "REML"])
def test_gls_residual_df_t_tests(dataset: str, model: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_coefficients.csv (nlme's t tests on N - p df; REML
    # only: the ML t statistics carry the inflated standard errors)
    ref = golden("gls_coefficients.csv", dataset, model, "REML")
    ours = coef_rows(fit(dataset, model, "REML", "residual"), ref["term"])
    check("df", ref["term"], ours["df"], ref["df"], rel=1e-12)
    check("t", ref["term"], ours["statistic"], ref["statistic"], rel=EST_REL, floor=1.0)


@pytest.mark.parametrize(("dataset", "model", "method"), GLS_CASES)
def test_gls_visit_covariance(dataset: str, model: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_covariance.csv
    ref = golden("gls_covariance.csv", dataset, model, method, group="all")
    ours = fit(dataset, model, method).varcor
    assert list(ours) == ["all"]
    mat = ours["all"]
    assert sorted(mat.index) == sorted(set(ref["row_visit"]))
    values = [float(mat.loc[r, c]) for r, c in zip(ref["row_visit"], ref["col_visit"], strict=True)]
    labels = [f"{r},{c}" for r, c in zip(ref["row_visit"], ref["col_visit"], strict=True)]
    check("covariance", labels, values, ref["value"], rel=COV_REL)


# -- fev unstructured: independent Satterthwaite computation -----------------------


@pytest.mark.parametrize("method", METHODS)
def test_us_satterthwaite_coefficients_fev(method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/satterthwaite_us_fev.csv (kind = coefficient)
    ref = golden("satterthwaite_us_fev.csv", "fev", "us", method, kind="coefficient")
    ours_fit = fit("fev", "gls_us", method)
    assert ours_fit.loglik == pytest.approx(ref["loglik"].iloc[0], abs=GLS_LOGLIK_ABS, rel=0)
    ours = coef_rows(ours_fit, ref["term"])
    terms = ref["term"]
    check("estimate", terms, ours["estimate"], ref["estimate"], rel=EST_REL, floor=ref["std_error"])
    # no sqrt(N / (N - p)) inflation in this file, also for ML
    check("std_error", terms, ours["std_error"], ref["std_error"], rel=REL)
    check("df", terms, ours["df"], ref["df"], rel=NUMDERIV_REL)
    check("t", terms, ours["statistic"], ref["statistic"], rel=EST_REL, floor=1.0)
    check("p", terms, ours["p_value"], ref["p_value"], rel=NUMDERIV_REL)


@pytest.mark.parametrize("method", METHODS)
def test_us_satterthwaite_contrasts_fev(method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/satterthwaite_us_fev.csv (kind = contrast, TRT - PBO per visit)
    ref = golden("satterthwaite_us_fev.csv", "fev", "us", method, kind="contrast")
    diffs = fit("fev", "gls_us", method).lsmeans("ARMCD", by="AVISIT").differences
    ours = diffs.set_index(["AVISIT", "contrast"]).loc[keys(ref["AVISIT"], ref["term"])]
    lab = ref["AVISIT"]
    check("estimate", lab, ours["estimate"], ref["estimate"], rel=EST_REL, floor=ref["std_error"])
    check("std_error", lab, ours["std_error"], ref["std_error"], rel=REL)
    check("df", lab, ours["df"], ref["df"], rel=NUMDERIV_REL)
    check("p", lab, ours["p_value"], ref["p_value"], rel=NUMDERIV_REL)


# -- emmeans on gls_us: estimates and SEs only (df are not Satterthwaite) ------------


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_gls_us_emmeans(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_emmeans.csv (both emmeans_mode rows: same estimates/SEs)
    ref = golden("gls_emmeans.csv", dataset, "gls_us", method)
    est = fit(dataset, "gls_us", method).lsmeans("ARMCD", by="AVISIT").estimates
    ours = est.set_index(["AVISIT", "ARMCD"]).loc[keys(ref["AVISIT"], ref["ARMCD"])]
    se_ref = ref["std_error"] / ml_se_inflation(dataset, "gls_us", method)
    lab = [
        f"{a} {v} ({m})"
        for a, v, m in zip(ref["ARMCD"], ref["AVISIT"], ref["emmeans_mode"], strict=True)
    ]
    check("estimate", lab, ours["estimate"], ref["estimate"], rel=EST_REL, floor=se_ref)
    check("std_error", lab, ours["std_error"], se_ref, rel=REL)


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_gls_us_emmeans_contrasts(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/gls_contrasts.csv (pairs(emm, reverse = TRUE))
    ref = golden("gls_contrasts.csv", dataset, "gls_us", method)
    assert set(ref["contrast"]) == {f"TRT - {CONTROL[dataset]}"}
    diffs = fit(dataset, "gls_us", method).lsmeans("ARMCD", by="AVISIT").differences
    ours = diffs.set_index(["AVISIT", "contrast"]).loc[keys(ref["AVISIT"], ref["contrast"])]
    se_ref = ref["std_error"] / ml_se_inflation(dataset, "gls_us", method)
    lab = [f"{v} ({m})" for v, m in zip(ref["AVISIT"], ref["emmeans_mode"], strict=True)]
    check("estimate", lab, ours["estimate"], ref["estimate"], rel=EST_REL, floor=se_ref)
    check("std_error", lab, ours["std_error"], se_ref, rel=REL)


# -- lme4 + lmerTest: random intercept -----------------------------------------------


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_lmer_loglik(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/lmer_fit_stats.csv
    st = fit_stats(dataset, "lmer_ri", method)
    ours = fit(dataset, "lmer_ri", method)
    assert ours.converged
    assert ours.loglik == pytest.approx(st["loglik"], abs=LMER_LOGLIK_ABS, rel=0)


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_lmer_fixed_effects(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/lmer_fixed_effects.csv (summary(fit, ddf = "Satterthwaite"))
    ref = golden("lmer_fixed_effects.csv", dataset, "lmer_ri", method)
    ours = coef_rows(fit(dataset, "lmer_ri", method), ref["term"])
    terms = ref["term"]
    check("estimate", terms, ours["estimate"], ref["estimate"], rel=EST_REL, floor=ref["std_error"])
    check("std_error", terms, ours["std_error"], ref["std_error"], rel=REL)
    check("df", terms, ours["df"], ref["df"], rel=REL)
    check("t", terms, ours["statistic"], ref["statistic"], rel=REL, floor=1.0)
    check("p", terms, ours["p_value"], ref["p_value"], rel=REL)


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_lmer_variance_components(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/lmer_variance_components.csv
    ref = golden("lmer_variance_components.csv", dataset, "lmer_ri", method).set_index("component")
    ours = fit(dataset, "lmer_ri", method)
    params = ours.cov_params.set_index("name")["estimate"]
    variances = ref["variance"].to_dict()
    tau2, s2 = float(variances["intercept"]), float(variances["residual"])
    check(
        "variance",
        ["intercept", "residual"],
        [params["Intercept"], params["Residual"]],
        [tau2, s2],
        rel=REL,
    )
    mat = ours.varcor["all"].to_numpy()
    m = mat.shape[0]
    check("varcor diagonal", range(m), np.diag(mat), np.full(m, tau2 + s2), rel=REL)
    off = mat[~np.eye(m, dtype=bool)]
    check("varcor off-diagonal", range(off.size), off, np.full(off.size, tau2), rel=REL)


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_lmer_type3_anova(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/lmer_anova_type3.csv (anova(fit, type = 3, ddf = "Satterthwaite"))
    ref = golden("lmer_anova_type3.csv", dataset, "lmer_ri", method)
    ours = fit(dataset, "lmer_ri", method).anova().set_index("term")
    assert list(ours.index) == list(ref["term"])
    ours = ours.loc[ref["term"]]
    terms = ref["term"]
    check("num_df", terms, ours["num_df"], ref["num_df"], rel=0)
    check("F", terms, ours["statistic"], ref["statistic"], rel=REL)
    one = (ref["num_df"] == 1).to_numpy()
    # one numerator df: basis-free, strict
    check("den_df (1 df)", terms[one], ours["den_df"][one], ref["den_df"][one], rel=REL)
    check("p (1 df)", terms[one], ours["p_value"][one], ref["p_value"][one], rel=REL)
    # several numerator df: different (equally valid) basis of the hypothesis, see docstring
    multi = ~one
    check("den_df (multi df)", terms[multi], ours["den_df"][multi], ref["den_df"][multi], rel=1e-3)
    log_ours = np.log(np.maximum(ours["p_value"][multi].to_numpy(dtype=float), 1e-300))
    log_ref = np.log(np.maximum(ref["p_value"][multi].to_numpy(dtype=float), 1e-300))
    check("log p (multi df)", terms[multi], log_ours, log_ref, rel=1e-3)


def _zapsmall(x: Array, digits: int = 7) -> Array:
    """R's zapsmall (lmerTest applies it to its contrast matrices)."""
    mx = float(np.abs(x).max()) if x.size else 0.0
    if mx <= 0:
        return x
    return np.round(x, max(0, digits - int(np.ceil(np.log10(mx)))))


def _term_columns(frame: pd.DataFrame, term: str, full: bool) -> dict[str, Array]:
    """R model.matrix columns of one term: treatment coding, or all levels (full)."""
    parts = []
    for var in term.split(":"):
        if pd.api.types.is_numeric_dtype(frame[var]):
            parts.append({var: frame[var].to_numpy(dtype=np.float64)})
        else:
            levels = sorted(frame[var].astype(str).unique())
            levels = levels if full else levels[1:]
            parts.append(
                {
                    f"{var}{lev}": (frame[var].astype(str) == lev).to_numpy(dtype=np.float64)
                    for lev in levels
                }
            )
    out = parts[0]
    for nxt in parts[1:]:  # R: the first factor varies fastest
        out = {f"{a}:{b}": va * vb for b, vb in nxt.items() for a, va in out.items()}
    return out


def lmertest_type3_contrasts(
    frame: pd.DataFrame, terms: Sequence[str]
) -> tuple[list[str], dict[str, Array]]:
    """lmerTest 3.1's ``extract_contrasts_type3`` for treatment-coded models.

    ``L = t(ginv(X) rdX)`` with ``rdX`` the rank-deficient design (intercept and
    every term with all its levels), columns of terms contained in a higher-order
    term orthogonalised against that term's columns, rows kept for ``X``'s columns.
    """
    x_cols: dict[str, Array] = {"(Intercept)": np.ones(len(frame))}
    term_idx: dict[str, list[int]] = {}
    for term in terms:
        cols = _term_columns(frame, term, full=False)
        term_idx[term] = list(range(len(x_cols), len(x_cols) + len(cols)))
        x_cols.update(cols)
    rd_cols: dict[str, Array] = {"(Intercept)": np.ones(len(frame))}
    for term in terms:
        rd_cols.update(_term_columns(frame, term, full=True))
    x = np.column_stack(list(x_cols.values()))
    rdx = np.column_stack(list(rd_cols.values()))
    lmat = _zapsmall(np.asarray(np.linalg.lstsq(x, rdx, rcond=None)[0].T, dtype=np.float64))
    order = sorted(terms, key=lambda t: -t.count(":"))  # higher order first
    for term in order:
        containing = [t for t in terms if t != term and set(term.split(":")) <= set(t.split(":"))]
        if containing:
            a = lmat[:, [i for t in containing for i in term_idx[t]]]
            y = lmat[:, term_idx[term]]
            lmat[:, term_idx[term]] = _zapsmall(y - a @ np.linalg.lstsq(a, y, rcond=None)[0])
    rd_names = list(rd_cols)
    names = list(x_cols)
    kept = lmat[[rd_names.index(n) for n in names]]
    out = {}
    for term in terms:
        rows = kept[:, term_idx[term]].T
        out[term] = rows[np.abs(rows).sum(axis=1) > 1e-8]
    return names, out


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_lmer_type3_lmertest_hypotheses(
    dataset: str, method: str, fit: FitFn, data: dict[str, pd.DataFrame]
) -> None:
    # golden: tests/reference/r/lmer_anova_type3.csv, tested with lmerTest's own L matrices
    ref = golden("lmer_anova_type3.csv", dataset, "lmer_ri", method).set_index("term")
    frame = data[dataset]
    frame = frame.loc[frame[OUTCOME[dataset]].notna()]
    names, contrasts = lmertest_type3_contrasts(frame, TERMS[dataset])
    ours_fit = fit(dataset, "lmer_ri", method)
    assert [ours_term(n) for n in names] == list(ours_fit.coef_names)
    for term, lmat in contrasts.items():
        res = ours_fit.contrast(
            pd.DataFrame(lmat, columns=[ours_term(n) for n in names]), joint=True
        ).iloc[0]
        r = ref.loc[term]
        lab = [term]
        check("num_df", lab, [res["num_df"]], [r["num_df"]], rel=0)
        check("den_df", lab, [res["den_df"]], [r["den_df"]], rel=REL)
        check("F", lab, [res["statistic"]], [r["statistic"]], rel=REL)
        check("p", lab, [res["p_value"]], [r["p_value"]], rel=REL)


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_lmer_emmeans(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/lmer_emmeans.csv (emmeans(fit, ~ ARMCD | AVISIT), Satterthwaite)
    ref = golden("lmer_emmeans.csv", dataset, "lmer_ri", method)
    est = fit(dataset, "lmer_ri", method).lsmeans("ARMCD", by="AVISIT", weights="equal")
    assert len(est.estimates) == len(ref)
    ours = est.estimates.set_index(["AVISIT", "ARMCD"]).loc[keys(ref["AVISIT"], ref["ARMCD"])]
    lab = [f"{a} {v}" for a, v in zip(ref["ARMCD"], ref["AVISIT"], strict=True)]
    se = ref["std_error"]
    check("estimate", lab, ours["estimate"], ref["estimate"], rel=EST_REL, floor=se)
    check("std_error", lab, ours["std_error"], se, rel=REL)
    check("df", lab, ours["df"], ref["df"], rel=REL)
    check("lower", lab, ours["conf_low"], ref["lower_cl"], rel=EST_REL, floor=se)
    check("upper", lab, ours["conf_high"], ref["upper_cl"], rel=EST_REL, floor=se)


@pytest.mark.parametrize(("dataset", "method"), DS_METHODS)
def test_lmer_emmeans_contrasts(dataset: str, method: str, fit: FitFn) -> None:
    # golden: tests/reference/r/lmer_contrasts.csv (pairs(emm, reverse = TRUE))
    ref = golden("lmer_contrasts.csv", dataset, "lmer_ri", method)
    assert set(ref["contrast"]) == {f"TRT - {CONTROL[dataset]}"}
    diffs = fit(dataset, "lmer_ri", method).lsmeans("ARMCD", by="AVISIT").differences
    assert len(diffs) == len(ref)
    ours = diffs.set_index(["AVISIT", "contrast"]).loc[keys(ref["AVISIT"], ref["contrast"])]
    lab = ref["AVISIT"]
    se = ref["std_error"]
    check("estimate", lab, ours["estimate"], ref["estimate"], rel=EST_REL, floor=se)
    check("std_error", lab, ours["std_error"], se, rel=REL)
    check("df", lab, ours["df"], ref["df"], rel=REL)
    check("t", lab, ours["statistic"], ref["statistic"], rel=REL, floor=1.0)
    check("p", lab, ours["p_value"], ref["p_value"], rel=REL)


# -- the emmeans reference grid ------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_lsmeans_grid_is_emmeans(dataset: str, fit: FitFn, data: dict[str, pd.DataFrame]) -> None:
    # golden: tests/reference/README.md ("emmeans weighting": RACE 1/3 each, SEX 1/2 each,
    # BCVA_BL at its mean over the 8605 analysis rows = 75.0313822984545)
    frame = data[dataset]
    frame = frame.loc[frame[OUTCOME[dataset]].notna()]
    result = fit(dataset, "lmer_ri", "REML")
    names = list(result.coef_names)
    rows = {}
    arms = sorted(frame["ARMCD"].unique())
    visits = sorted(frame["AVISIT"].unique())
    if dataset == "bcva":
        assert len(frame) == 8605
        assert frame["BCVA_BL"].mean() == pytest.approx(BCVA_BL_MEAN, rel=1e-13)
    for visit, arm in itertools.product(visits, arms):
        row = dict.fromkeys(names, 0.0)
        row["(Intercept)"] = 1.0
        for var in ("RACE", "SEX"):
            if var in frame:
                levels = sorted(frame[var].unique())
                for lev in levels[1:]:
                    row[ours_term(f"{var}{lev}")] = 1.0 / len(levels)
        if dataset == "bcva":
            row[ours_term("BCVA_BL")] = BCVA_BL_MEAN
        if arm != arms[0]:
            row[ours_term(f"ARMCD{arm}")] = 1.0
        if visit != visits[0]:
            row[ours_term(f"AVISIT{visit}")] = 1.0
        if arm != arms[0] and visit != visits[0]:
            row[ours_term(f"ARMCD{arm}:AVISIT{visit}")] = 1.0
        rows[(visit, arm)] = row
    expected = result.contrast(pd.DataFrame(list(rows.values()), columns=names))
    ours = result.lsmeans("ARMCD", by="AVISIT", weights="equal").estimates
    ours = ours.set_index(["AVISIT", "ARMCD"]).loc[list(rows)]
    lab = [f"{a} {v}" for v, a in rows]
    check("estimate", lab, ours["estimate"], expected["estimate"], rel=1e-10)
    check("std_error", lab, ours["std_error"], expected["std_error"], rel=1e-10)
