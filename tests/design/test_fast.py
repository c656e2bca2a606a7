"""The design fast path reproduces the plan's primary model (resolve analyze's numbers)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from resolve.analysis import load_plan
from resolve.analysis.plan import Plan
from resolve.analysis.primary import between_arm_differences
from resolve.design.fast import primary_differences, supported
from resolve.design.trials import TrialDesign, parse_condition, simulate_design_trial
from resolve.errors import DataValidationError
from resolve.simulate import default_scenario, simulate_trial

STATS = ["estimate", "std_error", "df", "conf_low", "conf_high", "p_value"]


def _reference(data: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    valid = plan.validate_data(data, source="test")
    return between_arm_differences(valid, plan, model=plan.analysis.primary, validated=True)


def _same(data: pd.DataFrame, plan: Plan) -> None:
    fast = primary_differences(data, plan)
    ref = _reference(data, plan)
    assert fast[["outcome", "visit"]].to_numpy().tolist() == (
        ref[["outcome", "visit"]].to_numpy().tolist()
    )
    # same model, another parametrisation of its fixed effects: the optimiser stops
    # at the same REML optimum to its convergence precision (~1e-10 on these scales)
    np.testing.assert_allclose(
        fast[STATS].to_numpy(float), ref[STATS].to_numpy(float), rtol=1e-9, atol=1e-9
    )


def _with_primary(plan: Plan, model: str) -> Plan:
    return dataclasses.replace(plan, analysis=dataclasses.replace(plan.analysis, primary=model))


@pytest.mark.parametrize("model", ["lmm_random_intercept", "mmrm_unstructured_all_visits"])
@pytest.mark.parametrize("seed", [1, 2])
def test_resolve_sized_trials_match_between_arm_differences(model: str, seed: int) -> None:
    plan = _with_primary(load_plan(), model)
    data = simulate_trial(seed=seed)
    assert supported(plan, data)
    _same(data, plan)


def test_small_enriched_and_stratum_trials_match() -> None:
    plan = load_plan()
    scenario = default_scenario()
    rng = np.random.default_rng(11)
    cond = parse_condition("frebaq<=12")
    enriched, _ = simulate_design_trial(
        scenario, TrialDesign(40, "enrichment", cond), rng, eligible=0.4
    )
    _same(enriched, plan)
    everyone = simulate_trial(seed=5)
    stratum = everyone[parse_condition("frebaq>=16").holds(everyone["frebaq"])]
    _same(stratum.reset_index(drop=True), plan)


def test_unequal_allocation_and_kenward_roger_match() -> None:
    plan = load_plan()
    plan = dataclasses.replace(
        plan, analysis=dataclasses.replace(plan.analysis, df="kenward-roger")
    )
    data, _ = simulate_design_trial(
        default_scenario(), TrialDesign(60, ratio=2.0), np.random.default_rng(3)
    )
    assert data.drop_duplicates("id")["arm"].value_counts().to_dict() == {
        "resolve": 40,
        "sham": 20,
    }
    _same(data, plan)


def test_not_supported_where_the_nested_form_does_not_apply() -> None:
    plan = load_plan()
    data = simulate_trial(seed=1)
    assert not supported(_with_primary(plan, "mmrm_baseline_adjusted"), data)
    with_cov = dataclasses.replace(
        plan, analysis=dataclasses.replace(plan.analysis, covariates=("age",))
    )
    assert not supported(with_cov, data)
    assert not supported(plan, data.drop(columns="rmdq"))
    odd = data.assign(arm=data["arm"].replace({"sham": "placebo"}))
    assert not supported(plan, odd)


def test_one_arm_without_data_is_an_error_not_a_zero() -> None:
    plan = load_plan()
    data = simulate_trial(seed=1)
    data.loc[data["arm"] == "sham", "pain"] = np.nan
    with pytest.raises(DataValidationError, match=r"pain: .*both arms"):
        primary_differences(data, plan)
