"""Imai-Keele-Yamamoto sensitivity of the indirect effect to mediator-outcome confounding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resolve.analysis.mediation.bootstrap import bootstrap_indices
from resolve.analysis.mediation.regression import fit_single
from resolve.analysis.mediation.sensitivity import rho_curve, rho_nie, rho_thresholds
from resolve.errors import DataValidationError


def _confounded(
    n: int, rho: float, seed: int, *, a: float = 0.5, gamma: float = 0.4
) -> pd.DataFrame:
    """Linear SEM whose mediator and outcome errors have correlation ``rho``."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    c = rng.normal(size=n)
    e2, e3 = rng.multivariate_normal([0, 0], [[1.0, rho * 1.5], [rho * 1.5, 2.25]], n).T
    m = 0.2 + a * arm + 0.5 * c + e2
    y = 1.0 + 0.3 * arm + gamma * m - 0.4 * c + e3
    return pd.DataFrame({"arm": arm, "c": c, "m": m, "y": y})


def test_curve_at_zero_is_the_fit_and_zero_crossing_is_the_residual_correlation() -> None:
    df = _confounded(400, rho=0.0, seed=1)
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["c"])
    curve = rho_curve(fit, rhos=[-0.5, 0.0, 0.5])
    assert list(curve.columns) == ["outcome", "mediator", "rho", "nie", "conf_low", "conf_high"]
    assert curve.nie[1] == pytest.approx(fit.nie, abs=1e-12)
    # IKY's rho-tilde: correlation of the residuals of Y ~ A + C and M ~ A + C
    X = np.column_stack([np.ones(len(df)), df.arm, df.c])
    r_y = df.y - X @ np.linalg.lstsq(X, df.y, rcond=None)[0]
    r_m = df.m - X @ np.linalg.lstsq(X, df.m, rcond=None)[0]
    rho_tilde = float(np.corrcoef(r_y, r_m)[0, 1])
    th = rho_thresholds(fit)
    assert th.nie_zero == pytest.approx(rho_tilde, abs=1e-10)
    assert rho_nie(fit, th.nie_zero)[0][0] == pytest.approx(0.0, abs=1e-12)


def test_curve_equals_iky_published_form() -> None:
    """β2 σ1/σ2 (ρ̃ − ρ √((1 − ρ̃²)/(1 − ρ²))), σ1 from Y ~ A + C, σ2 from M ~ A + C."""
    df = _confounded(300, rho=0.3, seed=2)
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["c"])
    X = np.column_stack([np.ones(len(df)), df.arm, df.c])
    beta = np.linalg.lstsq(X, df.m, rcond=None)[0]
    r_y = df.y - X @ np.linalg.lstsq(X, df.y, rcond=None)[0]
    r_m = df.m - X @ beta
    s1, s2 = np.sqrt(np.mean(r_y**2)), np.sqrt(np.mean(r_m**2))
    rt = float(np.corrcoef(r_y, r_m)[0, 1])
    rhos = np.array([-0.7, -0.2, 0.1, 0.45, 0.8])
    iky = beta[1] * s1 / s2 * (rt - rhos * np.sqrt((1 - rt**2) / (1 - rhos**2)))
    assert rho_curve(fit, rhos=rhos).nie.to_numpy() == pytest.approx(iky, abs=1e-10)


def test_curve_recovers_the_true_indirect_effect_under_confounding() -> None:
    """Errors correlated 0.5: naive a·b is biased; NIE(ρ = 0.5) recovers a·γ = 0.2."""
    df = _confounded(40_000, rho=0.5, seed=3)
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["c"])
    assert fit.nie - 0.2 > 10 * fit.nie_se  # the naive estimate is far off
    nie, se = rho_nie(fit, 0.5)
    assert abs(nie[0] - 0.2) < 3 * se[0]


def test_delta_se_of_the_curve_matches_the_bootstrap() -> None:
    df = _confounded(2000, rho=0.0, seed=4)
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["c"])
    rhos = np.array([-0.4, 0.0, 0.3, 0.6])
    _, se = rho_nie(fit, rhos)
    draws = []
    for idx in bootstrap_indices(len(df), boot=400, seed=5):
        boot = df.iloc[idx].reset_index(drop=True)
        f = fit_single(boot, treatment="arm", outcome="y", mediator="m", covariates=["c"])
        draws.append(rho_nie(f, rhos)[0])
    sd = np.std(np.array(draws), axis=0, ddof=1)
    # 400 draws: relative MC error of an SD about 1/sqrt(800) = 3.5%
    assert se == pytest.approx(sd, rel=0.12)


def test_ci_threshold_is_where_the_interval_reaches_zero() -> None:
    df = _confounded(500, rho=0.0, seed=6)
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["c"])
    th = rho_thresholds(fit, conf_level=0.95)
    assert 0.0 < th.ci_zero < th.nie_zero
    at = rho_curve(fit, rhos=[th.ci_zero])
    assert at.conf_low[0] == pytest.approx(0.0, abs=1e-9)
    before = rho_curve(fit, rhos=np.linspace(0.0, th.ci_zero - 1e-6, 50))
    assert (before.conf_low > 0).all()
    # a wider interval reaches zero sooner
    assert rho_thresholds(fit, conf_level=0.99).ci_zero < th.ci_zero
    # no mediation (a = 0): the interval includes zero already at rho = 0
    null = _confounded(200, rho=0.0, seed=7, a=0.0)
    fit0 = fit_single(null, treatment="arm", outcome="y", mediator="m", covariates=["c"])
    at0 = rho_curve(fit0, rhos=[0.0])
    assert at0.conf_low[0] <= 0.0 <= at0.conf_high[0]
    assert rho_thresholds(fit0).ci_zero == 0.0


def test_negative_indirect_effects_cross_on_the_other_side() -> None:
    df = _confounded(500, rho=0.0, seed=8, gamma=-0.4)
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["c"])
    assert fit.nie < 0
    th = rho_thresholds(fit)
    assert th.nie_zero < th.ci_zero < 0.0
    assert rho_curve(fit, rhos=[th.ci_zero]).conf_high[0] == pytest.approx(0.0, abs=1e-9)


def test_refuses_models_outside_the_linear_case() -> None:
    df = _confounded(200, rho=0.0, seed=9)
    with pytest.raises(DataValidationError, match="no treatment-mediator interaction"):
        rho_curve(fit_single(df, treatment="arm", outcome="y", mediator="m", interaction=True))
    df["mb"] = (df.m > 0.5).astype(int)
    with pytest.raises(DataValidationError, match="continuous mediator"):
        rho_thresholds(
            fit_single(df, treatment="arm", outcome="y", mediator="mb", mediator_type="binary")
        )
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m")
    with pytest.raises(DataValidationError, match="rho must be a number in"):
        rho_curve(fit, rhos=[0.2, 1.0])
