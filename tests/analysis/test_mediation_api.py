"""``mediate``: rows, the shared bootstrap, complete cases, sensitivity, JSON and bad input."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from resolve._results import jsonable
from resolve.analysis.mediation import mediate
from resolve.analysis.mediation.bootstrap import (
    bootstrap_indices,
    percentile_ci,
    resample_weights,
)
from resolve.analysis.mediation.regression import fit_single, point_estimates
from resolve.errors import DataValidationError


def wide(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """A small wide trial: text arms, two mediators, two outcomes, one covariate."""
    rng = np.random.default_rng(seed)
    arm = np.repeat(["sham", "gsr"], n // 2)
    t = (arm == "gsr").astype(float)
    age = rng.normal(50, 10, n)
    pseq = 30 + 5 * t + 0.1 * age + rng.normal(0, 8, n)
    tsk = 40 - 3 * t + rng.normal(0, 6, n)
    pain = 6 - 0.5 * t - 0.05 * pseq + 0.04 * tsk + rng.normal(0, 1.5, n)
    rmdq = 10 - 1.0 * t - 0.1 * pseq + 0.1 * tsk + rng.normal(0, 3, n)
    return pd.DataFrame(
        {"arm": arm, "age": age, "pseq": pseq, "tsk": tsk, "pain": pain, "rmdq": rmdq}
    )


BASE: dict[str, Any] = {"treatment": "arm", "reference": "sham", "covariates": ["age"]}


def test_rows_for_every_outcome_mediator_effect_and_method() -> None:
    df = wide()
    res = mediate(df, outcomes=["pain", "rmdq"], mediators=["pseq", "tsk"], boot=200, **BASE)
    eff = res.effects
    assert list(eff.columns[:10]) == [
        "outcome",
        "mediator",
        "effect",
        "estimate",
        "std_error",
        "conf_low",
        "conf_high",
        "p_value",
        "ci_method",
        "n",
    ]
    keys = set(zip(eff.outcome, eff.mediator, eff.effect, eff.ci_method, strict=True))
    for o in ("pain", "rmdq"):
        for m in ("pseq", "tsk", "joint"):
            for e in ("nde", "nie", "te", "pm"):
                assert {(o, m, e, "delta"), (o, m, e, "percentile")} <= keys
    assert len(eff) == 2 * 3 * 4 * 2
    fit = fit_single(df, outcome="rmdq", mediator="tsk", **BASE)
    sub = eff[(eff.outcome == "rmdq") & (eff.mediator == "tsk")]
    rows = {(r["effect"], r["ci_method"]): r for r in sub.to_dict(orient="records")}
    for e in ("nde", "nie", "te", "pm"):
        delta, boot = rows[(e, "delta")], rows[(e, "percentile")]
        assert delta["estimate"] == pytest.approx(getattr(fit, e), rel=1e-12)
        assert boot["estimate"] == delta["estimate"]
        assert delta["std_error"] == pytest.approx(getattr(fit, f"{e}_se"))
        assert boot["conf_low"] < boot["conf_high"]
    assert set(res.paths.path) == {"a", "b", "c_prime"}
    assert res.settings["boot"] == 200 and res.settings["reference"] == "sham"


def test_one_shared_bootstrap_matrix_for_all_mediators_and_outcomes() -> None:
    df = wide()
    both = mediate(
        df, outcomes=["pain", "rmdq"], mediators=["pseq", "tsk"], boot=200, seed=9, **BASE
    )
    alone = mediate(df, outcomes="rmdq", mediators="tsk", boot=200, seed=9, **BASE)

    def boot_rows(res: Any) -> pd.DataFrame:
        e = res.effects
        sel = (e.outcome == "rmdq") & (e.mediator == "tsk") & (e.ci_method == "percentile")
        return pd.DataFrame(e[sel].reset_index(drop=True))

    # the same resamples whatever else is analysed: identical bootstrap rows
    pd.testing.assert_frame_equal(boot_rows(both), boot_rows(alone))
    # ... and they are the rows of bootstrap_indices(n, boot, seed), as computed by hand
    n = len(df)
    W = resample_weights(bootstrap_indices(n, 200, 9), n)
    t = (df.arm == "gsr").to_numpy(float)
    est = point_estimates(t, df.tsk.to_numpy(), df.rmdq.to_numpy(), df[["age"]].to_numpy(), W)
    row = boot_rows(alone).set_index("effect").loc["nie"]
    assert (row.conf_low, row.conf_high) == pytest.approx(percentile_ci(est.nie, 0.95))
    assert row.std_error == pytest.approx(np.std(est.nie, ddof=1))
    other = mediate(df, outcomes="rmdq", mediators="tsk", boot=200, seed=10, **BASE)
    assert boot_rows(other).conf_low.iloc[1] != row.conf_low


def test_complete_cases_per_model_are_counted_in_warnings() -> None:
    df = wide()
    df.loc[[1, 2, 3], "tsk"] = np.nan
    df.loc[[5], "pain"] = np.nan
    res = mediate(df, outcomes="pain", mediators=["pseq", "tsk"], boot=200, **BASE)
    n = res.effects.groupby("mediator")["n"].unique()
    assert n["pseq"].tolist() == [119] and n["tsk"].tolist() == [116]
    assert n["joint"].tolist() == [116]
    text = " | ".join(res.warnings)
    assert "'pseq': 1 of 120 rows dropped (missing: pain 1)" in text
    assert "'tsk': 4 of 120 rows dropped (missing: pain 1, tsk 3)" in text
    assert res.sensitivity.groupby("mediator").size().to_dict() == {"pseq": 181, "tsk": 181}


def test_bca_rows_and_their_minimum_boot() -> None:
    df = wide()
    pct = mediate(df, outcomes="pain", mediators="pseq", boot=200, seed=4, **BASE).effects
    bca = mediate(df, outcomes="pain", mediators="pseq", boot=200, seed=4, ci="bca", **BASE).effects
    assert set(bca.ci_method) == {"bca", "delta"}
    p = pct[pct.ci_method == "percentile"].set_index("effect")
    b = bca[bca.ci_method == "bca"].set_index("effect")
    assert (b.std_error == p.std_error).all()  # same draws ...
    assert (b.conf_low != p.conf_low).any()  # ... other quantiles
    with pytest.raises(DataValidationError, match="at least 200 for bca"):
        mediate(df, outcomes="pain", mediators="pseq", boot=199, ci="bca", **BASE)


def test_interventional_rows_and_their_identity_with_one_mediator() -> None:
    df = wide(n=100)
    res = mediate(
        df, outcomes="pain", mediators=["pseq"], boot=50, interventional=True, joint=False, **BASE
    )
    e = res.effects.set_index(["mediator", "effect", "ci_method"])
    nie = e.loc[("pseq", "nie", "delta"), "estimate"]
    assert e.loc[("interventional:pseq", "nie", "percentile"), "estimate"] == pytest.approx(nie)
    assert e.loc[("interventional:joint", "nie", "percentile"), "estimate"] == pytest.approx(nie)
    assert e.loc[("interventional:dependence", "nie", "percentile"), "estimate"] == pytest.approx(
        0.0, abs=1e-12
    )
    assert "joint" not in res.effects.mediator.tolist()
    ivs = res.effects[res.effects.mediator.str.startswith("interventional:")]
    assert ivs.conf_low.notna().all() and (ivs.ci_method == "percentile").all()


def test_sensitivity_curve_and_thresholds() -> None:
    df = wide()
    res = mediate(df, outcomes="pain", mediators=["pseq", "tsk"], boot=0, **BASE)
    assert set(res.effects.ci_method) == {"delta"}
    curve = res.sensitivity[res.sensitivity.mediator == "pseq"]
    nie = res.effects.query("mediator == 'pseq' and effect == 'nie'").estimate.item()
    assert curve[curve.rho == 0.0].nie.item() == pytest.approx(nie)
    th = {d["mediator"]: d for d in res.settings["rho_thresholds"]}
    assert set(th) == {"pseq", "tsk"}
    inter = mediate(df, outcomes="pain", mediators="pseq", boot=0, interaction=True, **BASE)
    assert inter.sensitivity.empty
    assert any("no rho sensitivity curve for mediator(s) 'pseq'" in w for w in inter.warnings)


def test_failed_resamples_are_counted_not_hidden() -> None:
    df = wide(n=80, seed=5)
    df["rare"] = 0.0
    df.loc[[0, 1, 40, 41, 42], "rare"] = 1.0  # few events: some resamples separate
    res = mediate(
        df,
        outcomes="pain",
        mediators="rare",
        mediator_types={"rare": "binary"},
        boot=200,
        seed=2,
        **BASE,
    )
    failed = [w for w in res.warnings if "bootstrap resamples could not be fitted" in w]
    assert len(failed) == 1 and failed[0].startswith("outcome 'pain', mediator 'rare': ")
    assert res.effects.query("ci_method == 'percentile'").conf_low.notna().all()


def test_json_is_a_strict_list_of_effect_objects() -> None:
    res = mediate(wide(), outcomes="pain", mediators=["pseq", "tsk"], boot=200, **BASE)
    records = json.loads(json.dumps(jsonable(res.effects), allow_nan=False))
    assert isinstance(records, list) and len(records) == len(res.effects)
    for r in records:
        assert {
            "mediator",
            "effect",
            "estimate",
            "conf_low",
            "conf_high",
            "outcome",
            "std_error",
            "ci_method",
            "n",
        } <= set(r)
        assert r["effect"] in ("nde", "nie", "te", "pm")
        assert isinstance(r["n"], int)


def test_treatment_coded_0_1_needs_no_reference() -> None:
    df = wide().assign(arm=lambda d: (d.arm == "gsr").astype(int))
    a = mediate(df, treatment="arm", outcomes="pain", mediators="pseq", boot=0)
    b = mediate(wide(), outcomes="pain", mediators="pseq", boot=0, **{**BASE, "covariates": []})
    assert a.effects.estimate.tolist() == pytest.approx(b.effects.estimate.tolist())
    assert a.settings["reference"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mediators": ["pseq", "nope"]}, "lacks column(s) 'nope'"),
        ({"mediators": ["pseq", "pseq"]}, "mediator 'pseq' is given twice"),
        ({"mediators": ["pain"]}, "column 'pain' is given as outcome and as mediator"),
        ({"reference": None}, "holds 'sham', 'gsr'; name the reference"),
        ({"reference": "usual"}, "reference 'usual' is not a value of treatment column 'arm'"),
        ({"treatment": "age", "covariates": [], "reference": 1}, "'age' must have exactly 2"),
        ({"mediators": ["flat"]}, "mediator column 'flat' is constant (3)"),
        ({"mediators": ["text"]}, "mediator column 'text' must be numeric; row 4 has 'n/a'"),
        ({"boot": 20}, "at least 50 for percentile"),
        ({"ci": "basic"}, "ci must be 'percentile' or 'bca'"),
        ({"conf_level": 95}, "conf_level must lie strictly between 0 and 1"),
        ({"boot": 0, "interventional": True}, "interventional effects need the bootstrap"),
        ({"mediator_types": {"tsk": "binary"}}, "mediator_types names 'tsk'"),
        ({"mediator_types": {"pseq": "binary"}}, "binary mediator column 'pseq' must be coded"),
    ],
)
def test_bad_input_names_the_column_and_value(change: dict[str, Any], message: str) -> None:
    df = wide(n=40).assign(flat=3.0, text=lambda d: d.pseq.astype(object))
    df.loc[4, "text"] = "n/a"
    kwargs: dict[str, Any] = {
        **BASE,
        "outcomes": "pain",
        "mediators": ["pseq"],
        "boot": 100,
        **change,
    }
    pattern = message.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(DataValidationError, match=pattern):
        mediate(df, **kwargs)
