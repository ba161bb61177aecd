"""Tests of the scan kernels (rhtann.kernels.scan, rhtann.kernels.scan_simd)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from rhtann.codecs.lloydmax import TQ
from rhtann.kernels import scan as K
from rhtann.kernels.scan_simd import LANES, QB, fastscan_block1, fastscan_block4


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
def test_fastscan_block_matches_the_uint8_tables(d):
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
    tab = lu[0].reshape(P, 2, 2, 16)[:, :, 0, :].astype(np.int64)  # (pair, half, value)
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


def test_fastscan_block4_equals_four_single_queries():
    rng = np.random.default_rng(7)
    c = TQ(24, 4)
    y = rng.standard_normal((32, 24)).astype(np.float32)
    _, _, il, P, nb, sv, ev = _layout(c, y)
    lut = c.nibble_luts(rng.standard_normal((QB, 24)).astype(np.float32))
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
    assert total == np.bitwise_or.reduce(masks)


def test_int_bound_never_drops_a_passing_vector():
    rng = np.random.default_rng(11)
    for _ in range(2000):
        a, b = rng.uniform(1e-4, 1e-1), rng.normal(0, 2)
        smax, emin = rng.uniform(0.1, 3), rng.uniform(0, 2) * rng.integers(0, 2)
        thr = rng.normal(0, 3)
        bound = K.int_bound(thr, a, b, smax, emin)
        assert 0 <= bound <= 65535
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
