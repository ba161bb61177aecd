"""rhtann.kernels.dense: the dense product of small query batches."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.kernels.dense import rotate_dense


@pytest.mark.parametrize(("m", "d", "p"), [(1, 50, 50), (3, 50, 64), (7, 128, 128), (2, 1, 3)])
def test_product_is_the_float64_product_rounded_once(m: int, d: int, p: int) -> None:
    rng = np.random.default_rng(m * 100 + d)
    x = rng.standard_normal((m, d)).astype(np.float32)
    mt = rng.standard_normal((d, p))
    out = np.full((m, p), np.nan, dtype=np.float32)
    assert rotate_dense(x, mt, out, np.empty(p))
    exact = x.astype(np.float64) @ mt
    np.testing.assert_allclose(out, exact.astype(np.float32), rtol=2**-23, atol=0)
    # the same row alone gives the same bits as inside the batch
    one = np.empty((1, p), dtype=np.float32)
    assert rotate_dense(x[m - 1 :], mt, one, np.empty(p))
    np.testing.assert_array_equal(one[0], out[m - 1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, 3e38])
def test_non_finite_or_overflowing_outputs_are_reported(bad: float) -> None:
    x = np.ones((2, 4), dtype=np.float32)
    x[1, 2] = bad
    mt = np.full((4, 3), 2.0)
    out = np.empty((2, 3), dtype=np.float32)
    assert not rotate_dense(x, mt, out, np.empty(3))
    assert np.isfinite(out[0]).all() and not np.isfinite(out[1]).all()
