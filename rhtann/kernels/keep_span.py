"""numba kernels of the keep layout's per-row ("span") forward path.

The tiled kernels of :mod:`rhtann.kernels.keep` transpose tiles of rows so
that every factor runs across rows; this path instead transforms rows in
place in two small row-major buffers (``a`` and ``b``, L1-sized), with no
transposes. One round of the window matrix ``H = H_{K_1} (x) ... (x) H_{K_c}
(x) H_M`` (see :mod:`rhtann.kernels.keep`) is a chain of passes, each
reading one buffer and writing the other; the factors act on different
digits of the coordinate index, so their order does not change the result.
Two buffer layouts exist (built by :func:`rhtann.layouts.keep.span_plan`):

*natural* (``M >= SPAN``)
    The buffer holds one row in its own order. On every span of ``SPAN``
    coordinates, the round's permutation (block loads and lane permutes, or
    masked gathers), the signs (times
    ``1/sqrt(d)``) and the Sylvester stages of strides ``1 .. SPAN/2`` run in
    registers (:func:`rhtann.kernels.simd_keep.span_low_blocks` for the
    block-and-lane permutation, :func:`rhtann.kernels.simd_keep.span_low_gather`
    for any other; round 0
    without a permutation reads the input row directly,
    :func:`rhtann.kernels.simd.span_low_signed`), the strides ``SPAN ..
    M/2`` as passes between segments, and each dense core, whose stride is
    a multiple of ``M``, as multiply-adds along the contiguous index, 16
    lanes per call (:func:`rhtann.kernels.simd_keep.col_core6x2` and
    siblings). :class:`rhtann.layouts.keep.KeepLayout` runs its forward
    transform this way wherever this layout exists.

*blocked* (``M < SPAN``)
    The Sylvester factor, when ``M > 1``, counts as one more dense core.
    One *inner* core is chosen to run along the contiguous index: the
    buffer stores the coordinates with the inner digit last, padded from
    ``K`` to ``kp`` (a multiple of 8) with zeros, so that the other cores
    (strides multiples of ``kp``) vectorize along it and the inner core is a
    small matrix product of buffer rows with its transpose
    (:func:`rhtann.kernels.simd_keep.row_core3` and siblings). The gather
    that starts each round reads through an index that composes the
    permutation with the change of layout, and multiplies by the signs; the
    last round is written out through the layout map. ``R`` rows share the
    buffers so that the matrix products see a multiple of 4 rows. Slower
    than the tiled kernels' grouped sums on large batches, so the layout
    uses it only when asked to (``KeepLayout.use_span = True``).

Both give the transform of the tiled kernels up to float rounding (sums are
accumulated in another order). A row whose output holds a NaN or an
infinity is scanned for one in its input; every other row is known finite.
"""

from __future__ import annotations

from numba import njit, prange

from .pad import _finite_row, _high_blocks
from .simd import SPAN, scaled_copy, span_low_signed
from .simd_keep import (
    LANES,
    col_core2x2,
    col_core4x1,
    col_core4x2,
    col_core4x3,
    col_core6x2,
    col_core8x1,
    col_core12x1,
    gather8_scaled,
    row_core1,
    row_core2,
    row_core3,
    span_low_blocks,
    span_low_gather,
)


@njit(cache=True, inline="always")
def _col_pass(src, dst, span, k, stride, mats, m0):
    """Core of order ``k`` (transposed in ``mats[m0:]``) at ``stride`` on ``src[:span]`` (flat) into ``dst``.

    ``k`` is a multiple of 4 and ``stride`` of 8; 16 or 24 lanes go through
    each call where ``stride`` allows (fewer broadcasts of the core's entries
    per multiply-add).
    """
    for o in range(0, span, k * stride):
        if stride % 16 == 0:
            for lane in range(0, stride, 2 * LANES):
                base = o + lane
                i0 = 0
                while i0 + 6 <= k:
                    col_core6x2(src, dst, base, stride, k, mats, m0, i0)
                    i0 += 6
                if i0 + 4 == k:
                    col_core4x2(src, dst, base, stride, k, mats, m0, i0)
                elif i0 + 2 == k:
                    col_core2x2(src, dst, base, stride, k, mats, m0, i0)
        elif stride % 24 == 0:
            for lane in range(0, stride, 3 * LANES):
                for i0 in range(0, k, 4):
                    col_core4x3(src, dst, o + lane, stride, k, mats, m0, i0)
        else:
            for lane in range(0, stride, LANES):
                base = o + lane
                i0 = 0
                while i0 + 12 <= k:
                    col_core12x1(src, dst, base, stride, k, mats, m0, i0)
                    i0 += 12
                if i0 + 8 <= k:
                    col_core8x1(src, dst, base, stride, k, mats, m0, i0)
                    i0 += 8
                if i0 < k:
                    col_core4x1(src, dst, base, stride, k, mats, m0, i0)


@njit(cache=True, inline="always")
def _row_pass(src, dst, nrows, ld, k, mat_t):
    """Rows ``0 .. nrows-1`` (``ld`` apart, ``nrows`` a multiple of 4) times ``mat_t`` (``(k, ld)``)."""
    nvec = ld // LANES
    threes = nvec // 3
    twos = 0
    if nvec % 3 == 1 and threes > 0:
        threes -= 1
        twos = 2
    elif nvec % 3 == 2:
        twos = 1
    ones = nvec - 3 * threes - 2 * twos
    for r0 in range(0, nrows, 4):
        c0 = 0
        for _ in range(threes):
            row_core3(src, dst, r0, ld, k, mat_t, ld, c0)
            c0 += 3 * LANES
        for _ in range(twos):
            row_core2(src, dst, r0, ld, k, mat_t, ld, c0)
            c0 += 2 * LANES
        for _ in range(ones):
            row_core1(src, dst, r0, ld, k, mat_t, ld, c0)
            c0 += LANES


@njit(cache=True, inline="always")
def _permuted_low(src, dst, d, k, ssc, perm, blocks, bsrc, lperm):
    """Round ``k``'s permutation of ``src``, its signs and strides ``1 .. SPAN/2``, into ``dst[0]``.

    ``blocks``: a block-and-lane permutation from ``bsrc`` and ``lperm``
    (:func:`rhtann.kernels.simd_keep.span_low_blocks`); otherwise gathered
    through ``perm``.
    """
    for g in range(0, d, SPAN):
        if blocks:
            span_low_blocks(src, bsrc, lperm, dst, g, ssc, k)
        else:
            span_low_gather(src, perm, dst, g, ssc, k)


@njit(cache=True, inline="always")
def _natural_row(x, r, out, rounds, permute0, ssc, perm, blocks, bsrc, lperm, m, col_k, col_s, col_m,
                 mats, a, b):
    """Rounds of the natural layout on row ``r`` of ``x``; returns the check of the stored row.

    ``perm``, ``blocks``, ``bsrc`` and ``lperm`` describe the permutation (:func:`_permuted_low`).
    """
    d = x.shape[1]
    cur = a
    oth = b
    for k in range(rounds):
        if k == 0 and not permute0:
            for g in range(0, d, SPAN):
                span_low_signed(x, r, g, cur, 0, g, ssc, 0)
        else:
            if k == 0:
                _permuted_low(x[r], cur, d, k, ssc, perm, blocks, bsrc, lperm)
            else:
                _permuted_low(cur, oth, d, k, ssc, perm, blocks, bsrc, lperm)
                cur, oth = oth, cur
        _high_blocks(cur, d, m)
        for c in range(col_k.shape[0]):
            _col_pass(cur, oth, d, col_k[c], col_s[c], mats, col_m[c])
            cur, oth = oth, cur
    one = x.dtype.type(1.0)
    acc = x.dtype.type(0.0)
    for g in range(0, d, SPAN):
        acc += scaled_copy(cur, 0, g, out, r, g, one)
    return acc


@njit(cache=True, inline="always")
def _blocked_rows(x, r0, nr, out, rounds, ssc, gx, gbuf, fin, kin, col_k, col_s, col_m, mats,
                  mat_t, a, b):
    """Rounds of the blocked layout on rows ``r0 .. r0+nr-1`` of ``x`` (``nr <= R``).

    Returns the buffer (``a`` or ``b``) holding the result, in buffer order.
    """
    rr, p = a.shape
    kp = mat_t.shape[1]
    nbr = p // kp
    cur = a
    oth = b
    for k in range(rounds):
        s = ssc[k]
        for t in range(nr):
            dt = oth[t]
            if k == 0:
                xr = x[r0 + t]
                for j in range(0, p, LANES):
                    gather8_scaled(xr, dt, j, gx, s)
            else:
                ct = cur[t]
                for j in range(0, p, LANES):
                    gather8_scaled(ct, dt, j, gbuf, s)
        cur, oth = oth, cur
        for c in range(col_k.shape[0]):
            _col_pass(cur, oth, nr * p, col_k[c], col_s[c], mats, col_m[c])
            cur, oth = oth, cur
        _row_pass(cur, oth, rr * nbr, kp, kin, mat_t)
        cur, oth = oth, cur
    return cur


@njit(cache=True, inline="always")
def _natural_chunk(x, lo, hi, out, rounds, permute0, ssc, perm, blocks, bsrc, lperm, m, col_k, col_s,
                   col_m, mats, a, b):
    """Rows ``lo .. hi-1`` on the natural layout; returns ``(bad, over)`` for them."""
    acc = x.dtype.type(0.0)
    oacc = x.dtype.type(0.0)
    for r in range(lo, hi):
        o = _natural_row(x, r, out, rounds, permute0, ssc, perm, blocks, bsrc, lperm, m, col_k, col_s,
                         col_m, mats, a, b)
        if not (o == 0.0):
            oacc += o
            acc += _finite_row(x, r)
    return not (acc == 0.0), not (oacc == 0.0)


@njit(cache=True, inline="always")
def _blocked_chunk(x, lo, hi, out, rounds, ssc, gx, gbuf, fin, kin, col_k, col_s, col_m, mats, mat_t,
                   a, b):
    """Rows ``lo .. hi-1`` on the blocked layout, ``R`` at a time; returns ``(bad, over)`` for them."""
    acc = x.dtype.type(0.0)
    oacc = x.dtype.type(0.0)
    rr = a.shape[0]
    d = x.shape[1]
    for r0 in range(lo, hi, rr):
        nr = min(rr, hi - r0)
        res = _blocked_rows(x, r0, nr, out, rounds, ssc, gx, gbuf, fin, kin, col_k, col_s, col_m,
                            mats, mat_t, a, b)
        for t in range(nr):
            o = x.dtype.type(0.0)
            for i in range(d):
                v = res[t, fin[i]]
                o += v - v
                out[r0 + t, i] = v
            if not (o == 0.0):
                oacc += o
                acc += _finite_row(x, r0 + t)
    return not (acc == 0.0), not (oacc == 0.0)


@njit(cache=True, parallel=True)
def span_natural_forward(x, out, rounds, permute0, ssc, perm, blocks, bsrc, lperm, m, col_k, col_s,
                         col_m, mats, bufa, bufb, rows_per_chunk, bad, over):
    """Forward transform of the rows of ``x`` on the natural span layout, parallel over chunks of rows.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous, float32 or float64
        Input rows; not modified. ``d`` is a multiple of ``SPAN``.
    out : ndarray, shape (n, d), dtype of ``x``
        Output rows.
    rounds : int
        Number of rounds applied.
    permute0 : bool
        Whether the first round applied starts with the permutation (its
        global index is >= 1); later rounds always do.
    ssc : ndarray, shape (rounds, d), dtype of ``x``
        Signs times ``1/sqrt(d)`` of each round.
    perm : ndarray, shape (d,), int32
        The permutation.
    blocks : bool
        Whether ``perm`` is a block-and-lane permutation
        (:func:`rhtann.layouts.keep.block_permutation`), applied from
        ``bsrc`` and ``lperm`` instead of gathered through ``perm``.
    bsrc : ndarray, shape (d // 8,), int32
        Start of each block's source (read only when ``blocks``).
    lperm : ndarray, shape (d // 8, 8), int32
        Lane permutation of each block (read only when ``blocks``).
    m : int
        Order ``M`` of the Sylvester factor, ``SPAN <= M``.
    col_k, col_s, col_m : ndarray, shape (cores,), int64
        Order, stride (a multiple of ``M``) and offset in ``mats`` of each core.
    mats : ndarray, shape (>= sum k^2,), dtype of ``x``
        The cores, each transposed and row-major, back to back.
    bufa, bufb : ndarray, shape (nchunks, 1, d), dtype of ``x``
        Row buffers of each chunk.
    rows_per_chunk : int
        Rows per chunk, except the last.
    bad, over : ndarray, shape (nchunks,), bool
        Set per chunk: whether ``x`` held a NaN or infinity, whether a value
        stored in ``out`` is one.
    """
    n = x.shape[0]
    for c in prange(bufa.shape[0]):
        lo = min(n, c * rows_per_chunk)
        hi = min(n, lo + rows_per_chunk)
        bad[c], over[c] = _natural_chunk(x, lo, hi, out, rounds, permute0, ssc, perm, blocks, bsrc,
                                         lperm, m, col_k, col_s, col_m, mats, bufa[c], bufb[c])


@njit(cache=True)
def span_natural_forward_serial(x, out, rounds, permute0, ssc, perm, blocks, bsrc, lperm, m, col_k,
                                col_s, col_m, mats, bufa, bufb, rows_per_chunk, bad, over):
    """:func:`span_natural_forward` on one thread over all rows (one chunk of buffers)."""
    bad[0], over[0] = _natural_chunk(x, 0, x.shape[0], out, rounds, permute0, ssc, perm, blocks, bsrc,
                                     lperm, m, col_k, col_s, col_m, mats, bufa[0], bufb[0])


@njit(cache=True, parallel=True)
def span_blocked_forward(x, out, rounds, ssc, gx, gbuf, fin, kin, col_k, col_s, col_m, mats, mat_t,
                         bufa, bufb, rows_per_chunk, bad, over):
    """Forward transform of the rows of ``x`` on the blocked span layout, parallel over chunks of rows.

    Parameters
    ----------
    x, out, rounds, rows_per_chunk, bad, over
        As in :func:`span_natural_forward`.
    ssc : ndarray, shape (rounds, P), dtype of ``x``
        Signs times ``1/sqrt(d)`` of each round at buffer positions (zero at pads).
    gx, gbuf : ndarray, shape (P,), int32
        The column of ``x`` (first round) and the buffer position of the
        previous round's output (later rounds) that each buffer position
        gathers (any valid index at pads).
    fin : ndarray, shape (d,), int64
        Buffer position of each output coordinate.
    kin : int
        Order of the inner core.
    col_k, col_s, col_m, mats
        As in :func:`span_natural_forward`, for the cores along strided
        digits (strides multiples of ``kp``).
    mat_t : ndarray, shape (kin, kp), dtype of ``x``
        The inner core transposed, columns ``kin ..`` zero.
    bufa, bufb : ndarray, shape (nchunks, R, P), dtype of ``x``, zeroed
        Row buffers of each chunk; ``R * P / kp`` is a multiple of 4.
    """
    n = x.shape[0]
    for c in prange(bufa.shape[0]):
        lo = min(n, c * rows_per_chunk)
        hi = min(n, lo + rows_per_chunk)
        bad[c], over[c] = _blocked_chunk(x, lo, hi, out, rounds, ssc, gx, gbuf, fin, kin, col_k, col_s,
                                         col_m, mats, mat_t, bufa[c], bufb[c])


@njit(cache=True)
def span_blocked_forward_serial(x, out, rounds, ssc, gx, gbuf, fin, kin, col_k, col_s, col_m, mats,
                                mat_t, bufa, bufb, rows_per_chunk, bad, over):
    """:func:`span_blocked_forward` on one thread over all rows (one chunk of buffers)."""
    bad[0], over[0] = _blocked_chunk(x, 0, x.shape[0], out, rounds, ssc, gx, gbuf, fin, kin, col_k,
                                     col_s, col_m, mats, mat_t, bufa[0], bufb[0])
