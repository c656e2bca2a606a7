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
