"""Tests of the TQ codec (rhtann.codecs.lloydmax)."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.codecs.lloydmax import TQ, gaussian_mse, lloyd_max_gaussian, parse_token, refinement_levels

# Lloyd-Max distortions of N(0, 1) (Max 1960): 1..4 bits
KNOWN_MSE = {1: 0.3634, 2: 0.1175, 3: 0.03454, 4: 0.009497}


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_lloyd_max_levels_reach_known_distortion(bits):
    levels, thr = lloyd_max_gaussian(bits)
    assert levels.shape == (2**bits,) and thr.shape == (2**bits - 1,)
    assert np.all(np.diff(levels) > 0)
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-12)
    assert gaussian_mse(bits) == pytest.approx(KNOWN_MSE[bits], rel=2e-3)


def test_refinement_splits_each_cell_between_its_levels():
    levels, splits = refinement_levels(2)
    base, thr = lloyd_max_gaussian(2)
    edges = np.concatenate(([-np.inf], thr, [np.inf]))
    assert np.all(levels[0::2] < splits) and np.all(splits < levels[1::2])
    assert np.all(edges[:-1] < levels[0::2]) and np.all(levels[1::2] < edges[1:])


@pytest.mark.parametrize(
    ("bits", "extra", "half"),
    [(1, 0, False), (2, 0, True), (2, 24, True), (3, 5, False), (4, 0, False), (4, 40, True), (8, 0, False)],
)
def test_round_trip_and_error(bits, extra, half):
    d, n = 50, 4000
    rng = np.random.default_rng(bits * 100 + extra)
    y = rng.standard_normal((n, d)).astype(np.float32) * rng.uniform(0.5, 3, (n, 1)).astype(np.float32)
    c = TQ(d, bits, scale_dtype="float16" if half else "float32", extra=extra)
    c.train(y)
    codes = c.encode(y, np.arange(n))
    assert codes.dtype == np.uint8 and codes.shape == (n, c.code_size)
    assert c.code_size == (d * bits + 7) // 8 + (extra + 7) // 8 + (2 if half else 4)
    x = c.decode(codes, np.arange(n))
    assert x.dtype == np.float32 and x.shape == (n, d)
    rel = np.sum((x - y) ** 2) / np.sum(y**2)
    # refined coordinates roughly follow the (bits+1)-bit distortion; the bound allows the finite-d spread
    expect = ((d - extra) * gaussian_mse(bits) + extra * gaussian_mse(bits + 1)) / d if bits < 8 else 2e-4
    assert rel < 1.15 * expect + 1e-4
    # decoding is a pure function of the codes
    np.testing.assert_array_equal(c.decode(codes[::-1].copy(), np.arange(n)), x[::-1])
    np.testing.assert_array_equal(c.encode(x * 0 + y, np.arange(n)), codes)


@pytest.mark.parametrize(("bits", "extra"), [(1, 0), (2, 0), (2, 10), (4, 0), (4, 7), (3, 0)])
def test_scan_equals_decode_then_dot(bits, extra):
    rng = np.random.default_rng(1)
    y = rng.standard_normal((300, 33)).astype(np.float32)
    q = rng.standard_normal((4, 33)).astype(np.float32)
    c = TQ(33, bits, extra=extra)
    c.train(y)
    codes = c.encode(y, np.arange(300))
    ref = q @ c.decode(codes, np.arange(300)).T
    np.testing.assert_allclose(c.scan(q, codes, np.arange(300)), ref, rtol=1e-5, atol=1e-5)


def test_nibble_luts_reproduce_the_inner_products():
    rng = np.random.default_rng(2)
    c = TQ(21, 2)
    y = rng.standard_normal((50, 21)).astype(np.float32)
    codes = c.encode(y)
    idx, _, s = c.unpack(codes)
    lut = c.nibble_luts(y[:3])
    assert lut.shape == (3, c.nibbles, 16) and c.nibbles == 11
    # nibble m holds coordinates 2m, 2m+1
    for i in range(3):
        for v in range(5):
            nib = idx[v, 0::2].astype(int)
            nib[: len(idx[v, 1::2])] += 4 * idx[v, 1::2]
            val = s[v] * lut[i, np.arange(11), nib].sum()
            assert val == pytest.approx(float(y[i] @ c.decode(codes[v : v + 1])[0]), rel=1e-5, abs=1e-5)


def test_state_round_trip_keeps_the_calibrated_gain():
    rng = np.random.default_rng(3)
    y = (rng.standard_normal((2000, 16)) ** 3).astype(np.float32)  # heavy tails move the gain
    c = TQ(16, 3, extra=4)
    c.train(y)
    assert c.gain != 1.0
    meta, arrays = c.get_state()
    c2 = TQ.from_state(meta)
    np.testing.assert_array_equal(c2.levels, c.levels)
    codes = c.encode(y)
    np.testing.assert_array_equal(c2.decode(codes), c.decode(codes))


def test_zero_vector_decodes_to_zero():
    c = TQ(8, 4)
    x = c.decode(c.encode(np.zeros((2, 8), np.float32)))
    np.testing.assert_array_equal(x, 0)


def test_tokens():
    assert parse_token("TQ4") == {"bits": 4, "extra": 0, "scale_dtype": "float32"}
    assert parse_token("TQ2r24h") == {"bits": 2, "extra": 24, "scale_dtype": "float16"}
    assert parse_token("SQ4") is None
    with pytest.raises(ValueError, match="bit width"):
        parse_token("TQ5")


def test_bad_parameters():
    with pytest.raises(ValueError, match="bits"):
        TQ(8, 5)
    with pytest.raises(ValueError, match="extra"):
        TQ(8, 4, extra=9)
    with pytest.raises(ValueError, match="scale_dtype"):
        TQ(8, 4, scale_dtype="int8")
    with pytest.raises(ValueError, match="d"):
        TQ(0, 4)
    c = TQ(8, 4)
    with pytest.raises(ValueError, match=r"\(n, 8\)"):
        c.encode(np.zeros((3, 7), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        c.encode(np.full((1, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="columns"):
        c.decode(np.zeros((2, 3), np.uint8))
