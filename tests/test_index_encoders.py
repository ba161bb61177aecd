"""rhtann.index.encoders: numba scalar-quantizer codes, byte for byte those of faiss."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

import rhtann
from rhtann.index.encoders import SQEncoder
from rhtann.index.faiss_glue import CodeAppender

QTYPES = ["QT_8bit", "QT_4bit", "QT_8bit_uniform", "QT_4bit_uniform"]


def _trained(qtype: str, d: int, rng: np.random.Generator):
    index = faiss.IndexScalarQuantizer(d, getattr(faiss.ScalarQuantizer, qtype))
    xt = rng.standard_normal((400, d)).astype(np.float32)
    if d > 3:
        xt[:, 3] = 1.5  # a constant component: range 0 for the non-uniform types
    index.train(xt)
    return index, xt


def _probe_rows(enc: SQEncoder, rng: np.random.Generator, xt: np.ndarray) -> np.ndarray:
    """Rows on every code boundary, one and two ulps either side, out of range, random."""
    levels = 255 if enc.bits == 8 else 15
    k = rng.integers(0, levels + 1, (600, enc.d))
    edge = (enc.vmin + enc.vdiff * (k / levels).astype(np.float32)).astype(np.float32)
    rows = [edge]
    for _ in range(2):
        rows += [np.nextafter(rows[-1], np.float32(np.inf)), np.nextafter(rows[-1], np.float32(-np.inf))]
    wide = (rng.standard_normal((2000, enc.d)) * 3).astype(np.float32)  # beyond the trained range
    return np.concatenate(rows + [wide, xt]).astype(np.float32)


@pytest.mark.parametrize("qtype", QTYPES)
@pytest.mark.parametrize("d", [1, 2, 7, 33, 96, 128])
def test_codes_equal_faiss(qtype, d, rng):
    index, xt = _trained(qtype, d, rng)
    enc = SQEncoder.for_index(index)
    assert enc is not None and enc.code_size == index.sa_code_size()
    x = _probe_rows(enc, rng, xt)
    np.testing.assert_array_equal(enc.encode(x), index.sa_encode(x))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_codes_do_not_depend_on_threads(threads, rng):
    index, xt = _trained("QT_4bit", 65, rng)
    enc = SQEncoder.for_index(index)
    x = rng.standard_normal((1001, 65)).astype(np.float32)
    before = rhtann.get_num_threads()
    rhtann.set_num_threads(min(threads, faiss.omp_get_max_threads(), before))
    try:
        got = enc.encode(x)
    finally:
        rhtann.set_num_threads(before)
    np.testing.assert_array_equal(got, index.sa_encode(x))


def test_for_index_declines_what_it_cannot_encode(rng):
    d = 16
    xt = rng.standard_normal((300, d)).astype(np.float32)
    untrained = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_4bit)
    assert SQEncoder.for_index(untrained) is None
    for key in ("SQ6", "SQfp16", "PQ4x4", "Flat", "IVF4,SQ8"):
        index = faiss.index_factory(d, key)
        index.train(xt)
        assert SQEncoder.for_index(index) is None, key
    wrapped = faiss.IndexIDMap2(faiss.index_factory(d, "SQ8"))
    wrapped.train(xt)
    assert SQEncoder.for_index(wrapped) is None


def test_encode_checks_its_arguments(rng):
    index, _ = _trained("QT_8bit", 8, rng)
    enc = SQEncoder.for_index(index)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 8\)"):
        enc.encode(np.zeros((3, 9), np.float32))
    expected = r"out must be a writeable C-contiguous uint8 array of shape \(3, 8\)"
    with pytest.raises(ValueError, match=expected):
        enc.encode(np.zeros((3, 8), np.float32), out=np.zeros((3, 8), np.int8))
    read_only = np.zeros((3, 8), np.uint8)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"writeable False"):
        enc.encode(np.zeros((3, 8), np.float32), out=read_only)
    with pytest.raises(ValueError, match="finite"):
        enc.encode(np.full((2, 8), np.nan, np.float32))
    index4, _ = _trained("QT_4bit", 7, rng)
    enc4 = SQEncoder.for_index(index4)
    for j in (0, 5, 6):  # low nibble, high nibble, the odd last component
        x = rng.standard_normal((40, 7)).astype(np.float32)
        x[33, j] = -np.inf
        with pytest.raises(ValueError, match="finite"):
            enc4.encode(x)
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        SQEncoder(6, np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="vmin and vdiff"):
        SQEncoder(8, np.zeros(4), np.ones(5))
    out = np.empty((3, 8), np.uint8)
    x = rng.standard_normal((3, 8)).astype(np.float32)
    assert enc.encode(x, out=out) is out
    assert enc.encode(np.zeros((0, 8), np.float32)).shape == (0, 8)


@pytest.mark.parametrize("spec", ["RHT,SQ4", "RHT1,SQ8", "SQ4", "RHT,SQ8_direct"])
@pytest.mark.parametrize("n", [1, 5, 37, 300])
def test_index_add_stores_faiss_codes(spec, n, rng):
    """Index.add (numba encoder where it applies) stores the codes faiss's own add stores."""
    d = 50
    xb = (rng.standard_normal((n + 200, d)) * np.linspace(0.5, 2, d)).astype(np.float32)
    index = rhtann.Index(d, spec, chunk_size=16)
    index.train(xb[:200])
    index.add(xb[200:])
    ref = faiss.clone_index(index.sub_index)
    ref.reset()
    ref.add(index.rht.apply(xb[200:]) if index.rht is not None else xb[200:])
    assert index.ntotal == n
    np.testing.assert_array_equal(
        faiss.vector_to_array(index.sub_index.codes), faiss.vector_to_array(ref.codes)
    )


def test_code_appender_grows_storage_and_keeps_marked_rows(rng):
    index, xt = _trained("QT_8bit", 12, rng)
    enc = SQEncoder.for_index(index)
    first = rng.standard_normal((5, 12)).astype(np.float32)
    index.add(first)
    x = rng.standard_normal((9, 12)).astype(np.float32)
    with CodeAppender(index, 9) as app:
        assert app.rows.shape == (9, enc.code_size)
        enc.encode(x, out=app.rows)
        app.done = 9
    assert index.ntotal == 14
    stored = faiss.vector_to_array(index.codes).reshape(14, -1)
    np.testing.assert_array_equal(stored, index.sa_encode(np.vstack([first, x])))
    # an error after 4 rows: the index keeps exactly those
    with pytest.raises(RuntimeError, match="midway"), CodeAppender(index, 6) as app:
        enc.encode(x[:4], out=app.rows[:4])
        app.done = 4
        raise RuntimeError("midway")
    assert index.ntotal == 18
    assert faiss.vector_to_array(index.codes).size == 18 * enc.code_size
    np.testing.assert_array_equal(index.reconstruct_n(14, 4), index.sa_decode(index.sa_encode(x[:4])))


def test_code_appender_refuses_other_indexes():
    ivf = faiss.index_factory(8, "IVF2,SQ8")
    assert not CodeAppender.supports(ivf)
    with pytest.raises(ValueError, match="IndexFlatCodes that owns its codes"):
        CodeAppender(ivf, 3)
    assert CodeAppender.supports(faiss.IndexFlatL2(8))


def test_index_add_encoded_keeps_chunks_before_a_bad_one(rng):
    d = 40
    xb = rng.standard_normal((300, d)).astype(np.float32)
    index = rhtann.Index(d, "RHT,SQ4", chunk_size=64)
    index.train(xb)
    bad = xb.copy()
    bad[150, 7] = np.nan  # in the third chunk of 64 rows
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        index.add(bad)
    assert index.ntotal == 128
    ref = faiss.clone_index(index.sub_index)
    ref.reset()
    ref.add(index.rht.apply(xb[:128]))
    np.testing.assert_array_equal(
        faiss.vector_to_array(index.sub_index.codes), faiss.vector_to_array(ref.codes)
    )
    index.add(xb[128:])
    assert index.ntotal == 300
    np.testing.assert_array_equal(index.search(xb[:5], 1)[1][:, 0], np.arange(5))
