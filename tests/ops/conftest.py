"""Fixtures of the service-layer (``resolve.ops``) tests."""

from tests.db_fixtures import db_url

__all__ = ["db_url"]
