"""Fixtures for the MMRM tests: reference data from ``shared/reference/mmrm``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sas_listing import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.fail(f"reference folder {path} not found; set RESOLVE_SHARED")
    return path


@pytest.fixture(scope="session")
def fev(shared: Path) -> pd.DataFrame:
    # golden data: shared/reference/mmrm/fev_data.csv
    return pd.read_csv(shared / "fev_data.csv")


@pytest.fixture(scope="session")
def bcva(shared: Path) -> pd.DataFrame:
    # golden data: shared/reference/mmrm/bcva_data.csv
    return pd.read_csv(shared / "bcva_data.csv")
