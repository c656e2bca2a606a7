"""examples/run_full_trial.py on a small trial: CLI data entry, export, CONSORT, audit, analysis."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from resolve.cli._app import run

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "run_full_trial.py"
N = 24


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_full_trial", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("full_trial")
    script = _load_script()
    code = script.main(["--n", str(N), "--out", str(out), "--seed", "7"])
    return code, out


def test_every_command_exits_zero(finished: tuple[int, Path]) -> None:
    code, out = finished
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_codes"] == {"0": summary["cli_calls"]}
    assert summary["n_randomised"] == N
    assert sum(summary["allocated"].values()) == N
    # every phase went through the CLI
    for phase in ("init", "screen", "consent", "randomise", "record baseline", "export"):
        assert summary["phases"][phase]["calls"] >= 1


def test_export_holds_every_randomised_participant(finished: tuple[int, Path]) -> None:
    _, out = finished
    table = pd.read_csv(out / "export" / "analysis.csv")
    assert table["id"].nunique() == N
    assert set(table["visit"]) == {"baseline", "week 12", "week 18", "week 26", "week 52"}
    base = table[table["visit"] == "baseline"]
    # baseline: every baseline instrument of the protocol was recorded for everyone
    for col in ("pain", "rmdq", "pseq", "pcs", "tsk", "frebaq", "bbq", "psychoactive"):
        assert base[col].notna().all(), col
    assert table.loc[table["visit"] == "week 18", "pain"].notna().sum() > 0


def test_analyze_ran_on_the_export(finished: tuple[int, Path]) -> None:
    _, out = finished
    primary = pd.read_csv(out / "analysis" / "primary.csv")
    assert set(primary["outcome"]) == {"pain", "rmdq"}
    assert primary["estimate"].notna().all()


def test_audit_trail_intact(finished: tuple[int, Path]) -> None:
    _, out = finished
    assert run(["trial", "audit", "verify", "--db", str(out / "trial.sqlite")]) == 0


def test_consort_counts_equal_the_numbers_entered(finished: tuple[int, Path]) -> None:
    _, out = finished
    summary = json.loads((out / "summary.json").read_text())
    ineligible = summary["n_ineligible"]
    assert ineligible >= 1
    assert summary["n_screened"] == N + ineligible
    consort = pd.read_csv(out / "consort.csv", keep_default_na=False)
    enrol = consort[(consort["stage"] == "enrolment") & (consort["reason"] == "")]
    n = dict(zip(enrol["measure"], enrol["n"], strict=True))
    assert n["assessed for eligibility"] == N + ineligible
    assert n["excluded"] == ineligible
    assert n["not meeting inclusion criteria"] == ineligible
    assert n["randomised"] == N
    allocated = consort[(consort["stage"] == "allocation") & (consort["measure"] == "allocated")]
    assert dict(zip(allocated["arm"], allocated["n"], strict=True)) == summary["allocated"]
