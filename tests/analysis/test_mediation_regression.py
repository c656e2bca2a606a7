"""Regression-based natural effects: closed forms, statsmodels agreement, data checks.

The closed-form checks refit the two models independently with
``numpy.linalg.lstsq`` (uncentred covariates, a different algorithm from the
batched normal equations of the engine) and evaluate VanderWeele's formulas by
hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from resolve.analysis.mediation.bootstrap import bootstrap_indices, resample_weights
from resolve.analysis.mediation.regression import fit_single, model_data, point_estimates
from resolve.errors import DataValidationError


def _trial(n: int = 300, seed: int = 11, *, theta3: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "arm": rng.integers(0, 2, n),
            "age": rng.normal(50.0, 12.0, n),
            "pain0": rng.normal(6.0, 1.5, n),
        }
    )
    df["m"] = 2.0 + 0.5 * df.arm + 0.02 * df.age - 0.3 * df.pain0 + rng.normal(0, 1.2, n)
    df["y"] = (
        1.0
        + 0.3 * df.arm
        + 0.4 * df.m
        + theta3 * df.arm * df.m
        + 0.01 * df.age
        + 0.5 * df.pain0
        + rng.normal(0, 1.5, n)
    )
    return df


def _lstsq(X: np.ndarray, y: object) -> np.ndarray:
    coef: np.ndarray = np.linalg.lstsq(X, np.asarray(y, dtype=float), rcond=None)[0]
    return coef


COVS = ["age", "pain0"]


def test_no_interaction_closed_forms_are_exact() -> None:
    df = _trial()
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=COVS)
    one = np.ones(len(df))
    beta = _lstsq(np.column_stack([one, df.arm, df[COVS]]), df.m.to_numpy())
    theta = _lstsq(np.column_stack([one, df.arm, df.m, df[COVS]]), df.y.to_numpy())
    total = _lstsq(np.column_stack([one, df.arm, df[COVS]]), df.y.to_numpy())
    assert fit.nie == pytest.approx(beta[1] * theta[2], abs=1e-10)
    assert fit.nde == pytest.approx(theta[1], abs=1e-10)
    assert fit.te == pytest.approx(total[1], abs=1e-10)
    assert fit.pm == pytest.approx(beta[1] * theta[2] / total[1], abs=1e-10)
    assert fit.path("a") == pytest.approx(beta[1], abs=1e-10)
    assert fit.path("b") == pytest.approx(theta[2], abs=1e-10)
    assert fit.path("c_prime") == pytest.approx(theta[1], abs=1e-10)
    assert fit.n == len(df) and fit.n_dropped == 0 and fit.warnings == ()


def test_interaction_closed_forms_are_exact() -> None:
    df = _trial(theta3=0.25)
    fit = fit_single(
        df, treatment="arm", outcome="y", mediator="m", covariates=COVS, interaction=True
    )
    one = np.ones(len(df))
    b0, b1, *b2 = _lstsq(np.column_stack([one, df.arm, df[COVS]]), df.m.to_numpy())
    th = _lstsq(np.column_stack([one, df.arm, df.m, df.arm * df.m, df[COVS]]), df.y.to_numpy())
    cbar = df[COVS].mean().to_numpy()
    nde = th[1] + th[3] * (b0 + b1 * 0 + np.dot(b2, cbar))
    nie = th[2] * b1 + th[3] * b1 * 1
    assert fit.nde == pytest.approx(nde, abs=1e-10)
    assert fit.nie == pytest.approx(nie, abs=1e-10)
    assert fit.te == pytest.approx(nde + nie, abs=1e-10)
    assert fit.path("interaction") == pytest.approx(th[3], abs=1e-10)
    # the interaction matters here, so NIE is not a*b
    assert abs(fit.nie - b1 * th[2]) > 0.05


def test_binary_mediator_logistic_formulas() -> None:
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"arm": rng.integers(0, 2, n), "age": rng.normal(0, 1, n)})
    df["mb"] = rng.binomial(1, special.expit(-0.4 + 0.9 * df.arm + 0.5 * df.age))
    df["y"] = 0.2 * df.arm + 0.7 * df.mb - 0.3 * df.arm * df.mb + 0.4 * df.age + rng.normal(size=n)
    fit = fit_single(
        df,
        treatment="arm",
        outcome="y",
        mediator="mb",
        covariates=["age"],
        interaction=True,
        mediator_type="binary",
    )
    Xm = np.column_stack([np.ones(n), df.arm, df.age])
    m = df.mb.to_numpy(float)

    def nll(b: np.ndarray) -> float:
        eta = Xm @ b
        return float(np.sum(np.logaddexp(0.0, eta) - m * eta))

    beta = optimize.minimize(nll, np.zeros(3), method="BFGS", options={"gtol": 1e-10}).x
    th = _lstsq(np.column_stack([np.ones(n), df.arm, df.mb, df.arm * df.mb, df.age]), df.y)
    cbar = df.age.mean()
    p0 = special.expit(beta[0] + beta[2] * cbar)
    p1 = special.expit(beta[0] + beta[1] + beta[2] * cbar)
    assert fit.path("a") == pytest.approx(beta[1], abs=1e-5)
    assert fit.nde == pytest.approx(th[1] + th[3] * p0, abs=1e-6)
    assert fit.nie == pytest.approx((th[2] + th[3]) * (p1 - p0), abs=1e-6)
    assert np.isfinite([fit.nde_se, fit.nie_se, fit.te_se]).all()


def test_point_estimates_match_fit_single_and_joint_reduces_to_single() -> None:
    df = _trial(theta3=0.2)
    fit = fit_single(
        df, treatment="arm", outcome="y", mediator="m", covariates=COVS, interaction=True
    )
    est = point_estimates(df.arm, df.m, df.y, df[COVS], interaction=True)
    assert est.nde[0] == pytest.approx(fit.nde, abs=1e-10)
    assert est.nie[0] == pytest.approx(fit.nie, abs=1e-10)
    assert est.a[0, 0] == pytest.approx(fit.path("a"), abs=1e-10)
    # two mediators jointly: NIE = sum over mediators of a_j (b_j + theta3_j) from one outcome model
    rng = np.random.default_rng(2)
    m2 = 0.3 * df.arm + rng.normal(size=len(df))
    joint = point_estimates(df.arm, np.column_stack([df.m, m2]), df.y, df[COVS], interaction=True)
    one = np.ones(len(df))
    Xm = np.column_stack([one, df.arm, df[COVS]])
    a1, a2 = _lstsq(Xm, df.m)[1], _lstsq(Xm, m2)[1]
    th = _lstsq(
        np.column_stack([one, df.arm, df.m, m2, df.arm * df.m, df.arm * m2, df[COVS]]), df.y
    )
    assert joint.nie[0] == pytest.approx(a1 * (th[2] + th[4]) + a2 * (th[3] + th[5]), abs=1e-10)


def test_weights_equal_physical_resampling_and_deletion() -> None:
    df = _trial(n=120, theta3=0.3)
    idx = bootstrap_indices(len(df), boot=3, seed=4)
    W = resample_weights(idx, len(df))
    draws = point_estimates(df.arm, df.m, df.y, df[COVS], W, interaction=True)
    for b in range(3):
        boot = df.iloc[idx[b]].reset_index(drop=True)
        ref = fit_single(
            boot, treatment="arm", outcome="y", mediator="m", covariates=COVS, interaction=True
        )
        assert draws.nde[b] == pytest.approx(ref.nde, abs=1e-9)
        assert draws.nie[b] == pytest.approx(ref.nie, abs=1e-9)
    drop = np.ones((1, len(df)))
    drop[0, 7] = 0.0
    jack = point_estimates(df.arm, df.m, df.y, df[COVS], drop, interaction=True)
    ref = fit_single(
        df.drop(index=7),
        treatment="arm",
        outcome="y",
        mediator="m",
        covariates=COVS,
        interaction=True,
    )
    assert jack.nde[0] == pytest.approx(ref.nde, abs=1e-9)


def test_missing_rows_are_dropped_counted_and_never_zero() -> None:
    df = _trial(n=200)
    df.loc[[3, 8], "m"] = np.nan
    df.loc[[8, 20, 21], "age"] = np.nan
    fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=COVS)
    complete = fit_single(
        df.dropna().reset_index(drop=True),
        treatment="arm",
        outcome="y",
        mediator="m",
        covariates=COVS,
    )
    assert fit.n == 196 and fit.n_dropped == 4
    assert fit.nie == pytest.approx(complete.nie, abs=1e-12)
    assert len(fit.warnings) == 1
    assert "4 of 200 rows dropped" in fit.warnings[0]
    assert "m 2" in fit.warnings[0] and "age 3" in fit.warnings[0]
    assert 3 not in fit.rows and 8 not in fit.rows and 4 in fit.rows
    zeroed = df.fillna(0.0)
    wrong = fit_single(zeroed, treatment="arm", outcome="y", mediator="m", covariates=COVS)
    assert abs(wrong.nie - fit.nie) > 1e-6


def test_label_coding_reference_and_metamorphic_invariances() -> None:
    df = _trial()
    base = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=COVS)
    labelled = df.assign(arm=df.arm.map({0: "usual care", 1: "GSR"}))
    same = fit_single(
        labelled,
        treatment="arm",
        outcome="y",
        mediator="m",
        covariates=COVS,
        reference="usual care",
    )
    flipped = fit_single(
        labelled, treatment="arm", outcome="y", mediator="m", covariates=COVS, reference="GSR"
    )
    assert same.nie == pytest.approx(base.nie, abs=1e-12)
    for eff in ("nde", "nie", "te"):
        assert getattr(flipped, eff) == pytest.approx(-getattr(base, eff), abs=1e-10)
    shuffled = df.sample(frac=1.0, random_state=3)
    shuf = fit_single(shuffled, treatment="arm", outcome="y", mediator="m", covariates=COVS)
    assert shuf.nie == pytest.approx(base.nie, abs=1e-10)
    assert shuf.nie_se == pytest.approx(base.nie_se, rel=1e-9)
    scaled = fit_single(
        df.assign(y=10.0 * df.y + 3.0),
        treatment="arm",
        outcome="y",
        mediator="m",
        covariates=COVS,
    )
    assert scaled.nie == pytest.approx(10.0 * base.nie, rel=1e-9)
    assert scaled.te_se == pytest.approx(10.0 * base.te_se, rel=1e-9)
    assert scaled.pm == pytest.approx(base.pm, rel=1e-9)


def test_effects_frame_and_delta_intervals() -> None:
    fit = fit_single(
        _trial(), treatment="arm", outcome="y", mediator="m", covariates=COVS, conf_level=0.9
    )
    frame = fit.effects_frame()
    assert frame.effect.tolist() == ["nde", "nie", "te", "pm"]
    row = frame.set_index("effect").loc["nie"]
    assert row.conf_high - row.estimate == pytest.approx(1.6448536269514722 * fit.nie_se)
    assert set(frame.ci_method) == {"delta"} and set(frame.n) == {300}
    assert fit.paths_frame().columns[:3].tolist() == ["outcome", "mediator", "path"]


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (None, {"mediator": "nope"}, "lacks column.*'nope'"),
        (lambda d: d.assign(arm=d.index % 3), {}, "'arm' must have exactly 2 distinct values"),
        (lambda d: d.assign(arm=d.arm.map({0: "a", 1: "b"})), {}, "reference 0 is not a value"),
        (lambda d: d.assign(m=4.0), {}, "mediator column 'm' is constant"),
        (lambda d: d.assign(age=1.0), {"covariates": ["age"]}, "covariate column 'age' is const"),
        (lambda d: d.assign(m=d.m.round()), {"mediator_type": "binary"}, "coded 0/1"),
        (lambda d: d.assign(y=d.y.astype(object).where(d.index != 5, "n/a")), {}, "row 5"),
        (lambda d: d.assign(y=d.y.where(d.index != 9, np.inf)), {}, "infinite value at row 9"),
        (None, {"mediator": "y"}, "more than one role"),
        (None, {"conf_level": 1.5}, "conf_level"),
        (None, {"mediator_type": "count"}, "mediator_type"),
        (lambda d: d.assign(age2=2 * d.age), {"covariates": ["age", "age2"]}, "collinear"),
        (lambda d: d.assign(arm=0), {}, "exactly 2 distinct values"),
    ],
)
def test_bad_input_is_refused_with_a_named_column(
    change: object, kwargs: dict[str, object], match: str
) -> None:
    df = _trial(n=60)
    if callable(change):
        df = change(df)
    args: dict[str, object] = {"treatment": "arm", "outcome": "y", "mediator": "m"}
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=match):
        fit_single(df, **args)  # type: ignore[arg-type]


def test_separation_in_a_binary_mediator_is_refused() -> None:
    df = _trial(n=80)
    df["mb"] = df.arm  # treatment predicts the mediator perfectly
    df["y"] = df.y + df.mb
    with pytest.raises(DataValidationError, match="did not converge"):
        fit_single(df, treatment="arm", outcome="y", mediator="mb", mediator_type="binary")


def test_model_data_keeps_positions_and_point_estimates_refuse_nan() -> None:
    df = _trial(n=30).set_index(pd.Index([f"P{i}" for i in range(30)]))
    df.loc["P4", "y"] = np.nan
    md = model_data(df, treatment="arm", outcome="y", mediators=["m"])
    assert md.rows.tolist() == [i for i in range(30) if i != 4]
    with pytest.raises(DataValidationError, match="non-finite"):
        point_estimates(df.arm, df.m, df.y)


def _statsmodels_check(ours: float, draws: np.ndarray) -> None:
    """|ours − mean of statsmodels' simulation| within 4 Monte-Carlo standard errors."""
    mc_se = float(np.std(draws, ddof=1) / np.sqrt(draws.size))
    assert abs(ours - float(np.mean(draws))) < 4.0 * mc_se, (ours, np.mean(draws), mc_se)


def test_agrees_with_statsmodels_mediation_linear_with_covariate() -> None:
    sm = pytest.importorskip("statsmodels.api")
    mediation = pytest.importorskip("statsmodels.stats.mediation")
    df = _trial(n=300, seed=21)
    ours = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["age"])
    one = np.ones(len(df))
    out = sm.OLS(df.y.to_numpy(), np.column_stack([one, df.arm, df.m, df.age]))
    med = sm.OLS(df.m.to_numpy(), np.column_stack([one, df.arm, df.age]))
    res = mediation.Mediation(out, med, (1, 1), 2).fit(
        method="parametric", n_rep=2000, rng=np.random.default_rng(8)
    )
    _statsmodels_check(ours.nie, res.ACME_tx)
    _statsmodels_check(ours.nde, res.ADE_ctrl)
    _statsmodels_check(ours.te, res.total_effect)


@pytest.mark.slow
def test_agrees_with_statsmodels_mediation_with_interaction() -> None:
    sm = pytest.importorskip("statsmodels.api")
    mediation = pytest.importorskip("statsmodels.stats.mediation")
    df = _trial(n=300, seed=22, theta3=0.3)
    ours = fit_single(
        df, treatment="arm", outcome="y", mediator="m", covariates=["age"], interaction=True
    )
    # formula models: statsmodels rebuilds A:M for each counterfactual (slow, hence 300 reps)
    out = sm.OLS.from_formula("y ~ arm * m + age", df)
    med = sm.OLS.from_formula("m ~ arm + age", df)
    res = mediation.Mediation(out, med, "arm", "m").fit(
        method="parametric", n_rep=300, rng=np.random.default_rng(9)
    )
    _statsmodels_check(ours.nie, res.ACME_tx)  # total NIE: treatment at a1
    _statsmodels_check(ours.nde, res.ADE_ctrl)  # pure NDE: mediator under a0
    _statsmodels_check(ours.te, res.total_effect)
    assert abs(ours.nie - float(np.mean(res.ACME_ctrl))) > 0.05  # the other decomposition differs
