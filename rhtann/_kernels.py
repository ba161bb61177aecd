"""numba kernels for the randomized Walsh-Hadamard transform.

All kernels are pure functions on C-contiguous arrays: they read their inputs,
write into caller-provided outputs and scratch buffers, and allocate nothing.

Two code paths share the same arithmetic:

* the *tiled* path transposes a tile of ``TILE`` rows into a ``(p, TILE)``
  scratch buffer, so that every butterfly works on ``TILE`` rows at once with
  SIMD instructions, whatever the butterfly stride; all rounds run while the
  tile is in cache, and tiles are spread over threads in contiguous chunks;
* the *row* path transforms one row at a time in place in the output and
  serves small batches, where launching threads costs more than it saves.

Butterflies are grouped in radix-8 passes (three stages per trip through
memory), then one radix-4 or radix-2 pass for the remaining stages.

The forward transform of one row is, for rounds ``r = 0 .. R-1``,
``v <- H_p (s_r * v)`` on the zero-padded row, then ``v <- scale * v``; the
inverse applies ``v <- s_r * (H_p v)`` for ``r = R-1 .. 0``, scales and keeps
the first ``d`` coordinates. ``H_p`` is the unnormalized Sylvester-Hadamard
matrix, so ``scale = p ** (-R / 2)`` makes both orthogonal.
"""

from __future__ import annotations

from numba import njit, prange

#: Rows transformed together by the tiled kernels (one AVX-512 register of
#: float32, two AVX2 registers).
TILE = 16


# ---------------------------------------------------------------------------
# butterfly passes on a (p, TILE) tile
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _tile_radix2(buf, p, h):
    for i in range(0, p, 2 * h):
        for j in range(i, i + h):
            for t in range(TILE):
                a = buf[j, t]
                b = buf[j + h, t]
                buf[j, t] = a + b
                buf[j + h, t] = a - b


@njit(cache=True, inline="always")
def _tile_radix4(buf, p, h):
    for i in range(0, p, 4 * h):
        for j in range(i, i + h):
            for t in range(TILE):
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
def _tile_radix8(buf, p, h):
    for i in range(0, p, 8 * h):
        for j in range(i, i + h):
            for t in range(TILE):
                a0 = buf[j, t]
                a1 = buf[j + h, t]
                a2 = buf[j + 2 * h, t]
                a3 = buf[j + 3 * h, t]
                a4 = buf[j + 4 * h, t]
                a5 = buf[j + 5 * h, t]
                a6 = buf[j + 6 * h, t]
                a7 = buf[j + 7 * h, t]
                b0 = a0 + a1
                b1 = a0 - a1
                b2 = a2 + a3
                b3 = a2 - a3
                b4 = a4 + a5
                b5 = a4 - a5
                b6 = a6 + a7
                b7 = a6 - a7
                c0 = b0 + b2
                c1 = b1 + b3
                c2 = b0 - b2
                c3 = b1 - b3
                c4 = b4 + b6
                c5 = b5 + b7
                c6 = b4 - b6
                c7 = b5 - b7
                buf[j, t] = c0 + c4
                buf[j + h, t] = c1 + c5
                buf[j + 2 * h, t] = c2 + c6
                buf[j + 3 * h, t] = c3 + c7
                buf[j + 4 * h, t] = c0 - c4
                buf[j + 5 * h, t] = c1 - c5
                buf[j + 6 * h, t] = c2 - c6
                buf[j + 7 * h, t] = c3 - c7


@njit(cache=True)
def _tile_wht(buf, p):
    """Unnormalized Walsh-Hadamard transform of every column of ``buf``."""
    h = 1
    while h * 8 <= p:
        _tile_radix8(buf, p, h)
        h *= 8
    if h * 4 <= p:
        _tile_radix4(buf, p, h)
    elif h * 2 <= p:
        _tile_radix2(buf, p, h)


@njit(cache=True, inline="always")
def _tile_signs(buf, p, s):
    for j in range(p):
        sj = s[j]
        for t in range(TILE):
            buf[j, t] *= sj


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
        Number of rounds.
    scale : float
        Final scale, ``p ** (-rounds / 2)``.
    out : ndarray, shape (n, p), same dtype as ``x``
        Output rows.
    scratch : ndarray, shape (nchunks, p, TILE), same dtype as ``x``
        One tile buffer per chunk; ``nchunks`` sets the parallel grain.
    bad : ndarray, shape (nchunks,), bool
        Set to True for a chunk that met a NaN or infinity in ``x``.
    """
    n, d = x.shape
    p = out.shape[1]
    nchunks = scratch.shape[0]
    ntiles = (n + TILE - 1) // TILE
    for c in prange(nchunks):
        buf = scratch[c]
        acc = x.dtype.type(0.0)
        for ti in range(c * ntiles // nchunks, (c + 1) * ntiles // nchunks):
            r0 = ti * TILE
            m = min(TILE, n - r0)
            s0 = signs[0]
            for t in range(m):
                xr = x[r0 + t]
                for j in range(d):
                    v = xr[j]
                    acc += v - v
                    buf[j, t] = v * s0[j]
            for t in range(m, TILE):
                for j in range(d):
                    buf[j, t] = 0.0
            for j in range(d, p):
                for t in range(TILE):
                    buf[j, t] = 0.0
            _tile_wht(buf, p)
            for k in range(1, rounds):
                _tile_signs(buf, p, signs[k])
                _tile_wht(buf, p)
            for t in range(m):
                o = out[r0 + t]
                for j in range(p):
                    o[j] = buf[j, t] * scale
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
    ntiles = (n + TILE - 1) // TILE
    for c in prange(nchunks):
        buf = scratch[c]
        acc = y.dtype.type(0.0)
        for ti in range(c * ntiles // nchunks, (c + 1) * ntiles // nchunks):
            r0 = ti * TILE
            m = min(TILE, n - r0)
            for t in range(m):
                yr = y[r0 + t]
                for j in range(p):
                    v = yr[j]
                    acc += v - v
                    buf[j, t] = v
            for t in range(m, TILE):
                for j in range(p):
                    buf[j, t] = 0.0
            for k in range(rounds - 1, -1, -1):
                _tile_wht(buf, p)
                _tile_signs(buf, p, signs[k])
            for t in range(m):
                o = out[r0 + t]
                for j in range(d):
                    o[j] = buf[j, t] * scale
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
