"""Effect-modifier analysis: R golden values, multiplicity, contrasts, metamorphic checks.

Golden values: ``tests/reference/r/resolve_modifiers_lm.csv``,
``resolve_modifiers_quartiles.csv`` and ``resolve_modifiers_global.csv``, written by
``tests/reference/r/resolve_modifiers.R`` (``lm(y_t ~ arm * m + y_0)``, complete cases,
``p.adjust`` over the week-18/52 family, ``anova`` of nested models). Both sides are
exact least-squares computations, so agreement is expected to ~1e-10; the tests use
1e-6 relative to leave room for BLAS differences.

These tests run the bundled plan with ``standard_errors = "ols"`` set explicitly (the
fixtures are R ``lm``). HC3 golden values: ``resolve_modifiers_hc3_{lm,quartiles,global}.csv``
from ``tests/reference/r/resolve_modifiers_hc3.R`` (``sandwich::vcovHC(type = "HC3")`` with
``lmtest::coeftest``/``coefci``/``waldtest(test = "F")``, residual df). HC2 golden values
(Bell-McCaffrey df, HTZ global test): ``resolve_modifiers_hc2_{lm,quartiles,global}.csv`` from
``tests/reference/r/resolve_modifiers_hc2.R`` (R ``clubSandwich`` CR2 with one cluster per
participant).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.formula.api import ols as sm_ols
from statsmodels.stats.multitest import multipletests

from resolve.analysis._ols import contrast, ols
from resolve.analysis.effect_modifiers import (
    CURVE_POINTS,
    analyse_modifiers,
    rcs_basis,
    rcs_knots,
)
from resolve.analysis.multiplicity import adjust_p
from resolve.analysis.plan import Plan, load_plan
from resolve.analysis.run import MODIFIER_COLUMNS
from resolve.errors import DataValidationError, UnknownNameError

R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"
KEYS = ["modifier", "outcome", "visit"]
RTOL = 1e-6


def _with_se(plan: Plan, se: str) -> Plan:
    em = replace(plan.effect_modification, standard_errors=se)
    return replace(plan, effect_modification=em)


@pytest.fixture(scope="module")
def plan() -> Plan:
    """The bundled plan with model-based (OLS) standard errors, as the R ``lm`` fixtures."""
    return _with_se(load_plan(), "ols")


@pytest.fixture(scope="module")
def result(data: pd.DataFrame, plan: Plan):  # type: ignore[no-untyped-def]
    return analyse_modifiers(data, plan)


@pytest.fixture(scope="module")
def result_hc3(data: pd.DataFrame, plan: Plan):  # type: ignore[no-untyped-def]
    return analyse_modifiers(data, _with_se(plan, "hc3"), credibility=False)


@pytest.fixture(scope="module")
def result_hc2(data: pd.DataFrame, plan: Plan):  # type: ignore[no-untyped-def]
    return analyse_modifiers(data, _with_se(plan, "hc2"), credibility=False)


def _wide(data: pd.DataFrame, outcome: str, visit: str) -> pd.DataFrame:
    base = data[data.visit == "baseline"].set_index("id")
    d = data[data.visit == visit].set_index("id").copy()
    d["y"] = d[outcome]
    d["y0"] = base[outcome].reindex(d.index)
    d["trt"] = (d["arm"] == "resolve").astype(float)
    return d


# ----------------------------------------------------------------------------- R: lm
def test_interactions_match_r_lm(result) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_lm.csv")
    py = result.table.merge(r, on=KEYS, suffixes=("", "_r"), validate="one_to_one")
    assert len(py) == len(r) == 64
    assert (py["n"] == py["n_r"]).all()
    assert (py["df"] == py["df_r"]).all()
    for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)
    np.testing.assert_allclose(py["nonlinearity_p"], py["nonlinearity_p_r"], rtol=RTOL)
    assert (py["in_family"] == py["in_family_r"]).all()


def test_holm_and_bh_match_r_p_adjust(result) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_lm.csv")
    py = result.table.merge(r, on=KEYS, suffixes=("", "_r"))
    for col in ("p_holm", "p_bh"):
        assert (py[col].isna() == py[f"{col}_r"].isna()).all()
        fam = py[col].notna()
        assert fam.sum() == 32
        np.testing.assert_allclose(py.loc[fam, col], py.loc[fam, f"{col}_r"], rtol=RTOL)


def test_quartile_effects_match_r_contrasts(result) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_quartiles.csv")
    py = result.quartiles.merge(r, on=[*KEYS, "quartile"], suffixes=("", "_r"))
    assert len(py) == len(r) == len(result.quartiles)
    for col in ("modifier_value", "estimate", "conf_low", "conf_high"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)


def test_global_tests_match_r_anova(result) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_global.csv")
    py = result.global_tests.merge(r, on=["outcome", "visit"], suffixes=("", "_r"))
    assert len(py) == 8
    for col in ("statistic", "p_value"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL)
    assert (py["df_num"] == py["df_num_r"]).all() and (py["df_den"] == py["df_den_r"]).all()


def test_global_test_is_the_nested_model_f(data, result) -> None:  # type: ignore[no-untyped-def]
    d = _wide(data, "rmdq", "week 18")
    mods = "pseq + pcs + pain_baseline + psychoactive + frebaq + tsk + rmdq_baseline + bbq"
    # y_0 (baseline RMDQ) is the modifier rmdq_baseline, so it is not entered again
    full = sm_ols(f"y ~ trt * ({mods})", d).fit()  # patsy drops the rows with missing y
    red = sm_ols(f"y ~ trt + {mods}", d).fit()
    q = full.df_model - red.df_model
    f = ((red.ssr - full.ssr) / q) / (full.ssr / full.df_resid)
    row = result.global_tests.query("outcome == 'rmdq' and visit == 'week 18'").iloc[0]
    assert row.df_num == q == 8
    assert row.statistic == pytest.approx(f, rel=1e-9)


# ----------------------------------------------------------------------------- R: HC3
def test_hc3_interactions_match_r_sandwich(result_hc3, result) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_hc3_lm.csv")
    py = result_hc3.table.merge(r, on=KEYS, suffixes=("", "_r"), validate="one_to_one")
    assert len(py) == len(r) == 64
    assert (py["n"] == py["n_r"]).all() and (py["df"] == py["df_r"]).all()
    for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)
    assert (result_hc3.table.se_method == "hc3").all()
    # Same point estimates and non-linearity test (model-based) as OLS; other SEs.
    np.testing.assert_allclose(result_hc3.table.estimate, result.table.estimate, rtol=1e-12)
    np.testing.assert_allclose(
        result_hc3.table.nonlinearity_p, result.table.nonlinearity_p, rtol=1e-12
    )
    assert not np.allclose(result_hc3.table.std_error, result.table.std_error)


def test_hc3_quartile_effects_match_r(result_hc3) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_hc3_quartiles.csv")
    py = result_hc3.quartiles.merge(r, on=[*KEYS, "quartile"], suffixes=("", "_r"))
    assert len(py) == len(r) == len(result_hc3.quartiles)
    for col in ("modifier_value", "estimate", "conf_low", "conf_high"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)


def test_hc3_global_tests_match_r_waldtest(result_hc3) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_hc3_global.csv")
    py = result_hc3.global_tests.merge(r, on=["outcome", "visit"], suffixes=("", "_r"))
    assert len(py) == 8
    for col in ("statistic", "p_value"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)
    assert (py["df_num"] == py["df_num_r"]).all() and (py["df_den"] == py["df_den_r"]).all()
    assert (py["n"] == py["n_r"]).all() and (py.se_method == "hc3").all()


def test_hc3_hand_computation(rng: np.random.Generator) -> None:
    n = 40
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = X @ [1.0, 0.5, -0.3] + rng.normal(size=n) * (1 + np.abs(X[:, 1]))
    fit = ols(X, y, ("a", "b", "c"), vcov="hc3")
    e = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    XtXi = np.linalg.inv(X.T @ X)
    h = np.einsum("ij,jk,ik->i", X, XtXi, X)
    V = XtXi @ X.T @ np.diag(e**2 / (1 - h) ** 2) @ X @ XtXi
    np.testing.assert_allclose(fit.cov, V, rtol=1e-10)
    assert fit.vcov == "hc3" and ols(X, y, ("a", "b", "c")).vcov == "ols"


# ----------------------------------------------------------------------------- R: HC2
def test_hc2_interactions_match_r_clubsandwich(result_hc2, result) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_hc2_lm.csv")
    py = result_hc2.table.merge(r, on=KEYS, suffixes=("", "_r"), validate="one_to_one")
    assert len(py) == len(r) == 64
    assert (py["n"] == py["n_r"]).all()
    for col in ("estimate", "std_error", "statistic", "df", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)
    assert (result_hc2.table.se_method == "hc2").all()
    # Bell-McCaffrey df are well below the residual df for these designs.
    assert (py["df"] < py["n"] - 6).all()
    np.testing.assert_allclose(result_hc2.table.estimate, result.table.estimate, rtol=1e-12)


def test_hc2_quartile_effects_match_r_linear_contrast(result_hc2) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_hc2_quartiles.csv")
    py = result_hc2.quartiles.merge(r, on=[*KEYS, "quartile"], suffixes=("", "_r"))
    assert len(py) == len(r) == len(result_hc2.quartiles)
    for col in ("modifier_value", "estimate", "conf_low", "conf_high"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)


def test_hc2_global_tests_match_r_htz(result_hc2) -> None:  # type: ignore[no-untyped-def]
    r = pd.read_csv(R_DIR / "resolve_modifiers_hc2_global.csv")
    py = result_hc2.global_tests.merge(r, on=["outcome", "visit"], suffixes=("", "_r"))
    assert len(py) == 8
    for col in ("statistic", "df_den", "p_value"):
        np.testing.assert_allclose(py[col], py[f"{col}_r"], rtol=RTOL, err_msg=col)
    assert (py["df_num"] == py["df_num_r"]).all() and (py["n"] == py["n_r"]).all()
    assert (py.se_method == "hc2").all()


def test_hc2_bell_mccaffrey_by_eigenvalues(rng: np.random.Generator) -> None:
    """The df equal the Satterthwaite df of V = sum(lambda_k chi2_1) computed by eigenvalues."""
    from resolve.analysis._ols import bell_mccaffrey_df

    n = 30
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = X @ [1.0, 0.5, -0.3] + rng.normal(size=n)
    fit = ols(X, y, ("a", "b", "c"), vcov="hc2")
    XtXi = np.linalg.inv(X.T @ X)
    H = X @ XtXi @ X.T
    h = np.diag(H)
    e = y - H @ y
    V = XtXi @ X.T @ np.diag(e**2 / (1 - h)) @ X @ XtXi
    np.testing.assert_allclose(fit.cov, V, rtol=1e-10)
    c = np.array([0.0, 1.0, 2.0])
    a = (c @ XtXi @ X.T) / np.sqrt(1 - h)
    lam = np.linalg.eigvalsh(np.diag(a) @ (np.eye(n) - H) @ np.diag(a))
    np.testing.assert_allclose(bell_mccaffrey_df(fit, c), lam.sum() ** 2 / (lam**2).sum())
    with pytest.raises(ValueError, match="hc2"):
        bell_mccaffrey_df(ols(X, y, ("a", "b", "c")), c)


def test_hc2_small_sample_tests_scale_to_large_n(rng: np.random.Generator) -> None:
    """No n x n matrix: 200,000 rows would need 300 GB if one were formed."""
    from resolve.analysis._ols import wald_f

    n = 200_000
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = X @ [1.0, 0.5, -0.3] + rng.normal(size=n)
    fit = ols(X, y, ("a", "b", "c"), vcov="hc2")
    k = contrast(fit, np.array([0.0, 1.0, 0.0]))
    # Slope of a normal regressor: weights a_i^2 ~ x_i^2, so the df tend to
    # n E[x^2]^2 / E[x^4] = n / 3.
    assert k.df == pytest.approx(n / 3, rel=0.03)
    _, q, df2, _ = wald_f(fit, np.eye(3)[1:])
    assert q == 2 and n / 4 < df2 < n


# ----------------------------------------------------------------------------- contents
def test_table_columns_and_family(result, plan) -> None:  # type: ignore[no-untyped-def]
    t = result.table
    contract = [
        "modifier", "label", "type", "unit", "outcome", "visit", "contrast", "n", "estimate",
        "std_error", "conf_low", "conf_high", "p_value", "sd", "estimate_per_sd",
        "conf_low_per_sd", "conf_high_per_sd", "p_holm", "p_bh", "in_family", "exploratory",
        "nonlinearity_p", "direction_hypothesised", "direction_observed", "df", "statistic",
        "se_method",
    ]  # fmt: skip
    assert list(t.columns) == contract == list(MODIFIER_COLUMNS)
    assert (t.se_method == "ols").all() and (result.global_tests.se_method == "ols").all()
    assert len(t) == 8 * 2 * 4
    assert set(t.loc[t.in_family, "visit"]) == set(plan.effect_modification.family_visits)
    assert t.loc[~t.in_family, ["p_holm", "p_bh"]].isna().all().all()
    assert (t.exploratory == (t.p_value < plan.effect_modification.exploratory_p)).all()
    assert (t.contrast == "resolve - sham").all()


def test_frebaq_pain_week52_is_the_built_in_modifier(result) -> None:  # type: ignore[no-untyped-def]
    # the simulator builds +0.18 per FreBAQ point into 52-week pain; the bundled trial was
    # chosen to show it as Venter did (P < .01, the smallest P of the family), which, like
    # Venter's P = .007 among 32 tests, does not survive Holm adjustment
    row = result.table.query("modifier == 'frebaq' and outcome == 'pain' and visit == 'week 52'")
    row = row.iloc[0]
    assert row.conf_low < 0.18 < row.conf_high
    assert row.p_value < 0.01 and row.p_holm > 0.05
    assert row.direction_observed == row.direction_hypothesised == "+"
    assert result.table.p_value.idxmin() == row.name


def test_per_sd_scaling_is_a_refit_on_the_standardised_modifier(data, plan, result) -> None:  # type: ignore[no-untyped-def]
    sd = data.drop_duplicates("id")["tsk"].std(ddof=1)
    t = result.table.query("modifier == 'tsk'")
    assert np.allclose(t.sd, sd)
    np.testing.assert_allclose(t.estimate_per_sd, t.estimate * sd)
    np.testing.assert_allclose(t.conf_low_per_sd, t.conf_low * sd)
    scaled = data.assign(tsk=data["tsk"] / sd)
    t2 = analyse_modifiers(scaled, plan, credibility=False).table.query("modifier == 'tsk'")
    np.testing.assert_allclose(t2.estimate.to_numpy(), t.estimate_per_sd.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(t2.p_value.to_numpy(), t.p_value.to_numpy(), rtol=1e-9)


def test_curves_are_direct_contrasts(data, result) -> None:  # type: ignore[no-untyped-def]
    d = _wide(data, "pain", "week 52")
    fit = sm_ols("y ~ trt * frebaq + y0", d).fit()
    c = result.curves.query("modifier == 'frebaq' and outcome == 'pain' and visit == 'week 52'")
    assert len(c) == CURVE_POINTS
    lo, hi = np.percentile(data.drop_duplicates("id")["frebaq"], [5, 95])
    assert c.modifier_value.min() == pytest.approx(lo)
    assert c.modifier_value.max() == pytest.approx(hi)
    names = list(fit.params.index)
    L = np.zeros((len(c), len(names)))
    L[:, names.index("trt")] = 1
    L[:, names.index("trt:frebaq")] = c.modifier_value
    tt = fit.t_test(L)
    np.testing.assert_allclose(c.estimate, np.ravel(tt.effect), rtol=1e-9)
    ci = tt.conf_int(alpha=0.05)
    np.testing.assert_allclose(c.conf_low, ci[:, 0], rtol=1e-9)
    np.testing.assert_allclose(c.conf_high, ci[:, 1], rtol=1e-9)
    # the quartile effects lie on the same line
    q = result.quartiles.query("modifier == 'frebaq' and outcome == 'pain' and visit == 'week 52'")
    slope = np.polyfit(c.modifier_value, c.estimate, 1)
    np.testing.assert_allclose(np.polyval(slope, q.modifier_value), q.estimate, rtol=1e-9)


def test_binary_modifier(data, plan, result) -> None:  # type: ignore[no-untyped-def]
    t = result.table.query("modifier == 'psychoactive'")
    assert t.sd.isna().all() and t.estimate_per_sd.isna().all() and t.nonlinearity_p.isna().all()
    q = result.quartiles.query("modifier == 'psychoactive'")
    assert set(q.quartile) == {"level 0", "level 1"} and set(q.modifier_value) == {0.0, 1.0}
    assert result.curves.query("modifier == 'psychoactive'").empty
    # without baseline adjustment the interaction is the difference of subgroup differences
    unadj = replace(
        plan, effect_modification=replace(plan.effect_modification, adjust_for_baseline=False)
    )
    row = (
        analyse_modifiers(data, unadj, credibility=False)
        .table.query("modifier == 'psychoactive' and outcome == 'rmdq' and visit == 'week 26'")
        .iloc[0]
    )
    d = data[(data.visit == "week 26") & data.rmdq.notna()]
    means = d.groupby(["psychoactive", "arm"])["rmdq"].mean()
    diff = (means[1, "resolve"] - means[1, "sham"]) - (means[0, "resolve"] - means[0, "sham"])
    assert row.estimate == pytest.approx(diff, rel=1e-9)


def test_modifier_without_variance_is_refused(data, plan) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataValidationError, match=r"bbq.*no variance"):
        analyse_modifiers(data.assign(bbq=20), plan)


def test_direction_flips_on_a_higher_is_better_outcome(data, plan) -> None:  # type: ignore[no-untyped-def]
    better = tuple(replace(o, higher_is="better") if o.name == "rmdq" else o for o in plan.outcomes)
    t = analyse_modifiers(data, replace(plan, outcomes=better), credibility=False).table
    pseq = t.query("modifier == 'pseq'")  # hypothesised "-" on a higher = worse scale
    assert set(pseq.loc[pseq.outcome == "pain", "direction_hypothesised"]) == {"-"}
    assert set(pseq.loc[pseq.outcome == "rmdq", "direction_hypothesised"]) == {"+"}


# ----------------------------------------------------------------------------- metamorphic
def test_swapping_the_reference_arm_flips_the_sign(data, plan, result) -> None:  # type: ignore[no-untyped-def]
    trial = replace(plan.trial, arms=("resolve", "sham"), reference_arm="resolve")
    t = analyse_modifiers(data, replace(plan, trial=trial), credibility=False).table
    np.testing.assert_allclose(t.estimate, -result.table.estimate, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(t.p_value, result.table.p_value, rtol=1e-8)
    assert (t.contrast == "sham - resolve").all()


def test_row_order_does_not_matter(data, plan, result) -> None:  # type: ignore[no-untyped-def]
    shuffled = data.sample(frac=1.0, random_state=7).reset_index(drop=True)
    t = analyse_modifiers(shuffled, plan, credibility=False).table
    np.testing.assert_allclose(t.estimate, result.table.estimate, rtol=1e-9)


def test_three_arms_give_one_interaction_per_arm(data, plan) -> None:  # type: ignore[no-untyped-def]
    ids = sorted(data.loc[data.arm == "resolve", "id"].unique())
    split = data.copy()
    split.loc[split.id.isin(ids[::2]), "arm"] = "booster"
    trial = replace(plan.trial, arms=("sham", "resolve", "booster"))
    res = analyse_modifiers(split, replace(plan, trial=trial))
    assert set(res.table.contrast) == {"resolve - sham", "booster - sham"}
    assert len(res.table) == 2 * 64
    assert (res.global_tests.df_num == 16).all()
    assert res.table.p_holm.notna().sum() == 64  # both contrasts are in the family
    d = _wide(split, "pain", "week 52")
    d["b"] = (d["arm"] == "booster").astype(float)
    d["r"] = (d["arm"] == "resolve").astype(float)
    fit = sm_ols("y ~ (r + b) * frebaq + y0", d).fit()
    row = res.table.query(
        "modifier == 'frebaq' and outcome == 'pain' and visit == 'week 52' "
        "and contrast == 'booster - sham'"
    ).iloc[0]
    assert row.estimate == pytest.approx(fit.params["b:frebaq"], rel=1e-9)
    assert row.std_error == pytest.approx(fit.bse["b:frebaq"], rel=1e-9)


# ----------------------------------------------------------------------------- pieces
def test_adjust_p_hand_and_statsmodels(rng: np.random.Generator) -> None:
    # hand: p = .01, .04, .03, .20 (m = 4); Holm 4(.01), max(3(.03), .04), max(2(.04), .09), .2
    p = [0.01, 0.04, 0.03, 0.20]
    np.testing.assert_allclose(adjust_p(p, "holm"), [0.04, 0.09, 0.09, 0.20])
    np.testing.assert_allclose(adjust_p(p, "bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    q = rng.uniform(size=40) ** 3
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        np.testing.assert_allclose(adjust_p(q, ours), multipletests(q, method=theirs)[1])
    with_nan = np.array([0.01, np.nan, 0.02])
    np.testing.assert_allclose(adjust_p(with_nan, "holm"), [0.02, np.nan, 0.02])
    assert adjust_p([], "bh").size == 0
    with pytest.raises(UnknownNameError, match="method"):
        adjust_p(p, "bonferroni")


def test_rcs_basis_hand_values() -> None:
    knots = np.array([1.0, 5.0, 9.0])
    x = np.array([0.0, 3.0, 7.0, 12.0])
    # (x-1)+^3 - (x-5)+^3 * 8/4 + (x-9)+^3 * 4/4, divided by (9-1)^2
    hand = (
        np.clip(x - 1, 0, None) ** 3
        - 2 * np.clip(x - 5, 0, None) ** 3
        + np.clip(x - 9, 0, None) ** 3
    ) / 64
    np.testing.assert_allclose(rcs_basis(x, knots)[:, 0], hand)
    # linear beyond the last knot: second differences vanish
    far = rcs_basis(np.array([10.0, 11.0, 12.0]), knots)[:, 0]
    assert far[2] - 2 * far[1] + far[0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(rcs_knots(np.arange(101.0), 3), [10.0, 50.0, 90.0])
    with pytest.raises(DataValidationError, match="spline_knots"):
        rcs_knots(np.arange(10.0), 8)


def test_missing_values_are_dropped_not_zeroed(data, plan, result) -> None:  # type: ignore[no-untyped-def]
    t = result.table.query("outcome == 'pain' and visit == 'week 52'")
    assert (t.n == data.loc[data.visit == "week 52", "pain"].notna().sum()).all()


def test_hc2_with_a_leverage_one_observation_matches_clubsandwich() -> None:
    """Source: tests/reference/r/ols_hc2_leverage.R (a 0/1 column with one 1: h_ii = 1)."""
    import warnings

    from resolve.analysis._ols import wald_f

    d = pd.read_csv(R_DIR / "ols_hc2_leverage_data.csv")
    r = pd.read_csv(R_DIR / "ols_hc2_leverage.csv").set_index("term")
    X = np.column_stack([np.ones(len(d)), d.x, d.g])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero on the exactly fitted row
        fit = ols(X, d.y.to_numpy(), ("(Intercept)", "x", "g"), vcov="hc2")
        for j, term in enumerate(fit.names):
            c = np.zeros(3)
            c[j] = 1.0
            k = contrast(fit, c)
            got = [k.estimate, k.std_error, k.df, k.p_value]
            want = r.loc[term, ["estimate", "std_error", "df", "p_value"]].to_numpy(float)
            np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=term)
        f, q, df2, p = wald_f(fit, np.eye(3)[1:])
    want = r.loc["HTZ x = g = 0"]
    np.testing.assert_allclose([f, df2, p], [want.estimate, want.df, want.p_value], rtol=1e-9)
    assert q == 2
