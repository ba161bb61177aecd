"""Index.search_parameters: faiss SearchParameters for the exported to_faiss() index."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

import rhtann

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(9)
    scale = np.geomspace(0.2, 2.0, 48).astype(np.float32)
    xb = (rng.standard_normal((4000, 48)) * scale).astype(np.float32)
    xq = (rng.standard_normal((30, 48)) * scale).astype(np.float32)
    return xb, xq


@pytest.mark.parametrize(
    ("spec", "metric", "params"),
    [
        ("RHT,IVF64,SQ4,RFlat", "l2", {"nprobe": 7, "k_factor": 3}),
        ("RHT,IVF64,SQ4,RFlat", "l2", {"k_factor": 2.5}),
        ("RHT,IVF64,SQ4,RFlat", "l2", {"nprobe": 9}),  # wrapped for the refine stage
        ("RHT,IVF64,SQ8", "cosine", {"nprobe": 5}),
        ("RHT,HNSW16,SQ8", "ip", {"efSearch": 24}),
        ("RHT,IVF32_HNSW8,SQ8", "l2", {"nprobe": 4, "efSearch": 12}),
        ("IVF64,Flat", "l2", {"nprobe": 3}),
    ],
)
def test_exported_search_matches(data, spec, metric, params):
    xb, xq = data
    index = rhtann.Index(48, spec, metric)
    index.train(xb)
    index.add(xb)
    exported = index.to_faiss()
    sp = index.search_parameters(**params)
    assert isinstance(sp, faiss.SearchParameters)
    d_ref, i_ref = index.search(xq, 10, **params)
    d_exp, i_exp = exported.search(xq, 10, params=sp)
    np.testing.assert_array_equal(i_exp, i_ref)
    np.testing.assert_allclose(d_exp, d_ref, rtol=1e-5, atol=1e-4)
    # the parameters take effect: without them the nested defaults apply
    d_def, i_def = exported.search(xq, 10)
    if "nprobe" in params or "k_factor" in params:
        assert not np.array_equal(i_def, i_exp)


def test_nested_types(data):
    xb, _ = data
    index = rhtann.Index(48, "RHT,IVF64,SQ4,RFlat").train(xb)
    sp = index.search_parameters(nprobe=6, k_factor=4)
    assert isinstance(sp, faiss.IndexRefineSearchParameters) and sp.k_factor == 4.0
    assert sp.base_index_params is not None
    assert sp._base.nprobe == 6  # the nested object, kept alive by its parent
    assert index.search_parameters() is None


def test_errors(data):
    xb, _ = data
    index = rhtann.Index(48, "RHT,SQ8")
    with pytest.raises(RuntimeError, match="not trained"):
        index.search_parameters(nprobe=2)
    index.train(xb)
    with pytest.raises(ValueError, match="nprobe applies to IVF"):
        index.search_parameters(nprobe=2)
    with pytest.raises(TypeError, match="unknown search parameter"):
        index.search_parameters(nprob=2)
