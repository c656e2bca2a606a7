"""examples/run_full_trial.py on a small trial: accounts, CLI data entry, masked and final
exports, lock and unblinding, CONSORT, audit checkpoint and verify, analysis."""

from __future__ import annotations

import importlib.util
import io
import json
import stat
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from resolve.cli._app import run
from resolve.trial import load_protocol

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "run_full_trial.py"
N = 24
ARMS = set(load_protocol().arm_names)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_full_trial", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _summary(out: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def _quiet_run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return _load_script()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, script: ModuleType) -> tuple[int, Path]:
    """A 24-participant run in demo mode (--seed: reproducible, so the analysis is too)."""
    out = tmp_path_factory.mktemp("full_trial")
    code = script.main(["--n", str(N), "--out", str(out), "--seed", "7"])
    return code, out


def test_every_command_exits_zero(finished: tuple[int, Path], script: ModuleType) -> None:
    code, out = finished
    assert code == 0
    summary = _summary(out)
    assert summary["exit_codes"] == {"0": summary["cli_calls"]}
    assert summary["n_randomised"] == N
    assert sum(summary["allocated"].values()) == N
    assert summary["concealment"] == "INSECURE demo seed" and summary["key_file"] is None
    assert summary["users"] == {
        script.ADMIN: "admin",
        script.ENROLLER: "enroller",
        script.ASSESSOR: "assessor",
        script.STATISTICIAN: "statistician",
    }
    # every phase went through the CLI
    for phase in (
        "init", "users", "screen", "consent", "randomise", "record baseline",
        "record follow-up", "masked export", "lock and unblind", "export", "consort",
        "audit verify", "analyze",
    ):  # fmt: skip
        assert summary["phases"][phase]["calls"] >= 1, phase


def test_export_holds_every_randomised_participant(finished: tuple[int, Path]) -> None:
    _, out = finished
    table = pd.read_csv(out / "export" / "analysis.csv")
    assert table["id"].nunique() == N
    assert set(table["arm"]) == ARMS
    assert set(table["visit"]) == {"baseline", "week 12", "week 18", "week 26", "week 52"}
    base = table[table["visit"] == "baseline"]
    # baseline: every baseline instrument of the protocol was recorded for everyone
    for col in ("pain", "rmdq", "pseq", "pcs", "tsk", "frebaq", "bbq", "psychoactive"):
        assert base[col].notna().all(), col
    assert table.loc[table["visit"] == "week 18", "pain"].notna().sum() > 0


def test_blinded_export_masks_the_arms(finished: tuple[int, Path]) -> None:
    """Before lock the statistician's export carries group A/B, never an arm name."""
    _, out = finished
    masked_dir = out / "export-masked"
    masked = pd.read_csv(masked_dir / "analysis.csv", dtype=str, keep_default_na=False)
    real = pd.read_csv(out / "export" / "analysis.csv", dtype=str, keep_default_na=False)
    assert set(masked["arm"]) == {"group A", "group B"}
    for path in masked_dir.glob("*.csv"):
        cells = pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel()
        assert not ARMS & set(cells), path.name
    consort = pd.read_csv(masked_dir / "consort.csv", dtype=str, keep_default_na=False)
    assert set(consort["arm"]) == {"all", "group A", "group B"}
    # the same data, relabelled: one code per arm, the same participants in each group
    assert masked.drop(columns="arm").equals(real.drop(columns="arm"))
    pairs = set(zip(masked["arm"], real["arm"], strict=True))
    assert len(pairs) == 2 and {m for m, _ in pairs} == {"group A", "group B"}
    assert {a for _, a in pairs} == ARMS
    summary = _summary(out)
    assert summary["masked_codes"] == {m: [a] for m, a in pairs}


def test_analyze_ran_on_the_export(finished: tuple[int, Path]) -> None:
    _, out = finished
    primary = pd.read_csv(out / "analysis" / "primary.csv")
    assert set(primary["outcome"]) == {"pain", "rmdq"}
    assert primary["estimate"].notna().all()
    assert set(primary["contrast"]) == {"resolve - sham"}


def test_audit_trail_intact_and_reads_audited(
    finished: tuple[int, Path], script: ModuleType
) -> None:
    _, out = finished
    db = str(out / "trial.sqlite")
    checkpoint = str(out / "audit-checkpoint.json")
    verify = ["trial", "audit", "verify", "--db", db, "--user", script.ADMIN]
    assert _quiet_run([*verify, "--checkpoint", checkpoint])[0] == 0
    code, log, _ = _quiet_run(["trial", "audit", "log", "--db", db, "--user", script.ADMIN])
    assert code == 0
    events = [json.loads(line) for line in log.splitlines()]
    exports = [
        e["new"]["arm_view"]
        for e in events
        if e["action"] == "read" and e["entity_id"] == "export" and e["user"] == "statistician"
    ]
    assert exports == ["masked", "all"]  # blinded before lock, unblinded after
    steps = [(e["action"], e["user"], e["reason"]) for e in events if e["entity"] == "trial"]
    assert steps[1:] == [
        ("lock", script.ADMIN, "last follow-up recorded"),
        ("unblind statistician", script.ADMIN, "final analysis"),
    ]
    recorders = {
        e["user"] for e in events if e["action"] == "record" and "/week " in e["entity_id"]
    }
    assert recorders == {script.ASSESSOR}
    # the database is locked: no more data
    record = [
        "trial", "record", "--db", db, "--user", script.ASSESSOR, "--id", "P0001",
        "--visit", "week 52", "--instrument", "gpe", "--items", '{"gpe_1": 0}',
    ]  # fmt: skip
    code, _, err = _quiet_run(record)
    assert code == 2 and "no data can be changed" in err


def test_consort_counts_equal_the_numbers_entered(finished: tuple[int, Path]) -> None:
    _, out = finished
    summary = _summary(out)
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


def test_key_file_mode(tmp_path: Path, script: ModuleType) -> None:
    """Without --seed: a random key in a key file outside the database's folder."""
    out = tmp_path / "run"
    key_file = tmp_path / "secret" / "trial.key"
    code = script.main(
        ["--n", "4", "--out", str(out), "--key-file", str(key_file), "--no-analysis"]
    )
    assert code == 0
    summary = _summary(out)
    assert summary["concealment"] == "trial key file" and summary["key_file"] == str(key_file)
    assert summary["n_randomised"] == 4 and "primary" not in summary
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.parent != out
    secret = key_file.read_text().split()[1]
    assert secret.encode() not in (out / "trial.sqlite").read_bytes()
    db = str(out / "trial.sqlite")
    verify = ["trial", "audit", "verify", "--db", db, "--user", script.ADMIN]
    code, _, err = _quiet_run(verify)  # the key is not at the default place
    assert code == 2 and "trial key" in err
    assert _quiet_run([*verify, "--key-file", str(key_file)])[0] == 0


def test_seed_and_key_file_exclude_each_other(tmp_path: Path, script: ModuleType) -> None:
    with pytest.raises(SystemExit) as exc, redirect_stderr(io.StringIO()):
        script.main(["--seed", "1", "--key-file", str(tmp_path / "k.key"), "--out", str(tmp_path)])
    assert exc.value.code == 2
