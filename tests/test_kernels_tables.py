"""rhtann.kernels.tables: the per-query nibble tables of the fast scan."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.kernels.scan import quantize_luts
from rhtann.kernels.tables import nibble_tables, query_tables


def _reference(q: np.ndarray, levels: np.ndarray, bits: int) -> np.ndarray:
    """The tables from their definition, in float32 with the kernel's order of sums."""
    g = 4 // bits
    m, d = q.shape
    M = -(-d * bits // 4)
    qp = np.zeros((m, M * g), dtype=np.float32)
    qp[:, :d] = q
    qp = qp.reshape(m, M, g)
    v = np.arange(16)
    out = np.zeros((m, M, 16), dtype=np.float32)
    for s in range(g):
        out += qp[:, :, s : s + 1] * levels[(v >> (bits * s)) & ((1 << bits) - 1)][None, None, :]
    return out


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("d", [1, 3, 7, 8, 50, 129])
def test_tables_equal_their_definition(bits: int, d: int) -> None:
    rng = np.random.default_rng(d * 10 + bits)
    q = rng.standard_normal((3, d)).astype(np.float32)
    levels = np.sort(rng.standard_normal(1 << bits)).astype(np.float32)
    M = -(-d * bits // 4)
    out = np.full((3, M, 16), np.nan, dtype=np.float32)
    nibble_tables(q, levels, bits, out)
    np.testing.assert_array_equal(out, _reference(q, levels, bits))


def test_table_entry_is_the_inner_product_with_the_decoded_nibble() -> None:
    # 2 bits: nibble value v holds coordinate 2t in its low bits and 2t+1 in its high bits
    q = np.array([[1.0, 10.0, 100.0]], dtype=np.float32)
    levels = np.array([-3.0, -1.0, 1.0, 3.0], dtype=np.float32)
    out = np.empty((1, 2, 16), dtype=np.float32)
    nibble_tables(q, levels, 2, out)
    v = 0b1101  # low part 1 -> -1.0, high part 3 -> 3.0
    assert out[0, 0, v] == pytest.approx(1.0 * -1.0 + 10.0 * 3.0)
    assert out[0, 1, v] == pytest.approx(100.0 * -1.0)  # coordinate 3 is past d: counts as zero


@pytest.mark.parametrize("alpha", [1.0, 2.0])
@pytest.mark.parametrize("order", ["ascending", "shuffled"])
@pytest.mark.parametrize(
    ("bits", "d", "top"), [(4, 50, 255), (4, 7, 127), (4, 128, 127), (2, 37, 255), (1, 129, 127)]
)
def test_query_tables_equal_the_separate_steps(bits: int, d: int, top: int, alpha: float, order: str) -> None:
    # 4-bit codes with ascending levels take a path that reads each table's extremes at its ends
    rng = np.random.default_rng(bits * 1000 + d)
    m = 5
    q = rng.standard_normal((m, d)).astype(np.float32)
    q[1, ::3] = 0.0
    q[2, 1::4] = -0.0
    q[3] = np.abs(q[3])
    q[4] = -np.abs(q[4])
    levels = np.sort(rng.standard_normal(1 << bits)).astype(np.float32)
    if order == "shuffled":
        levels = rng.permutation(levels)
    M = -(-d * bits // 4)
    P = (M + 1) // 2
    lut = np.empty((m, M, 16), dtype=np.float32)
    luts = np.empty((m, P * 64), dtype=np.uint8)
    a = np.empty(m, dtype=np.float32)
    b = np.empty(m, dtype=np.float32)
    assert query_tables(q, levels, bits, alpha, top, lut, luts, a, b) == -1
    ref = np.empty_like(lut)
    nibble_tables(q, levels, bits, ref)
    ref_u8 = np.empty_like(luts)
    ra = np.empty_like(a)
    rb = np.empty_like(b)
    quantize_luts(ref, ref_u8, ra, rb, top)
    np.testing.assert_array_equal(lut, ref)
    np.testing.assert_array_equal(luts, ref_u8)
    np.testing.assert_array_equal(a, ra * np.float32(alpha))
    np.testing.assert_array_equal(b, rb * np.float32(alpha))
    assert luts.max() == top  # the widest table spans the whole range


def test_query_tables_report_the_first_row_that_overflows() -> None:
    q = np.ones((3, 8), dtype=np.float32)
    q[1, 2] = np.float32(3e38)
    q[2] *= np.float32(3e38)
    levels = np.array([-2.5, -0.5, 0.5, 2.5], dtype=np.float32)
    lut = np.empty((3, 4, 16), dtype=np.float32)
    luts = np.empty((3, 2 * 64), dtype=np.uint8)
    a = np.empty(3, dtype=np.float32)
    b = np.empty(3, dtype=np.float32)
    assert query_tables(q, levels, 2, 2.0, 255, lut, luts, a, b) == 1
    assert np.isfinite(a[0]) and np.isfinite(b[0])
    levels4 = np.linspace(-2.0, 2.0, 16).astype(np.float32)
    lut4 = np.empty((3, 8, 16), dtype=np.float32)
    luts4 = np.empty((3, 4 * 64), dtype=np.uint8)
    assert query_tables(q, levels4, 4, 2.0, 127, lut4, luts4, a, b) == 1
