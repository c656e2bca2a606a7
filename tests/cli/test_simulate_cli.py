"""``resolve simulate``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from resolve.cli._app import run
from resolve.simulate.scenario import DEFAULT_PATH


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["simulate", "--help"], capsys)
    assert code == 0 and "--scenario" in out and "--seed" in out


def test_writes_reproducible_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    code, out, err = invoke(["simulate", "--out", str(a), "--seed", "3"], capsys)
    assert code == 0, err
    assert "276 participants" in out
    invoke(["simulate", "--out", str(b), "--seed", "3", "--scenario", DEFAULT_PATH], capsys)
    assert a.read_bytes() == b.read_bytes()
    data = pd.read_csv(a)
    assert len(data) == 276 * 5 and data["pain"].isna().any()
    assert list(tmp_path.iterdir()) == [a, b] or sorted(tmp_path.iterdir()) == [a, b]


def test_bad_scenario_one_line_exit_2_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(DEFAULT_PATH).read_text().replace("women = 0.5", "women = 2.5"))
    out = tmp_path / "trial.csv"
    code, _, err = invoke(["simulate", "--out", str(out), "--scenario", str(bad)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "demographics.women" in err and "2.5" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_missing_scenario_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(
        ["simulate", "--out", str(tmp_path / "t.csv"), "--scenario", str(tmp_path / "no.toml")],
        capsys,
    )
    assert code == 2 and "no.toml" in err
