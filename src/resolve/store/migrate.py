"""Apply the packaged Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "current_revision",
    "head_revision",
    "known_revisions",
    "upgrade",
]

#: Folder of the packaged migration scripts.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of ``resolve``."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or ""


def known_revisions() -> frozenset[str]:
    """Every revision shipped with this version of ``resolve``."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def current_revision(engine: Engine) -> str | None:
    """The revision a database is at (None if never migrated)."""
    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return rev


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: newest).

    Raises
    ------
    SchemaVersionError
        The database is at a revision this version of ``resolve`` does not know
        (made by a newer one): never touched.
    """
    config = alembic_config()
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and current not in known_revisions():
            from resolve.store.uow import SchemaVersionError

            raise SchemaVersionError(
                f"the database schema (revision {current}) is newer than this version of "
                f"resolve knows (up to {head_revision()}); use a newer resolve"
            )
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
