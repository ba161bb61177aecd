"""numba kernels of the moment statistics: per-row power sums.

Arrays in, arrays out. The callers in :mod:`rhtann.moments` pick the serial or
parallel variant and turn the sums into the statistics; the numerics (when the
fast float32 sums are trusted, when the exact float64 path runs) are described
there.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Reassociation lets LLVM vectorize the reductions. No "nnan"/"ninf": NaN and
# infinity must keep their IEEE behaviour, since the fast float32 sums are
# validated by comparisons after the loop.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# The float32 sums are used when they stay in this range (see _fast_ok).
FAST_LOW = 2.0**-20
FAST_HIGH = 2.0**100


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _peak64(br, mask):
    """Largest ``bits & mask`` of a float64 row viewed as uint64."""
    m = np.uint64(0)
    for j in range(br.shape[0]):
        m = max(m, np.uint64(br[j] & mask))
    return m


@njit(cache=True, inline="always")
def _prescale(m):
    """Factors ``(pre, scale)`` with ``x * pre * scale = x / m``, all finite.

    ``1 / m`` overflows for subnormal ``m``; those rows are first multiplied
    by ``2**600``, an exact power of two.
    """
    pre = 1.0 if m >= 1e-300 else 2.0**600
    return pre, 1.0 / (m * pre)


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_sums(xr, br, mask, infbits):
    """Return (s2, s3, s4, peak, bad) of one row, in float64.

    ``br`` is the row viewed as unsigned integers of its float width,
    ``mask`` clears the sign bit and ``infbits`` is the pattern of +inf: for
    IEEE floats the order of ``|x|`` is the order of ``bits & mask``, and
    NaN and infinity have the largest patterns (``bad``). A float32 row is
    summed as it is in the same pass; a float64 row is scaled by
    ``1 / max|x|`` first. The ratios the callers form do not depend on the
    scale.
    """
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    if infbits == np.uint32(0x7F800000):
        m32 = np.uint32(0)
        for j in range(xr.shape[0]):
            a = abs(np.float64(xr[j]))
            a2 = a * a
            s2 += a2
            s3 += a2 * a
            s4 += a2 * a2
            m32 = max(m32, np.uint32(br[j] & mask))
        return s2, s3, s4, np.float64(np.uint32(m32).view(np.float32)), m32 >= infbits
    m64 = _peak64(br, mask)
    if m64 >= infbits or m64 == 0:
        return 0.0, 0.0, 0.0, 0.0, m64 >= infbits
    pre, scale = _prescale(np.uint64(m64).view(np.float64))
    for j in range(xr.shape[0]):
        a = abs(np.float64(xr[j]) * pre) * scale
        a2 = a * a
        s2 += a2
        s3 += a2 * a
        s4 += a2 * a2
    return s2, s3, s4, 1.0, False


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_s24(xr, br, mask, infbits):
    """Return (s2, s4, bad) of one row; see :func:`_row_sums`."""
    s2 = 0.0
    s4 = 0.0
    if infbits == np.uint32(0x7F800000):
        m32 = np.uint32(0)
        for j in range(xr.shape[0]):
            a = np.float64(xr[j])
            a2 = a * a
            s2 += a2
            s4 += a2 * a2
            m32 = max(m32, np.uint32(br[j] & mask))
        return s2, s4, m32 >= infbits
    m64 = _peak64(br, mask)
    if m64 >= infbits or m64 == 0:
        return 0.0, 0.0, m64 >= infbits
    pre, scale = _prescale(np.uint64(m64).view(np.float64))
    for j in range(xr.shape[0]):
        a = np.float64(xr[j]) * pre * scale
        a2 = a * a
        s2 += a2
        s4 += a2 * a2
    return s2, s4, False


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _fast_ok(s2, s4):
    """Whether float32 sums can be trusted.

    ``s2 >= 2**-20`` means every term dropped by float32 underflow
    (``x**4 < 2**-126``) is below ``2**-86 * d`` times ``s4``, and
    ``s2, s4 <= 2**100`` means nothing overflowed; NaN fails every comparison.
    """
    return s2 >= FAST_LOW and s2 <= FAST_HIGH and s4 <= FAST_HIGH


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_fast_sums(xr, br, mask):
    """float32 (s2, s3, s4) and the largest ``bits & mask`` of a float32 row."""
    s2 = np.float32(0.0)
    s3 = np.float32(0.0)
    s4 = np.float32(0.0)
    m32 = np.uint32(0)
    for j in range(xr.shape[0]):
        a = abs(xr[j])
        a2 = a * a
        s2 += a2
        s3 += a2 * a
        s4 += a2 * a2
        m32 = max(m32, np.uint32(br[j] & mask))
    return np.float64(s2), np.float64(s3), np.float64(s4), m32


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_fast_s24(xr):
    """float32 (s2, s4) of a float32 row."""
    s2 = np.float32(0.0)
    s4 = np.float32(0.0)
    for j in range(xr.shape[0]):
        a = xr[j]
        a2 = a * a
        s2 += a2
        s4 += a2 * a2
    return np.float64(s2), np.float64(s4)


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _one_row_stats(xr, br, mask, infbits):
    """(rho4, rho3, peak, bad) of one row; zeros for a zero or bad row."""
    if infbits == np.uint32(0x7F800000):
        s2, s3, s4, m32 = _row_fast_sums(xr, br, mask)
        if m32 < infbits and _fast_ok(s2, s4):
            nrm = np.sqrt(s2)
            peak = np.float64(np.uint32(m32).view(np.float32))
            return s4 / (s2 * s2), s3 / (s2 * nrm), peak / nrm, False
    s2, s3, s4, m, bad = _row_sums(xr, br, mask, infbits)
    if bad or not s2 > 0.0:
        return 0.0, 0.0, 0.0, bad
    nrm = np.sqrt(s2)
    return s4 / (s2 * s2), s3 / (s2 * nrm), m / nrm, False


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _one_row_kappa(xr, br, mask, infbits, d_eff):
    """(kappa, bad) of one row; 0 for a zero or bad row."""
    if infbits == np.uint32(0x7F800000):
        s2, s4 = _row_fast_s24(xr)
        if _fast_ok(s2, s4):
            return d_eff * (s4 / (s2 * s2)), False
    s2, s4, bad = _row_s24(xr, br, mask, infbits)
    if bad or not s2 > 0.0:
        return 0.0, bad
    return d_eff * (s4 / (s2 * s2)), False


@njit(cache=True, fastmath=_FASTMATH)
def stats_rows(x, bits, mask, infbits, rho4, rho3, peak):
    """Moment statistics of every row, serially.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous float32 or float64
    bits : ndarray, shape (n, d)
        ``x`` viewed as uint32 (float32) or uint64 (float64).
    mask, infbits : unsigned scalar of the width of ``bits``
        All bits but the sign bit, and the bits of +inf.
    rho4, rho3, peak : ndarray, shape (n,), float64
        Outputs (0 for zero rows).

    Returns
    -------
    bool
        True when ``x`` holds a NaN or an infinity.
    """
    any_bad = False
    for i in range(x.shape[0]):
        rho4[i], rho3[i], peak[i], bad = _one_row_stats(x[i], bits[i], mask, infbits)
        any_bad |= bad
    return any_bad


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def stats_rows_parallel(x, bits, mask, infbits, rho4, rho3, peak, bad):
    """Parallel :func:`stats_rows`; ``bad`` has shape (n,) bool."""
    for i in prange(x.shape[0]):
        rho4[i], rho3[i], peak[i], bad[i] = _one_row_stats(x[i], bits[i], mask, infbits)


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _kappa_block(x, bits, mask, infbits, d_eff, out, i0, i1, interleave):
    """kappa of rows ``i0 .. i1 - 1``; True when one of them holds NaN/inf.

    With ``interleave``, float32 rows are summed four at a time in one loop:
    the per-row reductions then overlap, which pays when the batch is in
    cache and rows are short. Streaming from memory, one row at a time is
    faster (one sequential stream for the prefetcher). A row whose fast sums
    are out of range goes through :func:`_one_row_kappa`.
    """
    any_bad = False
    i = i0
    if interleave and infbits == np.uint32(0x7F800000):
        while i + 4 <= i1:
            x0 = x[i]
            x1 = x[i + 1]
            x2 = x[i + 2]
            x3 = x[i + 3]
            p2 = np.float32(0.0)
            p4 = np.float32(0.0)
            q2 = np.float32(0.0)
            q4 = np.float32(0.0)
            r2 = np.float32(0.0)
            r4 = np.float32(0.0)
            t2 = np.float32(0.0)
            t4 = np.float32(0.0)
            for j in range(x.shape[1]):
                a = x0[j] * x0[j]
                p2 += a
                p4 += a * a
                a = x1[j] * x1[j]
                q2 += a
                q4 += a * a
                a = x2[j] * x2[j]
                r2 += a
                r4 += a * a
                a = x3[j] * x3[j]
                t2 += a
                t4 += a * a
            for k, s2, s4 in ((0, p2, p4), (1, q2, q4), (2, r2, r4), (3, t2, t4)):
                s2d = np.float64(s2)
                s4d = np.float64(s4)
                if _fast_ok(s2d, s4d):
                    out[i + k] = d_eff * (s4d / (s2d * s2d))
                else:
                    out[i + k], bad = _one_row_kappa(
                        x[i + k], bits[i + k], mask, infbits, d_eff
                    )
                    any_bad |= bad
            i += 4
    while i < i1:
        out[i], bad = _one_row_kappa(x[i], bits[i], mask, infbits, d_eff)
        any_bad |= bad
        i += 1
    return any_bad


@njit(cache=True, fastmath=_FASTMATH)
def kappa_rows(x, bits, mask, infbits, d_eff, out, interleave):
    """``kappa = d_eff * rho4`` of every row, serially; True on NaN/inf."""
    return _kappa_block(x, bits, mask, infbits, d_eff, out, 0, x.shape[0], interleave)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def kappa_rows_parallel(x, bits, mask, infbits, d_eff, out, bad, interleave):
    """Parallel :func:`kappa_rows` over ``bad.shape[0]`` contiguous chunks.

    ``bad`` has shape (nchunks,) bool; chunk ``c`` sets ``bad[c]``.
    """
    n = x.shape[0]
    nch = bad.shape[0]
    for c in prange(nch):
        i0 = (c * n // nch) // 4 * 4
        i1 = n if c == nch - 1 else ((c + 1) * n // nch) // 4 * 4
        bad[c] = _kappa_block(x, bits, mask, infbits, d_eff, out, i0, i1, interleave)


def bit_view(x: np.ndarray) -> tuple[np.ndarray, np.unsignedinteger, np.unsignedinteger]:
    """``x`` as unsigned integers, with the sign mask and the bits of +inf."""
    if x.dtype == np.float32:
        return x.view(np.uint32), np.uint32(0x7FFFFFFF), np.uint32(0x7F800000)
    return (
        x.view(np.uint64),
        np.uint64(0x7FFFFFFFFFFFFFFF),
        np.uint64(0x7FF0000000000000),
    )


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def square_sums(x, sums):
    """``sums[0, i] = sum x[i]**2`` and ``sums[1, i] = sum x[i]**4``, in the dtype of ``x``.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous float32 or float64
    sums : ndarray, shape (2, n), dtype of ``x``, zeroed
        Output; the sums are added to it. NaN or infinity in a row shows in
        its sums.
    """
    for i in prange(x.shape[0]):
        xr = x[i]
        s2 = sums[0, i]
        s4 = sums[1, i]
        for j in range(xr.shape[0]):
            a = xr[j] * xr[j]
            s2 += a
            s4 += a * a
        sums[0, i] = s2
        sums[1, i] = s4
