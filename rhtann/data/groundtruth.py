"""Exact distances and exact top-k ground truth (faiss candidates, float64 re-scoring)."""

from __future__ import annotations

import numpy as np

from ._core import as_matrix, check_int, progress_bar
from .dataset import GT_COUNT, check_distance


def _normalized(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def pair_distances(train: np.ndarray, test: np.ndarray, ids: np.ndarray, distance: str) -> np.ndarray:
    """Exact distances from each query to given train ids, in float64.

    Parameters
    ----------
    train : ndarray, shape (n, d)
    test : ndarray, shape (q, d)
    ids : ndarray, shape (q, m), integer
        Train ids per query; negative ids (faiss's padding) give ``inf``.
    distance : {"euclidean", "angular"}
        Euclidean distance (not squared) or ``1 - cos`` (a zero vector has
        cosine 0 with everything).

    Returns
    -------
    ndarray, shape (q, m), float64

    Raises
    ------
    ValueError
        If ``ids`` is not (q, m) or holds an id ``>= n``.
    """
    check_distance(distance)
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[0] != len(test):
        raise ValueError(f"ids must have shape ({len(test)}, m), one row per query; got {ids.shape}")
    n = len(train)
    if ids.size and int(ids.max()) >= n:
        raise ValueError(f"ids must be < n = {n} (negative ids mean 'none'); got max {int(ids.max())}")
    out = np.empty(ids.shape, dtype=np.float64)
    d = max(1, np.shape(train)[1])
    step = max(1, (1 << 21) // max(1, ids.shape[1] * d))  # bounds the float64 temporaries
    for start in range(0, len(ids), step):
        block = ids[start : start + step]
        valid = block >= 0
        a = np.asarray(test[start : start + step], dtype=np.float64)[:, None, :]
        b = np.asarray(train[np.where(valid, block, 0)], dtype=np.float64)
        if distance == "euclidean":
            res = np.sqrt(((a - b) ** 2).sum(axis=2))
        else:
            denom = np.linalg.norm(a, axis=2) * np.linalg.norm(b, axis=2)
            dot = (a * b).sum(axis=2)
            cos = np.divide(dot, denom, out=np.zeros_like(dot), where=denom > 0)
            res = 1.0 - cos
        res[~valid] = np.inf
        out[start : start + step] = res
    return out


def ground_truth(
    train: np.ndarray,
    test: np.ndarray,
    distance: str,
    k: int = GT_COUNT,
    chunk: int = 1000,
    progress: bool = True,
    oversample: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` neighbours: faiss candidates, re-scored in float64.

    faiss's brute-force search (:func:`faiss.knn`, float32) finds
    ``k + oversample`` candidates; their distances are recomputed in float64
    and the best ``k`` are sorted by distance, ties broken by smaller id.
    ``oversample > 0`` protects the last places against float32 rounding on
    large-norm data.

    Parameters
    ----------
    train : ndarray, shape (n, d)
    test : ndarray, shape (q, d)
    distance : {"euclidean", "angular"}
    k : int
        Neighbours per query, ``1 <= k <= n``.
    chunk : int
        Queries per faiss call.
    progress : bool
        Show a tqdm progress bar.
    oversample : int
        Extra float32 candidates per query (capped at ``n - k``).

    Returns
    -------
    neighbors : ndarray, shape (q, k), int32
    distances : ndarray, shape (q, k), float32
    """
    import faiss

    check_distance(distance)
    train = as_matrix(train, "train", None)
    test = as_matrix(test, "test", train.shape[1])
    k = check_int(k, "k", 1, len(train))
    chunk = check_int(chunk, "chunk", 1, None)
    extra = min(check_int(oversample, "oversample", 0, None), len(train) - k)
    if distance == "angular":
        xb, xq, metric = _normalized(train), _normalized(test), faiss.METRIC_INNER_PRODUCT
    else:
        xb, xq, metric = train, test, faiss.METRIC_L2
    q = len(test)
    neighbors = np.empty((q, k), dtype=np.int32)
    distances = np.empty((q, k), dtype=np.float32)
    bar = progress_bar(progress, total=q, desc="ground truth", unit="query")
    for start in range(0, q, chunk):
        stop = min(start + chunk, q)
        _, ids = faiss.knn(xq[start:stop], xb, k + extra, metric=metric)
        dist = pair_distances(train, test[start:stop], ids, distance)
        order = np.lexsort((ids, dist), axis=1)[:, :k]
        neighbors[start:stop] = np.take_along_axis(ids, order, axis=1)
        distances[start:stop] = np.take_along_axis(dist, order, axis=1)
        bar.update(stop - start)
    bar.close()
    return neighbors, distances
