"""numba kernels for the randomized Walsh-Hadamard transform.

All kernels are pure functions on C-contiguous arrays: they read their inputs,
write into caller-provided outputs and scratch buffers, and allocate nothing.

Three code paths share the same arithmetic:

* the *span* path (forward transform, ``SPAN < p <= SPAN_MAX`` or
  ``d = p = SPAN``, no moments) transforms one row at a time in an
  L1-resident buffer with no transpose: in each round, every span of
  ``SPAN`` consecutive coordinates gets its signs and the butterflies of
  strides ``1 .. SPAN/2`` in registers (strides below the register width by
  lane shuffles and multiply-adds by +-1, the others between registers),
  then the larger strides run as radix-16 passes between register-wide
  segments of the row. The input is read and
  the output written in whole consecutive rows (the output with
  non-temporal stores when streaming). Only a row whose output holds a NaN
  or an infinity is scanned for one in its input: a non-finite input value
  reaches every output coordinate, so a finite output proves a finite input;
* the *tiled* path transposes a tile of ``tw`` rows into a scratch buffer
  holding each coordinate's ``tw`` values side by side, so that every
  butterfly works on ``tw`` rows at once with SIMD instructions, whatever
  the butterfly stride; all rounds run while the tile is in cache, the sign
  flips are fused into the first butterflies of each round, and tiles are
  spread over threads in contiguous chunks. Short rows (``p <= 256``) take
  64-row tiles; long rows take 16-row tiles cut into blocks of 256
  coordinates with padding between blocks: the passes of strides 1 and 16
  finish on one L1-resident block at a time, and the strides that cross
  blocks run as a short transform down the block axis;
* the *row* path transforms one row at a time in place in the output with
  scalar code and serves small batches, where launching threads costs more
  than it saves.

On tiles, butterflies are grouped in radix-16 passes (four stages per trip
through memory, in registers), then one pass for the remaining stages; the
tile transposes and butterflies are vector code from :mod:`rhtann.kernels.simd`.
On rows, radix-4 passes are followed by one radix-2 pass when the number of
stages is odd.

All paths apply the butterfly stages in the same order (strides 1, 2, 4,
..) with each sum and difference rounded once, so they give the same bits.

The forward transform of one row is, for rounds ``r = 0 .. R-1``,
``v <- H_p (s_r * v)`` on the zero-padded row, then ``v <- scale * v``; the
inverse applies ``v <- s_r * (H_p v)`` for ``r = R-1 .. 0``, scales and keeps
the first ``d`` coordinates. ``H_p`` is the unnormalized Sylvester-Hadamard
matrix, so ``scale = p ** (-R / 2)`` makes both orthogonal.
"""

from __future__ import annotations

from numba import njit, prange

from .simd import (
    BLOCK,
    SPAN,
    butterfly2,
    butterfly2_signed,
    butterfly4,
    butterfly4_signed,
    butterfly8,
    butterfly8_signed,
    butterfly16,
    butterfly16_signed,
    scaled_copy,
    scaled_copy_stream,
    span_high2,
    span_high4,
    span_high8,
    span_high16,
    span_low_signed,
    store_fence,
    transpose16,
    transpose16_moments,
    transpose16_stream,
)

#: Default number of rows transformed together by the tiled kernels (rows of
#: up to 256 coordinates). Wider tiles amortize loop overhead; 64 rows of 256
#: float32 coordinates (80 KiB with the padding below) stay in L2.
TILE = 64

#: Extra columns allocated after each tile row, so that rows a power of two
#: apart do not map to the same L1 cache set (16 rows of 64 float32 would be
#: exactly 4 KiB apart).
TILE_PAD = 16

#: Coordinates per block of a tile (:func:`rht_forward_tiled`): the two
#: radix-16 passes of strides 1 and 16 stay inside a block.
BLOCK_ROWS = 256

#: Largest padded length :func:`rht_forward_tiled` transforms on the span path
#: (:func:`_span_forward`): a row of up to 4096 float32 values (16 KiB) leaves
#: room in L1 for the input streaming past; longer rows are tiled.
SPAN_MAX = 4096

#: Extra floats after each block of a tile, so that the blocks (16 KiB apart
#: for 16-row tiles) do not all map to the same L1 cache set.
BLOCK_PAD = 16


@njit(cache=True, inline="always")
def _tile_pass(buf, lo, hi, tw, h, radix, s, signed):
    """One pass of ``log2(radix)`` butterfly stages at stride ``h`` on rows ``lo:hi``."""
    for i in range(lo, hi, radix * h):
        for j in range(i, i + h):
            for t in range(0, tw, BLOCK):
                if signed:
                    if radix == 16:
                        butterfly16_signed(buf, j, h, t, s)
                    elif radix == 8:
                        butterfly8_signed(buf, j, h, t, s)
                    elif radix == 4:
                        butterfly4_signed(buf, j, h, t, s)
                    else:
                        butterfly2_signed(buf, j, h, t, s)
                elif radix == 16:
                    butterfly16(buf, j, h, t)
                elif radix == 8:
                    butterfly8(buf, j, h, t)
                elif radix == 4:
                    butterfly4(buf, j, h, t)
                else:
                    butterfly2(buf, j, h, t)


@njit(cache=True, inline="always")
def _tile_round(buf, p, tw, s, signed):
    """Walsh-Hadamard transform of columns ``:tw`` of ``buf[:p]``.

    With ``signed``, the rows are first multiplied by the signs ``s`` (fused
    into the first pass). Stages are grouped four at a time (radix 16, in
    registers), the remaining one to three stages in one last pass.
    """
    if p == 1:
        if signed:
            for t in range(tw):
                buf[0, t] *= s[0]
        return
    stages = 0
    while (1 << stages) < p:
        stages += 1
    h = 1
    first = signed
    while stages > 0:
        take = 4 if stages >= 4 else stages
        _tile_pass(buf, 0, p, tw, h, 1 << take, s, first)
        first = False
        h <<= take
        stages -= take


@njit(cache=True, inline="always")
def _tile_load_cols(x, r0, m, c0, w, buf, tw, moments):
    """Transpose ``x[r0:r0+m, c0:c0+w]`` into ``buf[:w, :m]``.

    Full 16 x 16 blocks go through :func:`transpose16`; the edges are moved
    one value at a time. Columns ``m ..`` of ``buf[:w]`` are zeroed. Returns
    the sum of ``v - v`` over the values read: 0 unless one is NaN or
    infinite. When ``moments`` has columns (shape ``(2, n)``), the sums of
    squares and of fourth powers of the values of each row are added into
    ``moments[:, r0 + t]`` instead (a NaN or infinity then shows there, not
    in the return value).
    """
    one = x.dtype.type(1.0)
    acc = x.dtype.type(0.0)
    want = moments.shape[1] > 0
    mb = m - m % BLOCK
    wb = w - w % BLOCK
    for tb in range(0, mb, BLOCK):
        for jb in range(0, wb, BLOCK):
            if want:
                transpose16_moments(x, r0 + tb, c0 + jb, buf, jb, tb, one, moments, r0 + tb)
            else:
                acc += transpose16(x, r0 + tb, c0 + jb, buf, jb, tb, one)
    for t in range(m):
        xr = x[r0 + t]
        s2 = x.dtype.type(0.0)
        s4 = x.dtype.type(0.0)
        for j in range(wb if t < mb else 0, w):
            v = xr[c0 + j]
            acc += v - v
            buf[j, t] = v
            q = v * v
            s2 += q
            s4 += q * q
        if want:
            moments[0, r0 + t] += s2
            moments[1, r0 + t] += s4
    if m < tw:
        for j in range(w):
            for t in range(m, tw):
                buf[j, t] = 0.0
    return acc


@njit(cache=True, inline="always")
def _tile_load(x, r0, m, d, buf, tw, moments):
    """Transpose rows ``r0 .. r0+m-1`` of ``x[:, :d]`` into ``buf[:d, :m]``.

    See :func:`_tile_load_cols` (here with all ``d`` columns).
    """
    return _tile_load_cols(x, r0, m, 0, d, buf, tw, moments)


@njit(cache=True, inline="always")
def _tile_store_cols(buf, scale, r0, m, c0, w, out, stream=False):
    """Write ``scale * buf[:w, t]`` to ``out[r0 + t, c0:c0+w]`` for ``t < m``.

    With ``stream``, full 16 x 16 blocks are written with non-temporal stores
    (``out`` rows and ``c0`` must keep them 64-byte aligned). Returns the
    sum of ``v - v`` over the values stored: 0 unless one is NaN or infinite
    (the blocks report the values they read, which are finite exactly when
    the stored ones are, since ``|scale| <= 1``).
    """
    acc = buf.dtype.type(0.0)
    mb = m - m % BLOCK
    wb = w - w % BLOCK
    for jb in range(0, wb, BLOCK):
        for tb in range(0, mb, BLOCK):
            if stream:
                acc += transpose16_stream(buf, jb, tb, out, r0 + tb, c0 + jb, scale)
            else:
                acc += transpose16(buf, jb, tb, out, r0 + tb, c0 + jb, scale)
    for t in range(m):
        o = out[r0 + t]
        for j in range(wb if t < mb else 0, w):
            v = buf[j, t] * scale
            acc += v - v
            o[c0 + j] = v
    return acc


@njit(cache=True, inline="always")
def _tile_store(buf, scale, r0, m, d, out):
    """Write ``scale * buf[:d, t]`` to row ``r0 + t`` of ``out`` for ``t < m``.

    Returns the check of :func:`_tile_store_cols`.
    """
    return _tile_store_cols(buf, scale, r0, m, 0, d, out)


# ---------------------------------------------------------------------------
# tiles cut into blocks
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _block(big, b, br, stride):
    """Block ``b`` of a tile: a ``(br, stride)`` view of row ``b`` of ``big``."""
    return big[b, : br * stride].reshape((br, stride))


@njit(cache=True, inline="always")
def _round(big, br, stride, tw, s, signed):
    """One Walsh-Hadamard round (signs first when ``signed``) on a tile.

    A tile of one block is transformed in radix-16 passes, then one pass for
    the remaining stages. With several blocks (``br == BLOCK_ROWS``), each
    block gets its two radix-16 passes (strides 1 and 16; the radix written
    as a constant, which keeps the butterflies' dispatch out of the loop)
    while it is in L1, then the strides that cross blocks run as a transform
    of length ``nb`` down the first axis of ``big``, whose rows are the
    blocks (such tiles have no row padding: all columns are data).
    """
    nb = big.shape[0]
    if nb == 1:
        _tile_round(_block(big, 0, br, stride), br, tw, s, signed)
        return
    for b in range(nb):
        blk = _block(big, b, BLOCK_ROWS, stride)
        sb = s[b * BLOCK_ROWS : (b + 1) * BLOCK_ROWS]
        _tile_pass(blk, 0, BLOCK_ROWS, tw, 1, 16, sb, signed)
        _tile_pass(blk, 0, BLOCK_ROWS, tw, 16, 16, sb, False)
    _tile_round(big, nb, BLOCK_ROWS * stride, s, False)


@njit(cache=True, inline="always")
def _load(x, r0, m, d, big, br, stride, tw, moments):
    """Transpose rows ``r0 .. r0+m-1`` of ``x[:, :d]`` into the tile's blocks; zero the rest.

    Returns the NaN/infinity check of :func:`_tile_load_cols`.
    """
    acc = x.dtype.type(0.0)
    for b in range(big.shape[0]):
        blk = _block(big, b, br, stride)
        c0 = b * br
        w = min(max(d - c0, 0), br)
        if w > 0:
            acc += _tile_load_cols(x, r0, m, c0, w, blk, tw, moments)
        for j in range(w, br):
            for t in range(tw):
                blk[j, t] = 0.0
    return acc


@njit(cache=True, inline="always")
def _store(big, br, stride, tw, scale, r0, m, d, out, stream):
    """Write ``scale`` times the first ``d`` coordinates of the tile's ``m`` rows to ``out``.

    Returns the check of :func:`_tile_store_cols` over everything stored.
    """
    acc = big.dtype.type(0.0)
    for b in range(big.shape[0]):
        c0 = b * br
        w = min(max(d - c0, 0), br)
        if w > 0:
            acc += _tile_store_cols(_block(big, b, br, stride), scale, r0, m, c0, w, out, stream)
    return acc


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
# whole rows in registers
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _high_blocks(flat, d, m):
    """Butterfly stages of strides ``SPAN .. m/2`` on every block of ``m`` of ``flat[0, :d]``.

    Radix-16 passes, then one pass for the remaining stages.
    """
    stages = 0
    while (SPAN << stages) < m:
        stages += 1
    h = SPAN
    while stages > 0:
        take = 4 if stages >= 4 else stages
        for i in range(0, d, h << take):
            for j in range(i, i + h, BLOCK):
                if take == 4:
                    span_high16(flat, 0, j, h)
                elif take == 3:
                    span_high8(flat, 0, j, h)
                elif take == 2:
                    span_high4(flat, 0, j, h)
                else:
                    span_high2(flat, 0, j, h)
        h <<= take
        stages -= take


@njit(cache=True, inline="always")
def _span_high(flat, p):
    """Butterfly stages of strides ``SPAN .. p/2`` on the row ``flat[0, :p]``."""
    _high_blocks(flat, p, p)


@njit(cache=True, inline="always")
def _span_forward(x, r, d, signs, rounds, scale, out, flat, stream):
    """Forward transform of row ``r`` of ``x`` into row ``r`` of ``out``, through ``flat``.

    ``flat`` (shape ``(1, p)``) is an L1-sized buffer. Each round runs the
    signs and the strides ``1 .. SPAN/2`` on every span of ``SPAN``
    coordinates, then the strides from ``SPAN`` on. Returns the check of the
    values stored (0 unless one is NaN or infinite).
    """
    p = flat.shape[1]
    for g in range(0, p, SPAN):
        if g + SPAN <= d:
            span_low_signed(x, r, g, flat, 0, g, signs, 0)
        elif g < d:
            for j in range(g, g + SPAN):
                flat[0, j] = x[r, j] if j < d else 0.0
            span_low_signed(flat, 0, g, flat, 0, g, signs, 0)
        else:
            for j in range(g, g + SPAN):
                flat[0, j] = 0.0
    for k in range(rounds):
        if k > 0:
            for g in range(0, p, SPAN):
                span_low_signed(flat, 0, g, flat, 0, g, signs, k)
        _span_high(flat, p)
    oacc = x.dtype.type(0.0)
    for g in range(0, p, SPAN):
        if stream:
            oacc += scaled_copy_stream(flat, 0, g, out, r, g, scale)
        else:
            oacc += scaled_copy(flat, 0, g, out, r, g, scale)
    return oacc


@njit(cache=True, inline="always")
def _finite_row(x, r):
    """Sum of ``v - v`` over row ``r`` of ``x``: 0 unless it holds a NaN or an infinity."""
    acc = x.dtype.type(0.0)
    for j in range(x.shape[1]):
        v = x[r, j]
        acc += v - v
    return acc


@njit(cache=True, inline="always")
def _span_buffer(big, p):
    """A 64-byte aligned run of ``p`` values in the tile buffer ``big``, as a ``(1, p)`` view."""
    fl = big.reshape(big.size)
    off = (-(fl.ctypes.data // fl.itemsize)) % 16
    return fl[off : off + p].reshape((1, p))


# ---------------------------------------------------------------------------
# drivers
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _geometry(p, scratch):
    """Block rows ``br`` and row stride of the tiles in ``scratch`` (see :func:`rht_forward_tiled`)."""
    br = min(p, BLOCK_ROWS)
    return br, (scratch.shape[2] - BLOCK_PAD) // br


@njit(cache=True, parallel=True)
def rht_forward_tiled(x, signs, rounds, scale, out, scratch, tw, bad, over, moments, stream):
    """Forward transform, tiled over rows and parallel over chunks of tiles.

    Rows of ``SPAN <= p <= SPAN_MAX`` coordinates without ``moments`` take
    the span path (except ``d < p = SPAN``) (see the module notes): the same chunks of rows, one row
    at a time, in a 64-byte aligned run of ``p`` values of the chunk's
    ``scratch`` (which needs ``p + 16`` values per chunk, as every scratch of
    :func:`rhtann.layouts.pad.scratch_for` has); ``tw`` then only sets the
    chunk boundaries.

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
    scratch : ndarray, shape (nchunks, nb, br * stride + BLOCK_PAD), dtype of ``x``
        One tile buffer per chunk (``nchunks`` sets the parallel grain). A
        tile holds ``tw`` rows (a multiple of 16) cut into ``nb = p // br``
        blocks of ``br = min(p, BLOCK_ROWS)`` coordinates; block ``b`` is a
        ``(br, stride)`` column-major view of row ``b``. Short rows (one
        block) take 64-row tiles with ``stride = tw + TILE_PAD``; long rows
        take 16-row tiles with ``stride = tw`` (see :func:`rhtann.layouts.pad.scratch_for`).
    tw : int
        Rows per tile.
    bad : ndarray, shape (nchunks,), bool
        Set to True for a chunk that met a NaN or infinity in ``x``.
    over : ndarray, shape (nchunks,), bool
        Set to True for a chunk that stored a NaN or infinity in ``out``
        (False otherwise: every value it stored is finite).
    moments : ndarray, shape (2, n) or (2, 0), dtype of ``x``, zeroed
        With ``n`` columns, receives each input row's sum of squares (row 0)
        and sum of fourth powers (row 1), computed while the tile is loaded;
        non-finite input then shows in these sums rather than in ``bad``.
        With none, nothing is computed.
    stream : bool
        Write full 16 x 16 blocks of ``out`` with non-temporal stores, then
        fence; the caller guarantees 64-byte aligned rows (see
        :func:`rhtann.layouts.pad.streams`).
    """
    n, d = x.shape
    p = out.shape[1]
    br, stride = _geometry(p, scratch)
    nchunks = scratch.shape[0]
    ntiles = (n + tw - 1) // tw
    # one partial span (d < p = SPAN) is copied value by value: no faster than a tile
    spans = (
        moments.shape[1] == 0 and SPAN <= p <= SPAN_MAX and (p > SPAN or d == p)
        and scratch.shape[1] * scratch.shape[2] >= p + 16
    )
    for c in prange(nchunks):
        big = scratch[c]
        acc = x.dtype.type(0.0)
        oacc = x.dtype.type(0.0)
        if spans:
            flat = _span_buffer(big, p)
            for r in range(c * ntiles // nchunks * tw, min((c + 1) * ntiles // nchunks * tw, n)):
                o = _span_forward(x, r, d, signs, rounds, scale, out, flat, stream)
                if not (o == 0.0):
                    # a NaN or infinity read always reaches the output: only
                    # rows with a non-finite output are checked again
                    oacc += o
                    acc += _finite_row(x, r)
            if stream:
                store_fence()
            bad[c] = not (acc == 0.0)
            over[c] = not (oacc == 0.0)
            continue
        for ti in range(c * ntiles // nchunks, (c + 1) * ntiles // nchunks):
            r0 = ti * tw
            m = min(tw, n - r0)
            acc += _load(x, r0, m, d, big, br, stride, tw, moments)
            for k in range(rounds):
                _round(big, br, stride, tw, signs[k], True)
            oacc += _store(big, br, stride, tw, scale, r0, m, p, out, stream)
        if stream:
            store_fence()
        bad[c] = not (acc == 0.0)
        over[c] = not (oacc == 0.0)


@njit(cache=True, parallel=True)
def rht_inverse_tiled(y, signs, rounds, scale, out, scratch, tw, bad, over, moments, stream):
    """Inverse transform, tiled over rows and parallel over chunks of tiles.

    Parameters
    ----------
    y : ndarray, shape (n, p), C-contiguous, float32 or float64
        Transformed rows; not modified.
    signs, rounds, scale, scratch, tw, bad, over, moments, stream
        As in :func:`rht_forward_tiled` (``moments`` of the rows of ``y``).
    out : ndarray, shape (n, d), same dtype as ``y``
        The first ``d`` coordinates of each inverted row.
    """
    n, p = y.shape
    d = out.shape[1]
    br, stride = _geometry(p, scratch)
    nchunks = scratch.shape[0]
    ntiles = (n + tw - 1) // tw
    for c in prange(nchunks):
        big = scratch[c]
        acc = y.dtype.type(0.0)
        oacc = y.dtype.type(0.0)
        for ti in range(c * ntiles // nchunks, (c + 1) * ntiles // nchunks):
            r0 = ti * tw
            m = min(tw, n - r0)
            acc += _load(y, r0, m, p, big, br, stride, tw, moments)
            # (D_0 H)(D_1 H)...(D_{R-1} H) read right to left: H first, then
            # "signs then H" for rounds R-1 .. 1, then the signs of round 0.
            _round(big, br, stride, tw, signs[0], False)
            for k in range(rounds - 1, 0, -1):
                _round(big, br, stride, tw, signs[k], True)
            s0 = signs[0]
            for b in range(big.shape[0]):
                blk = _block(big, b, br, stride)
                for j in range(br):
                    sj = s0[b * br + j]
                    for t in range(tw):
                        blk[j, t] *= sj
            oacc += _store(big, br, stride, tw, scale, r0, m, d, out, stream)
        if stream:
            store_fence()
        bad[c] = not (acc == 0.0)
        over[c] = not (oacc == 0.0)


@njit(cache=True)
def rht_forward_rows(x, signs, rounds, scale, out, over, moments):
    """Forward transform one row at a time, in place in ``out``.

    Same arguments as :func:`rht_forward_tiled` without the scratch (``over``
    has shape ``(1,)``); returns True when ``x`` holds a NaN or an infinity.
    Serial: meant for few rows.
    """
    n, d = x.shape
    p = out.shape[1]
    acc = x.dtype.type(0.0)
    oacc = x.dtype.type(0.0)
    want = moments.shape[1] > 0
    for r in range(n):
        o = out[r]
        xr = x[r]
        s0 = signs[0]
        s2 = x.dtype.type(0.0)
        s4 = x.dtype.type(0.0)
        for j in range(d):
            v = xr[j]
            acc += v - v
            o[j] = v * s0[j]
            q = v * v
            s2 += q
            s4 += q * q
        if want:
            moments[0, r] += s2
            moments[1, r] += s4
        for j in range(d, p):
            o[j] = 0.0
        _row_wht(o, p)
        for k in range(1, rounds):
            s = signs[k]
            for j in range(p):
                o[j] *= s[j]
            _row_wht(o, p)
        for j in range(p):
            v = o[j] * scale
            oacc += v - v
            o[j] = v
    over[0] = not (oacc == 0.0)
    return not (acc == 0.0)


@njit(cache=True)
def rht_inverse_rows(y, signs, rounds, scale, out, over, work):
    """Inverse transform one row at a time.

    ``work`` is a scratch vector of shape ``(p,)``; ``over`` (shape ``(1,)``)
    as in :func:`rht_forward_rows`. Returns True when ``y`` holds a NaN or
    an infinity. Serial: meant for few rows.
    """
    n, p = y.shape
    d = out.shape[1]
    acc = y.dtype.type(0.0)
    oacc = y.dtype.type(0.0)
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
            v = work[j] * scale
            oacc += v - v
            o[j] = v
    over[0] = not (oacc == 0.0)
    return not (acc == 0.0)
