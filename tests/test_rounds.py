"""rhtann.rounds: the per-vector check, the fused check and choose_rounds."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann import moments, rounds
from rhtann import synthetic as syn


def test_choose_rounds_gaussian_one_sparse_more():
    d, n = 256, 2000
    gauss = syn.gaussian(n, d, 1)
    # kappa of a Gaussian row has mean about 3 and standard deviation about
    # sqrt(96 / d) = 0.6 at d = 256; the default threshold 8 is 8 deviations away.
    k = rhtann.choose_rounds(gauss)
    assert k.dtype == np.uint8 and k.shape == (n,)
    assert (k == 1).all()
    assert (rhtann.choose_rounds(gauss, target="vq") == 2).all()
    sparse = {
        "one_hot": syn.one_hot(n, d, 2),
        "indicator_4": syn.indicator(n, d, 4, 3),
        "pair": syn.pair(n, d, 4),
        "bag_of_words": syn.bag_of_words(n, d, 5),
    }
    for name, x in sparse.items():
        assert (rhtann.choose_rounds(x) == 2).all(), name
        assert (rhtann.choose_rounds(x, target="vq") == 3).all(), name


def test_choose_rounds_threshold_and_rht_arguments():
    d = 64
    x = np.vstack([syn.indicator(1, d, m, 0) for m in (1, 2, 4, 8, 16, 32, 64)])
    # kappa = d / m = 64, 32, 16, 8, 4, 2, 1: a row passes when kappa <= threshold
    assert rhtann.choose_rounds(x).tolist() == [2, 2, 2, 1, 1, 1, 1]
    assert rhtann.choose_rounds(x, threshold=2).tolist() == [2, 2, 2, 2, 2, 1, 1]
    assert rhtann.choose_rounds(x, "vq", threshold=64).tolist() == [2] * 7
    rht = rhtann.RHT(d, seed=3)
    np.testing.assert_array_equal(rhtann.choose_rounds(x, rht=rht), rhtann.choose_rounds(x))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 64\); got shape \(7, 32\)"):
        rhtann.choose_rounds(x[:, :32], rht=rht)
    with pytest.raises(ValueError, match="target must be 'scalar' or 'vq'; got 'block'"):
        rhtann.choose_rounds(x, target="block")
    with pytest.raises(ValueError, match="threshold must be a finite number >= 1"):
        rhtann.choose_rounds(x, threshold=0.5)
    with pytest.raises(TypeError, match="threshold must be a number"):
        rhtann.choose_rounds(x, threshold="8")
    assert rhtann.choose_rounds(np.zeros((0, 5))).shape == (0,)


def test_zero_vector_needs_the_minimum():
    x = np.zeros((3, 32), dtype=np.float32)
    assert rhtann.choose_rounds(x).tolist() == [1, 1, 1]
    assert rhtann.choose_rounds(x, "vq").tolist() == [2, 2, 2]


def test_check_after_each_round_rechecks_the_rotated_vector(monkeypatch):
    """With a wider cap the rule applies a round and looks at the result.

    ``e0`` fails on input (kappa = d) and is flat after one round: 2 rounds.
    ``R1^{-1} e0`` is flat: 1 round. ``(e0 + R1^{-1} e0) / sqrt(2)`` has
    kappa about d / 4 on input and after one round (which maps it to
    ``(R1 e0 + e0) / sqrt(2)``): only the recheck sees that, and it gets 3.
    """
    d = 64
    rht = rhtann.RHT(d, seed=9)
    one_round = rhtann.RHT(d, rounds=1, seed=9)
    e0 = syn.one_hot(1, d, 0, random_signs=False)
    e0[0] = 0
    e0[0, 0] = 1
    flat = one_round.reverse_transform(e0)
    mixed = (e0 + flat) / np.sqrt(2)
    x = np.vstack([e0, flat, mixed]).astype(np.float32)
    before = moments.kappa(x, d)
    after = moments.kappa(one_round.apply(x), d)
    assert before[0] == d and before[1] < 1.01 and before[2] > 8
    assert after[0] < 1.01 and after[2] > 8
    assert rhtann.choose_rounds(x, rht=rht).tolist() == [2, 1, 2]  # cap 2
    monkeypatch.setitem(rounds.TARGET_ROUNDS, "scalar", (1, 3))
    assert rhtann.choose_rounds(x, rht=rht).tolist() == [2, 1, 3]


@pytest.mark.parametrize("layout", ["pad", "keep"])
@pytest.mark.parametrize("target", ["scalar", "vq"])
def test_fused_check_equals_the_standalone_check(layout, target):
    """first_rounds_with_check decides like rounds_per_vector, on every layout.

    The rows include tiny and huge scales (float32 sums out of their trusted
    range), zero rows, sparse rows and rows whose kappa is the threshold
    itself, where the float32 sums must be re-checked.
    """
    d = 100
    rht = rhtann.RHT(d, layout=layout, target=target)
    thr = rounds.DEFAULT_THRESHOLD
    x = np.vstack(
        [
            syn.gaussian(200, d, 5),
            syn.one_hot(20, d, 6),
            syn.gaussian(10, d, 7) * np.float32(1e-18),
            syn.gaussian(10, d, 8) * np.float32(1e25),
            syn.one_hot(10, d, 9) * np.float32(1e-20),
            np.zeros((3, d), dtype=np.float32),
        ]
    ).astype(np.float32)
    # rows with kappa exactly the threshold: m equal entries give kappa = d_out / m
    m = int(round(rht.d_out / thr))
    tie = np.zeros((4, d), dtype=np.float32)
    tie[:, :m] = 1.0
    x = np.ascontiguousarray(np.vstack([x, tie]))
    lo, _ = rounds.TARGET_ROUNDS[target]
    want = rounds.rounds_per_vector(x, rht.layout_, rht.signs_, target, thr)
    y, k = rounds.first_rounds_with_check(x, rht.layout_, rht.signs_, lo, thr)
    np.testing.assert_array_equal(k, want)
    assert set(np.unique(want)) == {lo, lo + 1}  # both outcomes occur
    ref = rhtann.RHT(d, rounds=lo, layout=layout).apply(x)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_tie_margin_and_threshold_checks():
    limit = rounds.DEFAULT_THRESHOLD
    kap = np.array([limit, limit * (1 + 5e-7), limit * (1 + 5e-6)])
    assert rounds.fails(kap, limit).tolist() == [False, False, True]
    assert rounds.check_threshold(None) == limit
    assert rounds.check_target("vq") == (2, 3)
    with pytest.raises(ValueError, match="target must be"):
        rounds.check_target("pq")
    with pytest.raises(ValueError, match="threshold must be a finite number >= 1"):
        rounds.check_threshold(0.5)
    with pytest.raises(TypeError, match="threshold must be a number"):
        rounds.check_threshold("8")


def test_fused_check_names_the_callers_argument():
    rht = rhtann.RHT(64)
    x = syn.gaussian(20, 64, 1)
    x[3, 5] = np.nan
    with pytest.raises(ValueError, match="^q contains NaN"):
        rounds.first_rounds_with_check(x, rht.layout_, rht.signs_, 1, 8.0, name="q")
