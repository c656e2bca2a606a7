"""Fixtures of the store tests."""

from tests.db_fixtures import db_url

__all__ = ["db_url"]
