"""The store: URLs, the unit of work, migrations, the HMAC audit chain and the safe edges.

Every test taking ``db_url`` runs on SQLite and, with ``RESOLVE_TEST_POSTGRES_URL``
set, on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from resolve import ops
from resolve.errors import DataValidationError
from resolve.store import Store, StoreBusyError, StoreError, audit, normalise_url, upgrade
from resolve.store.keys import TrialKey
from resolve.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
)
from resolve.store.models import Allocation, AuditEvent, AuditHead, Participant, Response
from resolve.store.uow import SchemaVersionError, classify
from tests.db_fixtures import _dispose
from tests.store.scenario import (
    ADMIN,
    ENROLLER,
    Trial,
    build_trial,
    cli,
    drop_triggers,
    events,
    verify,
)

KEY = TrialKey.insecure_from_seed(1)
APPEND_ONLY = "append-only"

# ----------------------------------------------------------------------------- URLs, engines


def test_normalise_url() -> None:
    assert normalise_url("a/b.db") == "sqlite:///a/b.db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    assert normalise_url("postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(DataValidationError, match="unsupported database 'mysql'"):
        normalise_url("mysql://u@h/d")
    with pytest.raises(DataValidationError, match="empty"):
        normalise_url(" ")


def test_missing_folder_or_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope" / "trial.db", create=True)
    with pytest.raises(StoreError, match="no trial database at"):
        Store(tmp_path / "trial.db")
    assert not (tmp_path / "trial.db").exists()
    with pytest.raises(StoreError, match="in-memory"):
        Store("sqlite://", create=True)


def test_sqlite_pragmas_follow_the_deadline(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db", create=True, deadline=2)
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 2000
    _dispose(normalise_url(tmp_path / "t.db"))


def test_postgres_lock_timeout_follows_the_deadline(db_url: str) -> None:
    store = Store(db_url, create=True, deadline=2)
    if store.is_sqlite:
        pytest.skip("PostgreSQL setting")
    with store.engine.connect() as conn:
        assert conn.execute(text("SHOW lock_timeout")).scalar() == "2s"
    ro = Store(db_url, read_only=True, deadline=3)
    with ro.engine.connect() as conn:
        assert conn.execute(text("SHOW lock_timeout")).scalar() == "3s"
        assert conn.execute(text("SHOW default_transaction_read_only")).scalar() == "on"


def test_migrations_create_schema_idempotently(db_url: str) -> None:
    engine = Store(db_url, create=True).engine
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert {"0003", "0004", "0005"} <= known_revisions()  # later revisions build on 0004 (safety)
    tables = set(inspect(engine).get_table_names())
    assert {
        "trial",
        "site",
        "app_user",
        "participant",
        "stratum",
        "allocation",
        "unblinding",
        "visit",
        "response",
        "response_revision",
        "session_delivery",
        "audit_event",
        "audit_head",
        "web_session",
        "api_token",
        "login_attempt",
        "participant_link",
        "consent_record",
        "adverse_event",
        "programme_record",
        "programme_link",
    } <= tables
    # concealment: no stored list, no stored seed
    assert not tables & {"sequence_slot", "sealed_parameter"}
    trial_columns = {c["name"] for c in inspect(engine).get_columns("trial")}
    assert {"uid", "key_fingerprint", "demo_seed", "status"} <= trial_columns
    user_columns = {c["name"] for c in inspect(engine).get_columns("app_user")}
    assert "must_change_password" in user_columns


# ----------------------------------------------------------------------------- audit chain


def _chain(db_url: str, n: int) -> Store:
    store = Store(db_url, create=True)
    upgrade(store.engine)
    for k in range(n):
        with Session(store.engine) as s, s.begin():
            audit.append(
                s,
                key=KEY,
                user="u",
                entity="thing",
                entity_id=k,
                action="set",
                old={"v": k},
                new={"v": k + 1},
                reason="because",
            )
    return store


def _verify(store: Store, key: TrialKey = KEY, **kw: Any) -> audit.AuditBreak | None:
    with Session(store.engine) as s:
        return audit.verify(s, key, **kw)


def test_audit_chain_verifies_and_links(db_url: str) -> None:
    store = _chain(db_url, 5)
    assert _verify(store) is None
    with Session(store.engine) as s:
        evs = s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        head = s.get(AuditHead, 1)
        assert head is not None and head.last_id == 5 and head.last_hash == evs[-1].hash
    assert [e.id for e in evs] == [1, 2, 3, 4, 5]
    assert evs[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(evs))
    assert evs[2].old_value == '{"v":2}' and evs[2].reason == "because"
    # the hash is an HMAC under the key: not the plain SHA-256 of the same fields
    assert all(e.hash == audit.event_hash(e, KEY) for e in evs)
    assert audit.event_hash(evs[0], TrialKey.insecure_from_seed(2)) != evs[0].hash


def test_audit_chain_with_another_key_fails_at_the_first_event(db_url: str) -> None:
    store = _chain(db_url, 3)
    broken = _verify(store, TrialKey.insecure_from_seed(2))
    assert broken is not None and broken.event_id == 1
    assert "HMAC" in str(broken)


@pytest.mark.parametrize(
    ("statement", "first_bad", "problem"),
    [
        ("UPDATE audit_event SET new_value = 'tampered' WHERE id = 3", 3, "HMAC"),
        ("UPDATE audit_event SET user_name = 'mallory' WHERE id = 2", 2, "HMAC"),
        ("DELETE FROM audit_event WHERE id = 4", 4, "missing"),
        ("DELETE FROM audit_event WHERE id = 5", 5, "head"),
        ("DELETE FROM audit_head", 6, "head row is missing"),
        (
            "UPDATE audit_head SET last_hash = (SELECT hash FROM audit_event WHERE id = 4)",
            5,
            "head",
        ),
    ],
)
def test_audit_detects_tampering(db_url: str, statement: str, first_bad: int, problem: str) -> None:
    store = _chain(db_url, 5)
    drop_triggers(store.engine)
    with store.engine.begin() as conn:
        conn.execute(text(statement))
    broken = _verify(store)
    assert broken is not None
    assert broken.event_id == first_bad
    assert problem in str(broken)


def test_recomputed_hash_still_breaks_the_link(db_url: str) -> None:
    """Rewriting an event *and* its HMAC (even with the key) breaks the next event's link."""
    store = _chain(db_url, 4)
    drop_triggers(store.engine)
    with Session(store.engine) as s, s.begin():
        ev = s.get(AuditEvent, 2)
        assert ev is not None
        ev.new_value = '{"v":42}'
        ev.hash = audit.event_hash(ev, KEY)
    broken = _verify(store)
    assert broken is not None and broken.event_id == 3
    assert "prev_hash" in broken.problem


def test_checkpoints_detect_a_shortened_chain(db_url: str) -> None:
    store = _chain(db_url, 5)
    with Session(store.engine) as s:
        cp = audit.checkpoint(s, KEY, "trial-uid")
    assert cp["last_id"] == 5 and set(cp) == {"trial", "last_id", "last_hash", "at", "mac"}
    assert _verify(store, checkpoints=[cp], trial_uid="trial-uid") is None
    # delete the last two events and make the head point at event 3: a valid shorter chain
    drop_triggers(store.engine)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id > 3"))
        conn.execute(
            text(
                "UPDATE audit_head SET last_id = 3, "
                "last_hash = (SELECT hash FROM audit_event WHERE id = 3)"
            )
        )
    assert _verify(store) is None  # without the external checkpoint: undetectable
    broken = _verify(store, checkpoints=[cp], trial_uid="trial-uid")
    assert broken is not None and broken.event_id == 4
    assert "events removed from the end" in broken.problem
    # a checkpoint not made with the key, or of another trial, is refused
    forged = {**cp, "last_id": 3, "mac": "0" * 64}
    broken = _verify(store, checkpoints=[forged])
    assert broken is not None and "MAC is wrong" in broken.problem
    broken = _verify(store, checkpoints=[cp], trial_uid="another")
    assert broken is not None and "another trial" in broken.problem


# ----------------------------------------------------------------------------- triggers


def _counts(engine: Any) -> dict[str, int]:
    tables = ["audit_event", "audit_head", "allocation", "participant", "visit", "response"]
    tables += ["response_revision", "unblinding"]
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}


REFUSED = [
    "UPDATE audit_event SET reason = 'edited' WHERE id = 2",
    "UPDATE audit_event SET hash = prev_hash",
    "DELETE FROM audit_event WHERE id = 2",
    "DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)",
    "DELETE FROM audit_event",
    "DELETE FROM audit_head",
    "UPDATE allocation SET arm = 'sham'",
    "UPDATE allocation SET arm = 'resolve'",
    "UPDATE allocation SET position = position + 100",
    "DELETE FROM allocation",
    "DELETE FROM participant",
    "DELETE FROM visit",
    "DELETE FROM response",
    "UPDATE response_revision SET reason = 'edited'",
    "DELETE FROM response_revision",
    "UPDATE unblinding SET reason = 'edited'",
    "DELETE FROM unblinding",
]
PG_REFUSED = [
    "TRUNCATE audit_event",
    "TRUNCATE audit_head",
    "TRUNCATE allocation CASCADE",
]


def test_triggers_refuse_changes_to_the_record(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trial = build_trial(db_url)
    engine = trial.engine
    before = _counts(engine)
    assert all(before.values()), before  # every protected table holds rows
    statements = REFUSED + (PG_REFUSED if engine.dialect.name == "postgresql" else [])
    for statement in statements:
        with pytest.raises(DBAPIError, match=APPEND_ONLY), engine.begin() as conn:
            conn.execute(text(statement))
    assert _counts(engine) == before
    assert verify(capsys, db_url) == (0, "")


# ----------------------------------------------------------------------------- downgrade


def _downgrade(store: Store) -> None:
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")


def test_downgrade_is_refused_on_a_database_with_trial_data(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trial = build_trial(db_url, data=False)
    store = Store(db_url)
    tables = set(inspect(store.engine).get_table_names())
    with pytest.raises(RuntimeError, match="refusing to downgrade"):
        _downgrade(store)
    assert current_revision(store.engine) == head_revision()
    assert set(inspect(store.engine).get_table_names()) == tables
    assert verify(capsys, db_url) == (0, "")
    # a trial with no participant yet still holds its audit trail: refused too
    assert len(events(trial.engine)) > 4


def test_downgrade_works_on_an_empty_database(db_url: str) -> None:
    store = Store(db_url, create=True)
    upgrade(store.engine)
    _downgrade(store)
    assert current_revision(store.engine) is None
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    upgrade(store.engine)  # and back up again
    assert current_revision(store.engine) == head_revision()


# ----------------------------------------------------------------------------- schema versions


def test_a_newer_schema_is_refused(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    build_trial(db_url, data=False)
    with Store(db_url).engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaVersionError, match=r"revision 9999\) is newer"):
        Store(db_url).run(lambda s: s.execute(text("SELECT 1")).scalar_one())
    with pytest.raises(SchemaVersionError, match="newer"):
        Store(db_url, read_only=True).run(lambda s: 1)
    for argv in (
        ["trial", "audit", "verify", "--db", db_url, "--user", ADMIN],
        ["trial", "participants", "--db", db_url, "--user", ADMIN],
        ["users", "list", "--db", db_url, "--user", ADMIN],
    ):
        code, out, err = cli(capsys, *argv)
        assert code == 2, argv
        assert err.count("\n") == 1 and err.startswith("resolve: error: ")
        assert "revision 9999" in err and "newer" in err and out == ""
    keys = Path(os.environ["RESOLVE_KEY_DIR"])
    before = set(keys.iterdir())
    code, out, err = cli(capsys, "trial", "init", "--db", db_url, "--user", ADMIN, "--no-password")
    assert code == 2
    assert err.count("\n") == 1 and "newer" in err and "Traceback" not in err
    assert set(keys.iterdir()) == before  # no key written for a trial never made
    with Store(db_url).engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "9999"


def test_an_older_schema_is_refused(db_url: str) -> None:
    build_trial(db_url, data=False)
    with Store(db_url).engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(SchemaVersionError, match=r"older .* migrate it first"):
        Store(db_url).run(lambda s: 1)


def test_a_database_without_schema_is_refused(db_url: str) -> None:
    with pytest.raises(StoreError, match="no trial schema"):
        Store(db_url, create=True).run(lambda s: 1)


# ----------------------------------------------------------------------------- SQLite files


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "trial.db"
    old = os.umask(0)  # modes must not depend on a permissive umask
    try:
        build_trial(str(db), demo_seed=3, data=False)

        def modes(_: Session) -> dict[str, int]:
            return {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in tmp_path.iterdir()
                if p.name.startswith("trial.db")
            }

        seen = Store(db).run(modes)  # inside a write: -wal, -shm and the writer lock exist
    finally:
        os.umask(old)
        _dispose(normalise_url(db))
    assert set(seen) == {"trial.db", "trial.db-wal", "trial.db-shm", "trial.db.writer-lock"}
    assert set(seen.values()) == {0o600}, seen


# ----------------------------------------------------------------------------- read-only copies


@contextmanager
def _read_only_folder(folder: Path) -> Iterator[None]:
    """Make ``folder`` and its files read-only (0555/0444) for the duration.

    Root ignores permission bits, so under root ``os.access`` is made to answer
    as it would for the files' owner without root's override (the store asks it
    whether it may write beside the database).
    """
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    mp = pytest.MonkeyPatch()
    if os.geteuid() == 0:
        real = os.access

        def access(path: Any, mode: int, **kw: Any) -> bool:
            p = Path(path)
            if (p == folder or folder in p.parents) and mode & os.W_OK:
                return bool(p.stat().st_mode & stat.S_IWUSR)
            return real(path, mode, **kw)

        mp.setattr(os, "access", access)
    try:
        yield
    finally:
        mp.undo()
        folder.chmod(0o755)
        for p in folder.iterdir():
            p.chmod(0o644)
        for p in folder.iterdir():
            _dispose(normalise_url(p))


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def live_db(tmp_path: Path) -> Iterator[Path]:
    """A SQLite file path in its own folder (engines disposed afterwards)."""
    db = tmp_path / "live" / "trial.db"
    db.parent.mkdir()
    yield db
    _dispose(normalise_url(db))


def test_a_read_only_copy_can_be_verified_and_listed(
    live_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = live_db
    build_trial(str(db))
    n_events = len(events(Store(db).engine))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy2(db, copy / "trial.db")
    with _read_only_folder(copy):
        before = _snapshot(copy)
        code, out, err = cli(
            capsys, "trial", "audit", "verify", "--db", str(copy / "trial.db"), "--user", ADMIN
        )
        assert (code, err) == (0, "") and "intact" in out
        code, out, err = cli(
            capsys, "trial", "audit", "log", "--db", str(copy / "trial.db"), "--user", ADMIN
        )
        assert code == 0 and err == ""
        assert len(out.splitlines()) == n_events
        listed = ops.Client(copy / "trial.db", user=ADMIN, read_only=True).run(ops.participants)
        assert list(listed["participant_id"]) == ["P001", "P002", "P003", "P004"]
        code, out, err = cli(
            capsys, "trial", "schedule", "--db", str(copy / "trial.db"), "--user", ADMIN
        )
        assert code == 0 and "baseline" in out
        assert _snapshot(copy) == before  # nothing written, no -wal/-shm/lock file made


def test_a_read_only_copy_of_a_live_database_reads_its_wal(
    live_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Copying db, -wal and -shm of a database in use: verify sees the committed WAL too."""
    db = live_db
    build_trial(str(db), data=False)
    with sqlite3.connect(db) as reader:  # an open connection keeps the WAL from being folded in
        reader.execute("SELECT COUNT(*) FROM trial").fetchone()
        ops.Client(db, user=ENROLLER).run(ops.withdraw, "P002", reason="moved away")
        n_events = len(events(Store(db).engine))
        copy = tmp_path / "copy"
        copy.mkdir()
        for suffix in ("", "-wal", "-shm"):
            shutil.copy2(f"{db}{suffix}", copy / f"trial.db{suffix}")
    assert (copy / "trial.db-wal").stat().st_size > 0
    with _read_only_folder(copy):
        code, out, err = cli(
            capsys, "trial", "audit", "log", "--db", str(copy / "trial.db"), "--user", ADMIN
        )
        assert code == 0 and len(out.splitlines()) == n_events  # not a stale snapshot
        assert "withdraw" in out.splitlines()[-1]
        assert verify(capsys, str(copy / "trial.db")) == (0, "")
    # the -wal without its -shm cannot be read in a read-only folder: a clear error, not stale data
    (copy / "trial.db-shm").unlink()
    with _read_only_folder(copy):
        code, err = verify(capsys, str(copy / "trial.db"))
        assert code == 2 and "checkpoint" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- bounded waits

DEADLINE = 2.0


def _timed(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    start = time.monotonic()
    try:
        call()
    except Exception as exc:  # the error is the result under test
        return exc, time.monotonic() - start
    return None, time.monotonic() - start


def _consented(db_url: str) -> None:
    build_trial(db_url, data=False)
    rc = ops.Client(db_url, user=ENROLLER)
    rc.run(ops.screen, "P010", age=50, duration_weeks=20, pain=6, identity="1970-05-05 ZZ")
    rc.run(ops.consent, "P010", version="1.0")


def _randomise_busy(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    client = ops.Client(Store(db_url, deadline=DEADLINE), user=ENROLLER)
    exc, elapsed = _timed(lambda: client.run(ops.randomise, "P010"))
    assert isinstance(exc, StoreBusyError), exc
    assert "try again" in str(exc)
    assert DEADLINE * 0.75 <= elapsed <= DEADLINE * 3 + 2, elapsed
    # readers are not blocked by the held write lock
    assert verify(capsys, db_url) == (0, "")


def test_lock_waits_are_bounded(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _consented(db_url)
    store = Store(db_url)
    if store.is_sqlite:
        path = store.sqlite_path
        assert path is not None
        # another process's write transaction (BEGIN IMMEDIATE holds SQLite's write lock)
        holder = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            _randomise_busy(db_url, capsys)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # another writer queued on the writer-lock file
        fd = os.open(f"{path}.writer-lock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            _randomise_busy(db_url, capsys)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    else:
        # another session holds the stratum's counter row
        with store.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM stratum FOR UPDATE")).all()
            _randomise_busy(db_url, capsys)
    # released: the same operation goes through at once
    arm = ops.Client(Store(db_url, deadline=DEADLINE), user=ENROLLER).run(ops.randomise, "P010")
    assert arm in {"sham", "resolve"}
    assert verify(capsys, db_url) == (0, "")


# ----------------------------------------------------------------------------- classify


class _OrigError(Exception):
    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _error(
    sqlstate: str | None, message: str = "boom", cls: type[DBAPIError] = DBAPIError
) -> DBAPIError:
    return cls("SELECT 1", {}, _OrigError(message, sqlstate))


@pytest.mark.parametrize(
    "sqlstate", ["57P03", "57P01", "57P02", "08006", "08001", "40001", "40P01", "55P03", "53300"]
)
def test_classify_retries_transient_failures(sqlstate: str) -> None:
    assert classify(_error(sqlstate)) == "retry"
    assert classify(_error(sqlstate, cls=OperationalError)) == "retry"


def test_classify_conflicts_and_failures() -> None:
    assert classify(_error("23505", "duplicate key value", cls=IntegrityError)) == "conflict"
    assert classify(_error("23505", "duplicate key value")) == "conflict"
    assert (
        classify(_error(None, "UNIQUE constraint failed: app_user.name", cls=IntegrityError))
        == "conflict"
    )
    assert classify(_error(None, "database is locked", cls=OperationalError)) == "retry"
    assert classify(_error("42601", "syntax error")) == "fail"
    assert classify(_error("42501", "resolve: DELETE on allocation is not allowed")) == "fail"
    assert classify(_error(None, "no such table: trial")) == "fail"
    invalidated = DBAPIError("SELECT 1", {}, _OrigError("gone", None), connection_invalidated=True)
    assert classify(invalidated) == "retry"


def test_retries_stop_at_the_deadline(db_url: str) -> None:
    """A unit of work that keeps failing transiently gives StoreBusyError after the deadline."""
    store = Store(db_url, create=True, deadline=1)
    upgrade(store.engine)
    calls = []

    def work(_: Session) -> None:
        calls.append(1)
        raise _error("40001", "could not serialize access", cls=OperationalError)

    exc, elapsed = _timed(lambda: store.run(work))
    assert isinstance(exc, StoreBusyError) and "could not serialize" in str(exc)
    assert len(calls) > 1 and 0.5 <= elapsed <= 4
    calls.clear()

    def fails(_: Session) -> None:
        calls.append(1)
        raise _error("42601", "syntax error")

    with pytest.raises(StoreError, match="syntax error"):
        store.run(fails)
    assert len(calls) == 1  # not retried


# ----------------------------------------------------------------------------- the whole trial


def test_trial_records_verify_after_every_kind_of_change(db_url: str) -> None:
    trial: Trial = build_trial(db_url)
    problem = ops.Client(db_url, user=ADMIN, read_only=True).run(ops.verify_trial)
    assert problem is None
    with Session(trial.engine) as s:
        assert s.scalar(select(func.count()).select_from(Allocation)) == 4
        assert s.scalar(select(func.count()).select_from(Participant)) == 4
        resp = s.execute(select(Response).order_by(Response.id)).scalars().all()
        assert [r.revision for r in resp] == [2, 1]
