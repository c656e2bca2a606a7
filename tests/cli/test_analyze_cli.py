"""``resolve analyze``: output files, and one-line errors that write nothing."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from resolve import datasets
from resolve.cli._app import run

BUNDLED_PLAN = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()
DATA = datasets.path("resolve")


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["analyze", "--help"], capsys)
    assert code == 0 and "--plan" in out and "--out" in out


def test_analyze_bundled_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    code, stdout, err = invoke(["analyze", DATA, "--out", str(out)], capsys)
    assert code == 0, err
    assert "week 18" in stdout and "resolve - sham" in stdout
    primary = pd.read_csv(out / "primary.csv")
    pain18 = primary[(primary.outcome == "pain") & (primary.visit == "week 18")].iloc[0]
    assert f"{pain18.estimate:.2f}".replace("-", "\u2212") in stdout  # printed as computed
    assert "fitting the primary model" in err
    names = {p.name for p in out.iterdir()}
    for t in ("primary", "sensitivity", "table2", "trajectories", "consort", "modifiers"):
        assert {f"{t}.csv", f"{t}.json"} <= names
    assert "report.html" in names
    primary = pd.read_csv(out / "primary.csv")
    assert primary.loc[1, ["outcome", "visit"]].tolist() == ["pain", "week 18"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_print_only_and_explicit_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(BUNDLED_PLAN.replace("[[modifiers]]", "[[unused]]"))
    code, stdout, err = invoke(["analyze", DATA, "--plan", str(plan), "--quiet"], capsys)
    assert code == 0, err
    assert "rmdq" in stdout and err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]


def test_empty_cells_are_missing_outcomes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = Path(DATA).read_text().splitlines()
    assert ",," in "\n".join(text)  # the bundled file already has empty outcome cells
    data = tmp_path / "trial.csv"
    data.write_text("\n".join(text) + "\n")
    out = tmp_path / "out"
    code, _, err = invoke(["analyze", str(data), "--out", str(out), "--no-report"], capsys)
    assert code == 0, err
    flow = pd.read_csv(out / "consort.csv")
    row = flow[(flow.stage == "follow-up week 18") & (flow.arm == "resolve")].iloc[0]
    raw = pd.read_csv(data)
    w18 = raw[(raw.visit == "week 18") & (raw.arm == "resolve")]
    assert row["n"] == w18.pain.notna().sum() and row["n_missing"] == w18.pain.isna().sum()
    assert row["n_missing"] > 0  # empty cells were read as missing, not as zeros


def _edit(transform: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "trial.csv"
        transform(datasets.load("resolve")).to_csv(path, index=False)
        return path

    return make


def _text(content: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "trial.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return make


def _dup(d: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([d, d.iloc[[10]]], ignore_index=True)


BAD_DATA = {
    "missing column": (_edit(lambda d: d.drop(columns="rmdq")), "lacks column(s) 'rmdq'"),
    "unknown arm": (
        _edit(lambda d: d.assign(arm=d["arm"].replace({"resolve": "RESOLVE"}))),
        "arm(s) 'RESOLVE' not in the plan",
    ),
    "unknown visit": (
        _edit(lambda d: d.assign(visit=d["visit"].replace({"week 52": "week 53"}))),
        "visit(s) 'week 53' not in the plan",
    ),
    "duplicate rows": (_edit(_dup), "rows share a participant and visit"),
    "no-variance modifier": (_edit(lambda d: d.assign(pcs=12)), "modifier 'pcs' has no variance"),
    "unreadable csv (binary)": (_text(bytes(range(256)) * 4), "not a readable CSV file"),
    "unreadable csv (empty)": (_text(""), "not a readable CSV file"),
    "unreadable csv (quote)": (_text('id,arm\n1,"sham\n'), "not a readable CSV file"),
    "not a trial": (_text("a,b\n1,2\n"), "lacks column(s)"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_one_line_exit_2_nothing_written(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, message = BAD_DATA[case]
    data = make(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = invoke(["analyze", str(data), "--out", str(out)], capsys)
    assert code == 2, (stdout, err)
    error_lines = [ln for ln in err.splitlines() if ln.startswith("resolve: error:")]
    assert len(error_lines) == 1 and message in error_lines[0], err
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial.csv"]


BAD_PLANS = {
    "bad toml": (BUNDLED_PLAN + "\n[trial\n", "not valid TOML"),
    "column the data lack": (
        BUNDLED_PLAN.replace("covariates = []", 'covariates = ["bmi"]'),
        "lacks column(s) 'bmi'",
    ),
    "modifier column the data lack": (
        BUNDLED_PLAN.replace('column = "tsk"', 'column = "tsk17"'),
        "lacks column(s) 'tsk17'",
    ),
    "bad value": (BUNDLED_PLAN.replace("conf_level = 0.95", "conf_level = 95"), "conf_level"),
}


@pytest.mark.parametrize("case", list(BAD_PLANS))
def test_bad_plan_one_line_exit_2_nothing_written(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message = BAD_PLANS[case]
    plan = tmp_path / "plan.toml"
    plan.write_text(text)
    out = tmp_path / "out"
    code, _, err = invoke(["analyze", DATA, "--plan", str(plan), "--out", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("resolve: error:") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]


@pytest.mark.parametrize("which", ["data", "plan"])
def test_missing_files(which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["analyze", str(tmp_path / "nope.csv") if which == "data" else DATA]
    if which == "plan":
        args += ["--plan", str(tmp_path / "nope.toml")]
    code, _, err = invoke([*args, "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and err.count("\n") == 1 and "no such file" in err
    assert list(tmp_path.iterdir()) == []
