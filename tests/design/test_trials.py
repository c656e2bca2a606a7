"""Candidate designs: parsing, who is enrolled, allocation, dropout, truth."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from resolve.analysis import load_plan
from resolve.analysis.plan import Plan
from resolve.design.trials import (
    Condition,
    TrialDesign,
    analyse_design_trial,
    design_scenario,
    needs_modifiers,
    parse_condition,
    parse_design,
    simulate_design_trial,
    true_values,
)
from resolve.errors import DataValidationError
from resolve.simulate import Scenario, default_scenario

LOW_FREBAQ = Condition("frebaq", "<=", 12.0)
HIGH_FREBAQ = Condition("frebaq", ">=", 14.0)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return default_scenario()


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


def _baseline(data: pd.DataFrame) -> pd.DataFrame:
    return data.drop_duplicates("id").reset_index(drop=True)


def _arm_counts(data: pd.DataFrame, arms: tuple[str, ...]) -> tuple[int, int]:
    counts = _baseline(data)["arm"].value_counts()
    return int(counts.get(arms[0], 0)), int(counts.get(arms[1], 0))


# ----------------------------------------------------------------------------- parsing
def test_parse_condition_reads_spacing_and_operators() -> None:
    assert parse_condition(" frebaq >= 14 ") == HIGH_FREBAQ
    assert parse_condition("tsk<40.5") == Condition("tsk", "<", 40.5)
    assert str(parse_condition("frebaq<=12")) == "frebaq<=12"
    assert HIGH_FREBAQ.negated() == Condition("frebaq", "<", 14.0)
    assert LOW_FREBAQ.negated().negated() == LOW_FREBAQ
    assert LOW_FREBAQ.holds([11.0, 12.0, 13.0]).tolist() == [True, True, False]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("frebaq=12", "'frebaq=12'"),
        ("frebaq<=", "'frebaq<='"),
        ("<=12", "'<=12'"),
        ("frebaq<=1e", "'1e'"),
        ("frebaq<=1.2.3", "'1.2.3'"),
        ("foo<=3", "'foo'"),
        ("frebaq<=1e999", "inf"),
    ],
)
def test_parse_condition_errors_name_the_bad_value(text: str, named: str) -> None:
    with pytest.raises(DataValidationError) as info:
        parse_condition(text)
    assert named in str(info.value)


def test_condition_refuses_unknown_operator() -> None:
    with pytest.raises(DataValidationError, match="'=='"):
        Condition("frebaq", "==", 3.0)


def test_parse_design_spellings() -> None:
    assert parse_design("parallel") == ("parallel", None)
    assert parse_design(" enrichment:frebaq<=12") == ("enrichment", LOW_FREBAQ)
    assert parse_design("stratified:frebaq>=14") == ("stratified", HIGH_FREBAQ)
    assert parse_design("biomarker:frebaq >= 14") == ("biomarker", HIGH_FREBAQ)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("crossover", "'crossover'"),
        ("Parallel", "'Parallel'"),
        ("parallel:frebaq<=12", "'parallel:frebaq<=12'"),
        ("enrichment", "'enrichment'"),
        ("stratified:", "'stratified:'"),
        ("enrichment:foo<=3", "'foo'"),
        ("biomarker:frebaq~3", "'frebaq~3'"),
    ],
)
def test_parse_design_errors_name_the_bad_value(text: str, named: str) -> None:
    with pytest.raises(DataValidationError) as info:
        parse_design(text)
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"n": 7}, "got 7"),
        ({"n": 60.0}, "got 60.0"),
        ({"n": True}, "got True"),
        ({"n": 60, "kind": "crossover"}, "'crossover'"),
        ({"n": 60, "kind": "enrichment"}, "'enrichment'"),
        ({"n": 60, "condition": LOW_FREBAQ}, "'parallel'"),
        ({"n": 60, "ratio": 0}, "ratio must be > 0, got 0"),
        ({"n": 60, "ratio": -1.5}, "got -1.5"),
        ({"n": 60, "ratio": math.inf}, "ratio must be a finite number, got inf"),
        ({"n": 60, "dropout": -0.1}, "got -0.1"),
        ({"n": 60, "effect_scale": math.nan}, "effect_scale must be a finite number, got nan"),
        ({"n": 60, "modifier_sd": 0.0}, "modifier_sd must be > 0, got 0.0"),
        ({"n": 9, "ratio": 2.0}, "leaves an arm with 3"),
    ],
)
def test_trial_design_errors_name_the_bad_value(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(DataValidationError) as info:
        TrialDesign(**kwargs)  # type: ignore[arg-type]
    assert named in str(info.value)


def test_design_label_and_row() -> None:
    d = TrialDesign(80, "enrichment", LOW_FREBAQ, ratio=2.0, dropout=0.5, modification=0.1)
    assert d.label == "enrichment frebaq<=12"
    assert TrialDesign(80).label == "parallel"
    assert d.as_row() == {
        "design": "enrichment frebaq<=12",
        "n": 80,
        "ratio": 2.0,
        "dropout": 0.5,
        "effect_scale": 1.0,
        "modification": 0.1,
        "modifier_sd": None,
    }


# ----------------------------------------------------------------------------- arm sizes
@pytest.mark.parametrize(
    ("n", "ratio", "sizes"),
    [(60, 1.0, (30, 30)), (60, 2.0, (20, 40)), (90, 2.0, (30, 60)), (40, 0.5, (27, 13))],
)
def test_arm_sizes(n: int, ratio: float, sizes: tuple[int, int]) -> None:
    d = TrialDesign(n, ratio=ratio)
    assert d.arm_sizes == sizes
    assert sum(d.arm_sizes) == n


def test_odd_n_extra_participant_goes_to_reference_arm() -> None:
    for n in (61, 63, 65, 67):
        assert TrialDesign(n).arm_sizes == ((n + 1) // 2, n // 2), n


@pytest.mark.parametrize(
    "design",
    [
        TrialDesign(40, ratio=2.0),
        TrialDesign(41),
        TrialDesign(40, "enrichment", LOW_FREBAQ, ratio=2.0),
        TrialDesign(40, "stratified", HIGH_FREBAQ, ratio=2.0),
        TrialDesign(40, "biomarker", HIGH_FREBAQ),
    ],
    ids=lambda d: f"{d.label}-n{d.n}-r{d.ratio:g}",
)
def test_simulated_arms_have_exact_sizes(scenario: Scenario, design: TrialDesign) -> None:
    rng = np.random.default_rng(11)
    for _ in range(2):
        data, screened = simulate_design_trial(scenario, design, rng, eligible=0.37)
        assert _arm_counts(data, scenario.design.arms) == design.arm_sizes
        assert data.groupby("id").size().eq(len(scenario.design.weeks)).all()
        assert screened >= design.n


# ----------------------------------------------------------------------------- enrichment
def test_enrichment_enrols_only_eligible_and_screens_n_over_share(
    scenario: Scenario, plan: Plan
) -> None:
    design = TrialDesign(20, "enrichment", LOW_FREBAQ)
    _, share = true_values(scenario, design, plan, size=50_000, seed=3)
    assert 0.2 < share < 0.6
    rng = np.random.default_rng(2026)
    screened = []
    for _ in range(80):
        # ``eligible`` only sizes the screening pool; fixed, so the pool's calibration is cached
        data, count = simulate_design_trial(scenario, design, rng, eligible=0.37)
        base = _baseline(data)
        assert bool(LOW_FREBAQ.holds(base["frebaq"]).all())
        assert _arm_counts(data, scenario.design.arms) == design.arm_sizes
        assert count >= design.n
        screened.append(count)
    x = np.asarray(screened, dtype=float)
    # each arm screens until its quota of eligible people: negative binomial,
    # mean quota / share; the share itself is estimated from 50 000 baselines
    expected = design.n / share
    se_draws = x.std(ddof=1) / math.sqrt(x.size)
    se_share = expected * math.sqrt(share * (1 - share) / 50_000) / share
    assert abs(x.mean() - expected) < 4 * math.hypot(se_draws, se_share)
    # and it is random, not n / share rounded
    assert x.std() > 3


def test_enrichment_screening_pool_shortfall_is_redrawn(scenario: Scenario) -> None:
    """A pool sized for a wrong (too high) eligible share still yields n eligible people."""
    design = TrialDesign(20, "enrichment", LOW_FREBAQ)
    data, screened = simulate_design_trial(
        scenario, design, np.random.default_rng(5), eligible=0.95
    )
    base = _baseline(data)
    assert len(base) == 20 and bool(LOW_FREBAQ.holds(base["frebaq"]).all())
    assert screened > 20


def test_parallel_screens_exactly_n(scenario: Scenario) -> None:
    data, screened = simulate_design_trial(scenario, TrialDesign(40), np.random.default_rng(1))
    assert screened == 40
    assert _baseline(data)["frebaq"].max() > 12  # all-comers, not enriched


def test_primary_only_trial_without_modifiers_has_the_same_outcome_data(
    scenario: Scenario, plan: Plan
) -> None:
    design = TrialDesign(120, dropout=1.5)
    sc = design_scenario(scenario, design)
    full, n_full = simulate_design_trial(sc, design, np.random.default_rng(3))
    lean, n_lean = simulate_design_trial(sc, design, np.random.default_rng(3), modifiers=False)
    assert n_full == n_lean == 120
    assert "frebaq" in full.columns and "frebaq" not in lean.columns
    pd.testing.assert_frame_equal(full[list(lean.columns)], lean)
    assert full["pain"].isna().any()  # the missed visits are compared too
    assert analyse_design_trial(lean, plan, design) == analyse_design_trial(full, plan, design)


def test_needs_modifiers_only_skips_them_for_a_parallel_primary_run(plan: Plan) -> None:
    assert not needs_modifiers(plan, TrialDesign(100), "primary")
    assert needs_modifiers(plan, TrialDesign(100), "full")
    for kind in ("enrichment", "stratified", "biomarker"):
        assert needs_modifiers(plan, TrialDesign(100, kind, LOW_FREBAQ), "primary")
    adjusted = dataclasses.replace(
        plan, analysis=dataclasses.replace(plan.analysis, covariates=("pcs",))
    )
    assert needs_modifiers(adjusted, TrialDesign(100), "primary")


def test_selecting_design_refuses_to_drop_modifiers(scenario: Scenario) -> None:
    design = TrialDesign(60, "enrichment", LOW_FREBAQ)
    with pytest.raises(DataValidationError, match="selects on a modifier"):
        simulate_design_trial(scenario, design, np.random.default_rng(1), modifiers=False)


# ----------------------------------------------------------------------------- stratified
def _stratum_imbalance(data: pd.DataFrame, cond: Condition, arms: tuple[str, ...]) -> int:
    base = _baseline(data)
    stratum = cond.holds(base[cond.modifier])
    worst = 0
    for mask in (stratum, ~stratum):
        counts = base.loc[mask, "arm"].value_counts()
        worst = max(worst, abs(int(counts.get(arms[0], 0)) - int(counts.get(arms[1], 0))))
    return worst


def test_stratified_allocation_is_balanced_within_each_stratum(scenario: Scenario) -> None:
    arms = scenario.design.arms
    rng = np.random.default_rng(17)
    for n in (40, 41):
        design = TrialDesign(n, "stratified", HIGH_FREBAQ)
        for _ in range(5):
            data, screened = simulate_design_trial(scenario, design, rng)
            assert _arm_counts(data, arms) == design.arm_sizes
            assert _stratum_imbalance(data, HIGH_FREBAQ, arms) <= 1
            assert screened == n  # all-comers: nobody screened out


def test_parallel_allocation_is_not_balanced_within_strata(scenario: Scenario) -> None:
    """The check above can fail: without stratification strata are often unbalanced."""
    arms = scenario.design.arms
    rng = np.random.default_rng(17)
    worst = [
        _stratum_imbalance(
            simulate_design_trial(scenario, TrialDesign(40), rng)[0], HIGH_FREBAQ, arms
        )
        for _ in range(10)
    ]
    assert max(worst) > 1


def test_stratified_two_to_one_within_strata(scenario: Scenario) -> None:
    arms = scenario.design.arms
    design = TrialDesign(40, "stratified", HIGH_FREBAQ, ratio=2.0)
    rng = np.random.default_rng(4)
    for _ in range(5):
        data, _ = simulate_design_trial(scenario, design, rng)
        base = _baseline(data)
        stratum = HIGH_FREBAQ.holds(base["frebaq"])
        for mask in (stratum, ~stratum):
            counts = base.loc[mask, "arm"].value_counts()
            ref, treated = int(counts.get(arms[0], 0)), int(counts.get(arms[1], 0))
            assert abs(treated - 2 * ref) <= 2, (ref, treated)


# ----------------------------------------------------------------------------- biomarker
def test_biomarker_adds_stratum_targets(scenario: Scenario, plan: Plan) -> None:
    design = TrialDesign(40, "biomarker", HIGH_FREBAQ)
    data, _ = simulate_design_trial(scenario, design, np.random.default_rng(8), eligible=0.37)
    rows = analyse_design_trial(data, plan, design)
    targets = [r["target"] for r in rows]
    plain = [t for t in targets if "|" not in t]
    assert "treatment:pain:week 18" in plain
    assert targets == [
        *plain,
        *[f"{t}|frebaq>=14" for t in plain],
        *[f"{t}|frebaq<14" for t in plain],
    ]
    assert not any(r["failed"] for r in rows)
    # the stratum estimates differ from the overall one (they use other people)
    by = {r["target"]: r["estimate"] for r in rows}
    assert by["treatment:pain:week 18|frebaq>=14"] != by["treatment:pain:week 18"]
    truth, share = true_values(scenario, design, plan, size=50_000, seed=3)
    assert set(targets) <= set(truth)
    assert 0 < share < 1


def test_stratified_design_has_no_stratum_targets(scenario: Scenario, plan: Plan) -> None:
    design = TrialDesign(40, "stratified", HIGH_FREBAQ)
    data, _ = simulate_design_trial(scenario, design, np.random.default_rng(8))
    rows = analyse_design_trial(data, plan, design)
    assert not any("|" in r["target"] for r in rows)


def test_analyse_design_trial_refuses_unknown_analyses(scenario: Scenario, plan: Plan) -> None:
    data, _ = simulate_design_trial(scenario, TrialDesign(40), np.random.default_rng(1))
    with pytest.raises(DataValidationError, match="'everything'"):
        analyse_design_trial(data, plan, TrialDesign(40), analyses="everything")


# ----------------------------------------------------------------------------- dropout
def _missing_share(data: pd.DataFrame, outcome: str, arm: str, week: int) -> float:
    at = data[(data["arm"] == arm) & (data["week"] == week)]
    return float(at[outcome].isna().mean())


@pytest.mark.parametrize(
    "design",
    [
        TrialDesign(40, dropout=0.0),
        TrialDesign(40, "enrichment", LOW_FREBAQ, dropout=0.0),
        TrialDesign(40, "stratified", HIGH_FREBAQ, dropout=0.0),
    ],
    ids=lambda d: d.kind,
)
def test_no_dropout_gives_complete_follow_up(scenario: Scenario, design: TrialDesign) -> None:
    rng = np.random.default_rng(3)
    for _ in range(2):
        data, _ = simulate_design_trial(scenario, design, rng, eligible=0.37)
        assert not data[["pain", "rmdq"]].isna().any().any()


def test_scenario_dropout_rate_is_kept(scenario: Scenario) -> None:
    """Mean missing share per arm, outcome and visit is the scenario's published one."""
    n, draws = 40, 40
    design = TrialDesign(n)
    size = n // 2
    d = scenario.design
    rng = np.random.default_rng(99)
    trials = [simulate_design_trial(scenario, design, rng)[0] for _ in range(draws)]
    checked = 0
    for outcome in ("pain", "rmdq"):
        counts = scenario.followup.counts(outcome)
        for a, arm in enumerate(d.arms):
            for t, week in enumerate(d.followup_weeks):
                target = (d.n_per_arm[a] - counts[a][t]) / d.n_per_arm[a]
                got = np.mean([_missing_share(x, outcome, arm, week) for x in trials])
                # rounding of the expected count to whole people, plus sampling error
                tol = 0.5 / size + 4 * math.sqrt(target * (1 - target) / (size * draws))
                assert abs(got - target) <= tol, (outcome, arm, week, got, target)
                checked += 1
    assert checked == 2 * 2 * len(d.followup_weeks)


def test_half_dropout_halves_missing_visits(scenario: Scenario) -> None:
    d = scenario.design
    rng = np.random.default_rng(7)
    full = [simulate_design_trial(scenario, TrialDesign(40), rng)[0] for _ in range(20)]
    half = [
        simulate_design_trial(scenario, TrialDesign(40, dropout=0.5), rng)[0] for _ in range(20)
    ]
    week = d.followup_weeks[-1]

    def share(trials: list[pd.DataFrame]) -> float:
        return float(
            np.mean([_missing_share(x, "pain", arm, week) for x in trials for arm in d.arms])
        )

    assert share(half) == pytest.approx(share(full) / 2, abs=0.035)
    assert share(half) > 0


# ----------------------------------------------------------------------------- truth
def test_effect_scale_zero_makes_treatment_truth_zero(scenario: Scenario, plan: Plan) -> None:
    design = TrialDesign(60, effect_scale=0.0)
    truth, share = true_values(design_scenario(scenario, design), design, plan)
    treatment = {k: v for k, v in truth.items() if k.startswith("treatment:")}
    assert len(treatment) == len(plan.outcomes) * len(scenario.design.followup_weeks)
    assert all(v == 0.0 for v in treatment.values())
    assert share == 1.0
    # the configured modification is not an average effect: it stays
    assert truth["modifier:frebaq:pain:week 52"] == 0.18


def test_effect_scale_multiplies_truth(scenario: Scenario, plan: Plan) -> None:
    one, _ = true_values(scenario, TrialDesign(60), plan)
    design = TrialDesign(60, effect_scale=2.0)
    two, _ = true_values(design_scenario(scenario, design), design, plan)
    assert one["treatment:pain:week 18"] == scenario.outcome("pain").effect[1]
    for key, value in one.items():
        if key.startswith("treatment:"):
            assert two[key] == pytest.approx(2 * value)


def test_enrichment_truth_is_the_mean_effect_of_the_enrolled(
    scenario: Scenario, plan: Plan
) -> None:
    """Enriched: the scenario's effect where no modification is configured, not at week 52 pain."""
    design = TrialDesign(40, "enrichment", LOW_FREBAQ)
    truth, share = true_values(scenario, design, plan, size=50_000, seed=3)
    pain, rmdq = scenario.outcome("pain").effect, scenario.outcome("rmdq").effect
    assert truth["treatment:pain:week 18"] == pytest.approx(pain[1], abs=1e-12)
    assert truth["treatment:rmdq:week 52"] == pytest.approx(rmdq[3], abs=1e-12)
    # +0.18 per FreBAQ point above the population mean: low-FreBAQ people gain more
    assert truth["treatment:pain:week 52"] < pain[3] - 0.05
    assert truth["modifier:frebaq:pain:week 52"] == 0.18
    assert 0 < share < 1


def test_modification_and_modifier_sd_reach_the_scenario(scenario: Scenario) -> None:
    design = TrialDesign(60, modification=0.05, modifier_sd=2.0)
    sc = design_scenario(scenario, design)
    assert [e.per_point for e in sc.effect_modification] == [0.05]
    assert sc.scale("frebaq").sd == 2.0
    assert sc.scale("tsk").sd == scenario.scale("tsk").sd
    assert design_scenario(scenario, TrialDesign(60)) is scenario
