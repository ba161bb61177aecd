"""Shared fixtures: seeded data and the location of the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SIFTSMALL = SHARED / "data" / "siftsmall"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def siftsmall_dir() -> Path:
    """Folder of SIFT10K; the test is skipped when the shared data is absent."""
    if not (SIFTSMALL / "siftsmall_base.fvecs").exists():
        pytest.skip(f"SIFT10K not found under {SIFTSMALL}")
    return SIFTSMALL
