"""Per-query lookup tables of the nibble scanners, built in one compiled pass."""

from __future__ import annotations

import numpy as np
from numba import njit

from .scan_simd import COMPACT_TABLES
from .tables_simd import quantize_row16, table_row16


@njit(cache=True, inline="always")
def table_slots(t, P):
    """Byte offsets of the two copies of nibble table ``t`` in a query's uint8 tables (``P`` pairs).

    A query's tables take ``P * 64`` bytes and hold every 16-entry table
    twice, in one of two layouts (:data:`rhtann.kernels.scan_simd.COMPACT_TABLES`):

    * per lane (AVX2 shuffles): pair ``p``'s 64 bytes are the low nibble's
      table twice, then the high nibble's twice;
    * compact (AVX-512 VNNI): the 128 bytes of pairs ``2s`` and ``2s + 1``
      start with the four tables of nibbles ``4s .. 4s + 3``, 16 bytes each,
      followed by the same 64 bytes again; a last odd pair holds its two
      tables, then them again.

    Tables past the last nibble are zero in both copies.
    """
    if COMPACT_TABLES:
        s = t >> 2
        first = 128 * s + 16 * (t & 3)
        return first, first + (64 if 2 * s + 1 < P else 32)
    first = 64 * (t >> 1) + 32 * (t & 1)
    return first, first + 16


def quantize_luts(lut, out, a, b, top=255):
    """uint8 tables for the fast-scan intrinsics from float tables.

    Parameters
    ----------
    lut : float32 (m, M, 16)
        Float tables per query and nibble.
    out : uint8 (m, P * 64), P = ceil(M / 2)
        Receives every table twice, at the offsets of :func:`table_slots`.
    a, b : float32 (m,)
        Receive the affine map: ``sum_m lut[i, m, c_m] ~= a[i] * S + b[i]``
        where ``S`` is the sum of the uint8 entries.
    top : int
        Largest entry, 1..255 (the scanners accumulate entries in 16-bit
        lanes, so the whole uint8 range is usable; smaller values only
        coarsen the tables).

    Notes
    -----
    One step ``delta = width / top`` per query, ``width`` the widest
    table's range; each entry is ``round((lut - min) / delta)``, so the
    estimate ``a S + b`` is within ``M delta / 2`` of the float sum.
    A Python front of :func:`quantize_luts_top`, which always receives
    ``top`` (numba's dispatch of an omitted default argument is slow).
    """
    if not 1 <= int(top) <= 255:
        raise ValueError(f"top: expected an int in 1..255, got {top!r}")
    quantize_luts_top(lut, out, a, b, int(top))


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def quantize_luts_top(lut, out, a, b, top):
    """:func:`quantize_luts` with ``top`` (1..255) given."""
    m, M, _ = lut.shape
    P = (M + 1) // 2
    for i in range(m):
        width = 0.0
        bias = 0.0
        for t in range(M):
            lo = lut[i, t, 0]
            hi = lut[i, t, 0]
            for v in range(1, 16):
                x = lut[i, t, v]
                lo = min(lo, x)
                hi = max(hi, x)
            width = max(width, hi - lo)
            bias += lo
        delta = width / top if width > 0 else 1.0
        inv = 1.0 / delta
        a[i] = delta
        b[i] = bias
        for t in range(2 * P):
            first, second = table_slots(t, P)
            if t < M:
                lo = lut[i, t, 0]
                for v in range(1, 16):
                    lo = min(lo, lut[i, t, v])
                for v in range(16):
                    qv = np.uint8(min(float(top), max(0.0, np.floor((lut[i, t, v] - lo) * inv + 0.5))))
                    out[i, first + v] = qv
                    out[i, second + v] = qv
            else:
                for v in range(16):
                    out[i, first + v] = 0
                    out[i, second + v] = 0


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
    products (the order and precision of the numpy expression
    ``sum_s q[:, t*g+s, None] * levels[part s of v]``).
    """
    m, d = q.shape
    M = out.shape[1]
    g = 4 // bits
    mask = (1 << bits) - 1
    tab = np.empty((g, 16), dtype=np.float32)  # level of part s of each nibble value
    for s in range(g):
        for v in range(16):
            tab[s, v] = levels[(v >> (bits * s)) & mask]
    for i in range(m):
        for t in range(M):
            row = out[i, t]
            for v in range(16):
                row[v] = 0.0
            for s in range(g):
                j = t * g + s
                if j < d:
                    qj = q[i, j]
                    ts = tab[s]
                    for v in range(16):
                        row[v] += qj * ts[v]


@njit(cache=True)
def _ascending(levels):
    """Whether ``levels`` is non-decreasing."""
    for v in range(1, levels.shape[0]):
        if not levels[v - 1] <= levels[v]:
            return False
    return True


@njit(cache=True)
def _vector_layout(levels, lut, luts):
    """Whether the arrays have the layout the table intrinsics address (16 float32 levels, C order)."""
    return (
        levels.shape[0] == 16 and levels.itemsize == 4 and levels.strides[0] == 4
        and lut.itemsize == 4 and lut.shape[2] == 16 and lut.strides[2] == 4 and lut.strides[1] == 64
        and lut.strides[0] == 64 * lut.shape[1]
        and luts.strides[1] == 1 and luts.strides[0] == luts.shape[1]
    )


@njit(cache=True)
def _tables_ascending4(q, levels, lut, luts, a, b, top):
    """:func:`nibble_tables` then :func:`rhtann.kernels.tables.quantize_luts_top` for 4-bit codes
    with non-decreasing ``levels``, with the same results.

    Table ``t`` of query ``i`` is ``q[i, t] * levels``: rounding keeps it
    monotone in the level, so its smallest and largest entries are the
    products with the end levels (which end depends on the sign of
    ``q[i, t]``) and need no search. The tables are written by the
    intrinsics of :mod:`rhtann.kernels.tables_simd` (the caller checks the
    layout, :func:`_vector_layout`).
    """
    m, d = q.shape
    M = lut.shape[1]
    P = (M + 1) // 2
    lo_t = np.empty(M, dtype=np.float32)
    lev_p = levels.ctypes.data
    for i in range(m):
        width = 0.0
        bias = 0.0
        row0 = lut.ctypes.data + i * M * 64
        for t in range(M):
            row = lut[i, t]
            if t < d:
                table_row16(lev_p, q[i, t], row0 + t * 64)
            else:
                for v in range(16):
                    row[v] = 0.0
            lo = min(row[0], row[15])
            hi = max(row[0], row[15])
            lo_t[t] = lo
            width = max(width, hi - lo)
            bias += lo
        delta = width / top if width > 0 else 1.0
        inv = 1.0 / delta
        a[i] = delta
        b[i] = bias
        ftop = float(top)
        dst0 = luts.ctypes.data + i * luts.shape[1]
        for t in range(M):
            first, second = table_slots(t, P)
            quantize_row16(row0 + t * 64, lo_t[t], inv, ftop, dst0 + first, dst0 + second)
        if M < 2 * P:
            first, second = table_slots(M, P)
            for v in range(16):
                luts[i, first + v] = 0
                luts[i, second + v] = 0


@njit(cache=True)
def query_tables(q, levels, bits, alpha, top, lut, luts, a, b):
    """The float tables, the uint8 tables and their affine map of a query batch, in one call.

    Parameters
    ----------
    q : ndarray, shape (m, d), float32
        Rotated queries.
    levels : ndarray, shape (2**bits,), float32
    bits : int
        1, 2 or 4 (see :func:`nibble_tables`).
    alpha : float
        Factor of the scores (2 for L2, 1 for inner products), applied to
        ``a`` and ``b``.
    top : int
        Largest uint8 entry, 1..255 (checked by the caller).
    lut : ndarray, shape (m, M, 16), float32
        Receives the float tables (:func:`nibble_tables`).
    luts : ndarray, shape (m, ceil(M / 2) * 64), uint8
        Receives the uint8 tables (:func:`rhtann.kernels.tables.quantize_luts_top`).
    a, b : ndarray, shape (m,), float32
        Receive ``alpha`` times the affine map of the uint8 sums.

    Returns
    -------
    int
        ``-1`` when every ``a`` and ``b`` is finite, else the first query
        row whose tables overflow float32 (its tables must not be used).
    """
    if bits == 4 and _vector_layout(levels, lut, luts) and _ascending(levels):
        _tables_ascending4(q, levels, lut, luts, a, b, top)
    else:
        nibble_tables(q, levels, bits, lut)
        quantize_luts_top(lut, luts, a, b, top)
    f = np.float32(alpha)
    bad = -1
    for i in range(a.shape[0]):
        a[i] *= f
        b[i] *= f
        if bad < 0 and not (np.isfinite(a[i]) and np.isfinite(b[i])):
            bad = i
    return bad
