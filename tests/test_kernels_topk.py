"""Tests of the top-k collection (rhtann.kernels.topk) and of the scanners that use it."""

from __future__ import annotations

import numpy as np
import pytest
from nibble_tables import lay_out

from rhtann.kernels import scan as K
from rhtann.kernels import topk as T
from rhtann.kernels.scan_simd import LANES


def _brute(scores, pos, kk):
    """The best kk (score, position) pairs: decreasing score, ties by smaller position."""
    order = np.lexsort((pos, -scores))[:kk]
    return scores[order], pos[order]


def _heap_ok(hs, hi):
    kk = hs.shape[1]
    for r in range(hs.shape[0]):
        for x in range(kk):
            for c in (2 * x + 1, 2 * x + 2):
                if c < kk:
                    assert hs[r, x] <= hs[r, c]


def _sorted_row(hs, hi, r):
    keep = hi[r] >= 0
    s, p = hs[r][keep], hi[r][keep]
    order = np.lexsort((p, -s))
    return s[order], p[order]


@pytest.mark.parametrize("n", [1, 15, 16, 17, 200, 3000])
@pytest.mark.parametrize("kk", [1, 7, 64])
def test_select_best_puts_the_best_first(n, kk):
    rng = np.random.default_rng(n * 100 + kk)
    kk = min(kk, n)
    s = rng.integers(0, 20, n).astype(np.float32)  # many ties
    p = rng.permutation(10 * n)[:n].astype(np.int64)
    bs, bi = s[None].copy(), p[None].copy()
    T.select_best(bs, bi, 0, n, kk)
    want_s, want_p = _brute(s, p, kk)
    assert set(bi[0, :kk].tolist()) == set(want_p.tolist())
    assert bs[0, kk - 1] == want_s[-1] and bi[0, kk - 1] == want_p[-1]  # the kk-th best sits at kk - 1
    assert sorted(bi[0].tolist()) == sorted(p.tolist())  # a permutation of the input


def test_reduce_buffer_threshold_admits_ties_only_at_or_above_the_kth():
    bs = np.array([[3, 1, 2, 2, 5]], np.float32)
    bi = np.array([[10, 11, 12, 13, 14]], np.int64)
    n, thr = T.reduce_buffer(bs, bi, 0, 5, 3)
    assert n == 3 and set(bi[0, :3].tolist()) == {14, 10, 12}
    assert np.float32(2) > thr and not np.float32(np.nextafter(np.float32(2), np.float32(0))) > thr
    n, thr = T.reduce_buffer(bs, bi, 0, 2, 3)
    assert n == 2 and thr == -np.inf


@pytest.mark.parametrize("kk", [1, 5, 40, 500])
def test_finish_row_writes_a_min_heap_of_the_best(kk):
    rng = np.random.default_rng(kk)
    n = 300
    s = np.round(rng.standard_normal(n), 1).astype(np.float32)
    p = rng.permutation(n).astype(np.int64)
    cap = max(n, kk)
    bs, bi = np.zeros((1, cap), np.float32), np.zeros((1, cap), np.int64)
    bs[0, :n], bi[0, :n] = s, p
    hs, hi = np.empty((2, kk), np.float32), np.empty((2, kk), np.int64)
    T.finish_row(bs, bi, 0, n, hs, hi, 1)
    _heap_ok(hs[1:], hi[1:])
    want_s, want_p = _brute(s, p, kk)
    got_s, got_p = _sorted_row(hs, hi, 1)
    np.testing.assert_array_equal(got_p, want_p)
    np.testing.assert_array_equal(got_s, want_s)
    assert np.sum(hi[1] < 0) == max(0, kk - n) and np.all(hs[1][hi[1] < 0] == -np.inf)


def test_batch_rows_bounds_the_buffer_entries():
    assert T.batch_rows(10, 100, 4, 1024) == 10
    assert T.batch_rows(5000, 100, 4, 1024) == 1024
    wide = T.BUFFER_ENTRIES // 50  # 50 queries' buffers fit, so 48 (a multiple of 4)
    assert T.batch_rows(5000, wide, 4, 1024) == 48
    assert T.batch_rows(5000, T.BUFFER_ENTRIES * 2, 4, 1024) == 4  # one group at least
    assert T.batch_rows(0, 100, 4, 1024) == 1


def _integer_layout(rng, n, P, levels):
    """Random codes and tables with few distinct sums (ties), scale 1 and offset 0: score = S."""
    nb = (n + LANES - 1) // LANES
    il = rng.integers(0, 256, nb * P * LANES, dtype=np.uint8)
    tab = rng.integers(0, levels, (P, 2, 16), dtype=np.uint8)
    lu = lay_out(tab)
    tab = tab.astype(np.int64)
    codes = il.reshape(nb, P, LANES).transpose(0, 2, 1).reshape(nb * LANES, P).astype(np.int64)
    sums = (tab[np.arange(P), 0, codes & 15] + tab[np.arange(P), 1, codes >> 4]).sum(1)
    sv = np.zeros(nb * LANES, np.float32)
    ev = np.full(nb * LANES, np.inf, np.float32)
    sv[:n], ev[:n] = 1, 0
    return il, lu, nb, sv, ev, sums[:n].astype(np.float32)


@pytest.mark.parametrize(("m", "n", "kk", "chunks"), [
    (1, 1000, 10, 1), (5, 1000, 10, 1), (9, 3000, 80, 1), (4, 100, 160, 1), (3, 2000, 40, 3), (2, 50, 64, 2),
    (K.QBATCH + 6, 96, 5, 1),  # more queries than one batch of buffers
])
def test_fastscan_topk_equals_brute_force_with_ties(m, n, kk, chunks):
    """The scan's rows hold exactly the numpy top-kk by (-score, position) of the integer sums,
    ties included, as min-heaps; kk > n pads with -inf / -1."""
    rng = np.random.default_rng(m * n + kk)
    P = 6
    il, lu1, nb, sv, ev, sums = _integer_layout(rng, n, P, 4)
    lu = np.tile(lu1, (m, 1))
    a, b = np.ones(m, np.float32), np.zeros(m, np.float32)
    hs, hi = np.empty((m * chunks, kk), np.float32), np.empty((m * chunks, kk), np.int64)
    K.heap_reset(hs, hi)
    K.fastscan_topk(il, P, nb, lu, a, b, sv, ev, chunks, hs, hi, 1.0, 0.0)
    _heap_ok(hs, hi)
    pos = np.arange(n, dtype=np.int64)
    assert len(np.unique(sums)) < n // 4 or n < 200  # the data has ties
    for i in range(m):
        s_all, p_all = hs[i * chunks : (i + 1) * chunks].ravel(), hi[i * chunks : (i + 1) * chunks].ravel()
        keep = p_all >= 0
        got_s, got_p = _brute(s_all[keep], p_all[keep], kk)
        want_s, want_p = _brute(sums, pos, kk)
        np.testing.assert_array_equal(got_p, want_p)
        np.testing.assert_array_equal(got_s, want_s)


def test_ivf_fastscan_topk_breaks_ties_by_position_in_any_list_order():
    rng = np.random.default_rng(4)
    P, n, kk = 5, 640, 30
    il, lu1, nb, sv, ev, sums = _integer_layout(rng, n, P, 3)
    bstart = np.arange(0, nb + 1, 4, dtype=np.int64)  # lists of 4 blocks
    nlist = len(bstart) - 1
    probes = np.stack([rng.permutation(nlist)[:4] for _ in range(3)] + [np.r_[nlist - 1, -1, 0, -1]])
    m = len(probes)
    lu = np.tile(lu1, (m, 1))
    hs, hi = np.empty((m, kk), np.float32), np.empty((m, kk), np.int64)
    K.heap_reset(hs, hi)
    K.ivf_fastscan_topk(il, P, bstart, probes, lu, np.ones(m, np.float32), np.zeros(m, np.float32),
                        sv, ev, hs, hi, 1.0, 0.0)
    _heap_ok(hs, hi)
    for i in range(m):
        lists = [np.arange(bstart[t] * LANES, bstart[t + 1] * LANES) for t in probes[i] if t >= 0]
        pos = np.concatenate(lists)
        want_s, want_p = _brute(sums[pos], pos, kk)
        got_s, got_p = _sorted_row(hs, hi, i)
        np.testing.assert_array_equal(got_p, want_p)
        np.testing.assert_array_equal(got_s, want_s)


def test_fastscan_topk_keeps_the_rows_earlier_entries():
    rng = np.random.default_rng(9)
    P, n, kk = 4, 300, 12
    il, lu, nb, sv, ev, sums = _integer_layout(rng, n, P, 16)
    hs, hi = np.empty((1, kk), np.float32), np.empty((1, kk), np.int64)
    K.heap_reset(hs, hi)
    hs[0, 0], hi[0, 0] = 1e9, 5000  # an earlier candidate above every sum
    K.fastscan_topk(il, P, nb, lu[None], np.ones(1, np.float32), np.zeros(1, np.float32), sv, ev, 1, hs, hi,
                    1.0, 0.0)
    want_s, want_p = _brute(np.r_[sums, np.float32(1e9)], np.r_[np.arange(n), 5000], kk)
    got_s, got_p = _sorted_row(hs, hi, 0)
    np.testing.assert_array_equal(got_p, want_p)


def _serial_rescore(il, P, lut, alpha, sv, ev, cand, k):
    """The float32 sequential sum lut[0, c_0] + lut[1, c_1] + ... of every candidate, then the best k."""
    m, M = lut.shape[0], lut.shape[1]
    out_s = np.full((m, k), -np.inf, np.float32)
    out_i = np.full((m, k), -1, np.int64)
    for i in range(m):
        sc, ps = [], []
        for v in cand[i]:
            if v < 0:
                continue
            base = (v // LANES) * P * LANES + v % LANES
            acc = np.float32(0)
            for t in range(M):
                byte = int(il[base + (t // 2) * LANES])
                acc = np.float32(acc + lut[i, t, (byte >> (4 * (t % 2))) & 15])
            sc.append(np.float32(sv[v] * np.float32(np.float32(alpha) * acc) - ev[v]))
            ps.append(v)
        s, p = _brute(np.array(sc, np.float32), np.array(ps, np.int64), k)
        out_s[i, : len(s)], out_i[i, : len(s)] = s, p
    return out_s, out_i


@pytest.mark.parametrize(("M", "C"), [(13, 37), (64, 80), (1, 5), (2, 3)])
def test_rescore_topk_equals_the_serial_float32_sum_bit_for_bit(M, C):
    rng = np.random.default_rng(M * 7 + C)
    m, n, k = 3, 500, 10
    P = (M + 1) // 2
    nb = (n + LANES - 1) // LANES
    il = rng.integers(0, 256, nb * P * LANES, dtype=np.uint8)
    lut = rng.standard_normal((m, M, 16)).astype(np.float32) * np.float32(3.7)
    sv = rng.uniform(0.5, 2, nb * LANES).astype(np.float32)
    ev = rng.uniform(0, 1, nb * LANES).astype(np.float32)
    cand = np.stack([rng.permutation(n)[:C] for _ in range(m)]).astype(np.int64)
    cand[0, ::3] = -1
    out_s, out_i = np.empty((m, k), np.float32), np.empty((m, k), np.int64)
    dummy = np.zeros((1, 1), np.uint8)
    K.rescore_topk(il, P, lut, 2.0, sv, ev, cand, k, out_s, out_i, np.zeros((m, 1), np.float32), dummy,
                   np.zeros(2, np.float32), 0, 4)
    ref_s, ref_i = _serial_rescore(il, P, lut, 2.0, sv, ev, cand, k)
    np.testing.assert_array_equal(out_i, ref_i)
    np.testing.assert_array_equal(out_s.view(np.int32), ref_s.view(np.int32))


def test_rescore_topk_ties_go_to_the_smaller_position_in_any_candidate_order():
    P, M, n = 2, 4, 64
    il = np.zeros(2 * P * LANES, np.uint8)  # every vector has the same codes: all scores tie
    lut = np.ones((1, M, 16), np.float32)
    sv, ev = np.ones(n, np.float32), np.zeros(n, np.float32)
    cand = np.array([[50, 7, 33, 2, 60, 9, 41]], np.int64)
    out_s, out_i = np.empty((1, 3), np.float32), np.empty((1, 3), np.int64)
    K.rescore_topk(il, P, lut, 1.0, sv, ev, cand, 3, out_s, out_i, np.zeros((1, 1), np.float32),
                   np.zeros((1, 1), np.uint8), np.zeros(2, np.float32), 0, 4)
    np.testing.assert_array_equal(out_i[0], [2, 7, 9])
    np.testing.assert_array_equal(out_s[0], [4, 4, 4])
