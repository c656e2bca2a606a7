"""Alembic environment of the ``resolve`` store.

Run programmatically by :func:`resolve.store.migrate.upgrade`, which passes an
open connection in ``config.attributes["connection"]``; the ``alembic`` command
line works too, with ``sqlalchemy.url`` set in its configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

import resolve.store.models_web  # noqa: F401  (registers the web tables)
from resolve.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Apply migrations online, on the given connection or a new engine."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


try:
    _in_alembic = context.config is not None
except (AttributeError, NameError):  # imported outside a migration run (e.g. by doctest collection)
    _in_alembic = False

if _in_alembic:
    run_migrations()
