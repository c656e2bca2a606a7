"""The ``db_url`` fixture: a fresh trial database on SQLite and, when configured, PostgreSQL.

Set ``RESOLVE_TEST_POSTGRES_URL`` to an admin URL (a role allowed to create
databases, e.g. ``postgresql+psycopg://resolve_test:resolve_test@localhost/resolve_test_admin``;
``.ci/run`` sets it up) to run every store test on PostgreSQL too. Each test
gets its own uniquely named database, dropped afterwards.

Without the variable the PostgreSQL variants are skipped (one reason, see
``SKIP_REASON``). With it set but the server unreachable they are skipped too,
except under CI (``CI=true``), where that is a failure: CI must not pass with
the PostgreSQL tests silently skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ENV = "RESOLVE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]
SKIP_REASON = f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run; README 'Trial operations')"
CONNECT_TIMEOUT_S = 5

#: Admin URL -> why it is unusable ("" when it works); checked once per session.
_PROBED: dict[str, str] = {}


def _admin_connect(admin_url: str):  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    return psycopg.connect(
        host=url.host or "localhost",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_S,
    )


def _probe(admin_url: str) -> str:
    """Why the PostgreSQL server at ``admin_url`` is unusable, or "" when it answers."""
    if admin_url not in _PROBED:
        try:
            with _admin_connect(admin_url) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # ImportError (no psycopg), OperationalError, bad URL
            _PROBED[admin_url] = " ".join(f"{type(exc).__name__}: {exc}".split())
        else:
            _PROBED[admin_url] = ""
    return _PROBED[admin_url]


def _require_postgres() -> str:
    """The admin URL; skip (or, under CI, fail) when PostgreSQL is not usable."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(SKIP_REASON)
    problem = _probe(admin)
    if problem:
        message = f"{POSTGRES_ENV} is set but PostgreSQL is unreachable: {problem}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return admin


def _dispose(url: str) -> None:
    from resolve.store import uow

    for key in [k for k in uow._ENGINES if k[0] == url]:
        uow._ENGINES.pop(key).dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'trial.db'}"
        yield url
        _dispose(url)
        return
    admin = _require_postgres()
    from sqlalchemy.engine import make_url

    name = f"resolve_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect(admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _dispose(url)
        _drop(admin, name)


def _drop(admin: str, name: str) -> None:
    """Drop a test database; retry when a background worker (autovacuum) holds it briefly."""
    import time

    import psycopg

    for attempt in range(5):
        try:
            with _admin_connect(admin) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.Error:
            if attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
