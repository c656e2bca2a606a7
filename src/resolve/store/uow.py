"""Unit of work: one transaction per operation, bounded waits, retries, error mapping.

:class:`Store` owns everything about talking to the database that operations
should not care about: the (cached) engine, SQLite's writer queue, retries of
transient failures within a deadline, the schema-version check, read-only
access (also to read-only copies of a SQLite file) and the mapping of driver
errors to :class:`StoreError` messages that name no command-line flag.

Transient failures retried until :attr:`Store.deadline` (default
:data:`DEFAULT_DEADLINE_S`) with jittered exponential backoff: serialisation
failures and deadlocks (SQLSTATE 40001, 40P01), lock timeouts (55P03), too many
connections (53300), a server starting up or shutting down (57P01-57P03),
connection failures (class 08) and SQLite's "database is locked". A lock held
longer than the deadline gives :class:`StoreBusyError`; nothing ever waits
unboundedly (SQLite ``busy_timeout`` and PostgreSQL ``lock_timeout`` are set to
the deadline).

Examples
--------
>>> import tempfile, pathlib
>>> from sqlalchemy import text
>>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "x.db", create=True)
>>> store.run_unchecked(lambda s: s.execute(text("select 1")).scalar_one())
1
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from resolve.errors import ResolveError
from resolve.store.engine import normalise_url

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_DEADLINE_S",
    "SchemaVersionError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "classify",
]

T = TypeVar("T")

#: Longest time an operation waits for locks or a reachable server, in seconds.
DEFAULT_DEADLINE_S = 30.0

_RETRY_SQLSTATES = {"40001", "40P01", "55P03", "53300", "57P01", "57P02", "57P03"}
_RETRY_TEXT = (
    "database is locked",
    "database is busy",
    "too many clients",
    "remaining connection slots",
    "could not serialize",
    "deadlock",
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "connection is closed",
    "consuming input failed",
)


class StoreError(ResolveError, RuntimeError):
    """The database could not be reached, or refused a statement."""


class StoreBusyError(StoreError):
    """Locks or an unreachable server outlasted the deadline."""


class SchemaVersionError(StoreError):
    """The database's schema is not the one this version of resolve knows."""


def classify(exc: DBAPIError) -> str:
    """``"retry"`` (transient), ``"conflict"`` (integrity error) or ``"fail"``."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if isinstance(exc, IntegrityError) or sqlstate.startswith("23"):
        return "conflict"
    if sqlstate in _RETRY_SQLSTATES or sqlstate.startswith("08"):
        return "retry"
    if exc.connection_invalidated:
        return "retry"
    text = str(orig).lower()
    return "retry" if any(t in text for t in _RETRY_TEXT) else "fail"


def _message(exc: DBAPIError) -> str:
    return " ".join(str(exc.orig).split())


def _no_schema(exc: DBAPIError) -> bool:
    text = _message(exc)
    return getattr(exc.orig, "sqlstate", None) == "42P01" or "no such table" in text


# ----------------------------------------------------------------------------- engines
_ENGINES: dict[tuple[str, bool, float], Engine] = {}
#: Key of ``Connection.info`` marking a read-only transaction (SQLite: plain BEGIN).
READ_ONLY = "resolve_read_only"


def _sqlite_connect_hook(read_only: bool, busy_ms: int) -> Callable[..., None]:
    def hook(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            if not read_only:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return hook


def _sqlite_begin(conn: object) -> None:
    # Writers take the write lock at BEGIN (queue on busy_timeout instead of failing
    # on lock upgrade); readers take no lock in WAL mode.
    info = conn.info  # type: ignore[attr-defined]
    conn.exec_driver_sql("BEGIN" if info.get(READ_ONLY) else "BEGIN IMMEDIATE")  # type: ignore[attr-defined]


def _sqlite_engine(path: str, *, read_only: bool, deadline: float) -> Engine:
    busy_ms = int(deadline * 1000)
    if read_only:
        uri = Path(path).resolve().as_uri()
        # mode=ro reads a live database; immutable=1 also reads a read-only copy whose
        # folder does not allow SQLite's shared-memory file.
        writable = os.access(Path(path).resolve().parent, os.W_OK) and os.access(path, os.W_OK)
        # immutable=1 would ignore a copied write-ahead log (a stale read): with a
        # non-empty -wal, read it through its -shm (SQLite >= 3.22 does, read-only).
        wal = Path(f"{path}-wal")
        has_wal = wal.exists() and wal.stat().st_size > 0
        if not writable and has_wal and not Path(f"{path}-shm").exists():
            raise StoreError(
                f"{path}: a read-only copy with a write-ahead log ({wal.name}) but no "
                f"{Path(path).name}-shm cannot be read; copy all three files, or checkpoint "
                "the database (PRAGMA wal_checkpoint(TRUNCATE)) before copying it"
            )
        query = "mode=ro" if writable or has_wal else "mode=ro&immutable=1"
        engine = create_engine(
            "sqlite://",
            poolclass=NullPool,
            creator=lambda: sqlite3.connect(
                f"{uri}?{query}", uri=True, timeout=deadline, check_same_thread=False
            ),
        )
    else:
        engine = create_engine(
            f"sqlite:///{path}",
            poolclass=NullPool,
            connect_args={"timeout": deadline, "check_same_thread": False},
        )
    event.listen(engine, "connect", _sqlite_connect_hook(read_only, busy_ms))
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _postgres_engine(url: str, *, read_only: bool, deadline: float) -> Engine:
    ms = int(deadline * 1000)
    options = f"-c lock_timeout={ms} -c idle_in_transaction_session_timeout={ms * 4}"
    if read_only:
        options += " -c default_transaction_read_only=on"
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"options": options, "connect_timeout": max(1, int(deadline // 3))},
    )


def _back_off(until: float, delay: float, cap: float, why: str) -> float:
    """Sleep a jittered ``delay`` (never past the deadline) and return the next one.

    Gives up with :class:`StoreBusyError` once the deadline has passed, so an
    operation keeps trying for the whole deadline and not longer.
    """
    remaining = until - time.monotonic()
    if remaining <= 0:
        raise StoreBusyError(f"{why}; try again")
    time.sleep(min(delay * (0.5 + random.random()), remaining))
    return min(delay * 2, cap)


def _create_private_file(path: Path) -> None:
    """Create an empty SQLite file with mode 0600 (before SQLite creates it 0644)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)


# ----------------------------------------------------------------------------- store
class Store:
    """A trial database: run units of work against it.

    Parameters
    ----------
    db : str, Path or Engine
        A SQLite file path, ``sqlite:///FILE`` or ``postgresql+psycopg://...``.
    create : bool, default False
        Allow creating a new SQLite file (mode 0600); otherwise a missing file
        is an error (never an empty database created by mistake).
    read_only : bool, default False
        Open read-only (SQLite ``mode=ro``; PostgreSQL read-only transactions);
        works on read-only copies of a SQLite file.
    deadline : float
        Seconds an operation may spend waiting for locks or retrying.
    """

    def __init__(
        self,
        db: str | Path | Engine,
        *,
        create: bool = False,
        read_only: bool = False,
        deadline: float = DEFAULT_DEADLINE_S,
    ) -> None:
        self.read_only = read_only
        self.deadline = float(deadline)
        self._schema_checked = False
        if isinstance(db, Engine):
            self.engine = db
            self.sqlite_path: Path | None = None
            return
        url = normalise_url(db)
        self.sqlite_path = None
        if url.startswith("sqlite"):
            database = make_url(url).database
            if not database or database == ":memory:":
                raise StoreError("an in-memory SQLite database cannot hold a trial")
            path = Path(database).expanduser()
            if not path.parent.is_dir():
                raise StoreError(f"folder {path.parent} does not exist")
            if not path.exists():
                if not create or read_only:
                    raise StoreError(f"no trial database at {path}")
                _create_private_file(path)
            self.sqlite_path = path.resolve()
        cache_key = (url, read_only, self.deadline)
        engine = _ENGINES.get(cache_key)
        if engine is None:
            if self.sqlite_path is not None:
                engine = _sqlite_engine(
                    str(self.sqlite_path), read_only=read_only, deadline=self.deadline
                )
            else:
                engine = _postgres_engine(url, read_only=read_only, deadline=self.deadline)
            _ENGINES[cache_key] = engine
        self.engine = engine

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.engine.dialect.name == "sqlite"

    # ------------------------------------------------------------------ schema
    def check_schema(self) -> None:
        """Refuse a database whose schema is newer (or older) than this resolve's.

        Raises
        ------
        SchemaVersionError
            Newer: upgrade resolve. Older: migrate the database first.
        StoreError
            No trial schema at all.
        """
        if self._schema_checked:
            return
        from resolve.store.migrate import current_revision, head_revision, known_revisions

        current = self._retrying(lambda: current_revision(self.engine))
        head = head_revision()
        if current is None:
            raise StoreError("the database holds no trial schema")
        if current not in known_revisions():
            raise SchemaVersionError(
                f"the database schema (revision {current}) is newer than this version of "
                f"resolve knows (up to {head}); use a newer resolve"
            )
        if current != head:
            raise SchemaVersionError(
                f"the database schema (revision {current}) is older than this version of "
                f"resolve ({head}); migrate it first"
            )
        self._schema_checked = True

    # ------------------------------------------------------------------ running work
    @contextlib.contextmanager
    def _writer_queue(self, read_only: bool, until: float) -> Iterator[None]:
        """On SQLite, queue writers on an OS file lock beside the database (bounded wait).

        SQLite's busy handler polls with sleeps of up to 100 ms, leaving the
        database idle between hundreds of competing writers; the kernel lock
        hands over quickly and is released when a process dies.
        """
        if read_only or self.sqlite_path is None or fcntl is None:
            yield
            return
        lock_path = f"{self.sqlite_path}.writer-lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    why = f"the database stayed locked by another writer for {self.deadline:g} s"
                    delay = _back_off(until, delay, 0.02, why)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _retrying(self, call: Callable[[], T]) -> T:
        until = time.monotonic() + self.deadline
        delay = 0.01
        while True:
            try:
                return call()
            except DBAPIError as exc:
                kind = classify(exc)
                if kind != "retry":
                    raise self._error(exc) from exc
                why = (
                    f"the database stayed unavailable or locked for {self.deadline:g} s "
                    f"({_message(exc)})"
                )
                delay = _back_off(until, delay, 1.0, why)

    def run(self, work: Callable[[Session], T], *, read_only: bool | None = None) -> T:
        """Run ``work(session)`` in one transaction: commit all of it or nothing.

        Transient failures are retried (``work`` runs again from the start)
        until the deadline. A read-only store runs every unit read-only.
        """
        ro = self.read_only if read_only is None else (read_only or self.read_only)
        self.check_schema()

        def attempt() -> T:
            until = time.monotonic() + self.deadline
            with self._writer_queue(ro, until), self.engine.connect() as conn:
                conn.info[READ_ONLY] = ro
                with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
                    result = work(session)
                    # Objects added or changed after the unit's last query are still only
                    # pending in the session: flush them, or the commit would lose them.
                    session.flush()
                    return result

        return self._retrying(attempt)

    def run_unchecked(self, work: Callable[[Session], T]) -> T:
        """Like :meth:`run` without the schema check (for creating the schema)."""
        saved, self._schema_checked = self._schema_checked, True
        try:
            return self.run(work)
        finally:
            self._schema_checked = saved

    def _error(self, exc: DBAPIError) -> ResolveError:
        if _no_schema(exc):
            return StoreError("the database holds no trial schema")
        text = _message(exc)
        if isinstance(exc, IntegrityError):
            return StoreError(
                "the database refused a conflicting change (someone else may have made the "
                f"same change at the same moment; check and try again): {text}"
            )
        if "readonly" in text.replace(" ", "").lower() or "read-only" in text.lower():
            return StoreError(f"the database is read-only here: {text}")
        return StoreError(f"database error: {text}")
