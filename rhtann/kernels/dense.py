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
    mt : ndarray, shape (d, p), float32 or float64
        The transposed transform matrix (the query rotation passes float32
        entries; a float32 times float32 product is exact in float64).
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
    d8 = d - d % 8
    for i in range(m):
        for c in range(p):
            acc[c] = 0.0
        # eight coordinates per pass over ``acc``: the same additions in the same order, with an
        # eighth of the loads and stores of ``acc``
        for j in range(0, d8, 8):
            x0 = np.float64(x[i, j])
            x1 = np.float64(x[i, j + 1])
            x2 = np.float64(x[i, j + 2])
            x3 = np.float64(x[i, j + 3])
            x4 = np.float64(x[i, j + 4])
            x5 = np.float64(x[i, j + 5])
            x6 = np.float64(x[i, j + 6])
            x7 = np.float64(x[i, j + 7])
            r0 = mt[j]
            r1 = mt[j + 1]
            r2 = mt[j + 2]
            r3 = mt[j + 3]
            r4 = mt[j + 4]
            r5 = mt[j + 5]
            r6 = mt[j + 6]
            r7 = mt[j + 7]
            for c in range(p):
                a = (((acc[c] + x0 * np.float64(r0[c])) + x1 * np.float64(r1[c])) + x2 * np.float64(r2[c]))
                a = (a + x3 * np.float64(r3[c])) + x4 * np.float64(r4[c])
                acc[c] = ((a + x5 * np.float64(r5[c])) + x6 * np.float64(r6[c])) + x7 * np.float64(r7[c])
        for j in range(d8, d):
            xj = np.float64(x[i, j])
            row = mt[j]
            for c in range(p):
                acc[c] += xj * np.float64(row[c])
        for c in range(p):
            v = np.float32(acc[c])
            out[i, c] = v
            if not np.isfinite(v):
                ok = False
    return ok


@njit(cache=True)
def normalize_rows(x, out):
    """``out[i] = float32(x[i] / ||x[i]||)`` with the norm and quotients in float64; zero rows stay zero.

    Parameters
    ----------
    x : ndarray, shape (m, d), float32
    out : ndarray, shape (m, d), float32
        May be ``x`` itself.

    Notes
    -----
    The squares of float32 values neither overflow nor underflow in
    float64, so no row needs rescaling first. A row holding NaN or
    infinity gives NaN entries (the callers' finiteness checks see them).
    """
    m, d = x.shape
    for i in range(m):
        s = 0.0
        for j in range(d):
            v = np.float64(x[i, j])
            s += v * v
        nrm = np.sqrt(s)
        if nrm > 0.0 or not nrm == nrm:
            for j in range(d):
                out[i, j] = np.float32(np.float64(x[i, j]) / nrm)
        else:
            for j in range(d):
                out[i, j] = np.float32(0.0)


@njit(cache=True)
def row_dots(x, v, out):
    """``out[i] = float32(<x[i], v>)``, the sum taken in float64 in coordinate order.

    Parameters
    ----------
    x : ndarray, shape (m, d), float32
    v : ndarray, shape (d,), float32
    out : ndarray, shape (m,), float32
    """
    m, d = x.shape
    for i in range(m):
        s = 0.0
        for j in range(d):
            s += np.float64(x[i, j]) * np.float64(v[j])
        out[i] = np.float32(s)
