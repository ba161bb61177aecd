"""numba scalar-quantizer encoders writing faiss's ``IndexScalarQuantizer`` bytes.

For each component ``i`` with trained minimum ``vmin[i]`` and range
``vdiff[i]``, faiss computes in float32 ``u = clip((x[i] - vmin[i]) / vdiff[i], 0, 1)``
(``u = 0`` where ``vdiff[i] == 0``), then the code ``floor(255 * u)`` with the
product rounded to float32 (8 bits) or ``floor(15 * u)`` with the product in
float64 (4 bits, two components per byte, the even one in the low nibble).
The kernels do the same operations in the same precision, so the codes are
bit-identical to faiss's.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _unit(v, lo, width):
    """``clip((v - lo) / width, 0, 1)`` in float32, 0 where ``width == 0`` (as faiss)."""
    u = (v - lo) / width
    u = min(max(u, np.float32(0.0)), np.float32(1.0))
    if width == 0:
        u = np.float32(0.0)
    return u


@njit(cache=True, parallel=True)
def sq_encode8(y, vmin, vdiff, codes):
    """8-bit codes: ``codes[r, i] = floor(float32(255) * u)``.

    Parameters
    ----------
    y : ndarray, shape (n, d), float32, C-contiguous
    vmin, vdiff : ndarray, shape (d,), float32
    codes : ndarray, shape (n, d), uint8, C-contiguous
        Output.

    Returns
    -------
    int
        Number of NaN or infinite values met in ``y`` (their codes are
        undefined).
    """
    n, d = y.shape
    k = np.float32(255.0)
    bad = 0
    for r in prange(n):
        yr = y[r]
        cr = codes[r]
        nf = 0
        for i in range(d):
            v = yr[i]
            nf += (v - v) != 0
            cr[i] = np.uint8(np.int32(k * _unit(v, vmin[i], vdiff[i])))
        bad += nf
    return bad


@njit(cache=True, parallel=True)
def sq_encode4(y, vmin, vdiff, codes):
    """4-bit codes: component ``i`` is ``floor(15.0 * float64(u))`` in nibble ``i % 2`` of byte ``i // 2``.

    Arguments and return value as in :func:`sq_encode8`, with ``codes`` of
    shape ``(n, (d + 1) // 2)``.
    """
    n, d = y.shape
    half = d // 2
    bad = 0
    for r in prange(n):
        yr = y[r]
        cr = codes[r]
        nf = 0
        for b in range(half):
            i = 2 * b
            v0 = yr[i]
            v1 = yr[i + 1]
            nf += ((v0 - v0) != 0) + ((v1 - v1) != 0)
            c0 = np.int32(np.float64(_unit(v0, vmin[i], vdiff[i])) * 15.0)
            c1 = np.int32(np.float64(_unit(v1, vmin[i + 1], vdiff[i + 1])) * 15.0)
            cr[b] = np.uint8(c0 | (c1 << 4))
        if d % 2:
            i = d - 1
            v = yr[i]
            nf += (v - v) != 0
            cr[half] = np.uint8(np.int32(np.float64(_unit(v, vmin[i], vdiff[i])) * 15.0))
        bad += nf
    return bad
