"""Individual treatment-effect predictions: ridge (default) and unpenalised, validation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from statsmodels.formula.api import ols as sm_ols

from resolve.analysis.individual import predict_individual, profile_keys
from resolve.analysis.plan import Plan
from resolve.errors import DataValidationError

MODS = ["pseq", "pcs", "pain_baseline", "psychoactive", "frebaq", "tsk", "rmdq_baseline", "bbq"]
PROFILE = {"pseq": 30, "pcs": 25, "pain_baseline": 7, "psychoactive": 1, "frebaq": 20,
           "tsk": 45, "rmdq_baseline": 12, "bbq": 22}  # fmt: skip


def test_profile_keys_of_the_resolve_plan(plan: Plan) -> None:
    assert profile_keys(plan) == tuple(MODS)


def test_unpenalised_effect_is_the_direct_contrast(data: pd.DataFrame, plan: Plan) -> None:
    out = predict_individual(data, plan, PROFILE, method="unpenalised")
    assert len(out) == 8 and (out.contrast == "resolve - sham").all()
    assert (out.method == "unpenalised").all() and (out.penalty == 0).all()
    base = data[data.visit == "baseline"].set_index("id")
    for outcome, visit in (("pain", "week 52"), ("rmdq", "week 18")):
        d = data[data.visit == visit].set_index("id").copy()
        d["y"] = d[outcome]
        d["trt"] = (d.arm == "resolve").astype(float)
        assert (d[f"{outcome}_baseline"] == base[outcome].reindex(d.index)).all()
        # y_0 is the modifier <outcome>_baseline, so it enters once
        fit = sm_ols(f"y ~ trt * ({' + '.join(MODS)})", d).fit()
        names = list(fit.params.index)
        c = np.zeros(len(names))
        c[names.index("trt")] = 1
        for m in MODS:
            c[names.index(f"trt:{m}")] = PROFILE[m]
        tt = fit.t_test(c)
        row = out.query("outcome == @outcome and visit == @visit").iloc[0]
        assert row.estimate == pytest.approx(float(np.ravel(tt.effect)[0]), rel=1e-9)
        assert row.std_error == pytest.approx(float(np.ravel(tt.sd)[0]), rel=1e-9)
        lo, hi = tt.conf_int(alpha=0.05)[0]
        assert (row.conf_low, row.conf_high) == (pytest.approx(lo), pytest.approx(hi))
        assert row.df == fit.df_resid and row.n == fit.nobs
        x = pd.DataFrame([{**PROFILE, "trt": 0.0}])
        assert row.mean_reference == pytest.approx(float(fit.predict(x).iloc[0]), rel=1e-9)
        assert row.mean_treatment == pytest.approx(row.mean_reference + row.estimate)


def test_higher_frebaq_less_52_week_pain_benefit(data: pd.DataFrame, plan: Plan) -> None:
    sel = [False, False, False, True, False, False, False, False]  # pain, week 52
    low, high = (
        predict_individual(data, plan, {**PROFILE, "frebaq": f}, method="unpenalised")
        for f in (5, 25)
    )
    assert high.loc[sel, "estimate"].iloc[0] > low.loc[sel, "estimate"].iloc[0] + 2
    assert not low.extrapolated.any()
    # ridge: shrunk towards no difference (exactly none when no interaction is selected)
    rlow, rhigh = (predict_individual(data, plan, {**PROFILE, "frebaq": f}) for f in (5, 25))
    diff = rhigh.loc[sel, "estimate"].iloc[0] - rlow.loc[sel, "estimate"].iloc[0]
    assert 0 <= diff < high.loc[sel, "estimate"].iloc[0] - low.loc[sel, "estimate"].iloc[0]
    assert (diff == 0) == np.isinf(rlow.loc[sel, "penalty"].iloc[0])


def test_ridge_is_the_benefit_model_exploratory_without_p(data: pd.DataFrame, plan: Plan) -> None:
    """The default predictions are the who-benefits model's, at a participant's own profile,
    with the same cross-validated calibration; no CI, no P value, flagged exploratory."""
    from resolve.analysis.benefit import benefit_analysis

    res = benefit_analysis(data, plan)
    pid = "R002"
    base = data[(data.id == pid) & (data.visit == "baseline")].iloc[0]
    out = predict_individual(data, plan, {m: float(base[m]) for m in MODS})
    assert "p_value" not in out.columns and out["exploratory"].all()
    assert (out.method == "ridge").all() and out[["std_error", "conf_low"]].isna().all().all()
    for outcome, visit in (("pain", "week 52"), ("rmdq", "week 18")):
        at = (out.outcome == outcome) & (out.visit == visit)
        row = out[at].iloc[0]
        ind = res.individual
        ind = ind[(ind.outcome == outcome) & (ind.visit == visit) & (ind.id == pid)]
        assert row.estimate == pytest.approx(ind.predicted_effect.iloc[0], rel=1e-10)
        m = res.models[(res.models.outcome == outcome) & (res.models.visit == visit)].iloc[0]
        assert row.penalty == m.penalty
        assert row.c_for_benefit == pytest.approx(m.c_for_benefit, rel=1e-12)
        np.testing.assert_allclose(row.calibration_slope, m.calibration_slope, rtol=1e-12)
    # no interaction selected: everybody gets the average effect
    homo = out[np.isinf(out.penalty)]
    other = predict_individual(data, plan, {**PROFILE, "frebaq": 3.0, "pseq": 50.0})
    np.testing.assert_allclose(homo.estimate, other.loc[homo.index, "estimate"], rtol=1e-12)


def test_unknown_method_is_refused(data: pd.DataFrame, plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="method"):
        predict_individual(data, plan, PROFILE, method="lasso")  # type: ignore[arg-type]


def test_extrapolation_is_flagged(data: pd.DataFrame, plan: Plan) -> None:
    out = predict_individual(data, plan, {**PROFILE, "frebaq": 36})
    assert out.extrapolated.all()


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({k: v for k, v in PROFILE.items() if k != "tsk"}, "missing 'tsk'"),
        ({**PROFILE, "age": 40}, "unknown 'age'"),
        ({**PROFILE, "psychoactive": 0.5}, "binary modifier"),
        ({**PROFILE, "bbq": float("nan")}, "finite"),
        ({**PROFILE, "bbq": "high"}, "number"),
        ([1, 2, 3], "mapping"),
    ],
)
def test_bad_profiles_are_named(
    data: pd.DataFrame, plan: Plan, profile: object, message: str
) -> None:
    with pytest.raises(DataValidationError, match=message):
        predict_individual(data, plan, profile)  # type: ignore[arg-type]


def test_baseline_outcome_key_when_it_is_not_a_modifier(data: pd.DataFrame, plan: Plan) -> None:
    mods = tuple(m for m in plan.modifiers if m.name not in ("pain_baseline", "rmdq_baseline"))
    p2 = replace(plan, modifiers=mods)
    assert set(profile_keys(p2)) == {*MODS} - {"pain_baseline", "rmdq_baseline"} | {
        "pain_baseline",
        "rmdq_baseline",
    }
    prof = dict(PROFILE)
    a = predict_individual(data, p2, prof, method="unpenalised")
    b = predict_individual(data, p2, {**prof, "pain_baseline": 2}, method="unpenalised")
    # the baseline outcome shifts the predicted means, not the effect
    np.testing.assert_allclose(a.estimate, b.estimate)
    sel = a.outcome == "pain"
    assert not np.allclose(a.loc[sel, "mean_reference"], b.loc[sel, "mean_reference"])
