"""Engine factory: SQLite (a file, WAL mode) by default, PostgreSQL by URL.

Only this package and :mod:`resolve.trial.service` import SQLAlchemy, so the
core of ``resolve`` stays light.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from resolve.errors import DataValidationError

__all__ = ["BUSY_TIMEOUT_MS", "READ_ONLY", "is_sqlite", "make_engine", "normalise_url"]

#: How long a SQLite connection waits for a competing writer before failing.
BUSY_TIMEOUT_MS = 60_000

_SUPPORTED = ("sqlite", "postgresql")


def normalise_url(db: str | Path) -> str:
    """Turn a SQLite file path or a database URL into a SQLAlchemy URL.

    Parameters
    ----------
    db : str or Path
        A file path (``trial.db``), ``sqlite:///trial.db`` or
        ``postgresql+psycopg://user:pass@host/db``. ``postgresql://`` is read as
        ``postgresql+psycopg://``.

    Returns
    -------
    str
        The URL, with the driver made explicit.

    Raises
    ------
    DataValidationError
        For an empty value or an unsupported database.

    Examples
    --------
    >>> normalise_url("trial.db")
    'sqlite:///trial.db'
    >>> normalise_url("postgresql://u@localhost/t")
    'postgresql+psycopg://u@localhost/t'
    """
    text = str(db).strip()
    if not text:
        raise DataValidationError("--db: empty database path or URL")
    if "://" not in text:
        return f"sqlite:///{text}"
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise DataValidationError(f"--db: cannot parse database URL {text!r}: {exc}") from None
    backend = url.get_backend_name()
    if backend not in _SUPPORTED:
        raise DataValidationError(
            f"--db: unsupported database {backend!r}; use a SQLite file path, "
            "sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
        )
    if backend == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE itself (pysqlite's
    # implicit transactions would otherwise start a deferred one).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


#: Key of ``Connection.info`` that marks a read-only transaction (plain ``BEGIN``).
READ_ONLY = "resolve_read_only"


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at the start of every writing transaction: concurrent
    # writers queue on busy_timeout instead of failing on lock upgrade. Readers
    # (marked in conn.info) take no lock in WAL mode.
    conn.exec_driver_sql("BEGIN" if conn.info.get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_engine(db: str | Path, *, echo: bool = False) -> Engine:
    """Create an engine for a SQLite file or a PostgreSQL URL.

    Parameters
    ----------
    db : str or Path
        See :func:`normalise_url`.
    echo : bool, default False
        Log SQL statements.

    Returns
    -------
    sqlalchemy.Engine
        SQLite engines run in WAL mode with foreign keys on, a busy timeout
        and ``BEGIN IMMEDIATE`` transactions; PostgreSQL engines use psycopg 3.

    Raises
    ------
    DataValidationError
        For an unsupported URL or a SQLite file in a missing folder.
    """
    url = normalise_url(db)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            folder = Path(database).expanduser().resolve().parent
            if not folder.is_dir():
                raise DataValidationError(f"--db: folder {folder} does not exist")
        engine = create_engine(
            url,
            echo=echo,
            poolclass=NullPool,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def sqlite_error_is_busy(exc: BaseException) -> bool:
    """Whether a DBAPI error is SQLite's "database is locked/busy"."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )
