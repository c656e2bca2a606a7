"""Scenario files: the default loads, and bad files name the key and the value."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from resolve.errors import DataValidationError, ResolveError
from resolve.simulate import (
    NAMED_SCENARIOS,
    default_scenario,
    load_scenario,
    named_scenario,
    resize,
    scenario_from_dict,
    simulate_trial,
)
from resolve.simulate.latent import calibrate
from resolve.simulate.scenario import (
    DEFAULT_PATH,
    FREBAQ_MODIFICATION,
    PROVENANCE_CLASSES,
    provenance_markdown,
)


def default_dict() -> dict[str, Any]:
    with open(DEFAULT_PATH, "rb") as fh:
        return tomllib.load(fh)


def test_default_scenario_values() -> None:
    s = default_scenario()
    assert s.design.n_per_arm == (138, 138)
    assert s.pain.baseline_mean == 5.7
    assert s.followup.pain[1][1] == 128
    assert s.rmdq.effect[1:] == (-2.6, -2.1, -1.8)
    assert s.effect_modification[0].per_point == 0.18
    assert s == load_scenario(Path(DEFAULT_PATH))


def test_every_default_value_has_its_provenance() -> None:
    s = default_scenario()
    keys = [p.key for p in s.provenance]
    assert "rmdq.sham.mean" in keys and "effect_modification[0].per_point" in keys
    assert "modifiers.frebaq.sd" in keys and "correlation.pain_persistence" in keys
    for p in s.provenance:
        if p.key in ("scenario.name", "scenario.description"):
            continue
        assert p.classes, f"{p.key} has no provenance"
        assert set(p.classes) <= set(PROVENANCE_CLASSES)
        assert p.source.strip(), p.key
    # a per-element class list has one class per value
    weeks = next(p for p in s.provenance if p.key == "design.weeks")
    assert len(weeks.classes) == len(s.design.weeks)


def test_docs_list_the_provenance_of_the_default_scenario() -> None:
    page = (Path(__file__).parents[2] / "docs" / "simulation.md").read_text(encoding="utf-8")
    table = provenance_markdown(default_scenario())
    assert table in page, (
        "docs/simulation.md is stale: paste "
        "resolve.simulate.scenario.provenance_markdown(default_scenario())"
    )


def test_bad_provenance() -> None:
    data = default_dict()
    data["pain"]["sham"]["provenance"]["means"] = {"class": "published", "source": "x"}
    with pytest.raises(DataValidationError, match=r"'pain.sham.provenance.means' names no value"):
        scenario_from_dict(data)
    data = default_dict()
    data["pain"]["sham"]["provenance"]["sd"]["class"] = "hearsay"
    with pytest.raises(DataValidationError, match=r"pain.sham.provenance.sd.class.*'hearsay'"):
        scenario_from_dict(data)
    data = default_dict()
    data["pain"]["sham"]["provenance"]["sd"]["class"] = ["published", "derived"]
    with pytest.raises(DataValidationError, match=r"must have 1 or 4 classes"):
        scenario_from_dict(data)
    data = default_dict()
    del data["pain"]["sham"]["provenance"]
    s = scenario_from_dict(data)  # provenance is optional in a user's file
    assert next(p for p in s.provenance if p.key == "pain.sham.mean").classes == ()
    assert "not stated" in provenance_markdown(s)


def test_named_scenarios() -> None:
    base = default_scenario()
    assert set(NAMED_SCENARIOS) == {"null", "no_modification", "frebaq_modification"}
    null = named_scenario("null")
    assert null.name == "resolve/null" and null.effect_modification == ()
    for o in (null.pain, null.rmdq):
        assert set(o.effect) == {0.0} and o.treated_sd == o.control_sd
    none = named_scenario("no_modification")
    assert none.effect_modification == () and none.rmdq == base.rmdq
    frebaq = named_scenario("frebaq_modification")
    assert frebaq.effect_modification == (FREBAQ_MODIFICATION,)
    assert frebaq.pain == base.pain and frebaq.design == base.design
    with pytest.raises(DataValidationError, match="unknown named scenario 'nul'"):
        named_scenario("nul")
    short = dataclasses.replace(base, design=dataclasses.replace(base.design, weeks=(0, 18)))
    with pytest.raises(DataValidationError, match="needs a week-52 visit"):
        named_scenario("frebaq_modification", short)
    # a named scenario of any base keeps everything it does not name
    small = resize(base, 40)
    assert named_scenario("null", small).design.n_per_arm == (40, 40)


def test_resize() -> None:
    s = resize(default_scenario(), 276)
    assert s.design.n_per_arm == (276, 276)
    assert s.followup.rmdq[0] == (268, 260, 254, 248)
    full = resize(default_scenario(), 30, dropout=False)
    assert full.followup.pain == ((30,) * 4, (30,) * 4)
    with pytest.raises(DataValidationError, match="n_per_arm"):
        resize(default_scenario(), 1)


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
    ("pain.sham.sd", [2.3, -2.0, 2.4, 2.5], "pain.sham.sd[1]", "-2.0"),
    ("pain.sham.mean", [4.3, 4.0], "pain.sham.mean", "got 2"),
    ("pain.resolve.effect", [-0.9, -2.0, -0.6, -0.3], "pain.resolve.effect[1]", "-2.0"),
    ("pain.baseline_sd", 9.0, "pain.baseline_mean / pain.baseline_sd", "9"),
    ("rmdq.sham.sd", [5.6, 0.5, 5.8, 5.8], "rmdq.sham.sd[1]", "0.5"),
    ("rmdq.resolve.sd", [4.8, 1.5, 5.0, 5.4], "rmdq.resolve.sd[1]", "1.5"),
    ("modifiers.frebaq.loading", 1.5, "modifiers.frebaq.loading", "1.5"),
    ("modifiers.pcs.colour", "red", "modifiers.pcs.colour", "'red'"),
    ("correlation.rmdq_baseline_followup", 0.94, "correlation.rmdq_baseline_followup", "0.94"),
    ("followup.sham.pain", [134, 129, 127, 124], "followup.sham.pain[1]", "129"),
    ("followup.resolve.rmdq", [139, 127, 126, 122], "followup.resolve.rmdq[0]", "139"),
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
    with pytest.raises(DataValidationError, match="repeats frebaq x pain at week 52"):
        scenario_from_dict(data)
    # several modifiers of one outcome and visit add up
    data = default_dict()
    second = dict(data["effect_modification"][0], modifier="tsk", per_point=-0.05)
    data["effect_modification"].append(second)
    assert len(scenario_from_dict(data).effect_modification) == 2


def test_invalid_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[design\narms = 1\n")
    with pytest.raises(DataValidationError, match=r"broken\.toml: not valid TOML"):
        load_scenario(path)


def test_custom_scenario_changes_the_trial(tmp_path: Path) -> None:
    text = Path(DEFAULT_PATH).read_text().replace("n_per_arm = [138, 138]", "n_per_arm = [40, 40]")
    for old in (
        "[134, 133, 127, 124]",
        "[134, 130, 127, 124]",
        "[131, 128, 126, 122]",
        "[131, 127, 126, 122]",
    ):
        text = text.replace(old, "[40, 38, 36, 35]")
    path = tmp_path / "small.toml"
    path.write_text(text)
    trial = simulate_trial(load_scenario(path), seed=1)
    assert trial["id"].nunique() == 80
    assert isinstance(DataValidationError("x"), ResolveError)


# Every rule of the reader, with the whole message after "bad.toml: ".
RULES = [
    (
        "correlation.pain_persistense",
        0.35,
        "unknown key 'correlation.pain_persistense' (value 0.35; "
        "did you mean 'correlation.pain_persistence'?)",
    ),
    ("scenario.nme", "x", "unknown key 'scenario.nme' (value 'x'; did you mean 'scenario.name'?)"),
    ("pain.shm", {}, "unknown key 'pain.shm' (value {}; did you mean 'pain.sham'?)"),
    (
        "rmdq.eligibility_min",
        3,
        "unknown key 'rmdq.eligibility_min' (value 3; "
        "allowed: provenance, baseline_mean, baseline_sd, headroom, sham, resolve)",
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
        "pain.baseline_mean",
        2.5,
        "key 'pain.baseline_mean' must be a number in (3, 10); got 2.5",
    ),
    ("pain.headroom", 5.0, "key 'pain.headroom' must be a number in (0, 5); got 5.0"),
    (
        "pain.sham.mean",
        [4.3, 4.05, 4.0, 9.0],
        "key 'pain.sham.mean[3]' must lie strictly inside (1.5, 8.5) (the scale 0-10 less "
        "headroom 1.5); got 9.0",
    ),
    (
        "pain.sham.mean",
        [4.3, float("inf"), 4.0, 4.1],
        "key 'pain.sham.mean[1]' must be a finite number; got inf",
    ),
    (
        "rmdq.resolve.effect",
        [-2.6, -3.2, -2.1, -1.8],
        "key 'rmdq.resolve.effect[1]' must lie within +-headroom (3): a larger additive effect "
        "would push some participants' expected outcome off the scale; got -3.2",
    ),
    (
        "rmdq.resolve.sd",
        [4.8, 4.6, 5.0],
        "key 'rmdq.resolve.sd' must have 4 values (one per follow-up visit); got 3",
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
        "correlation.rmdq_reliability",
        1.0,
        "key 'correlation.rmdq_reliability' must be a number in [0.01, 0.99]; got 1.0",
    ),
    (
        "correlation.pain_rmdq_person",
        1.5,
        "key 'correlation.pain_rmdq_person' must be a number in [-1, 1]; got 1.5",
    ),
    (
        "correlation.baseline_followup_week",
        20,
        "key 'correlation.baseline_followup_week' must be a follow-up week "
        "[12, 18, 26, 52]; got 20",
    ),
    (
        "followup.sham.pain",
        [134, 139, 127, 124],
        "key 'followup.sham.pain[1]' must be an integer in [0, 138]; got 139",
    ),
    (
        "followup.sham.rmdq",
        [134, -1, 127, 124],
        "key 'followup.sham.rmdq[1]' must be an integer in [0, 138]; got -1",
    ),
    ("followup.sham", {"pain": [138] * 4}, "missing key 'followup.sham.rmdq'"),
    (
        "missingness.rmdq_baseline",
        6,
        "key 'missingness.rmdq_baseline' must be a number in [-5, 5]; got 6",
    ),
    ("effect_modification", "x", "key 'effect_modification' must be one or more tables; got 'x'"),
    (
        "design.provenance",
        {"weeks": {"class": ["published", "placeholder"], "source": "x"}},
        "key 'design.provenance.weeks.class' must have 1 or 5 classes (one per value of "
        "'weeks'); got 2",
    ),
    (
        "demographics.provenance",
        {"age": {"class": "published", "source": "x"}},
        "key 'demographics.provenance.age' names no value of this table; got 'age' "
        "(values: age_mean, age_sd, age_min, age_max, women)",
    ),
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
    assert s.pain == default_scenario().pain
    data["design"]["arms"] = ["control", "treated"]
    with pytest.raises(DataValidationError) as info:
        scenario_from_dict(data, source="bad.toml")
    assert str(info.value).startswith("bad.toml: unknown key 'pain.active' (value {")
    assert str(info.value).endswith(
        "allowed: provenance, baseline_mean, baseline_sd, headroom, control, treated, "
        "eligibility_min)"
    )


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
