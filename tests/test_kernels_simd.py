"""The vector intrinsics against plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy.linalg import hadamard

from rhtann.kernels.simd import (
    butterfly2,
    butterfly4_signed,
    butterfly8,
    butterfly16_signed,
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
