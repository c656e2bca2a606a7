"""Fixtures shared by the analysis tests: the bundled trial and the bundled plan."""

from __future__ import annotations

import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.plan import Plan, load_plan


@pytest.fixture(scope="session")
def data() -> pd.DataFrame:
    """The bundled synthetic RESOLVE trial (long format)."""
    return datasets.load("resolve")


@pytest.fixture(scope="session")
def plan() -> Plan:
    """The bundled RESOLVE analysis plan."""
    return load_plan()
