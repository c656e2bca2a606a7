"""Plan loading and data validation: every DataValidationError branch of plan.py."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.plan import (
    AnalysisSettings,
    EffectModificationSettings,
    OutcomeSpec,
    Plan,
    ResponderSpec,
    load_plan,
    parse_plan,
    plan_reference,
)
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


# (edit of the bundled plan, the whole message after "plan.toml: ")
BAD_PLANS = [
    # unknown keys: refused with the key path and the nearest valid key
    (
        "exploratory_p = 0.2",
        "exploratry_p = 0.2",
        "[effect_modification] unknown key 'exploratry_p' (did you mean 'exploratory_p'?)",
    ),
    ("[trial]", "[trial_]", "unknown key 'trial_' (did you mean 'trial'?)"),
    ('subject = "id"', 'subjct = "id"', "[trial] unknown key 'subjct' (did you mean 'subject'?)"),
    (
        'unit = "point"\ndirection = "-"',
        'unit = "point"\ndirection = "-"\ncolour = "red"',
        "[[modifiers]] #1 unknown key 'colour' "
        "(allowed: name, column, source, label, type, unit, direction, hypothesis_source, "
        "hypothesis_date, hypothesis_timing, prior_evidence, prior_evidence_answer)",
    ),
    (
        "mcid = 1.0",
        "mcdi = 1.0",
        "[[outcomes]] #1 unknown key 'mcdi' (did you mean 'mcid'?)",
    ),
    (
        "percent = 50",
        "percnt = 50",
        "[[responders]] #2 unknown key 'percnt' (did you mean 'percent'?)",
    ),
    (
        "{ m = 20, seed = 2022",
        "{ m = 20, sead = 2022",
        "[analysis.multiple_imputation] unknown key 'sead' (did you mean 'seed'?)",
    ),
    (
        "conf_level = 0.95",
        "conf_levl = 0.95",
        "[analysis] unknown key 'conf_levl' (did you mean 'conf_level'?)",
    ),
    # missing keys
    ('subject = "id"', "", "[trial] missing key 'subject'"),
    ('name = "pain"\ncolumn = "pain"', 'name = "pain"', "[[outcomes]] #1 missing key 'column'"),
    # wrong types: booleans are not numbers, a list of strings must be one
    ('name = "RESOLVE"', "name = 3", "[trial] 'name': must be a non-empty string; got 3"),
    ('name = "RESOLVE"', 'name = " "', "[trial] 'name': must be a non-empty string; got ' '"),
    (
        'arms = ["sham", "resolve"]',
        'arms = "sham"',
        "[trial] 'arms': must be a list of non-empty strings; got 'sham'",
    ),
    (
        'arms = ["sham", "resolve"]',
        'arms = ["sham", 1]',
        "[trial] 'arms': must be a list of non-empty strings; got ['sham', 1]",
    ),
    (
        'name = "pain"\ncolumn = "pain"',
        'name = true\ncolumn = "pain"',
        "[[outcomes]] #1 'name': must be a non-empty string; got True",
    ),
    (
        "conf_level = 0.95",
        'conf_level = "high"',
        "[analysis] 'conf_level': must be a number in (0, 1); got 'high'",
    ),
    (
        "conf_level = 0.95",
        "conf_level = true",
        "[analysis] 'conf_level': must be a number in (0, 1); got True",
    ),
    (
        "adjust_for_baseline = true",
        "adjust_for_baseline = 1",
        "[effect_modification] 'adjust_for_baseline': must be true or false; got 1",
    ),
    (
        "covariates = []",
        "covariates = [1, 2]",
        "[analysis] 'covariates': must be a list of non-empty strings; got [1, 2]",
    ),
    (
        'sensitivity_cov = "us"',
        "sensitivity_cov = 3",
        "[analysis] 'sensitivity_cov': must be a non-empty string; got 3",
    ),
    ("mcid = 1.0", "mcid = true", "[[outcomes]] #1 'mcid': must be a number > 0; got True"),
    (
        "spline_knots = 3",
        "spline_knots = 3.0",
        "[effect_modification] 'spline_knots': must be an integer in [3, 7]; got 3.0",
    ),
    (
        "visit_times = [0, 12, 18, 26, 52]",
        'visit_times = [0, 12, "18", 26, 52]',
        "[trial] 'visit_times': must be a list of finite numbers; got [0, 12, '18', 26, 52]",
    ),
    (
        "multiple_imputation = { m = 20, seed = 2022, enabled = false }",
        "multiple_imputation = 20",
        "[analysis.multiple_imputation] must be a table; got 20",
    ),
    # allowed values
    (
        'role = "primary"',
        'role = "main"',
        "[[outcomes]] #1 'role': must be one of primary, secondary; got 'main'",
    ),
    (
        'higher_is = "worse"\nmcid',
        'higher_is = "bad"\nmcid',
        "[[outcomes]] #1 'higher_is': must be one of worse, better; got 'bad'",
    ),
    (
        'primary = "lmm_random_intercept"',
        'primary = "anova"',
        "[analysis] 'primary': must be one of lmm_random_intercept, "
        "mmrm_unstructured_all_visits, mmrm_baseline_adjusted; got 'anova'",
    ),
    (
        'sensitivity = ["mmrm_unstructured_all_visits", "mmrm_baseline_adjusted"]',
        'sensitivity = ["anova"]',
        "[analysis] 'sensitivity': must be a list of values from lmm_random_intercept, "
        "mmrm_unstructured_all_visits, mmrm_baseline_adjusted; got ['anova']",
    ),
    (
        'type = "binary"',
        'type = "ordinal"',
        "[[modifiers]] #4 'type': must be one of continuous, binary; got 'ordinal'",
    ),
    (
        'unit = "point"\ndirection = "-"',
        'unit = "point"\ndirection = "up"',
        "[[modifiers]] #1 'direction': must be one of +, -; got 'up'",
    ),
    (
        'multiplicity = ["holm", "bh"]',
        'multiplicity = ["bonferroni"]',
        "[effect_modification] 'multiplicity': must be a list of values from holm, bh; "
        "got ['bonferroni']",
    ),
    (
        'multiplicity = ["holm", "bh"]',
        'multiplicity = ["holm", "holm"]',
        "[effect_modification] 'multiplicity': lists 'holm' twice",
    ),
    (
        'sensitivity_cov = "us"',
        'sensitivity_cov = "sp_exp"',
        "[analysis] 'sensitivity_cov': must be one of us, cs, csh, ar1, ar1h, toep, toeph, ad, "
        "adh, ri; got 'sp_exp'",
    ),
    (
        'df = "satterthwaite"',
        'df = "wald"',
        "[analysis] 'df': must be one of satterthwaite, kenward-roger, kenward-roger-linear, "
        "residual, between-within, empirical; got 'wald'",
    ),
    # numeric ranges
    (
        "conf_level = 0.95",
        "conf_level = 1.5",
        "[analysis] 'conf_level': must be a number in (0, 1); got 1.5",
    ),
    (
        "exploratory_p = 0.2",
        "exploratory_p = 0",
        "[effect_modification] 'exploratory_p': must be a number in (0, 1]; got 0",
    ),
    (
        "spline_knots = 3",
        "spline_knots = 8",
        "[effect_modification] 'spline_knots': must be an integer in [3, 7]; got 8",
    ),
    (
        "spline_knots = 3",
        "spline_knots = 2",
        "[effect_modification] 'spline_knots': must be an integer in [3, 7]; got 2",
    ),
    ("mcid = 1.0", "mcid = 0", "[[outcomes]] #1 'mcid': must be a number > 0; got 0"),
    ("mcid = 1.0", "mcid = nan", "[[outcomes]] #1 'mcid': must be a number > 0; got nan"),
    (
        "{ m = 20,",
        "{ m = 1,",
        "[analysis.multiple_imputation] 'm': must be an integer >= 2; got 1",
    ),
    (
        "seed = 2022",
        "seed = -1",
        "[analysis.multiple_imputation] 'seed': must be an integer >= 0; got -1",
    ),
    (
        "percent = 50",
        "percent = 500",
        "[[responders]] #2 'percent': must be a number in (0, 100]; got 500",
    ),
    ("points = 5", "points = 0", "[[responders]] #3 'points': must be a number > 0; got 0"),
    (
        "range = [0, 24]",
        "range = [10, 0]",
        "[[outcomes]] #2 'range': must be [low, high] with low < high; got [10, 0]",
    ),
    (
        "range = [0, 24]",
        "range = [0, 10, 24]",
        "[[outcomes]] #2 'range': must be [low, high] with low < high; got [0, 10, 24]",
    ),
    # design facts of [trial]
    (
        'arms = ["sham", "resolve"]',
        'arms = ["sham"]',
        "[trial] 'arms': must list at least two arms; got ['sham']",
    ),
    ('arms = ["sham", "resolve"]', 'arms = ["sham", "sham"]', "[trial] 'arms': lists 'sham' twice"),
    (
        '"week 12", "week 18", "week 26", "week 52"]  # in time order',
        '"week 12", "week 12", "week 26", "week 52"]',
        "[trial] 'visits': lists 'week 12' twice",
    ),
    (
        'reference_arm = "sham"',
        'reference_arm = "usual care"',
        "[trial] 'reference_arm': 'usual care' is not one of the arms (sham, resolve)",
    ),
    (
        'baseline_visit = "baseline"',
        'baseline_visit = "week 0"',
        "[trial] 'baseline_visit': 'week 0' is not one of the visits "
        "(baseline, week 12, week 18, week 26, week 52)",
    ),
    (
        'primary_visit = "week 18"',
        'primary_visit = "week 20"',
        "[trial] 'primary_visit': 'week 20' is not one of the visits "
        "(baseline, week 12, week 18, week 26, week 52)",
    ),
    (
        'primary_visit = "week 18"',
        'primary_visit = "baseline"',
        "[trial] 'primary_visit': 'baseline' is the baseline visit; the primary visit is a "
        "follow-up visit",
    ),
    (
        "visit_times = [0, 12, 18, 26, 52]",
        "visit_times = [0, 12, 18, 26]",
        "[trial] 'visit_times': must give one time per visit (5); got 4",
    ),
    (
        "visit_times = [0, 12, 18, 26, 52]",
        "visit_times = [0, 12, 18, 18, 52]",
        "[trial] 'visit_times': must increase (visits are in time order); got [0, 12, 18, 18, 52]",
    ),
    (
        'time_label = "weeks since randomisation"',
        'extra_contrasts = [["resolve", "placebo"]]',
        "[trial] 'extra_contrasts'[0]: entries must be [arm, comparator] of two different plan "
        "arms (sham, resolve); got ['resolve', 'placebo']",
    ),
    (
        'time_label = "weeks since randomisation"',
        'extra_contrasts = [["resolve", "resolve"]]',
        "[trial] 'extra_contrasts'[0]: entries must be [arm, comparator] of two different plan "
        "arms (sham, resolve); got ['resolve', 'resolve']",
    ),
    (
        'time_label = "weeks since randomisation"',
        'extra_contrasts = [["resolve", "sham"]]',
        "[trial] 'extra_contrasts'[0]: ['resolve', 'sham']: every arm is compared with the "
        "reference arm 'sham' anyway",
    ),
    # outcomes, modifiers
    (
        'name = "rmdq"',
        'name = "pain"',
        "[[outcomes]] #2 'name': 'pain' also names [[outcomes]] #1; outcome names must be unique",
    ),
    (
        'column = "rmdq"',
        'column = "visit"',
        "[[outcomes]] #2 'column': 'visit' is the [trial] visit column",
    ),
    (
        'name = "pcs"',
        'name = "pseq"',
        "[[modifiers]] #2 'name': 'pseq' also names [[modifiers]] #1; modifier names must be "
        "unique",
    ),
    (
        'column = "tsk"',
        'column = "arm"',
        "[[modifiers]] #6 'column': 'arm' is the [trial] arm column",
    ),
    (
        'column = "tsk"',
        'column = "rmdq"',
        "[[modifiers]] #6 'column': 'rmdq' is the column of outcome 'rmdq'; a modifier is a "
        "baseline value",
    ),
    # analysis
    (
        "covariates = []",
        'covariates = ["id"]',
        "[analysis] 'covariates': 'id' is the subject column",
    ),
    (
        "covariates = []",
        'covariates = ["pain"]',
        "[analysis] 'covariates': 'pain' is the outcome 'pain' column",
    ),
    (
        "covariates = []",
        'covariates = ["age", "age"]',
        "[analysis] 'covariates': lists 'age' twice",
    ),
    (
        "covariates = []",
        'covariates = ["age"]\ncovariate_levels = { sex = ["female", "male"] }',
        "[analysis.covariate_levels] 'sex': not one of the covariates (age)",
    ),
    (
        "covariates = []",
        'covariates = ["sex"]\ncovariate_levels = { sex = ["female"] }',
        "[analysis.covariate_levels] 'sex': needs at least two levels; got ['female']",
    ),
    (
        "covariates = []",
        'covariates = ["sex"]\ncovariate_levels = { sex = "female" }',
        "[analysis.covariate_levels] 'sex': must be a list of non-empty strings; got 'female'",
    ),
    # effect modification settings
    (
        'outcomes = ["pain", "rmdq"]',
        'outcomes = ["pain", "sf36"]',
        "[effect_modification] 'outcomes': outcome 'sf36' is not one of the plan's outcomes "
        "(pain, rmdq)",
    ),
    (
        'family_visits = ["week 18", "week 52"]',
        'family_visits = ["baseline"]',
        "[effect_modification] 'family_visits': visit 'baseline' is not a follow-up visit of the "
        "plan (week 12, week 18, week 26, week 52)",
    ),
    (
        'visits = ["week 12", "week 18", "week 26", "week 52"]   #',
        'visits = ["w9"] #',
        "[effect_modification] 'visits': visit 'w9' is not a follow-up visit of the plan "
        "(week 12, week 18, week 26, week 52)",
    ),
    (
        'visits = ["week 12", "week 18", "week 26", "week 52"]   #',
        'visits = ["week 12", "week 18"] #',
        "[effect_modification] 'family_visits': visit 'week 52' is not one of the analysed "
        "visits (week 12, week 18)",
    ),
    # responders
    (
        'outcome = "rmdq"',
        'outcome = "sf36"',
        "[[responders]] #3 'outcome': 'sf36' is not one of the plan's outcomes (pain, rmdq)",
    ),
    (
        "percent = 50",
        'percent = 50\nvisits = ["baseline"]',
        "[[responders]] #2 'visits': visit 'baseline' is not a follow-up visit of the plan "
        "(week 12, week 18, week 26, week 52)",
    ),
    ("percent = 50\n", "\n", "[[responders]] #2 give 'percent', 'points' or both"),
    (
        'name = "pain_50"',
        'name = "pain_30"',
        "[[responders]] #2 'name': 'pain_30' also names [[responders]] #1; responder names must "
        "be unique",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_PLANS)
def test_bad_plan(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(DataValidationError) as err:
        plan_text(tmp_path, edited(old, new))
    assert str(err.value) == f"plan.toml: {message}"


MINIMAL = """
[trial]
name = "Pilot"
subject = "pid"
arm = "group"
arms = ["control", "active", "booster"]
reference_arm = "control"
visit = "when"
visits = ["start", "week 4", "week 8"]
baseline_visit = "start"
primary_visit = "week 8"

[[outcomes]]
name = "pain"
column = "nrs"
"""


def test_minimal_plan_takes_the_defaults(tmp_path: Path) -> None:
    p = plan_text(tmp_path, MINIMAL)
    assert p.trial.followup_visits == ("week 4", "week 8")
    assert p.trial.visit_times is None and p.trial.extra_contrasts == ()
    assert p.outcomes == (OutcomeSpec("pain", "nrs", "pain"),)  # label defaults to the name
    assert p.analysis == AnalysisSettings()
    assert p.effect_modification == EffectModificationSettings(
        outcomes=("pain",), visits=("week 4", "week 8"), family_visits=("week 4", "week 8")
    )
    assert p.modifiers == () and p.responders == ()
    assert p.columns == ("pid", "group", "when", "nrs")


def test_family_defaults_to_the_analysed_visits(tmp_path: Path) -> None:
    p = plan_text(tmp_path, MINIMAL + '[effect_modification]\nvisits = ["week 8"]\n')
    assert p.effect_modification.visits == p.effect_modification.family_visits == ("week 8",)


def test_extra_contrasts_of_a_three_arm_trial(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'primary_visit = "week 8"',
        'primary_visit = "week 8"\nextra_contrasts = [["booster", "active"]]',
    )
    assert plan_text(tmp_path, text).trial.extra_contrasts == (("booster", "active"),)
    twice = text.replace(
        '[["booster", "active"]]', '[["booster", "active"], ["active", "booster"]]'
    )
    with pytest.raises(DataValidationError) as err:
        plan_text(tmp_path, twice)
    assert str(err.value) == (
        "plan.toml: [trial] 'extra_contrasts'[1]: ['active', 'booster'] repeats a comparison"
    )


def test_declared_covariate_levels_and_imputation(tmp_path: Path) -> None:
    text = MINIMAL + (
        '[analysis]\ncovariates = ["sex", "age"]\n'
        'covariate_levels = { sex = ["female", "male"] }\n'
        "[analysis.multiple_imputation]\nm = 5\nenabled = true\n"
    )
    a = plan_text(tmp_path, text).analysis
    assert a.covariates == ("sex", "age") and a.covariate_levels == {"sex": ("female", "male")}
    assert (a.mi_m, a.mi_seed, a.mi_enabled) == (5, 2022, True)


def test_bundled_plan_declares_times_ranges_and_responders(plan: Plan) -> None:
    assert plan.trial.visit_times == (0.0, 12.0, 18.0, 26.0, 52.0)
    assert plan.outcome("pain").range == (0.0, 10.0) and plan.outcome("rmdq").range == (0.0, 24.0)
    assert plan.outcome("pain").mcid == 1.0 and plan.outcome("rmdq").mcid is None
    r = {x.name: x for x in plan.responders}
    assert r["rmdq_5_or_30"] == ResponderSpec(
        "rmdq_5_or_30", "rmdq", "RMDQ improved by at least 5 points or 30%", 30.0, 5.0
    )
    assert r["pain_30"].points is None and r["pain_30"].percent == 30.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing table [trial]"),
        (BUNDLED[: BUNDLED.index("[[outcomes]]")], "missing [[outcomes]] entries"),
        (
            "outcomes = []\n" + BUNDLED.split("[[outcomes]]")[0],
            "[[outcomes]] must list at least one outcome",
        ),
        (
            'outcomes = "pain"\n' + BUNDLED.split("[[outcomes]]")[0],
            "[[outcomes]] must be one or more tables; got 'pain'",
        ),
        (
            'outcomes = ["pain"]\n' + BUNDLED.split("[[outcomes]]")[0],
            "[[outcomes]] #1 must be a table; got 'pain'",
        ),
        (
            'trial = "RESOLVE"\n' + BUNDLED[BUNDLED.index("[[outcomes]]") :],
            "[trial] must be a table; got 'RESOLVE'",
        ),
    ],
)
def test_missing_or_misshapen_tables(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataValidationError) as err:
        plan_text(tmp_path, text)
    assert str(err.value) == f"plan.toml: {message}"


def test_unreadable_plan_file(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"absent\.toml: cannot read plan file"):
        load_plan(tmp_path / "absent.toml")
    (tmp_path / "latin1.toml").write_bytes(b"# caf\xe9\n")
    with pytest.raises(DataValidationError, match=r"latin1\.toml: cannot read plan file"):
        load_plan(tmp_path / "latin1.toml")


def test_parse_plan_names_the_source() -> None:
    assert parse_plan(BUNDLED, "mine.toml").source == "mine.toml"
    with pytest.raises(DataValidationError, match=r"^mine\.toml: \[trial\] missing key"):
        parse_plan(BUNDLED.replace('subject = "id"', ""), "mine.toml")


def test_reference_page_is_generated_from_the_schema() -> None:
    page = (Path(__file__).parents[2] / "docs" / "analysis-plan.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN plan_reference() -->\n", "<!-- END plan_reference() -->"
    assert begin in page and end in page
    generated = page[page.index(begin) + len(begin) : page.index(end)].strip()
    assert generated == plan_reference().strip(), (
        "docs/analysis-plan.md is stale: paste resolve.analysis.plan.plan_reference() "
        "between its BEGIN/END markers"
    )

    # every key the bundled plan uses (and the optional ones it leaves out) is documented
    def walk(table: dict[str, Any], header: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict) and f"| `{key}` |" in generated:
                continue  # a key whose value is an inline table (covariate_levels, ...)
            if isinstance(value, dict):
                assert f"### `[{header}{key}]`" in generated, key
                walk(value, f"{header}{key}.")
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                assert f"### `[[{header}{key}]]`" in generated, key
                for item in value:
                    walk(item, f"{header}{key}.")
            else:
                assert f"| `{key}` |" in generated, key

    walk(tomllib.loads(BUNDLED), "")
    for key in ("label", "points", "extra_contrasts", "covariate_levels", "visits"):
        assert f"| `{key}` |" in generated, key
    assert "resolve plan show" in page and "resolve plan check" in page


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
