"""Bundled example data and the seeded scripts that made them.

``resolve``
    A synthetic RESOLVE-like trial, long format (``make_resolve.py``).
``resolve_screening``
    **Simulated** screening counts for that trial (assessed for eligibility,
    exclusions with reasons, randomised) in the format of the trial export's
    ``consort.csv`` (``make_resolve_screening.py``; the published RESOLVE
    screening numbers were not available).
``example_responses``
    Example questionnaire responses for the instruments.

Examples
--------
>>> from resolve import datasets
>>> responses = datasets.load("example_responses")
>>> len(responses), responses.columns[0]
(40, 'id')
>>> log = datasets.load("resolve_screening")
>>> int(log.loc[log.measure == "randomised", "n"].iloc[0])
276
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from resolve.errors import UnknownNameError

__all__ = ["available", "load", "path"]

_FILES = {
    "example_responses": "example_responses.csv",
    "resolve": "resolve.csv",
    "resolve_screening": "resolve_screening.csv",
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
