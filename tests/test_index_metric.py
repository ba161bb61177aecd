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


def _numpy_rescaled(x):
    """The power-of-two rescaling of extreme rows written with numpy (the definition)."""
    y = x.copy()
    with np.errstate(invalid="ignore"):
        amax = np.maximum(y.max(axis=1), -y.min(axis=1))
        odd = np.flatnonzero(np.isfinite(amax) & ((amax > 2.0**60) | ((amax > 0) & (amax < 2.0**-60))))
    if odd.size:
        _, top = np.frexp(amax[odd].astype(np.float64))
        y[odd] = np.ldexp(y[odd], -top[:, None].astype(np.int32)).astype(np.float32)
    return y, odd.size


def test_extreme_rows_are_rescaled_by_a_power_of_two(rng):
    from rhtann.kernels.finite import rescale_extreme_rows

    x = rng.standard_normal((9, 6)).astype(np.float32)
    x[1] *= np.float32(3e37)
    x[2] *= np.float32(1e-25)
    x[3, 0] = np.float32(1e-44)  # a subnormal largest magnitude
    x[3, 1:] = 0.0
    x[4] *= np.float32(3e37)
    x[4, 2] = np.inf  # not finite: left alone
    x[5] = 0.0
    x[6, 3] = np.nan
    x[7] *= np.float32(2.0**61)
    ref, count = _numpy_rescaled(x)
    y = x.copy()
    assert rescale_extreme_rows(y, 2.0**60, 2.0**-60) == count == 4
    np.testing.assert_array_equal(y, ref)
    amax = np.abs(y[[1, 2, 3, 7]]).max(axis=1)
    assert ((amax >= 0.5) & (amax < 1.0)).all()
    assert np.isinf(y[4, 2]) and np.isnan(y[6, 3]) and (y[5] == 0).all()


def test_normalized_handles_extreme_rows(rng):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    x[0] *= np.float32(1e36)
    x[1] *= np.float32(1e-30)
    y = normalized(x)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(y[0], x[0] / np.linalg.norm(x[0].astype(np.float64)), rtol=1e-5, atol=1e-7)
