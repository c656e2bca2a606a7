"""Fixtures of the CLI tests (the trial database)."""

from tests.db_fixtures import db_url

__all__ = ["db_url"]
