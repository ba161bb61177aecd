"""rhtann.search._common: the query rotation of the code indexes."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann.kernels import scan as K
from rhtann.search import _common as C
from rhtann.search._common import DENSE_QUERY_MAX, QueryRotation, rotate_checked


@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize(
    ("d", "layout", "rounds"), [(50, "keep", 2), (50, "pad", 3), (128, "keep", 1), (200, "pad", 2)]
)
def test_dense_query_rotation_equals_the_kernels(d: int, layout: str, rounds: int, metric: str) -> None:
    rht = rhtann.RHT(d, rounds, seed=9, layout=layout)
    assert rht.d_in * rht.d_out <= DENSE_QUERY_MAX
    q = np.random.default_rng(d).standard_normal((7, d)).astype(np.float32) * 3
    rot = QueryRotation(rht, metric)
    dense = rot(q)
    kern = rotate_checked(q, "q", metric, rht)
    assert dense.dtype == np.float32 and dense.shape == (7, rht.d_out)
    np.testing.assert_allclose(dense, kern, rtol=0, atol=2e-6 * np.abs(kern).max())
    # one query alone gets the same rotation as inside a batch
    np.testing.assert_array_equal(rot(q[2:3])[0], dense[2])
    # the matrix is the transform's, its entries rounded to float32
    mt = rot.dense()
    assert mt.dtype == np.float32 and mt.flags.c_contiguous
    np.testing.assert_array_equal(mt, rht.matrix().T.astype(np.float32))


def test_dense_query_rotation_refers_non_finite_queries_to_the_kernels() -> None:
    rht = rhtann.RHT(64, 2, seed=1)
    rot = QueryRotation(rht, "l2")
    q = np.ones((2, 64), dtype=np.float32)
    q[1, 5] = np.nan
    with pytest.raises(ValueError, match="q"):
        rot(q)
    # large finite values: rotated exactly as the kernels do (no float32 overflow in the product)
    big = np.full((1, 64), 3e37, dtype=np.float32)
    np.testing.assert_allclose(rot(big), rotate_checked(big, "q", "l2", rht), rtol=1e-5)


def test_large_transforms_use_the_kernels() -> None:
    rht = rhtann.RHT(300, 2, seed=1, layout="keep")
    assert rht.d_in * rht.d_out > DENSE_QUERY_MAX
    rot = QueryRotation(rht, "ip")
    q = np.random.default_rng(0).standard_normal((3, 300)).astype(np.float32)
    np.testing.assert_array_equal(rot(q), rotate_checked(q, "q", "ip", rht))
    assert rot._mt is None  # no dense matrix was built


def test_no_rotation_passes_queries_through_normalized() -> None:
    rot = QueryRotation(None, "cosine")
    q = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(rot(q), [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("shape", "dtype"), [(1, np.uint8), (3, np.uint16), (100, np.float32), ((3, 1600), np.uint8)]
)
def test_aligned_zeros_start_on_the_boundary(shape, dtype):
    for _ in range(5):  # several allocations: the raw buffers start at various offsets
        a = C.aligned_zeros(shape, dtype)
        assert a.ctypes.data % K.ALIGN == 0
        assert a.dtype == dtype and a.shape == ((shape,) if isinstance(shape, int) else shape)
        assert a.flags.c_contiguous and a.flags.writeable and not a.any()


def test_code_store_arrays_are_aligned():
    store = C.CodeStore(C.make_codec("TQ4", 50), "l2")
    rng = np.random.default_rng(0)
    y = rng.standard_normal((70, 50)).astype(np.float32)
    ids = np.arange(70, dtype=np.int64)
    store.append(store.codec.encode(y, ids), ids)
    for arr in (store.codes, store.sv, store.ev):
        assert arr.ctypes.data % K.ALIGN == 0
