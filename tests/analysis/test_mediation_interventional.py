"""Joint natural effects and interventional effects of several mediators.

Reference values are computed here from least-squares fits (``numpy.linalg.lstsq``) and,
for a binary mediator, from statsmodels' logistic regression: independent of the code
under test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import statsmodels.api as sm

from resolve.analysis.mediation.interventional import (
    fit_interventional,
    fit_joint,
    interventional_arrays,
    mediator_type_list,
)
from resolve.analysis.mediation.regression import fit_single, point_estimates
from resolve.errors import DataValidationError

F = npt.NDArray[np.float64]


def _coef(X: F, y: F) -> F:
    return np.asarray(np.linalg.lstsq(X, y, rcond=None)[0], dtype=float)


def trial(
    n: int = 240, *, seed: int = 5, dependent: bool = False, binary: bool = False
) -> pd.DataFrame:
    """Two mediators (optionally M1 -> M2, or M2 binary), one covariate, continuous outcome."""
    rng = np.random.default_rng(seed)
    a = np.repeat([0.0, 1.0], n // 2)
    c = rng.normal(size=n)
    m1 = 0.6 * a + 0.3 * c + rng.normal(size=n)
    if binary:
        m2 = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 0.9 * a + 0.4 * c)))).astype(float)
    else:
        m2 = -0.5 * a + 0.2 * c + (0.7 * m1 if dependent else 0.0) + rng.normal(size=n)
    y = 0.4 * a + 0.8 * m1 - 0.6 * m2 + 0.5 * c + rng.normal(size=n)
    return pd.DataFrame({"arm": a, "c": c, "m1": m1, "m2": m2, "y": y})


def test_joint_indirect_is_sum_of_products_and_te_is_total_regression() -> None:
    df = trial()
    fit = fit_joint(df, treatment="arm", outcome="y", mediators=["m1", "m2"], covariates=["c"])
    Xm = np.column_stack([np.ones(len(df)), df.arm, df.c])
    a1, a2 = _coef(Xm, df.m1.to_numpy())[1], _coef(Xm, df.m2.to_numpy())[1]
    theta = _coef(np.column_stack([np.ones(len(df)), df.arm, df.m1, df.m2, df.c]), df.y.to_numpy())
    assert fit.nie == pytest.approx(a1 * theta[2] + a2 * theta[3], abs=1e-10)
    assert fit.nde == pytest.approx(theta[1], abs=1e-10)
    # OLS algebra: c' + Σ a_k b_k is the treatment coefficient of y ~ arm + c
    assert fit.te == pytest.approx(_coef(Xm, df.y.to_numpy())[1], abs=1e-10)
    assert fit.pm == pytest.approx(fit.nie / fit.te)
    assert (fit.n, fit.dropped) == (240, 0)


def test_joint_with_interaction_follows_vanderweele_vector_formula() -> None:
    df = trial(seed=8)
    fit = fit_joint(
        df,
        treatment="arm",
        outcome="y",
        mediators=["m1", "m2"],
        covariates=["c"],
        interaction=True,
    )
    n, cbar = len(df), df.c.mean()
    Xm = np.column_stack([np.ones(n), df.arm, df.c])
    b1, b2 = _coef(Xm, df.m1.to_numpy()), _coef(Xm, df.m2.to_numpy())
    a = df.arm.to_numpy()
    th = _coef(
        np.column_stack([np.ones(n), a, df.m1, df.m2, a * df.m1, a * df.m2, df.c]),
        df.y.to_numpy(),
    )
    nie = b1[1] * (th[2] + th[4]) + b2[1] * (th[3] + th[5])
    nde = th[1] + th[4] * (b1[0] + b1[2] * cbar) + th[5] * (b2[0] + b2[2] * cbar)
    assert fit.nie == pytest.approx(nie, abs=1e-10)
    assert fit.nde == pytest.approx(nde, abs=1e-10)


def test_joint_delta_se_matches_bootstrap_spread_with_correlated_mediators() -> None:
    df = trial(n=400, seed=11, dependent=True)
    fit = fit_joint(
        df,
        treatment="arm",
        outcome="y",
        mediators=["m1", "m2"],
        covariates=["c"],
        interaction=True,
    )
    rng = np.random.default_rng(0)
    n = len(df)
    W = rng.multinomial(n, np.full(n, 1 / n), size=3000).astype(float)
    draws = point_estimates(
        df.arm.to_numpy(),
        df[["m1", "m2"]].to_numpy(),
        df.y.to_numpy(),
        df[["c"]].to_numpy(),
        W,
        interaction=True,
    )
    # 3000 resamples: the SD is within ~3% of its limit; the delta method is first order
    for key in ("nie", "nde", "te", "pm"):
        assert getattr(fit, f"{key}_se") == pytest.approx(np.std(getattr(draws, key)), rel=0.1)


def test_joint_of_one_mediator_is_fit_single() -> None:
    df = trial(n=150, seed=12)
    df.loc[[3, 40], "m1"] = np.nan
    kw: dict[str, Any] = {
        "treatment": "arm",
        "outcome": "y",
        "covariates": ["c"],
        "interaction": True,
    }
    joint = fit_joint(df, mediators=["m1"], **kw)
    single = fit_single(df, mediator="m1", **kw)
    for key in ("nde", "nie", "te", "pm", "nde_se", "nie_se", "te_se", "pm_se"):
        assert getattr(joint, key) == pytest.approx(getattr(single, key), rel=1e-9), key
    assert (joint.n, joint.dropped) == (148, 2)
    assert "2 of 150 rows dropped" in joint.warnings[0]


def test_binary_mediator_uses_logistic_model() -> None:
    df = trial(n=300, seed=3, binary=True)
    fit = fit_joint(
        df,
        treatment="arm",
        outcome="y",
        mediators=["m2"],
        covariates=["c"],
        mediator_types={"m2": "binary"},
    )
    X = sm.add_constant(df[["arm", "c"]])
    beta = sm.Logit(df.m2, X).fit(disp=0).params.to_numpy()
    theta = _coef(np.column_stack([np.ones(300), df.arm, df.m2, df.c]), df.y.to_numpy())
    lin0 = beta[0] + beta[2] * df.c.mean()
    p1, p0 = 1 / (1 + np.exp(-(lin0 + beta[1]))), 1 / (1 + np.exp(-lin0))
    assert fit.nie == pytest.approx(theta[2] * (p1 - p0), rel=1e-6)
    assert np.isnan(fit.nie_se)  # no delta method with a binary mediator


def test_single_mediator_interventional_equals_natural() -> None:
    df = trial(n=200, seed=21)
    iv = fit_interventional(
        df, treatment="arm", outcome="y", mediators=["m1"], covariates=["c"], draws=50, seed=3
    )
    n = len(df)
    Xm = np.column_stack([np.ones(n), df.arm, df.c])
    am = _coef(Xm, df.m1.to_numpy())
    th = _coef(np.column_stack([np.ones(n), df.arm, df.m1, df.c]), df.y.to_numpy())
    # common random numbers: the draws under treatment and reference differ by a b only
    assert iv.indirect["m1"] == pytest.approx(am[1] * th[2], abs=1e-10)
    assert iv.joint_indirect == pytest.approx(am[1] * th[2], abs=1e-10)
    assert iv.direct == pytest.approx(th[1], abs=1e-10)
    assert iv.dependence == pytest.approx(0.0, abs=1e-10)
    nat = fit_joint(df, treatment="arm", outcome="y", mediators=["m1"], covariates=["c"])
    assert (iv.total, iv.direct) == pytest.approx((nat.te, nat.nde), abs=1e-10)


def test_correlated_mediators_decompose_as_vansteelandt_daniel() -> None:
    df = trial(n=300, seed=9, dependent=True)
    iv = fit_interventional(
        df,
        treatment="arm",
        outcome="y",
        mediators=["m1", "m2"],
        covariates=["c"],
        interaction=True,
        draws=300,
        seed=5,
    )
    n, a = len(df), df.arm.to_numpy()
    Xm = np.column_stack([np.ones(n), a, df.c])
    th = _coef(
        np.column_stack([np.ones(n), a, df.m1, df.m2, a * df.m1, a * df.m2, df.c]),
        df.y.to_numpy(),
    )
    for k, name in enumerate(("m1", "m2")):
        coef = _coef(Xm, df[name].to_numpy())  # marginal model of M_k given A and C
        assert iv.indirect[name] == pytest.approx((th[2 + k] + th[4 + k]) * coef[1], abs=1e-10)
    joint = fit_joint(
        df,
        treatment="arm",
        outcome="y",
        mediators=["m1", "m2"],
        covariates=["c"],
        interaction=True,
    )
    # the copula differs between the arms: agreement up to Monte-Carlo error
    assert iv.total == pytest.approx(joint.te, abs=0.02)
    assert iv.direct == pytest.approx(joint.nde, abs=0.02)
    assert abs(iv.dependence) < 0.02  # an outcome model additive in the mediators
    assert iv.total == pytest.approx(iv.direct + sum(iv.indirect.values()) + iv.dependence)


def test_monte_carlo_error_shrinks_with_draws() -> None:
    df = trial(n=120, seed=6, binary=True)
    kwargs: dict[str, Any] = {
        "treatment": "arm",
        "outcome": "y",
        "mediators": ["m1", "m2"],
        "covariates": ["c"],
        "mediator_types": {"m2": "binary"},
    }
    few = [fit_interventional(df, draws=4, seed=s, **kwargs).indirect["m2"] for s in range(30)]
    many = [fit_interventional(df, draws=64, seed=s, **kwargs).indirect["m2"] for s in range(30)]
    # 16 times the draws: the SD should fall about 4-fold
    assert np.std(many) < np.std(few) / 2.5
    assert np.std(many) > 0


def test_seed_reproduces_and_differs() -> None:
    df = trial(n=80, seed=1, binary=True)
    kw: dict[str, Any] = {
        "treatment": "arm",
        "outcome": "y",
        "mediators": ["m1", "m2"],
        "draws": 10,
        "mediator_types": {"m2": "binary"},
    }
    first, again = fit_interventional(df, seed=7, **kw), fit_interventional(df, seed=7, **kw)
    other = fit_interventional(df, seed=8, **kw)
    assert first == again
    assert first.indirect["m2"] != other.indirect["m2"]
    assert first.total != other.total


def test_binary_mediator_interventional_matches_g_formula() -> None:
    df = trial(n=300, seed=13, binary=True)
    iv = fit_interventional(
        df,
        treatment="arm",
        outcome="y",
        mediators=["m2"],
        covariates=["c"],
        mediator_types={"m2": "binary"},
        draws=400,
        seed=2,
    )
    X = sm.add_constant(df[["arm", "c"]])
    beta = sm.Logit(df.m2, X).fit(disp=0).params.to_numpy()
    theta = _coef(np.column_stack([np.ones(300), df.arm, df.m2, df.c]), df.y.to_numpy())
    p1 = 1 / (1 + np.exp(-(beta[0] + beta[1] + beta[2] * df.c)))
    p0 = 1 / (1 + np.exp(-(beta[0] + beta[2] * df.c)))
    expected = theta[2] * float(np.mean(p1 - p0))  # averaged over the participants' covariates
    tol = 5 * abs(theta[2]) * np.sqrt(0.5 / (400 * 300))
    assert iv.indirect["m2"] == pytest.approx(expected, abs=tol)


def test_arrays_report_unfittable_as_nan() -> None:
    a = np.array([0.0, 0, 0, 0, 1, 1, 1, 1])
    rng = np.random.default_rng(0)
    M = np.column_stack([rng.normal(size=8), 2 * a])  # second mediator = 2 x treatment
    out = interventional_arrays(a, rng.normal(size=8), M, np.empty((8, 0)), draws=3, rng=rng)
    assert np.isnan(out["total"]) and np.isnan(out["indirect"]).all()
    few = interventional_arrays(  # two participants in the reference arm: no copula
        a[2:], rng.normal(size=6), M[2:, :1], np.empty((6, 0)), draws=3, rng=rng
    )
    assert np.isnan(few["direct"])


def test_mediator_types_by_name_or_position() -> None:
    assert mediator_type_list(["a", "b"], None) == ["continuous", "continuous"]
    assert mediator_type_list(["a", "b"], ["binary", "continuous"]) == ["binary", "continuous"]
    with pytest.raises(DataValidationError, match="2 entries for 1 mediator"):
        mediator_type_list(["a"], ["binary", "binary"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"treatment": "c"}, "treatment column 'c' must have exactly 2 distinct values"),
        ({"mediators": ["m1", "nope"]}, "lacks column(s) 'nope'"),
        ({"mediators": ["m1", "m1"]}, "mediator 'm1' is given twice"),
        ({"mediator_types": {"m1": "binary"}}, "binary mediator column 'm1' must be coded 0/1"),
        ({"mediator_types": {"m9": "binary"}}, "mediator_types names 'm9'"),
        ({"mediator_types": {"m1": "ordinal"}}, "mediator 'm1': type must be one of"),
        ({"reference": 5}, "reference 5 is not a value of treatment column 'arm'"),
    ],
)
def test_bad_input_is_named(change: dict[str, Any], message: str) -> None:
    kwargs: dict[str, Any] = {
        "treatment": "arm",
        "outcome": "y",
        "mediators": ["m1", "m2"],
        **change,
    }
    pattern = message.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(DataValidationError, match=pattern):
        fit_joint(trial(n=40), **kwargs)
    with pytest.raises(DataValidationError, match=pattern):
        fit_interventional(trial(n=40), **kwargs)
