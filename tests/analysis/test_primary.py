"""Primary and sensitivity models on the bundled trial, against R; observed-data tables.

R fixtures (``tests/reference/r/resolve_primary.R``, see ``tests/reference/README.md``):

- ``resolve_primary_lmer.csv``: ``lmerTest::lmer(y ~ arm * visit + (1 | id), REML = TRUE)``
  fixed effects with Satterthwaite df, pain and rmdq;
- ``resolve_primary_emmeans.csv``: ``pairs(emmeans(fit, ~ arm | visit, lmer.df =
  "satterthwaite"), reverse = TRUE)`` with ``confint``;
- ``resolve_sensitivity_gls.csv``: ``nlme::gls(y ~ y0 + arm * visit)``, unstructured
  (``corSymm`` + ``varIdent``), REML, per-visit resolve - sham estimate and SE.

``tests/reference/r/resolve_robust.R`` writes ``resolve_robust_gls.csv``: the recommended
model ``mmrm_unstructured_all_visits``, ``nlme::gls(y ~ arm * visit)`` on every visit with
``corSymm`` + ``varIdent`` (REML), resolve - sham per visit with Satterthwaite df computed
in plain R from their definition (numDeriv), t, p and 95% CI.

Tolerance 1e-4 relative (the R fits were run with tightened optimiser tolerances; the
observed agreement is about 1e-6).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from resolve import datasets
from resolve.analysis.descriptive import (
    consort,
    format_difference,
    format_number,
    format_p,
    table2,
    trajectories,
)
from resolve.analysis.plan import Plan, load_plan, parse_plan
from resolve.analysis.primary import (
    COLUMNS,
    COMPARISON_COLUMNS,
    DISAGREEMENT_ESTIMATE_SE,
    DISAGREEMENT_SE_RATIO,
    arm_levels,
    between_arm_differences,
    compare_models,
    primary_analysis,
    recommended_rows,
    sensitivity_analysis,
)
from resolve.analysis.summary import plain_summary
from resolve.errors import DataValidationError
from resolve.stats import mmrm

R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"
RTOL = 1e-4
VISITS = ["baseline", "week 12", "week 18", "week 26", "week 52"]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return datasets.load("resolve")


@pytest.fixture(scope="module")
def primary(trial: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    return primary_analysis(trial, plan)


@pytest.fixture(scope="module")
def sensitivity(trial: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    return sensitivity_analysis(trial, plan)


def read_fixture(name: str) -> pd.DataFrame:
    return pd.read_csv(R_DIR / name)


# ----------------------------------------------------------------------------- against R
def test_primary_matches_emmeans_contrasts(primary: pd.DataFrame) -> None:
    """Source: tests/reference/r/resolve_primary_emmeans.csv."""
    ref = read_fixture("resolve_primary_emmeans.csv")
    ref = ref[ref["visit"] != "baseline"]
    merged = primary.merge(ref, on=["outcome", "visit", "contrast"], suffixes=("", "_r"))
    assert len(merged) == len(primary) == 8
    for col in ("estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL, err_msg=col)


def test_primary_has_no_baseline_difference(primary: pd.DataFrame) -> None:
    """The table holds follow-up visits only (resolve_primary_emmeans.csv also has baseline)."""
    assert "baseline" not in set(primary["visit"])
    assert list(primary.columns) == list(COLUMNS)
    assert set(primary["model"]) == {"lmm_random_intercept"}
    assert set(primary["contrast"]) == {"resolve - sham"}


@pytest.mark.parametrize("outcome", ["pain", "rmdq"])
def test_engine_fixed_effects_match_lmer(trial: pd.DataFrame, outcome: str) -> None:
    """Source: tests/reference/r/resolve_primary_lmer.csv (Satterthwaite df)."""
    ref = read_fixture("resolve_primary_lmer.csv")
    ref = ref[ref["outcome"] == outcome].set_index("term")
    d = trial.dropna(subset=[outcome]).copy()
    d["arm"] = pd.Categorical(d["arm"], ["sham", "resolve"])
    d["visit"] = pd.Categorical(d["visit"], VISITS)
    fit = mmrm(f"{outcome} ~ arm * visit", d, subject="id", visit="visit", cov="ri")
    ours = fit.to_frame().set_index("term").loc[ref.index]
    assert fit.n_obs == ref["n_obs"].iloc[0]
    for col in ("estimate", "std_error", "df", "statistic"):
        np.testing.assert_allclose(ours[col], ref[col], rtol=RTOL, err_msg=col)
    big = ref["p_value"] > 1e-300
    np.testing.assert_allclose(ours["p_value"][big], ref["p_value"][big], rtol=1e-3)


def test_sensitivity_matches_gls_unstructured(sensitivity: pd.DataFrame) -> None:
    """Source: tests/reference/r/resolve_sensitivity_gls.csv (estimate and SE only: the
    emmeans df for gls are not Satterthwaite df, see tests/reference/README.md)."""
    ref = read_fixture("resolve_sensitivity_gls.csv")
    ours = sensitivity[sensitivity["model"] == "mmrm_baseline_adjusted"]
    merged = ours.merge(ref, on=["outcome", "visit", "contrast"], suffixes=("", "_r"))
    assert len(merged) == len(ours) == 8
    assert (merged["n_obs"] == merged["n_obs_r"]).all()
    for col in ("estimate", "std_error"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL, err_msg=col)
    assert list(dict.fromkeys(sensitivity["model"])) == [
        "mmrm_unstructured_all_visits",
        "mmrm_baseline_adjusted",
    ]
    assert (sensitivity["df"] > 100).all()


def test_recommended_model_matches_gls_all_visits(sensitivity: pd.DataFrame) -> None:
    """Source: tests/reference/r/resolve_robust_gls.csv (gls corSymm + varIdent on every
    visit; Satterthwaite df, t, p and CI computed in R from their definition)."""
    ref = read_fixture("resolve_robust_gls.csv")
    ours = sensitivity[sensitivity["model"] == "mmrm_unstructured_all_visits"]
    merged = ours.merge(ref, on=["outcome", "visit", "contrast"], suffixes=("", "_r"))
    assert len(merged) == len(ours) == 8
    assert (merged["n_obs"] == merged["n_obs_r"]).all()
    for col in ("estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL, err_msg=col)
    # emmeans on the gls fit itself (nlme's optimiser) agrees too
    np.testing.assert_allclose(merged["estimate"], merged["gls_estimate"], rtol=RTOL)
    np.testing.assert_allclose(merged["std_error"], merged["gls_std_error"], rtol=RTOL)


def test_recommended_model_has_the_primary_models_estimand(
    primary: pd.DataFrame, sensitivity: pd.DataFrame
) -> None:
    """Same mean model and data as the primary model, only the covariance differs: with
    complete data both estimates are the raw difference in means (GLS = OLS for a
    saturated mean model), so on this trial (about 5% of visits missing) they are close."""
    rec = sensitivity[sensitivity["model"] == "mmrm_unstructured_all_visits"]
    merged = primary.merge(rec, on=["outcome", "visit", "contrast"], suffixes=("", "_us"))
    assert len(merged) == 8
    gap = (merged["estimate"] - merged["estimate_us"]).abs() / merged["std_error_us"]
    assert (gap < 0.1).all()
    assert (merged["n_obs"] == merged["n_obs_us"]).all()


def test_recommended_equals_primary_on_complete_data(trial: pd.DataFrame, plan: Plan) -> None:
    """With no missing outcome the two models' estimates are both the raw mean difference."""
    ids = trial.groupby("id")[["pain", "rmdq"]].apply(lambda g: g.notna().all().all())
    complete = trial[trial["id"].isin(ids[ids].index)]
    a = between_arm_differences(complete, plan, model="lmm_random_intercept")
    b = between_arm_differences(complete, plan, model="mmrm_unstructured_all_visits")
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-6)
    raw = complete.groupby(["visit", "arm"])["pain"].mean().unstack()
    want = (raw["resolve"] - raw["sham"]).loc[["week 12", "week 18", "week 26", "week 52"]]
    np.testing.assert_allclose(b["estimate"].iloc[:4], want.to_numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------- recommended model
def _plan_text(old: str, new: str) -> str:
    text = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()
    assert old in text
    return text.replace(old, new)


def test_plan_recommended_key(plan: Plan) -> None:
    assert plan.analysis.recommended == "mmrm_unstructured_all_visits"
    assert plan.analysis.recommended in plan.analysis.sensitivity
    # without the key the primary model is the recommended one: nothing to compare
    bare = parse_plan(_plan_text('recommended = "mmrm_unstructured_all_visits"', ""), "x.toml")
    assert bare.analysis.recommended is None
    # the primary model may be recommended itself
    same = parse_plan(
        _plan_text(
            'recommended = "mmrm_unstructured_all_visits"', 'recommended = "lmm_random_intercept"'
        ),
        "x.toml",
    )
    assert same.analysis.recommended == "lmm_random_intercept"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'sensitivity = ["mmrm_unstructured_all_visits", "mmrm_baseline_adjusted"]',
            'sensitivity = ["mmrm_baseline_adjusted"]',
            "x.toml: [analysis] 'recommended': 'mmrm_unstructured_all_visits' is neither the "
            "primary model (lmm_random_intercept) nor a sensitivity model "
            "(mmrm_baseline_adjusted); list it there so it is fitted",
        ),
        (
            'recommended = "mmrm_unstructured_all_visits"',
            'recommended = "sandwich"',
            "x.toml: [analysis] 'recommended': must be one of",
        ),
    ],
)
def test_plan_recommended_key_refused(old: str, new: str, message: str) -> None:
    with pytest.raises(DataValidationError) as err:
        parse_plan(_plan_text(old, new), "x.toml")
    assert str(err.value).startswith(message), str(err.value)


def test_recommended_rows(plan: Plan, sensitivity: pd.DataFrame) -> None:
    rows = recommended_rows(plan, sensitivity)
    assert rows is not None and set(rows["model"]) == {"mmrm_unstructured_all_visits"}
    assert len(rows) == 8
    none = replace(plan, analysis=replace(plan.analysis, recommended=None))
    assert recommended_rows(none, sensitivity) is None
    itself = replace(plan, analysis=replace(plan.analysis, recommended=plan.analysis.primary))
    assert recommended_rows(itself, sensitivity) is None


def test_compare_models_flags(primary: pd.DataFrame) -> None:
    """Each criterion fires alone, exactly beyond its threshold."""
    same = compare_models(primary, primary, conf_level=0.95)
    assert list(same.columns) == list(COMPARISON_COLUMNS)
    assert len(same) == 8 and not same["disagree"].any()
    other = primary.copy()
    # 1: SE larger by slightly more / less than the threshold, estimate and P unchanged
    other.loc[0, "std_error"] *= 1 + 1.01 * DISAGREEMENT_SE_RATIO
    other.loc[1, "std_error"] *= 1 + 0.99 * DISAGREEMENT_SE_RATIO
    # 2: estimate moved by slightly more / less than the threshold (in its own SE)
    other.loc[2, "estimate"] += 1.01 * DISAGREEMENT_ESTIMATE_SE * other.loc[2, "std_error"]
    other.loc[3, "estimate"] -= 0.99 * DISAGREEMENT_ESTIMATE_SE * other.loc[3, "std_error"]
    # 3: significance flipped
    other.loc[4, "p_value"] = 0.5 if primary.loc[4, "p_value"] < 0.05 else 0.001
    out = compare_models(primary, other, conf_level=0.95)
    assert out["std_error_differs"].tolist()[:2] == [True, False]
    assert out["estimate_differs"].tolist()[2:4] == [True, False]
    assert out["significance_differs"].tolist()[4]
    assert out["disagree"].tolist() == [True, False, True, False, True, False, False, False]
    # the other model's numbers are carried along
    np.testing.assert_array_equal(out["other_std_error"], other["std_error"])


def test_summary_names_disagreements(plan: Plan, primary: pd.DataFrame) -> None:
    """A recommended table that moves one P value across 0.05 is named in the summary;
    one identical to the primary model adds no sentence."""
    same = plain_summary(plan, primary, recommended=primary)
    assert same == plain_summary(plan, primary)
    other = primary.copy()
    k = int(np.flatnonzero((primary["outcome"] == "pain") & (primary["visit"] == "week 52"))[0])
    other.loc[k, "p_value"] = 0.001 if primary.loc[k, "p_value"] >= 0.05 else 0.5
    text = [x for x in plain_summary(plan, primary, recommended=other) if "recommended" in x]
    assert len(text) == 1
    assert "at 1 of 8 visit comparisons" in text[0] and "at week 52" in text[0]


def test_report_shows_both_models_where_they_disagree(plan: Plan) -> None:
    """The report's comparison lists exactly the disagreeing visits, both models' rows."""
    from resolve.analysis.run import analyze
    from resolve.report import html

    data = datasets.load("resolve")
    analysis = analyze(data[data["visit"] != "week 12"], plan)
    rec = recommended_rows(plan, analysis.sensitivity)
    assert rec is not None
    cmp = compare_models(analysis.primary, rec, conf_level=plan.analysis.conf_level)
    counter = iter(range(1, 10))
    text = html._model_comparison(
        analysis, {o.name: o.label for o in plan.outcomes}, dict(html._MODEL_NAMES),
        lambda: next(counter),
    )  # fmt: skip
    assert "docs/operating-characteristics.md" in text
    assert cmp["disagree"].any()  # the bundled trial: 52-week pain (standard errors)
    assert "Table 1. Where the primary and the recommended model disagree" in text
    body = text.split("<tbody>", 1)[1]
    assert body.count("MMRM, unstructured, all visits") == int(cmp["disagree"].sum())
    assert body.count("Linear mixed model, random intercept") == int(cmp["disagree"].sum())
    # a plan without a recommended model adds nothing
    none = replace(analysis, plan=replace(plan, analysis=replace(plan.analysis, recommended=None)))
    assert html._model_comparison(none, {}, {}, lambda: 0) == ""


# ----------------------------------------------------------------------------- invariances
def test_row_order_does_not_matter(trial: pd.DataFrame, plan: Plan, primary: pd.DataFrame) -> None:
    shuffled = trial.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = primary_analysis(shuffled, plan)
    np.testing.assert_allclose(again["estimate"], primary["estimate"], rtol=1e-8)
    np.testing.assert_allclose(again["std_error"], primary["std_error"], rtol=1e-6)


def test_covariates_enter_every_model(trial: pd.DataFrame, tmp_path: Path) -> None:
    text = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()
    path = tmp_path / "cov.toml"
    path.write_text(text.replace("covariates = []", 'covariates = ["age"]'))
    p = load_plan(path)
    a = primary_analysis(trial, p)
    d = trial.dropna(subset=["pain"]).copy()
    d["arm"] = pd.Categorical(d["arm"], ["sham", "resolve"])
    d["visit"] = pd.Categorical(d["visit"], VISITS)
    fit = mmrm("pain ~ age + arm * visit", d, subject="id", visit="visit", cov="ri")
    direct = fit.lsmeans("arm", by="visit").differences
    want = direct.set_index("visit").loc["week 18", "estimate"]
    got = a[(a.outcome == "pain") & (a.visit == "week 18")]["estimate"].iloc[0]
    assert got == pytest.approx(want, rel=1e-10)
    sens = sensitivity_analysis(trial, p)
    assert len(sens) == 16
    fit = mmrm("pain ~ age + arm * visit", d, subject="id", visit="visit", cov="us")
    want = fit.lsmeans("arm", by="visit").differences.set_index("visit").loc["week 18"]
    got = sens[
        (sens.model == "mmrm_unstructured_all_visits")
        & (sens.outcome == "pain")
        & (sens.visit == "week 18")
    ].iloc[0]
    assert got["estimate"] == pytest.approx(want["estimate"], rel=1e-8)
    assert got["std_error"] == pytest.approx(want["std_error"], rel=1e-6)


def three_arm(tmp_path: Path, trial: pd.DataFrame) -> tuple[Plan, pd.DataFrame]:
    text = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()
    text = text.replace('arms = ["sham", "resolve"]', 'arms = ["resolve", "sham", "extra"]')
    path = tmp_path / "three.toml"
    path.write_text(text)
    data = trial.copy()
    ids = sorted(data.loc[data["arm"] == "resolve", "id"].unique())[::2]
    data.loc[data["id"].isin(ids), "arm"] = "extra"
    return load_plan(path), data


def test_three_arms_compare_each_with_reference(trial: pd.DataFrame, tmp_path: Path) -> None:
    p, data = three_arm(tmp_path, trial)
    assert arm_levels(p) == ["sham", "resolve", "extra"]
    res = primary_analysis(data, p)
    assert list(dict.fromkeys(res["contrast"])) == ["resolve - sham", "extra - sham"]
    assert len(res) == 2 * 2 * 4
    traj = trajectories(p.validate_data(data), p)
    t2 = table2(traj, res, p)
    # one row per outcome x visit x contrast, each contrast labelled
    assert len(t2) == 2 * 5 * 2
    assert list(t2["contrast"].iloc[:2]) == ["resolve - sham", "extra - sham"]
    for r in res.itertuples():
        row = t2[(t2.outcome == r.outcome) & (t2.visit == r.visit) & (t2.contrast == r.contrast)]
        assert row["difference"].item() == format_difference(r.estimate, r.conf_low, r.conf_high)
        assert row["p_value"].item() == r.p_value
    flow = consort(p.validate_data(data), p)
    alloc = flow[flow.stage == "allocated"].set_index("arm")["n"]
    assert alloc.to_dict() == {"sham": 138, "resolve": 69, "extra": 69}


def test_one_followup_visit(trial: pd.DataFrame, plan: Plan) -> None:
    two = trial[trial["visit"].isin(["baseline", "week 18"])]
    res = primary_analysis(two, plan)
    sens = sensitivity_analysis(two, plan)
    assert list(res["visit"]) == ["week 18", "week 18"]
    assert list(sens["visit"]) == ["week 18"] * 4
    sens = sens[sens["model"] == "mmrm_baseline_adjusted"].reset_index(drop=True)
    # one follow-up visit: the baseline-adjusted model is ANCOVA
    d = two.pivot(index="id", columns="visit", values="pain").dropna()
    arm = trial.drop_duplicates("id").set_index("id")["arm"].loc[d.index]
    x = np.column_stack([np.ones(len(d)), d["baseline"], arm == "resolve"]).astype(float)
    beta = np.linalg.lstsq(x, d["week 18"].to_numpy(), rcond=None)[0]
    assert sens.loc[0, "estimate"] == pytest.approx(beta[2], rel=1e-6)


def test_unknown_model(trial: pd.DataFrame, plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="model must be one of"):
        between_arm_differences(trial, plan, model="ancova")


def test_reference_arm_without_outcome_data(trial: pd.DataFrame, plan: Plan) -> None:
    bad = trial.copy()
    bad.loc[bad["arm"] == "sham", "pain"] = np.nan
    with pytest.raises(DataValidationError, match="reference arm 'sham'"):
        primary_analysis(bad, plan)


def test_no_baseline_outcome(trial: pd.DataFrame, plan: Plan) -> None:
    bad = trial.copy()
    bad.loc[bad["visit"] == "baseline", "rmdq"] = np.nan
    with pytest.raises(DataValidationError, match="baseline"):
        primary_analysis(bad, plan)


# ----------------------------------------------------------------------------- observed data
@pytest.fixture(scope="module")
def valid(trial: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    return plan.validate_data(trial)


def test_trajectories_equal_pandas(valid: pd.DataFrame, plan: Plan) -> None:
    traj = trajectories(valid, plan)
    assert list(traj.columns) == [
        "outcome", "arm", "visit", "n", "mean", "sd", "conf_low", "conf_high",
    ]  # fmt: skip
    assert len(traj) == 2 * 2 * 5
    for outcome in ("pain", "rmdq"):
        g = valid.groupby(["arm", "visit"])[outcome].agg(["count", "mean", "std"])
        part = traj[traj.outcome == outcome].set_index(["arm", "visit"])
        g = g.loc[part.index]
        np.testing.assert_array_equal(part["n"], g["count"])
        np.testing.assert_allclose(part["mean"], g["mean"], rtol=1e-12)
        np.testing.assert_allclose(part["sd"], g["std"], rtol=1e-12)
        half = stats.t.ppf(0.975, g["count"] - 1) * g["std"] / np.sqrt(g["count"])
        np.testing.assert_allclose(part["conf_high"] - part["mean"], half, rtol=1e-10)
    # order: outcome, then reference arm first, then visits in plan order
    first = traj[traj.outcome == "pain"]
    assert list(first["arm"].iloc[[0, 5]]) == ["sham", "resolve"]
    assert list(first["visit"].iloc[:5]) == VISITS


def test_table2_numbers(valid: pd.DataFrame, plan: Plan, primary: pd.DataFrame) -> None:
    t2 = table2(trajectories(valid, plan), primary, plan)
    assert list(t2[["outcome", "visit"]].itertuples(index=False, name=None))[:5] == [
        ("pain", v) for v in VISITS
    ]
    rmdq18 = t2[(t2.outcome == "rmdq") & (t2.visit == "week 18")].iloc[0]
    obs = valid[(valid.visit == "week 18")].groupby("arm")["rmdq"]
    assert rmdq18["resolve_n"] == obs.count()["resolve"]
    assert rmdq18["sham_n"] == obs.count()["sham"]
    assert rmdq18["sham_mean"] == pytest.approx(obs.mean()["sham"])
    assert rmdq18["resolve_sd"] == pytest.approx(obs.std()["resolve"])
    assert rmdq18["sham_mean_sd"] == f"{obs.mean()['sham']:.1f} ({obs.std()['sham']:.1f})"
    p = primary[(primary.outcome == "rmdq") & (primary.visit == "week 18")].iloc[0]
    assert rmdq18["difference"] == format_difference(p.estimate, p.conf_low, p.conf_high)
    # JAMA style: one decimal, a real minus sign, "to" between the limits
    jama = r"\u2212?\d+\.\d \(\u2212?\d+\.\d to \u2212?\d+\.\d\)"
    assert re.fullmatch(jama, rmdq18["difference"])
    assert rmdq18["p_value"] == p.p_value and rmdq18["p_text"] == format_p(p.p_value)
    base = t2[t2.visit == "baseline"]
    assert (base["difference"] == "").all() and base["p_value"].isna().all()
    assert (base["p_text"] == "").all()
    assert format_p(0.0004) == "<.001" and format_p(0.0014) == ".001" and format_p(0.047) == ".047"
    assert format_p(0.21) == ".21"


def test_consort_equals_pandas(valid: pd.DataFrame, plan: Plan) -> None:
    flow = consort(valid, plan)
    assert list(flow.columns) == [
        "stage",
        "arm",
        "n",
        "detail",
        "outcome",
        "visit",
        "n_missing",
        "source",
    ]
    assert flow.iloc[0][["stage", "arm", "n"]].tolist() == ["randomised", "all", 276]
    alloc = flow[flow.stage == "allocated"]
    assert alloc[["arm", "n"]].values.tolist() == [["sham", 138], ["resolve", 138]]
    for visit in VISITS[1:]:
        rows = flow[flow.stage == f"follow-up {visit}"].set_index("arm")
        at = valid[valid.visit == visit]
        counts = at.dropna(subset=["pain"]).groupby("arm")["id"].nunique()
        assert rows["n"].to_dict() == counts.to_dict()
        assert (rows["n"] + rows["n_missing"]).to_dict() == {"sham": 138, "resolve": 138}
        assert (rows["visit"] == visit).all() and (rows["outcome"] == "pain").all()
        rmdq_n = at.dropna(subset=["rmdq"]).groupby("arm")["id"].nunique()
        assert f"rmdq {rmdq_n['resolve']} (" in rows.loc["resolve", "detail"]
    analysed = flow[flow.stage == "analysed"].set_index("arm")["n"]
    anyv = valid.dropna(subset=["pain"]).groupby("arm")["id"].nunique()
    assert analysed.to_dict() == anyv.to_dict()
    # matches the primary model's participant count
    assert analysed.sum() == 276


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0004, "<.001"),
        (0.001, ".001"),
        (0.0013776, ".001"),
        (0.0078, ".008"),
        (0.0226, ".02"),
        (0.0468, ".047"),
        (0.04996, ".049"),
        (0.21, ".21"),
        (0.995, ">.99"),
        (math.nan, ""),
    ],
)
def test_format_p(p: float, text: str) -> None:
    assert format_p(p) == text


def test_format_number_minus_sign_and_negative_zero() -> None:
    assert format_number(-1.04) == "\u22121.0"
    assert format_number(-0.02) == "0.0"
    assert format_number(2.25, 2) == "2.25"
    assert format_difference(-1.0, math.nan, 1.0) == ""


def test_plan_schema_names_exactly_the_models_this_module_fits() -> None:
    """The plan's model names (a Literal, for its error messages) and MODELS stay one list."""
    from typing import get_args

    from resolve.analysis import plan as plan_module
    from resolve.analysis.primary import MODELS

    assert get_args(plan_module._MODELS) == tuple(MODELS)
