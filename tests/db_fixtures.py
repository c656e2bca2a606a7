"""The ``db_url`` fixture: a fresh trial database on SQLite and, when configured, PostgreSQL.

Set ``RESOLVE_TEST_POSTGRES_URL`` to an admin URL (a role allowed to create
databases, e.g. ``postgresql+psycopg://resolve_test:resolve_test@localhost/resolve_test_admin``;
``.ci/run`` sets it up) to run every store test on PostgreSQL too. Each test
gets its own uniquely named database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ENV = "RESOLVE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


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
    )


def _dispose(url: str) -> None:
    from resolve.trial import service

    engine = service._ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'trial.db'}"
        yield url
        _dispose(url)
        return
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} not set (see README, 'Trial operations')")
    from sqlalchemy.engine import make_url

    name = f"resolve_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect(admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _dispose(url)
        with _admin_connect(admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
