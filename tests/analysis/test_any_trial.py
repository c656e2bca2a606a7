"""Anyone's trial: own column names, any number of arms, categorical covariates, strict values.

Golden values (R, see ``tests/reference/README.md``):

- ``resolve_three_arm_*.csv`` from ``tests/reference/r/resolve_three_arm.R`` on
  ``resolve_three_arm_data.csv`` (built by :mod:`tests.analysis.three_arm`): primary
  ``lmer`` + emmeans contrasts (all three, and the reversed extra contrast), with and
  without ``Sex`` as a factor; unstructured ``gls`` sensitivity; ``lm`` modifier
  interactions per non-reference arm with Holm/BH over the whole family; global F tests.
- ``resolve_factor_covariate_*.csv`` from ``resolve_factor_covariate.R``: the bundled trial
  with ``sex`` as a factor covariate in the primary (lmer), sensitivity (gls) and modifier
  (lm) models.

Tolerances as in ``test_primary.py`` (mixed models, 1e-4 relative) and
``test_modifiers.py`` (least squares, 1e-6 relative).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from statsmodels.formula.api import ols as sm_ols

from resolve import datasets
from resolve.analysis._wide import wide_data
from resolve.analysis.descriptive import format_difference, table2, trajectories
from resolve.analysis.effect_modifiers import analyse_modifiers, joint_fit
from resolve.analysis.individual import predict_individual
from resolve.analysis.io import read_trial_csv
from resolve.analysis.mi import multiple_imputation
from resolve.analysis.plan import Plan, load_plan
from resolve.analysis.primary import primary_analysis, sensitivity_analysis
from resolve.analysis.result import TrialAnalysis
from resolve.analysis.run import MODIFIER_COLUMNS, analyze
from resolve.analysis.validate import covariate_factors, factor_levels_table, validate_data
from resolve.cli.demo import _modifier_table, _primary_table, _reference_levels
from resolve.errors import DataValidationError
from tests.analysis.three_arm import ARMS, REFERENCE_CSV, RENAME, three_arm_data, three_arm_plan

R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"
RTOL_MIXED = 1e-4
RTOL_LS = 1e-6
STATS = ("estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high")
THREE = ["GSR - usual care", "GSR+education - usual care", "GSR+education - GSR"]


def r_fixture(name: str) -> pd.DataFrame:
    return pd.read_csv(R_DIR / name)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def three_data() -> pd.DataFrame:
    return three_arm_data()


@pytest.fixture(scope="module")
def three_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return three_arm_plan(tmp_path_factory.mktemp("plan3"))


@pytest.fixture(scope="module")
def three_result(three_data: pd.DataFrame, three_plan: Plan) -> TrialAnalysis:
    return analyze(three_data, three_plan)


def test_committed_three_arm_csv_is_the_stated_rule(three_data: pd.DataFrame) -> None:
    """The CSV that R reads is exactly what the helper builds (so neither can drift)."""
    subject, arm, visit = RENAME["id"], RENAME["arm"], RENAME["visit"]
    stored = read_trial_csv(REFERENCE_CSV, text_columns=(subject, arm, visit))
    pd.testing.assert_frame_equal(stored, three_data, check_dtype=False)
    per_arm = three_data.drop_duplicates(subject)[arm].value_counts().to_dict()
    assert per_arm == {"usual care": 138, "GSR": 69, "GSR+education": 69}
    assert list(three_data[visit].unique()) == ["Week 0", "Week 6", "Week 10", "Week 26"]


# ----------------------------------------------------------------------------- renamed columns
def _covariate_plan(plan: Plan, covariates: tuple[str, ...]) -> Plan:
    return replace(plan, analysis=replace(plan.analysis, covariates=covariates))


def _renamed_plan(plan: Plan) -> Plan:
    t = plan.trial
    trial = replace(t, subject=RENAME[t.subject], arm=RENAME[t.arm], visit=RENAME[t.visit])
    outcomes = tuple(replace(o, column=RENAME[o.column]) for o in plan.outcomes)
    modifiers = tuple(replace(m, column=RENAME[m.column]) for m in plan.modifiers)
    covs = tuple(RENAME[c] for c in plan.analysis.covariates)
    describe = tuple(RENAME[c] for c in plan.analysis.describe)
    labels = {RENAME[c]: label for c, label in plan.analysis.describe_labels.items()}
    return replace(
        plan,
        trial=trial,
        outcomes=outcomes,
        modifiers=modifiers,
        analysis=replace(plan.analysis, covariates=covs, describe=describe, describe_labels=labels),
    )


@pytest.fixture(scope="module")
def both_namings() -> tuple[TrialAnalysis, TrialAnalysis, Plan, Plan]:
    """The bundled trial with a numeric and a categorical covariate, under its own column
    names and with every one of its 16 columns renamed (plan renamed accordingly)."""
    plan = _covariate_plan(load_plan(), ("age", "sex"))
    data = datasets.load("resolve")
    renamed = data.rename(columns=RENAME)
    assert not set(renamed.columns) & set(data.columns)  # every column renamed
    other = _renamed_plan(plan)
    return analyze(data, plan), analyze(renamed, other), plan, other


def test_every_renamed_column_gives_identical_numbers(
    both_namings: tuple[TrialAnalysis, TrialAnalysis, Plan, Plan],
) -> None:
    a, b, _, _ = both_namings
    for name in ("primary", "sensitivity", "table2", "trajectories"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert a.modifiers is not None and b.modifiers is not None
    for name in ("table", "quartiles", "curves", "credibility"):
        pd.testing.assert_frame_equal(
            getattr(a.modifiers, name), getattr(b.modifiers, name), obj=name
        )
    # the global tests' model text names the covariates; the numbers are identical
    ga, gb = a.modifiers.global_tests, b.modifiers.global_tests
    pd.testing.assert_frame_equal(ga.drop(columns="model"), gb.drop(columns="model"))
    assert gb["model"].iloc[0].endswith("+ y_0 + Age (years) + factor(Sex)")
    assert len(a.primary) == 8 and a.primary["estimate"].notna().all()
    assert a.responders is not None and b.responders is not None
    pd.testing.assert_frame_equal(a.responders, b.responders, obj="responders")
    assert a.table1 is not None and b.table1 is not None
    # Table 1 names each row's data column; everything else is identical
    assert a.table1["variable"].map(RENAME).tolist() == b.table1["variable"].tolist()
    pd.testing.assert_frame_equal(
        a.table1.drop(columns="variable"), b.table1.drop(columns="variable"), obj="table1"
    )
    assert a.plain_summary == b.plain_summary


def test_renamed_columns_in_mi_and_individual_predictions(
    both_namings: tuple[TrialAnalysis, TrialAnalysis, Plan, Plan],
) -> None:
    _, _, plan, other = both_namings
    data = datasets.load("resolve")
    renamed = data.rename(columns=RENAME)
    pd.testing.assert_frame_equal(
        multiple_imputation(data, plan, m=2, maxit=2),
        multiple_imputation(renamed, other, m=2, maxit=2),
    )
    profile: dict[str, float | str] = {m.name: 1.0 for m in plan.modifiers}
    profile.update(pseq=30.0, pcs=20.0, pain_baseline=6.0, frebaq=15.0, tsk=40.0)
    profile.update(rmdq_baseline=12.0, bbq=25.0)
    p1 = predict_individual(data, plan, {**profile, "age": 50.0, "sex": "male"})
    p2 = predict_individual(renamed, other, {**profile, "Age (years)": 50.0, "Sex": "male"})
    pd.testing.assert_frame_equal(p1, p2)


# ----------------------------------------------------------------------------- three arms vs R
def _merge(ours: pd.DataFrame, ref: pd.DataFrame, n: int) -> pd.DataFrame:
    merged = ours.merge(ref, on=["outcome", "visit", "contrast"], suffixes=("", "_r"))
    assert len(merged) == len(ours) == n, (len(merged), len(ours))
    return merged


@pytest.mark.parametrize("covariate", ["none", "Sex"])
def test_three_arm_primary_every_contrast_matches_r(
    three_data: pd.DataFrame, tmp_path: Path, covariate: str
) -> None:
    """Source: resolve_three_arm_emmeans.csv (lmer + emmeans contrasts, Satterthwaite)."""
    covs = () if covariate == "none" else ("Sex",)
    plan = three_arm_plan(tmp_path, covariates=covs)
    ours = primary_analysis(three_data, plan)
    assert list(dict.fromkeys(ours["contrast"])) == THREE
    ref = r_fixture("resolve_three_arm_emmeans.csv")
    ref = ref[(ref["covariate"] == covariate) & (ref["visit"] != "Week 0")]
    merged = _merge(ours, ref, 2 * 3 * 3)
    for col in STATS:
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_MIXED, err_msg=col)
    assert (merged["n_obs"] == merged["n_obs_r"]).all()


def test_three_arm_reversed_extra_contrast_matches_r(
    three_data: pd.DataFrame, tmp_path: Path
) -> None:
    """An extra contrast against the model's level order ("GSR - GSR+education") is the
    LS-means difference with its sign, statistic and interval flipped, as R computes it."""
    plan = three_arm_plan(tmp_path, extra="GSR, GSR+education")
    ours = primary_analysis(three_data, plan)
    ours = ours[ours["contrast"] == "GSR - GSR+education"]
    ref = r_fixture("resolve_three_arm_emmeans.csv")
    ref = ref[(ref["covariate"] == "none") & (ref["visit"] != "Week 0")]
    merged = _merge(ours, ref, 2 * 3)
    for col in STATS:
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_MIXED, err_msg=col)
    assert (merged["conf_low"] < merged["estimate"]).all()


def test_three_arm_sensitivity_matches_gls(three_result: TrialAnalysis) -> None:
    """Source: resolve_three_arm_gls.csv (estimate and SE, as test_primary.py explains)."""
    ref = r_fixture("resolve_three_arm_gls.csv")
    merged = _merge(three_result.sensitivity, ref, 2 * 3 * 3)
    for col in ("estimate", "std_error"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_MIXED, err_msg=col)
    assert (merged["n_obs"] == merged["n_obs_r"]).all()


def test_three_arm_modifiers_match_r_lm_with_family_over_contrasts(
    three_result: TrialAnalysis,
) -> None:
    """Source: resolve_three_arm_modifiers.csv; Holm/BH over 64 = 2 contrasts x 8 x 2 x 2."""
    mod = three_result.modifiers
    assert mod is not None
    assert tuple(mod.table.columns) == MODIFIER_COLUMNS
    ref = r_fixture("resolve_three_arm_modifiers.csv")
    keys = ["modifier", "outcome", "visit", "contrast"]
    merged = mod.table.merge(ref, on=keys, suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(mod.table) == 8 * 2 * 3 * 2
    assert (merged["n"] == merged["n_r"]).all() and (merged["df"] == merged["df_r"]).all()
    assert (merged["in_family"] == merged["in_family_r"]).all()
    assert int(merged["in_family"].sum()) == 64
    for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_LS, err_msg=col)
    fam = merged["in_family"].astype(bool)
    for col in ("p_holm", "p_bh"):
        np.testing.assert_allclose(
            merged.loc[fam, col], merged.loc[fam, f"{col}_r"], rtol=RTOL_LS, err_msg=col
        )
        assert merged.loc[~fam, col].isna().all()
    for name in ("quartiles", "curves"):
        frame = getattr(mod, name)
        assert list(frame.columns[:4]) == ["modifier", "outcome", "visit", "contrast"]
        assert set(frame["contrast"]) == set(THREE[:2])
    assert set(mod.credibility["contrast"]) <= set(THREE[:2])


def test_three_arm_global_tests_match_r(three_result: TrialAnalysis) -> None:
    """Source: resolve_three_arm_global.csv (all 16 arm x modifier interactions)."""
    assert three_result.modifiers is not None
    ours = three_result.modifiers.global_tests
    ref = r_fixture("resolve_three_arm_global.csv")
    merged = ours.merge(ref, on=["outcome", "visit"], suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == 6
    assert (merged["df_num"] == merged["df_num_r"]).all() and (merged["df_num"] == 16).all()
    assert (merged["df_den"] == merged["df_den_r"]).all() and (merged["n"] == merged["n_r"]).all()
    assert (merged["n_contrasts"] == 2).all() and (merged["n_modifiers"] == 8).all()
    for col in ("statistic", "p_value"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_LS, err_msg=col)


# ----------------------------------------------------------------------------- three arms: tables
def test_three_arm_table2_has_every_contrast(three_result: TrialAnalysis) -> None:
    t2 = three_result.table2
    assert len(t2) == 2 * 4 * 3  # outcomes x visits x contrasts
    for arm in ARMS:  # arm names exactly as written in the plan
        assert {f"{arm}_mean", f"{arm}_sd", f"{arm}_n", f"{arm}_mean_sd"} <= set(t2.columns)
    for r in three_result.primary.itertuples():
        row = t2[(t2.outcome == r.outcome) & (t2.visit == r.visit) & (t2.contrast == r.contrast)]
        assert len(row) == 1
        assert row["estimate"].item() == r.estimate and row["p_value"].item() == r.p_value
        assert row["difference"].item() == format_difference(
            float(r.estimate), float(r.conf_low), float(r.conf_high)
        )
    base = t2[t2.visit == "Week 0"]
    assert list(base["contrast"][:3]) == THREE and (base["difference"] == "").all()
    # the observed columns repeat on every contrast's row of a visit
    w10 = t2[(t2.outcome == "Pain") & (t2.visit == "Week 10")]
    assert w10["GSR_mean"].nunique() == 1 and w10["usual care_n"].nunique() == 1
    assert set(three_result.trajectories["arm"]) == set(ARMS)


def test_three_arm_table2_two_arm_layout_unchanged(data: pd.DataFrame, plan: Plan) -> None:
    valid = plan.validate_data(data)
    t2 = table2(trajectories(valid, plan), primary_analysis(valid, plan), plan)
    assert len(t2) == 10 and set(t2["contrast"]) == {"resolve - sham"}
    assert list(t2.columns[:3]) == ["outcome", "visit", "contrast"]


def test_three_arm_mi_and_individual_label_every_contrast(
    three_data: pd.DataFrame, three_plan: Plan
) -> None:
    mi = multiple_imputation(three_data, three_plan, m=2, maxit=2)
    assert list(dict.fromkeys(mi["contrast"])) == THREE
    for (_, _), part in mi.groupby(["outcome", "visit"], sort=False):
        est = part.set_index("contrast")["estimate"]
        # Rubin's pooled estimate is linear: the extra contrast is the difference of the others
        assert est[THREE[2]] == pytest.approx(est[THREE[1]] - est[THREE[0]], abs=1e-12)
    profile = {
        "pseq": 30, "pcs": 20, "pain_baseline": 6, "psychoactive": 0, "frebaq": 15,
        "tsk": 40, "rmdq_baseline": 12, "bbq": 25,
    }  # fmt: skip
    ind = predict_individual(three_data, three_plan, profile)
    assert list(dict.fromkeys(ind["contrast"])) == THREE and len(ind) == 2 * 3 * 3
    for (_, _), part in ind.groupby(["outcome", "visit"], sort=False):
        p = part.set_index("contrast")
        assert p.loc[THREE[2], "estimate"] == pytest.approx(
            p.loc[THREE[1], "estimate"] - p.loc[THREE[0], "estimate"], abs=1e-10
        )
        # the extra contrast's comparator (GSR) and arm (GSR+education) predicted means
        assert p.loc[THREE[2], "mean_reference"] == pytest.approx(p.loc[THREE[0], "mean_treatment"])
        assert p.loc[THREE[2], "mean_treatment"] == pytest.approx(p.loc[THREE[1], "mean_treatment"])


def _render(table: object) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_console_tables_name_every_contrast(three_result: TrialAnalysis) -> None:
    text = _render(_primary_table(three_result))
    assert "each arm minus usual care, and GSR+education minus GSR" in text
    for c in THREE:
        assert text.count(c) == 2 * 3  # one row per outcome and follow-up visit
    assert three_result.modifiers is not None
    mods = _render(_modifier_table(three_result, three_result.modifiers))
    assert "Contrast" in mods
    for c in THREE[:2]:
        assert mods.count(c) == 8 * 2 * 2  # family rows: modifiers x outcomes x visits
    assert "GSR+education - GSR" not in mods


def test_console_two_arm_title_names_the_contrast() -> None:
    data = datasets.load("resolve")
    res = analyze(
        data[data["visit"].isin(["baseline", "week 18"])], replace(load_plan(), modifiers=())
    )
    text = _render(_primary_table(res))
    assert "resolve minus sham" in text and "Contrast" not in text


# ----------------------------------------------------------------------------- factor covariates
@pytest.fixture(scope="module")
def sex_plan() -> Plan:
    # model-based OLS standard errors for the modifiers, as the R lm fixture
    plan = _covariate_plan(load_plan(), ("sex",))
    em = replace(plan.effect_modification, standard_errors="ols")
    return replace(plan, effect_modification=em)


def test_factor_covariate_primary_matches_lmer(data: pd.DataFrame, sex_plan: Plan) -> None:
    """Source: resolve_factor_covariate_emmeans.csv (lmer y ~ sex + arm * visit)."""
    ours = primary_analysis(data, sex_plan)
    ref = r_fixture("resolve_factor_covariate_emmeans.csv")
    merged = _merge(ours, ref[ref["visit"] != "baseline"], 8)
    for col in STATS:
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_MIXED, err_msg=col)
    # R's reference level is "female" (its coefficient is sexmale); ours is the same
    lmer = r_fixture("resolve_factor_covariate_lmer.csv")
    assert "sexmale" in set(lmer["term"])
    assert covariate_factors(data, sex_plan)["sex"].reference == "female"
    # and sex changed the numbers: the model without it differs
    plain = primary_analysis(data, load_plan())
    assert not np.allclose(plain["estimate"], ours["estimate"], rtol=1e-6)


def test_factor_covariate_sensitivity_matches_gls(data: pd.DataFrame, sex_plan: Plan) -> None:
    """Source: resolve_factor_covariate_gls.csv (gls y ~ y0 + sex + arm * visit, US)."""
    ours = sensitivity_analysis(data, sex_plan)
    ours = ours[ours["model"] == "mmrm_baseline_adjusted"]
    merged = _merge(ours, r_fixture("resolve_factor_covariate_gls.csv"), 8)
    for col in ("estimate", "std_error"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_MIXED, err_msg=col)


def test_factor_covariate_modifiers_match_lm(data: pd.DataFrame, sex_plan: Plan) -> None:
    """Source: resolve_factor_covariate_modifiers.csv (lm y_t ~ arm * m + y0 + sex)."""
    table = analyse_modifiers(data, sex_plan, credibility=False).table
    ref = r_fixture("resolve_factor_covariate_modifiers.csv")
    keys = ["modifier", "outcome", "visit", "contrast"]
    merged = table.merge(ref, on=keys, suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(table) == 64
    assert (merged["n"] == merged["n_r"]).all() and (merged["df"] == merged["df_r"]).all()
    for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_r"], rtol=RTOL_LS, err_msg=col)
    fam = merged["in_family"].astype(bool)
    for col in ("p_holm", "p_bh"):
        np.testing.assert_allclose(merged.loc[fam, col], merged.loc[fam, f"{col}_r"], rtol=RTOL_LS)


def test_declared_levels_set_the_reference(data: pd.DataFrame, sex_plan: Plan) -> None:
    declared = replace(
        sex_plan,
        analysis=replace(sex_plan.analysis, covariate_levels={"sex": ("male", "female")}),
    )
    levels = factor_levels_table(data, declared)
    row = levels[levels["column"] == "sex"].iloc[0]
    assert row["reference"] == "male" and row["levels"] == "male | female"
    assert "declared" in row["how"]
    w = wide_data(data, declared)
    fit, cell = joint_fit(w, "pain", "week 18")
    assert "sex[female]" in fit.names and ("sex", "female") in cell.adjust_keys
    # the arm contrasts do not depend on which level is the reference
    a = primary_analysis(data, declared)
    b = primary_analysis(data, sex_plan)
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-8)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-6)


def test_levels_table_and_console_line(data: pd.DataFrame, sex_plan: Plan) -> None:
    levels = factor_levels_table(data, sex_plan)
    assert levels[["factor", "column", "reference"]].values.tolist() == [
        ["arm", "arm", "sham"],
        ["covariate", "sex", "female"],
    ]
    assert levels["n_levels"].tolist() == [2, 2]
    assert levels["how"].iloc[1] == "R factor() order of the values"
    res = replace(
        analyze(data[data.visit.isin(["baseline", "week 18"])], replace(sex_plan, modifiers=())),
        levels=levels,
    )
    assert _reference_levels(res) == "reference levels: arm = sham; sex = female"


def test_declared_levels_missing_an_observed_value(data: pd.DataFrame, sex_plan: Plan) -> None:
    bad = replace(
        sex_plan, analysis=replace(sex_plan.analysis, covariate_levels={"sex": ("female",)})
    )
    first = int(np.flatnonzero((data["sex"] == "male").to_numpy())[0])
    with pytest.raises(
        DataValidationError,
        match=rf"trial.csv: row {first + 1}, column 'sex': value 'male' is not one of the levels",
    ):
        validate_data(data, bad, source="trial.csv")


def test_numeric_covariate_stays_numeric_and_numbers_can_be_a_declared_factor(
    data: pd.DataFrame,
) -> None:
    plan = _covariate_plan(load_plan(), ("age",))
    assert covariate_factors(data, plan) == {}
    site = data.assign(site=(data["age"] % 3).astype("int64"))
    declared = replace(
        plan,
        analysis=replace(
            plan.analysis, covariates=("site",), covariate_levels={"site": ("2", "0", "1")}
        ),
    )
    f = covariate_factors(site, declared)["site"]
    assert f.levels == ("2", "0", "1")
    fit, _ = joint_fit(wide_data(site, declared), "pain", "week 18")
    assert {"site[0]", "site[1]"} <= set(fit.names) and "site" not in fit.names


def test_individual_prediction_with_a_factor_covariate(data: pd.DataFrame, sex_plan: Plan) -> None:
    profile: dict[str, float | str] = {
        "pseq": 30, "pcs": 25, "pain_baseline": 7, "psychoactive": 1, "frebaq": 20,
        "tsk": 45, "rmdq_baseline": 12, "bbq": 22,
    }  # fmt: skip
    # the unpenalised joint model: its predicted means are an ordinary least-squares fit
    male = predict_individual(data, sex_plan, {**profile, "sex": "male"}, method="unpenalised")
    female = predict_individual(data, sex_plan, {**profile, "sex": "female"}, method="unpenalised")
    # no sex x arm interaction: the effect is the same, the predicted means shift
    np.testing.assert_allclose(male["estimate"], female["estimate"], rtol=1e-12)
    mods = [m.column for m in sex_plan.modifiers]
    d = data[data.visit == "week 52"].copy()
    d["trt"] = (d.arm == "resolve").astype(float)
    d = d.dropna(subset=["pain"])
    fit = sm_ols(f"pain ~ trt * ({' + '.join(mods)}) + C(sex)", d).fit()
    row_m = male[(male.outcome == "pain") & (male.visit == "week 52")].iloc[0]
    row_f = female[(female.outcome == "pain") & (female.visit == "week 52")].iloc[0]
    shift = row_m["mean_reference"] - row_f["mean_reference"]
    assert shift == pytest.approx(fit.params["C(sex)[T.male]"], rel=1e-8)
    with pytest.raises(DataValidationError, match=r"profile\['sex'\] is a categorical covariate"):
        predict_individual(data, sex_plan, {**profile, "sex": "Male"})


def test_mi_with_a_factor_covariate(data: pd.DataFrame, sex_plan: Plan) -> None:
    out = multiple_imputation(data, sex_plan, m=2, maxit=2)
    assert len(out) == 8 and out["estimate"].notna().all()
    plain = multiple_imputation(data, load_plan(), m=2, maxit=2)
    assert not np.allclose(out["estimate"], plain["estimate"], rtol=1e-9)


def test_three_level_factor_with_missing_values_is_refused_by_mi(
    data: pd.DataFrame,
) -> None:
    groups = {0: "a", 1: "b", 2: "c"}
    d = data.assign(group=(data["age"] % 3).map(groups))
    d.loc[d["id"] == d["id"].iloc[0], "group"] = None
    plan = _covariate_plan(load_plan(), ("group",))
    with pytest.raises(DataValidationError, match="categorical covariate 'group' has 3 levels"):
        multiple_imputation(d, plan, m=2, maxit=1)


# ----------------------------------------------------------------------------- strict values
def _csv_with(tmp_path: Path, column: str, row: int, text: str) -> Path:
    """The bundled CSV with the cell (data row ``row``, 1-based, ``column``) set to ``text``."""
    lines = Path(datasets.path("resolve")).read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = text
    lines[row] = ",".join(cells)
    path = tmp_path / "trial.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read(path: Path) -> pd.DataFrame:
    return read_trial_csv(path, text_columns=("id", "arm", "visit"))


@pytest.mark.parametrize(
    ("column", "row", "text", "message"),
    [
        ("pain", 7, "15", "row 7, column 'pain': value 15 is outside the plan's range [0, 10]"),
        ("pain", 12, "-3", "row 12, column 'pain': value -3 is outside the plan's range [0, 10]"),
        ("rmdq", 3, "24.5", "row 3, column 'rmdq': value 24.5 is outside the plan's range [0, 24]"),
        ("pain", 5, "NaN", "row 5, column 'pain' must be numeric; found 'NaN'"),
        ("pain", 5, "nan", "row 5, column 'pain' must be numeric; found 'nan'"),
        # pandas reads inf/-inf/Infinity as numbers: refused as non-finite numbers
        ("pain", 9, "inf", "row 9, column 'pain' must hold finite numbers; found inf"),
        ("pain", 9, "-inf", "row 9, column 'pain' must hold finite numbers; found -inf"),
        ("rmdq", 2, "NA", "row 2, column 'rmdq' must be numeric; found 'NA'"),
        ("tsk", 4, "NaN", "row 4, column 'tsk' must be numeric; found 'NaN'"),
        ("pcs", 6, "Infinity", "row 6, column 'pcs' must hold finite numbers; found inf"),
        ("pcs", 6, "high", "row 6, column 'pcs' must be numeric; found 'high'"),
    ],
)
def test_bad_values_in_a_csv_are_refused_naming_row_column_value(
    tmp_path: Path, plan: Plan, column: str, row: int, text: str, message: str
) -> None:
    frame = _read(_csv_with(tmp_path, column, row, text))
    with pytest.raises(DataValidationError, match=r"^trial\.csv: " + _escape(message)):
        validate_data(frame, plan, source="trial.csv")


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_range_bounds_are_inclusive_and_empty_cells_stay_missing(
    tmp_path: Path, plan: Plan
) -> None:
    path = _csv_with(tmp_path, "pain", 7, "10")
    frame = _read(path)
    frame.loc[8, "pain"] = 0.0
    out = validate_data(frame, plan, source="trial.csv")
    assert out.loc[6, "pain"] == 10 and out.loc[8, "pain"] == 0
    raw = _read(path)
    assert raw["pain"].isna().sum() == out["pain"].isna().sum() > 0


def test_non_finite_numbers_in_a_dataframe(data: pd.DataFrame, plan: Plan) -> None:
    bad = data.copy()
    bad.loc[4, "pain"] = math.inf
    with pytest.raises(DataValidationError, match="row 5, column 'pain' must hold finite numbers"):
        validate_data(bad, plan)
    covs = _covariate_plan(plan, ("age",))
    bad = data.astype({"age": float})
    bad.loc[bad["id"] == "R002", "age"] = -math.inf
    first = int(np.flatnonzero((bad["id"] == "R002").to_numpy())[0])
    with pytest.raises(DataValidationError, match=rf"row {first + 1}, column 'age' must hold"):
        validate_data(bad, covs)


def test_covariate_text_problems(tmp_path: Path, data: pd.DataFrame) -> None:
    plan = _covariate_plan(load_plan(), ("age",))
    frame = _read(_csv_with(tmp_path, "age", 3, "NaN"))
    with pytest.raises(
        DataValidationError, match="row 3, column 'age' must be numeric; found 'NaN'"
    ):
        validate_data(frame, plan, source="trial.csv")
    frame = _read(_csv_with(tmp_path, "age", 3, "forty"))
    with pytest.raises(DataValidationError, match=r"mixes numbers .* and text .'forty' on row 3"):
        validate_data(frame, plan, source="trial.csv")
    sex = _covariate_plan(load_plan(), ("sex",))
    frame = _read(_csv_with(tmp_path, "sex", 4, "NA"))
    with pytest.raises(
        DataValidationError, match="row 4, column 'sex': value 'NA' reads as a missing"
    ):
        validate_data(frame, sex, source="trial.csv")
    single = data.assign(sex="female")
    with pytest.raises(DataValidationError, match="'sex' has a single value"):
        validate_data(single, sex)


def test_covariate_must_be_constant_within_participant(data: pd.DataFrame) -> None:
    plan = _covariate_plan(load_plan(), ("age",))
    age = data["age"].to_numpy().copy()
    age[2] += 1  # rows 1-5 are participant R001
    bad = data.assign(age=age)
    with pytest.raises(
        DataValidationError, match="covariate 'age' varies within participant 'R001'"
    ):
        validate_data(bad, plan)


def test_empty_subject_and_non_binary_modifier_rows(data: pd.DataFrame, plan: Plan) -> None:
    bad = data.copy()
    bad.loc[10, "id"] = None
    with pytest.raises(DataValidationError, match="column 'id' is empty on data row 11"):
        validate_data(bad, plan)
    bad = data.copy()
    bad.loc[bad["id"] == "R003", "psychoactive"] = 2
    first = int(np.flatnonzero((bad["id"] == "R003").to_numpy())[0])
    with pytest.raises(
        DataValidationError, match=rf"row {first + 1}, column 'psychoactive': binary modifier"
    ):
        validate_data(bad, plan)


def test_validation_is_idempotent(data: pd.DataFrame, sex_plan: Plan) -> None:
    once = validate_data(data, sex_plan)
    twice = validate_data(once, sex_plan)
    pd.testing.assert_frame_equal(once, twice)
    assert covariate_factors(once, sex_plan) == covariate_factors(data, sex_plan)


def test_categorical_dtype_keeps_its_order(data: pd.DataFrame, sex_plan: Plan) -> None:
    d = data.assign(sex=pd.Categorical(data["sex"], categories=["male", "female"]))
    assert covariate_factors(d, sex_plan)["sex"].levels == ("male", "female")
    a = primary_analysis(d, sex_plan)
    b = primary_analysis(data, sex_plan)
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-8)
