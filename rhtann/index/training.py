"""Training a fixed Index's sub-index without holding every rotated row."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layouts.output import empty_output
from . import faiss_glue as glue

#: Most bytes of rotated rows :meth:`rhtann.Index.train` holds for indexes that
#: need the rows themselves (k-means, codebooks); larger inputs are sampled.
TRAIN_SAMPLE_BYTES = 512 * 2**20


def train_sub(index: Any, x: Any, n: int) -> None:
    """Train ``index``'s sub-index on ``x`` rotated (``x`` validated, ``n >= 1`` rows), chunk by chunk.

    Memory: a sub-index that needs no training (Flat, HNSW on flat storage)
    rotates nothing; a min/max scalar quantizer keeps only the
    per-coordinate ranges (:func:`rhtann.index.faiss_glue.trains_on_ranges`);
    any other index is trained on at most :data:`TRAIN_SAMPLE_BYTES` of
    rotated rows, a seeded uniform sample when ``x`` is larger.
    """
    sub = index._subs[0]
    if sub.is_trained:
        return
    buf = empty_output((min(n, index.chunk_size), index.d_out), np.float32)
    if glue.trains_on_ranges(sub):
        lo = np.full(index.d_out, np.inf, dtype=np.float32)
        hi = np.full(index.d_out, -np.inf, dtype=np.float32)
        for i0, i1 in index._chunks(n, "rotate"):
            y = index._rotate(x[i0:i1], "x", buf)
            np.minimum(lo, y.min(axis=0), out=lo)
            np.maximum(hi, y.max(axis=0), out=hi)
        sub.train(np.stack([lo, hi]))
        return
    cap = max(glue.min_train_rows(sub)[0], TRAIN_SAMPLE_BYTES // (4 * index.d_out))
    rows = None
    if n > cap:
        rows = np.sort(np.random.default_rng(index.seed).choice(n, cap, replace=False))
    m = n if rows is None else cap
    y = np.empty((m, index.d_out), dtype=np.float32)
    for i0, i1 in index._chunks(m, "rotate"):
        part = x[i0:i1] if rows is None else x[rows[i0:i1]]
        y[i0:i1] = index._rotate(part, "x", buf)
    sub.train(y)


__all__ = ["TRAIN_SAMPLE_BYTES", "train_sub"]
