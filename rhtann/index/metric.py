"""Metrics: the one table of metric names and the cosine normalization.

``"l2"`` (squared Euclidean), ``"ip"`` (inner product) and ``"cosine"``
(inner product of L2-normalized vectors). ann-benchmarks' names are accepted
as aliases: ``"euclidean"`` for ``"l2"``, ``"angular"`` for ``"cosine"``;
``"inner_product"`` and ``"dot"`` for ``"ip"``.
"""

from __future__ import annotations

import faiss
import numpy as np

from ..kernels.finite import rescale_extreme_rows

METRICS = ("l2", "ip", "cosine")

#: Accepted name (lower case) -> canonical name.
ALIASES = {
    "l2": "l2",
    "euclidean": "l2",
    "ip": "ip",
    "inner_product": "ip",
    "dot": "ip",
    "cosine": "cosine",
    "angular": "cosine",
}


def parse_metric(metric: object) -> str:
    """Return the canonical metric name (``"l2"``, ``"ip"`` or ``"cosine"``).

    Raises
    ------
    ValueError
        If ``metric`` is not a string of :data:`ALIASES` (any case).
    """
    if not isinstance(metric, str) or metric.lower() not in ALIASES:
        raise ValueError(
            f"metric must be one of {METRICS} (or 'angular', 'euclidean', 'dot'); got {metric!r}"
        )
    return ALIASES[metric.lower()]


def faiss_metric(metric: str) -> int:
    """faiss metric constant of a canonical metric name (cosine searches by inner product)."""
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def larger_is_better(metric: str) -> bool:
    """Whether the scores of ``metric`` are similarities (ip, cosine) rather than distances."""
    return metric != "l2"


def normalized(x: np.ndarray) -> np.ndarray:
    """A unit-norm copy of the rows of trusted float32 ``x`` (zero rows stay zero).

    Uses ``faiss.normalize_L2``, so vectors normalized here and inside a faiss
    ``NormalizationTransform`` are bit-identical. Rows whose largest
    magnitude is above ``2**60`` or below ``2**-60`` (where the float32 sum of
    squares would overflow or underflow) are first scaled by a power of two,
    which changes no direction; NaN and infinity pass through for the
    caller's finiteness check.
    """
    y = np.array(x, dtype=np.float32, copy=True, order="C")
    if y.size:
        rescale_extreme_rows(y, 2.0**60, 2.0**-60)
    faiss.normalize_L2(y)
    return y


__all__ = ["ALIASES", "METRICS", "faiss_metric", "larger_is_better", "normalized", "parse_metric"]
