"""Dense products of small query batches (the query rotation of the code indexes)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def rotate_dense(x, mt, out, acc):
    """``out = float32(x @ mt)`` accumulated in float64; whether every output is finite.

    Parameters
    ----------
    x : ndarray, shape (m, d), float32
    mt : ndarray, shape (d, p), float64
        The transposed transform matrix.
    out : ndarray, shape (m, p), float32
        Receives the products, each the float64 sum (in coordinate order)
        of float64 products, rounded once to float32.
    acc : ndarray, shape (p,), float64
        Scratch.

    Returns
    -------
    bool
        False if an output is NaN or infinite (float32 overflow included);
        ``out`` is then complete but must not be used.
    """
    m, d = x.shape
    p = mt.shape[1]
    ok = True
    for i in range(m):
        for c in range(p):
            acc[c] = 0.0
        for j in range(d):
            xj = np.float64(x[i, j])
            row = mt[j]
            for c in range(p):
                acc[c] += xj * row[c]
        for c in range(p):
            v = np.float32(acc[c])
            out[i, c] = v
            if not np.isfinite(v):
                ok = False
    return ok
