"""rhtann.index.metric: the metric names, aliases and the cosine normalization."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from rhtann.index.metric import ALIASES, faiss_metric, larger_is_better, normalized, parse_metric


@pytest.mark.parametrize(
    "name, canonical",
    [("l2", "l2"), ("L2", "l2"), ("euclidean", "l2"), ("ip", "ip"), ("dot", "ip"),
     ("cosine", "cosine"), ("angular", "cosine")],
)
def test_metric_names(name, canonical):
    assert parse_metric(name) == canonical


@pytest.mark.parametrize("metric", ["manhattan", "", None, 1])
def test_bad_metric(metric):
    with pytest.raises(ValueError, match="metric must be one of"):
        parse_metric(metric)


def test_alias_table_maps_onto_the_three_metrics():
    assert set(ALIASES.values()) == {"l2", "ip", "cosine"}
    assert faiss_metric("l2") == faiss.METRIC_L2
    assert faiss_metric("ip") == faiss_metric("cosine") == faiss.METRIC_INNER_PRODUCT
    assert not larger_is_better("l2") and larger_is_better("ip") and larger_is_better("cosine")


def test_normalized_is_a_unit_copy_and_keeps_zero_rows(rng):
    x = rng.standard_normal((5, 7)).astype(np.float32)
    x[2] = 0.0
    y = normalized(x)
    assert y is not x and y.dtype == np.float32 and y.flags.c_contiguous
    norms = np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(np.delete(norms, 2), 1.0, rtol=1e-6)
    assert norms[2] == 0.0
    np.testing.assert_allclose(y[0] * np.linalg.norm(x[0]), x[0], rtol=1e-5)
    assert x[0, 0] != y[0, 0]  # the input is untouched
