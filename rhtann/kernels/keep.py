"""numba kernels of the dimension-preserving ("keep") layout.

The transform is described by a *step list* and a *window Hadamard matrix*:

* the window Hadamard matrix of order ``h`` is
  ``H_{K_1} (x) ... (x) H_{K_c} (x) H_M``: small dense +-1 cores and a
  Sylvester factor of order ``M`` applied as a fast Walsh-Hadamard transform.
  Coordinate ``w`` of a window has digits ``(a_1, ..., a_c, b)`` in the mixed
  radix ``(K_1, ..., K_c, M)``: core ``c`` mixes coordinates ``prod(K_{c+1..}) M``
  apart, the Sylvester factor mixes contiguous blocks of ``M``;
* one round is, for each step ``k``, ``v[W_k] <- (1/sqrt(h)) H (s[W_k] * v[W_k])``
  on the window ``W_k = [starts[k], starts[k] + h)``, with the signs ``s``
  read at ``sign_offs[k] + starts[k]`` in the round's sign vector; when
  ``use_perm`` is set, every round with global index ``r >= 1`` first
  permutes the coordinates, ``v <- v[perm]``.

All kernels here work on tiles of ``tw`` rows (a multiple of
:data:`rhtann.kernels.simd.SUM_LANES`) transposed into a ``(d, tw + pad)`` buffer,
so that every butterfly and every dense product runs over ``tw`` rows at once
with vector instructions, and all rounds run while the tile is in cache.
The forward transform of windows whose Sylvester factor has ``M >= 64``
runs on the per-row path of :mod:`rhtann.kernels.keep_span` instead (see
:meth:`rhtann.layouts.keep.KeepLayout.takes_span`); the inverse always runs here.

Dense cores as grouped sums
---------------------------
A core of order ``k`` is applied without ``k^2`` multiply-adds. Its ``k``
inputs are cut into groups of at most ``g`` consecutive inputs
``x_0 .. x_{g-1}``; for each group the ``2^(g-1)`` signed sums
``x_0 +- x_1 +- ... +- x_{g-1}`` are formed by doubling (``2^g - 2`` vector
additions). Row ``i`` of the core restricted to a group is ``+-`` one of
these sums, so output ``i`` is a sum of one precomputed term per group,
accumulated in registers by :func:`rhtann.kernels.simd.signed_sum`. The work per
output drops from ``k`` to about ``k / g`` multiply-adds; the tables
(group bounds, the term of each output and group, its sign) come from
:func:`rhtann.layouts.keep.core_tables`.

Fusion
------
With one window covering all ``d`` coordinates, the round's permutation and
its signs (times ``1/sqrt(h)``) are applied while the first core reads its
inputs, moving the tile from one buffer to the other; no separate pass
touches the tile for them. The Sylvester factor runs as radix-16 butterfly
passes in registers (:func:`rhtann.kernels.pad._tile_pass`).
"""

from __future__ import annotations

from numba import njit, prange

from .pad import _tile_load, _tile_pass, _tile_store
from .simd import (
    BLOCK,
    SUM_LANES,
    group_sums1,
    group_sums2,
    group_sums3,
    group_sums4,
    group_sums5,
    group_sums6,
    signed_sum,
)

#: Extra columns after each tile row (against cache-set aliasing).
TILE_PAD = 16


@njit(cache=True, inline="always")
def _gather_pass(src, dst, gather, mult, moff, scale, lo, w, tw):
    """``dst[lo + j] = src[gather[lo + j]] * mult[moff + lo + j] * scale`` for ``j < w``."""
    for j in range(lo, lo + w):
        m = mult[moff + j] * scale
        srow = src[gather[j]]
        drow = dst[j]
        for t in range(tw):
            drow[t] = srow[t] * m


@njit(cache=True, inline="always")
def _group_sums(size, comb, c0, src, gather, mult, moff, scale, base, j0, stride, t):
    """Dispatch to the ``group_sums`` intrinsic of ``size`` rows (1 to 6)."""
    if size == 4:
        group_sums4(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
    elif size == 5:
        group_sums5(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
    elif size == 6:
        group_sums6(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
    elif size == 3:
        group_sums3(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
    elif size == 2:
        group_sums2(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
    else:
        group_sums1(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)


@njit(cache=True)
def _core_pass(src, dst, gather, mult, moff, scale, lo, hwin, stride, c, tabs, comb, tw):
    """Apply dense core ``c`` along the axis of stride ``stride`` of window ``lo .. lo+hwin``.

    Input row ``r`` is read as ``src[gather[r]] * mult[moff + r] * scale``;
    outputs go to ``dst`` (which may be ``src`` when ``gather`` is the
    identity: all inputs of a group of rows are read before its outputs are
    written). ``tabs`` holds the tables of :func:`rhtann.layouts.keep.core_tables`.
    """
    core_k, core_g, gb_off, t_off, gbounds, gcomb, tidx, tsgn = tabs
    k = core_k[c]
    ng = core_g[c]
    gb0 = gb_off[c]
    t0 = t_off[c]
    block = k * stride
    for o in range(lo, lo + hwin, block):
        for s in range(stride):
            base = o + s
            for g in range(ng):
                j0 = gbounds[gb0 + g]
                size = gbounds[gb0 + g + 1] - j0
                c0 = gcomb[gb0 + g]
                for t in range(0, tw, BLOCK):
                    _group_sums(size, comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)
            for i in range(k):
                g0 = t0 + i * ng
                for t in range(0, tw, SUM_LANES):
                    signed_sum(dst, base + i * stride, comb, tidx, tsgn, g0, g0 + ng, t)


@njit(cache=True)
def _wht_blocks(buf, lo, hwin, m, tw, s):
    """Walsh-Hadamard transform of order ``m`` on each block of ``m`` rows of ``lo .. lo+hwin``."""
    stages = 0
    while (1 << stages) < m:
        stages += 1
    h = 1
    while stages > 0:
        take = 4 if stages >= 4 else stages
        _tile_pass(buf, lo, lo + hwin, tw, h, 1 << take, s, False)
        h <<= take
        stages -= take


@njit(cache=True)
def _window(src, dst, gather, mult, moff, scale, ident, ones, lo, hwin, m, tabs, comb, tw):
    """One step, ``dst[W] = H (scale * mult[moff + W] * src[gather[W]])`` on ``W = lo .. lo+hwin``.

    The first core (or, without cores, a copy pass) reads through ``gather``
    and the multipliers; the other cores and the Sylvester factor work in
    place on ``dst`` (``ident`` is the identity map, ``ones`` unit multipliers).
    """
    core_k = tabs[0]
    ncores = core_k.shape[0]
    if ncores == 0:
        _gather_pass(src, dst, gather, mult, moff, scale, lo, hwin, tw)
    else:
        stride = hwin // core_k[0]
        _core_pass(src, dst, gather, mult, moff, scale, lo, hwin, stride, 0, tabs, comb, tw)
        one = ones[0]
        for c in range(1, ncores):
            stride //= core_k[c]
            _core_pass(dst, dst, ident, ones, 0, one, lo, hwin, stride, c, tabs, comb, tw)
    if m > 1:
        _wht_blocks(dst, lo, hwin, m, tw, ones)


@njit(cache=True)
def _forward_tile(buf, buf2, comb, signs, first, rounds, starts, sign_offs, hwin, m, tabs,
                  step_scale, perm, ident, ones, use_perm, tw):
    """Apply rounds ``first .. first+rounds-1`` to a loaded tile; returns the result buffer."""
    d = buf.shape[0]
    nsteps = starts.shape[0]
    for r in range(first, first + rounds):
        s = signs[r]
        permute = use_perm and r >= 1
        if nsteps == 1 and hwin == d:
            # one window: permutation and signs fused into the first pass
            g = perm if permute else ident
            _window(buf, buf2, g, s, sign_offs[0], step_scale, ident, ones, 0, d, m, tabs, comb, tw)
            buf, buf2 = buf2, buf
            continue
        if permute:
            _gather_pass(buf, buf2, perm, ones, 0, ones[0], 0, d, tw)
            buf, buf2 = buf2, buf
        for k in range(nsteps):
            _window(buf, buf, ident, s, sign_offs[k], step_scale, ident, ones, starts[k], hwin, m,
                    tabs, comb, tw)
    return buf


@njit(cache=True)
def _inverse_tile(buf, buf2, comb, signs, rounds, starts, sign_offs, hwin, m, tabs_t,
                  step_scale, inv_perm, ident, ones, use_perm, tw):
    """Undo rounds ``rounds-1 .. 0`` on a loaded tile; returns the result buffer.

    Each step is undone by the transposed window matrix (``tabs_t``, the
    tables of the transposed cores; the Sylvester factor is symmetric), then
    the step's signs and scale; each permuted round ends with the inverse
    permutation.
    """
    d = buf.shape[0]
    one = ones[0]
    for r in range(rounds - 1, -1, -1):
        s = signs[r]
        for k in range(starts.shape[0] - 1, -1, -1):
            lo = starts[k]
            _window(buf, buf, ident, ones, 0, one, ident, ones, lo, hwin, m, tabs_t, comb, tw)
            _gather_pass(buf, buf, ident, s, sign_offs[k], step_scale, lo, hwin, tw)
        if use_perm and r >= 1:
            _gather_pass(buf, buf2, inv_perm, ones, 0, one, 0, d, tw)
            buf, buf2 = buf2, buf
    return buf


@njit(cache=True)
def _forward_tiles(x, signs, first, rounds, starts, sign_offs, hwin, m, tabs, step_scale, perm,
                   ident, ones, use_perm, out, buf, buf2, comb, tw, t_lo, t_hi):
    """Forward transform of tiles ``t_lo .. t_hi`` of ``x`` into ``out``.

    Returns ``(bad, over)``: whether ``x`` held a NaN or infinity, and
    whether a value stored in ``out`` is one.
    """
    n, d = x.shape
    acc = x.dtype.type(0.0)
    oacc = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    no_moments = buf[:, :0]
    for ti in range(t_lo, t_hi):
        r0 = ti * tw
        w = min(tw, n - r0)
        acc += _tile_load(x, r0, w, d, buf, tw, no_moments)
        res = _forward_tile(buf, buf2, comb, signs, first, rounds, starts, sign_offs, hwin, m,
                            tabs, step_scale, perm, ident, ones, use_perm, tw)
        oacc += _tile_store(res, one, r0, w, d, out)
    return not (acc == 0.0), not (oacc == 0.0)


@njit(cache=True)
def _inverse_tiles(y, signs, rounds, starts, sign_offs, hwin, m, tabs_t, step_scale, inv_perm,
                   ident, ones, use_perm, out, buf, buf2, comb, tw, t_lo, t_hi):
    """Inverse transform of tiles ``t_lo .. t_hi`` of ``y`` into ``out``; ``(bad, over)`` as forward."""
    n, d = y.shape
    acc = y.dtype.type(0.0)
    oacc = y.dtype.type(0.0)
    one = y.dtype.type(1.0)
    no_moments = buf[:, :0]
    for ti in range(t_lo, t_hi):
        r0 = ti * tw
        w = min(tw, n - r0)
        acc += _tile_load(y, r0, w, d, buf, tw, no_moments)
        res = _inverse_tile(buf, buf2, comb, signs, rounds, starts, sign_offs, hwin, m, tabs_t,
                            step_scale, inv_perm, ident, ones, use_perm, tw)
        oacc += _tile_store(res, one, r0, w, d, out)
    return not (acc == 0.0), not (oacc == 0.0)


@njit(cache=True, parallel=True)
def keep_forward(x, signs, first, rounds, starts, sign_offs, hwin, m, tabs, step_scale, perm,
                 ident, ones, use_perm, out, scratch, scratch2, comb, tw, bad, over):
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
    m : int
        Order of the Sylvester factor.
    tabs : tuple of 8 ndarrays
        Core tables (:func:`rhtann.layouts.keep.core_tables`), the signs in the
        dtype of ``x``.
    step_scale : float
        ``1 / sqrt(h)``.
    perm : ndarray, shape (d,), int64
        Permutation applied before every round with global index >= 1 when
        ``use_perm`` is True.
    ident : ndarray, shape (d,), int64
        ``arange(d)``.
    ones : ndarray, shape (>= L,), dtype of ``x``
        All ones.
    out : ndarray, shape (n, d), dtype of ``x``
        Output rows.
    scratch, scratch2 : ndarray, shape (nchunks, d, >= tw), dtype of ``x``
        Tile buffers, one pair per chunk; ``nchunks`` sets the parallel grain
        (one chunk: the serial :func:`keep_forward_serial` is cheaper).
    comb : ndarray, shape (nchunks, terms + 1, >= tw), dtype of ``x``
        The grouped sums of the cores (and one row of scratch).
    tw : int
        Rows per tile, a multiple of :data:`rhtann.kernels.simd.SUM_LANES`.
    bad : ndarray, shape (nchunks,), bool
        Set to True for a chunk that met a NaN or infinity in ``x``.
    over : ndarray, shape (nchunks,), bool
        Set to True for a chunk that stored a NaN or infinity in ``out``
        (False: every value it stored is finite).
    """
    n = x.shape[0]
    nchunks = scratch.shape[0]
    ntiles = (n + tw - 1) // tw
    for c in prange(nchunks):
        bad[c], over[c] = _forward_tiles(x, signs, first, rounds, starts, sign_offs, hwin, m, tabs,
                                step_scale, perm, ident, ones, use_perm, out, scratch[c],
                                scratch2[c], comb[c], tw, c * ntiles // nchunks,
                                (c + 1) * ntiles // nchunks)


@njit(cache=True)
def keep_forward_serial(x, signs, first, rounds, starts, sign_offs, hwin, m, tabs, step_scale,
                        perm, ident, ones, use_perm, out, scratch, scratch2, comb, tw, bad, over):
    """:func:`keep_forward` on one thread, for small batches (no thread launch)."""
    ntiles = (x.shape[0] + tw - 1) // tw
    bad[0], over[0] = _forward_tiles(x, signs, first, rounds, starts, sign_offs, hwin, m, tabs, step_scale,
                            perm, ident, ones, use_perm, out, scratch[0], scratch2[0], comb[0], tw,
                            0, ntiles)


@njit(cache=True, parallel=True)
def keep_inverse(y, signs, rounds, starts, sign_offs, hwin, m, tabs_t, step_scale, inv_perm,
                 ident, ones, use_perm, out, scratch, scratch2, comb, tw, bad, over):
    """Inverse of :func:`keep_forward` with ``first = 0``.

    Same arguments, with ``tabs_t`` the tables of the transposed cores,
    ``inv_perm`` the inverse permutation and ``y`` the transformed rows,
    shape ``(n, d)``.
    """
    n = y.shape[0]
    nchunks = scratch.shape[0]
    ntiles = (n + tw - 1) // tw
    for c in prange(nchunks):
        bad[c], over[c] = _inverse_tiles(y, signs, rounds, starts, sign_offs, hwin, m, tabs_t, step_scale,
                                inv_perm, ident, ones, use_perm, out, scratch[c], scratch2[c],
                                comb[c], tw, c * ntiles // nchunks, (c + 1) * ntiles // nchunks)


@njit(cache=True)
def keep_inverse_serial(y, signs, rounds, starts, sign_offs, hwin, m, tabs_t, step_scale,
                        inv_perm, ident, ones, use_perm, out, scratch, scratch2, comb, tw, bad, over):
    """:func:`keep_inverse` on one thread, for small batches (no thread launch)."""
    ntiles = (y.shape[0] + tw - 1) // tw
    bad[0], over[0] = _inverse_tiles(y, signs, rounds, starts, sign_offs, hwin, m, tabs_t, step_scale,
                            inv_perm, ident, ones, use_perm, out, scratch[0], scratch2[0], comb[0],
                            tw, 0, ntiles)
