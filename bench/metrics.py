"""Accuracy and timing metrics of the harness, following ann-benchmarks.

All recall functions take the distances of the returned neighbours
*recomputed from their ids* against the train set (so an index cannot
misreport them) and the ground-truth distances of the dataset file, both in
the dataset's distance (Euclidean, or ``1 - cos`` for angular).
"""

from __future__ import annotations

import numpy as np

#: Additive tolerance of ann-benchmarks' "k-nn" recall.
KNN_EPSILON = 1e-3


def _check(run_dist: np.ndarray, gt_dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    run_dist = np.asarray(run_dist, dtype=np.float64)
    gt_dist = np.asarray(gt_dist, dtype=np.float64)
    if run_dist.ndim != 2 or gt_dist.ndim != 2 or run_dist.shape[0] != gt_dist.shape[0]:
        raise ValueError(
            f"run_dist (q, >= k) and gt_dist (q, >= k) need the same number of rows; got "
            f"{run_dist.shape} and {gt_dist.shape}"
        )
    if not 1 <= k <= min(run_dist.shape[1], gt_dist.shape[1]):
        raise ValueError(
            f"k must be in [1, {min(run_dist.shape[1], gt_dist.shape[1])}] for run_dist "
            f"{run_dist.shape} and gt_dist {gt_dist.shape}; got k={k}"
        )
    return run_dist[:, :k], gt_dist


def mask_duplicates(ids: np.ndarray, run_dist: np.ndarray) -> np.ndarray:
    """Set the distance of repeated ids in a row (after the first) to ``inf``.

    ann-benchmarks requires the returned ids to be unique; a repeated id
    must not count twice.

    Parameters
    ----------
    ids : ndarray, shape (q, k), integer
    run_dist : ndarray, shape (q, k), float

    Returns
    -------
    ndarray, shape (q, k), float64
        A copy of ``run_dist`` with the repeats set to ``inf``.
    """
    ids = np.asarray(ids)
    out = np.array(run_dist, dtype=np.float64, copy=True)
    order = np.argsort(ids, axis=1, kind="stable")
    sorted_ids = np.take_along_axis(ids, order, axis=1)
    repeat = np.zeros(ids.shape, dtype=bool)
    repeat[:, 1:] = sorted_ids[:, 1:] == sorted_ids[:, :-1]
    rows = np.nonzero(repeat)
    out[rows[0], order[rows]] = np.inf
    return out


def knn_recall(
    run_dist: np.ndarray, gt_dist: np.ndarray, k: int, epsilon: float = KNN_EPSILON
) -> np.ndarray:
    """Per-query recall@k by ann-benchmarks' "k-nn" rule.

    A returned neighbour counts when its distance is at most the ``k``-th
    true distance plus ``epsilon`` (additive), so neighbours tied with the
    ``k``-th are credited whatever their ids.

    Parameters
    ----------
    run_dist : ndarray, shape (q, >= k)
        Distances of the returned neighbours, best first (``inf`` where none).
    gt_dist : ndarray, shape (q, >= k)
        True distances, sorted.
    k : int
    epsilon : float

    Returns
    -------
    ndarray, shape (q,), float64
        Fraction of the first ``k`` returned neighbours that count.
    """
    run, gt = _check(run_dist, gt_dist, k)
    threshold = gt[:, k - 1] + epsilon
    return (run <= threshold[:, None]).sum(axis=1) / k


def epsilon_recall(
    run_dist: np.ndarray, gt_dist: np.ndarray, k: int, epsilon: float = 0.01
) -> np.ndarray:
    """Per-query "Epsilon 0.01 Recall" of ann-benchmarks.

    Like :func:`knn_recall` with the multiplicative threshold
    ``gt_dist[k-1] * (1 + epsilon)``.

    Returns
    -------
    ndarray, shape (q,), float64
    """
    run, gt = _check(run_dist, gt_dist, k)
    threshold = gt[:, k - 1] * (1.0 + epsilon)
    return (run <= threshold[:, None]).sum(axis=1) / k


def recall_1_at_k(
    run_dist: np.ndarray, gt_dist: np.ndarray, k: int, epsilon: float = KNN_EPSILON
) -> np.ndarray:
    """Per-query Recall@1@k: is the true nearest neighbour among the first k?

    Ties are credited as in :func:`knn_recall`: a hit is any of the first
    ``k`` returned neighbours at distance at most ``gt_dist[0] + epsilon``
    (so a duplicate of the nearest vector counts as finding it).

    Returns
    -------
    ndarray, shape (q,), float64
        1.0 or 0.0 per query.
    """
    run, gt = _check(run_dist, gt_dist, k)
    return (run <= (gt[:, 0] + epsilon)[:, None]).any(axis=1).astype(np.float64)


def relative_mse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Distortion ``sum ||x - x_hat||^2 / sum ||x||^2`` over all rows.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Vectors as the index stores them (unit-norm for cosine indexes).
    x_hat : ndarray, shape (n, d)
        Their reconstructions.

    Returns
    -------
    float
    """
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape; got {x.shape} and {x_hat.shape}")
    den = float((x * x).sum())
    return float(((x - x_hat) ** 2).sum() / den) if den > 0 else float("nan")


def qps_from_times(times_per_run: list[np.ndarray]) -> dict[str, float]:
    """ann-benchmarks single-query timing summary.

    Parameters
    ----------
    times_per_run : list of ndarray, each shape (q,)
        Seconds per query, one array per run.

    Returns
    -------
    dict
        ``best_search_time`` (the smallest per-run mean, seconds),
        ``qps = 1 / best_search_time``, ``p50_ms`` / ``p99_ms`` latency
        percentiles of the best run, and ``qps_p50 = 1 / p50`` (insensitive
        to the occasional query delayed by other processes on a shared
        machine).
    """
    if not times_per_run:
        raise ValueError("times_per_run must hold at least one run")
    means = [float(np.mean(t)) for t in times_per_run]
    best = int(np.argmin(means))
    times = np.asarray(times_per_run[best]) * 1e3
    p50 = float(np.percentile(times, 50))
    return {
        "best_search_time": means[best],
        "qps": 1.0 / means[best] if means[best] > 0 else float("inf"),
        "p50_ms": p50,
        "p99_ms": float(np.percentile(times, 99)),
        "qps_p50": 1e3 / p50 if p50 > 0 else float("inf"),
    }


def pareto_frontier(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated (higher x and higher y are better).

    As ann-benchmarks' ``create_pointset``: sort by y descending, keep a point
    when its x beats every point kept so far.

    Returns
    -------
    ndarray of int
        Indices into ``x``/``y``, ordered by decreasing y.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.lexsort((-x, -y))
    keep = []
    best = -np.inf
    for i in order:
        if x[i] > best:
            keep.append(int(i))
            best = x[i]
    return np.asarray(keep, dtype=np.int64)
