"""rhtann.kernels.results: distances and ids in faiss's conventions."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.kernels.results import finish_rows

FMAX = np.finfo(np.float32).max


@pytest.mark.parametrize("l2", [True, False])
@pytest.mark.parametrize("mapped", [True, False])
def test_finish_rows_against_numpy(l2: bool, mapped: bool) -> None:
    rng = np.random.default_rng(3)
    q = rng.standard_normal((4, 9)).astype(np.float32)
    scores = rng.standard_normal((4, 5)).astype(np.float32) * 5
    pos = rng.integers(0, 20, (4, 5)).astype(np.int64)
    pos[1, 3:] = -1
    pos[2, :] = -1
    ids = (np.arange(20, dtype=np.int64) * 7 + 100) if mapped else np.zeros(0, dtype=np.int64)
    D = np.empty((4, 5), np.float32)
    out_i = np.empty((4, 5), np.int64)
    finish_rows(q, scores, pos, l2, ids, D, out_i)
    want_i = np.where(pos >= 0, ids[np.maximum(pos, 0)] if mapped else pos, -1)
    np.testing.assert_array_equal(out_i, want_i)
    if l2:
        qn2 = (q.astype(np.float64) ** 2).sum(1)[:, None]
        want = np.maximum(qn2 - scores, 0.0)
        want[pos < 0] = FMAX
        np.testing.assert_allclose(D, want, rtol=1e-5, atol=1e-5)
        assert (D >= 0).all()
    else:
        want = np.where(pos >= 0, scores, -FMAX)
        np.testing.assert_array_equal(D, want.astype(np.float32))


def test_finish_rows_clips_negative_l2_distances_at_zero() -> None:
    q = np.ones((1, 4), np.float32)  # squared norm 4
    scores = np.array([[4.5, 3.0]], np.float32)  # rounding can make the score exceed ||q||^2
    pos = np.array([[0, 1]], np.int64)
    D = np.empty((1, 2), np.float32)
    out_i = np.empty((1, 2), np.int64)
    finish_rows(q, scores, pos, True, np.zeros(0, np.int64), D, out_i)
    assert D[0, 0] == 0.0 and D[0, 1] == pytest.approx(1.0)
