"""Plan loading and data validation: every DataValidationError branch of plan.py."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.plan import Plan, load_plan
from resolve.errors import DataValidationError, ResolveError

BUNDLED = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()


def plan_text(tmp_path: Path, text: str) -> Plan:
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return load_plan(path)


def edited(old: str, new: str) -> str:
    assert old in BUNDLED, old
    return BUNDLED.replace(old, new, 1)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return datasets.load("resolve")


# ----------------------------------------------------------------------------- loading
def test_bundled_plan_loads(plan: Plan) -> None:
    assert plan.trial.arms == ("sham", "resolve") and plan.trial.reference_arm == "sham"
    assert plan.trial.followup_visits == ("week 12", "week 18", "week 26", "week 52")
    assert plan.outcome("pain").role == "primary" and len(plan.modifiers) == 8
    assert plan.analysis.sensitivity_cov == "us" and not plan.analysis.mi_enabled


def test_same_plan_from_file(tmp_path: Path, plan: Plan) -> None:
    again = plan_text(tmp_path, BUNDLED)
    assert again.trial == plan.trial and again.modifiers == plan.modifiers
    assert again.source == "plan.toml"


def test_int_conf_level_becomes_float(tmp_path: Path) -> None:
    # a TOML integer where a float is expected is accepted (only 0 < level < 1 is valid,
    # so check the conversion through exploratory_p instead)
    p = plan_text(tmp_path, edited("exploratory_p = 0.2", "exploratory_p = 1"))
    assert p.effect_modification.exploratory_p == 1.0
    assert isinstance(p.effect_modification.exploratory_p, float)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # _get: missing key / wrong type
        ('subject = "id"', "", "missing key 'subject'"),
        ("[trial]", "[trial_]", "missing key 'trial'"),
        ('name = "RESOLVE"', "name = 3", "'name' has the wrong type"),
        ('arms = ["sham", "resolve"]', 'arms = "sham"', "'arms' has the wrong type"),
        ('name = "pain"\ncolumn = "pain"', 'name = true\ncolumn = "pain"', "wrong type"),
        # _opt: wrong type, list of strings
        ("conf_level = 0.95", 'conf_level = "high"', "'conf_level' must be float"),
        ("adjust_for_baseline = true", "adjust_for_baseline = 1", "must be bool"),
        ("covariates = []", "covariates = [1, 2]", "'covariates' must be a list of strings"),
        ('sensitivity_cov = "us"', "sensitivity_cov = 3", "'sensitivity_cov' must be str"),
        # _choice
        ('role = "primary"', 'role = "main"', "'role' must be one of primary, secondary"),
        ('higher_is = "worse"\nmcid', 'higher_is = "bad"\nmcid', "'higher_is' must be one"),
        ('primary = "lmm_random_intercept"', 'primary = "anova"', "'primary' must be one of"),
        ('type = "binary"', 'type = "ordinal"', "'type' must be one of continuous, binary"),
        ('unit = "point"\ndirection = "-"', 'unit = "point"\ndirection = "up"', "'direction'"),
        ('multiplicity = ["holm", "bh"]', 'multiplicity = ["bonferroni"]', "'multiplicity'"),
        # design facts
        ('arms = ["sham", "resolve"]', 'arms = ["sham"]', "at least two distinct arms"),
        ('arms = ["sham", "resolve"]', 'arms = ["sham", "sham"]', "at least two distinct arms"),
        ('reference_arm = "sham"', 'reference_arm = "usual care"', "reference_arm 'usual care'"),
        ('baseline_visit = "baseline"', 'baseline_visit = "week 0"', "baseline_visit 'week 0'"),
        ('primary_visit = "week 18"', 'primary_visit = "week 20"', "primary_visit 'week 20'"),
        ("conf_level = 0.95", "conf_level = 1.5", "conf_level must be in (0, 1)"),
        # effect modification settings
        ('outcomes = ["pain", "rmdq"]', 'outcomes = ["pain", "sf36"]', "outcome 'sf36'"),
        ('family_visits = ["week 18", "week 52"]', 'family_visits = ["baseline"]', "'baseline'"),
        ('visits = ["week 12", "week 18", "week 26", "week 52"]   #', 'visits = ["w9"] #', "'w9'"),
        # modifiers
        ('name = "pcs"', 'name = "pseq"', "modifier names must be unique"),
    ],
)
def test_bad_plan(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(DataValidationError) as err:
        plan_text(tmp_path, edited(old, new))
    assert message in str(err.value)
    assert "plan.toml" in str(err.value)


def test_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"plan\.toml: not valid TOML"):
        plan_text(tmp_path, BUNDLED + "\n[trial\n")


def test_errors_are_resolve_and_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        plan_text(tmp_path, "x = ")
    assert isinstance(err.value, ResolveError)


def test_unknown_outcome_name(plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="no outcome 'sf36'"):
        plan.outcome("sf36")


# ----------------------------------------------------------------------------- data
def test_valid_data_pass_and_are_not_mutated(plan: Plan, trial: pd.DataFrame) -> None:
    before = trial.copy()
    out = plan.validate_data(trial)
    pd.testing.assert_frame_equal(trial, before)
    assert str(out["arm"].dtype) == "string" and len(out) == len(trial)


def test_not_a_dataframe(plan: Plan) -> None:
    with pytest.raises(DataValidationError, match="must be a pandas DataFrame"):
        plan.validate_data([1, 2, 3])  # type: ignore[arg-type]


def test_missing_column(plan: Plan, trial: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) 'frebaq'"):
        plan.validate_data(trial.drop(columns="frebaq"))


def test_unknown_arm(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.assign(arm=trial["arm"].replace({"sham": "placebo"}))
    with pytest.raises(DataValidationError, match=r"arm\(s\) 'placebo' not in the plan"):
        plan.validate_data(bad)


def test_unknown_visit(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.assign(visit=trial["visit"].replace({"week 26": "week 27"}))
    with pytest.raises(DataValidationError, match=r"visit\(s\) 'week 27' not in the plan"):
        plan.validate_data(bad)


def test_empty_arm_cell(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.copy()
    bad.loc[4, "arm"] = None
    with pytest.raises(DataValidationError, match="column 'arm' is empty on data row 5"):
        plan.validate_data(bad)


def test_empty_visit_cell(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.copy()
    bad.loc[0, "visit"] = None
    with pytest.raises(DataValidationError, match="column 'visit' is empty on data row 1"):
        plan.validate_data(bad)


def test_duplicate_subject_visit(plan: Plan, trial: pd.DataFrame) -> None:
    bad = pd.concat([trial, trial.iloc[[7]]], ignore_index=True)
    with pytest.raises(DataValidationError, match="2 rows share a participant and visit"):
        plan.validate_data(bad)


def test_two_arms_for_one_participant(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.copy()
    first = bad["id"] == bad["id"].iloc[0]
    bad.loc[first.idxmax(), "arm"] = "sham" if bad.loc[0, "arm"] == "resolve" else "resolve"
    with pytest.raises(DataValidationError, match="has more than one arm"):
        plan.validate_data(bad)


def test_non_numeric_outcome(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.astype({"pain": object})
    bad.loc[3, "pain"] = "severe"
    with pytest.raises(DataValidationError, match="'pain' must be numeric; found 'severe'"):
        plan.validate_data(bad)


def test_boolean_modifier_is_not_numeric(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.assign(psychoactive=trial["psychoactive"].astype(bool))
    with pytest.raises(DataValidationError, match="'psychoactive' must be numeric"):
        plan.validate_data(bad)


def test_modifier_varies_within_participant(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.copy()
    bad.loc[1, "tsk"] = bad.loc[0, "tsk"] + 1
    with pytest.raises(DataValidationError, match="modifier 'tsk' varies within participant"):
        plan.validate_data(bad)


def test_modifier_without_variance(plan: Plan, trial: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="modifier 'bbq' has no variance"):
        plan.validate_data(trial.assign(bbq=30))


def test_binary_modifier_not_coded_0_1(plan: Plan, trial: pd.DataFrame) -> None:
    bad = trial.assign(psychoactive=trial["psychoactive"] + 1)
    with pytest.raises(DataValidationError, match="binary modifier 'psychoactive' must be coded"):
        plan.validate_data(bad)


def test_covariate_named_by_plan_but_absent(tmp_path: Path, trial: pd.DataFrame) -> None:
    p = plan_text(tmp_path, edited("covariates = []", 'covariates = ["bmi"]'))
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) 'bmi'"):
        p.validate_data(trial)
