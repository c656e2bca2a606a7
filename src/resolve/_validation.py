"""Boundary checks used by every public entry point.

Each check raises :class:`~resolve.errors.DataValidationError` (or
:class:`~resolve.errors.UnknownNameError`) with one uniform message naming the
parameter or column, the allowed values and what was received.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from resolve.errors import DataValidationError, UnknownNameError

__all__ = [
    "Interval",
    "OneOf",
    "check_output_dir",
    "parse_toml",
    "require_columns",
    "require_unique",
    "show_values",
]


def show_values(values: Iterable[Any], limit: int = 5) -> str:
    """Format the first ``limit`` values of ``values`` plus a count of the rest."""
    items = list(values)
    head = ", ".join(repr(v) for v in items[:limit])
    if len(items) > limit:
        head += f" ... ({len(items) - limit} more)"
    return head


@dataclass(frozen=True)
class OneOf:
    """Constraint: the value must be one of ``options``."""

    name: str
    options: tuple[str, ...]

    def __call__(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise UnknownNameError(
                f"{self.name} must be one of {', '.join(self.options)}; got {value!r}"
            )
        return value


@dataclass(frozen=True)
class Interval:
    """Constraint: a real number in ``[low, high]`` (bounds optional, inclusive by default)."""

    name: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def describe(self) -> str:
        left = "[" if self.low_inclusive else "("
        right = "]" if self.high_inclusive else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{left}{low}, {high}{right}"

    def __call__(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataValidationError(
                f"{self.name} must be a number in {self.describe()}; got {value!r}"
            )
        v = float(value)
        ok = True
        if self.low is not None:
            ok &= v >= self.low if self.low_inclusive else v > self.low
        if self.high is not None:
            ok &= v <= self.high if self.high_inclusive else v < self.high
        if not ok or v != v:
            raise DataValidationError(
                f"{self.name} must be a number in {self.describe()}; got {value!r}"
            )
        return v


def require_columns(data: pd.DataFrame, columns: Collection[str], *, what: str = "data") -> None:
    """Raise if any of ``columns`` is absent from ``data``."""
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(f"{what} must be a pandas DataFrame; got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataValidationError(
            f"{what} lacks column(s) {show_values(missing)}; "
            f"available: {show_values(list(data.columns), limit=12)}"
        )


def require_unique(data: pd.DataFrame, keys: Sequence[str], *, what: str = "data") -> None:
    """Raise if rows of ``data`` are not unique on ``keys`` (e.g. subject and visit)."""
    dup = data.duplicated(subset=list(keys), keep=False)
    if dup.any():
        first = data.loc[dup, list(keys)].iloc[0]
        n = int(dup.sum())
        where = ", ".join(f"{k}={first[k]!r}" for k in keys)
        raise DataValidationError(
            f"{what} has {n} rows sharing a key ({where} is one); "
            f"rows must be unique on {', '.join(keys)}"
        )


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML ``text``; a syntax error names ``source`` (file name) and the position."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataValidationError(f"{source}: not valid TOML ({exc})") from None


def check_output_dir(path: str | Path) -> None:
    """Refuse an output directory that cannot be written, before any work starts.

    The directory may exist (its files are then replaced) or not (it is created,
    with missing parents). Writers put their files in a temporary directory beside
    it first (:func:`resolve.analysis.run.atomic_directory`), so its parent must be
    writable too. Messages name the path as given, never a temporary one.

    Parameters
    ----------
    path : str or Path
        The output directory as the user gave it (e.g. ``--out``).

    Raises
    ------
    DataValidationError
        ``path`` exists and is not a directory, a component of it is a file, or
        the directory (or the one it would be created in) is not writable.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> check_output_dir(root / "new" / "results")  # created later, by the writer
    >>> _ = (root / "notes.txt").write_text("x")
    >>> check_output_dir(root / "notes.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: .../notes.txt: exists and is not a directory
    """
    target = Path(path)
    if target.is_symlink() and not target.exists():
        raise DataValidationError(f"{path}: is a broken symbolic link")
    if target.exists() and not target.is_dir():
        raise DataValidationError(f"{path}: exists and is not a directory")
    existing = next((p for p in (target, *target.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise DataValidationError(f"{path}: cannot create it ({existing} is not a directory)")
    # the writer creates a temporary directory in the parent (or creates the parents)
    where = [existing] if existing != target else [target, target.absolute().parent]
    for folder in where:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise DataValidationError(f"{path}: cannot write there ({folder} is not writable)")
