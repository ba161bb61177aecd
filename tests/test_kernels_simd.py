"""The vector intrinsics against plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy.linalg import hadamard

from rhtann.kernels.simd import (
    SPAN,
    SUM_LANES,
    butterfly2,
    butterfly4_signed,
    butterfly8,
    butterfly16_signed,
    group_sums1,
    group_sums3,
    group_sums5,
    scaled_copy,
    scaled_copy_stream,
    signed_sum,
    span_high2,
    span_high4,
    span_high8,
    span_high16,
    span_low_signed,
    store_fence,
    transpose16,
)
from rhtann.layouts.output import empty_aligned


@njit(cache=False)
def _transpose_blocks(src, dst, scale):
    acc = src.dtype.type(0.0)
    for i in range(0, src.shape[0], 16):
        for j in range(0, src.shape[1], 16):
            acc += transpose16(src, i, j, dst, j, i, scale)
    return acc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose16_blocks_and_scale(dtype, rng):
    src = rng.standard_normal((32, 48)).astype(dtype)
    dst = np.zeros((48 + 16, 32 + 16), dtype)[:48, :32]  # strided rows: row stride 48 + 16
    acc = _transpose_blocks(src, dst, dtype(0.5))
    np.testing.assert_array_equal(dst, 0.5 * src.T)
    assert acc == 0.0
    src[3, 7] = np.inf
    assert not np.isfinite(_transpose_blocks(src, dst, dtype(1.0)))


@njit(cache=False)
def _apply2(buf):
    for t in range(0, buf.shape[1], 16):
        butterfly2(buf, 0, 1, t)


@njit(cache=False)
def _apply_signed(buf, s):
    for t in range(0, buf.shape[1], 16):
        butterfly16_signed(buf, 0, 1, t, s)


@njit(cache=False)
def _apply4_8(buf, s):
    # stages 1, 2 (radix 4 with signs) on each group of 4 rows, then stages
    # 4, 8, 16 (radix 8 at stride 4): the full H_32 on 32 rows
    for t in range(0, buf.shape[1], 16):
        for i in range(0, 32, 4):
            butterfly4_signed(buf, i, 1, t, s)
        for j in range(4):
            butterfly8(buf, j, 4, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_butterflies_equal_hadamard_products(dtype, rng):
    s = np.where(rng.random(32) < 0.5, -1.0, 1.0).astype(dtype)
    buf = rng.standard_normal((16, 32)).astype(dtype)
    ref = hadamard(16) @ (s[:16, None] * buf)
    out = buf.copy()
    _apply_signed(out, s)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    buf32 = rng.standard_normal((32, 16)).astype(dtype)
    out = buf32.copy()
    _apply4_8(out, s)
    np.testing.assert_allclose(out, hadamard(32) @ (s[:, None] * buf32), rtol=1e-5, atol=1e-4)
    pair = rng.standard_normal((2, 32)).astype(dtype)
    out = pair.copy()
    _apply2(out)
    np.testing.assert_allclose(out, [pair[0] + pair[1], pair[0] - pair[1]], rtol=1e-6)


@njit(cache=False)
def _signed_sum(dst, drow, src, idx, sgn, g0, g1, t):
    signed_sum(dst, drow, src, idx, sgn, g0, g1, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signed_sum_against_numpy(dtype, rng):
    src = rng.standard_normal((9, 80)).astype(dtype)
    idx = rng.integers(0, 9, size=12).astype(np.int64)
    sgn = rng.choice([-1.0, 1.0, 0.5], size=12).astype(dtype)
    dst = np.zeros((3, 80), dtype)
    _signed_sum(dst, 1, src, idx, sgn, 2, 11, 16)
    want = (sgn[2:11, None] * src[idx[2:11], 16 : 16 + SUM_LANES]).sum(axis=0)
    np.testing.assert_allclose(dst[1, 16 : 16 + SUM_LANES], want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    # only the 32 lanes of row 1 are written
    assert not dst[0].any() and not dst[2].any()
    assert not dst[1, :16].any() and not dst[1, 16 + SUM_LANES :].any()


@njit(cache=False)
def _group_sums(size, comb, c0, src, gather, mult, moff, scale, base, j0, stride, t):
    if size == 1:
        group_sums1(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
    elif size == 3:
        group_sums3(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
    else:
        group_sums5(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)


@pytest.mark.parametrize("size", [1, 3, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_sums_against_numpy(size, dtype, rng):
    d, stride, base, j0, moff, t = 40, 3, 2, 1, 5, 16
    src = rng.standard_normal((d, 48)).astype(dtype)
    gather = rng.permutation(d).astype(np.int64)
    mult = rng.choice([-1.0, 1.0], size=d + moff).astype(dtype)
    comb = np.zeros((2 + 2 ** (size - 1), 48), dtype)
    _group_sums(size, comb, 1, src, gather, mult, moff, dtype(0.25), base, j0, stride, t)
    rows = [base + (j0 + b) * stride for b in range(size)]
    v = np.array([0.25 * mult[moff + r] * src[gather[r], t : t + 16] for r in rows])
    for q in range(2 ** (size - 1)):
        signs = [1.0] + [(-1.0) ** ((q >> (b - 1)) & 1) for b in range(1, size)]
        want = (np.array(signs)[:, None] * v).sum(axis=0)
        np.testing.assert_allclose(comb[1 + q, t : t + 16], want, rtol=1e-5, atol=1e-6)
    assert not comb[0].any() and not comb[-1].any()


@njit(cache=False)
def _span_low(src, si, sj, dst, di, dj, s, sr):
    span_low_signed(src, si, sj, dst, di, dj, s, sr)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_span_low_signed_is_signs_then_hadamard_of_each_span(dtype, rng):
    src = rng.standard_normal((3, 2 * SPAN + 8)).astype(dtype)
    s = np.where(rng.random((2, 3 * SPAN)) < 0.5, -1.0, 1.0).astype(dtype)
    dst = np.zeros((2, 3 * SPAN), dtype)
    _span_low(src, 2, 8, dst, 1, SPAN, s, 1)
    v = src[2, 8 : 8 + SPAN].astype(np.float64) * s[1, SPAN : 2 * SPAN]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dst[1, SPAN : 2 * SPAN], hadamard(SPAN) @ v, rtol=tol, atol=tol)
    # nothing else is written
    assert not dst[0].any() and not dst[1, :SPAN].any() and not dst[1, 2 * SPAN :].any()
    # in place: the same result
    row = src[2:3, 8 : 8 + SPAN].copy()
    _span_low(row, 0, 0, row, 0, 0, s[:, SPAN:], 1)
    np.testing.assert_array_equal(row[0], dst[1, SPAN : 2 * SPAN])


@njit(cache=False)
def _span_high(buf, radix, j, h):
    if radix == 2:
        span_high2(buf, 0, j, h)
    elif radix == 4:
        span_high4(buf, 0, j, h)
    elif radix == 8:
        span_high8(buf, 0, j, h)
    else:
        span_high16(buf, 0, j, h)


@pytest.mark.parametrize("radix", [2, 4, 8, 16])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_span_high_butterflies_between_segments(radix, dtype, rng):
    h, j = 32, 16
    row = rng.standard_normal((1, radix * h + 32)).astype(dtype)
    out = row.copy()
    _span_high(out, radix, j, h)
    cols = j + h * np.arange(radix)[:, None] + np.arange(16)  # (radix, 16) columns touched
    want = hadamard(radix) @ row[0, cols].astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out[0, cols], want, rtol=tol, atol=tol)
    untouched = np.ones(row.shape[1], bool)
    untouched[cols.ravel()] = False
    np.testing.assert_array_equal(out[0, untouched], row[0, untouched])


@njit(cache=False)
def _scaled_copy(src, dst, scale, stream):
    acc = src.dtype.type(0.0)
    for g in range(0, src.shape[1], SPAN):
        if stream:
            acc += scaled_copy_stream(src, 0, g, dst, 1, g, scale)
        else:
            acc += scaled_copy(src, 0, g, dst, 1, g, scale)
    if stream:
        store_fence()
    return acc


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaled_copy_and_its_check(stream, dtype, rng):
    src = rng.standard_normal((1, 2 * SPAN)).astype(dtype)
    dst = empty_aligned((2, 2 * SPAN), dtype)
    dst[:] = 7.0
    assert _scaled_copy(src, dst, dtype(0.5), stream) == 0.0
    np.testing.assert_array_equal(dst[1], 0.5 * src[0])
    np.testing.assert_array_equal(dst[0], 7.0)
    for bad in (np.nan, np.inf, -np.inf):
        src[0, SPAN + 5] = bad
        assert not np.isfinite(_scaled_copy(src, dst, dtype(1.0), stream))
    # finite inputs that overflow when scaled are reported too
    src[0, SPAN + 5] = np.finfo(dtype).max
    assert not np.isfinite(_scaled_copy(src, dst, dtype(4.0), stream))
