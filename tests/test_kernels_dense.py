"""rhtann.kernels.dense: the dense product of small query batches."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.kernels.dense import normalize_rows, rotate_dense, row_dots


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


@pytest.mark.parametrize(("m", "d", "p"), [(1, 50, 50), (4, 128, 128), (2, 9, 3)])
def test_float32_entries_give_the_exact_float64_products_rounded_once(m: int, d: int, p: int) -> None:
    # the query rotation keeps float32 entries: each product is exact in float64, so the output
    # is the float64 sum in coordinate order of exact products, rounded once
    rng = np.random.default_rng(d + p)
    x = rng.standard_normal((m, d)).astype(np.float32)
    mt = rng.standard_normal((d, p)).astype(np.float32)
    acc = np.zeros((m, p))
    for j in range(d):
        acc = acc + x[:, j : j + 1].astype(np.float64) * mt[j].astype(np.float64)
    out = np.empty((m, p), dtype=np.float32)
    assert rotate_dense(x, mt, out, np.empty(p))
    np.testing.assert_array_equal(out, acc.astype(np.float32))


@pytest.mark.parametrize("d", [1, 7, 8, 9, 16, 23, 50])
def test_sums_run_in_coordinate_order(d: int) -> None:
    # the kernel adds eight coordinates per pass plus a tail; each output must still be the
    # float64 sum taken in coordinate order, bit for bit
    rng = np.random.default_rng(d)
    x = (rng.standard_normal((2, d)) * 10.0 ** rng.integers(-6, 7, (2, d))).astype(np.float32)
    mt = rng.standard_normal((d, 5)) * 10.0 ** rng.integers(-6, 7, (d, 5))
    acc = np.zeros((2, 5))
    for j in range(d):
        acc = acc + x[:, j : j + 1].astype(np.float64) * mt[j]
    out = np.empty((2, 5), dtype=np.float32)
    assert rotate_dense(x, mt, out, np.empty(5))
    np.testing.assert_array_equal(out, acc.astype(np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, 3e38])
def test_non_finite_or_overflowing_outputs_are_reported(bad: float) -> None:
    x = np.ones((2, 4), dtype=np.float32)
    x[1, 2] = bad
    mt = np.full((4, 3), 2.0)
    out = np.empty((2, 3), dtype=np.float32)
    assert not rotate_dense(x, mt, out, np.empty(3))
    assert np.isfinite(out[0]).all() and not np.isfinite(out[1]).all()


def test_rows_are_normalized_in_float64():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 9)).astype(np.float32)
    x[1] = 0.0  # stays zero
    x[2] *= np.float32(1e-30)  # float32 squares would underflow
    x[3] *= np.float32(1e30)  # and overflow
    out = np.empty_like(x)
    normalize_rows(x, out)
    x64 = x.astype(np.float64)
    nrm = np.sqrt((x64 * x64).sum(1, keepdims=True))
    want = np.where(nrm > 0, x64 / np.where(nrm > 0, nrm, 1.0), 0.0).astype(np.float32)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_allclose(np.linalg.norm(out[[0, 2, 3]], axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_row_normalizes_to_nan(bad: float) -> None:
    x = np.ones((2, 5), dtype=np.float32)
    x[0, 3] = bad
    out = np.empty_like(x)
    normalize_rows(x, out)
    assert np.isnan(out[0]).any() and np.isfinite(out[1]).all()


def test_row_dots_sum_in_float64_in_coordinate_order():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3, 11)) * 10.0 ** rng.integers(-5, 6, (3, 11))).astype(np.float32)
    v = rng.standard_normal(11).astype(np.float32)
    out = np.empty(3, dtype=np.float32)
    row_dots(x, v, out)
    acc = np.zeros(3)
    for j in range(11):
        acc = acc + x[:, j].astype(np.float64) * np.float64(v[j])
    np.testing.assert_array_equal(out, acc.astype(np.float32))
