"""``resolve plan show`` and ``resolve plan check``: one summary, or one error line and exit 2."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.plan import load_plan, parse_plan
from resolve.cli._app import run

BUNDLED_PLAN = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()
DATA = datasets.path("resolve")


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("resolve: error: "), err
    assert "Traceback" not in err
    return err.removeprefix("resolve: error: ").rstrip("\n")


def test_plan_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["plan", "--help"], capsys)
    assert code == 0 and "show" in out and "check" in out
    code, out, _ = invoke(["--help"], capsys)
    assert code == 0 and "plan" in out


def test_show_prints_the_bundled_plan_with_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke(["plan", "show"], capsys)
    assert code == 0 and err == ""
    assert out == BUNDLED_PLAN  # verbatim, comments included
    assert "# Analysis plan of the RESOLVE trial" in out
    assert tomllib.loads(out) == tomllib.loads(BUNDLED_PLAN)
    shown = parse_plan(out, "shown.toml")
    bundled = load_plan()
    assert (shown.trial, shown.outcomes, shown.modifiers) == (
        bundled.trial,
        bundled.outcomes,
        bundled.modifiers,
    )
    assert (shown.analysis, shown.effect_modification, shown.responders) == (
        bundled.analysis,
        bundled.effect_modification,
        bundled.responders,
    )


def write_plan(tmp_path: Path, text: str = BUNDLED_PLAN) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_bundled_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(["plan", "check", str(write_plan(tmp_path))], capsys)
    assert code == 0 and err == ""
    text = " ".join(out.split())
    assert text.startswith("Plan plan.toml is valid. Trial RESOLVE: 2 arms (sham = reference,")
    assert "week 18 = primary" in text
    assert "2 outcomes (pain [0, 10] primary, rmdq [0, 24])" in text
    assert "8 candidate modifiers" in text
    assert "3 responder definitions (pain_30, pain_50, rmdq_5_or_30)" in text
    assert "Data" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]


def test_check_bundled_plan_and_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(["plan", "check", str(write_plan(tmp_path)), DATA], capsys)
    assert code == 0 and err == ""
    frame = pd.read_csv(DATA, dtype={"id": str})
    per_arm = frame.groupby("arm")["id"].nunique()
    text = " ".join(out.split())
    assert (
        f"Data resolve.csv fit the plan: {len(frame)} rows, {frame['id'].nunique()} participants "
        f"(sham {per_arm['sham']}, resolve {per_arm['resolve']})."
    ) in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]  # nothing written


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "exploratory_p = 0.2",
            "exploratry_p = 0.2",
            "plan.toml: [effect_modification] unknown key 'exploratry_p' "
            "(did you mean 'exploratory_p'?)",
        ),
        (
            "range = [0, 24]",
            "range = [24, 0]",
            "plan.toml: [[outcomes]] #2 'range': must be [low, high] with low < high; got [24, 0]",
        ),
        ("", "\n[trial\n", "plan.toml: not valid TOML"),
    ],
)
def test_check_bad_plan_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    text = BUNDLED_PLAN.replace(old, new, 1) if old else BUNDLED_PLAN + new
    code, out, err = invoke(["plan", "check", str(write_plan(tmp_path, text)), DATA], capsys)
    assert code == 2 and out == ""
    assert one_error_line(err).startswith(message)


def test_check_data_lacking_a_column_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "trial.csv"
    datasets.load("resolve").drop(columns="frebaq").to_csv(data, index=False)
    code, out, err = invoke(["plan", "check", str(write_plan(tmp_path)), str(data)], capsys)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "trial.csv" in line and "'frebaq'" in line and "lacks column" in line


def test_check_data_that_do_not_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "trial.csv"
    frame = datasets.load("resolve")
    frame.assign(arm=frame["arm"].replace({"sham": "placebo"})).to_csv(data, index=False)
    code, out, err = invoke(["plan", "check", str(write_plan(tmp_path)), str(data)], capsys)
    assert code == 2 and out == ""
    assert "'placebo'" in one_error_line(err)


@pytest.mark.parametrize("which", ["plan", "data"])
def test_check_missing_files(
    which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = str(tmp_path / "nope.toml") if which == "plan" else str(write_plan(tmp_path))
    data = str(tmp_path / "nope.csv") if which == "data" else DATA
    code, out, err = invoke(["plan", "check", plan, data], capsys)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert f"nope.{'toml' if which == 'plan' else 'csv'}" in line and "no such file" in line


def test_check_needs_a_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(["plan", "check"], capsys)
    assert code == 2 and out == ""
    assert "Missing argument 'plan'" in one_error_line(err)
