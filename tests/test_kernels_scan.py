"""Tests of the scan kernels (rhtann.kernels.scan, rhtann.kernels.scan_simd)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from nibble_tables import lay_out, tables_of

from rhtann.codecs.lloydmax import TQ
from rhtann.kernels import scan as K
from rhtann.kernels.scan_simd import (
    LANES,
    QB,
    fastscan_block1,
    fastscan_block1n,
    fastscan_block4,
    fastscan_block4n,
    fastscan_block4u,
)


@numba.njit
def _block(codes, cbase, npairs, luts, lbase, sv, ev, vbase, a, b, thr, out):
    """One query through fastscan_block1 (arrays to addresses); returns the mask."""
    ab = np.array([a, b], dtype=np.float32)
    t = np.array([thr, 0.0], dtype=np.float32)  # threshold, then integer bound 0 (bit pattern of 0.0)
    mk = np.zeros(1, dtype=np.uint32)
    return fastscan_block1(
        codes.ctypes.data + cbase,
        npairs,
        luts.ctypes.data + lbase,
        0,
        sv.ctypes.data + sv.itemsize * vbase,
        1 if sv.itemsize == 2 else 0,
        ev.ctypes.data + 4 * vbase,
        ab.ctypes.data,
        t.ctypes.data,
        out.ctypes.data,
        mk.ctypes.data,
    )


@numba.njit
def _block4u(codes, npairs, luts, lstride, sv, ev, ab, thr, out, masks):
    return fastscan_block4u(
        codes.ctypes.data, npairs, luts.ctypes.data, lstride, sv.ctypes.data, 0, ev.ctypes.data,
        ab.ctypes.data, thr.ctypes.data, out.ctypes.data, masks.ctypes.data,
    )


@numba.njit
def _block4(codes, cbase, npairs, luts, lstride, sv, ev, vbase, ab, thr, out, masks):
    return fastscan_block4(
        codes.ctypes.data + cbase,
        npairs,
        luts.ctypes.data,
        lstride,
        sv.ctypes.data + 4 * vbase,
        0,
        ev.ctypes.data + 4 * vbase,
        ab.ctypes.data,
        thr.ctypes.data,
        out.ctypes.data,
        masks.ctypes.data,
    )


def _layout(codec, y):
    n = len(y)
    codes = codec.encode(y)
    P = (codec.nibbles + 1) // 2
    nb = (n + LANES - 1) // LANES
    rows = np.zeros((n, P), np.uint8)
    rows[:, : codec.index_bytes] = codes[:, : codec.index_bytes]
    il = np.zeros(nb * P * LANES, np.uint8)
    K.interleave_into(rows, 0, il)
    sv = np.zeros(nb * LANES, np.float32)
    sv[:n] = codec.unpack(codes)[2]
    ev = np.full(nb * LANES, np.inf, np.float32)
    ev[:n] = 0
    return codes, rows, il, P, nb, sv, ev


def test_interleave_round_trip():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (70, 5), dtype=np.uint8)
    il = np.zeros(3 * 5 * LANES, np.uint8)
    K.interleave_into(rows[:40], 0, il)
    K.interleave_into(rows[40:], 40, il)
    back = np.zeros((70, 5), np.uint8)
    K.deinterleave(il, 5, np.arange(70, dtype=np.int64), back)
    np.testing.assert_array_equal(back, rows)
    assert il[5 * LANES + 3] == rows[32 + 3, 0]  # block 1, pair 0, lane 3


@pytest.mark.parametrize("d", [7, 16, 50])
def test_fastscan_block_matches_the_uint8tables_of(d):
    """The SIMD kernel's 16-bit sums equal the sums of the table entries."""
    rng = np.random.default_rng(d)
    c = TQ(d, 4)
    y = rng.standard_normal((64, d)).astype(np.float32)
    _, rows, il, P, nb, sv, ev = _layout(c, y)
    q = rng.standard_normal((1, d)).astype(np.float32)
    lut = c.nibble_luts(q)
    lu = np.zeros((1, P * 64), np.uint8)
    a, b = np.zeros(1, np.float32), np.zeros(1, np.float32)
    K.quantize_luts(lut, lu, a, b)
    ones, zeros, out = (
        np.ones(nb * LANES, np.float32),
        np.zeros(nb * LANES, np.float32),
        np.zeros(LANES, np.float32),
    )
    tab = tables_of(lu[0], P).astype(np.int64)  # (pair, half, value)
    for blk in range(nb):
        _block(il, blk * P * LANES, P, lu[0], 0, ones, zeros, blk * LANES, 1.0, 0.0, -np.inf, out)
        sums = out.copy()
        for j in range(LANES):
            r = rows[blk * LANES + j]
            expect = sum(tab[p, 0, r[p] & 15] + tab[p, 1, r[p] >> 4] for p in range(P))
            assert sums[j] == expect
        for thr in (np.median(sums), sums.max(), sums.max() - 1, 0.5):
            mask = _block(il, blk * P * LANES, P, lu[0], 0, ones, zeros, blk * LANES, 1.0, 0.0, thr, out)
            assert mask == sum(1 << j for j in range(LANES) if sums[j] > thr)
    # the affine map approximates the float inner products within the table rounding
    approx = a[0] * out + b[0]
    exact = (q @ c.decode(c.encode(y[32:64])).T)[0] / sv[32:64]
    assert np.max(np.abs(approx - exact)) <= 0.5 * a[0] * c.nibbles + 1e-5


def test_fastscan_block_float16_scales():
    rng = np.random.default_rng(5)
    c = TQ(32, 4)
    y = rng.standard_normal((32, 32)).astype(np.float32)
    _, _, il, P, nb, sv, ev = _layout(c, y)
    lu = np.zeros((1, P * 64), np.uint8)
    a, b = np.zeros(1, np.float32), np.zeros(1, np.float32)
    K.quantize_luts(c.nibble_luts(y[:1]), lu, a, b)
    out32, out16 = np.zeros(32, np.float32), np.zeros(32, np.float32)
    half = sv.astype(np.float16)
    _block(il, 0, P, lu[0], 0, half.astype(np.float32), ev, 0, a[0], b[0], -np.inf, out32)
    _block(il, 0, P, lu[0], 0, half.view(np.uint16), ev, 0, a[0], b[0], -np.inf, out16)
    np.testing.assert_array_equal(out16, out32)
    for h in (0, 0x3C00, 0xC000, 0x0001, 0x7BFF):
        assert K.half_to_float(h) == float(np.array([h], np.uint16).view(np.float16)[0])


@pytest.mark.parametrize("d", [24, 600])
def test_fastscan_block4_equals_four_single_queries(d):
    """QB queries per code load score like QB single ones (d = 600: three 16-bit segments), with
    and without the integer pre-filter."""
    rng = np.random.default_rng(7)
    c = TQ(d, 4)
    y = rng.standard_normal((32, d)).astype(np.float32)
    _, _, il, P, nb, sv, ev = _layout(c, y)
    lut = c.nibble_luts(rng.standard_normal((QB, d)).astype(np.float32))
    lu = np.zeros((QB, P * 64), np.uint8)
    a, b = np.zeros(QB, np.float32), np.zeros(QB, np.float32)
    K.quantize_luts(lut, lu, a, b)
    ab = np.stack([a, b], axis=1).reshape(-1).copy()
    out4, masks = np.zeros(QB * LANES, np.float32), np.zeros(QB, np.uint32)
    one = np.zeros(LANES, np.float32)
    thr = np.zeros(2 * QB, np.float32)  # thresholds, then integer bounds 0
    thr[:QB] = -np.inf
    _block4(il, 0, P, lu.reshape(-1), P * 64, sv, ev, 0, ab, thr, out4, masks)
    for t in range(QB):
        _block(il, 0, P, lu[t], 0, sv, ev, 0, a[t], b[t], -np.inf, one)
        np.testing.assert_array_equal(out4[t * LANES : (t + 1) * LANES], one)
    thr[:QB] = [np.median(out4[t * LANES : (t + 1) * LANES]) for t in range(QB)]
    total = _block4(il, 0, P, lu.reshape(-1), P * 64, sv, ev, 0, ab, thr, out4, masks)
    scores = [out4[t * LANES : (t + 1) * LANES] for t in range(QB)]
    for t in range(QB):
        assert masks[t] == sum(1 << j for j in range(LANES) if scores[t][j] > thr[t])
    assert total == sum(1 << t for t in range(QB) if masks[t])
    # without the pre-filter every query is scored whatever its bound says: same scores and masks
    thr.view(np.int32)[QB:] = 2**31 - 1
    out_u, masks_u = np.full(QB * LANES, np.nan, np.float32), np.zeros(QB, np.uint32)
    assert _block4u(il, P, lu.reshape(-1), P * 64, sv, ev, ab, thr, out_u, masks_u) == total
    np.testing.assert_array_equal(out_u, out4)
    np.testing.assert_array_equal(masks_u, masks)
    assert _block4(il, 0, P, lu.reshape(-1), P * 64, sv, ev, 0, ab, thr, out4, masks) == 0  # all cut


def test_int_bound_never_drops_a_passing_vector():
    rng = np.random.default_rng(11)
    for _ in range(2000):
        a, b = rng.uniform(1e-4, 1e-1), rng.normal(0, 2)
        smax, emin = rng.uniform(0.1, 3), rng.uniform(0, 2) * rng.integers(0, 2)
        thr = rng.normal(0, 3)
        bound = K.int_bound(thr, a, b, smax, emin)
        assert 0 <= bound <= K.BOUND_MAX
        if bound == 0:
            continue
        S = bound - 1 - rng.integers(0, 50)
        s = smax * rng.uniform(0, 1)
        e = emin + rng.uniform(0, 1)
        if S >= 0:
            assert s * (a * S + b) - e <= thr


def test_heap_keeps_the_best():
    rng = np.random.default_rng(1)
    vals = rng.standard_normal(500).astype(np.float32)
    hs, hi = np.empty((1, 7), np.float32), np.empty((1, 7), np.int64)
    K.heap_reset(hs, hi)
    for i, v in enumerate(vals):
        K.heap_push(hs, hi, 0, v, i)
    assert set(hi[0]) == set(np.argsort(-vals)[:7])
    out_s, out_i = np.empty((1, 7), np.float32), np.empty((1, 7), np.int64)
    K.heap_sort_rows(hs, hi, 7, out_s, out_i)
    np.testing.assert_array_equal(out_i[0], np.argsort(-vals)[:7])


@pytest.mark.parametrize(("bits", "extra"), [(4, 0), (4, 20), (2, 0), (2, 9), (1, 0)])
def test_fastscan_then_rescore_equals_exact_topk(bits, extra):
    rng = np.random.default_rng(bits + extra)
    n, d, m, k = 1000, 40, 6, 10
    c = TQ(d, bits, extra=extra)
    y = rng.standard_normal((n, d)).astype(np.float32)
    c.train(y)
    codes, rows, il, P, nb, sv, ev = _layout(c, y)
    ref = np.zeros((nb * LANES, max(1, c.extra_bytes)), np.uint8)
    ref[:n, : c.extra_bytes] = codes[:, c.index_bytes : c.index_bytes + c.extra_bytes]
    q = rng.standard_normal((m, d)).astype(np.float32)
    exact = q @ c.decode(codes).T
    lut = c.nibble_luts(q)
    lu = np.zeros((m, P * 64), np.uint8)
    a, b = np.zeros(m, np.float32), np.zeros(m, np.float32)
    K.quantize_luts(lut, lu, a, b)
    kk = 400 if bits == 1 else 100
    hs, hi = np.empty((m * 2, kk), np.float32), np.empty((m * 2, kk), np.int64)
    K.heap_reset(hs, hi)
    K.fastscan_topk(il, P, nb, lu, a, b, sv, ev, 2, hs, hi, float(sv.max()), 0.0)
    out_s, out_i = np.empty((m, k), np.float32), np.empty((m, k), np.int64)
    K.rescore_topk(
        il, P, lut, 1.0, sv, ev, hi.reshape(m, 2 * kk), k, out_s, out_i, q, ref, c.ref_delta, extra, bits
    )
    np.testing.assert_array_equal(out_i, np.argsort(-exact, axis=1, kind="stable")[:, :k])
    np.testing.assert_allclose(out_s, -np.sort(-exact, axis=1)[:, :k], rtol=1e-5, atol=1e-5)
    # blocked decode agrees with the codec
    dec = np.zeros((n, d), np.float32)
    K.decode_block(il, P, _table(c), sv, 0, n, dec, ref, c.ref_delta, extra, bits)
    np.testing.assert_allclose(dec, c.decode(codes), rtol=1e-6, atol=1e-6)


def _table(c):
    from rhtann.search.flat import _nibble_table

    return _nibble_table(c)


def test_topk_update_matches_argsort():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((4, 300)).astype(np.float32)
    ev = rng.uniform(0, 1, 600).astype(np.float32)
    hs, hi = np.empty((4, 5), np.float32), np.empty((4, 5), np.int64)
    K.heap_reset(hs, hi)
    K.topk_update(scores[:, :150], 0, 2.0, ev, hs, hi)
    K.topk_update(np.ascontiguousarray(scores[:, 150:]), 150, 2.0, ev, hs, hi)
    out_s, out_i = np.empty((4, 5), np.float32), np.empty((4, 5), np.int64)
    K.heap_sort_rows(hs, hi, 5, out_s, out_i)
    full = 2 * scores - ev[:300]
    np.testing.assert_array_equal(out_i, np.argsort(-full, axis=1)[:, :5])


@pytest.mark.parametrize("compact", [False, True])
def test_table_slots_cover_the_row_once_per_copy(compact, monkeypatch):
    """Both layouts: both copies of every table lie inside the P * 64 bytes and together fill them
    exactly once; the compact layout holds two pairs' four tables in 64 contiguous bytes."""
    from rhtann.kernels import tables

    monkeypatch.setattr(tables, "COMPACT_TABLES", compact)
    slots = tables.table_slots.py_func
    for npairs in (1, 2, 3, 4, 25, 64, 65):
        seen = np.zeros(npairs * 64, np.int64)
        for t in range(2 * npairs):
            first, second = slots(t, npairs)
            for at in (first, second):
                assert 0 <= at and at + 16 <= npairs * 64
                seen[at:at + 16] += 1
            if compact:  # the VNNI step reads the 64 bytes of pairs 2s, 2s + 1 at 128 s
                assert first == 128 * (t // 4) + 16 * (t % 4)
            else:  # pair p: the low nibble's table twice, then the high one's
                assert (first, second) == (64 * (t // 2) + 32 * (t % 2), 64 * (t // 2) + 32 * (t % 2) + 16)
        assert np.all(seen == 1), npairs


def _random_block(rng, npairs):
    """One block: random code bytes (interleaved) and uint8 tables using the full range."""
    il = rng.integers(0, 256, npairs * LANES, dtype=np.uint8)
    return il, lay_out(rng.integers(0, 256, (npairs, 2, 16), dtype=np.uint8))


def _numpy_sums(il, lu, npairs):
    """Per lane, the sum of the table entries its nibbles select (int64 reference)."""
    codes = il.reshape(npairs, LANES).astype(np.int64)
    tab = tables_of(lu, npairs).astype(np.int64)
    p = np.arange(npairs)[:, None]
    return (tab[p, 0, codes & 15] + tab[p, 1, codes >> 4]).sum(0)


@pytest.mark.parametrize("npairs", [1, 2, 127, 128, 129, 200, 256, 257, 385, 2048])
def test_fastscan_sums_are_exact_for_full_rangetables_of(npairs):
    """Entries 0..255 over any number of pairs (segments of 128 widened to 32 bits) sum exactly."""
    rng = np.random.default_rng(npairs)
    il, lu = _random_block(rng, npairs)
    ones, zeros, out = np.ones(LANES, np.float32), np.zeros(LANES, np.float32), np.zeros(LANES, np.float32)
    _block(il, 0, npairs, lu, 0, ones, zeros, 0, 1.0, 0.0, -np.inf, out)
    np.testing.assert_array_equal(out, _numpy_sums(il, lu, npairs).astype(np.float32))


@pytest.mark.parametrize("M", [4096, 65536])
def test_no_overflow_with_every_entry_at_the_top(M):
    """d = 4096 (and 65536) nibble tables all at 255: the 32-bit sums are exact, the bound compares them."""
    npairs = M // 2
    rng = np.random.default_rng(M)
    il = rng.integers(0, 256, npairs * LANES, dtype=np.uint8)
    lu = np.full(npairs * 64, 255, np.uint8)
    ones, zeros = np.ones(LANES, np.float32), np.zeros(LANES, np.float32)
    out = np.zeros(LANES, np.float32)
    _block(il, 0, npairs, lu, 0, ones, zeros, 0, 1.0, 0.0, -np.inf, out)
    assert np.all(out == 255.0 * M)
    ab = np.array([1.0, 0.0], np.float32)
    for bound, passes in ((255 * M, True), (255 * M + 1, False)):
        thr = np.zeros(2, np.float32)
        thr[0] = -np.inf
        thr.view(np.int32)[1] = bound
        o, mk = np.zeros(LANES, np.float32), np.zeros(1, np.uint32)
        total = _block4_1(il, npairs, lu, ones, zeros, ab, thr, o, mk)
        assert total == (0xFFFFFFFF if passes else 0)


@numba.njit
def _block4_1(codes, npairs, luts, sv, ev, ab, thr, out, masks):
    return fastscan_block1(
        codes.ctypes.data, npairs, luts.ctypes.data, 0, sv.ctypes.data, 0, ev.ctypes.data,
        ab.ctypes.data, thr.ctypes.data, out.ctypes.data, masks.ctypes.data,
    )


def _numpy_quantize(lut, top):
    """Reference of quantize_luts: one step per query, entries round((lut - min) / step)."""
    lo = lut.min(axis=2, keepdims=True)
    width = (lut.max(axis=2) - lut.min(axis=2)).max(axis=1).astype(np.float64)
    delta = np.where(width > 0, width / top, 1.0)
    q = np.floor((lut - lo).astype(np.float64) * (1.0 / delta)[:, None, None] + 0.5)
    return np.clip(q, 0, top).astype(np.int64), delta, lo[:, :, 0].astype(np.float64).sum(1)


@pytest.mark.parametrize("top", [127, 255])
def test_quantize_luts_matches_numpy_and_uses_the_full_range(top):
    rng = np.random.default_rng(top)
    d, m = 101, 3
    c = TQ(d, 4)
    lut = c.nibble_luts(rng.standard_normal((m, d)).astype(np.float32))
    M = lut.shape[1]
    P = (M + 1) // 2
    lu = np.zeros((m, P * 64), np.uint8)
    a, b = np.zeros(m, np.float32), np.zeros(m, np.float32)
    K.quantize_luts(lut, lu, a, b, top)
    ref, delta, bias = _numpy_quantize(lut, top)
    for copy in (0, 1):
        got = np.stack([tables_of(row, P, copy).reshape(2 * P, 16) for row in lu])
        np.testing.assert_array_equal(got[:, :M], ref)
        assert np.all(got[:, M:] == 0)  # the odd table's missing partner
    np.testing.assert_allclose(a, delta, rtol=1e-6)
    np.testing.assert_allclose(b, bias, rtol=1e-5, atol=1e-5)
    assert ref.max() == top  # the widest table spans the whole range


def test_estimate_equals_the_quantized_tables_and_stays_within_the_rounding_bound():
    """d = 768: the kernel's integer sums equal numpy's over the quantized tables; the affine
    estimate is within M * delta / 2 of the float sum, and its RMS error is that of uniform rounding."""
    rng = np.random.default_rng(768)
    d, n = 768, 2048
    c = TQ(d, 4)
    y = rng.standard_normal((n, d)).astype(np.float32)
    codes, rows, il, P, nb, sv, ev = _layout(c, y)
    q = rng.standard_normal((1, d)).astype(np.float32)
    lut = c.nibble_luts(q)
    M = lut.shape[1]
    lu = np.zeros((1, P * 64), np.uint8)
    a, b = np.zeros(1, np.float32), np.zeros(1, np.float32)
    K.quantize_luts(lut, lu, a, b)
    ones, zeros = np.ones(nb * LANES, np.float32), np.zeros(nb * LANES, np.float32)
    out = np.zeros(LANES, np.float32)
    sums = np.zeros(n, np.float64)
    for blk in range(nb):
        _block(il, blk * P * LANES, P, lu[0], 0, ones, zeros, blk * LANES, 1.0, 0.0, -np.inf, out)
        blk_il = il[blk * P * LANES : (blk + 1) * P * LANES]
        np.testing.assert_array_equal(out, _numpy_sums(blk_il, lu[0], P).astype(np.float32))
        sums[blk * LANES : (blk + 1) * LANES] = out
    exact = (q.astype(np.float64) @ c.decode(codes).astype(np.float64).T)[0] / sv[:n]
    err = a[0] * sums + b[0] - exact
    assert np.max(np.abs(err)) <= 0.5 * a[0] * M * (1 + 1e-4)
    # 15 of a table's 16 entries round with an error uniform on (-delta/2, delta/2)
    rms_model = a[0] * np.sqrt(M * (15 / 16) / 12)
    rms = np.sqrt(np.mean(err**2))
    se = rms_model * np.sqrt(2 / n) * 4  # generous for the dependence between vectors' errors
    assert abs(rms - rms_model) <= 3 * se + 0.05 * rms_model


def test_candidates_hold_every_vector_the_rounding_bound_guarantees():
    """The scan's top-kk by the integer estimate (a) equals the numpy top-kk of that estimate, and
    (b) holds every vector whose exact score beats the exact kk-th best by twice the estimate's
    error bound; 255-step tables keep at least as many of the exact top-10 as 127-step ones."""
    rng = np.random.default_rng(21)
    n, d, m, kk, k = 3000, 128, 8, 40, 10
    c = TQ(d, 4)
    y = rng.standard_normal((n, d)).astype(np.float32)
    codes, rows, il, P, nb, sv, ev = _layout(c, y)
    q = rng.standard_normal((m, d)).astype(np.float32)
    exact = (q.astype(np.float64) @ c.decode(codes).astype(np.float64).T)
    lut = c.nibble_luts(q)
    M = lut.shape[1]
    hits = {}
    for top in (127, 255):
        lu = np.zeros((m, P * 64), np.uint8)
        a, b = np.zeros(m, np.float32), np.zeros(m, np.float32)
        K.quantize_luts(lut, lu, a, b, top)
        hs, hi = np.empty((m, kk), np.float32), np.empty((m, kk), np.int64)
        K.heap_reset(hs, hi)
        K.fastscan_topk(il, P, nb, lu, a, b, sv, ev, 1, hs, hi, float(sv.max()), 0.0)
        qz, _, _ = _numpy_quantize(lut, top)
        nib = np.zeros((n, M), np.int64)
        nib[:, 0::2] = rows[:, : (M + 1) // 2] & 15
        nib[:, 1::2] = (rows[:, : (M + 1) // 2] >> 4)[:, : M // 2]
        covered = 0
        hit = 0
        for i in range(m):
            S = qz[i][np.arange(M)[None, :], nib].sum(1)
            est = sv[:n] * (a[i] * S.astype(np.float32) + b[i])
            cand = set(hi[i].tolist())
            assert -1 not in cand and len(cand) == kk
            outside = np.setdiff1d(np.arange(n), list(cand))
            assert est[list(cand)].min() >= est[outside].max() - 1e-5 * np.abs(est).max()
            E = float(sv.max()) * a[i] * M / 2
            thr_kk = np.sort(exact[i])[-kk]
            sure = np.flatnonzero(exact[i] > thr_kk + 2 * E)
            assert set(sure.tolist()) <= cand
            top_k = np.argsort(-exact[i])[:k]
            covered += np.isin(top_k, sure).sum()
            hit += len(set(top_k.tolist()) & cand)
        if top == 255:
            assert covered > 0  # the guarantee is not vacuous on this case
        hits[top] = hit
    assert hits[255] >= hits[127]


def test_int_bound_covers_float32_rounding_of_large_sums():
    """With sums near 2**24 and more, float32 scores that pass the threshold are never cut."""
    rng = np.random.default_rng(12)
    for _ in range(3000):
        a = np.float32(rng.uniform(1e-6, 1e-3))
        b = np.float32(rng.normal(0, 50))
        smax = np.float32(rng.uniform(0.5, 2))
        emin = np.float32(rng.uniform(0, 100))
        S = int(rng.integers(0, 255 * 2**20))
        s, e = np.float32(smax * rng.uniform(0.9, 1)), np.float32(emin + rng.uniform(0, 1e-3) * emin)
        score = np.float32(s * np.float32(np.float32(a * np.float32(S)) + b) - e)
        thr = np.float32(score - abs(score) * rng.uniform(0, 1e-6))  # just below the float32 score
        bound = K.int_bound(thr, a, b, smax, emin)
        assert 0 <= bound <= K.BOUND_MAX
        if score > thr:
            assert S >= bound


@pytest.mark.parametrize("npairs", [100, 128, 129, 300])
def test_integer_bound_decides_at_the_exact_sum(npairs):
    """Lanes pass the pre-filter iff their sum reaches the bound, in one segment (16-bit compare,
    bounds above 0xFFFF clamped) and in several (32-bit compare)."""
    rng = np.random.default_rng(npairs + 1)
    il, lu = _random_block(rng, npairs)
    sums = _numpy_sums(il, lu, npairs)
    ones, zeros = np.ones(LANES, np.float32), np.zeros(LANES, np.float32)
    ab = np.array([1.0, 0.0], np.float32)
    for bound in (int(sums.max()), int(sums.max()) + 1, int(np.median(sums)), 70_000, 2**31 - 1):
        thr = np.zeros(2, np.float32)
        thr[0] = -np.inf
        thr.view(np.int32)[1] = bound
        o, mk = np.zeros(LANES, np.float32), np.zeros(1, np.uint32)
        total = _block4_1(il, npairs, lu, ones, zeros, ab, thr, o, mk)
        assert (total != 0) == bool(np.any(sums >= bound))
        if total:
            np.testing.assert_array_equal(o, sums.astype(np.float32))


def test_quantize_luts_rejects_a_top_outside_the_uint8_range():
    lut = np.zeros((1, 4, 16), np.float32)
    lu, a, b = np.zeros((1, 128), np.uint8), np.zeros(1, np.float32), np.zeros(1, np.float32)
    for top in (0, 256):
        with pytest.raises(ValueError, match="top"):
            K.quantize_luts(lut, lu, a, b, top)


@numba.njit
def _sums_both(codes, npairs, luts, lstride, out1, out1n, out4, out4n):
    """Scores of one block by the general and the narrow intrinsics (1 and QB queries, no pre-filter)."""
    sv = np.ones(LANES, np.float32)
    ev = np.zeros(LANES, np.float32)
    ab = np.zeros(2 * QB, np.float32)
    for t in range(QB):
        ab[2 * t] = 1.0
    thr = np.zeros(2 * QB, np.float32)  # thresholds 0.0, integer bounds 0
    mk = np.zeros(QB, np.uint32)
    c, lp, s, e, a, tp = (codes.ctypes.data, luts.ctypes.data, sv.ctypes.data, ev.ctypes.data, ab.ctypes.data,
                          thr.ctypes.data)
    fastscan_block1(c, npairs, lp, lstride, s, 0, e, a, tp, out1.ctypes.data, mk.ctypes.data)
    fastscan_block1n(c, npairs, lp, lstride, s, 0, e, a, tp, out1n.ctypes.data, mk.ctypes.data)
    fastscan_block4(c, npairs, lp, lstride, s, 0, e, a, tp, out4.ctypes.data, mk.ctypes.data)
    fastscan_block4n(c, npairs, lp, lstride, s, 0, e, a, tp, out4n.ctypes.data, mk.ctypes.data)


@pytest.mark.parametrize("npairs", [1, 25, 128, 129, 300])
@pytest.mark.parametrize("fill", ["random", "top"])
def test_narrow_intrinsics_equal_the_general_ones(npairs, fill):
    """Tables with entries <= 127: the byte-adding kernels give the general kernels' sums, which
    equal the sums of the entries (one and several 16-bit segments)."""
    rng = np.random.default_rng(npairs)
    codes = rng.integers(0, 256, npairs * LANES, dtype=np.uint8)
    if fill == "top":
        luts = np.full((QB, npairs * 64), 127, np.uint8)
    else:
        one = rng.integers(0, 128, (QB, npairs, 2, 16), dtype=np.uint8)
        luts = np.stack([lay_out(tabs) for tabs in one])  # each table held twice
    assert K.narrow_tables(luts.reshape(-1))
    outs = [np.zeros(n, np.float32) for n in (LANES, LANES, QB * LANES, QB * LANES)]
    _sums_both(codes, npairs, luts, npairs * 64, *outs)
    o1, o1n, o4, o4n = outs
    np.testing.assert_array_equal(o1n, o1)
    np.testing.assert_array_equal(o4n, o4)
    cb = codes.reshape(npairs, LANES).astype(np.int64)
    tab = np.stack([tables_of(row, npairs) for row in luts]).astype(np.int64)
    p = np.arange(npairs)[:, None]
    for t in range(QB):
        expect = (tab[t, p, 0, cb & 15] + tab[t, p, 1, cb >> 4]).sum(0)
        np.testing.assert_array_equal(o4n[t * LANES:(t + 1) * LANES], expect)
    np.testing.assert_array_equal(o1n, o4n[:LANES])
    luts[0, 5] = 128
    assert not K.narrow_tables(luts.reshape(-1))


@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 4096])
def test_narrow_tables_finds_one_wide_entry_anywhere(n):
    tables = np.full(n, 127, np.uint8)
    assert K.narrow_tables(tables)
    for at in sorted({0, n // 2, n - 1}) if n else []:
        for value in (128, 255):
            wide = tables.copy()
            wide[at] = value
            assert not K.narrow_tables(wide)


def _cpu_flags() -> set[str] | None:
    try:
        with open("/proc/cpuinfo") as f:
            return set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return None


def test_vbmi_step_follows_the_host():
    """The two-pair VBMI step is chosen exactly where the CPU has AVX-512 F, BW and VBMI (and AVX2).

    The exact-sum tests above then exercise whichever pair loop this host runs.
    """
    from rhtann.kernels import scan_simd

    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo on this platform")
    want = {"avx2", "avx512f", "avx512bw", "avx512vbmi"} <= flags
    assert scan_simd.HAS_VBMI == want
    assert K.PREFILTER == (not want)  # the flat scan scores every block on VBMI hosts
    assert scan_simd.HAS_AVX2 == ("avx2" in flags)


def test_vnni_sums_follow_the_host():
    """The per-vector 32-bit dot-product sums are chosen exactly where VBMI and AVX-512 VNNI both exist.

    The exact-sum tests above (odd and even pair counts, entries up to 255, the
    bounds) then exercise that pair loop on such hosts.
    """
    from rhtann.kernels import scan_simd

    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo on this platform")
    want = {"avx2", "avx512f", "avx512bw", "avx512vbmi", "avx512_vnni"} <= flags
    assert scan_simd.HAS_VNNI == want
