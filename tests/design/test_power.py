"""Power, operating characteristics and sample size by simulation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from resolve.analysis import load_plan
from resolve.analysis.plan import Plan
from resolve.design import LocalEngine, SerialEngine
from resolve.design.power import (
    DESIGN_COLUMNS,
    DesignRun,
    oc_table,
    power_table,
    sample_size,
    simulate_designs,
)
from resolve.design.trials import Condition, TrialDesign
from resolve.errors import DataValidationError
from resolve.simulate import Scenario, default_scenario

HIGH_FREBAQ = Condition("frebaq", ">=", 14.0)
WEEK18 = "treatment:pain:week 18"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return default_scenario()


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


# ----------------------------------------------------------------------------- hand-made runs
def _rows(
    target: str,
    adjustment: str,
    truth: float | None,
    results: list[tuple[float | None, float | None, bool, bool]],
    *,
    n: int = 60,
    screened: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Rows of one target: (estimate, std_error, reject, failed) per replicate."""
    out = []
    for i, (est, se, reject, failed) in enumerate(results):
        ok = est is not None and se is not None
        out.append(
            {
                **TrialDesign(n).as_row(),
                "replicate": i,
                "target": target,
                "estimand": f"estimand of {target}",
                "adjustment": adjustment,
                "truth": truth,
                "estimate": est,
                "std_error": se,
                "conf_low": est - 1.96 * se if ok else None,  # type: ignore[operator]
                "conf_high": est + 1.96 * se if ok else None,  # type: ignore[operator]
                "p_value": (0.01 if reject else 0.5) if not failed else None,
                "reject": reject,
                "failed": failed,
                "n_screened": screened[i] if screened else n,
            }
        )
    return out


def _run(rows: list[dict[str, Any]], reps: int) -> DesignRun:
    return DesignRun(
        rows=pd.DataFrame(rows), reps=reps, seed=1, analyses="full", alpha=0.05, scenario="hand"
    )


# 10 replicates of a treatment effect: 6 rejections, 2 failed fits (never rejecting)
TREATMENT = [
    (-1.2, 0.5, True, False),
    (-0.4, 0.5, False, False),
    (-1.5, 0.6, True, False),
    (None, None, False, True),
    (-1.1, 0.4, True, False),
    (-0.9, 0.4, True, False),
    (0.2, 0.5, False, False),
    (None, None, False, True),
    (-1.4, 0.5, True, False),
    (-2.6, 0.5, True, False),
]


def _hand_run() -> DesignRun:
    rows = _rows(WEEK18, "none", -1.0, TREATMENT, screened=[60, 61, 62, 63, 64, 65, 66, 67, 68, 69])
    holm = [(e, s, r and k % 2 == 0, f) for k, (e, s, r, f) in enumerate(TREATMENT)]
    rows += _rows("modifier:frebaq:pain:week 52", "holm", 0.18, holm)
    rows += _rows(
        "global:pain:week 52", "none", None, [(None, None, k < 3, False) for k in range(10)]
    )
    rows += _rows("treatment:pain:week 12", "none", -0.9, [(-0.5, 0.3, False, False)] * 10)
    rows += _rows("treatment:pain:week 26", "none", -0.6, [(-0.5, 0.3, True, False)] * 10)
    return _run(rows, 10)


def test_power_table_counts_failures_as_non_rejections() -> None:
    table = power_table(_hand_run())
    assert list(table.columns) == [
        *DESIGN_COLUMNS,
        "target",
        "estimand",
        "adjustment",
        "truth",
        "power",
        "mc_se",
        "conf_low",
        "conf_high",
        "reps",
        "n_failed",
        "n_randomised",
        "n_screened",
    ]
    row = table[table["target"] == WEEK18].iloc[0]
    assert row["power"] == 6 / 10  # not 6 / 8: the two failed fits count as misses
    assert row["reps"] == 10 and row["n_failed"] == 2
    assert row["mc_se"] == pytest.approx(math.sqrt(0.6 * 0.4 / 10))
    assert row["truth"] == -1.0
    assert row["n_randomised"] == 60 and row["n_screened"] == pytest.approx(64.5)
    holm = table[table["adjustment"] == "holm"].iloc[0]
    assert holm["power"] == 4 / 10 and holm["target"] == "modifier:frebaq:pain:week 52"
    glob = table[table["target"] == "global:pain:week 52"].iloc[0]
    assert glob["power"] == 0.3 and pd.isna(glob["truth"])
    assert len(table) == 5


def test_power_table_wilson_interval_and_edges() -> None:
    table = power_table(_hand_run())
    for _, row in table.iterrows():
        k = round(row["power"] * row["reps"])
        low, high = proportion_confint(k, row["reps"], alpha=0.05, method="wilson")
        assert row["conf_low"] == pytest.approx(low, abs=1e-12)
        assert row["conf_high"] == pytest.approx(high, abs=1e-12)
        if 0 < k < row["reps"]:
            assert row["conf_low"] < row["power"] < row["conf_high"]
    never = table[table["target"] == "treatment:pain:week 12"].iloc[0]
    always = table[table["target"] == "treatment:pain:week 26"].iloc[0]
    assert never["power"] == 0 and never["mc_se"] == 0
    assert 0.2 < never["conf_high"] < 0.35  # Wilson, not the degenerate Wald [0, 0]
    assert always["power"] == 1 and always["mc_se"] == 0 and 0.65 < always["conf_low"] < 0.8


def test_wilson_interval_contains_power_of_zero_and_one() -> None:
    for reps in (3, 10):
        rows = _rows(WEEK18, "none", -1.0, [(-1.0, 0.5, True, False)] * reps)
        rows += _rows("treatment:pain:week 12", "none", -0.9, [(0.0, 0.5, False, False)] * reps)
        for _, row in power_table(_run(rows, reps)).iterrows():
            assert row["conf_low"] <= row["power"] <= row["conf_high"], (reps, dict(row))


def _oc(table: pd.DataFrame, target: str, metric: str, adjustment: str = "none") -> pd.Series:
    hit = table[
        (table["target"] == target)
        & (table["metric"] == metric)
        & (table["adjustment"] == adjustment)
    ]
    assert len(hit) == 1, (target, metric, adjustment)
    return hit.iloc[0]


def test_oc_table_metrics_on_a_hand_made_run() -> None:
    table = oc_table(_hand_run())
    ok = [(e, s) for e, s, _, f in TREATMENT if not f]
    est = np.array([e for e, _ in ok], dtype=float)
    se = np.array([s for _, s in ok], dtype=float)
    t = -1.0
    m = est.size
    assert _oc(table, WEEK18, "bias")["value"] == pytest.approx(est.mean() - t)
    assert _oc(table, WEEK18, "bias")["mc_se"] == pytest.approx(est.std(ddof=1) / math.sqrt(m))
    assert _oc(table, WEEK18, "empirical_se")["value"] == pytest.approx(est.std(ddof=1))
    assert _oc(table, WEEK18, "mean_se")["value"] == pytest.approx(se.mean())
    assert _oc(table, WEEK18, "rmse")["value"] == pytest.approx(math.sqrt(np.mean((est - t) ** 2)))
    covered = np.mean((est - 1.96 * se <= t) & (t <= est + 1.96 * se))
    assert covered < 1  # the data has one miss (-2.6 +- 0.98 excludes -1) and a 0.2
    cov = _oc(table, WEEK18, "coverage")
    assert cov["value"] == pytest.approx(covered)
    assert cov["mc_se"] == pytest.approx(math.sqrt(covered * (1 - covered) / m))
    rej = _oc(table, WEEK18, "rejection")
    assert rej["value"] == 0.6 and rej["mc_se"] == pytest.approx(math.sqrt(0.24 / 10))
    assert set(table.loc[table["target"] == WEEK18, "reps"]) == {10}
    assert set(table.loc[table["target"] == WEEK18, "n_failed"]) == {2}


def test_oc_table_adjusted_and_global_tests_have_rejection_only() -> None:
    table = oc_table(_hand_run())
    for target, adjustment in [
        ("modifier:frebaq:pain:week 52", "holm"),
        ("global:pain:week 52", "none"),
    ]:
        sub = table[(table["target"] == target) & (table["adjustment"] == adjustment)]
        assert sub["metric"].tolist() == ["rejection"]
    assert _oc(table, "global:pain:week 52", "rejection")["value"] == pytest.approx(0.3)


# ----------------------------------------------------------------------------- real runs
def test_simulate_designs_rows_and_tables(scenario: Scenario, plan: Plan, tmp_path: Path) -> None:
    designs = [TrialDesign(40), TrialDesign(40, "stratified", HIGH_FREBAQ, ratio=2.0)]
    calls: list[tuple[int, int]] = []
    run = simulate_designs(
        designs,
        scenario=scenario,
        plan=plan,
        reps=3,
        seed=5,
        engine=SerialEngine(),
        out=tmp_path,
        progress=lambda done, total, _s: calls.append((done, total)),
    )
    rows = run.rows
    assert list(rows.columns[: len(DESIGN_COLUMNS) + 1]) == [*DESIGN_COLUMNS, "replicate"]
    assert list(rows.columns[len(DESIGN_COLUMNS) + 1 :]) == [
        "target", "estimand", "truth", "adjustment", "estimate", "std_error", "conf_low",
        "conf_high", "p_value", "reject", "failed", "n_screened",
    ]  # fmt: skip
    n_targets = len(plan.outcomes) * len(scenario.design.followup_weeks)
    assert len(rows) == 2 * 3 * n_targets
    assert rows["design"].unique().tolist() == ["parallel", "stratified frebaq>=14"]
    assert rows.loc[rows["target"] == WEEK18, "truth"].unique().tolist() == [-1.0]
    assert (run.reps, run.seed, run.analyses) == (3, 5, "primary")
    assert run.alpha == pytest.approx(0.05) and run.scenario == scenario.name
    assert run.eligible["parallel"] == 1.0
    assert run.eligible["stratified frebaq>=14"] == 1.0  # all-comers
    assert calls[-1] == (6, 6) and calls[0] == (0, 6)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2

    table = power_table(run)
    assert len(table) == 2 * n_targets
    assert set(table["reps"]) == {3}
    assert set(table["n_screened"]) == {40.0}
    # resuming from the Parquet results recomputes nothing and gives the same rows
    again: list[int] = []
    rerun = simulate_designs(
        designs, scenario=scenario, plan=plan, reps=3, seed=5, engine=SerialEngine(),
        out=tmp_path, progress=lambda done, _t, _s: again.append(done),
    )  # fmt: skip
    pd.testing.assert_frame_equal(rerun.rows, run.rows)
    assert again == [3, 6]


def test_serial_and_local_engines_give_identical_rows(scenario: Scenario, plan: Plan) -> None:
    design = [TrialDesign(40, "stratified", HIGH_FREBAQ)]
    args: dict[str, Any] = {"scenario": scenario, "plan": plan, "reps": 4, "seed": 9}
    serial = simulate_designs(design, engine=SerialEngine(), chunk_size=4, **args)
    local = simulate_designs(design, engine=LocalEngine(workers=2), chunk_size=1, **args)
    pd.testing.assert_frame_equal(serial.rows, local.rows, check_exact=True)
    assert serial.rows["replicate"].nunique() == 4
    assert serial.rows["estimate"].nunique() > 4


def test_type_one_error_at_zero_effect(scenario: Scenario, plan: Plan) -> None:
    """With no average effect, the primary test at week 18 rejects at about alpha."""
    reps = 200
    run = simulate_designs(
        [TrialDesign(60, effect_scale=0.0)],
        scenario=scenario,
        plan=plan,
        reps=reps,
        seed=20260113,
        engine=SerialEngine(),
        analyses="primary",
    )
    alpha = run.alpha
    assert alpha == pytest.approx(0.05)
    table = power_table(run)
    mc_se = math.sqrt(alpha * (1 - alpha) / reps)
    for target in (WEEK18, "treatment:rmdq:week 18"):
        row = table[table["target"] == target].iloc[0]
        assert row["truth"] == 0.0
        assert row["n_failed"] == 0
        assert abs(row["power"] - alpha) <= 3 * mc_se, (target, row["power"])
    oc = oc_table(run)
    bias = _oc(oc, WEEK18, "bias")
    assert abs(bias["value"]) <= 3 * bias["mc_se"]
    cover = _oc(oc, WEEK18, "coverage")
    assert abs(cover["value"] - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / reps)


# ----------------------------------------------------------------------------- sample size
def test_sample_size_bisects_to_a_multiple_of_step(scenario: Scenario, plan: Plan) -> None:
    step, target_power, reps = 8, 0.7, 5

    def make(n: int) -> TrialDesign:
        return TrialDesign(n, effect_scale=2.0)

    found = sample_size(
        make, target=WEEK18, power=target_power, grid=[16, 56], step=step,
        scenario=scenario, plan=plan, reps=reps, seed=3, engine=SerialEngine(),
    )  # fmt: skip
    assert found.n is not None and found.n % step == 0
    curve = found.curve.set_index("n")["power"]
    assert list(curve.index) == sorted(curve.index)
    assert curve[found.n] >= target_power
    assert found.n - step in curve.index, "the bracket was not narrowed to one step"
    assert curve[found.n - step] < target_power
    assert found.power == curve[found.n]
    assert found.mc_se == pytest.approx(math.sqrt(found.power * (1 - found.power) / reps))
    assert len(curve) > 2  # bisection evaluated sizes beyond the grid
    assert set(found.run.rows["n"]) == set(curve.index)
    # common random numbers: the same seed at n gives the same power on its own
    alone = simulate_designs(
        [make(found.n)], scenario=scenario, plan=plan, reps=reps, seed=3, engine=SerialEngine()
    )
    hit = power_table(alone)
    assert hit.loc[hit["target"] == WEEK18, "power"].iloc[0] == found.power


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"power": 1.0}, "power must be between 0 and 1, got 1.0"),
        ({"power": 0.0}, "got 0.0"),
        ({"grid": []}, "at least one n"),
        ({"step": 0}, "step must be >= 1, got 0"),
    ],
)
def test_sample_size_refuses_bad_arguments(
    scenario: Scenario, plan: Plan, kwargs: dict[str, Any], named: str
) -> None:
    args: dict[str, Any] = {"target": WEEK18, "power": 0.8, "grid": [16], **kwargs}
    with pytest.raises(DataValidationError) as info:
        sample_size(TrialDesign, scenario=scenario, plan=plan, reps=1, seed=1, **args)
    assert named in str(info.value)


def test_sample_size_unknown_target_is_named(scenario: Scenario, plan: Plan) -> None:
    with pytest.raises(DataValidationError, match=r"'treatment:pain:week 99'.*not tested"):
        sample_size(
            TrialDesign, target="treatment:pain:week 99", power=0.8, grid=[16],
            scenario=scenario, plan=plan, reps=1, seed=1, engine=SerialEngine(),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"analyses": "all"}, "'all'"), ({"designs": []}, "no design")],
)
def test_simulate_designs_refuses_bad_arguments(
    scenario: Scenario, plan: Plan, kwargs: dict[str, Any], named: str
) -> None:
    args: dict[str, Any] = {"designs": [TrialDesign(20)], **kwargs}
    with pytest.raises(DataValidationError, match=named):
        simulate_designs(scenario=scenario, plan=plan, reps=1, seed=1, **args)
