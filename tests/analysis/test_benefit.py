"""Who benefits (PATH-style, exploratory): reference values from R, behaviour, simulations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from statsmodels.formula.api import ols as sm_ols

from resolve import datasets
from resolve.analysis.benefit import (
    BenefitAnalysis,
    CellFit,
    _centre_within,
    _folds,
    _group_rows,
    benefit_analysis,
    c_for_benefit,
    calibration_slope,
    fit_cell,
    lambda_grid,
    rank_groups,
    ridge_path,
    risk_interaction,
    risk_model,
    select_lambda,
    welch,
)
from resolve.analysis.plan import Plan, parse_plan
from resolve.errors import DataValidationError

R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"
MODS = ["pseq", "pcs", "pain_baseline", "psychoactive", "frebaq", "tsk", "rmdq_baseline", "bbq"]
FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------------------- against R
def _r_cells() -> dict[str, tuple[pd.DataFrame, FloatArray, FloatArray, FloatArray]]:
    data = pd.read_csv(R_DIR / "benefit_data.csv", dtype={"id": str})
    out = {}
    for cell, d in data.groupby("cell", sort=False):
        M = d[MODS].to_numpy(dtype=float)
        A = (d["arm"] == "resolve").to_numpy(dtype=float)[:, None]
        out[str(cell)] = (d, M, A, d["y"].to_numpy(dtype=float))
    return out


CELLS = _r_cells()


@pytest.fixture(scope="module")
def r_fits() -> dict[str, CellFit]:
    return {
        cell: fit_cell(M, A, np.empty((y.size, 0)), y, folds=10, rule="one_se", rng=None)
        for cell, (_, M, A, y) in CELLS.items()
    }


@pytest.mark.parametrize("cell", list(CELLS))
def test_ridge_matches_glmnet(cell: str) -> None:
    _, M, A, y = CELLS[cell]
    ref = pd.read_csv(R_DIR / "benefit_ridge.csv")
    ref = ref[ref.cell == cell]
    penalties = ref["penalty"].drop_duplicates().to_numpy(dtype=float)
    path = ridge_path(M, A, np.empty((y.size, 0)), y, penalties)
    ours = np.vstack([path.beta, path.gamma])  # (Intercept), arm, z, arm:z
    theirs = ref["estimate"].to_numpy().reshape(len(penalties), -1).T
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("cell", list(CELLS))
def test_cross_validation_matches_r(cell: str, r_fits: dict[str, CellFit]) -> None:
    fit = r_fits[cell]
    cv = pd.read_csv(R_DIR / "benefit_cv.csv")
    cv = cv[cv.cell == cell]
    np.testing.assert_allclose(fit.penalties, cv["penalty"], rtol=1e-12)
    np.testing.assert_allclose(fit.cv_errors.mean(axis=0), cv["cv_error"], rtol=1e-11)
    assert fit.penalty == pytest.approx(cv["chosen"].iloc[0], rel=1e-12)
    assert fit.penalty_min == pytest.approx(cv["minimum"].iloc[0], rel=1e-12)
    oof = pd.read_csv(R_DIR / "benefit_oof.csv")
    oof = oof[oof.cell == cell]
    np.testing.assert_array_equal(fit.folds, oof["fold"])
    np.testing.assert_allclose(fit.effect_cv[:, 0], oof["effect_cv"], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(fit.reference_cv, oof["reference_cv"], rtol=1e-10)
    within = _centre_within(fit.effect_cv[:, 0], fit.folds)
    np.testing.assert_allclose(within, oof["centred"], atol=1e-8)


@pytest.mark.parametrize("cell", list(CELLS))
def test_calibration_discrimination_and_risk_views_match_r(
    cell: str, r_fits: dict[str, CellFit]
) -> None:
    _, M, A, y = CELLS[cell]
    fit = r_fits[cell]
    summ = pd.read_csv(R_DIR / "benefit_summary.csv").set_index("cell").loc[cell]
    groups = pd.read_csv(R_DIR / "benefit_groups.csv")
    groups = groups[groups.cell == cell]
    tr = A[:, 0] == 1
    within = _centre_within(fit.effect_cv[:, 0], fit.folds)
    s, lo, hi = calibration_slope(y, A[:, 0], fit.reference_cv, within)
    # the slope's scale is 1/spread of the predictions: looser where they barely vary
    # (NA in R, NaN here, when no fold predicts any heterogeneity)
    np.testing.assert_allclose(
        [s, lo, hi],
        [summ.calibration_slope, summ.calibration_slope_low, summ.calibration_slope_high],
        rtol=1e-8,
    )
    # c-for-benefit on R's equal-arm subset (the larger arm's last participants dropped)
    t_idx, c_idx = np.flatnonzero(tr), np.flatnonzero(~tr)
    m = min(t_idx.size, c_idx.size)
    keep = np.sort(np.concatenate([t_idx[:m], c_idx[:m]]))
    c, pairs = c_for_benefit(within[keep], y[keep], tr[keep])
    assert pairs == summ.n_pairs_equal
    assert c == pytest.approx(summ.c_for_benefit_equal, abs=1e-12)
    prog, r2 = risk_model(M, np.empty((y.size, 0)), y)
    assert r2 == pytest.approx(summ.risk_r_squared, rel=1e-10)
    k = risk_interaction(y, tr, prog)
    assert k["estimate"] == pytest.approx(summ.risk_estimate, rel=1e-9)
    assert k["std_error"] == pytest.approx(summ.risk_std_error, rel=1e-9)
    assert k["p_value"] == pytest.approx(summ.risk_p_value, rel=1e-8)
    assert (k["conf_low"], k["conf_high"]) == (
        pytest.approx(summ.risk_conf_low, rel=1e-9),
        pytest.approx(summ.risk_conf_high, rel=1e-9),
    )
    for view, x in (("risk", prog), ("calibration", within)):
        ours = pd.DataFrame(_group_rows(y, tr, x, 4, 0.95))
        ref = groups[groups.view == view]
        np.testing.assert_array_equal(ours["n_reference"], ref["n_reference"])
        np.testing.assert_array_equal(ours["n_treatment"], ref["n_treatment"])
        for col in ("x_mean", "estimate", "std_error", "df", "conf_low", "conf_high"):
            np.testing.assert_allclose(ours[col], ref[col], rtol=1e-12, atol=1e-13, err_msg=col)


# ----------------------------------------------------------------------------- building blocks
def test_ridge_ends_are_ols_and_ancova(data: pd.DataFrame) -> None:
    d = data[data.visit == "week 52"].dropna(subset=["pain"]).copy()
    d["trt"] = (d.arm == "resolve").astype(float)
    M = d[MODS].to_numpy(dtype=float)
    A = d[["trt"]].to_numpy()
    y = d["pain"].to_numpy(dtype=float)
    path = ridge_path(M, A, np.empty((y.size, 0)), y, np.array([0.0, 50.0, np.inf]))
    eff = path.effects(M)[:, 0, :]
    joint = sm_ols(f"pain ~ trt * ({' + '.join(MODS)})", d).fit()
    ancova = sm_ols(f"pain ~ trt + {' + '.join(MODS)}", d).fit()
    X1 = d.assign(trt=1.0)
    X0 = d.assign(trt=0.0)
    np.testing.assert_allclose(eff[:, 0], joint.predict(X1) - joint.predict(X0), rtol=1e-9)
    np.testing.assert_allclose(eff[:, 2], ancova.params["trt"], rtol=1e-9)
    # shrinkage narrows the spread of the participants' effects
    assert 0 < eff[:, 1].std() < 0.6 * eff[:, 0].std()


def test_select_lambda_rules() -> None:
    grid = np.array([0.0, 1.0, 10.0, np.inf])
    err = np.array([[1.00, 1.01, 1.03, 1.20], [1.10, 1.08, 1.07, 1.30], [0.90, 0.91, 0.92, 1.10]])
    assert select_lambda(err, grid, "min") == (1.0, 1.0)
    assert select_lambda(err, grid, "one_se") == (10.0, 1.0)
    assert select_lambda(err, grid, "none") == (0.0, 1.0)
    # a flat error curve: the largest penalty (no interaction) is chosen by either rule
    flat = np.ones((3, 4))
    assert select_lambda(flat, grid, "min")[0] == np.inf


def test_c_for_benefit_extremes_and_symmetry() -> None:
    rng = np.random.default_rng(5)
    n = 60
    tr = np.arange(n) % 2 == 0
    tau = rng.normal(size=n)
    y = tau * tr + 0.01 * rng.normal(size=n)
    c_good, _ = c_for_benefit(tau, y, tr)
    c_bad, _ = c_for_benefit(-tau, y, tr)
    assert c_good > 0.9 and c_bad < 0.1
    assert c_for_benefit(np.zeros(n), y, tr)[0] == 0.5
    assert c_for_benefit(-tau, -y, tr)[0] == pytest.approx(c_good)
    # unequal arms: seeded random subsamples, reproducible
    tr2 = np.arange(n) % 3 == 0
    a = c_for_benefit(tau, y, tr2, rng=np.random.default_rng(1))
    b = c_for_benefit(tau, y, tr2, rng=np.random.default_rng(1))
    assert a == b and a[1] == tr2.sum()


def test_small_helpers() -> None:
    assert rank_groups(np.array([2.0, 2.0, 1.0, 3.0]), 2).tolist() == [1, 2, 1, 2]
    est, se, _df, lo, _hi = welch(np.array([1.0]), np.array([2.0, 3.0]))
    assert est == -1.5 and np.isnan(se) and np.isnan(lo)
    g = lambda_grid(250)
    assert g[0] == pytest.approx(0.25) and g[-2] == pytest.approx(250_000) and np.isinf(g[-1])
    folds = _folds(np.array([0, 0, 0, 1, 1, 1, 1]), 3, None)
    assert folds.tolist() == [0, 1, 2, 0, 1, 2, 0]
    x = np.array([1.0, 2.0, 5.0, 7.0])
    assert _centre_within(x, np.array([0, 0, 1, 1])).tolist() == [-0.5, 0.5, -1.0, 1.0]


def test_constant_modifier_in_a_small_fold_gets_no_interaction() -> None:
    rng = np.random.default_rng(4)
    M = np.column_stack([rng.normal(size=30), np.ones(30)])
    A = (np.arange(30) % 2).astype(float)[:, None]
    y = M[:, 0] + A[:, 0] + rng.normal(size=30)
    path = ridge_path(M, A, np.empty((30, 0)), y, np.array([0.0, 5.0]))
    assert np.all(np.isfinite(path.beta)) and np.all(path.gamma[1] == 0)
    M2 = M.copy()
    M2[:, 1] = 2.0  # a value the fold never saw: no contribution to the effect
    np.testing.assert_allclose(path.effects(M2), path.effects(M), rtol=1e-9)
    # the same fit as without the constant column
    alone = ridge_path(M[:, :1], A, np.empty((30, 0)), y, np.array([0.0, 5.0]))
    none = np.empty((30, 0))
    np.testing.assert_allclose(
        path.predict(M, A, none), alone.predict(M[:, :1], A, none), rtol=1e-9
    )


# ----------------------------------------------------------------------------- on the trial
@pytest.fixture(scope="module")
def result(data: pd.DataFrame, plan: Plan) -> BenefitAnalysis:
    return benefit_analysis(data, plan)


def test_tables_exploratory_and_without_per_patient_p(
    result: BenefitAnalysis, data: pd.DataFrame
) -> None:
    assert list(result.tables()) == [
        "benefit_risk_groups", "benefit_risk_tests", "benefit_models", "benefit_calibration",
        "benefit_coefficients", "benefit_individual",
    ]  # fmt: skip
    ind = result.individual
    assert ind["exploratory"].all() and result.models["exploratory"].all()
    assert not any("p_value" in c for c in ind.columns)
    assert {"calibration_slope", "c_for_benefit"} <= set(ind.columns)
    cells = result.models[["outcome", "visit"]].apply(tuple, axis=1).tolist()
    assert cells == [("pain", "week 18"), ("pain", "week 52"), ("rmdq", "week 18"),
                     ("rmdq", "week 52")]  # fmt: skip
    n = data.id.nunique()
    per_cell = ind.groupby(["outcome", "visit"]).size()
    assert (per_cell <= n).all() and (per_cell > 0.85 * n).all()
    assert (result.risk_groups.groupby(["outcome", "visit"]).size() == 4).all()
    # group sizes add up to the model's n
    sizes = result.risk_groups.groupby(["outcome", "visit"])[["n_reference", "n_treatment"]].sum()
    np.testing.assert_array_equal(sizes.sum(axis=1).to_numpy(), result.models["n"].to_numpy())
    homo = result.models["heterogeneity"] == "none predicted"
    assert (result.models.loc[homo, "sd_predicted_effect"] < 1e-12).all()
    assert result.to_dict()["exploratory"] is True


def test_strong_modification_is_found_and_shrunk() -> None:
    """A simulated trial with strong FreBAQ modification (+0.18/point, FreBAQ SD 7): the
    penalised model keeps an interaction, FreBAQ's is the largest, shrunk towards 0."""
    rng = np.random.default_rng(3)
    M, A, y, tau = _simulate(rng, _baseline(), 0.18, frebaq_sd=7.0)
    fit = fit_cell(M, A, np.empty((y.size, 0)), y, rng=rng, nested=False)
    assert np.isfinite(fit.penalty) and fit.df_interactions > 0.5
    per_sd = fit.path.gamma[:, 0]
    assert int(np.argmax(np.abs(per_sd))) == MODS.index("frebaq") and per_sd[4] > 0
    assert 0 < per_sd[4] < fit.unpenalised.gamma[4, 0]
    assert np.corrcoef(fit.effect[:, 0], tau)[0, 1] > 0.8


def test_reproducible_and_each_cell_on_its_own(
    data: pd.DataFrame, plan: Plan, result: BenefitAnalysis
) -> None:
    again = benefit_analysis(data, plan)
    pd.testing.assert_frame_equal(again.models, result.models)
    only = replace(plan, benefit=replace(plan.benefit, visits=("week 52",), outcomes=("pain",)))
    one = benefit_analysis(data, only)
    ref = result.models.query("outcome == 'pain' and visit == 'week 52'").reset_index(drop=True)
    pd.testing.assert_frame_equal(one.models, ref)


def test_analyze_writes_benefit_tables_and_can_switch_off(
    data: pd.DataFrame, plan: Plan, tmp_path: Path
) -> None:
    from resolve.analysis.run import analyze, write_tables

    res = analyze(data, plan)
    assert res.benefit is not None
    files = {p.name for p in write_tables(res, tmp_path / "out")}
    for name in ("risk_groups", "risk_tests", "models", "calibration", "coefficients"):
        assert f"benefit_{name}.csv" in files and f"benefit_{name}.json" in files
    ind = pd.read_csv(tmp_path / "out" / "benefit_individual.csv")
    assert ind["exploratory"].all() and "p_value" not in ind.columns
    assert res.to_dict()["benefit"]["exploratory"] is True
    off = replace(plan, benefit=replace(plan.benefit, enabled=False))
    assert analyze(data, off).benefit is None
    assert analyze(data, replace(plan, modifiers=())).benefit is None


def test_plan_without_modifiers_is_refused(data: pd.DataFrame, plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="modifiers"):
        benefit_analysis(data, replace(plan, modifiers=()))


PLAN_HEAD = """
[trial]
name = "x"
subject = "id"
arm = "arm"
arms = ["a", "b"]
reference_arm = "a"
visit = "visit"
visits = ["v0", "v1", "v2"]
baseline_visit = "v0"
primary_visit = "v1"

[[outcomes]]
name = "pain"
column = "pain"

[effect_modification]
family_visits = ["v2"]
"""


def test_plan_benefit_keys() -> None:
    p = parse_plan(PLAN_HEAD, "p.toml")
    assert p.benefit.visits == ("v2",) and p.benefit.outcomes == ("pain",)
    assert (p.benefit.folds, p.benefit.groups, p.benefit.rule) == (10, 4, "one_se")
    q = parse_plan(PLAN_HEAD + '[benefit]\nvisits = ["v1"]\nfolds = 5\nrule = "min"\n', "p.toml")
    assert q.benefit.visits == ("v1",) and q.benefit.folds == 5 and q.benefit.rule == "min"
    for bad, msg in (
        ('visits = ["v0"]', "not a follow-up visit"),
        ('outcomes = ["rmdq"]', "not one of the plan's outcomes"),
        ("folds = 1", "folds"),
        ('rule = "max"', "rule"),
    ):
        with pytest.raises(DataValidationError, match=msg):
            parse_plan(PLAN_HEAD + f"[benefit]\n{bad}\n", "p.toml")


# ----------------------------------------------------------------------------- simulations
#: Prognosis of pain (NRS) from the 8 baseline variables: the pooled OLS of 18-week pain
#: on them in the bundled trial (rounded); residual SD 2.
PROGNOSIS = np.array([-0.016, 0.021, 0.326, 0.117, 0.017, -0.008, 0.07, 0.004])


def _baseline() -> FloatArray:
    d = datasets.load("resolve")
    return d[d.visit == "baseline"].drop_duplicates("id")[MODS].to_numpy(dtype=float)


def _simulate(
    rng: np.random.Generator, X0: FloatArray, slope: float, *, frebaq_sd: float | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """y = prognosis(x) + τ(x)·arm + N(0, 2²); τ = −1 + slope·(FreBAQ − mean); n = 276, 1:1."""
    n = 276
    M = X0[rng.integers(0, X0.shape[0], n)].copy()
    centre = X0[:, 4].mean()
    if frebaq_sd is not None:  # rescale FreBAQ to a given SD around its mean
        M[:, 4] = centre + (M[:, 4] - centre) * frebaq_sd / X0[:, 4].std(ddof=1)
    A = np.zeros((n, 1))
    A[rng.permutation(n)[: n // 2], 0] = 1.0
    tau = -1.0 + slope * (M[:, 4] - centre)
    y = 1.3 + M @ PROGNOSIS + tau * A[:, 0] + rng.normal(0.0, 2.0, n)
    return M, A, y, tau


def _homogeneous(reps: int, rule: str, seed: int = 11) -> tuple[float, float]:
    """Mean squared error (vs the true τ) of individual predictions and of the average effect."""
    X0 = _baseline()
    rng = np.random.default_rng(seed)
    ind, avg = [], []
    for _ in range(reps):
        M, A, y, tau = _simulate(rng, X0, 0.0)
        adj = np.empty((y.size, 0))
        fit = fit_cell(M, A, adj, y, rng=rng, nested=False, rule=rule)  # type: ignore[arg-type]
        ind.append(np.mean((fit.effect[:, 0] - tau) ** 2))
        ancova = ridge_path(M, A, adj, y, np.array([np.inf])).effects(M[:1])[0, 0, 0]
        avg.append((ancova - tau[0]) ** 2)
    return float(np.mean(ind)), float(np.mean(avg))


def test_homogeneous_effect_individual_predictions_no_worse_than_average() -> None:
    """Issue 9 done-when: RMSE of individual predictions <= 1.1 x RMSE of the average effect."""
    ind, avg = _homogeneous(200, "one_se")
    assert np.sqrt(ind / avg) <= 1.1
    # the check can fail: the unpenalised joint model is far worse (about 2.8 x)
    ind0, avg0 = _homogeneous(30, "none")
    assert np.sqrt(ind0 / avg0) > 2.0


def _modified(reps: int, frebaq_sd: float, seed: int = 12) -> dict[str, FloatArray]:
    X0 = _baseline()
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {"c": [], "slope": [], "ind": [], "avg": []}
    for _ in range(reps):
        M, A, y, tau = _simulate(rng, X0, 0.18, frebaq_sd=frebaq_sd)
        adj = np.empty((y.size, 0))
        fit = fit_cell(M, A, adj, y, rng=rng)
        within = _centre_within(fit.effect_cv[:, 0], fit.folds)
        out["c"].append(c_for_benefit(within, y, A[:, 0] == 1, rng=rng)[0])
        out["slope"].append(calibration_slope(y, A[:, 0], fit.reference_cv, within)[0])
        out["ind"].append(float(np.mean((fit.effect[:, 0] - tau) ** 2)))
        ancova = ridge_path(M, A, adj, y, np.array([np.inf])).effects(M[:1])[0, 0, 0]
        out["avg"].append(float(np.mean((ancova - tau) ** 2)))
    return {k: np.array(v) for k, v in out.items()}


def test_frebaq_modification_discriminates_and_is_calibrated() -> None:
    """Issue 9 done-when: with FreBAQ modification (+0.18 per point, FreBAQ SD 4 as in
    Venter), c-for-benefit and calibration reported, c-for-benefit > 0.5 on average."""
    r = _modified(60, 4.0)
    c = r["c"]
    assert c.mean() - 2 * c.std(ddof=1) / np.sqrt(c.size) > 0.5
    slope = r["slope"][np.isfinite(r["slope"])]
    assert slope.size >= 0.7 * c.size and 0.5 < np.median(slope) < 2.0
    assert np.sqrt(r["ind"].mean()) < np.sqrt(r["avg"].mean())


@pytest.mark.slow
def test_operating_characteristics_documented() -> None:
    """The numbers in docs/effect-modification.md ("Who benefits", validation)."""
    ind, avg = _homogeneous(1000, "one_se")
    assert np.sqrt(ind / avg) <= 1.1
    for sd in (4.0, 7.0):
        r = _modified(200, sd)
        assert r["c"].mean() > 0.5
