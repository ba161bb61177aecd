"""Per-query lookup tables of the nibble scanners, built in one compiled pass."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def nibble_tables(q, levels, bits, out):
    """Float tables of the 4-bit fast scan: ``out[i, t, v] = <q_i, levels of nibble value v at t>``.

    Parameters
    ----------
    q : ndarray, shape (m, d), float32
        Rotated queries.
    levels : ndarray, shape (2**bits,), float32
        Unit reconstruction levels of one coordinate.
    bits : int
        1, 2 or 4: coordinate ``t * g + s`` (``g = 4 // bits``) is held by
        bits ``[s * bits, (s + 1) * bits)`` of nibble ``t``.
    out : ndarray, shape (m, M, 16), float32
        Receives the tables; ``M = ceil(d * bits / 4)``. Coordinates past
        ``d`` in the last nibble count as zero.

    Notes
    -----
    Each entry is the float32 sum, in coordinate order, of the float32
    products, the same arithmetic as the numpy expression it replaces.
    """
    m, d = q.shape
    M = out.shape[1]
    g = 4 // bits
    mask = (1 << bits) - 1
    for i in range(m):
        for t in range(M):
            for v in range(16):
                acc = np.float32(0.0)
                for s in range(g):
                    j = t * g + s
                    if j < d:
                        acc += q[i, j] * levels[(v >> (bits * s)) & mask]
                out[i, t, v] = acc
