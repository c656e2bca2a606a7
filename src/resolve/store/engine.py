"""Database URLs: a SQLite file path by default, PostgreSQL by URL.

Engines are made by :class:`resolve.store.uow.Store` (one place for pragmas,
timeouts and read-only access). Only :mod:`resolve.store` and :mod:`resolve.ops`
import SQLAlchemy, so the core of ``resolve`` stays light.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from resolve.errors import DataValidationError

__all__ = ["is_sqlite", "normalise_url"]

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
        raise DataValidationError("empty database path or URL")
    if "://" not in text:
        return f"sqlite:///{text}"
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise DataValidationError(f"cannot parse database URL {text!r}: {exc}") from None
    backend = url.get_backend_name()
    if backend not in _SUPPORTED:
        raise DataValidationError(
            f"unsupported database {backend!r}; use a SQLite file path, "
            "sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
        )
    if backend == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"
