"""rhtann.index.faiss_glue: the faiss internals rhtann relies on."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

import rhtann
from rhtann.index import faiss_glue as glue

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def xb():
    return np.random.default_rng(3).standard_normal((600, 32)).astype(np.float32)


def test_faiss_error_drops_the_location_prefix():
    exc = RuntimeError("Error in void faiss::f(int) at /src/faiss/x.cpp:12: bad thing\nmore")
    assert glue.faiss_error(exc) == "bad thing"
    assert glue.faiss_error(RuntimeError("")) == "RuntimeError"
    with pytest.raises(ValueError, match=r"faiss cannot build 'SQ7' \(from spec 'RHT,SQ7'\) at d=32"):
        glue.build_faiss(32, "SQ7", "l2", "RHT,SQ7")


def test_walkers_reach_nested_indexes_and_transforms(xb):
    index = faiss.index_factory(32, "HR,IVF8,SQ8")
    kinds = [type(o).__name__ for o in glue.walk_indexes(index)]
    assert kinds[0] == "IndexPreTransform" and "IndexIVFScalarQuantizer" in kinds
    assert [type(t).__name__ for t in glue.walk_transforms(index)] == ["HadamardRotation"]
    assert isinstance(glue.first_of(index, faiss.IndexIVF), faiss.IndexIVF)
    assert glue.first_of(index, faiss.IndexHNSW) is None


@pytest.mark.parametrize(
    ("key", "size"),
    [("SQ8", 32), ("SQ4", 16), ("PQ8", 8), ("IVF8,SQ8", 32), ("HNSW16,SQ4", 16), ("SQ4,RFlat", 16 + 128)],
)
def test_code_bytes_counts_codes_only(key, size):
    assert glue.code_bytes(faiss.index_factory(32, key)) == size


def test_id_support_and_wrapping():
    flat = faiss.index_factory(32, "SQ8")
    ivf = faiss.index_factory(32, "IVF8,Flat")
    assert not glue.supports_ids(flat) and glue.supports_ids(ivf)
    wrapped = glue.with_ids(flat)
    assert glue.is_id_map(wrapped) and glue.supports_ids(wrapped)
    assert glue.with_ids(ivf) is ivf and not glue.is_id_map(ivf)


def test_search_parameters_map_and_reject(xb):
    ivf = faiss.index_factory(32, "IVF8_HNSW8,SQ8,RFlat")
    p = glue.search_parameters(ivf, {"nprobe": 3, "efSearch": 20, "k_factor": 2}, "key")
    assert isinstance(p, faiss.IndexRefineSearchParameters) and p.k_factor == 2.0
    assert p._base.nprobe == 3 and p._base._qp.efSearch == 20
    assert glue.search_parameters(ivf, {}, "key") is None
    with pytest.raises(TypeError, match="unknown search parameter"):
        glue.search_parameters(ivf, {"probes": 3}, "key")
    with pytest.raises(ValueError, match="nprobe applies to IVF indexes; 'SQ8' has no IVF"):
        glue.search_parameters(faiss.index_factory(32, "SQ8"), {"nprobe": 3}, "SQ8")
    with pytest.raises(ValueError, match=r"k_factor must be a number in \[1, 1024\]"):
        glue.search_parameters(ivf, {"k_factor": 0.5}, "key")


def test_code_appender_keeps_only_written_rows(xb):
    index = faiss.index_factory(32, "SQ8")
    index.train(xb)
    codes = index.sa_encode(xb[:10])
    with pytest.raises(RuntimeError), glue.CodeAppender(index, 10) as app:
        app.rows[:4] = codes[:4]
        app.done = 4
        raise RuntimeError("stop")
    assert index.ntotal == 4
    np.testing.assert_array_equal(index.sa_encode(xb[:4]), codes[:4])
    with pytest.raises(ValueError, match="IndexFlatCodes"):
        glue.CodeAppender(faiss.index_factory(32, "IVF8,Flat"), 3)


def test_export_chain_and_repair(xb):
    index = rhtann.Index(32, "RHT2,Flat", "cosine")
    index.train(xb)
    index.add(xb)
    out = index.to_faiss()
    names = [type(t).__name__ for t in glue.walk_transforms(out)]
    assert names == ["NormalizationTransform", "LinearTransform"]
    blob = faiss.serialize_index(out)
    back = faiss.deserialize_index(blob)
    assert glue.repair_orthonormal(back) == 1
    lt = next(t for t in glue.walk_transforms(back) if isinstance(t, faiss.LinearTransform))
    assert lt.is_orthonormal
    np.testing.assert_array_equal(back.search(xb[:5], 3)[1], index.search(xb[:5], 3)[1])


def test_read_index_checked_reports_mismatches(xb):
    sub = faiss.index_factory(32, "Flat")
    sub.add(xb[:7])
    blob = glue.serialize(sub)
    assert glue.read_index_checked(blob, 32, 7, "l2", "sub").ntotal == 7
    with pytest.raises(ValueError, match="sub has d=32, ntotal=7; expected d=32, ntotal=8"):
        glue.read_index_checked(blob, 32, 8, "l2", "sub")
    with pytest.raises(ValueError, match="wrong metric"):
        glue.read_index_checked(blob, 32, 7, "ip", "sub")
    with pytest.raises(ValueError, match="faiss cannot read sub"):
        glue.read_index_checked(blob[:20], 32, 7, "l2", "sub")
