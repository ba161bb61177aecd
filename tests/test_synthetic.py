"""Tests of the seeded synthetic generators (rhtann.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann import synthetic as syn

GENERATORS = {
    "gaussian": lambda n, d, s: syn.gaussian(n, d, s),
    "lognormal": lambda n, d, s: syn.lognormal(n, d, s),
    "one_hot": lambda n, d, s: syn.one_hot(n, d, s),
    "indicator_4": lambda n, d, s: syn.indicator(n, d, 4, s),
    "pair": lambda n, d, s: syn.pair(n, d, s),
    "bag_of_words": lambda n, d, s: syn.bag_of_words(n, d, s),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_shape_dtype_and_seeding(name):
    make = GENERATORS[name]
    a = make(50, 32, 1)
    assert a.shape == (50, 32) and a.dtype == np.float32 and a.flags.c_contiguous
    np.testing.assert_array_equal(a, make(50, 32, 1))
    assert not np.array_equal(a, make(50, 32, 2))
    assert make(0, 32, 1).shape == (0, 32)


def test_sparse_worst_cases_have_the_stated_structure():
    d = 64
    oh = syn.one_hot(300, d, 3)
    assert ((oh != 0).sum(1) == 1).all() and set(np.unique(np.abs(oh))) == {0.0, 1.0}
    # random positions and signs: many columns used, both signs present
    assert len(np.unique(np.nonzero(oh)[1])) > 50 and (oh < 0).any() and (oh > 0).any()

    ind = syn.indicator(200, d, 4, 3)
    np.testing.assert_array_equal(np.abs(ind[:, :4]), np.float32(0.5))
    assert not ind[:, 4:].any()
    assert (ind < 0).any() and (ind > 0).any()
    fixed = syn.indicator(3, d, 4, 3, random_signs=False)
    np.testing.assert_array_equal(fixed, np.tile(np.r_[np.full(4, 0.5), np.zeros(d - 4)], (3, 1)))

    pr = syn.pair(100, d, 0)
    np.testing.assert_allclose(np.abs(pr[:, :2]), 2**-0.5, rtol=1e-7)
    assert not pr[:, 2:].any()
    # kappa = d / m for m equal-magnitude nonzeros
    np.testing.assert_allclose(rhtann.moment_stats(ind).kappa, d / 4, rtol=1e-6)
    np.testing.assert_allclose(rhtann.moment_stats(pr).kappa, d / 2, rtol=1e-6)
    np.testing.assert_allclose(rhtann.moment_stats(oh).kappa, d, rtol=1e-6)


def test_bag_of_words_is_sparse_binary_and_zipfian():
    x = syn.bag_of_words(2000, 512, 4, mean_words=20)
    assert set(np.unique(x)) == {0.0, 1.0}
    nnz = (x != 0).sum(1)
    assert nnz.min() >= 1
    # distinct words per row: at most the words drawn (mean 20), repeats of
    # frequent words make it fewer
    assert 8 < nnz.mean() < 20
    freq = np.sort(x.sum(0))[::-1]
    assert freq[0] > 20 * max(freq[256], 1)  # heavy head, light tail
    assert np.median(rhtann.moment_stats(x).kappa) > 20


def test_lognormal_and_gaussian_moments():
    ln = syn.lognormal(20000, 8, 0)
    assert (ln > 0).all()
    # log of the entries is N(0, 1): mean 0 and sd 1 within 5 standard errors
    logs = np.log(ln.astype(np.float64)).ravel()
    assert abs(logs.mean()) < 5 / np.sqrt(logs.size) and abs(logs.std() - 1) < 0.01
    g = syn.gaussian(20000, 8, 0).astype(np.float64).ravel()
    assert abs(g.mean()) < 5 / np.sqrt(g.size) and abs(g.std() - 1) < 0.01
    with pytest.raises(ValueError, match="sigma must be > 0"):
        syn.lognormal(2, 2, 0, sigma=0)


def test_mix_rows_replaces_a_fraction_and_keeps_norms(rng):
    base = rng.standard_normal((200, 16)).astype(np.float32) * 3
    other = syn.one_hot(10, 16, 1)
    mixed = syn.mix_rows(base, other, 0.25, seed=2)
    changed = (mixed != base).any(1)
    assert changed.sum() == 50
    np.testing.assert_allclose(
        np.linalg.norm(mixed, axis=1), np.linalg.norm(base, axis=1), rtol=1e-6
    )
    assert ((mixed[changed] != 0).sum(1) == 1).all()
    np.testing.assert_array_equal(syn.mix_rows(base, other, 0.25, seed=2), mixed)
    np.testing.assert_array_equal(syn.mix_rows(base, other, 0.0), base)
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\]"):
        syn.mix_rows(base, other, 1.5)
    with pytest.raises(ValueError, match=r"other must have shape \(n, 16\)"):
        syn.mix_rows(base, other[:, :8], 0.5)


def test_worst_case_suite():
    suite = syn.worst_case_suite(128, 30, seed=5)
    assert set(suite) == {
        "one_hot",
        "indicator_4",
        "indicator_16",
        "pair",
        "bag_of_words",
        "lognormal",
        "gaussian",
    }
    for x in suite.values():
        assert x.shape == (30, 128) and x.dtype == np.float32
    again = syn.worst_case_suite(128, 30, seed=5)
    assert all(np.array_equal(suite[k], again[k]) for k in suite)
    with pytest.raises(ValueError, match="d must be >= 16"):
        syn.worst_case_suite(8, 3)


def test_argument_errors():
    with pytest.raises(ValueError, match="m must be in"):
        syn.indicator(2, 8, 9)
    with pytest.raises(ValueError, match="d must be >= 2 for pair"):
        syn.pair(2, 1)
    with pytest.raises(TypeError, match="n must be an integer"):
        syn.gaussian(2.5, 3)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        syn.gaussian(2, 3, seed=-1)
