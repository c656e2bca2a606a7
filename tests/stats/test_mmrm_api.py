"""MMRM behaviour beyond the SAS listings: invariances, errors, convergence, derivatives.

golden: the bcva log-likelihoods come from tests/reference/sas/UPSTREAM-README.md (R mmrm
0.3.18, us REML: -16035.51; quoted to -16035.5149 in the brief) and lme4
``lmer(BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT + (1 | USUBJID))`` (-16776.20).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from resolve.errors import ConvergenceError, DataValidationError, UnknownNameError
from resolve.stats import FitControl, mmrm
from resolve.stats.mmrm.design import build_design
from resolve.stats.mmrm.df import make_df_method
from resolve.stats.mmrm.likelihood import Likelihood
from resolve.stats.mmrm.spec import MMRMSpec

FORMULA = "FEV1 ~ RACE + SEX + ARMCD * AVISIT"
KW = {"subject": "USUBJID", "visit": "AVISIT"}


@pytest.fixture(scope="module")
def base(fev: pd.DataFrame):  # type: ignore[no-untyped-def]
    return mmrm(FORMULA, fev, **KW)


def test_table_columns_and_dict(base) -> None:  # type: ignore[no-untyped-def]
    frame = base.to_frame()
    assert list(frame.columns) == [
        "term",
        "estimate",
        "std_error",
        "df",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    d = base.to_dict()
    json.dumps(d)
    for key in ("converged", "loglik", "aic", "bic", "n_subjects", "n_obs", "coefficients"):
        assert key in d
    assert d["covariance"]["structure"] == "us"
    assert d["covariance"]["visits"] == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert len(d["covariance"]["matrices"]["all"]) == 4
    assert base.n_subjects == 197 and base.n_obs == 537
    assert "Coefficients" in base.summary()
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.conf_level = 0.9


def test_shuffled_rows_and_relabelled_subjects_give_identical_fit(fev, base) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(20240501)
    shuffled = fev.sample(frac=1.0, random_state=rng).reset_index(drop=True)
    mapping = {s: f"S{rng.integers(1_000_000):07d}_{i}" for i, s in enumerate(fev.USUBJID.unique())}
    shuffled["USUBJID"] = shuffled["USUBJID"].map(mapping)
    other = mmrm(FORMULA, shuffled, **KW)
    pd.testing.assert_frame_equal(other.to_frame(), base.to_frame(), rtol=1e-7)
    assert other.loglik == pytest.approx(base.loglik, rel=1e-10)


def test_swapping_arm_labels_flips_treatment_effect(fev) -> None:  # type: ignore[no-untyped-def]
    a = mmrm("FEV1 ~ ARMCD * AVISIT", fev, **KW)
    swapped = fev.assign(ARMCD=fev.ARMCD.map({"PBO": "TRT", "TRT": "PBO"}))
    b = mmrm("FEV1 ~ ARMCD * AVISIT", swapped, **KW)
    da = a.lsmeans("ARMCD", by="AVISIT").differences
    db = b.lsmeans("ARMCD", by="AVISIT").differences
    np.testing.assert_allclose(da.estimate, -db.estimate, rtol=1e-6)
    np.testing.assert_allclose(da.std_error, db.std_error, rtol=1e-6)
    np.testing.assert_allclose(da.df, db.df, rtol=1e-5)


def test_rescaling_outcome_rescales_estimates_and_se(fev, base) -> None:  # type: ignore[no-untyped-def]
    scaled = mmrm(FORMULA, fev.assign(FEV1=fev.FEV1 * 10.0), **KW).to_frame()
    ref = base.to_frame()
    np.testing.assert_allclose(scaled.estimate, 10 * ref.estimate, rtol=1e-6)
    np.testing.assert_allclose(scaled.std_error, 10 * ref.std_error, rtol=1e-6)
    np.testing.assert_allclose(scaled.df, ref.df, rtol=1e-5)


def test_rank_deficient_design_reports_aliased_columns(fev) -> None:  # type: ignore[no-untyped-def]
    fit = mmrm("FEV1 ~ ARMCD + ARM2 + AVISIT", fev.assign(ARM2=fev.ARMCD), **KW)
    assert fit.aliased == ("ARM2TRT",)
    row = fit.to_frame().set_index("term").loc["ARM2TRT"]
    assert np.isnan(row.estimate) and np.isnan(row.std_error)
    ref = mmrm("FEV1 ~ ARMCD + AVISIT", fev, **KW)
    assert fit.loglik == pytest.approx(ref.loglik, rel=1e-10)


def test_contrast_and_joint_test(base) -> None:  # type: ignore[no-untyped-def]
    one = base.contrast({"trt": [1.0 if n == "ARMCDTRT" else 0.0 for n in base.coef_names]})
    ref = base.to_frame().set_index("term").loc["ARMCDTRT"]
    assert one.estimate.iloc[0] == pytest.approx(ref.estimate)
    assert one.df.iloc[0] == pytest.approx(ref.df)
    lmat = pd.DataFrame(
        [{"ARMCDTRT:AVISITVIS2": 1.0}, {"ARMCDTRT:AVISITVIS3": 1.0}, {"ARMCDTRT:AVISITVIS4": 1.0}]
    )
    joint = base.contrast(lmat, joint=True)
    anova = base.anova().set_index("term").loc["ARMCD:AVISIT"]
    assert joint.statistic.iloc[0] == pytest.approx(anova.statistic, rel=1e-8)
    with pytest.raises(DataValidationError):
        base.contrast([1.0, 2.0])


def test_other_df_methods(fev) -> None:  # type: ignore[no-untyped-def]
    res = mmrm(FORMULA, fev, df="residual", **KW)
    assert set(res.to_frame().df) == {537 - 11}
    bw = mmrm(FORMULA, fev, df="between-within", **KW).to_frame().set_index("term")
    # mmrm rule: between = n_subj - n_between - n_intercept; within = n_obs - n_subj - n_within
    assert bw.loc["RACEWhite", "df"] == 197 - 4 - 1
    assert bw.loc["AVISITVIS2", "df"] == 537 - 197 - 6
    kr = mmrm(FORMULA, fev, df="kenward-roger", **KW)
    assert kr.df_method == "kenward-roger" and np.all(np.isfinite(kr.to_frame().df))
    with pytest.raises(UnknownNameError, match="kenward-roger"):
        make_df_method("no-such-method", kr._info)


def test_lsmeans_weights(fev) -> None:  # type: ignore[no-untyped-def]
    fit = mmrm("FEV1 ~ RACE + ARMCD * AVISIT", fev, **KW)
    eq = fit.lsmeans("ARMCD", by="AVISIT").estimates
    prop = fit.lsmeans("ARMCD", by="AVISIT", weights="proportional").estimates
    assert not np.allclose(eq.estimate, prop.estimate)
    np.testing.assert_allclose(
        fit.lsmeans("ARMCD", by="AVISIT").differences.estimate,
        fit.lsmeans("ARMCD", by="AVISIT", weights="proportional").differences.estimate,
    )
    with pytest.raises(UnknownNameError):
        fit.lsmeans("ARMCD", weights="odd")
    with pytest.raises(DataValidationError, match="SEX"):
        fit.lsmeans("SEX")


@pytest.mark.parametrize(
    ("kwargs", "data_change", "match"),
    [
        ({"formula": "FEV1 ~ NOPE"}, None, "NOPE"),
        ({"subject": "ID"}, None, "ID"),
        ({}, "duplicate", "unique"),
        ({}, "text_outcome", "numeric"),
        ({}, "empty_visit", "VIS9"),
        ({"formula": "FEV1 ~ ARMCD +* AVISIT"}, None, "parse"),
        ({"formula": "no tilde"}, None, "formula"),
        ({"cov": "unknown"}, None, "cov must be one of"),
        ({"method": "bayes"}, None, "method"),
        ({"cov": "sp_exp"}, None, "coordinates"),
        ({"weights": "NEG"}, "negative_weights", "positive"),
        ({"group": "VISITN"}, None, "constant within subject"),
        ({"group": "FEV1_BL"}, None, "at most 20"),
    ],
)
def test_bad_input_is_named(fev, kwargs, data_change, match) -> None:  # type: ignore[no-untyped-def]
    data = fev.copy()
    if data_change == "duplicate":
        data = pd.concat([data, data.iloc[[1]]])
    elif data_change == "text_outcome":
        data["FEV1"] = data["FEV1"].astype(object)
        data.loc[3, "FEV1"] = "missing"
    elif data_change == "empty_visit":
        data["AVISIT"] = pd.Categorical(
            data.AVISIT, categories=["VIS1", "VIS2", "VIS3", "VIS4", "VIS9"]
        )
    elif data_change == "negative_weights":
        data["NEG"] = -1.0
    args = {"formula": "FEV1 ~ ARMCD * AVISIT", **KW, **kwargs}
    formula = args.pop("formula")
    with pytest.raises((DataValidationError, UnknownNameError), match=match):
        mmrm(formula, data, **args)


def test_convergence_report_and_error(fev, base) -> None:  # type: ignore[no-untyped-def]
    rep = base.convergence
    assert rep.converged and rep.chosen is not None
    assert rep.attempts[rep.chosen].hessian_pd
    assert "chosen" in str(rep)
    with pytest.raises(ConvergenceError) as info:
        mmrm(
            "FEV1 ~ ARMCD", fev, control=FitControl(optimizers=("L-BFGS-B", "BFGS"), tol=0.0), **KW
        )
    text = str(info.value)
    assert "1. L-BFGS-B from empirical start" in text
    assert "diagonal start" in text and "next steps" in text


@pytest.mark.parametrize("cov", ["us", "cs", "ar1h", "toep", "ad", "ri", "sp_exp"])
@pytest.mark.parametrize("reml", [True, False])
def test_gradient_and_hessian_match_finite_differences(fev, cov, reml) -> None:  # type: ignore[no-untyped-def]
    spec = MMRMSpec(
        formula="FEV1 ~ ARMCD + AVISIT",
        subject="USUBJID",
        visit="AVISIT",
        cov=cov,
        group="ARMCD" if cov == "ar1h" else None,
        weights="WEIGHT" if cov == "ad" else None,
        coordinates=("VISITN", "VISITN2") if cov == "sp_exp" else (),
    )
    data = build_design(spec, fev)
    lik = Likelihood(data, reml)
    rng = np.random.default_rng(7)
    theta = rng.normal(0.0, 0.3, data.cov_model.n_params)
    theta[0] += 2.0
    ev = lik.evaluate(theta, 2)
    h = 1e-5
    eye = np.eye(theta.size)
    grad = np.array(
        [
            (lik.evaluate(theta + h * e).value - lik.evaluate(theta - h * e).value) / (2 * h)
            for e in eye
        ]
    )
    hess = np.array(
        [
            (lik.evaluate(theta + h * e, 1).gradient - lik.evaluate(theta - h * e, 1).gradient)
            / (2 * h)
            for e in eye
        ]
    )  # type: ignore[operator]
    assert ev.gradient is not None and ev.hessian is not None
    np.testing.assert_allclose(ev.gradient, grad, atol=1e-6 * np.abs(grad).max())
    np.testing.assert_allclose(ev.hessian, hess, atol=1e-6 * np.abs(hess).max())


def test_bcva_loglik_matches_r(bcva) -> None:  # type: ignore[no-untyped-def]
    # golden: R mmrm 0.3.18 on tests/reference/sas/bcva_data.csv (UPSTREAM-README.md; -16035.5149)
    us = mmrm("BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT", bcva, cov="us", **KW)
    assert us.loglik == pytest.approx(-16035.5149, rel=1e-8)
    # golden: lme4 lmer(BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT + (1 | USUBJID)), REML, -16776.20
    ri = mmrm("BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT", bcva, cov="ri", **KW)
    assert ri.loglik == pytest.approx(-16776.20, abs=0.005)
    assert ri.cov_params.estimate.min() > 0


# -- factor levels and visit order (resolve._levels) ---------------------------------


def _r_levels(case: str) -> list[str]:
    """golden: levels(factor(x)) from R (tests/reference/r/levels_sort.R -> levels_sort.csv)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "reference" / "r" / "levels_sort.csv"
    table = pd.read_csv(path, keep_default_na=False, dtype={"level": str})
    rows = table[table["case"] == case].sort_values("position")
    return list(rows["level"])


def test_fev_levels_and_reference_levels_are_rs(base) -> None:  # type: ignore[no-untyped-def]
    assert base.factor_levels["RACE"] == _r_levels("fev_race")
    assert base.factor_levels["SEX"] == _r_levels("fev_sex")
    assert base.reference_levels == {
        "ARMCD": "PBO",
        "AVISIT": "VIS1",
        "RACE": _r_levels("fev_race")[0],
        "SEX": _r_levels("fev_sex")[0],
    }
    assert base.visit_levels == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert base.visit_order_source == "natural" and base.visit_order_inferred
    text = base.summary()
    assert "visit order inferred from labels: VIS1 < VIS2 < VIS3 < VIS4" in text
    assert "reference levels: ARMCD = PBO, AVISIT = VIS1, RACE = Asian, SEX = Female" in text
    d = base.to_dict()
    assert d["visit_order"] == {
        "levels": ["VIS1", "VIS2", "VIS3", "VIS4"],
        "source": "natural",
        "inferred": True,
    }
    assert d["reference_levels"]["RACE"] == "Asian"


def test_mixed_case_arm_labels_use_r_order(fev, base) -> None:  # type: ignore[no-untyped-def]
    data = fev.assign(ARMCD=fev["ARMCD"].map({"PBO": "Beta", "TRT": "alpha"}))
    fit = mmrm(FORMULA, data, **KW)
    # R: levels(factor(c("Beta", "alpha"))) is alpha, Beta (levels_sort.csv, case mixed_case)
    assert fit.factor_levels["ARMCD"] == [v for v in _r_levels("mixed_case") if v != "gamma"]
    assert fit.reference_levels["ARMCD"] == "alpha"
    assert "ARMCDBeta" in fit.coef_names and "ARMCDalpha" not in fit.coef_names
    # alpha is the old TRT arm: the arm effect at the reference visit changes sign.
    assert fit.loglik == pytest.approx(base.loglik, abs=1e-8)
    assert fit.coefficients["ARMCDBeta"] == pytest.approx(-base.coefficients["ARMCDTRT"], abs=1e-6)


PERMUTED = ["VIS2", "VIS1", "VIS3", "VIS4"]


def test_categorical_and_declared_visit_order_drive_ar1(fev) -> None:  # type: ignore[no-untyped-def]
    natural = mmrm(FORMULA, fev, cov="ar1", **KW)
    # The same permutation three ways: ordered Categorical, visit_order=, relabelling.
    cat = fev.assign(
        AVISIT=pd.Categorical(fev["AVISIT"], categories=PERMUTED, ordered=True),
        ARMCD=pd.Categorical(fev["ARMCD"], categories=["TRT", "PBO"], ordered=True),
    )
    by_cat = mmrm(FORMULA, cat, cov="ar1", **KW)
    assert by_cat.visit_levels == PERMUTED and by_cat.visit_order_source == "categorical"
    assert not by_cat.visit_order_inferred
    assert by_cat.reference_levels["ARMCD"] == "TRT" and "ARMCDPBO" in by_cat.coef_names
    declared = mmrm(FORMULA, fev, cov="ar1", visit_order=PERMUTED, **KW)
    assert declared.visit_levels == PERMUTED and declared.visit_order_source == "declared"
    relabel = {v: f"t{i + 1}" for i, v in enumerate(PERMUTED)}
    renamed = mmrm(FORMULA, fev.assign(AVISIT=fev["AVISIT"].map(relabel)), cov="ar1", **KW)
    assert renamed.visit_levels == ["t1", "t2", "t3", "t4"]
    assert by_cat.loglik == pytest.approx(renamed.loglik, abs=1e-8)
    assert declared.loglik == pytest.approx(renamed.loglik, abs=1e-8)
    assert abs(declared.loglik - natural.loglik) > 1e-3  # the order matters for ar1
    assert "inferred" not in declared.summary()


def test_numeric_visit_labels_sort_by_value(fev) -> None:  # type: ignore[no-untyped-def]
    natural = mmrm(FORMULA, fev, cov="ar1", **KW)
    data = fev.assign(WEEK=fev["VISITN"].map({1: 1, 2: 2, 3: 10, 4: 20}))
    fit = mmrm(FORMULA, data, subject="USUBJID", visit="WEEK", cov="ar1")
    assert fit.visit_levels == ["1", "2", "10", "20"]  # text order would be 1, 10, 2, 20
    assert fit.visit_order_source == "natural" and not fit.visit_order_inferred
    assert fit.loglik == pytest.approx(natural.loglik, abs=1e-8)
    assert "inferred" not in fit.summary()


@pytest.mark.parametrize(
    ("order", "match"),
    [
        (["VIS1", "VIS2", "VIS3", "VIS4", "VIS9"], r"'VIS9'.*not a value of visit column 'AVISIT'"),
        (["VIS1", "VIS2", "VIS3"], r"visit column 'AVISIT' lack .*'VIS4'"),
        (["VIS1", "VIS1", "VIS2", "VIS3", "VIS4"], "repeat 'VIS1'"),
        ("VIS1,VIS2", "list of visit labels"),
        ([], "empty"),
    ],
)
def test_bad_visit_order_is_named(fev, order, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataValidationError, match=match):
        mmrm(FORMULA, fev, cov="ar1", visit_order=order, **KW)


def test_batch_uses_visit_order(fev) -> None:  # type: ignore[no-untyped-def]
    from resolve.stats import mmrm_batch

    declared = mmrm(FORMULA, fev, cov="ar1", visit_order=PERMUTED, **KW)
    out = mmrm_batch(FORMULA, [fev, fev], cov="ar1", visit_order=PERMUTED, **KW)
    assert out.fits["loglik"].to_numpy() == pytest.approx([declared.loglik] * 2, abs=1e-8)
    plain = mmrm_batch(FORMULA, [fev], cov="ar1", **KW)
    assert abs(plain.fits["loglik"].iloc[0] - declared.loglik) > 1e-3
