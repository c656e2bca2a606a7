"""Bundled example data and the seeded scripts that made them.

Examples
--------
>>> from resolve import datasets
>>> responses = datasets.load("example_responses")
>>> len(responses), responses.columns[0]
(40, 'id')
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from resolve.errors import UnknownNameError

__all__ = ["available", "load", "path"]

_FILES = {
    "example_responses": "example_responses.csv",
    "resolve": "resolve.csv",
}


def available() -> tuple[str, ...]:
    """Names of the bundled data sets."""
    return tuple(_FILES)


def path(name: str) -> str:
    """File path of a bundled data set."""
    if name not in _FILES:
        raise UnknownNameError(f"unknown data set {name!r}; available: {', '.join(_FILES)}")
    return str(resources.files("resolve.datasets").joinpath(_FILES[name]))


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set as a DataFrame (empty cells are missing values)."""
    return pd.read_csv(path(name))
