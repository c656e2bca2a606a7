"""Shared fixtures: a fixed-seed random generator and the shared reference folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The shared/ folder beside the clone (override with RESOLVE_SHARED)."""
    env = os.environ.get("RESOLVE_SHARED")
    return Path(env) if env else ROOT.parent / "shared"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20221004)
