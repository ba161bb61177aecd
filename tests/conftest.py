"""Shared fixtures: seeded data and the location of the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rhtann

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


@pytest.fixture
def one_thread():
    """Run the test with one thread for rhtann's kernels and faiss.

    Tests made of many small batches or small faiss builds run faster and
    steadier that way on the 2 shared CI cores (no parallel launch per batch,
    no OpenMP spinning against numba's pool).
    """
    before = rhtann.get_num_threads()
    rhtann.set_num_threads(1)
    yield
    rhtann.set_num_threads(before)


@pytest.fixture(scope="module")
def one_thread_module():
    """:func:`one_thread` for a whole test module."""
    before = rhtann.get_num_threads()
    rhtann.set_num_threads(1)
    yield
    rhtann.set_num_threads(before)
