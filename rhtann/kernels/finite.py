"""Scans of transform outputs: which rows are not finite, and the largest squared row norm."""

from __future__ import annotations

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
