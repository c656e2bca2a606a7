"""Fixtures for the MMRM tests: reference data from ``tests/reference/sas``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sas_listing import REFERENCE_DIR


@pytest.fixture(scope="session")
def shared() -> Path:
    """The in-repo golden folder (``tests/reference/sas``), kept under its old fixture name."""
    if not REFERENCE_DIR.is_dir():
        pytest.fail(f"reference folder {REFERENCE_DIR} not found (it is part of the repository)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def fev(shared: Path) -> pd.DataFrame:
    # golden data: tests/reference/sas/fev_data.csv
    return pd.read_csv(shared / "fev_data.csv")


@pytest.fixture(scope="session")
def bcva(shared: Path) -> pd.DataFrame:
    # golden data: tests/reference/sas/bcva_data.csv
    return pd.read_csv(shared / "bcva_data.csv")
