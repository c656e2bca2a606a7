"""Tidy result base shared by every analysis.

A result is immutable and offers three views: ``to_frame()`` (a tidy table with
stable snake_case columns), ``to_dict()`` (JSON-ready, for the web app and
``--json``) and ``summary()`` (text for people).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Result", "jsonable"]


def jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars and containers to plain JSON-ready Python.

    NaN and infinities become ``None`` so that the output is strict JSON.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return [jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


class Result(ABC):
    """Base class of tidy, immutable results."""

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """Return the result as a tidy table."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain Python objects."""

    @abstractmethod
    def summary(self) -> str:
        """Return a human-readable summary."""

    def __str__(self) -> str:
        return self.summary()
