"""``resolve analyze``: output files, and one-line errors that write nothing."""

from __future__ import annotations

import os
import time
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
    plan.write_text(BUNDLED_PLAN.split("[[modifiers]]")[0])  # no modifiers: faster
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


# ----------------------------------------------------------------------------- anyone's trial
R_DIR = Path(__file__).resolve().parents[1] / "reference" / "r"
PAIN = "Pain NRS (0-10)"  # the three-arm trial's pain column (tests/analysis/three_arm.py)


def _three_arm_files(
    folder: Path, edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> tuple[Path, Path]:
    """The renamed three-arm trial as a CSV and its plan (``Sex`` a factor covariate)."""
    from tests.analysis.three_arm import plan_toml, three_arm_data

    data = three_arm_data()
    if edit is not None:
        data = edit(data)
    csv, plan = folder / "three.csv", folder / "three.toml"
    data.to_csv(csv, index=False)
    plan.write_text(plan_toml(covariates=("Sex",)), encoding="utf-8")
    return csv, plan


def test_three_arm_trial_with_own_names_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Done when: own column names, 3 arms, visits 'Week 0..26', a text covariate; every
    contrast labelled in primary.csv (equal to R: resolve_three_arm_emmeans.csv, Sex as a
    factor) and on the console."""
    csv, plan = _three_arm_files(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = invoke(
        ["analyze", str(csv), "--plan", str(plan), "--out", str(out)], capsys
    )
    assert code == 0, err
    primary = pd.read_csv(out / "primary.csv")
    labels = ["GSR - usual care", "GSR+education - usual care", "GSR+education - GSR"]
    assert list(dict.fromkeys(primary["contrast"])) == labels
    ref = pd.read_csv(R_DIR / "resolve_three_arm_emmeans.csv")
    ref = ref[(ref["covariate"] == "Sex") & (ref["visit"] != "Week 0")]
    merged = primary.merge(ref, on=["outcome", "visit", "contrast"], suffixes=("", "_r"))
    assert len(merged) == len(primary) == 2 * 3 * 3
    for col in ("estimate", "std_error", "df", "p_value", "conf_low", "conf_high"):
        assert ((merged[col] - merged[f"{col}_r"]).abs() <= 1e-4 * merged[f"{col}_r"].abs()).all()
    for label in labels:
        assert stdout.count(label) == 2 * 3, label  # one console row per outcome and visit
    table2 = pd.read_csv(out / "table2.csv")
    assert set(table2["contrast"]) == set(labels) and "GSR+education_mean" in table2.columns
    modifiers = pd.read_csv(out / "modifiers.csv")
    assert set(modifiers["contrast"]) == set(labels[:2])
    assert "report.html" in {p.name for p in out.iterdir()}


@pytest.mark.parametrize("value", [15, -3])
def test_out_of_range_value_is_refused_naming_the_row(
    value: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(d: pd.DataFrame) -> pd.DataFrame:
        d = d.copy()
        d.loc[6, PAIN] = value  # data row 7, line 8 of the file
        return d

    csv, plan = _three_arm_files(tmp_path, edit)
    out = tmp_path / "out"
    code, stdout, err = invoke(
        ["analyze", str(csv), "--plan", str(plan), "--out", str(out)], capsys
    )
    assert code == 2, (stdout, err)
    expected = (
        f"resolve: error: three.csv: row 7, column '{PAIN}': value {value} is outside the "
        "plan's range [0, 10]"
    )
    assert err.startswith(expected) and err.count("\n") == 1, err
    assert not out.exists() and "Traceback" not in err


@pytest.mark.parametrize("text", ["NaN", "NA"])
def test_text_nan_in_an_outcome_is_refused(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = Path(DATA).read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    cells[header.index("pain")] = text
    lines[5] = ",".join(cells)
    data = tmp_path / "trial.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = invoke(["analyze", str(data), "--quiet"], capsys)
    assert code == 2
    assert f"trial.csv: row 5, column 'pain' must be numeric; found '{text}'" in err, err


# ----------------------------------------------------------------------------- strict --out
@pytest.mark.parametrize("command", ["analyze", "demo"])
def test_out_is_a_file_exit_2_before_any_work(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "results"
    target.write_text("keep me")
    args = ["analyze", DATA] if command == "analyze" else ["demo"]
    start = time.perf_counter()
    code, stdout, err = invoke([*args, "--out", str(target)], capsys)
    elapsed = time.perf_counter() - start
    assert code == 2 and stdout == ""
    assert err == f"resolve: error: {target}: exists and is not a directory\n"
    assert elapsed < 5  # refused up front: no model was fitted (an analysis takes longer)
    assert "fitting" not in err and target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no temporary left


def test_out_inside_a_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("x")
    code, _, err = invoke(["analyze", DATA, "--out", str(tmp_path / "notes.txt" / "out")], capsys)
    assert code == 2
    assert err == (
        f"resolve: error: {tmp_path / 'notes.txt' / 'out'}: cannot create it "
        f"({tmp_path / 'notes.txt'} is not a directory)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_out_not_writable_names_the_given_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # as if ``locked`` were read-only (chmod does not stop root, so the check is simulated)
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode)
    )
    code, stdout, err = invoke(["analyze", DATA, "--out", str(locked / "new" / "out")], capsys)
    assert code == 2 and stdout == ""
    assert err == (
        f"resolve: error: {locked / 'new' / 'out'}: cannot write there ({locked} is not writable)\n"
    )
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
def test_out_in_a_read_only_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = invoke(["analyze", DATA, "--out", str(locked / "out")], capsys)
    finally:
        locked.chmod(0o700)
    assert code == 2 and f"{locked / 'out'}: cannot write there" in err
    assert ".tmp" not in err and list(locked.iterdir()) == []


def test_existing_out_directory_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "other.txt").write_text("kept")
    plan = tmp_path / "plan.toml"
    plan.write_text(BUNDLED_PLAN.split("[[modifiers]]")[0])
    code, _, err = invoke(
        ["analyze", DATA, "--plan", str(plan), "--out", str(out), "--no-report", "--quiet"],
        capsys,
    )
    assert code == 0, err
    assert (out / "primary.csv").is_file() and (out / "other.txt").read_text() == "kept"
