"""Shared fixtures: a fixed-seed random generator."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20221004)


@pytest.fixture(autouse=True)
def _private_key_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trial keys created by tests go to a temporary folder, never ~/.config/resolve/keys."""
    monkeypatch.setenv("RESOLVE_KEY_DIR", str(tmp_path_factory.mktemp("keys")))
    for name in ("RESOLVE_TRIAL_KEY", "RESOLVE_TRIAL_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
