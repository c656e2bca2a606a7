"""Operational store of a trial: models, migrations, unit of work, audit chain, keys.

Importing this package imports SQLAlchemy (installed with ``resolve[trial]``);
the core of ``resolve`` never imports it.
"""

from __future__ import annotations

from resolve.store.engine import normalise_url
from resolve.store.migrate import upgrade
from resolve.store.uow import Store, StoreBusyError, StoreError

__all__ = ["Store", "StoreBusyError", "StoreError", "normalise_url", "upgrade"]
