"""Search results in faiss's conventions, written in one compiled pass."""

from __future__ import annotations

import numpy as np
from numba import njit

_FMAX = np.float32(np.finfo(np.float32).max)


@njit(cache=True)
def finish_rows(q, scores, pos, l2, ids, out_d, out_i):
    """Distances and ids of the best candidates of each query.

    Parameters
    ----------
    q : ndarray, shape (m, d), float32
        Queries as the scores were computed for (their squared norms turn
        L2 scores into distances).
    scores : ndarray, shape (m, k), float32
        Internal scores, larger is better: ``2 <q, x> - ||x||**2`` for L2,
        inner products otherwise.
    pos : ndarray, shape (m, k), int64
        Stored positions of the candidates, ``-1`` where there is none.
    l2 : bool
        Whether ``out_d`` holds squared L2 distances (``||q||**2 - score``,
        clipped at 0) or the scores themselves.
    ids : ndarray, shape (n,) or (0,), int64
        Id of each stored position, or empty when ids are the positions.
    out_d : ndarray, shape (m, k), float32
        Receives the distances; float32's largest value (L2) or its negative
        where ``pos`` is ``-1``.
    out_i : ndarray, shape (m, k), int64
        Receives the ids, ``-1`` where ``pos`` is ``-1``.
    """
    m, k = scores.shape
    d = q.shape[1]
    mapped = ids.shape[0] > 0
    for i in range(m):
        qn = np.float32(0.0)
        if l2:
            for j in range(d):
                qn += q[i, j] * q[i, j]
        for c in range(k):
            p = pos[i, c]
            if p < 0:
                out_i[i, c] = -1
                out_d[i, c] = _FMAX if l2 else -_FMAX
                continue
            out_i[i, c] = ids[p] if mapped else p
            if l2:
                v = qn - scores[i, c]
                out_d[i, c] = v if v > 0 else np.float32(0.0)
            else:
                out_d[i, c] = scores[i, c]
