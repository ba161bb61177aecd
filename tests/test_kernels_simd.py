"""The vector intrinsics against plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy.linalg import hadamard

from rhtann.kernels.simd import (
    SUM_LANES,
    butterfly2,
    butterfly4_signed,
    butterfly8,
    butterfly16_signed,
    group_sums1,
    group_sums3,
    group_sums5,
    signed_sum,
    transpose16,
)


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
