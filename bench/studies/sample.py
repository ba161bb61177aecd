"""The query studies' shared data steps: a seeded base sample, exact neighbours and recall@k by ids."""

from __future__ import annotations

import numpy as np


def sample(name: str, n_base: int, n_query: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """A seeded sample of ``n_base`` base rows (kept in order), the first ``n_query`` queries, the metric.

    ``name`` is a dataset of the registry (:func:`rhtann.data.load`); both
    arrays are C-contiguous float32.
    """
    from rhtann.data import load

    ds = load(name, progress=False)
    rng = np.random.default_rng(seed)
    n_base = min(n_base, len(ds.train))
    xb = np.asarray(ds.train[np.sort(rng.choice(len(ds.train), n_base, replace=False))], np.float32)
    xq = np.asarray(ds.test[:n_query], np.float32)
    return np.ascontiguousarray(xb), np.ascontiguousarray(xq), ds.metric


def truth(xb: np.ndarray, xq: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Ids (int64, (len(xq), k)) of the exact ``k`` nearest rows: inner product for cosine, else L2."""
    import faiss

    if metric == "cosine":
        xb = xb / np.linalg.norm(xb, axis=1, keepdims=True)
        xq = xq / np.linalg.norm(xq, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(xb.shape[1])
    else:
        flat = faiss.IndexFlatL2(xb.shape[1])
    flat.add(np.ascontiguousarray(xb, dtype=np.float32))
    return flat.search(np.ascontiguousarray(xq, dtype=np.float32), k)[1]


def recall(ids: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each row of ``exact`` found in the same row of ``ids`` (recall@k by ids)."""
    k = exact.shape[1]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, exact, strict=True)]))
