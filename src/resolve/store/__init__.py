"""Operational store of a trial: SQLAlchemy models, engine factory, migrations, audit.

Importing this package imports SQLAlchemy (installed with ``resolve[trial]``);
the core of ``resolve`` never imports it.
"""

from __future__ import annotations

from resolve.store.engine import make_engine, normalise_url
from resolve.store.migrate import upgrade

__all__ = ["make_engine", "normalise_url", "upgrade"]
