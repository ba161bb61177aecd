"""One query of the flat 4-bit fast scan in one compiled call.

A single query through :class:`rhtann.search.CodecFlat` otherwise makes six
kernel calls (rotation, tables, heap reset, scan, re-score, results), each
with its own dispatch and output arrays; :func:`flat_search_one` makes the
same calls from compiled code, in the same order and with the same
arithmetic, so its results are bit-identical to that sequence. Where the
rotation is not a small dense product, the caller rotates with the transform's
kernels and :func:`search_rotated` makes the remaining calls (tables onwards)
in one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .dense import normalize_rows, rotate_dense, row_dots
from .results import finish_rows
from .scan import aligned_bytes, fastscan_topk, rescore_topk
from .tables import query_tables
from .topk import heap_reset


@njit(cache=True)
def flat_search_one(
    x, norm, shift, omean, kk, out_d, out_i, mt, levels, bits, alpha, top, codes, P, nblocks, sv, ev, smax,
    emin, ref, delta, R, l2, ids,
):
    """Rotate, build the tables, scan, re-score from the codes and write the results of queries ``x``.

    Parameters
    ----------
    x : ndarray, shape (m, d_in), float32
        Checked queries; usually ``m = 1``.
    norm : bool
        Normalize the queries first (:func:`rhtann.kernels.dense.normalize_rows`;
        the cosine metric).
    shift : ndarray, shape (d_in,) or (0,), float32
        Subtracted from every query before the rotation (``Center`` with
        L2: the training mean); empty for none. The distances are those of
        the shifted queries.
    omean : ndarray, shape (d_in,) or (0,), float32
        When not empty, ``<q_i, omean>`` (:func:`rhtann.kernels.dense.row_dots`
        of the normalized query) is added to query ``i``'s returned scores
        of ids >= 0 (``Center`` with inner products: the training mean).
    mt : ndarray, shape (d_in, d_code), float64
        Transposed rotation matrix (:func:`rhtann.kernels.dense.rotate_dense`).
    levels, bits, alpha, top
        The codec's unit levels and bits per coordinate, the score factor
        (2 for L2, else 1) and the largest byte-table entry
        (:func:`rhtann.kernels.tables.query_tables`).
    codes, P, nblocks, sv, ev, smax, emin, ref, delta, R
        The code store (:func:`rhtann.kernels.scan.fastscan_topk`,
        :func:`rhtann.kernels.scan.rescore_topk`).
    kk : int
        Candidates kept by the scan and re-scored (``k * k_factor``).
    l2 : bool
    ids : ndarray, shape (n,) or (0,), int64
        Id map (:func:`rhtann.kernels.results.finish_rows`).
    out_d : ndarray, shape (m, k), float32
    out_i : ndarray, shape (m, k), int64
        Receive distances and ids in faiss's conventions.

    Returns
    -------
    bool
        False when a rotated query or its tables are not finite (float32
        overflow of a large finite query): nothing was searched and the
        caller takes the general path, which rotates such queries safely
        and reports tables that overflow.
    """
    m = x.shape[0]
    if norm:
        xn = np.empty_like(x)
        normalize_rows(x, xn)
        x = xn
    has_off = omean.shape[0] > 0
    off = np.empty(m, dtype=np.float32)
    if has_off:
        row_dots(x, omean, off)
    if shift.shape[0]:
        x = x - shift
    dc = mt.shape[1]
    y = np.empty((m, dc), dtype=np.float32)
    if not rotate_dense(x, mt, y, np.empty(dc)):
        return False
    return search_rotated(
        x, y, off, has_off, kk, out_d, out_i, levels, bits, alpha, top, codes, P, nblocks, sv, ev, smax,
        emin, ref, delta, R, l2, ids,
    )


@njit(cache=True)
def search_rotated(
    x, y, off, has_off, kk, out_d, out_i, levels, bits, alpha, top, codes, P, nblocks, sv, ev, smax, emin,
    ref, delta, R, l2, ids,
):
    """Tables, scan, re-score and results of rotated queries ``y`` (the tail of :func:`flat_search_one`).

    Parameters
    ----------
    x : ndarray, shape (m, d_in), float32
        The queries as rotated (normalized and shifted where asked); L2
        distances add their squared norms.
    y : ndarray, shape (m, d_code), float32
        Their rotations, finite.
    off : ndarray, shape (m,), float32
        Added to query ``i``'s returned scores of ids >= 0 when ``has_off``.
    has_off : bool
    kk, out_d, out_i, levels, bits, alpha, top, codes, P, nblocks, sv, ev, smax, emin, ref, delta, R, l2, ids
        As for :func:`flat_search_one`.

    Returns
    -------
    bool
        False when a query's tables are not finite: nothing was searched.
    """
    m = y.shape[0]
    k = out_d.shape[1]
    dc = y.shape[1]
    M = (dc * bits + 3) // 4
    lut = np.empty((m, M, 16), dtype=np.float32)
    luts = aligned_bytes(m * P * 64).reshape((m, P * 64))
    a = np.empty(m, dtype=np.float32)
    b = np.empty(m, dtype=np.float32)
    if query_tables(y, levels, bits, alpha, top, lut, luts, a, b) >= 0:
        return False
    hs = np.empty((m, kk), dtype=np.float32)
    hi = np.empty((m, kk), dtype=np.int64)
    heap_reset(hs, hi)
    fastscan_topk(codes, P, nblocks, luts, a, b, sv, ev, 1, hs, hi, smax, emin)
    scores = np.empty((m, k), dtype=np.float32)
    pos = np.empty((m, k), dtype=np.int64)
    rescore_topk(codes, P, lut, alpha, sv, ev, hi, k, scores, pos, y, ref, delta, R, bits)
    finish_rows(x, scores, pos, l2, ids, out_d, out_i)
    if has_off:
        for i in range(m):
            for j in range(k):
                if out_i[i, j] >= 0:
                    out_d[i, j] += off[i]
    return True
