"""Blinding, on SQLite and PostgreSQL: who sees which arm, and every arm-revealing read audited.

The prepared trial: P1-P3 randomised by enroller ``rc``, P4-P5 by ``rc2``, P6
consented only; clinician ``doc`` treats P1 and P4; baseline NRS recorded for
P1-P5. The arms are "sham" and "resolve"; "resolve" is also the program's name,
so outputs are checked cell by cell (CSV) and value by value (JSON), never by
a plain substring search.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from resolve import ops
from resolve.cli._app import run
from tests.ops.helpers import (
    ADMIN,
    ARMS,
    ASSESSOR,
    CLINICIAN,
    CLINICIAN2,
    ENROLLER,
    ENROLLER2,
    MONITOR,
    STATISTICIAN,
    UNBLINDED,
    audit_rows,
    client,
    enrol,
    new_trial,
    randomise,
)

CODES = {"group A", "group B"}
PIDS = ["P1", "P2", "P3", "P4", "P5", "P6"]


def _prepare(db: str) -> dict[str, str]:
    """Build the trial; return participant -> real arm (of the randomised ones)."""
    new_trial(db)
    enrol(db, PIDS)
    for pid in PIDS[:3]:
        randomise(db, pid, user=ENROLLER)
    for pid in PIDS[3:5]:
        randomise(db, pid, user=ENROLLER2)
    admin = client(db, ADMIN)
    for pid in ("P1", "P4"):
        admin.run(ops.assign_clinician, pid, clinician=CLINICIAN)

    def record_all(ctx: ops.Context) -> None:
        for k, pid in enumerate(PIDS[:5]):
            ops.record(ctx, pid, visit="baseline", instrument="nrs", items={"nrs_1": 3 + k})

    client(db, ASSESSOR).run(record_all)
    alloc = client(db, UNBLINDED).run(ops.allocations)
    arms = dict(zip(alloc["participant"], alloc["arm"], strict=True))
    assert set(arms) == set(PIDS[:5]) and set(arms.values()) == set(ARMS)  # both arms in use
    return arms


@pytest.fixture
def arms(db_url: str) -> dict[str, str]:
    return _prepare(db_url)


def values(obj: Any) -> Iterator[str]:
    """Every string inside ``obj`` (nested dicts, lists, frames)."""
    if isinstance(obj, pd.DataFrame):
        for col in obj.columns:
            yield str(col)
            yield from values(obj[col].tolist())
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from values(v)
    elif isinstance(obj, list | tuple | set):
        for v in obj:
            yield from values(v)
    elif isinstance(obj, str):
        yield obj


def shown_arms(obj: Any) -> set[str]:
    """Arm names found as whole values in ``obj``."""
    return {v for v in values(obj) if v in ARMS}


def csv_cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


_PROGRAM = re.compile(r"^resolve: error: ", re.MULTILINE)


def arm_tokens(text: str) -> set[str]:
    """Arm names appearing as words in CLI output.

    Not the program's name: the ``resolve: error:`` prefix is dropped, and dotted
    names (``resolve.toml``, ``resolve.instruments``) stay whole words.
    """
    words = re.split(r"[^A-Za-z0-9_.-]+", _PROGRAM.sub("", text))
    return {w.strip(".-") for w in words} & set(ARMS)


# ----------------------------------------------------------------------------- assessor
def test_assessor_sees_no_arm(db_url: str, arms: dict[str, str], tmp_path: Path) -> None:
    ana = client(db_url, ASSESSOR)
    n_events = len(audit_rows(db_url))
    parts = ana.run(ops.participants)
    assert len(parts) == len(PIDS) and parts["arm"].isna().all()
    for frame in (
        parts,
        ana.run(ops.responses),
        ana.run(ops.visits),
        ana.run(ops.trial_schedule),
        ana.run(ops.participant_schedule, "P1"),
        ana.run(ops.overdue_visits, "P1"),
    ):
        assert not shown_arms(frame)
        arm_columns = [c for c in frame.columns if "arm" in str(c)]
        assert arm_columns == (["arm"] if frame is parts else [])  # participants: empty
    scores = ana.run(ops.record, "P1", visit="week 18", instrument="nrs", items={"nrs_1": 2})
    assert not shown_arms(scores)
    refused: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (ops.allocations, ()),
        (ops.export, (tmp_path / "out",)),
        (ops.consort, ()),
        (ops.events, ()),
        (ops.verify_trial, ()),
    ]
    for fn, args in refused:
        with pytest.raises(ops.PermissionDenied):
            ana.run(fn, *args)
    with pytest.raises(ops.PermissionDenied):
        ana.run(ops.emergency_unblind, "P1", reason="curious")
    with pytest.raises(ops.PermissionDenied):
        ana.run(ops.randomise, "P6")
    assert not (tmp_path / "out").exists()
    # Reads that show no arm are not audit events; the one record is (two: visit + response).
    actions = [(e.entity, e.action) for e in audit_rows(db_url)[n_events:]]
    assert actions == [("visit", "create"), ("response", "record")]


def _cli(
    args: list[str], user: str, db: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    code = run([*args, "--db", db, "--user", user])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_assessor_cli_outputs_contain_no_arm(
    db_url: str, arms: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    may = [
        ["trial", "participants"],
        ["trial", "schedule"],
        ["trial", "schedule", "--id", "P1"],
        ["trial", "record", "--id", "P2", "--visit", "week 18", "--instrument", "nrs",
         "--items", '{"nrs_1": 4}'],
        ["trial", "correct", "--id", "P2", "--visit", "baseline", "--instrument", "nrs",
         "--items", '{"nrs_1": 5}', "--reason", "typo"],
        ["trial", "lost", "--id", "P5", "--reason", "no contact"],
    ]  # fmt: skip
    may_not = [
        ["trial", "randomise", "--id", "P6"],
        ["trial", "unblind", "--id", "P1", "--reason", "curious"],
        ["trial", "export", "--out", str(tmp_path / "out")],
        ["trial", "consort"],
        ["trial", "audit", "log"],
        ["trial", "audit", "verify"],
        ["trial", "audit", "checkpoint", "--out", str(tmp_path / "cp.json")],
        ["trial", "withdraw", "--id", "P1", "--reason", "x"],
        ["trial", "randomised-in-error", "--id", "P1", "--reason", "x"],
        ["trial", "lock", "--reason", "x"],
        ["users", "list"],
    ]
    for args in may:
        code, text = _cli(args, ASSESSOR, db_url, capsys)
        assert code == 0, (args, text)
        assert not arm_tokens(text), (args, text)
        if args[:2] == ["trial", "participants"]:
            rows = csv_cells(text)
            assert len(rows) == len(PIDS) and "arm" not in rows[0]
            assert not {v for r in rows for v in r.values()} & set(ARMS)
    for args in may_not:
        code, text = _cli(args, ASSESSOR, db_url, capsys)
        assert code == 2 and "may not" in text, (args, text)
        assert not arm_tokens(text), (args, text)
    assert not (tmp_path / "out").exists() and not (tmp_path / "cp.json").exists()
    # The check can fail: the unblinded statistician's participant list shows arms.
    code, text = _cli(["trial", "participants"], UNBLINDED, db_url, capsys)
    assert code == 0 and arm_tokens(text) == set(ARMS)
    listed = {r["participant_id"]: r["arm"] for r in csv_cells(text)}
    assert {k: v for k, v in listed.items() if v} == arms


def test_audit_log_redacts_arms(
    db_url: str, arms: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = client(db_url, CLINICIAN)
    assert doc.run(ops.emergency_unblind, "P2", reason="serious adverse event") == arms["P2"]
    randomise(db_url, "P1")  # idempotent repeat by the allocating enroller: an audited read
    raw = audit_rows(db_url)
    assert shown_arms([json.loads(e.new_value or "{}") for e in raw]) == set(ARMS)  # stored
    for user in (ADMIN, MONITOR):
        events = client(db_url, user).run(ops.events)
        assert len(events) == len(raw)
        assert not shown_arms(events), user
        hidden = [e for e in events if isinstance(e["new"], dict) and "arm" in e["new"]]
        # 5 randomisations, 1 emergency unblinding, 1 repeated randomise
        assert len(hidden) == 7 and {e["new"]["arm"] for e in hidden} == {"(hidden)"}
        code, text = _cli(["trial", "audit", "log"], user, db_url, capsys)
        assert code == 0 and not arm_tokens(text)
        lines = [json.loads(line) for line in text.splitlines()]
        assert len(lines) == len(raw) and not shown_arms(lines)
        code, text = _cli(["trial", "participants"], user, db_url, capsys)
        assert code == 0 and not arm_tokens(text) and "arm" not in csv_cells(text)[0]


# ----------------------------------------------------------------------------- statistician
def _masking(parts: pd.DataFrame, arms: dict[str, str]) -> dict[str, str]:
    """Real arm -> the code shown, checking that the code is a function of the arm."""
    shown = parts.set_index("participant_id")["arm"]
    mapping: dict[str, str] = {}
    for pid, real in arms.items():
        assert mapping.setdefault(real, shown[pid]) == shown[pid]
    assert shown.drop(list(arms)).isna().all()
    return mapping


def _export_cells(folder: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted(folder.glob("*.csv")):
        rows.extend(csv_cells(path.read_text(encoding="utf-8")))
    return rows


def test_statistician_sees_masked_codes_until_unblinded(
    db_url: str, arms: dict[str, str], tmp_path: Path
) -> None:
    stat = client(db_url, STATISTICIAN)
    mapping = _masking(stat.run(ops.participants), arms)
    assert set(mapping.values()) == CODES and len(set(mapping.values())) == 2
    # Stable across calls and clients.
    assert _masking(client(db_url, STATISTICIAN).run(ops.participants), arms) == mapping
    alloc = stat.run(ops.allocations)
    assert {pid: mapping[a] for pid, a in arms.items()} == dict(
        zip(alloc["participant"], alloc["arm"], strict=True)
    )
    consort = stat.run(ops.consort)
    assert set(consort["arm"]) <= CODES | {"all"}, set(consort["arm"])
    assert not shown_arms(consort)
    stat.run(ops.export, tmp_path / "masked")
    analysis = pd.read_csv(tmp_path / "masked" / "analysis.csv")
    assert set(analysis["arm"]) == CODES
    per_participant = analysis.drop_duplicates("id").set_index("id")["arm"].to_dict()
    assert per_participant == {pid: mapping[a] for pid, a in arms.items()}
    cells = _export_cells(tmp_path / "masked")
    assert not {v for r in cells for v in r.values()} & set(ARMS)
    with pytest.raises(ops.PermissionDenied):
        stat.run(ops.emergency_unblind, "P1", reason="curious")
    with pytest.raises(ops.PermissionDenied):
        stat.run(ops.unblind_statistician, reason="impatient")

    admin = client(db_url, ADMIN)
    with pytest.raises(ops.TrialStateError, match="lock it before unblinding"):
        admin.run(ops.unblind_statistician, reason="analysis")
    admin.run(ops.lock_database, reason="last participant's week 52 visit")
    assert _masking(stat.run(ops.participants), arms) == mapping  # still masked when locked
    admin.run(ops.unblind_statistician, reason="primary analysis signed off")
    real = stat.run(ops.participants).set_index("participant_id")["arm"]
    assert real.dropna().to_dict() == arms
    assert set(stat.run(ops.consort)["arm"]) <= set(ARMS) | {"all"}
    stat.run(ops.export, tmp_path / "real")
    analysis = pd.read_csv(tmp_path / "real" / "analysis.csv")
    assert analysis.drop_duplicates("id").set_index("id")["arm"].to_dict() == arms
    steps = [(e.action, e.reason) for e in audit_rows(db_url) if e.entity == "trial"]
    assert steps[-2:] == [
        ("lock", "last participant's week 52 visit"),
        ("unblind statistician", "primary analysis signed off"),
    ]


# ------------------------------------------------------------------------ clinicians, enrollers
def test_clinician_sees_only_assigned_participants(db_url: str, arms: dict[str, str]) -> None:
    doc = client(db_url, CLINICIAN)
    shown = doc.run(ops.participants).set_index("participant_id")["arm"]
    assert shown.dropna().to_dict() == {p: arms[p] for p in ("P1", "P4")}
    alloc = doc.run(ops.allocations)
    assert dict(zip(alloc["participant"], alloc["arm"], strict=True)) == {
        p: arms[p] for p in ("P1", "P4")
    }
    other = client(db_url, CLINICIAN2)
    assert other.run(ops.participants)["arm"].isna().all()
    assert other.run(ops.allocations).empty
    # A newly assigned participant's arm becomes visible to the clinician.
    client(db_url, ADMIN).run(ops.assign_clinician, "P2", clinician=CLINICIAN2)
    assert other.run(ops.participants).set_index("participant_id")["arm"].dropna().to_dict() == {
        "P2": arms["P2"]
    }


def test_enroller_sees_arms_it_allocated(db_url: str, arms: dict[str, str]) -> None:
    for user, mine in ((ENROLLER, ("P1", "P2", "P3")), (ENROLLER2, ("P4", "P5"))):
        c = client(db_url, user)
        shown = c.run(ops.participants).set_index("participant_id")["arm"]
        assert shown.dropna().to_dict() == {p: arms[p] for p in mine}
        alloc = c.run(ops.allocations)
        assert dict(zip(alloc["participant"], alloc["arm"], strict=True)) == {
            p: arms[p] for p in mine
        }
    # Repeated randomise: the allocating enroller gets the same arm (audited); others are refused.
    n = len(audit_rows(db_url))
    assert randomise(db_url, "P1", user=ENROLLER) == arms["P1"]
    assert randomise(db_url, "P1", user=ENROLLER) == arms["P1"]
    new = audit_rows(db_url)[n:]
    assert [(e.entity, e.action, e.entity_id, e.user_name) for e in new] == [
        ("allocation", "read", "P1", ENROLLER)
    ] * 2
    n = len(audit_rows(db_url))
    with pytest.raises(ops.TrialStateError, match="already randomised"):
        randomise(db_url, "P1", user=ENROLLER2)
    with pytest.raises(ops.PermissionDenied):
        randomise(db_url, "P1", user=CLINICIAN)
    assert len(audit_rows(db_url)) == n
    assert len(client(db_url, UNBLINDED).run(ops.allocations)) == len(arms)  # no new allocation


# ----------------------------------------------------------------------------- audited reads
def test_every_arm_revealing_read_is_audited(
    db_url: str, arms: dict[str, str], tmp_path: Path
) -> None:
    revealing: list[tuple[str, Any, tuple[Any, ...], dict[str, Any], tuple[str, str, str]]] = [
        (UNBLINDED, ops.participants, (), {}, ("read", "read", "participants")),
        (UNBLINDED, ops.allocations, (), {}, ("read", "read", "allocations")),
        (STATISTICIAN, ops.participants, (), {}, ("read", "read", "participants")),
        (STATISTICIAN, ops.allocations, (), {}, ("read", "read", "allocations")),
        (STATISTICIAN, ops.consort, (), {}, ("read", "read", "consort")),
        (UNBLINDED, ops.consort, (), {}, ("read", "read", "consort")),
        (STATISTICIAN, ops.export, (tmp_path / "e1",), {}, ("read", "read", "export")),
        (ENROLLER, ops.participants, (), {}, ("read", "read", "participants")),
        (ENROLLER, ops.allocations, (), {}, ("read", "read", "allocations")),
        (CLINICIAN, ops.participants, (), {}, ("read", "read", "participants")),
        (ENROLLER, ops.randomise, ("P2",), {}, ("allocation", "read", "P2")),
        (
            CLINICIAN,
            ops.emergency_unblind,
            ("P3",),
            {"reason": "SAE"},
            ("participant", "emergency unblind", "P3"),
        ),
    ]
    for user, fn, args, kwargs, (entity, action, what) in revealing:
        n = len(audit_rows(db_url))
        result = client(db_url, user).run(fn, *args, **kwargs)
        if fn is not ops.export:
            assert shown_arms(result) or set(values(result)) & CODES, (user, fn.__name__)
        new = [(e.entity, e.action, e.entity_id, e.user_name) for e in audit_rows(db_url)[n:]]
        assert new[-1] == (entity, action, what, user), (user, fn.__name__, new)
        # CONSORT and export read the participant list too, itself an audited read.
        assert new[:-1] in ([], [("read", "read", "participants", user)]), new
    silent = [
        (ASSESSOR, ops.participants),
        (MONITOR, ops.participants),
        (ADMIN, ops.participants),
        (CLINICIAN2, ops.participants),  # a clinician with no participant sees no arm
        (ASSESSOR, ops.responses),
        (MONITOR, ops.responses),
        (ASSESSOR, ops.trial_schedule),
    ]
    for user, fn in silent:
        n = len(audit_rows(db_url))
        result = client(db_url, user).run(fn)
        assert not shown_arms(result) and not set(values(result)) & CODES
        assert len(audit_rows(db_url)) == n, (user, fn.__name__)
