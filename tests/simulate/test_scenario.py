"""Scenario files: the default loads, and bad files name the key and the value."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from resolve.errors import DataValidationError, ResolveError
from resolve.simulate import default_scenario, load_scenario, scenario_from_dict, simulate_trial
from resolve.simulate.latent import calibrate
from resolve.simulate.scenario import DEFAULT_PATH


def default_dict() -> dict[str, Any]:
    with open(DEFAULT_PATH, "rb") as fh:
        return tomllib.load(fh)


def test_default_scenario_values() -> None:
    s = default_scenario()
    assert s.design.n_per_arm == (138, 138)
    assert s.pain.arm("sham").mean[0] == 5.8
    assert s.followup.pain[1][2] == 128
    assert s.effect_modification[0].per_point == 0.18
    assert s == load_scenario(Path(DEFAULT_PATH))


def test_every_default_parameter_has_a_class_comment() -> None:
    for line in Path(DEFAULT_PATH).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#") and not line.startswith("["):
            if line.split("=")[0].strip() in ("name", "description", "outcome", "modifier"):
                continue
            assert any(c in line for c in ("HARD", "PLACEHOLDER")), line


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    *head, last = path.split(".")
    node = out
    for key in head:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return out


_DELETE = object()

BAD = [
    ("design.n_per_arm", [138, -1], "design.n_per_arm[1]", "-1"),
    ("design.weeks", [12, 18], "design.weeks", "[12, 18]"),
    ("demographics.age_sd", "wide", "demographics.age_sd", "'wide'"),
    ("demographics.women", 1.5, "demographics.women", "1.5"),
    ("pain.sham.sd", [1.9, 2.3, -2.0, 2.4, 2.5], "pain.sham.sd[2]", "-2.0"),
    ("pain.sham.mean", [5.8, 4.3], "pain.sham.mean", "got 2"),
    ("pain.resolve.mean", [2.0, 3.4, 3.06, 3.3, 3.7], "pain.resolve.mean[0]", "2.0"),
    ("rmdq.sham.sd", [5.0, 5.6, 0.5, 5.8, 5.8], "rmdq.sham.mean[2] / rmdq.sham.sd[2]", "0.5"),
    ("modifiers.frebaq.loading", 1.5, "modifiers.frebaq.loading", "1.5"),
    ("modifiers.pcs.colour", "red", "modifiers.pcs.colour", "'red'"),
    ("correlation.pain_within", 0.1, "correlation.pain_within", "0.1"),
    ("followup.sham.pain", [138, 134, 129, 127, 124], "followup.sham.pain[2]", "129"),
    ("followup.resolve.rmdq", [137, 131, 127, 126, 122], "followup.resolve.rmdq[0]", "137"),
    ("missingness.age", True, "missingness.age", "True"),
    ("missingness.pain_baseline", _DELETE, "missingness.pain_baseline", "missing"),
]


@pytest.mark.parametrize(("path", "value", "key", "shown"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_names_key_and_value(path: str, value: Any, key: str, shown: str) -> None:
    data = _set(default_dict(), path, value)
    with pytest.raises(DataValidationError) as info:
        calibrate(scenario_from_dict(data, source="bad.toml"))
    message = str(info.value)
    assert "bad.toml" in message and key in message and shown in message


def test_bad_effect_modification() -> None:
    data = default_dict()
    data["effect_modification"][0]["modifier"] = "shoe size"
    with pytest.raises(DataValidationError, match=r"effect_modification\[0\].modifier.*shoe size"):
        scenario_from_dict(data)
    data = default_dict()
    data["effect_modification"][0]["week"] = 13
    with pytest.raises(DataValidationError, match=r"effect_modification\[0\].week.*13"):
        scenario_from_dict(data)
    data = default_dict()
    data["effect_modification"].append(dict(data["effect_modification"][0]))
    with pytest.raises(DataValidationError, match="one modifier per outcome and week"):
        scenario_from_dict(data)
    data = default_dict()
    data["effect_modification"][0]["per_point"] = 5.0
    with pytest.raises(DataValidationError, match="per_point 5 is not attainable"):
        calibrate(scenario_from_dict(data))


def test_invalid_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[design\narms = 1\n")
    with pytest.raises(DataValidationError, match=r"broken\.toml: not valid TOML"):
        load_scenario(path)


def test_custom_scenario_changes_the_trial(tmp_path: Path) -> None:
    text = Path(DEFAULT_PATH).read_text().replace("n_per_arm = [138, 138]", "n_per_arm = [40, 40]")
    for old in (
        "[138, 134, 133, 127, 124]",
        "[138, 134, 130, 127, 124]",
        "[138, 131, 128, 126, 122]",
        "[138, 131, 127, 126, 122]",
    ):
        text = text.replace(old, "[40, 40, 38, 36, 35]")
    path = tmp_path / "small.toml"
    path.write_text(text)
    trial = simulate_trial(load_scenario(path), seed=1)
    assert trial["id"].nunique() == 80
    assert isinstance(DataValidationError("x"), ResolveError)


# Every rule of the reader, with the whole message after "bad.toml: ".
RULES = [
    (
        "correlation.pain_witin",
        0.45,
        "unknown key 'correlation.pain_witin' (value 0.45; "
        "did you mean 'correlation.pain_within'?)",
    ),
    ("scenario.nme", "x", "unknown key 'scenario.nme' (value 'x'; did you mean 'scenario.name'?)"),
    ("pain.shm", {}, "unknown key 'pain.shm' (value {}; did you mean 'pain.sham'?)"),
    (
        "rmdq.eligibility_min",
        3,
        "unknown key 'rmdq.eligibility_min' (value 3; allowed: sham, resolve)",
    ),
    ("scenario.name", "", "key 'scenario.name' must be a non-empty string; got ''"),
    ("design.arms", ["sham"], "key 'design.arms' must have 2 values (one per arm); got 1"),
    ("design.arms", ["a", "a"], "key 'design.arms' must name two different arms; got ['a', 'a']"),
    (
        "design.n_per_arm",
        [138, 1.5],
        "key 'design.n_per_arm' must be a list of integers in [2, 100000]; got [138, 1.5]",
    ),
    ("design.weeks", [0], "key 'design.weeks' needs at least one follow-up visit; got [0]"),
    ("design.weeks", [0, 12, 12], "key 'design.weeks' must increase strictly; got [0, 12, 12]"),
    (
        "demographics.age_min",
        True,
        "key 'demographics.age_min' must be an integer in [0, 120]; got True",
    ),
    (
        "demographics.age_max",
        18,
        "key 'demographics.age_max' must be an integer in [19, 120]; got 18",
    ),
    (
        "demographics.age_mean",
        18,
        "key 'demographics.age_mean' must be a number in (18, 70]; got 18.0",
    ),
    ("demographics.age_sd", 30, "key 'demographics.age_sd' must be a number in (0, 26]; got 30.0"),
    ("pain.eligibility_min", 11, "key 'pain.eligibility_min' must be a number in [0, 10]; got 11"),
    (
        "pain.sham.mean",
        [5.8, 4.3, 4.03, 4.0, 10.0],
        "key 'pain.sham.mean[4]' must lie strictly inside (0, 10); got 10.0",
    ),
    (
        "pain.sham.mean",
        [5.8, 4.3, float("inf"), 4.0, 4.1],
        "key 'pain.sham.mean[2]' must be a finite number; got inf",
    ),
    (
        "rmdq.sham.mean",
        [10, 7, 6, 6, 24],
        "key 'rmdq.sham.mean[4]' must lie strictly inside (0, 24); got 24.0",
    ),
    (
        "rmdq.resolve.sd",
        [5.4, 4.8, 4.6, 5.0],
        "key 'rmdq.resolve.sd' must have 5 values (one per visit); got 4",
    ),
    ("modifiers.pseq.mean", 60, "key 'modifiers.pseq.mean' must be a number in (0, 60); got 60.0"),
    ("modifiers.bbq.mean", 9, "key 'modifiers.bbq.mean' must be a number in (9, 45); got 9.0"),
    ("modifiers.pseq.sd", 31, "key 'modifiers.pseq.sd' must be a number in (0, 30]; got 31.0"),
    (
        "modifiers.psychoactive.prevalence",
        1.0,
        "key 'modifiers.psychoactive.prevalence' must be a number in (0, 1); got 1.0",
    ),
    (
        "modifiers.psychoactive.loading",
        -1,
        "key 'modifiers.psychoactive.loading' must be a number in [-0.99, 0.99]; got -1",
    ),
    ("modifiers.tsk", _DELETE, "missing key 'modifiers.tsk'"),
    (
        "correlation.rmdq_within",
        1.0,
        "key 'correlation.rmdq_within' must be a number in [0, 0.99]; got 1.0",
    ),
    (
        "correlation.pain_rmdq_person",
        1.5,
        "key 'correlation.pain_rmdq_person' must be a number in [-1, 1]; got 1.5",
    ),
    (
        "correlation.rmdq_loading",
        0.8,
        "key 'correlation.rmdq_within' must be at least "
        "rmdq_loading^2 = 0.64 (the common factor alone correlates visits that much); got 0.55",
    ),
    (
        "followup.sham.pain",
        [138, 139, 133, 127, 124],
        "key 'followup.sham.pain[1]' must be an integer in [0, 138]; got 139",
    ),
    (
        "followup.sham.rmdq",
        [138, 134, -1, 127, 124],
        "key 'followup.sham.rmdq[2]' must be an integer in [0, 138]; got -1",
    ),
    ("followup.sham", {"pain": [138] * 5}, "missing key 'followup.sham.rmdq'"),
    (
        "missingness.rmdq_baseline",
        6,
        "key 'missingness.rmdq_baseline' must be a number in [-5, 5]; got 6",
    ),
    ("effect_modification", "x", "key 'effect_modification' must be one or more tables; got 'x'"),
]


@pytest.mark.parametrize(("path", "value", "message"), RULES, ids=[r[0] for r in RULES])
def test_every_rule_names_key_and_value(path: str, value: Any, message: str) -> None:
    with pytest.raises(DataValidationError) as info:
        scenario_from_dict(_set(default_dict(), path, value), source="bad.toml")
    assert str(info.value) == f"bad.toml: {message}"


def test_arm_tables_follow_the_design() -> None:
    data = default_dict()
    data["design"]["arms"] = ["control", "active"]
    for table in ("pain", "rmdq", "followup"):
        data[table]["control"] = data[table].pop("sham")
        data[table]["active"] = data[table].pop("resolve")
    s = scenario_from_dict(data)
    assert s.design.arms == ("control", "active")
    assert s.pain.arm("active") == default_scenario().pain.arm("resolve")
    data["design"]["arms"] = ["control", "treated"]
    with pytest.raises(DataValidationError) as info:
        scenario_from_dict(data, source="bad.toml")
    assert str(info.value).startswith("bad.toml: unknown key 'pain.active' (value {")
    assert str(info.value).endswith("allowed: control, treated, eligibility_min)")


def test_effect_modification_outcome_and_table() -> None:
    data = default_dict()
    data["effect_modification"][0]["outcome"] = "sf36"
    with pytest.raises(
        DataValidationError,
        match=r"'effect_modification\[0\]\.outcome' must be "
        r"one of pain, rmdq; got 'sf36'",
    ):
        scenario_from_dict(data)
    data = default_dict()
    data["effect_modification"][0]["colour"] = "red"
    with pytest.raises(
        DataValidationError, match=r"unknown key 'effect_modification\[0\]\.colour'"
    ):
        scenario_from_dict(data)
    with pytest.raises(DataValidationError, match="must be a table; got"):
        scenario_from_dict([1], source="bad.toml")  # type: ignore[arg-type]
