"""Base of every programme record: frozen, strict, JSON round trip, located errors.

Records (session logs, blocks, decisions, quiz results ...) are pydantic models
derived from :class:`Record`: unknown keys are refused, types are strict (a boolean is
never a number), and :meth:`Record.to_dict` / :meth:`Record.from_dict` give a JSON
round trip. :meth:`Record.from_dict` turns any problem into one
:class:`~resolve.errors.DataValidationError` line naming the source and the key, so
the store and the web layer can pass user input straight in.

Examples
--------
>>> class Note(Record):
...     week: int
...     text: str
>>> Note.from_dict({"week": 2, "text": "ok"}).to_dict()
{'week': 2, 'text': 'ok'}
>>> Note.from_dict({"week": "2", "text": "ok"}, source="note")
Traceback (most recent call last):
...
resolve.errors.DataValidationError: note: 'week': must be an integer; got '2'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from resolve._schema import Table, validate
from resolve.errors import DataValidationError

__all__ = ["Record", "check_seed", "rng"]


class Record(Table):
    """Base of programme records (frozen, unknown keys refused, strict types)."""

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (``json.dumps`` takes it as is)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Self:
        """Validate ``data`` (e.g. :meth:`to_dict` output or a web form) into a record.

        Raises
        ------
        DataValidationError
            Naming ``source`` (default: the record type), the key and the value.
        """
        return validate(cls, dict(data), source or cls.__name__)


def check_seed(seed: object) -> int:
    """``seed`` if it is an integer >= 0, else :class:`DataValidationError`.

    Examples
    --------
    >>> check_seed(7)
    7
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataValidationError(f"seed must be an integer >= 0; got {seed!r}")
    return int(seed)


def rng(seed: object) -> np.random.Generator:
    """A NumPy generator from a checked ``seed``."""
    return np.random.default_rng(check_seed(seed))


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None or not finite."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None
