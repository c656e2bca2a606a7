"""``resolve design``: bad input, JSON output, and a killed run resumed from --out."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resolve.cli._app import run

RESOLVE = Path(sys.executable).parent / "resolve"


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def resolve_command() -> list[str]:
    """The ``resolve`` console script of this interpreter's environment."""
    if RESOLVE.exists():
        return [str(RESOLVE)]
    return [sys.executable, "-c", "from resolve.cli import main; main()"]


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["design", "--help"], capsys)
    assert code == 0
    for command in ("power", "sample-size", "oc"):
        assert re.search(rf"\b{command}\b", out), command


# ----------------------------------------------------------------------------- bad input
POWER = ["design", "power", "--n", "40", "--reps", "2", "--analyses", "primary", "--quiet"]
SAMPLE = ["design", "sample-size", "--reps", "2", "--quiet"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ([*POWER[:3], "10,abc", *POWER[4:]], "'abc'"),
        ([*POWER, "--design", "enrichment"], "'enrichment'"),
        ([*POWER, "--design", "enrichment:foo<=3"], "'foo'"),
        ([*POWER, "--design", "parallel,crossover"], "'crossover'"),
        ([*POWER, "--ratio", "-1"], "ratio must be > 0, got -1.0"),
        ([*POWER, "--effect-scale", "nan"], "'nan'"),
        ([*POWER[:3], "7", *POWER[4:]], "got 7"),
        ([*POWER, "--analyses", "everything"], "'everything'"),
        ([*POWER, "--workers", "2", "--dask-local", "2"], "--dask-local"),
        ([*POWER, "--scenario", "MISSING"], "missing.toml"),
        (
            [*SAMPLE, "--target", "modifier:frebaq:pain:week 52", "--analyses", "primary"],
            "'modifier:frebaq:pain:week 52' needs --analyses full",
        ),
        ([*SAMPLE, "--target", "treatment:pain:week 18", "--adjustment", "sidak"], "'sidak'"),
        (["design", "oc", "--reps", "2", "--n", "40", "--dropout", "-1"], "got -1.0"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    args: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = [str(tmp_path / "missing.toml") if a == "MISSING" else a for a in args]
    code, stdout, err = invoke([*args, "--out", str(out)], capsys)
    assert code == 2, err
    assert err.startswith("resolve: error: ")
    assert err.count("\n") == 1 and err.endswith("\n")
    assert "Traceback" not in err
    assert named in err
    assert stdout == ""
    assert not out.exists()


def test_workers_and_scheduler_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*POWER, "--workers", "1", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path)]
    code, _, err = invoke(args, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "--scheduler" in err and "--workers" in err
    assert list(tmp_path.iterdir()) == []


# an unknown --target is only known to be unknown once the plan's targets are listed
TINY = ["design", "power", "--n", "16", "--reps", "1", "--analyses", "primary", "--workers", "1"]


def test_unknown_target_names_the_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, err = invoke([*TINY, "--quiet", "--target", "treatment:pain:week 99"], capsys)
    assert code == 2 and err.count("\n") == 1 and stdout == ""
    assert "'treatment:pain:week 99'" in err and "treatment:pain:week 18" in err


def test_unknown_target_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = [*TINY, "--quiet", "--target", "treatment:pain:week 99", "--out", str(out)]
    code, _, _ = invoke(args, capsys)
    assert code == 2
    assert not out.exists()


def test_ratio_zero_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = invoke([*TINY, "--quiet", "--ratio", "0", "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "ratio must be > 0, got 0" in err
    assert not out.exists()


# ----------------------------------------------------------------------------- output
def test_oc_json_for_one_target(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["design", "oc", "--n", "40", "--reps", "3", "--seed", "4", "--analyses", "primary"]
    args += ["--workers", "1", "--quiet", "--json", "--target", "treatment:pain:week 18"]
    code, stdout, err = invoke(args, capsys)
    assert code == 0, err
    records = json.loads(stdout)
    assert [r["metric"] for r in records] == [
        "bias", "empirical_se", "mean_se", "rmse", "coverage", "rejection",
    ]  # fmt: skip
    assert {r["target"] for r in records} == {"treatment:pain:week 18"}
    assert {r["truth"] for r in records} == {-1.0}
    assert {(r["n"], r["reps"], r["design"]) for r in records} == {(40, 3, "parallel")}


def test_sample_size_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["design", "sample-size", "--target", "treatment:pain:week 18", "--power", "0.5"]
    args += ["--n", "16", "--step", "16", "--max-n", "64", "--reps", "2", "--seed", "2"]
    args += ["--effect-scale", "2", "--workers", "1", "--quiet", "--json"]
    code, stdout, err = invoke(args, capsys)
    assert code == 0, err
    [result] = json.loads(stdout)
    assert result["design"] == "parallel" and result["target"] == "treatment:pain:week 18"
    assert result["n"] in (16, 32, 48, 64)
    assert result["power"] >= 0.5 and result["reps"] == 2 and result["power_target"] == 0.5
    at = [e for e in result["evaluated"] if e["n"] == result["n"]]
    assert [e["power"] for e in at] == [result["power"]]
    assert all(e["power"] < 0.5 for e in result["evaluated"] if e["n"] < result["n"])
    assert result["n_screened"] == result["n"] and result["eligible"] == 1.0


# ----------------------------------------------------------------------------- kill and resume
KILL_ARGS = ["design", "power", "--n", "60", "--reps", "16", "--seed", "11"]
KILL_ARGS += ["--analyses", "primary", "--workers", "1", "--json", "--quiet"]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with ``start_new_session=True`` and all it spawned."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def test_killed_run_resumes_to_the_same_json(tmp_path: Path) -> None:
    cmd = [*resolve_command(), *KILL_ARGS]
    killed_dir, fresh_dir = tmp_path / "killed", tmp_path / "fresh"
    with (tmp_path / "killed.log").open("wb") as log:
        proc = subprocess.Popen(
            [*cmd, "--out", str(killed_dir)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    # the uninterrupted reference runs meanwhile, in a directory of its own
    fresh = subprocess.Popen(
        [*cmd, "--out", str(fresh_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not list(killed_dir.glob("replicates/*/chunk-*.parquet")):
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.monotonic() < deadline, "no chunk written within 180 s"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker process
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        [point] = list((killed_dir / "replicates").iterdir())
        n_chunks = json.loads((point / "manifest.json").read_text())["n_chunks"]
        kept = {
            p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in point.glob("chunk-*.parquet")
        }
        assert 1 <= len(kept) < n_chunks, "the run was not killed mid-way"
        assert not (killed_dir / "power.json").exists()

        resumed = subprocess.run(
            [*cmd, "--out", str(killed_dir)], capture_output=True, timeout=300, check=False
        )
        assert resumed.returncode == 0, resumed.stderr.decode()
        stdout, stderr = fresh.communicate(timeout=300)
        assert fresh.returncode == 0, stderr.decode()
    finally:
        _kill_group(proc)
        _kill_group(fresh)
    assert resumed.stdout == stdout
    assert len(json.loads(stdout)) == 8  # 2 outcomes x 4 visits
    for name, (inode, mtime) in kept.items():
        stat = (point / name).stat()
        assert (stat.st_ino, stat.st_mtime_ns) == (inode, mtime), f"{name} was recomputed"
    assert len(list(point.glob("chunk-*.parquet"))) == n_chunks
    assert not list(point.glob(".chunk-*"))
    assert json.loads((killed_dir / "power.json").read_text()) == json.loads(
        (fresh_dir / "power.json").read_text()
    )
