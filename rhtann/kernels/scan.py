"""Scanners over 4-bit codes: fast scan with uint8 tables, exact re-score, blocked decode.

Layout
------
Codes whose level indices form nibbles (``M`` per vector, ``P = ceil(M/2)``
bytes) are stored block-interleaved: vectors are grouped in blocks of 32,
and block ``blk`` occupies ``codes[blk*P*32 : (blk+1)*P*32]`` with byte
``p`` of vector ``32*blk + j`` at offset ``p*32 + j``. Per vector the index
also keeps a scale ``sv`` and an offset ``ev`` (float32), padded with
``sv = 0, ev = inf`` up to a whole number of blocks.

Scores
------
Every kernel maximizes ``score = sv * alpha * <q, u> - ev`` where ``u`` is
the unit-scale decoded vector: ``alpha = 1, ev = 0`` gives inner products,
``alpha = 2, ev = ||x_hat||**2`` gives ``||q||**2 - ||q - x_hat||**2``.

Heaps
-----
Top-k results are exchanged as min-heaps, arrays ``hs`` (scores, float32)
and ``hi`` (positions, int64) of one row per heap; ``hs[r, 0]`` is the
k-th best score. Empty slots hold ``-inf`` and position ``-1``. The fast
scans collect candidates in buffers (:mod:`rhtann.kernels.topk`) and
write each row's best (decreasing score, ties by smaller position) as
such a heap at the end.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange, types
from numba.extending import overload

from .scan_simd import (
    HAS_VBMI,
    LANES,
    QB,
    fastscan_block1,
    fastscan_block1n,
    fastscan_block4,
    fastscan_block4n,
    fastscan_block4nu,
    fastscan_block4u,
    lowest_bit,
)
from .tables import quantize_luts, quantize_luts_top, table_slots  # noqa: F401  (re-exported)
from .topk import (  # noqa: F401  (heap_reset, heap_sort_rows, topk_update: re-exported)
    SLACK,
    _insert_sorted,
    batch_rows,
    buffer_capacity,
    finish_row,
    heap_push,
    heap_reset,
    heap_sort_rows,
    load_row,
    reduce_buffer,
    topk_update,
)

#: Bytes of codes scanned by every query of a batch before moving on (a tile that stays in cache).
TILE_BYTES = 32768

#: Byte boundary the scanned arrays (codes, scales, offsets, tables) start at: the intrinsics'
#: 64-byte loads then never straddle two cache lines.
ALIGN = 64


@numba.njit(cache=True, nogil=True)
def aligned_bytes(nbytes):
    """Zeroed uint8 array of ``nbytes`` whose data starts at a multiple of :data:`ALIGN` bytes."""
    raw = np.zeros(nbytes + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start : start + nbytes]

#: Queries whose candidate buffers the scanners hold at once (at most).
QBATCH = 1024

#: Whether the flat scan (:func:`fastscan_topk`) skips a block's float scores when no integer
#: sum reaches the query's bound (:func:`int_bound`). With the VBMI pair step
#: (:data:`rhtann.kernels.scan_simd.HAS_VBMI`) the bound's global scale lets about half the
#: blocks through anyway, and scoring every block without the unpredictable branch measured
#: faster (never slower) there, so the flat scan passes no bound; the inverted-list scan,
#: where it measured even, keeps it. The candidates are the same either way: the bound only
#: skips blocks that hold none.
PREFILTER = not HAS_VBMI

#: The group kernels of the flat scan: with the integer pre-filter where :data:`PREFILTER` is on,
#: without it (the bounds not read) where it is off.
_GROUP = fastscan_block4 if PREFILTER else fastscan_block4u
_GROUP_NARROW = fastscan_block4n if PREFILTER else fastscan_block4nu


_OPTS = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy", "boundscheck": False}


def scale_at(sv, v):
    """Scale of position ``v``: ``sv`` is float32, or uint16 holding float16 bit patterns."""
    if sv.dtype == np.uint16:
        return np.float32(half_to_float(int(sv[v])))
    return np.float32(sv[v])


@numba.njit(**_OPTS)
def half_to_float(h):
    """The value of the float16 bit pattern ``h`` (an int below 2**16)."""
    sign = -1.0 if (h >> 15) & 1 else 1.0
    e = (h >> 10) & 31
    man = h & 1023
    if e == 0:
        return sign * man * 2.0**-24
    if e == 31:
        return sign * np.inf if man == 0 else np.nan
    return sign * (1024 + man) * 2.0 ** (e - 25)


@overload(scale_at, jit_options={"cache": True})
def _scale_at_impl(sv, v):
    if isinstance(sv, types.Array) and sv.dtype == types.uint16:

        def impl(sv, v):
            return np.float32(half_to_float(np.int64(sv[v])))

        return impl

    def impl_f(sv, v):
        return np.float32(sv[v])

    return impl_f


#: Largest integer bound :func:`int_bound` returns (the intrinsics compare unsigned 32-bit sums).
BOUND_MAX = 2**31 - 1

#: Relative float32 error allowance of the scores behind :func:`int_bound` (16 times the
#: ``4 * 2**-24`` that the four float32 operations of a score can add up to).
_REL = 2.0**-20


@numba.njit(**_OPTS)
def narrow_tables(lflat):
    """Whether every uint8 table entry in ``lflat`` is at most 127.

    Such tables are scanned by the ``n`` intrinsics, which add the two
    looked-up bytes of a pair as bytes before widening (one shift and one
    add fewer per pair); the sums are the same.
    """
    # an OR over every entry (no early exit) compiles to a vector reduction
    bits = np.uint8(0)
    for j in range(lflat.shape[0]):
        bits |= lflat[j]
    return bits < 128


@numba.njit(**_OPTS)
def int_bound(thr, a, b, smax, emin):
    """Least integer table sum a vector needs to possibly score above ``thr``.

    A vector with sum ``S``, scale ``0 <= s <= smax`` and offset ``e >= emin``
    scores ``s * (a S + b) - e``; when ``thr + emin > 0`` that exceeds
    ``thr`` only if ``S > tf = ((thr + emin) / smax - b) / a``. The bound is
    ``floor(tf - margin)`` with ``margin = 1 + r (|tf| + |b| / a + (|thr| +
    |emin|) / (smax a))``, ``r = 2**-20``: that margin covers the rounding of
    the float32 scores the intrinsics compute (at most about ``4 * 2**-24``
    relative to ``s (a S + |b|) + e``), so a vector the float32 score would
    keep is never cut by the bound. Computed in float64. Returns 0 (every
    vector may pass) when no bound applies; clamped to ``[0, BOUND_MAX]``.
    """
    t = np.float64(thr)
    em = np.float64(emin)
    sm = np.float64(smax)
    aa = np.float64(a)
    bb = np.float64(b)
    t2 = t + em
    if not (t2 > _REL * (abs(t) + abs(em)) and sm > 0 and aa > 0):
        return 0
    tf = (t2 / sm - bb) / aa
    margin = 1.0 + _REL * (abs(tf) + abs(bb) / aa + (abs(t) + abs(em)) / (sm * aa))
    v = tf - margin
    if not v < BOUND_MAX:
        return BOUND_MAX
    return max(np.int64(np.floor(v)), 0)


@numba.njit(**_OPTS)
def interleave_into(rows, start, out):
    """Write row-major code bytes into the block-interleaved layout.

    Parameters
    ----------
    rows : uint8 (n, P)
        Byte ``p`` of each vector's nibble stream.
    start : int
        Position of ``rows[0]`` in the layout.
    out : uint8 (capacity * P,)
        Interleaved codes, capacity a multiple of 32 and at least ``start + n``.
    """
    n, P = rows.shape
    for r in range(n):
        v = start + r
        base = (v // LANES) * P * LANES + v % LANES
        for p in range(P):
            out[base + p * LANES] = rows[r, p]


@numba.njit(**_OPTS)
def deinterleave(codes, P, pos, out):
    """Row-major code bytes ``out[i] = byte stream of vector pos[i]``, uint8 (len(pos), P)."""
    for i in range(pos.shape[0]):
        v = pos[i]
        blk, j = v // LANES, v % LANES
        base = blk * P * LANES + j
        for p in range(P):
            out[i, p] = codes[base + p * LANES]


@numba.njit(**_OPTS)
def _open_row(hs, hi, r, bs, bi, row, kk, qa, qb, smax, emin):
    """Start buffer row ``row`` from heap row ``r``: returns ``(count, threshold, integer bound)``."""
    n = load_row(hs, hi, r, bs, bi, row)
    n, thr = reduce_buffer(bs, bi, row, n, kk)
    return n, thr, int_bound(thr, qa, qb, smax, emin)


@numba.njit(**_OPTS)
def fastscan_topk(codes, P, nblocks, luts, a, b, sv, ev, chunks, hs, hi, smax, emin):
    """Approximate top candidates of every query by the uint8 fast scan.

    Parameters
    ----------
    codes : uint8 (nblocks * P * 32,)
        Interleaved codes.
    P, nblocks : int
    luts : uint8 (m, P * 64)
        From :func:`quantize_luts` (``a``, ``b`` too, already multiplied by alpha).
    a, b : float32 (m,)
    sv, ev : float32 (nblocks * 32,)
    chunks : int
        Parts the blocks are split into per query (threads over code blocks).
    hs, hi : heaps, shape (m * chunks, kk)
        Row ``i * chunks + c`` receives query ``i``'s best ``kk`` of chunk
        ``c`` and of the row's earlier entries (position >= 0), best by
        decreasing score, ties by smaller position, written as a min-heap
        on the score (``-inf`` / ``-1`` padding).
    smax, emin : float
        Largest scale and smallest offset of the stored vectors (bounds for
        the integer pre-filter, :func:`int_bound`).

    Notes
    -----
    Candidates are collected in buffers (:mod:`rhtann.kernels.topk`) of
    at most :data:`QBATCH` queries at a time. ``smax`` and ``emin`` are
    used only where :data:`PREFILTER` is true.
    """
    if not PREFILTER:
        emin = -np.inf  # int_bound then returns 0: every block is scored
    m = luts.shape[0]
    kk = hs.shape[1]
    per = (nblocks + chunks - 1) // chunks
    lflat = luts.reshape(luts.shape[0] * luts.shape[1])
    ab = np.empty(2 * m, dtype=np.float32)
    for i in range(m):
        ab[2 * i] = a[i]
        ab[2 * i + 1] = b[i]
    bounds = (np.float32(smax), np.float32(emin), narrow_tables(lflat))
    cap = buffer_capacity(kk)
    qbatch = batch_rows(m, cap * chunks, QB, QBATCH)
    nrow = qbatch * chunks
    bs = np.empty((nrow, cap), dtype=np.float32)
    bi = np.empty((nrow, cap), dtype=np.int64)
    cnt = np.zeros(nrow, dtype=np.int64)
    scratch = np.empty((nrow, LANES + 3), dtype=np.float32)
    sint = scratch.view(np.int32)
    if chunks > 1:
        _fastscan_chunks(codes, P, nblocks, lflat, luts.shape[1], ab, sv, ev, chunks, per, hs, hi, bs, bi,
                         scratch, bounds)
        return
    # batches: groups of QB queries share each load of the codes; tiles of blocks small
    # enough to stay in cache are scanned by every group before moving on
    ng = max(nrow // QB, 1)
    gout = np.empty((ng, QB * LANES), dtype=np.float32)
    gthr = np.empty((ng, 2 * QB), dtype=np.float32)
    gint = gthr.view(np.int32)
    gmask = np.empty((ng, QB), dtype=np.uint32)
    for q0 in range(0, m, qbatch):
        mb = min(m, q0 + qbatch) - q0
        groups = mb // QB
        for j in range(mb):
            i = q0 + j
            n, thr, bnd = _open_row(hs, hi, i, bs, bi, j, kk, ab[2 * i], ab[2 * i + 1], smax, emin)
            cnt[j] = n
            if j < groups * QB:
                gthr[j // QB, j % QB] = thr
                gint[j // QB, QB + j % QB] = bnd
            else:
                scratch[j, LANES] = thr
                sint[j, LANES + 1] = bnd
        tile = max(4, TILE_BYTES // (P * LANES))
        for t0 in range(0, nblocks, tile):
            t1 = min(nblocks, t0 + tile)
            if groups > 0:
                _scan_range_groups(
                    codes, P, lflat, luts.shape[1], ab, sv, ev, t0, t1, q0, groups, gout, gthr, gmask,
                    bs, bi, cnt, kk, bounds,
                )
            for j in range(groups * QB, mb):
                cnt[j] = _scan_range(
                    codes, P, lflat, luts.shape[1], q0 + j, ab, sv, ev, t0, t1, bs, bi, j, cnt[j],
                    scratch[j], bounds,
                )
        for j in range(mb):
            finish_row(bs, bi, j, cnt[j], hs, hi, q0 + j)


@numba.njit(parallel=True, **_OPTS)
def _fastscan_chunks(
    codes, P, nblocks, lflat, lstride, ab, sv, ev, chunks, per, hs, hi, bs, bi, scratch, bounds
):
    """:func:`fastscan_topk` with ``chunks > 1``: one task per query and chunk of ``per`` blocks."""
    smax, emin, narrow = bounds
    kk = hs.shape[1]
    m = hs.shape[0] // chunks
    sint = scratch.view(np.int32)
    qbatch = bs.shape[0] // chunks
    for q0 in range(0, m, qbatch):
        ntask = (min(m, q0 + qbatch) - q0) * chunks
        for task in prange(ntask):
            r = q0 * chunks + task
            i = r // chunks
            start = (r % chunks) * per
            n, thr, bnd = _open_row(hs, hi, r, bs, bi, task, kk, ab[2 * i], ab[2 * i + 1], smax, emin)
            scratch[task, LANES] = thr
            sint[task, LANES + 1] = bnd
            n = _scan_range(
                codes, P, lflat, lstride, i, ab, sv, ev, start, min(nblocks, start + per),
                bs, bi, task, n, scratch[task], bounds,
            )
            finish_row(bs, bi, task, n, hs, hi, r)


@numba.njit(parallel=True, **_OPTS)
def _scan_range_groups(
    codes, P, lflat, lstride, ab, sv, ev, start, stop, q0, groups, gout, gthr, gmask, bs, bi, cnt, kk, bounds
):
    """Scan blocks ``start .. stop-1`` for every group of ``QB`` queries from query ``q0`` on.

    ``gthr[g]`` holds the group's float thresholds, then their integer
    bounds (int32 bit patterns) for the intrinsic's pre-filter; query
    ``q0 + j`` appends to buffer row ``j`` (``cnt[j]`` entries held).
    """
    smax, emin, narrow = bounds
    cap = bs.shape[1]
    half = 1 if sv.itemsize == 2 else 0
    svs = sv.itemsize
    c0 = codes.ctypes.data
    l0 = lflat.ctypes.data
    s0 = sv.ctypes.data
    e0 = ev.ctypes.data
    a0 = ab.ctypes.data
    o0 = gout.ctypes.data
    t0 = gthr.ctypes.data
    m0 = gmask.ctypes.data
    gint = gthr.view(np.int32)
    for g in prange(groups):
        i0 = q0 + g * QB
        out = gout[g]
        thr = gthr[g]
        tint = gint[g]
        masks = gmask[g]
        lp = l0 + i0 * lstride
        ap = a0 + 8 * i0
        op = o0 + 4 * QB * LANES * g
        tp = t0 + 8 * QB * g
        mp = m0 + 4 * QB * g
        for blk in range(start, stop):
            v0 = blk * LANES
            cp, sp, ep = c0 + v0 * P, s0 + svs * v0, e0 + 4 * v0
            if narrow:
                anyhit = _GROUP_NARROW(cp, P, lp, lstride, sp, half, ep, ap, tp, op, mp)
            else:
                anyhit = _GROUP(cp, P, lp, lstride, sp, half, ep, ap, tp, op, mp)
            # bit t of anyhit: query t has a lane that passes
            while anyhit != 0:
                t = lowest_bit(anyhit)
                anyhit &= anyhit - np.uint32(1)
                mask = masks[t]
                row = g * QB + t
                n = cnt[row]
                if n + LANES > cap:
                    n, th = reduce_buffer(bs, bi, row, n, kk)
                    thr[t] = th
                    tint[QB + t] = int_bound(th, ab[2 * (i0 + t)], ab[2 * (i0 + t) + 1], smax, emin)
                n = _append(out, t * LANES, mask, thr[t], v0, bs, bi, row, n)
                cnt[row] = n


@numba.njit(inline="always", **_OPTS)
def _append(out, o, mask, th, v0, bs, bi, row, n):
    """Append the lanes of ``mask`` whose score ``out[o + j]`` exceeds ``th`` to buffer row ``row``."""
    while mask != 0:
        j = lowest_bit(mask)
        mask &= mask - np.uint32(1)
        val = out[o + j]
        bs[row, n] = val
        bi[row, n] = v0 + j
        n += 1 if val > th else 0
    return n


@numba.njit(**_OPTS)
def _scan_range(codes, P, lflat, lstride, i, ab, sv, ev, start, stop, bs, bi, row, n, scratch, bounds):
    """Scan blocks ``start .. stop-1`` for query ``i`` into buffer row ``row`` (``n`` held); new count.

    ``scratch`` (float32, >= 35 entries) receives the 32 scores and holds
    the threshold at 32, its integer bound (int32 bit pattern) at 33 (both
    kept from call to call) and the mask at 34.
    """
    smax, emin, narrow = bounds
    kk = (bs.shape[1] - SLACK) // 2
    cap = bs.shape[1]
    half = 1 if sv.itemsize == 2 else 0
    svs = sv.itemsize
    c0 = codes.ctypes.data
    s0 = sv.ctypes.data
    e0 = ev.ctypes.data
    lp = lflat.ctypes.data + i * lstride
    ap = ab.ctypes.data + 8 * i
    op = scratch.ctypes.data
    tp = op + 4 * LANES
    mp = tp + 8
    sint = scratch.view(np.int32)
    for blk in range(start, stop):
        v0 = blk * LANES
        cp, sp, ep = c0 + v0 * P, s0 + svs * v0, e0 + 4 * v0
        if narrow:
            mask = fastscan_block1n(cp, P, lp, lstride, sp, half, ep, ap, tp, op, mp)
        else:
            mask = fastscan_block1(cp, P, lp, lstride, sp, half, ep, ap, tp, op, mp)
        if mask == 0:
            continue
        if n + LANES > cap:
            n, th = reduce_buffer(bs, bi, row, n, kk)
            scratch[LANES] = th
            sint[LANES + 1] = int_bound(th, ab[2 * i], ab[2 * i + 1], smax, emin)
        n = _append(scratch, 0, np.uint32(mask), scratch[LANES], v0, bs, bi, row, n)
    return n


@numba.njit(**_OPTS)
def _refinement(codes, base, ref, v, qrot, i, delta, R, bits):
    """``sum_{j<R} qrot[i, j] * delta[2 c_j + e_j]`` for the vector at ``base`` / position ``v``.

    ``bits`` is 1, 2 or 4, so every index below is computed with shifts and masks.
    """
    gshift = 2 if bits == 1 else (1 if bits == 2 else 0)
    gmask = (1 << gshift) - 1
    mask = (1 << bits) - 1
    acc = np.float32(0.0)
    for j in range(R):
        m = j >> gshift
        byte = codes[base + (m >> 1) * LANES]
        c = (byte >> (((m & 1) << 2) + bits * (j & gmask))) & mask
        e = (ref[v, j >> 3] >> (j & 7)) & 1
        acc += qrot[i, j] * delta[2 * c + e]
    return acc


@numba.njit(inline="always", **_OPTS)
def _offer(out_s, out_i, i, k, codes, base, v, acc, alpha, sv, ev, qrot, ref, delta, R, bits):
    """Score position ``v`` (codes at ``base``, table sum ``acc``); insert it into row ``i`` if it ranks."""
    if R > 0:
        acc += _refinement(codes, base, ref, v, qrot, i, delta, R, bits)
    score = np.float32(scale_at(sv, v) * (np.float32(alpha) * acc) - ev[v])
    last = out_s[i, k - 1]
    if score > last or (score == last and v < out_i[i, k - 1]):
        _insert_sorted(out_s, out_i, i, k, score, v)


@numba.njit(**_OPTS)
def rescore_topk(codes, P, lut, alpha, sv, ev, cand, k, out_s, out_i, qrot, ref, delta, R, bits):
    """Exact scores of candidate positions from the codes, and the best ``k`` per query.

    Parameters
    ----------
    codes : uint8 interleaved codes
    P : int
    lut : float32 (m, M, 16)
        Float tables (not multiplied by alpha).
    alpha : float
    sv, ev : float32 per-vector scale and offset
    cand : int64 (m, C)
        Candidate positions, -1 for none; duplicates are not allowed.
    k : int
    out_s : float32 (m, k)
        Receives the best scores, decreasing (``-inf`` padding).
    out_i : int64 (m, k)
        Receives their positions (-1 padding); ties by smaller position.
    qrot : float32 (m, >= R)
        The rotated queries (read for the refined coordinates only).
    ref : uint8 (capacity, ceil(R / 8))
        Refinement bits, coordinate ``j`` at bit ``j % 8`` of byte ``j // 8``.
    delta : float32 (2 ** (bits + 1),)
        Unit-level change ``delta[2c + e]`` a refinement bit ``e`` makes to level ``c``.
    R, bits : int
        Refined coordinates (0: none) and bits per coordinate.

    Notes
    -----
    A candidate's table sum is the float32 sum ``lut[0, c_0] + lut[1, c_1]
    + ...`` in table order; four candidates are summed side by side, each in
    that order.
    """
    m, C = cand.shape
    valid = np.empty((m, C), dtype=np.int64)
    if m == 1:
        _rescore_row(codes, P, lut, alpha, sv, ev, cand, k, out_s, out_i, qrot, ref, delta, R, bits, valid, 0)
    else:
        _rescore_rows(codes, P, lut, alpha, sv, ev, cand, k, out_s, out_i, qrot, ref, delta, R, bits, valid)


@numba.njit(parallel=True, **_OPTS)
def _rescore_rows(codes, P, lut, alpha, sv, ev, cand, k, out_s, out_i, qrot, ref, delta, R, bits, valid):
    """:func:`rescore_topk` over every query, threads over queries."""
    for i in prange(cand.shape[0]):
        _rescore_row(codes, P, lut, alpha, sv, ev, cand, k, out_s, out_i, qrot, ref, delta, R, bits, valid, i)


@numba.njit(inline="always", **_OPTS)
def _rescore_row(codes, P, lut, alpha, sv, ev, cand, k, out_s, out_i, qrot, ref, delta, R, bits, valid, i):
    """:func:`rescore_topk` for query ``i`` (``valid[i]``: scratch for its candidate positions)."""
    C = cand.shape[1]
    M = lut.shape[1]
    full = M // 2
    for j in range(k):
        out_s[i, j] = -np.inf
        out_i[i, j] = -1
    nv = 0
    for c in range(C):
        if cand[i, c] >= 0:
            valid[i, nv] = cand[i, c]
            nv += 1
    c = 0
    while c + 4 <= nv:
        v0, v1, v2, v3 = valid[i, c], valid[i, c + 1], valid[i, c + 2], valid[i, c + 3]
        b0 = np.uint64((v0 // LANES) * P * LANES + v0 % LANES)
        b1 = np.uint64((v1 // LANES) * P * LANES + v1 % LANES)
        b2 = np.uint64((v2 // LANES) * P * LANES + v2 % LANES)
        b3 = np.uint64((v3 // LANES) * P * LANES + v3 % LANES)
        acc0 = acc1 = acc2 = acc3 = np.float32(0.0)
        for p in range(full):
            o = np.uint64(p * LANES)
            x0, x1, x2, x3 = codes[b0 + o], codes[b1 + o], codes[b2 + o], codes[b3 + o]
            acc0 += lut[i, 2 * p, x0 & 15]
            acc1 += lut[i, 2 * p, x1 & 15]
            acc2 += lut[i, 2 * p, x2 & 15]
            acc3 += lut[i, 2 * p, x3 & 15]
            acc0 += lut[i, 2 * p + 1, x0 >> 4]
            acc1 += lut[i, 2 * p + 1, x1 >> 4]
            acc2 += lut[i, 2 * p + 1, x2 >> 4]
            acc3 += lut[i, 2 * p + 1, x3 >> 4]
        if full < P:
            o = np.uint64(full * LANES)
            acc0 += lut[i, 2 * full, codes[b0 + o] & 15]
            acc1 += lut[i, 2 * full, codes[b1 + o] & 15]
            acc2 += lut[i, 2 * full, codes[b2 + o] & 15]
            acc3 += lut[i, 2 * full, codes[b3 + o] & 15]
        _offer(out_s, out_i, i, k, codes, np.int64(b0), v0, acc0, alpha, sv, ev, qrot, ref, delta, R, bits)
        _offer(out_s, out_i, i, k, codes, np.int64(b1), v1, acc1, alpha, sv, ev, qrot, ref, delta, R, bits)
        _offer(out_s, out_i, i, k, codes, np.int64(b2), v2, acc2, alpha, sv, ev, qrot, ref, delta, R, bits)
        _offer(out_s, out_i, i, k, codes, np.int64(b3), v3, acc3, alpha, sv, ev, qrot, ref, delta, R, bits)
        c += 4
    for c2 in range(c, nv):
        v = valid[i, c2]
        base = (v // LANES) * P * LANES + v % LANES
        acc = np.float32(0.0)
        for p in range(P):
            byte = codes[base + p * LANES]
            acc += lut[i, 2 * p, byte & 15]
            if 2 * p + 1 < M:
                acc += lut[i, 2 * p + 1, byte >> 4]
        _offer(out_s, out_i, i, k, codes, base, v, acc, alpha, sv, ev, qrot, ref, delta, R, bits)


@numba.njit(parallel=True, **_OPTS)
def decode_block(codes, P, table, sv, start, stop, out, ref, delta, R, bits):
    """Decode positions ``start .. stop-1`` to float32 rows ``out[0 : stop-start]``.

    Parameters
    ----------
    codes : uint8 interleaved codes
    P : int
    table : float32 (16, g)
        The ``g`` unit levels each nibble value stands for.
    sv : float32 per-vector scales
    out : float32 (>= stop - start, d)
    ref, delta, R, bits :
        Refinement bits as in :func:`rescore_topk` (``R = 0``: none).
    """
    d = out.shape[1]
    g = table.shape[1]
    for v in prange(start, stop):
        blk, lane = v // LANES, v % LANES
        base = blk * P * LANES + lane
        s = scale_at(sv, v)
        r = v - start
        for p in range(P):
            byte = codes[base + p * LANES]
            for half in range(2):
                nib = (byte >> (4 * half)) & 15
                col = (2 * p + half) * g
                for t in range(g):
                    if col + t < d:
                        out[r, col + t] = s * table[nib, t]
        if R > 0:
            gshift = 2 if bits == 1 else (1 if bits == 2 else 0)
            gmask = (1 << gshift) - 1
            mask = (1 << bits) - 1
            for j in range(R):
                m = j >> gshift
                byte = codes[base + (m >> 1) * LANES]
                c = (byte >> (((m & 1) << 2) + bits * (j & gmask))) & mask
                e = (ref[v, j >> 3] >> (j & 7)) & 1
                out[r, j] += s * delta[2 * c + e]


@numba.njit(**_OPTS)
def ivf_fastscan_topk(codes, P, bstart, probes, luts, a, b, sv, ev, hs, hi, smax, emin):
    """Fast scan of the probed inverted lists of every query.

    Parameters
    ----------
    codes : uint8 interleaved codes, every list starting at a block boundary
    P : int
    bstart : int64 (nlist + 1,)
        List ``l`` occupies blocks ``bstart[l] .. bstart[l + 1] - 1``.
    probes : int64 (m, nprobe)
        Lists to scan per query (-1: none).
    luts, a, b, sv, ev, smax, emin : as in :func:`fastscan_topk`
    hs, hi : heaps with one row per query, filled as in :func:`fastscan_topk`
    """
    m, nprobe = probes.shape
    kk = hs.shape[1]
    lflat = luts.reshape(luts.shape[0] * luts.shape[1])
    bounds = (np.float32(smax), np.float32(emin), narrow_tables(lflat))
    ab = np.empty(2 * m, dtype=np.float32)
    for i in range(m):
        ab[2 * i] = a[i]
        ab[2 * i + 1] = b[i]
    cap = buffer_capacity(kk)
    nrow = batch_rows(m, cap, QB, QBATCH)
    bs = np.empty((nrow, cap), dtype=np.float32)
    bi = np.empty((nrow, cap), dtype=np.int64)
    scratch = np.empty((nrow, LANES + 3), dtype=np.float32)
    for q0 in range(0, m, nrow):
        q1 = min(m, q0 + nrow)
        if q1 - q0 == 1:
            _ivf_query(codes, P, bstart, probes, lflat, luts.shape[1], ab, sv, ev, hs, hi, bs, bi, scratch,
                       bounds, q0, 0)
        else:
            _ivf_queries(codes, P, bstart, probes, lflat, luts.shape[1], ab, sv, ev, hs, hi, bs, bi, scratch,
                         bounds, q0, q1)


@numba.njit(parallel=True, **_OPTS)
def _ivf_queries(
    codes, P, bstart, probes, lflat, lstride, ab, sv, ev, hs, hi, bs, bi, scratch, bounds, q0, q1
):
    """:func:`ivf_fastscan_topk` for queries ``q0 .. q1-1``, threads over queries."""
    for j in prange(q1 - q0):
        _ivf_query(
            codes, P, bstart, probes, lflat, lstride, ab, sv, ev, hs, hi, bs, bi, scratch, bounds, q0 + j, j
        )


@numba.njit(**_OPTS)
def _ivf_query(codes, P, bstart, probes, lflat, lstride, ab, sv, ev, hs, hi, bs, bi, scratch, bounds, i, j):
    """Query ``i``'s probed lists into heap row ``i`` through buffer row ``j``."""
    smax, emin, narrow = bounds
    sint = scratch.view(np.int32)
    n, thr, bnd = _open_row(hs, hi, i, bs, bi, j, hs.shape[1], ab[2 * i], ab[2 * i + 1], smax, emin)
    scratch[j, LANES] = thr
    sint[j, LANES + 1] = bnd
    for t in range(probes.shape[1]):
        lst = probes[i, t]
        if lst < 0:
            continue
        n = _scan_range(
            codes, P, lflat, lstride, i, ab, sv, ev, bstart[lst], bstart[lst + 1], bs, bi, j, n, scratch[j],
            bounds,
        )
    finish_row(bs, bi, j, n, hs, hi, i)
