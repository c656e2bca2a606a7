"""Every user-facing text of the web application, in one catalogue per language.

Templates and routes call :func:`t` with a message id; the English catalogue is
``messages/en.json`` (add ``messages/<lang>.json`` to translate; a missing id
falls back to English, a missing English id is an error caught by the tests).

Examples
--------
>>> t("login.title")
'Sign in'
>>> t("participants.count", n=3)
'3 participants'
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["DEFAULT_LANGUAGE", "catalogue", "t"]

DEFAULT_LANGUAGE = "en"


@functools.cache
def catalogue(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """The message catalogue of ``language`` (id -> text with ``{name}`` fields)."""
    path = resources.files("resolve.web").joinpath("messages").joinpath(f"{language}.json")
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def t(key: str, language: str = DEFAULT_LANGUAGE, **fields: Any) -> str:
    """The text of message ``key``, with ``fields`` filled in.

    Raises
    ------
    KeyError
        For an id missing from the English catalogue (a bug, caught by tests).
    """
    text = catalogue(language).get(key) if language != DEFAULT_LANGUAGE else None
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE)[key]
    return text.format(**fields) if fields else text
