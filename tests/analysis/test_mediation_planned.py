"""The plan's [mediation] section: schema, participant table, runner, analyze, MI."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis import load_plan
from resolve.analysis.mediation import fit_single, mediate, rho_curve
from resolve.analysis.mediation.planned import (
    BASELINE,
    mediation_analysis,
    mediation_columns,
    participant_table,
)
from resolve.analysis.plan import Plan, parse_plan
from resolve.analysis.run import analyze, write_tables
from resolve.errors import DataValidationError
from resolve.simulate import simulate_trial
from resolve.simulate.mediators import mediation_scenario

BUNDLED = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()
MEDIATORS = ("pseq", "bbq", "pcs", "tsk", "frebaq", "tpd", "coordination")


def edited(old: str, new: str) -> Plan:
    assert old in BUNDLED, old
    return parse_plan(BUNDLED.replace(old, new, 1), "plan.toml")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate_trial(mediation_scenario(), seed=3)


def small(plan: Plan, **changes: object) -> Plan:
    """The bundled plan with two mediators and ``changes`` to [mediation]."""
    med = plan.mediation
    keep = tuple(m for m in med.mediators if m.name in ("bbq", "pseq"))
    return dataclasses.replace(plan, mediation=dataclasses.replace(med, mediators=keep, **changes))


# ----------------------------------------------------------------------------- plan
def test_bundled_plan_ships_the_protocol_section(plan: Plan) -> None:
    med = plan.mediation
    assert med.enabled and med.outcomes == ("pain", "rmdq") and med.visit == "week 18"
    assert tuple(m.name for m in med.mediators) == MEDIATORS
    assert mediation_columns(plan) == tuple(f"{m}_12" for m in MEDIATORS)
    assert {m.name: m.baseline for m in med.mediators}["tpd"] == "tpd_0"
    assert "confounders" in med.placeholders and "missing" in med.placeholders
    assert [m.name for m in med.mediators if m.placeholder] == ["coordination"]


@pytest.mark.parametrize(
    "old, new, named",
    [
        ('outcomes = ["pain", "rmdq"]\nvisit = "week 18"\nconfounders',
         'outcomes = ["pain", "sleep"]\nvisit = "week 18"\nconfounders', "'sleep'"),
        ('visit = "week 18"\nconfounders', 'visit = "week 99"\nconfounders', "week 99"),
        ('name = "bbq"\ncolumn = "bbq_12"', 'name = "pseq"\ncolumn = "bbq_12"', "unique"),
        ("boot = 1000", "boot = 20", "at least 50"),
        ('boot = 1000\nci = "percentile"', 'boot = 150\nci = "bca"', "at least 200 for bca"),
        ('placeholders = ["confounders"', 'placeholders = ["confounder"', "'confounder'"),
        ('baseline = "tpd_0"', 'baseline_visit = "baseline"', "without `baseline`"),
        ('column = "pcs_12"', 'column = "pain"', "give the `visit`"),
        ('confounders = ["age", "sex"]', 'confounders = ["arm"]', "arm column"),
    ],
)  # fmt: skip
def test_plan_errors_name_table_and_key(old: str, new: str, named: str) -> None:
    with pytest.raises(DataValidationError, match="mediation") as err:
        edited(old, new)
    assert named in str(err.value)


def test_enabled_needs_mediators_and_interventional_needs_boot() -> None:
    start = BUNDLED.index("[[mediation.mediators]]")
    with pytest.raises(DataValidationError, match=r"\[mediation\].*no \[\[mediation.mediators"):
        parse_plan(BUNDLED[:start], "plan.toml")
    with pytest.raises(DataValidationError, match="interventional effects need the bootstrap"):
        edited("boot = 1000", "boot = 0")
    assert edited('ci = "percentile"', 'ci = "bca"').mediation.ci == "bca"
    ok = parse_plan(
        BUNDLED.replace("boot = 1000", "boot = 0").replace(
            "interventional = true", "interventional = false"
        ),
        "plan.toml",
    )
    assert ok.mediation.boot == 0


def test_defaults_when_keys_are_omitted() -> None:
    start = BUNDLED.index("[mediation]")
    text = BUNDLED[:start] + (
        '[mediation]\nenabled = true\n\n[[mediation.mediators]]\nname = "b"\ncolumn = "bbq_12"\n'
    )
    med = parse_plan(text, "plan.toml").mediation
    assert med.outcomes == ("pain", "rmdq") and med.visit == "week 18"
    assert med.mediators[0].label == "b" and med.mediators[0].type == "continuous"
    assert med.boot == 1000 and med.missing == "complete_cases" and med.interaction


# ----------------------------------------------------------------------------- data
def test_participant_table_reads_outcomes_mediators_and_baselines(
    data: pd.DataFrame, plan: Plan
) -> None:
    table, confounders = participant_table(data, plan)
    assert len(table) == 276 and confounders == ["age", "sex[male]"]
    first = data[data["id"] == table.index[0]]
    at = first.set_index("visit")
    assert table["pain"].iloc[0] == at.loc["week 18", "pain"] or (
        np.isnan(table["pain"].iloc[0]) and np.isnan(at.loc["week 18", "pain"])
    )
    assert table["pain" + BASELINE].iloc[0] == at.loc["baseline", "pain"]
    assert table["tpd"].iloc[0] == first["tpd_12"].iloc[0] or np.isnan(first["tpd_12"].iloc[0])
    assert table["tpd" + BASELINE].iloc[0] == first["tpd_0"].iloc[0]
    sex = data.groupby("id")["sex"].first().reindex(table.index)
    np.testing.assert_array_equal(table["sex[male]"], (sex == "male").astype(float))


def test_long_layout_with_a_mediator_visit_gives_the_same_table(
    data: pd.DataFrame, plan: Plan
) -> None:
    long = data.copy()
    at12 = long["visit"] == "week 12"
    long["bbq_long"] = np.where(at12, long["bbq_12"], np.nan)
    p = small(plan)
    meds = tuple(
        dataclasses.replace(m, column="bbq_long", visit="week 12") if m.name == "bbq" else m
        for m in p.mediation.mediators
    )
    p_long = dataclasses.replace(p, mediation=dataclasses.replace(p.mediation, mediators=meds))
    wide, _ = participant_table(data, p)
    from_long, _ = participant_table(long, p_long)
    pd.testing.assert_frame_equal(wide, from_long)


def test_bad_values_are_named(data: pd.DataFrame, plan: Plan) -> None:
    p = small(plan)
    bad = data.copy()
    bad["bbq_12"] = bad["bbq_12"].astype(object)
    bad.loc[7, "bbq_12"] = "n/a"
    with pytest.raises(DataValidationError, match=r"trial.csv: row 8, column 'bbq_12'.*'n/a'"):
        participant_table(bad, p, source="trial.csv")
    varying = data.copy()
    varying.loc[3, "bbq_12"] = varying.loc[3, "bbq_12"] + 1
    who = varying.loc[3, "id"]
    with pytest.raises(DataValidationError, match=f"one value per participant.*{who}"):
        participant_table(varying, p)
    with pytest.raises(DataValidationError, match="bbq_12"):
        participant_table(data.drop(columns="bbq_12"), p)


# ----------------------------------------------------------------------------- analysis
def test_runner_equals_mediate_on_the_participant_table(data: pd.DataFrame, plan: Plan) -> None:
    p = small(plan, interaction=False)
    out = mediation_analysis(data, p, boot=0)
    table, confounders = participant_table(data, p)
    direct = mediate(
        table,
        treatment="arm",
        reference="sham",
        outcomes="rmdq",
        mediators=["pseq", "bbq"],
        covariates=[*confounders, "rmdq" + BASELINE],
        mediator_covariates={"pseq": ["pseq" + BASELINE], "bbq": ["bbq" + BASELINE]},
        boot=0,
    )
    mine = out.result.effects.query("outcome == 'rmdq'").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, direct.effects)
    assert not out.result.sensitivity.empty and out.missing == "complete_cases"
    assert "complete cases" in out.result.warnings[0]


def test_sensitivity_with_interaction_uses_the_models_without_it(
    data: pd.DataFrame, plan: Plan
) -> None:
    p = small(plan)
    out = mediation_analysis(data, p, boot=0)
    assert "without the treatment-mediator interaction" in out.result.settings["sensitivity_model"]
    table, confounders = participant_table(data, p)
    fit = fit_single(
        table,
        treatment="arm",
        reference="sham",
        outcome="pain",
        mediator="bbq",
        covariates=[*confounders, "pain" + BASELINE, "bbq" + BASELINE],
    )
    expected = rho_curve(fit)
    got = out.result.sensitivity.query("outcome == 'pain' and mediator == 'bbq'")
    np.testing.assert_allclose(got["nie"], expected["nie"], rtol=1e-12)
    assert {(t["outcome"], t["mediator"]) for t in out.result.settings["rho_thresholds"]} == {
        (o, m) for o in ("pain", "rmdq") for m in ("pseq", "bbq")
    }


def test_multiple_imputation_pools_over_imputations(data: pd.DataFrame, plan: Plan) -> None:
    p = small(plan, missing="multiple_imputation", imputations=4, interaction=False)
    out = mediation_analysis(data, p, boot=0)
    eff = out.result.effects
    assert out.missing == "multiple_imputation" and out.imputations == 4
    assert set(eff["ci_method"]) == {"mi-delta"} and set(eff["n"]) == {276}
    cc = mediation_analysis(data, small(plan, interaction=False), boot=0).result.effects
    nie_mi = eff.query("outcome == 'pain' and mediator == 'bbq' and effect == 'nie'").iloc[0]
    nie_cc = cc.query(
        "outcome == 'pain' and mediator == 'bbq' and effect == 'nie' and ci_method == 'delta'"
    ).iloc[0]
    # same quantity, more participants: close to the complete-case estimate, not identical
    assert nie_mi["estimate"] != nie_cc["estimate"]
    assert abs(nie_mi["estimate"] - nie_cc["estimate"]) < nie_cc["std_error"]
    assert nie_mi["conf_low"] < nie_mi["estimate"] < nie_mi["conf_high"]
    assert "multiple imputation" in out.result.warnings[0]
    complete = data[data.groupby("id")["pain"].transform(lambda s: s.notna().all())]
    complete = complete[complete["bbq_12"].notna() & complete["rmdq"].notna()]
    ids = complete.groupby("id")["rmdq"].count()
    complete = complete[complete["id"].isin(ids[ids == 5].index)]
    none_missing = mediation_analysis(complete, p, boot=0)
    assert none_missing.missing == "complete_cases"
    assert "not needed" in none_missing.result.warnings[-1]


def test_analyze_runs_the_section_and_writes_its_tables(
    data: pd.DataFrame, plan: Plan, tmp_path: Path
) -> None:
    p = small(plan, boot=0, interventional=False)
    result = analyze(data, p)
    assert result.mediation is not None
    files = {f.name for f in write_tables(result, tmp_path / "out")}
    assert {"mediation_effects.csv", "mediation_paths.csv", "mediation_sensitivity.json"} <= files
    written = pd.read_csv(tmp_path / "out" / "mediation_effects.csv")
    assert len(written) == len(result.mediation.result.effects)
    assert result.to_dict()["mediation"]["n_participants"] == 276


def test_analyze_notes_a_trial_without_mediators(plan: Plan) -> None:
    bundled = datasets.load("resolve")
    result = analyze(bundled, small(plan, boot=0, interventional=False))
    assert result.mediation is None
    assert any("not run" in n and "bbq_12" in n for n in result.notes)


def test_analyze_refuses_some_mediators_missing(data: pd.DataFrame, plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="pseq_12"):
        analyze(data.drop(columns="pseq_12"), small(plan, boot=0, interventional=False))


def test_mediator_covariates_enter_only_their_mediators_models(data: pd.DataFrame) -> None:
    table, _ = participant_table(data, load_plan())
    kw = {"treatment": "arm", "reference": "sham", "outcomes": "pain", "boot": 0}
    both = mediate(table, mediators=["bbq", "pseq"], covariates=["age"],
                   mediator_covariates={"bbq": ["bbq" + BASELINE]}, **kw)  # fmt: skip
    alone = fit_single(table, treatment="arm", reference="sham", outcome="pain",
                       mediator="bbq", covariates=["age", "bbq" + BASELINE])  # fmt: skip
    pseq = fit_single(table, treatment="arm", reference="sham", outcome="pain",
                      mediator="pseq", covariates=["age"])  # fmt: skip
    got = both.effects.set_index(["mediator", "effect", "ci_method"])["estimate"]
    assert got[("bbq", "nie", "delta")] == pytest.approx(alone.nie, rel=1e-12)
    assert got[("pseq", "nie", "delta")] == pytest.approx(pseq.nie, rel=1e-12)
    assert both.settings["mediator_covariates"] == {"bbq": ["bbq" + BASELINE]}
    with pytest.raises(DataValidationError, match="'tsk', which is not a mediator"):
        mediate(table, mediators=["bbq"], mediator_covariates={"tsk": ["age"]}, **kw)
    with pytest.raises(DataValidationError, match="'pseq' is a mediator"):
        mediate(table, mediators=["bbq", "pseq"], mediator_covariates={"bbq": ["pseq"]}, **kw)
