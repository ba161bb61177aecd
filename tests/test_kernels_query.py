"""rhtann.kernels.query: one query of the flat fast scan in one compiled call."""

from __future__ import annotations

import numpy as np

import rhtann
from rhtann.kernels.query import flat_search_one, search_rotated
from rhtann.search import CodecFlat
from rhtann.search._common import TABLE_TOP, normalized, row_dots


def _index(metric="l2"):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((700, 24)).astype(np.float32)
    idx = CodecFlat(24, "TQ4", rht=rhtann.RHT(24, rounds=2, seed=2, layout="keep"), metric=metric)
    idx.train(x)
    idx.add(x)
    return idx, rng.standard_normal((1, 24)).astype(np.float32)


def _call(idx, q, k=5, kk=20, norm=False, omean=None, alpha=2.0, l2=True):
    st, c = idx.store, idx.codec
    D = np.full((1, k), np.nan, dtype=np.float32)
    ids = np.full((1, k), -7, dtype=np.int64)
    ok = flat_search_one(
        q, norm, np.zeros(0, np.float32), np.zeros(0, np.float32) if omean is None else omean, kk, D, ids,
        idx._rotation().dense(), c.levels, c.bits, alpha, TABLE_TOP, st.codes, st.P, st.nblocks(), st.sv,
        st.ev, st.smax, st.emin, st.ref, st.delta, st.R, l2, np.zeros(0, dtype=np.int64),
    )
    return ok, D, ids


def test_normalization_and_offset_inside_the_call_equal_the_python_steps():
    # the call normalizes and adds <q, mean> with the arithmetic of normalized() and row_dots()
    idx, q = _index("ip")
    rng = np.random.default_rng(5)
    q = 5 * q
    mean = rng.standard_normal(24).astype(np.float32)
    ok, D, ids = _call(idx, q, norm=True, omean=mean, alpha=1.0, l2=False)
    assert ok
    qn = normalized(q)
    ok2, D2, ids2 = _call(idx, qn, alpha=1.0, l2=False)
    assert ok2
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_array_equal(D, D2 + row_dots(qn, mean)[0])


def test_one_call_gives_the_separate_steps_results():
    idx, q = _index()
    ok, D, ids = _call(idx, q)
    assert ok
    yq = idx._queries(q)
    lut, luts, a, b = idx._tables(yq)
    s, p = idx._fastscan(yq, 5, 20, "codes")
    D2, I2 = idx._finish(q, s, p)
    np.testing.assert_array_equal(ids, I2)
    np.testing.assert_array_equal(D, D2)
    assert (np.diff(D[0]) >= 0).all()  # L2 distances, ascending


def test_a_query_whose_rotation_overflows_is_left_to_the_caller():
    idx, _ = _index()
    ok, D, ids = _call(idx, np.full((1, 24), 3.4e38, dtype=np.float32))
    assert not ok
    assert np.isnan(D).all() and (ids == -7).all()  # nothing written


def test_search_after_a_rotation_gives_the_separate_steps_results():
    # search_rotated is flat_search_one's tail: rotated queries in, the same results out
    idx, q = _index()
    st, c = idx.store, idx.codec
    yq = idx._queries(q)
    D = np.empty((1, 5), dtype=np.float32)
    ids = np.empty((1, 5), dtype=np.int64)
    off = np.array([0.25], dtype=np.float32)
    ok = search_rotated(
        q, yq, off, True, 20, D, ids, c.levels, c.bits, 2.0, TABLE_TOP, st.codes, st.P, st.nblocks(),
        st.sv, st.ev, st.smax, st.emin, st.ref, st.delta, st.R, True, np.zeros(0, dtype=np.int64),
    )
    assert ok
    s, p = idx._fastscan(yq, 5, 20, "codes")
    D2, I2 = idx._finish(q, s, p)
    np.testing.assert_array_equal(ids, I2)
    np.testing.assert_array_equal(D, D2 + np.float32(0.25))
