"""numba kernels for the randomized Walsh-Hadamard transform.

All kernels are pure functions on C-contiguous arrays: they read their inputs,
write into caller-provided outputs and scratch buffers, and allocate nothing.

Two code paths share the same arithmetic:

* the *tiled* path transposes a tile of ``tw`` rows into a ``(p, tw)``
  scratch buffer, so that every butterfly works on ``tw`` rows at once with
  SIMD instructions, whatever the butterfly stride; all rounds run while the
  tile is in cache, the sign flips are fused into the first butterflies of
  each round, and tiles are spread over threads in contiguous chunks;
* the *row* path transforms one row at a time in place in the output and
  serves small batches, where launching threads costs more than it saves.

Butterflies are grouped in radix-4 passes (two stages per trip through
memory), then one radix-2 pass when the number of stages is odd.

The forward transform of one row is, for rounds ``r = 0 .. R-1``,
``v <- H_p (s_r * v)`` on the zero-padded row, then ``v <- scale * v``; the
inverse applies ``v <- s_r * (H_p v)`` for ``r = R-1 .. 0``, scales and keeps
the first ``d`` coordinates. ``H_p`` is the unnormalized Sylvester-Hadamard
matrix, so ``scale = p ** (-R / 2)`` makes both orthogonal.
"""

from __future__ import annotations

from numba import njit, prange

#: Default number of rows transformed together by the tiled kernels. Wider
#: tiles amortize loop overhead over more SIMD lanes; 64 rows of up to 1024
#: float32 coordinates (256 KiB) stay in a core's L2 cache.
TILE = 64


@njit(cache=True, inline="always")
def _tile_radix2(buf, p, h):
    tw = buf.shape[1]
    for i in range(0, p, 2 * h):
        for j in range(i, i + h):
            for t in range(tw):
                a = buf[j, t]
                b = buf[j + h, t]
                buf[j, t] = a + b
                buf[j + h, t] = a - b


@njit(cache=True, inline="always")
def _tile_radix4(buf, p, h):
    tw = buf.shape[1]
    for i in range(0, p, 4 * h):
        for j in range(i, i + h):
            for t in range(tw):
                a0 = buf[j, t]
                a1 = buf[j + h, t]
                a2 = buf[j + 2 * h, t]
                a3 = buf[j + 3 * h, t]
                b0 = a0 + a1
                b1 = a0 - a1
                b2 = a2 + a3
                b3 = a2 - a3
                buf[j, t] = b0 + b2
                buf[j + h, t] = b1 + b3
                buf[j + 2 * h, t] = b0 - b2
                buf[j + 3 * h, t] = b1 - b3


@njit(cache=True, inline="always")
def _tile_first_signed(buf, p, s):
    """Sign flip fused with the first one or two butterfly stages."""
    tw = buf.shape[1]
    if p >= 4:
        for j in range(0, p, 4):
            s0 = s[j]
            s1 = s[j + 1]
            s2 = s[j + 2]
            s3 = s[j + 3]
            for t in range(tw):
                a0 = buf[j, t] * s0
                a1 = buf[j + 1, t] * s1
                a2 = buf[j + 2, t] * s2
                a3 = buf[j + 3, t] * s3
                b0 = a0 + a1
                b1 = a0 - a1
                b2 = a2 + a3
                b3 = a2 - a3
                buf[j, t] = b0 + b2
                buf[j + 1, t] = b1 + b3
                buf[j + 2, t] = b0 - b2
                buf[j + 3, t] = b1 - b3
        return 4
    if p == 2:
        s0 = s[0]
        s1 = s[1]
        for t in range(tw):
            a = buf[0, t] * s0
            b = buf[1, t] * s1
            buf[0, t] = a + b
            buf[1, t] = a - b
        return 2
    for t in range(tw):
        buf[0, t] *= s[0]
    return 1


@njit(cache=True, inline="always")
def _tile_wht_from(buf, p, h):
    """Butterfly stages of stride ``h, 2h, ..., p/2`` on every column of ``buf``."""
    while h * 4 <= p:
        _tile_radix4(buf, p, h)
        h *= 4
    if h * 2 <= p:
        _tile_radix2(buf, p, h)


@njit(cache=True, inline="always")
def _tile_signs(buf, p, s):
    tw = buf.shape[1]
    for j in range(p):
        sj = s[j]
        for t in range(tw):
            buf[j, t] *= sj


#: Blocked tile transposes read ``LOAD_ROWS`` rows by ``BLOCK`` columns at a
#: time: few enough rows for the hardware prefetchers to follow every
#: stream, one 64-byte cache line of float32 per row.
LOAD_ROWS = 8
BLOCK = 16


@njit(cache=True, inline="always")
def _tile_load(x, r0, m, d, buf):
    """Transpose rows ``r0 .. r0+m-1`` of ``x[:, :d]`` into ``buf[:d, :m]``.

    Columns ``m ..`` of ``buf`` are zeroed. Returns the sum of ``v - v`` over
    the values read: 0 unless one of them is NaN or infinite.
    """
    tw = buf.shape[1]
    acc = x.dtype.type(0.0)
    for tb in range(0, m, LOAD_ROWS):
        te = min(tb + LOAD_ROWS, m)
        for jb in range(0, d, BLOCK):
            je = min(jb + BLOCK, d)
            for t in range(tb, te):
                xr = x[r0 + t]
                for j in range(jb, je):
                    v = xr[j]
                    acc += v - v
                    buf[j, t] = v
    if m < tw:
        for j in range(d):
            for t in range(m, tw):
                buf[j, t] = 0.0
    return acc


@njit(cache=True, inline="always")
def _tile_store(buf, scale, r0, m, d, out):
    """Write ``scale * buf[:d, t]`` to row ``r0 + t`` of ``out`` for ``t < m``."""
    for t in range(m):
        o = out[r0 + t]
        for j in range(d):
            o[j] = buf[j, t] * scale


# ---------------------------------------------------------------------------
# butterfly passes on one row
# ---------------------------------------------------------------------------


@njit(cache=True)
def _row_wht(v, p):
    """Unnormalized Walsh-Hadamard transform of the vector ``v[:p]``."""
    h = 1
    while h * 4 <= p:
        for i in range(0, p, 4 * h):
            for j in range(i, i + h):
                a0 = v[j]
                a1 = v[j + h]
                a2 = v[j + 2 * h]
                a3 = v[j + 3 * h]
                b0 = a0 + a1
                b1 = a0 - a1
                b2 = a2 + a3
                b3 = a2 - a3
                v[j] = b0 + b2
                v[j + h] = b1 + b3
                v[j + 2 * h] = b0 - b2
                v[j + 3 * h] = b1 - b3
        h *= 4
    if h * 2 <= p:
        for i in range(0, p, 2 * h):
            for j in range(i, i + h):
                a = v[j]
                b = v[j + h]
                v[j] = a + b
                v[j + h] = a - b


# ---------------------------------------------------------------------------
# drivers
# ---------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def rht_forward_tiled(x, signs, rounds, scale, out, scratch, bad):
    """Forward transform, tiled over rows and parallel over chunks of tiles.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous, float32 or float64
        Input rows; not modified.
    signs : ndarray, shape (>= rounds, p), same dtype as ``x``
        Sign vector of each round.
    rounds : int
        Number of rounds, >= 1.
    scale : float
        Final scale, ``p ** (-rounds / 2)``.
    out : ndarray, shape (n, p), same dtype as ``x``
        Output rows.
    scratch : ndarray, shape (nchunks, p, tw), same dtype as ``x``
        One tile buffer per chunk: ``tw`` rows are transformed together and
        ``nchunks`` sets the parallel grain.
    bad : ndarray, shape (nchunks,), bool
        Set to True for a chunk that met a NaN or infinity in ``x``.
    """
    n, d = x.shape
    p = out.shape[1]
    nchunks = scratch.shape[0]
    tw = scratch.shape[2]
    ntiles = (n + tw - 1) // tw
    for c in prange(nchunks):
        buf = scratch[c]
        acc = x.dtype.type(0.0)
        for ti in range(c * ntiles // nchunks, (c + 1) * ntiles // nchunks):
            r0 = ti * tw
            m = min(tw, n - r0)
            acc += _tile_load(x, r0, m, d, buf)
            for j in range(d, p):
                for t in range(tw):
                    buf[j, t] = 0.0
            for k in range(rounds):
                h = _tile_first_signed(buf, p, signs[k])
                _tile_wht_from(buf, p, h)
            _tile_store(buf, scale, r0, m, p, out)
        bad[c] = not (acc == 0.0)


@njit(cache=True, parallel=True)
def rht_inverse_tiled(y, signs, rounds, scale, out, scratch, bad):
    """Inverse transform, tiled over rows and parallel over chunks of tiles.

    Parameters
    ----------
    y : ndarray, shape (n, p), C-contiguous, float32 or float64
        Transformed rows; not modified.
    signs, rounds, scale, scratch, bad
        As in :func:`rht_forward_tiled`.
    out : ndarray, shape (n, d), same dtype as ``y``
        The first ``d`` coordinates of each inverted row.
    """
    n, p = y.shape
    d = out.shape[1]
    nchunks = scratch.shape[0]
    tw = scratch.shape[2]
    ntiles = (n + tw - 1) // tw
    for c in prange(nchunks):
        buf = scratch[c]
        acc = y.dtype.type(0.0)
        for ti in range(c * ntiles // nchunks, (c + 1) * ntiles // nchunks):
            r0 = ti * tw
            m = min(tw, n - r0)
            acc += _tile_load(y, r0, m, p, buf)
            for k in range(rounds - 1, -1, -1):
                _tile_wht_from(buf, p, 1)
                _tile_signs(buf, p, signs[k])
            _tile_store(buf, scale, r0, m, d, out)
        bad[c] = not (acc == 0.0)


@njit(cache=True)
def rht_forward_rows(x, signs, rounds, scale, out):
    """Forward transform one row at a time, in place in ``out``.

    Same arguments as :func:`rht_forward_tiled` without the scratch; returns
    True when ``x`` holds a NaN or an infinity. Serial: meant for few rows.
    """
    n, d = x.shape
    p = out.shape[1]
    acc = x.dtype.type(0.0)
    for r in range(n):
        o = out[r]
        xr = x[r]
        s0 = signs[0]
        for j in range(d):
            v = xr[j]
            acc += v - v
            o[j] = v * s0[j]
        for j in range(d, p):
            o[j] = 0.0
        _row_wht(o, p)
        for k in range(1, rounds):
            s = signs[k]
            for j in range(p):
                o[j] *= s[j]
            _row_wht(o, p)
        for j in range(p):
            o[j] *= scale
    return not (acc == 0.0)


@njit(cache=True)
def rht_inverse_rows(y, signs, rounds, scale, out, work):
    """Inverse transform one row at a time.

    ``work`` is a scratch vector of shape ``(p,)``. Returns True when ``y``
    holds a NaN or an infinity. Serial: meant for few rows.
    """
    n, p = y.shape
    d = out.shape[1]
    acc = y.dtype.type(0.0)
    for r in range(n):
        yr = y[r]
        for j in range(p):
            v = yr[j]
            acc += v - v
            work[j] = v
        for k in range(rounds - 1, -1, -1):
            _row_wht(work, p)
            s = signs[k]
            for j in range(p):
                work[j] *= s[j]
        o = out[r]
        for j in range(d):
            o[j] = work[j] * scale
    return not (acc == 0.0)
