"""Files saved by an earlier rhtann still load and give the same results.

The fixtures under ``tests/data/compat/`` were written by
``tests/data/compat/generate.py`` with the version before the package was split
into layers; each ``*_expected.npz`` holds what that version returned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rhtann

HERE = Path(__file__).resolve().parent / "data" / "compat"
SEARCH_PARAMS = {"index_ivf_ids": {"nprobe": 2}}
# Kernels may reassociate sums differently between versions: the rotated
# values may move by a few float32 ulps of the row norm (about sqrt(d) * 2**-24).
ATOL = 1e-5


def _x() -> np.ndarray:
    return np.load(HERE / "x.npy")


@pytest.mark.parametrize("name", ["rht_pad", "rht_keep", "rht_auto"])
def test_saved_transform_loads_and_applies_the_same(name):
    rht = rhtann.load(HERE / f"{name}.rhtann")
    want = np.load(HERE / f"{name}_expected.npz")
    assert isinstance(rht, rhtann.RHT)
    assert rht.n_rounds == int(want["n_rounds"])
    x = _x()
    y = rht.apply(x)
    np.testing.assert_allclose(y, want["y"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(rht.reverse_transform(y), x, rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", ["index_sq4", "index_ivf_ids", "index_auto_cosine", "index_adaptive"])
def test_saved_index_loads_and_searches_the_same(name):
    index = rhtann.load(HERE / f"{name}.rhtann")
    want = np.load(HERE / f"{name}_expected.npz")
    assert isinstance(index, rhtann.Index)
    assert index.ntotal == int(want["ntotal"])
    dist, labels = index.search(np.load(HERE / "q.npy"), 5, **SEARCH_PARAMS.get(name, {}))
    np.testing.assert_array_equal(labels, want["I"])
    np.testing.assert_allclose(dist, want["D"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(index.reconstruct(want["keys"]), want["reconstructed"], atol=1e-4)


def test_ids_fixture_is_what_the_ivf_index_stores():
    index = rhtann.load(HERE / "index_ivf_ids.rhtann")
    ids = np.load(HERE / "ids.npy")
    _, labels = index.search(_x()[:5], 1, nprobe=4)
    assert np.isin(labels, ids).all()


def test_adaptive_fixture_stores_both_levels():
    index = rhtann.load(HERE / "index_adaptive.rhtann")
    counts = index.level_counts
    assert sorted(counts) == [1, 2]
    assert all(c > 0 for c in counts.values())
    assert sum(counts.values()) == index.ntotal


def test_keep_transform_saved_with_the_uniform_shuffle_keeps_it():
    # d = 768 takes the block-and-lane permutation since a146406; the file predates it
    rht = rhtann.load(HERE / "keep768_rht.rhtann")
    want = np.load(HERE / "keep768_expected.npz")
    assert rht.layout_.perm_kind == "shuffle"
    y = rht.apply(want["x"])
    np.testing.assert_allclose(y, want["y"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(rht.reverse_transform(y), want["x"], rtol=0, atol=ATOL)
    fresh = rhtann.RHT(768, rounds=3, seed=7, layout="keep")
    assert fresh.layout_.perm_kind == "blocks"
    assert np.abs(fresh.apply(want["x"]) - want["y"]).max() > 0.1  # the check can fail


def test_keep_index_saved_with_the_uniform_shuffle_searches_the_same():
    index = rhtann.load(HERE / "keep768_index.rhtann")
    want = np.load(HERE / "keep768_expected.npz")
    assert index.rht.layout_.perm_kind == "shuffle"
    dist, labels = index.search(want["q"], 5)
    np.testing.assert_array_equal(labels, want["I"])
    np.testing.assert_allclose(dist, want["D"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(index.reconstruct(want["keys"]), want["reconstructed"], atol=1e-4)
