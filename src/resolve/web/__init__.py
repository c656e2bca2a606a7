"""The web application of a trial (``resolve serve``): pages and a JSON API over :mod:`resolve.ops`.

Needs the ``web`` extra (FastAPI, Jinja2, uvicorn); the core of ``resolve`` never imports it.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from resolve.web.app import create_app

        return create_app
    raise AttributeError(name)
