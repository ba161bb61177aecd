"""Top-k collection for the scanners: buffers of candidates reduced by partial selection.

A scanner that keeps the best ``kk`` candidates of a query appends every
candidate that reaches the query's threshold to a buffer of
:func:`buffer_capacity` entries. When the buffer cannot take another block
of 32, :func:`reduce_buffer` moves the ``kk`` best to its front (partial
selection, expected linear time) and the threshold rises to the ``kk``-th
best score; :func:`finish_row` writes the ``kk`` best as a min-heap row.

Order
-----
Candidates are ranked by decreasing score, ties by smaller position
(:func:`better`). Every score in a buffer is finite or ``+inf`` (the
scanners pass no NaN or ``-inf``), positions are distinct.

Thresholds
----------
After a reduction the scanners admit a candidate when its score is at
least the ``kk``-th best (:func:`admit_below` gives the float32 threshold
that a strict ``score > thr`` test turns into that), so a tie with the
``kk``-th best is decided by position whatever order the blocks are
scanned in.

numba's on-disk cache of the scanners is keyed on their module's source,
not this file: after editing it, delete the cache files under
``rhtann/kernels/__pycache__``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

_OPTS = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy", "boundscheck": False}

#: Extra buffer entries beyond ``2 kk``: room for at least two blocks of 32 after a reduction.
SLACK = 64


#: Buffer entries a scanner holds at once (at most, beyond one group of queries' worth).
BUFFER_ENTRIES = 2**24


@numba.njit(**_OPTS)
def batch_rows(m, width, group, most):
    """Queries whose buffers (``width`` entries per query) are held at once.

    ``most`` or fewer, so that they hold at most :data:`BUFFER_ENTRIES`
    entries, a multiple of ``group`` (at least one group), and at most ``m``
    (at least 1).
    """
    fit = (BUFFER_ENTRIES // width) // group * group
    return min(max(m, 1), max(group, min(most, fit)))


@numba.njit(**_OPTS)
def buffer_capacity(kk):
    """Entries of a candidate buffer for ``kk`` kept candidates: ``2 kk + SLACK``."""
    return 2 * kk + SLACK


@numba.njit(inline="always", **_OPTS)
def better(s1, i1, s2, i2):
    """Whether ``(s1, i1)`` ranks before ``(s2, i2)``: higher score, or equal score and smaller position."""
    return s1 > s2 or (s1 == s2 and i1 < i2)


@numba.njit(inline="always", **_OPTS)
def _swap(bs, bi, row, x, y):
    ts = bs[row, x]
    bs[row, x] = bs[row, y]
    bs[row, y] = ts
    ti = bi[row, x]
    bi[row, x] = bi[row, y]
    bi[row, y] = ti


@numba.njit(**_OPTS)
def _insertion_sort(bs, bi, row, lo, hi):
    """Sort entries ``lo .. hi`` of buffer row ``row`` best first."""
    for x in range(lo + 1, hi + 1):
        s = bs[row, x]
        v = bi[row, x]
        y = x - 1
        while y >= lo and better(s, v, bs[row, y], bi[row, y]):
            bs[row, y + 1] = bs[row, y]
            bi[row, y + 1] = bi[row, y]
            y -= 1
        bs[row, y + 1] = s
        bi[row, y + 1] = v


@numba.njit(inline="always", **_OPTS)
def _ranks_before(s1, i1, s2, i2):
    """:func:`better` as one expression of bitwise operations (no branch on the comparisons)."""
    return (s1 > s2) | ((s1 == s2) & (i1 < i2))


@numba.njit(**_OPTS)
def select_best(bs, bi, row, n, kk):
    """Reorder entries ``0 .. n-1`` of buffer row ``row`` so that the first ``kk`` are the best.

    After the call, entry ``kk - 1`` is the ``kk``-th best and every entry
    before it ranks before it (:func:`better`); nothing after it does.
    Quickselect with a median-of-three pivot and a partition without
    data-dependent branches (each entry is swapped with the first one of
    the lower part, and that part's end moves on only when the entry ranks
    before the pivot); ``0 < kk <= n``.
    """
    lo = 0
    hi = n - 1
    target = kk - 1
    while hi > lo:
        if hi - lo < 16:
            _insertion_sort(bs, bi, row, lo, hi)
            return
        mid = (lo + hi) >> 1
        # order lo, mid, hi best first; the median lands at mid, then moves to hi as the pivot
        if better(bs[row, mid], bi[row, mid], bs[row, lo], bi[row, lo]):
            _swap(bs, bi, row, mid, lo)
        if better(bs[row, hi], bi[row, hi], bs[row, lo], bi[row, lo]):
            _swap(bs, bi, row, hi, lo)
        if better(bs[row, hi], bi[row, hi], bs[row, mid], bi[row, mid]):
            _swap(bs, bi, row, hi, mid)
        _swap(bs, bi, row, mid, hi)
        ps = bs[row, hi]
        pi = bi[row, hi]
        # lo .. end-1 rank before the pivot, end .. j-1 after it
        end = lo
        for j in range(lo, hi):
            s = bs[row, j]
            v = bi[row, j]
            bs[row, j] = bs[row, end]
            bi[row, j] = bi[row, end]
            bs[row, end] = s
            bi[row, end] = v
            end += np.int64(_ranks_before(s, v, ps, pi))
        _swap(bs, bi, row, end, hi)
        if target < end:
            hi = end - 1
        elif target > end:
            lo = end + 1
        else:
            return


@numba.njit(**_OPTS)
def admit_below(score):
    """The float32 just below ``score``: ``s > admit_below(score)`` iff ``s >= score`` (float32 ``s``)."""
    return np.float32(np.nextafter(np.float32(score), np.float32(-np.inf)))


@numba.njit(**_OPTS)
def reduce_buffer(bs, bi, row, n, kk):
    """Keep the ``kk`` best of the ``n`` entries of buffer row ``row``.

    Returns ``(count, thr)``: the entries left (``min(n, kk)``) and the
    float32 threshold a later candidate must exceed to be admitted
    (:func:`admit_below` of the ``kk``-th best; ``-inf`` while fewer than
    ``kk`` are held).
    """
    if n < kk:
        return n, np.float32(-np.inf)
    select_best(bs, bi, row, n, kk)
    return kk, admit_below(bs[row, kk - 1])


@numba.njit(**_OPTS)
def load_row(hs, hi, r, bs, bi, row):
    """Copy heap row ``r``'s filled entries (position >= 0) into buffer row ``row``; returns their count."""
    n = 0
    for j in range(hs.shape[1]):
        if hi[r, j] >= 0:
            bs[row, n] = hs[r, j]
            bi[row, n] = hi[r, j]
            n += 1
    return n


@numba.njit(**_OPTS)
def finish_row(bs, bi, row, n, hs, hi, r):
    """Write the best ``kk = hs.shape[1]`` of the buffer's ``n`` entries into heap row ``r``.

    The row becomes a min-heap on the score (``hs[r, 0]`` the ``kk``-th
    best), padded with ``-inf`` / ``-1`` when ``n < kk``.
    """
    kk = hs.shape[1]
    if n > kk:
        select_best(bs, bi, row, n, kk)
        n = kk
    for j in range(kk - n):
        hs[r, j] = -np.inf
        hi[r, j] = -1
    for j in range(n):
        hs[r, kk - n + j] = bs[row, j]
        hi[r, kk - n + j] = bi[row, j]
    # heapify (the -inf padding already sits at the top)
    for start in range(kk // 2 - 1, -1, -1):
        _sift_down(hs, hi, r, start, hs[r, start], hi[r, start])


@numba.njit(inline="always", **_OPTS)
def _sift_down(hs, hi, r, x, score, pos):
    """Place ``(score, pos)`` at node ``x`` of min-heap row ``r``, moving smaller children up."""
    kk = hs.shape[1]
    while True:
        c = 2 * x + 1
        if c >= kk:
            break
        if c + 1 < kk and hs[r, c + 1] < hs[r, c]:
            c += 1
        if hs[r, c] < score:
            hs[r, x] = hs[r, c]
            hi[r, x] = hi[r, c]
            x = c
        else:
            break
    hs[r, x] = score
    hi[r, x] = pos


@numba.njit(**_OPTS)
def heap_push(hs, hi, r, score, pos):
    """Insert ``(score, pos)`` into min-heap row ``r`` if it beats the root; returns the new root."""
    if not score > hs[r, 0]:
        return hs[r, 0]
    _sift_down(hs, hi, r, 0, score, pos)
    return hs[r, 0]


@numba.njit(**_OPTS)
def heap_reset(hs, hi):
    """Fill heaps with ``-inf`` scores and position ``-1``."""
    for r in range(hs.shape[0]):
        for j in range(hs.shape[1]):
            hs[r, j] = -np.inf
            hi[r, j] = -1


@numba.njit(inline="always", **_OPTS)
def _insert_sorted(out_s, out_i, i, k, score, v):
    """Insert ``(score, v)`` into row ``i`` of a best-first list of ``k``, dropping its last entry.

    Order: decreasing score, ties by smaller position; the caller has
    checked that ``(score, v)`` belongs in the list.
    """
    t = k - 1
    while t > 0 and (score > out_s[i, t - 1] or (score == out_s[i, t - 1] and v < out_i[i, t - 1])):
        out_s[i, t] = out_s[i, t - 1]
        out_i[i, t] = out_i[i, t - 1]
        t -= 1
    out_s[i, t] = score
    out_i[i, t] = v


@numba.njit(**_OPTS)
def heap_sort_rows(hs, hi, k, out_s, out_i):
    """Best ``k`` of each heap row, by decreasing score (ties: smaller position first)."""
    if hs.shape[0] == 1:
        _sort_row(hs, hi, k, out_s, out_i, 0)
    else:
        _sort_rows(hs, hi, k, out_s, out_i)


@numba.njit(parallel=True, **_OPTS)
def _sort_rows(hs, hi, k, out_s, out_i):
    for i in prange(hs.shape[0]):
        _sort_row(hs, hi, k, out_s, out_i, i)


@numba.njit(**_OPTS)
def _sort_row(hs, hi, k, out_s, out_i, i):
    for j in range(k):
        out_s[i, j] = -np.inf
        out_i[i, j] = -1
    for c in range(hs.shape[1]):
        v = hi[i, c]
        if v < 0:
            continue
        score = hs[i, c]
        if not score > out_s[i, k - 1] and not (score == out_s[i, k - 1] and v < out_i[i, k - 1]):
            continue
        _insert_sorted(out_s, out_i, i, k, score, v)


@numba.njit(parallel=True, **_OPTS)
def topk_update(scores, start, alpha, ev, hs, hi):
    """Push a block of exact scores into the queries' heaps.

    Parameters
    ----------
    scores : float32 (m, nb)
        ``<q_i, x_hat_v>`` for positions ``start .. start + nb - 1``.
    start : int
    alpha : float
    ev : float32 per-vector offsets
    hs, hi : heaps with one row per query
    """
    m, nb = scores.shape
    a = np.float32(alpha)
    for i in prange(m):
        thr = hs[i, 0]
        for j in range(nb):
            s = a * scores[i, j] - ev[start + j]
            if s > thr:
                thr = heap_push(hs, hi, i, s, start + j)
