"""Adverse events and one-time passwords through :mod:`resolve.ops`, on SQLite and PostgreSQL.

Reports and follow-ups are append-only rows (triggers), validated field by field
with errors naming the field and the value, visible per
:func:`~resolve.ops.permissions.ae_view` (narratives never reach the monitor or a
blinded role), audited when read, and exported only to roles that see them in
full. Passwords an admin sets are one-time passwords until the user changes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from resolve import ops
from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.permissions import MATRIX, Operation, ae_view
from resolve.store.models import Role, User
from resolve.store.models_safety import SERIOUS_CRITERIA, AdverseEvent
from resolve.store.uow import Store
from tests.ops.helpers import (
    ADMIN,
    ASSESSOR,
    CLINICIAN,
    ENROLLER,
    MONITOR,
    STATISTICIAN,
    UNBLINDED,
    audit_rows,
    client,
    enrol,
    inspect_db,
    new_trial,
    randomise,
    snapshot,
)

NARRATIVE = "Sharp pain in the lower back after the first session; rested two days"
TODAY = date.today()


def report(**changes: Any) -> dict[str, Any]:
    """Keyword arguments of a valid report, with ``changes``."""
    base: dict[str, Any] = {
        "onset_date": TODAY.isoformat(),
        "description": NARRATIVE,
        "serious": False,
        "severity": "moderate",
        "relatedness": "possible",
        "expectedness": "expected",
        "outcome": "ongoing",
        "action_taken": "intervention interrupted",
    }
    return {**base, **changes}


def _build(db: str) -> str:
    new_trial(db)
    enrol(db, ["P001"])
    randomise(db, "P001")
    client(db, ENROLLER).run(
        ops.screen, "P002", age=40, duration_weeks=30, pain=6, identity="1980-01-01 P002"
    )
    return db


@pytest.fixture
def trial(db_url: str) -> str:
    """A trial (real key) with P001 randomised and P002 only screened (SQLite, PostgreSQL)."""
    return _build(db_url)


@pytest.fixture
def sqlite_trial(tmp_path: Path) -> str:
    """The same trial on SQLite only (for checks that never reach the database)."""
    return _build(f"sqlite:///{tmp_path / 'trial.db'}")


# ----------------------------------------------------------------------------- the record
def test_report_and_follow_ups_are_new_rows(trial: str) -> None:
    rc, doc = client(trial, ENROLLER), client(trial, CLINICIAN)
    event = rc.run(ops.report_adverse_event, "P001", **report())
    first = doc.run(
        ops.follow_up_adverse_event,
        event,
        description="Admitted overnight for pain control",
        serious=True,
        serious_criteria=["Hospitalisation"],
        severity="severe",
    )
    second = rc.run(
        ops.follow_up_adverse_event,
        event,
        description="Home again, improving",
        outcome="recovering",
    )
    frame = rc.run(ops.adverse_events, "P001")
    assert frame["report_id"].tolist() == [event, first, second]
    assert frame["event_id"].tolist() == [event] * 3
    assert frame["follow_up"].tolist() == [0, 1, 2]
    assert frame["kind"].tolist() == ["initial", "follow-up", "follow-up"]
    assert frame["current"].tolist() == [False, False, True]
    assert frame["reporter"].tolist() == [ENROLLER, CLINICIAN, ENROLLER]
    # what a follow-up does not restate is carried over from the newest report
    last = frame.iloc[2]
    assert last["serious"] and last["serious_criteria"] == ["hospitalisation"]
    assert (last["severity"], last["outcome"]) == ("severe", "recovering")
    assert last["action_taken"] == "intervention interrupted"
    assert last["onset_date"] == TODAY.isoformat()
    # the first report is exactly as it was reported
    assert frame.iloc[0]["description"] == NARRATIVE
    assert (frame.iloc[0]["serious"], frame.iloc[0]["severity"]) == (False, "moderate")
    assert client(trial, ADMIN).run(ops.verify_trial) is None


def test_reports_are_append_only(trial: str) -> None:
    rc = client(trial, ENROLLER)
    event = rc.run(ops.report_adverse_event, "P001", **report())
    rc.run(ops.follow_up_adverse_event, event, description="Better", outcome="recovered")
    engine = Store(trial).engine
    refused = [
        "UPDATE adverse_event SET description = 'nothing happened'",
        "UPDATE adverse_event SET serious = false",
        "DELETE FROM adverse_event",
    ]
    if engine.dialect.name == "postgresql":
        refused.append("TRUNCATE adverse_event")
    before = snapshot(trial)
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert snapshot(trial) == before


def test_the_audit_trail_carries_a_hash_of_each_report_not_its_text(trial: str) -> None:
    event = client(trial, ENROLLER).run(ops.report_adverse_event, "P001", **report())
    (ev,) = [e for e in audit_rows(trial) if e.entity == "adverse_event"]
    assert (ev.action, ev.entity_id, ev.user_name) == ("report", f"P001/{event}", ENROLLER)
    assert NARRATIVE not in (ev.new_value or "") and "Sharp" not in (ev.new_value or "")
    new = json.loads(ev.new_value or "{}")
    assert new["event"] == event and new["follow_up"] == 0
    row = inspect_db(trial, lambda s: s.get(AdverseEvent, event))
    assert row is not None
    body = {
        "participant": "P001",
        "follows": None,
        "follow_up": 0,
        "onset_date": row.onset_date,
        "description": NARRATIVE,
        "serious": False,
        "serious_criteria": [],
        "severity": "moderate",
        "relatedness": "possible",
        "expectedness": "expected",
        "outcome": "ongoing",
        "action_taken": "intervention interrupted",
        "reported_at": row.reported_at,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert new["record_sha256"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- who sees what
def test_ae_view_agrees_with_the_permission_matrix() -> None:
    for role in Role:
        may_view = role in MATRIX[Operation.view_adverse_events]
        assert (ae_view(role) != "none") == may_view, role
    assert ae_view(Role.monitor) == "coded"
    for blind in (Role.assessor, Role.statistician, Role.admin, Role.participant):
        assert ae_view(blind) == "none"
        assert blind not in MATRIX[Operation.report_adverse_events]


def test_each_role_sees_what_its_view_allows_and_reads_are_audited(trial: str) -> None:
    client(trial, ENROLLER).run(ops.report_adverse_event, "P001", **report())
    users = {
        "enroller": ENROLLER,
        "clinician": CLINICIAN,
        "unblinded_statistician": UNBLINDED,
        "monitor": MONITOR,
    }
    for role, user in users.items():
        before = len(audit_rows(trial))
        frame = client(trial, user).run(ops.adverse_events)
        assert len(frame) == 1
        assert frame.iloc[0]["severity"] == "moderate"
        text_seen = frame.to_csv()
        if ae_view(role) == "full":
            assert frame.iloc[0]["description"] == NARRATIVE
        else:
            assert frame.iloc[0]["description"] is None
            assert "Sharp" not in text_seen and "session" not in text_seen
        events = audit_rows(trial)[before:]
        assert len(events) == 1, role
        read = events[0]
        assert (read.entity, read.entity_id, read.action, read.user_name) == (
            "read",
            "adverse events",
            "read",
            user,
        )
        assert json.loads(read.new_value or "{}") == {
            "ae_view": ae_view(role),
            "participant": None,
            "rows": 1,
        }
    for user in (ASSESSOR, STATISTICIAN, ADMIN):
        before = snapshot(trial)
        with pytest.raises(ops.PermissionDenied, match="view adverse events"):
            client(trial, user).run(ops.adverse_events, "P001")
        assert snapshot(trial) == before


def test_a_read_that_finds_nothing_is_not_an_audit_event(trial: str) -> None:
    before = len(audit_rows(trial))
    frame = client(trial, MONITOR).run(ops.adverse_events, "P001")
    assert frame.empty and list(frame.columns) == ops.safety.AE_COLUMNS
    assert len(audit_rows(trial)) == before
    with pytest.raises(UnknownNameError, match="P999"):
        client(trial, MONITOR).run(ops.adverse_events, "P999")


# ----------------------------------------------------------------------------- validation
BAD = [
    ({"severity": "extreme"}, r"severity: unknown value 'extreme'; allowed: mild, moderate"),
    ({"relatedness": "maybe"}, r"relatedness: unknown value 'maybe'"),
    ({"expectedness": ""}, r"expectedness: unknown value ''"),
    ({"outcome": "cured"}, r"outcome: unknown value 'cured'"),
    ({"action_taken": "paused"}, r"action_taken: unknown value 'paused'"),
    ({"onset_date": "12/03/2026"}, r"onset_date: '12/03/2026' is not a date"),
    ({"onset_date": (TODAY + timedelta(days=9)).isoformat()}, r"onset_date: .* in the future"),
    ({"onset_date": "2001-01-01"}, r"onset_date: 2001-01-01 is before participant 'P001'"),
    ({"description": "   "}, r"description: required"),
    ({"description": "x" * 2001}, r"description: 2001 characters; at most 2000"),
    ({"description": "bad\x00byte"}, r"description: control character"),
    ({"serious": True}, r"serious_criteria: a serious event needs at least one criterion"),
    (
        {"serious_criteria": ["death"]},
        r"serious_criteria: death given for an event marked not serious",
    ),
    (
        {"serious": True, "serious_criteria": ["sprain"]},
        r"serious_criteria: unknown criterion 'sprain'",
    ),
    ({"serious": "yes"}, r"serious: expected true or false; got 'yes'"),
    (
        {"outcome": "fatal", "serious": True, "serious_criteria": ["hospitalisation"]},
        r"outcome: 'fatal' needs the serious criterion 'death'",
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD, ids=[m for _, m in BAD])
def test_invalid_reports_name_the_field_and_value_and_write_nothing(
    sqlite_trial: str, changes: dict[str, Any], message: str
) -> None:
    before = snapshot(sqlite_trial)
    with pytest.raises(DataValidationError, match=message):
        client(sqlite_trial, ENROLLER).run(ops.report_adverse_event, "P001", **report(**changes))
    assert snapshot(sqlite_trial) == before


def test_reports_need_consent_an_open_database_and_a_real_event(trial: str) -> None:
    rc = client(trial, ENROLLER)
    with pytest.raises(ops.TrialStateError, match=r"P002.*has not consented"):
        rc.run(ops.report_adverse_event, "P002", **report())
    event = rc.run(
        ops.report_adverse_event,
        "P001",
        **report(
            serious=True, serious_criteria=["other important medical event", "life-threatening"]
        ),
    )
    frame = rc.run(ops.adverse_events, "P001")
    assert frame.iloc[0]["serious_criteria"] == [
        "life-threatening",
        "other important medical event",
    ]
    follow = rc.run(ops.follow_up_adverse_event, event, description="Stable", outcome="recovering")
    with pytest.raises(DataValidationError, match=f"{follow} is a follow-up of event {event}"):
        rc.run(ops.follow_up_adverse_event, follow, description="x")
    with pytest.raises(UnknownNameError, match="no adverse event 999"):
        rc.run(ops.follow_up_adverse_event, 999, description="x")
    with pytest.raises(DataValidationError, match="description: required"):
        rc.run(ops.follow_up_adverse_event, event, description="")
    client(trial, ADMIN).run(ops.lock_database, reason="final analysis")
    before = snapshot(trial)
    with pytest.raises(ops.TrialStateError, match="locked"):
        rc.run(ops.report_adverse_event, "P001", **report())
    with pytest.raises(ops.TrialStateError, match="locked"):
        rc.run(ops.follow_up_adverse_event, event, description="Later news")
    assert snapshot(trial) == before


# ----------------------------------------------------------------------------- export
def test_the_export_holds_adverse_events_only_for_a_full_view(trial: str, tmp_path: Path) -> None:
    client(trial, ENROLLER).run(ops.report_adverse_event, "P001", **report())
    full = client(trial, UNBLINDED).run(ops.export, tmp_path / "unblinded")
    names = [p.name for p in full]
    assert "adverse_events.csv" in names
    table = pd.read_csv(tmp_path / "unblinded" / "adverse_events.csv")
    assert table["description"].tolist() == [NARRATIVE]
    assert table["participant_id"].tolist() == ["P001"]
    readme = (tmp_path / "unblinded" / "README.txt").read_text()
    assert "adverse_events.csv" in readme and "keep this file from blinded staff" in readme
    masked = client(trial, STATISTICIAN).run(ops.export, tmp_path / "blinded")
    assert "adverse_events.csv" not in [p.name for p in masked]
    for path in masked:
        assert "Sharp pain" not in path.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- care team
def test_care_team_lists_active_clinicians_and_the_current_one(trial: str) -> None:
    admin = client(trial, ADMIN)
    team = admin.run(ops.care_team, "P001")
    assert team == {"participant": "P001", "clinician": None, "clinicians": ["doc", "doc2"]}
    client(trial, ENROLLER).run(ops.assign_clinician, "P001", clinician=CLINICIAN)
    admin.run(ops.deactivate_user, "doc2", reason="left")
    assert admin.run(ops.care_team, "P001") == {
        "participant": "P001",
        "clinician": CLINICIAN,
        "clinicians": [CLINICIAN],
    }


# ----------------------------------------------------------------------------- one-time passwords
def _must_change(db: str, name: str) -> bool:
    return bool(
        inspect_db(
            db,
            lambda s: s.execute(
                select(User.must_change_password).where(User.name == name)
            ).scalar_one(),
        )
    )


def test_passwords_set_by_an_admin_are_one_time(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'trial.db'}"
    ops.init_trial(db, admin=ADMIN, admin_password="admin's own password", demo_seed=3)
    assert not _must_change(db, ADMIN)  # chosen by the admin themselves at init
    admin = client(db, ADMIN)
    admin.run(ops.add_user, "rc", role="enroller", password="chosen by the admin")
    admin.run(ops.add_user, "cli", role="enroller", password=None)
    assert _must_change(db, "rc") and not _must_change(db, "cli")
    rc = client(db, "rc")
    with pytest.raises(ops.PermissionDenied, match="current password is wrong"):
        rc.run(ops.set_password, "rc", "a brand new password", old_password="guess guess 1")
    with pytest.raises(DataValidationError, match="must differ from the current one"):
        rc.run(ops.set_password, "rc", "chosen by the admin", old_password="chosen by the admin")
    assert _must_change(db, "rc")
    rc.run(ops.set_password, "rc", "a brand new password", old_password="chosen by the admin")
    assert not _must_change(db, "rc")
    # an admin resetting someone's password makes it one-time again; the event says so
    admin.run(ops.set_password, "rc", "reset by the admin 1")
    assert _must_change(db, "rc")
    resets = [e for e in audit_rows(db) if e.action == "set password"]
    assert [json.loads(e.new_value or "{}") for e in resets] == [
        {"must_change_password": False},
        {"must_change_password": True},
    ]
    # an admin changing their own password needs the old one too, and keeps no flag
    with pytest.raises(ops.PermissionDenied, match="current password is wrong"):
        admin.run(ops.set_password, ADMIN, "admin's new password", old_password="wrong one!!")
    admin.run(ops.set_password, ADMIN, "admin's new password", old_password="admin's own password")
    assert not _must_change(db, ADMIN)


def test_init_can_make_the_first_admin_password_one_time(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'trial.db'}"
    ops.init_trial(
        db,
        admin=ADMIN,
        admin_password="printed for the demo",
        demo_seed=3,
        admin_must_change_password=True,
    )
    assert _must_change(db, ADMIN)
    other = f"sqlite:///{tmp_path / 'cli.db'}"
    ops.init_trial(other, admin=ADMIN, demo_seed=3, admin_must_change_password=True)
    assert not _must_change(other, ADMIN)  # no password at all: nothing to change


def test_every_criterion_is_a_valid_choice(trial: str) -> None:
    rc = client(trial, ENROLLER)
    event = rc.run(
        ops.report_adverse_event,
        "P001",
        **report(serious=True, serious_criteria=list(SERIOUS_CRITERIA), outcome="fatal"),
    )
    frame = rc.run(ops.adverse_events, "P001")
    assert frame["report_id"].tolist() == [event]
    assert frame.iloc[0]["serious_criteria"] == list(SERIOUS_CRITERIA)
    assert frame.iloc[0]["outcome"] == "fatal"


def test_the_docs_table_of_adverse_event_views_equals_ae_view() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "trial-security.md"
    found = re.search(
        r"<!-- ae-views:start -->\n(.*?)\n<!-- ae-views:end -->", doc.read_text("utf-8"), re.S
    )
    assert found is not None, "no ae-views table in docs/trial-security.md"
    lines = found.group(1).strip().splitlines()[2:]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert rows == [[r.value, ae_view(r)] for r in Role], "regenerate the table from ae_view"
