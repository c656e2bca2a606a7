"""Engine factory, packaged migrations and the hash-chained audit trail."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from resolve.errors import DataValidationError
from resolve.store import audit, make_engine, normalise_url, upgrade
from resolve.store.migrate import current_revision, head_revision
from resolve.store.models import AuditEvent


def test_normalise_url() -> None:
    assert normalise_url("a/b.db") == "sqlite:///a/b.db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    assert normalise_url("postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(DataValidationError, match="unsupported database 'mysql'"):
        normalise_url("mysql://u@h/d")
    with pytest.raises(DataValidationError, match="empty"):
        normalise_url(" ")


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="does not exist"):
        make_engine(tmp_path / "nope" / "trial.db")


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "t.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_migrations_create_schema_idempotently(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0001"
    tables = set(inspect(engine).get_table_names())
    assert {
        "trial",
        "site",
        "app_user",
        "participant",
        "stratum",
        "sequence_slot",
        "allocation",
        "unblinding",
        "visit",
        "response",
        "response_revision",
        "session_delivery",
        "audit_event",
        "audit_head",
        "sealed_parameter",
    } <= tables
    engine.dispose()


def _chain(db_url: str, n: int) -> object:
    engine = make_engine(db_url)
    upgrade(engine)
    for k in range(n):
        with Session(engine) as s, s.begin():
            audit.append(
                s,
                user="u",
                entity="thing",
                entity_id=k,
                action="set",
                old={"v": k},
                new={"v": k + 1},
                reason="because",
            )
    return engine


def test_audit_chain_verifies_and_links(db_url: str) -> None:
    engine = _chain(db_url, 5)
    with Session(engine) as s:  # type: ignore[call-overload]
        assert audit.verify(s) is None
        events = s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert events[2].old_value == '{"v":2}' and events[2].reason == "because"
    engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("statement", "first_bad", "problem"),
    [
        ("UPDATE audit_event SET new_value = 'tampered' WHERE id = 3", 3, "altered"),
        ("UPDATE audit_event SET user_name = 'mallory' WHERE id = 2", 2, "altered"),
        ("DELETE FROM audit_event WHERE id = 4", 4, "missing"),
        ("DELETE FROM audit_event WHERE id = 5", 5, "head"),
    ],
)
def test_audit_detects_tampering(db_url: str, statement: str, first_bad: int, problem: str) -> None:
    engine = _chain(db_url, 5)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(statement))
    with Session(engine) as s:  # type: ignore[call-overload]
        broken = audit.verify(s)
    assert broken is not None
    assert broken.event_id == first_bad
    assert problem in str(broken)
    engine.dispose()  # type: ignore[attr-defined]


def test_recomputed_hash_still_breaks_the_link(db_url: str) -> None:
    """Rewriting an event *and* its hash breaks the next event's prev_hash."""
    engine = _chain(db_url, 4)
    with Session(engine) as s, s.begin():  # type: ignore[call-overload]
        ev = s.get(AuditEvent, 2)
        ev.new_value = '{"v":42}'
        ev.hash = audit.event_hash(ev)
    with Session(engine) as s:  # type: ignore[call-overload]
        broken = audit.verify(s)
    assert broken is not None and broken.event_id == 3
    engine.dispose()  # type: ignore[attr-defined]
