"""Tests of CodecFlat (rhtann.search.flat)."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann.codecs.lloydmax import TQ
from rhtann.kernels import scan as K
from rhtann.search import CodecFlat


def _data(n=1500, d=40, m=8, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, d)) * rng.uniform(0.5, 2, (n, 1))).astype(np.float32)
    q = rng.standard_normal((m, d)).astype(np.float32)
    return x, q


def _brute(idx, x, q, metric, k):
    """Exact top-k of the queries against the decoded vectors, in the rotated space."""
    xd = idx.codec.decode(idx.store.row_codes(np.arange(len(x))))
    if metric == "cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    q = idx.rht.apply(q) if idx.rht is not None else q
    if metric == "l2":
        dist = ((q[:, None, :] - xd[None]) ** 2).sum(-1)
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    else:
        dist = q @ xd.T
        order = np.argsort(-dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, 1), order


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("method", ["fastscan", "gemm"])
@pytest.mark.parametrize("token", ["TQ4", "TQ2r10h", "TQ4r20"])
def test_search_equals_brute_force_on_decoded_vectors(metric, method, token):
    x, q = _data()
    rht = rhtann.RHT(40, rounds=2, seed=3)
    idx = CodecFlat(40, token, rht=rht, metric=metric)
    idx.train(x)
    idx.add(x)
    D, I = idx.search(q, 10, method=method, k_factor=16)  # noqa: E741
    Db, Ib = _brute(idx, x, q, metric, 10)  # noqa: E741
    assert D.dtype == np.float32 and I.dtype == np.int64 and D.shape == I.shape == (8, 10)
    np.testing.assert_array_equal(I, Ib)
    np.testing.assert_allclose(D, Db, rtol=1e-4, atol=1e-3)


def test_exact_recall_and_refine():
    x, q = _data(n=800)
    exact = np.argsort(((q[:, None] - x[None]) ** 2).sum(-1), axis=1)[:, :10]
    idx = CodecFlat(40, TQ(64, 4), rht=rhtann.RHT(40, rounds=2), metric="l2", refine=True)
    idx.train(x)
    idx.add(x)
    _, I = idx.search(q, 10, k_factor=10)  # noqa: E741
    np.testing.assert_array_equal(I, exact)  # originals re-rank a large enough pool exactly
    _, Ic = idx.search(q, 10, rerank="codes")  # noqa: E741
    rec = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(Ic, exact, strict=True)])
    assert rec > 0.8
    assert idx.bytes_per_vector == 32 + 4 + 4 + 4 * 40


def test_padding_custom_ids_and_reconstruct():
    x, q = _data(n=5)
    idx = CodecFlat(40, "TQ4", metric="ip")
    idx.add(x, ids=np.array([10, 20, 30, 40, 50]))
    D, I = idx.search(q, 8)  # noqa: E741
    assert (I[:, 5:] == -1).all() and (D[:, 5:] == -np.finfo(np.float32).max).all()
    assert set(I[0, :5]) == {10, 20, 30, 40, 50}
    r = idx.reconstruct([30, 10])
    np.testing.assert_allclose(r, idx.codec.decode(idx.codec.encode(x[[2, 0]])), atol=1e-6)
    with pytest.raises(KeyError, match="25"):
        idx.reconstruct([25])
    assert idx.bytes_per_vector == 20 + 4 + 8


def test_bytes_per_vector_counts_what_is_stored():
    idx = CodecFlat(50, TQ(50, 4, extra=40, scale_dtype="float16"), metric="ip")
    assert idx.bytes_per_vector == 25 + 5 + 2
    idx2 = CodecFlat(50, TQ(50, 2, extra=24, scale_dtype="float16"), metric="cosine")
    assert idx2.bytes_per_vector == 13 + 3 + 2


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_save_load_round_trip(tmp_path, metric):
    x, q = _data(n=300)
    idx = CodecFlat(
        40,
        TQ(64, 2, extra=9, scale_dtype="float16"),
        rht=rhtann.RHT(40, rounds=2, seed=9),
        metric=metric,
        refine=True,
    )
    idx.train(x)
    idx.add(x, ids=np.arange(300) * 3)
    path = tmp_path / "flat.rht"
    idx.save(path)
    back = CodecFlat.load(path)
    for kw in ({}, {"rerank": "codes"}, {"method": "gemm", "rerank": "codes"}):
        D1, I1 = idx.search(q, 5, **kw)  # noqa: E741
        D2, I2 = back.search(q, 5, **kw)  # noqa: E741
        np.testing.assert_array_equal(I1, I2)
        np.testing.assert_array_equal(D1, D2)
    np.testing.assert_array_equal(back.reconstruct([3, 6]), idx.reconstruct([3, 6]))
    raw = bytearray(path.read_bytes())
    raw[100] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(rhtann.FormatError):
        CodecFlat.load(path)


def test_bad_inputs():
    x, q = _data(n=50)
    with pytest.raises(ValueError, match="metric"):
        CodecFlat(40, "TQ4", metric="hamming")
    with pytest.raises(ValueError, match="codec dimension"):
        CodecFlat(40, TQ(32, 4))
    with pytest.raises(ValueError, match="unknown codec"):
        CodecFlat(40, "ZZ9")
    with pytest.raises(TypeError, match="rht"):
        CodecFlat(40, "TQ4", rht="RHT")
    idx = CodecFlat(40, "TQ4")
    with pytest.raises(ValueError, match=r"\(n, 40\)"):
        idx.add(x[:, :30])
    with pytest.raises(ValueError, match="NaN"):
        idx.add(np.full((2, 40), np.nan, np.float32))
    idx.add(x)
    with pytest.raises(ValueError, match="k must be"):
        idx.search(q, 0)
    with pytest.raises(ValueError, match="refine=True"):
        idx.search(q, 3, rerank="exact")
    with pytest.raises(ValueError, match="method"):
        idx.search(q, 3, method="magic")
    with pytest.raises(KeyError, match="50"):
        idx.reconstruct([50])
    with pytest.raises(ValueError, match="ids"):
        idx.add(x, ids=np.arange(3))


@pytest.mark.parametrize("m", [1, 9])
def test_threads_over_blocks_and_queries_give_the_same_results(m):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    x, q = _data(n=3000, m=m)
    idx = CodecFlat(40, "TQ4r12", rht=rhtann.RHT(40, rounds=2), metric="ip")
    idx.train(x)
    idx.add(x)
    before = rhtann.get_num_threads()
    try:
        rhtann.set_num_threads(1)
        D1, I1 = idx.search(q, 10)  # noqa: E741
        rhtann.set_num_threads(2)
        D2, I2 = idx.search(q, 10)  # noqa: E741
    finally:
        rhtann.set_num_threads(before)
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_array_equal(D1, D2)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize(("token", "ids"), [("TQ4", False), ("TQ2r10h", True), ("TQ1", False)])
def test_one_query_call_equals_the_separate_steps(metric, token, ids, monkeypatch):
    x, q = _data(n=2000, m=6, seed=5)
    idx = CodecFlat(40, token, rht=rhtann.RHT(40, rounds=2, seed=1, layout="keep"), metric=metric)
    idx.train(x)
    idx.add(x, ids=np.arange(len(x), dtype=np.int64) * 3 + 7 if ids else None)
    before = rhtann.get_num_threads()
    calls = []
    real = CodecFlat._search_one

    def spy(self, *args):
        out = real(self, *args)
        calls.append(out is not None)
        return out

    try:
        rhtann.set_num_threads(1)
        monkeypatch.setattr(CodecFlat, "_search_one", spy)
        fused = [idx.search(q[i : i + 1], 10, k_factor=4) for i in range(len(q))]
        monkeypatch.setattr(CodecFlat, "_search_one", lambda self, *args: None)
        steps = [idx.search(q[i : i + 1], 10, k_factor=4) for i in range(len(q))]
    finally:
        rhtann.set_num_threads(before)
    assert calls == [True] * len(q)  # the one-call path ran for every query
    for (D1, I1), (D2, I2) in zip(fused, steps, strict=True):
        np.testing.assert_array_equal(I1, I2)
        np.testing.assert_array_equal(D1, D2)
    # and one query gets what it gets inside a batch
    Db, Ib = idx.search(q, 10, k_factor=4)  # noqa: E741
    np.testing.assert_array_equal(np.vstack([f[1] for f in fused]), Ib)
    np.testing.assert_array_equal(np.vstack([f[0] for f in fused]), Db)


def test_one_query_call_falls_back_for_queries_that_overflow_the_dense_rotation():
    x, _ = _data(n=500)
    idx = CodecFlat(40, "TQ4", rht=rhtann.RHT(40, rounds=2, seed=1), metric="ip")
    idx.train(x)
    idx.add(x)
    big = np.full((1, 40), 3e38, dtype=np.float32)
    exact = big.astype(np.float64) @ idx._rotation().dense()
    assert np.abs(exact).max() > np.finfo(np.float32).max  # its rotation overflows float32
    before = rhtann.get_num_threads()
    try:
        rhtann.set_num_threads(1)
        assert idx._search_one(big, 5, 20) is None
        with pytest.raises(ValueError, match="q: the rotation of row 0 has entries beyond the float32 range"):
            idx.search(big, 5)  # the general path names the problem
    finally:
        rhtann.set_num_threads(before)
    nan = np.zeros((1, 40), dtype=np.float32)
    nan[0, 3] = np.nan
    with pytest.raises(ValueError, match="q"):
        idx.search(nan, 5)


@pytest.mark.parametrize("threads", [1, 2])
def test_queries_whose_tables_overflow_are_refused(threads):
    import numba

    x, _ = _data(n=500)
    idx = CodecFlat(40, "TQ4", rht=rhtann.RHT(40, rounds=2, seed=1), metric="ip")
    idx.train(x)
    idx.add(x)
    q = (np.random.default_rng(4).standard_normal((1, 40)) * 1e38).astype(np.float32)
    y = q.astype(np.float64) @ idx._rotation().dense()
    assert np.abs(y).max() < np.finfo(np.float32).max  # the rotation itself is finite ...
    # ... but the tables' offset, the sum over nibbles of each table's least entry, is not
    before = rhtann.get_num_threads()
    try:
        rhtann.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        with pytest.raises(ValueError, match="q: the lookup tables of query row 0 overflow float32"):
            idx.search(q, 5)
        with pytest.raises(ValueError, match="q: the lookup tables of query row 1 overflow"):
            idx.search(np.vstack([x[:1], q]), 5)
    finally:
        rhtann.set_num_threads(before)


def test_one_query_path_sees_vectors_added_after_a_search():
    # the one-call path keeps the store's arguments between calls; an add must refresh them
    x, q = _data(n=500, m=3, seed=11)
    idx = CodecFlat(40, "TQ4", rht=rhtann.RHT(40, rounds=2, seed=1, layout="keep"), metric="l2")
    idx.train(x)
    idx.add(x)
    before = rhtann.get_num_threads()
    try:
        rhtann.set_num_threads(1)
        first = idx.search(q[:1], 3)
        idx.add(np.repeat(q[:1] * 1.0001, 40, axis=0))  # a new block of near-copies of the query
        D, ids = idx.search(q[:1], 3)
        idx.reset()
        idx.add(x[:100])
        _, ids_small = idx.search(q[:1], 3)
    finally:
        rhtann.set_num_threads(before)
    assert first[1].max() < 500
    assert (ids[0] >= 500).all() and D[0, 0] < first[0][0, 0]
    assert (ids_small[0] < 100).all()


def test_byte_tables_are_7_bit_up_to_256_nibbles_and_8_bit_beyond():
    # 7-bit tables let the scanners add bytes (narrow kernels); longer codes sum more rounding
    # errors, so they keep the whole byte
    rng = np.random.default_rng(4)
    for d, top in ((100, 127), (256, 127), (300, 255)):
        x = rng.standard_normal((200, d)).astype(np.float32)
        idx = CodecFlat(d, "TQ4", rht=rhtann.RHT(d, rounds=2, seed=1, layout="keep"), metric="l2")
        idx.train(x)
        idx.add(x)
        _, luts, _, _ = idx._tables(idx._queries(x[:3]))
        assert luts.max() == top
        assert K.narrow_tables(luts.reshape(-1)) == (top == 127)


def test_one_query_arguments_are_kept_after_many_adds():
    # the cached arguments are reused while the store's version stays the same, whatever its value
    x, _ = _data(n=200, m=1, seed=12)
    idx = CodecFlat(40, "TQ4", rht=rhtann.RHT(40, rounds=2, seed=1, layout="keep"), metric="l2")
    idx.train(x)
    for i in range(150):
        idx.add(x[i : i + 1])
    assert idx.store.version > 256
    first = idx._one_args()
    assert first is not None and idx._one_args() is first
