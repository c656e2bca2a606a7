"""Responder analysis: counts, Newcombe's interval and NNT against the R reference."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resolve.analysis.plan import Plan, ResponderSpec
from resolve.analysis.responders import (
    CI_METHOD,
    RESPONDER_COLUMNS,
    newcombe_interval,
    nnt,
    responder_analysis,
    responder_rates,
    responders_at,
    wilson_interval,
)

R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return pd.read_csv(R_DIR / "responders_newcombe_cases.csv")


@pytest.fixture(scope="module")
def r_resolve() -> pd.DataFrame:
    return pd.read_csv(R_DIR / "responders_resolve.csv", keep_default_na=False, na_values=[""])


def test_newcombe_matches_r(cases: pd.DataFrame) -> None:
    """Newcombe method 10 vs R (Wilson limits from stats::prop.test), to 1e-8."""
    assert len(cases) == 24
    counts = cases[["x1", "n1", "x2", "n2"]].to_numpy(dtype=int)
    numbers = cases[["conf_level", "risk_difference", "conf_low", "conf_high"]].to_numpy(float)
    for (x1, n1, x2, n2), (level, rd, low, high) in zip(counts, numbers, strict=True):
        d, lo, hi = newcombe_interval(int(x1), int(n1), int(x2), int(n2), float(level))
        assert d == pytest.approx(rd, abs=1e-12)
        assert lo == pytest.approx(low, abs=1e-8), (x1, n1, x2, n2, level)
        assert hi == pytest.approx(high, abs=1e-8), (x1, n1, x2, n2, level)


def test_newcombe_paper_example() -> None:
    """Newcombe (1998) Table II, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339."""
    _, lo, hi = newcombe_interval(56, 70, 48, 80)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)


def test_wilson_limits_stay_in_unit_interval_and_empty_arm_is_nan() -> None:
    assert wilson_interval(0, 7)[0] == 0.0 and wilson_interval(7, 7)[1] == 1.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    assert all(math.isnan(v) for v in newcombe_interval(1, 0, 2, 5))


def test_bundled_trial_matches_r(data: pd.DataFrame, plan: Plan, r_resolve: pd.DataFrame) -> None:
    """Counts (R computes them itself from resolve.csv), RD, CI and NNT, to 1e-8."""
    res = responder_analysis(data, plan)
    assert tuple(res.columns) == RESPONDER_COLUMNS
    assert len(res) == len(r_resolve) == 12
    merged = res.merge(r_resolve, on=["responder", "visit", "contrast"], suffixes=("", "_r"))
    assert len(merged) == 12
    for col in ("n_arm", "responders_arm", "n_comparator", "responders_comparator"):
        assert (merged[col] == merged[f"{col}_r"]).all(), col
    for col in ("risk_difference", "conf_low", "conf_high", "nnt", "nnt_low", "nnt_high"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], atol=1e-8, equal_nan=True)
    assert (merged["nnt_type"].fillna("") == merged["nnt_type_r"].fillna("")).all()
    assert set(res["ci_method"]) == {CI_METHOD} and set(res["analysis"]) == {"observed cases"}


def test_nnt_only_when_the_interval_excludes_zero(data: pd.DataFrame, plan: Plan) -> None:
    res = responder_analysis(data, plan)
    excludes = (res["conf_low"] > 0) | (res["conf_high"] < 0)
    assert excludes.any() and (~excludes).any()  # the bundled trial has both kinds
    assert res.loc[excludes, "nnt"].notna().all()
    assert res.loc[~excludes, "nnt"].isna().all()
    assert (res.loc[~excludes, "nnt_text"] == "not meaningful (CI includes 0)").all()
    benefit = res[excludes & (res["risk_difference"] > 0)]
    np.testing.assert_allclose(benefit["nnt"], 1 / benefit["risk_difference"])
    np.testing.assert_allclose(benefit["nnt_low"], 1 / benefit["conf_high"])
    assert (benefit["nnt_type"] == "NNTB").all()


def test_nnt_harm_and_boundary() -> None:
    kind, value, lo, hi, text = nnt(-0.2, -0.3, -0.1)
    assert (kind, value) == ("NNTH", 5.0) and lo == pytest.approx(10 / 3) and hi == 10.0
    assert text == "NNTH 5.0 (3.3 to 10.0)"
    assert nnt(0.2, 0.0, 0.4)[0] == ""  # a limit on 0: the CI does not exclude 0
    missing = nnt(float("nan"), 0.1, 0.2)
    assert missing[0] == missing[4] == "" and math.isnan(missing[1])


def test_thresholds_baseline_zero_and_either_rule() -> None:
    pct = ResponderSpec("p", "pain", "p", percent=30)
    both = ResponderSpec("b", "pain", "b", percent=30, points=2)
    base = np.array([10.0, 0.0, 0.0, 7.0, 5.0])
    value = np.array([7.0, 0.0, -2.0, 4.9, 4.0])
    # 10 -> 7 is exactly 30 %; baseline 0 cannot meet a percent threshold; 7 -> 4.9 is 30 %
    assert responders_at(base, value, pct, "worse").tolist() == [True, False, False, True, False]
    # with a points threshold a baseline-0 participant can respond (0 -> -2 is 2 points)
    assert responders_at(base, value, both, "worse").tolist() == [True, False, True, True, False]
    # higher is better: improvement is an increase
    assert responders_at(np.array([10.0]), np.array([13.0]), pct, "better").tolist() == [True]
    assert responders_at(np.array([10.0]), np.array([7.0]), pct, "better").tolist() == [False]


def test_counts_are_observed_cases(data: pd.DataFrame, plan: Plan) -> None:
    """n = participants with baseline and visit values, counted independently here."""
    rates = responder_rates(data, plan)
    wide = data.pivot(index="id", columns="visit", values="pain")
    arm = data.drop_duplicates("id").set_index("id")["arm"]
    ok = wide["baseline"].notna() & wide["week 52"].notna()
    hit = (
        ok & (wide["baseline"] - wide["week 52"] >= 0.5 * wide["baseline"]) & (wide["baseline"] > 0)
    )
    for a in ("sham", "resolve"):
        row = rates[(rates.responder == "pain_50") & (rates.visit == "week 52") & (rates.arm == a)]
        assert int(row["n"].iloc[0]) == int((ok & (arm == a)).sum())
        assert int(row["responders"].iloc[0]) == int((hit & (arm == a)).sum())


def test_three_arms_with_an_extra_contrast(data: pd.DataFrame, plan: Plan) -> None:
    three = data.copy()
    ids = sorted(three.loc[three.arm == "resolve", "id"].unique())[::2]
    three.loc[three.id.isin(ids), "arm"] = "GSR+education"
    trial = replace(
        plan.trial,
        arms=("sham", "resolve", "GSR+education"),
        extra_contrasts=(("GSR+education", "resolve"),),
    )
    spec = ResponderSpec("p30", "pain", "Pain -30%", percent=30, visits=("week 18",))
    p3 = replace(plan, trial=trial, responders=(spec,))
    res = responder_analysis(three, p3)
    assert res["contrast"].tolist() == [
        "resolve - sham",
        "GSR+education - sham",
        "GSR+education - resolve",
    ]
    assert set(res["visit"]) == {"week 18"}
    last = res.iloc[2]
    d, lo, hi = newcombe_interval(
        int(last.responders_arm), int(last.n_arm), int(last.responders_comparator),
        int(last.n_comparator),
    )  # fmt: skip
    assert (last.risk_difference, last.conf_low, last.conf_high) == (d, lo, hi)
    # the GSR+education arm's counts are the same in both of its contrasts
    assert res.iloc[1].n_arm == res.iloc[2].n_arm


def test_no_definitions_gives_an_empty_table(data: pd.DataFrame, plan: Plan) -> None:
    res = responder_analysis(data, replace(plan, responders=()))
    assert res.empty and tuple(res.columns) == RESPONDER_COLUMNS
