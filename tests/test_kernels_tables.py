"""rhtann.kernels.tables: the per-query nibble tables of the fast scan."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.kernels.tables import nibble_tables


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
