"""The operating-characteristics study script (``benchmarks/operating_characteristics.py``).

Runs its core on a few small simulated trials: the columns, sections and metrics it
returns, that it analyses each trial exactly as the plan's own functions do, and that
it is reproducible from its seed. No operating-characteristic number is asserted here
(those are measured, with Monte-Carlo SEs, in docs/operating-characteristics.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from resolve.analysis import load_plan
from resolve.analysis.effect_modifiers import analyse_modifiers
from resolve.analysis.primary import primary_analysis, sensitivity_analysis
from resolve.simulate import Scenario, named_scenario, resize, simulate_trial

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "operating_characteristics.py"


@pytest.fixture(scope="module")
def oc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("operating_characteristics", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    """The FreBAQ-modification scenario with 40 participants per arm."""
    return resize(named_scenario("frebaq_modification"), 40)


@pytest.fixture(scope="module")
def results(oc: ModuleType, tiny: Scenario) -> pd.DataFrame:
    out: pd.DataFrame = oc.operating_characteristics(
        "frebaq_modification", reps=3, seed=7, scenario=tiny, population_n=300
    )
    return out


def test_columns_sections_and_metrics(oc: ModuleType, results: pd.DataFrame) -> None:
    plan = load_plan()
    assert list(results.columns) == list(oc.RESULT_COLUMNS)
    assert set(results["scenario"]) == {"frebaq_modification"}
    assert set(results["section"]) == {
        "effect", "modifier_family", "modifier_other", "modifier_family_wise", "global_test",
    }  # fmt: skip
    eff = results[results["section"] == "effect"]
    # every model of the plan, both outcomes, every follow-up visit
    models = [plan.analysis.primary, *plan.analysis.sensitivity]
    assert list(dict.fromkeys(eff["analysis"])) == models
    assert eff.groupby("analysis")[["outcome", "visit"]].apply(
        lambda g: len(g.drop_duplicates())
    ).tolist() == [8] * len(models)
    assert set(eff["metric"]) == {
        "bias", "empirical_se", "mean_se", "rmse", "coverage", "rejection",
    }  # fmt: skip
    fam = results[results["section"] == "modifier_family"]
    n_family = len(plan.modifiers) * 2 * len(plan.effect_modification.family_visits)
    assert fam[["term", "outcome", "visit"]].drop_duplicates().shape[0] == n_family == 32
    fw = results[results["section"] == "modifier_family_wise"]
    assert {"holm_fwer", "bh_fwer", "holm_power", "bh_power", "unadjusted_fwer"} <= set(
        fw["metric"]
    )
    # nulls: tests at an outcome and visit without configured modification (8 x 2 x 2 - 8)
    assert fw["term"].iloc[0] == "32 tests, 24 null, 1 modified, 7 associated"
    # population values of every modifier test (the large trial), with their SEs
    pop = fam[fam["metric"] == "population_value"]
    assert len(pop) == 32 and (pop["mc_se"] > 0).all()
    assert (results["n"] + results["n_failed"] <= 3).all()


def test_rates_and_truth(results: pd.DataFrame, tiny: Scenario) -> None:
    rates = results[results["metric"].isin(["coverage", "rejection", "exploratory"])]
    assert rates["value"].between(0, 1).all()
    assert (results["mc_se"].dropna() >= 0).all()
    eff = results[(results["section"] == "effect") & (results["metric"] == "bias")]
    truth = eff[eff["outcome"] == "rmdq"].drop_duplicates("visit")["truth"].tolist()
    assert truth == list(tiny.rmdq.effect)
    fam = results[(results["section"] == "modifier_family") & (results["truth"] != 0)]
    assert fam[["term", "outcome", "visit"]].drop_duplicates().values.tolist() == [
        ["frebaq", "pain", "week 52"]
    ]
    assert fam["truth"].iloc[0] == pytest.approx(0.18)


def test_each_trial_is_analysed_as_the_plan_does(oc: ModuleType, tiny: Scenario) -> None:
    plan = load_plan()
    data = simulate_trial(tiny, seed=11)
    raw = oc._Raw([], [], [], [])
    oc.analyse_trial(data, plan, 0, raw)
    got = pd.concat(raw.effects, ignore_index=True)
    want = pd.concat([primary_analysis(data, plan), sensitivity_analysis(data, plan)])
    np.testing.assert_array_equal(got["estimate"], want["estimate"])
    np.testing.assert_array_equal(got["p_value"], want["p_value"])
    mods = analyse_modifiers(data, plan, credibility=False)
    np.testing.assert_array_equal(raw.modifiers[0]["p_holm"], mods.table["p_holm"])
    np.testing.assert_array_equal(raw.global_tests[0]["p_value"], mods.global_tests["p_value"])


def test_reproducible_from_the_seed(oc: ModuleType, tiny: Scenario) -> None:
    a = oc.simulate_study(tiny, reps=1, seed=3)
    b = oc.simulate_study(tiny, reps=1, seed=3)
    pd.testing.assert_frame_equal(a["effects"], b["effects"])
    c = oc.simulate_study(tiny, reps=1, seed=4)
    assert not np.array_equal(a["effects"]["estimate"], c["effects"]["estimate"])


def test_markdown_names_every_section(oc: ModuleType, results: pd.DataFrame) -> None:
    text = oc.markdown(results)
    assert "### Scenario `frebaq_modification`" in text
    for part in ("| analysis | outcome | visit |", "| modifier | outcome |", "| holm |"):
        assert part in text
