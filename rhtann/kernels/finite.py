"""Scans of rows: which are not finite, their squared norms, and extreme magnitudes brought into range."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def scan_rows(y, flags, sq):
    """Flag the rows of ``y`` holding a NaN or an infinity; record squared row norms.

    Parameters
    ----------
    y : ndarray, shape (n, m), C-contiguous float32 or float64
        Rows to scan; not modified.
    flags : ndarray, shape (n,), bool
        Set to True for a row with a non-finite entry (left alone otherwise).
    sq : ndarray, shape (n,) or (0,), float64
        With ``n`` entries, receives each row's sum of squares, accumulated
        in float64 (finite for any finite float32 row).

    Returns
    -------
    int
        Number of flagged rows.

    Notes
    -----
    Only reassociation is allowed to the compiler (so the sums vectorize);
    NaN and infinity keep their IEEE meaning: ``v - v`` is NaN for both.
    """
    n, m = y.shape
    want = sq.shape[0] > 0
    count = 0
    for i in prange(n):
        row = y[i]
        acc = 0.0
        chk = row.dtype.type(0.0)
        for j in range(m):
            v = row[j]
            chk += v - v
            if want:
                w = np.float64(v)
                acc += w * w
        if want:
            sq[i] = acc
        if not (chk == 0.0):
            flags[i] = True
            count += 1
    return count


@njit(cache=True)
def rescale_extreme_rows(y, big, small):
    """Scale by a power of two, in place, every finite row whose largest magnitude is extreme.

    A row of ``y`` (float32, (n, m), C-contiguous) whose largest magnitude
    ``amax`` is finite and either above ``big`` or positive and below
    ``small`` is multiplied by ``2**-e``, ``e`` the exponent of ``amax``
    (``amax = f * 2**e``, ``0.5 <= f < 1``); the scaled row's largest
    magnitude is then in ``[0.5, 1)`` and its direction is unchanged (each
    entry is rounded once, which only matters where it becomes subnormal).
    Rows holding a NaN or an infinity are left alone.

    Returns
    -------
    int
        Number of rows scaled.
    """
    n, m = y.shape
    count = 0
    for i in range(n):
        amax = 0.0
        finite = True
        for j in range(m):
            v = np.float64(y[i, j])
            if not (v - v == 0.0):
                finite = False
                break
            amax = max(amax, abs(v))
        if not finite or not (amax > big or (amax > 0.0 and amax < small)):
            continue
        _, e = math.frexp(amax)
        f = math.ldexp(1.0, -e)
        for j in range(m):
            y[i, j] = np.float32(np.float64(y[i, j]) * f)
        count += 1
    return count
