"""``resolve mediate``: output, JSON contract, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resolve.cli._app import run


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def trial_csv(tmp_path: Path, *, n: int = 80, name: str = "trial.csv") -> Path:
    """A wide trial CSV; participant 3 has an empty tsk cell."""
    rng = np.random.default_rng(8)
    arm = np.repeat(["sham", "gsr"], n // 2)
    t = (arm == "gsr").astype(float)
    df = pd.DataFrame({"id": [f"P{i:03d}" for i in range(n)], "arm": arm})
    df["age"] = rng.normal(50, 10, n).round(1)
    df["pseq"] = (30 + 5 * t + rng.normal(0, 8, n)).round(1)
    df["tsk"] = (40 - 3 * t + rng.normal(0, 6, n)).round(1)
    df["pain"] = (6 - 0.5 * t - 0.05 * df.pseq + 0.04 * df.tsk + rng.normal(0, 1.5, n)).round(1)
    df["rmdq"] = (10 - t - 0.1 * df.pseq + rng.normal(0, 3, n)).round(1)
    df = df.astype({"tsk": object})
    df.loc[2, "tsk"] = ""
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


ARGS = ["--treatment", "arm", "--reference", "sham", "--outcome", "pain"]


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["mediate", "--help"], capsys)
    assert code == 0
    for option in (
        "--treatment",
        "--outcome",
        "--mediator",
        "--covariate",
        "--interaction",
        "--boot",
        "--seed",
        "--ci",
        "--reference",
        "--json",
    ):
        assert option in out


def test_json_list_of_effects_with_a_missing_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trial_csv(tmp_path)
    code, out, err = invoke(
        [
            "mediate",
            str(path),
            *ARGS,
            "--outcome",
            "rmdq",
            "--mediator",
            "pseq",
            "--mediator",
            "tsk",
            "--covariate",
            "age",
            "--boot",
            "200",
            "--seed",
            "7",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    records = json.loads(out)
    assert isinstance(records, list)
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
    } <= set(records[0])
    combos = {(r["outcome"], r["mediator"], r["effect"], r["ci_method"]) for r in records}
    assert ("rmdq", "joint", "nie", "percentile") in combos
    assert ("pain", "tsk", "pm", "delta") in combos
    n = {r["mediator"]: r["n"] for r in records}
    assert n == {"pseq": 80, "tsk": 79, "joint": 79}  # the empty cell: one row dropped
    assert "1 of 80 rows dropped (missing: tsk 1)" in err  # the note goes to stderr
    # the same seed reproduces the output
    again = invoke(
        [
            "mediate",
            str(path),
            *ARGS,
            "--outcome",
            "rmdq",
            "--mediator",
            "pseq",
            "--mediator",
            "tsk",
            "--covariate",
            "age",
            "--boot",
            "200",
            "--seed",
            "7",
            "--json",
        ],
        capsys,
    )
    assert again[1] == out


def test_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = trial_csv(tmp_path)
    code, out, err = invoke(
        ["mediate", str(path), *ARGS, "--mediator", "pseq", "--boot", "200", "--ci", "bca"],
        capsys,
    )
    assert code == 0, err
    assert "treatment 'arm' vs reference 'sham'" in out and "200 bca bootstrap" in out
    assert "pseq" in out and "nie" in out and "delta" in out and "bca" in out
    assert "sensitivity: pain via pseq: NIE = 0 at rho =" in out
    assert err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mediator", "nope"], "trial.csv lacks column(s) 'nope'"),
        (
            ["--mediator", "pseq", "--covariate", "age", "--covariate", "shoe"],
            "trial.csv lacks column(s) 'shoe'",
        ),
        (
            ["--mediator", "pseq", "--reference", "usual"],
            "--reference 'usual' is not a value of treatment column 'arm'",
        ),
        (["--mediator", "pseq", "--mediator", "pseq"], "--mediator 'pseq' is given twice"),
        (["--mediator", "pseq", "--ci", "bca", "--boot", "150"], "at least 200 for bca"),
        (["--mediator", "flat"], "trial.csv: mediator column 'flat' is constant"),
        (["--mediator", "pseq", "--ci", "basic"], "Invalid value for '--ci'"),
        (
            ["--treatment", "age", "--mediator", "pseq"],
            "treatment column 'age' must have exactly 2 distinct values",
        ),
    ],
)
def test_bad_input_exit_2_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trial_csv(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).assign(flat="4")
    frame.to_csv(path, index=False)
    before = sorted(tmp_path.iterdir())
    code, out, err = invoke(["mediate", str(path), *ARGS, "--boot", "0", *args], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("resolve: error: "), err
    assert message in err, err
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_text_cell_is_refused_naming_file_row_column_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trial_csv(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[6, "pseq"] = "NaN"  # data row 7, line 8 of the file
    frame.to_csv(path, index=False)
    code, out, err = invoke(["mediate", str(path), *ARGS, "--mediator", "pseq"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "trial.csv: row 7, column 'pseq' must be numeric; found 'NaN'" in err


def test_missing_file_and_missing_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = invoke(
        ["mediate", str(tmp_path / "none.csv"), *ARGS, "--mediator", "pseq"], capsys
    )
    assert code == 2 and err.count("\n") == 1 and "no such file" in err
    code, _, err = invoke(["mediate", str(trial_csv(tmp_path)), *ARGS], capsys)
    assert code == 2 and err.count("\n") == 1 and "--mediator" in err


def test_zero_one_treatment_needs_no_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trial_csv(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["arm"] = (frame.arm == "gsr").astype(int)
    frame.to_csv(path, index=False)
    code, out, err = invoke(
        [
            "mediate",
            str(path),
            "--treatment",
            "arm",
            "--outcome",
            "pain",
            "--mediator",
            "pseq",
            "--boot",
            "0",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert {r["ci_method"] for r in json.loads(out)} == {"delta"}
