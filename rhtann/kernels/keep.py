"""numba kernels of the dimension-preserving ("keep") layout.

The transform is described by a *step list* and a *window Hadamard matrix*:

* the window Hadamard matrix of order ``h`` is
  ``H_{K_1} (x) ... (x) H_{K_c} (x) H_M``: small dense +-1 cores, stored
  row-major one after the other in ``cores`` (and transposed in ``cores_t``
  for the inverse), and a Sylvester factor of order ``M`` applied as a fast
  Walsh-Hadamard transform. Coordinate ``w`` of a window has digits
  ``(a_1, ..., a_c, b)`` in the mixed radix ``(K_1, ..., K_c, M)``;
* one round is, for each step ``k``, ``v[W_k] <- (1/sqrt(h)) H (s[W_k] * v[W_k])``
  on the window ``W_k = [starts[k], starts[k] + h)``, with the signs ``s``
  read at ``sign_offs[k] + starts[k]`` in the round's sign vector; when
  ``use_perm`` is set, every round with global index ``r >= 1`` first
  permutes the coordinates, ``v <- v[perm]``.

With one step covering all ``d`` coordinates this is one randomized Hadamard
transform of order ``d`` per round. All kernels work on tiles of ``TILE``
rows transposed into a ``(d, TILE)`` buffer, so that every butterfly and dense
product runs over ``TILE`` rows at once; they allocate nothing.
"""

from __future__ import annotations

from numba import njit, prange

from .pad import _tile_load, _tile_store

#: Rows transformed together.
TILE = 16


@njit(cache=True)
def _tile_wht(buf, lo, m):
    """Unnormalized Walsh-Hadamard transform of rows ``lo .. lo+m`` of ``buf``."""
    h = 1
    while h * 4 <= m:
        for i in range(lo, lo + m, 4 * h):
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
        h *= 4
    if h * 2 <= m:
        for i in range(lo, lo + m, 2 * h):
            for j in range(i, i + h):
                for t in range(TILE):
                    a = buf[j, t]
                    b = buf[j + h, t]
                    buf[j, t] = a + b
                    buf[j + h, t] = a - b


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _dot(a, b, k):
    """Dot product of the first ``k`` entries of two contiguous vectors."""
    acc = a[0] * 0.0
    for j in range(k):
        acc += a[j] * b[j]
    return acc


@njit(cache=True, fastmath={"reassoc", "contract"})
def _tile_core(buf, lo, hwin, mat, off, k, stride, tmp):
    """Apply the dense ``k x k`` core ``mat[off:off+k*k]`` along one axis of a window.

    The axis has stride ``stride`` inside the window ``lo .. lo+hwin``.
    ``tmp`` is a ``(TILE, >= k)`` scratch buffer: the ``k`` entries of each
    tile row are gathered contiguously, so that every output is a dot product
    of two contiguous vectors (summed in any order: the only fast-math flags
    are reassociation and contraction, NaN and infinity keep their meaning).
    """
    block = k * stride
    for o in range(lo, lo + hwin, block):
        for s in range(stride):
            base = o + s
            for j in range(k):
                r = base + j * stride
                for t in range(TILE):
                    tmp[t, j] = buf[r, t]
            for i in range(k):
                mrow = mat[off + i * k : off + (i + 1) * k]
                r = base + i * stride
                for t in range(TILE):
                    buf[r, t] = _dot(mrow, tmp[t], k)


@njit(cache=True)
def _tile_hadamard(buf, lo, hwin, mat, core_sizes, m, tmp):
    """Unnormalized window Hadamard matrix applied to rows ``lo .. lo+hwin``."""
    off = 0
    stride = hwin
    for c in range(core_sizes.shape[0]):
        k = core_sizes[c]
        stride //= k
        _tile_core(buf, lo, hwin, mat, off, k, stride, tmp)
        off += k * k
    if m > 1:
        for b in range(lo, lo + hwin, m):
            _tile_wht(buf, b, m)


@njit(cache=True)
def _tile_forward(buf, buf2, tmp, signs, first, rounds, starts, sign_offs, hwin, mat,
                  core_sizes, m, step_scale, perm, use_perm):
    """Apply rounds ``first .. first+rounds-1`` to a loaded tile; returns the result buffer."""
    d = buf.shape[0]
    for r in range(first, first + rounds):
        if use_perm and r >= 1:
            for i in range(d):
                src = buf[perm[i]]
                dst = buf2[i]
                for t in range(TILE):
                    dst[t] = src[t]
            buf, buf2 = buf2, buf
        s = signs[r]
        for k in range(starts.shape[0]):
            lo = starts[k]
            so = sign_offs[k]
            for j in range(lo, lo + hwin):
                sj = s[so + j] * step_scale
                row = buf[j]
                for t in range(TILE):
                    row[t] *= sj
            _tile_hadamard(buf, lo, hwin, mat, core_sizes, m, tmp)
    return buf


@njit(cache=True)
def _tile_inverse(buf, buf2, tmp, signs, rounds, starts, sign_offs, hwin, mat_t,
                  core_sizes, m, step_scale, perm, use_perm):
    """Undo rounds ``rounds-1 .. 0`` on a loaded tile; returns the result buffer."""
    for r in range(rounds - 1, -1, -1):
        s = signs[r]
        for k in range(starts.shape[0] - 1, -1, -1):
            lo = starts[k]
            so = sign_offs[k]
            _tile_hadamard(buf, lo, hwin, mat_t, core_sizes, m, tmp)
            for j in range(lo, lo + hwin):
                sj = s[so + j] * step_scale
                row = buf[j]
                for t in range(TILE):
                    row[t] *= sj
        if use_perm and r >= 1:
            for i in range(buf.shape[0]):
                src = buf[i]
                dst = buf2[perm[i]]
                for t in range(TILE):
                    dst[t] = src[t]
            buf, buf2 = buf2, buf
    return buf


@njit(cache=True)
def _forward_tiles(x, signs, first, rounds, starts, sign_offs, hwin, mat, core_sizes, m,
                   step_scale, perm, use_perm, out, buf, buf2, tmp, t_lo, t_hi):
    """Forward transform of tiles ``t_lo .. t_hi``; returns True on NaN/inf input."""
    n, d = x.shape
    acc = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    no_moments = buf[:, :0]
    for ti in range(t_lo, t_hi):
        r0 = ti * TILE
        w = min(TILE, n - r0)
        acc += _tile_load(x, r0, w, d, buf, TILE, no_moments)
        res = _tile_forward(buf, buf2, tmp, signs, first, rounds, starts, sign_offs, hwin, mat,
                            core_sizes, m, step_scale, perm, use_perm)
        _tile_store(res, one, r0, w, d, out)
    return not (acc == 0.0)


@njit(cache=True)
def _inverse_tiles(y, signs, rounds, starts, sign_offs, hwin, mat_t, core_sizes, m,
                   step_scale, perm, use_perm, out, buf, buf2, tmp, t_lo, t_hi):
    """Inverse transform of tiles ``t_lo .. t_hi``; returns True on NaN/inf input."""
    n, d = y.shape
    acc = y.dtype.type(0.0)
    one = y.dtype.type(1.0)
    no_moments = buf[:, :0]
    for ti in range(t_lo, t_hi):
        r0 = ti * TILE
        w = min(TILE, n - r0)
        acc += _tile_load(y, r0, w, d, buf, TILE, no_moments)
        res = _tile_inverse(buf, buf2, tmp, signs, rounds, starts, sign_offs, hwin, mat_t,
                            core_sizes, m, step_scale, perm, use_perm)
        _tile_store(res, one, r0, w, d, out)
    return not (acc == 0.0)


@njit(cache=True, parallel=True)
def keep_forward(x, signs, first, rounds, starts, sign_offs, hwin, mat, core_sizes, m,
                 step_scale, perm, use_perm, out, scratch, scratch2, tmp, bad):
    """Forward transform of the rows of ``x``, tiled and parallel over chunks.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous, float32 or float64
        Input rows; not modified.
    signs : ndarray, shape (>= first + rounds, L), dtype of ``x``
        Sign vector of each round.
    first, rounds : int
        Global index of the first round applied, number of rounds.
    starts, sign_offs : ndarray, shape (steps,), int64
        Window start and sign offset of each step of a round.
    hwin : int
        Window order ``h``.
    mat : ndarray, dtype of ``x``
        The dense cores, row-major, concatenated.
    core_sizes : ndarray, shape (cores,), int64
        Orders of the dense cores.
    m : int
        Order of the Sylvester factor.
    step_scale : float
        ``1 / sqrt(h)``.
    perm : ndarray, shape (d,), int64
        Permutation applied before every round with global index >= 1 when
        ``use_perm`` is True.
    out : ndarray, shape (n, d), dtype of ``x``
        Output rows.
    scratch, scratch2 : ndarray, shape (nchunks, d, TILE), dtype of ``x``
        Tile buffers, one pair per chunk; ``nchunks`` sets the parallel grain
        (one chunk: the serial :func:`keep_forward_serial` is cheaper).
    tmp : ndarray, shape (nchunks, TILE, >= max core order), dtype of ``x``
        Dense-product scratch.
    bad : ndarray, shape (nchunks,), bool
        Set to True for a chunk that met a NaN or infinity in ``x``.
    """
    n = x.shape[0]
    nchunks = scratch.shape[0]
    ntiles = (n + TILE - 1) // TILE
    for c in prange(nchunks):
        bad[c] = _forward_tiles(x, signs, first, rounds, starts, sign_offs, hwin, mat,
                                core_sizes, m, step_scale, perm, use_perm, out, scratch[c],
                                scratch2[c], tmp[c], c * ntiles // nchunks,
                                (c + 1) * ntiles // nchunks)


@njit(cache=True)
def keep_forward_serial(x, signs, first, rounds, starts, sign_offs, hwin, mat, core_sizes, m,
                        step_scale, perm, use_perm, out, scratch, scratch2, tmp, bad):
    """:func:`keep_forward` on one thread, for small batches (no thread launch)."""
    n = x.shape[0]
    ntiles = (n + TILE - 1) // TILE
    bad[0] = _forward_tiles(x, signs, first, rounds, starts, sign_offs, hwin, mat, core_sizes,
                            m, step_scale, perm, use_perm, out, scratch[0], scratch2[0], tmp[0],
                            0, ntiles)


@njit(cache=True, parallel=True)
def keep_inverse(y, signs, rounds, starts, sign_offs, hwin, mat_t, core_sizes, m,
                 step_scale, perm, use_perm, out, scratch, scratch2, tmp, bad):
    """Inverse of :func:`keep_forward` with ``first = 0``.

    Same arguments, with ``mat_t`` holding the transposed cores and ``y`` the
    transformed rows, shape ``(n, d)``.
    """
    n = y.shape[0]
    nchunks = scratch.shape[0]
    ntiles = (n + TILE - 1) // TILE
    for c in prange(nchunks):
        bad[c] = _inverse_tiles(y, signs, rounds, starts, sign_offs, hwin, mat_t, core_sizes,
                                m, step_scale, perm, use_perm, out, scratch[c], scratch2[c],
                                tmp[c], c * ntiles // nchunks, (c + 1) * ntiles // nchunks)


@njit(cache=True)
def keep_inverse_serial(y, signs, rounds, starts, sign_offs, hwin, mat_t, core_sizes, m,
                        step_scale, perm, use_perm, out, scratch, scratch2, tmp, bad):
    """:func:`keep_inverse` on one thread, for small batches (no thread launch)."""
    n = y.shape[0]
    ntiles = (n + TILE - 1) // TILE
    bad[0] = _inverse_tiles(y, signs, rounds, starts, sign_offs, hwin, mat_t, core_sizes, m,
                            step_scale, perm, use_perm, out, scratch[0], scratch2[0], tmp[0],
                            0, ntiles)
