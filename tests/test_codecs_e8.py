"""Tests of the E8 lattice kernels and of the E8Q codec."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from rhtann.codecs.e8 import E8Q
from rhtann.kernels import e8 as k8

PATS, NORMS2, PARITY = k8.e8p_patterns()


def _e8_points(max_norm2: float) -> np.ndarray:
    """Every E8 point of squared norm <= max_norm2 (<= 8), by enumeration."""
    ints = np.array(list(itertools.product(range(-2, 3), repeat=8)), dtype=np.float64)
    ints = ints[(ints.sum(1) % 2 == 0) & ((ints**2).sum(1) <= max_norm2)]
    halves = np.array(list(itertools.product((-2.5, -1.5, -0.5, 0.5, 1.5, 2.5), repeat=8)))
    halves = halves[(np.rint(halves.sum(1)) % 2 == 0) & ((halves**2).sum(1) <= max_norm2)]
    return np.concatenate([ints, halves])


@pytest.fixture(scope="module")
def e8_ball() -> np.ndarray:
    return _e8_points(8.0)


def _in_e8(v: np.ndarray) -> np.ndarray:
    two = np.rint(2 * v)
    ok = np.abs(2 * v - two).max(1) < 1e-9
    allint = (two % 2 == 0).all(1)
    allhalf = (two % 2 == 1).all(1)
    s = np.rint(v.sum(1))
    return ok & (allint | allhalf) & (s % 2 == 0)


def test_enumeration_counts(e8_ball: np.ndarray) -> None:
    n2 = np.rint((e8_ball**2).sum(1)).astype(int)
    # theta series of E8: 1 + 240 q + 2160 q^2 + 6720 q^3 + 17520 q^4
    assert [int((n2 == 2 * s).sum()) for s in range(5)] == [1, 240, 2160, 6720, 17520]


def test_closest_point_against_brute_force(e8_ball: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 8))
    x *= (rng.random(400) * 1.2 / np.linalg.norm(x, axis=1))[:, None]  # |x| <= 1.2
    x[:50] = np.rint(2 * x[:50]) / 2 + rng.standard_normal((50, 8)) * 1e-3  # near lattice/hole points
    out = np.empty_like(x)
    k8.e8_closest(x, out, np.empty_like(x))
    assert _in_e8(out).all()
    d_fast = ((x - out) ** 2).sum(1)
    d_brute = ((x[:, None, :] - e8_ball[None]) ** 2).sum(2).min(1)
    np.testing.assert_allclose(d_fast, d_brute, rtol=0, atol=1e-12)


def test_e8p_codebook_is_2_16_distinct_points_of_shifted_e8() -> None:
    cw = np.empty((65536, 8))
    k8.e8p_decode_blocks(np.arange(65536, dtype=np.int64), PATS, PARITY, cw)
    assert len(np.unique(cw, axis=0)) == 65536
    shift = np.where(((cw - 0.25) * 2 % 2 == 1).all(1), 0.25, -0.25)
    assert _in_e8(cw - shift[:, None]).all()
    assert (np.abs(np.abs(cw) % 1 - 0.5) == 0.25).all()  # entries in +-1/4 + 1/2 Z... offsets of 1/4
    assert np.rint((cw - shift[:, None]) ** 2).sum(1).max() <= 12


def test_e8p_search_is_exact() -> None:
    cw_all = np.empty((65536, 8))
    k8.e8p_decode_blocks(np.arange(65536, dtype=np.int64), PATS, PARITY, cw_all)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((120, 8)) * 1.05
    x[:20] *= 3  # outside the ball
    idx = np.empty(120, dtype=np.int64)
    cw = np.empty_like(x)
    k8.e8p_encode_blocks(x, PATS, NORMS2, PARITY, idx, cw)
    np.testing.assert_array_equal(cw, cw_all[idx])
    d_fast = ((x - cw) ** 2).sum(1)
    d_brute = np.min(((x[:, None, :] - cw_all[None]) ** 2).sum(2), axis=1)
    np.testing.assert_allclose(d_fast, d_brute, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m", [2, 4])
def test_voronoi_code_is_a_bijection(m: int) -> None:
    kk = np.array(list(itertools.product(range(m), repeat=8)), dtype=np.float64)
    cw = np.empty_like(kk)
    work = np.empty((len(kk), 40))
    k8.voronoi_decode_blocks(kk, m, k8.E8_BASIS, k8.VORONOI_OFFSET, cw, work)
    assert len(np.unique(cw, axis=0)) == m**8
    assert _in_e8(cw).all()
    back = np.empty(kk.shape, dtype=np.int64)
    cw2 = np.empty_like(cw)
    k8.voronoi_encode_blocks(cw, m, k8.VORONOI_OFFSET, k8.OVERLOAD_SHRINK, k8.E8_BASIS_INV, back, cw2, work)
    np.testing.assert_array_equal(back, kk)
    np.testing.assert_array_equal(cw2, cw)


@pytest.mark.parametrize("m", [8, 16])
def test_voronoi_encoding_is_closest_point_without_overload(m: int) -> None:
    rng = np.random.default_rng(m)
    x = rng.standard_normal((3000, 8)) * (m / 5)
    k = np.empty(x.shape, dtype=np.int64)
    cw = np.empty_like(x)
    work = np.empty((len(x), 40))
    k8.voronoi_encode_blocks(x, m, k8.VORONOI_OFFSET, k8.OVERLOAD_SHRINK, k8.E8_BASIS_INV, k, cw, work)
    near = np.empty_like(x)
    k8.e8_closest(x, near, np.empty_like(x))
    same = (cw == near).all(1)
    assert same.mean() > 0.5  # most blocks are inside the code
    assert _in_e8(cw).all() and (k >= 0).all() and (k < m).all()
    dec = np.empty_like(cw)
    k8.voronoi_decode_blocks(k.astype(np.float64), m, k8.E8_BASIS, k8.VORONOI_OFFSET, dec, work)
    np.testing.assert_array_equal(dec, cw)
    # overloaded blocks get an in-code point no farther than the origin
    assert (((cw - x) ** 2).sum(1) <= (x**2).sum(1) + 1e-9).all()


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("d", [8, 13, 64])
def test_e8q_roundtrip(bits: int, d: int) -> None:
    c = E8Q(d, bits)
    dp = 8 * ((d + 7) // 8)
    assert c.dp == dp and c.code_size == 4 + bits * dp // 8
    rng = np.random.default_rng(d + bits)
    y = rng.standard_normal((300, d)).astype(np.float32)
    ids = np.arange(300, dtype=np.int64)
    codes = c.encode(y, ids)
    assert codes.shape == (300, c.code_size) and codes.dtype == np.uint8
    a = c.decode(codes, ids)
    assert a.shape == (300, d) and a.dtype == np.float32
    np.testing.assert_array_equal(a, c.decode(codes, ids + 5))  # no dither
    np.testing.assert_array_equal(codes, c.encode(y, ids))
    rel = ((a - y) ** 2).sum() / (y**2).sum()
    # below the Gaussian Lloyd-Max distortion at the same rate (theory.md C.1), for full blocks
    lloyd = {2: 0.11748, 3: 0.03455, 4: 0.00950}[bits]
    if d % 8 == 0:
        assert rel < lloyd
    else:
        assert rel < 2 * lloyd


def test_e8q_reconstruction_is_scale_times_lattice_points() -> None:
    c = E8Q(16, 3)
    y = np.random.default_rng(2).standard_normal((50, 16)).astype(np.float32)
    ids = np.arange(50, dtype=np.int64)
    codes = c.encode(y, ids)
    scale = codes[:, :4].copy().view("<f4")[:, 0].astype(np.float64)
    pts = c.decode(codes, ids).astype(np.float64) / scale[:, None]
    assert _in_e8(np.rint(pts.reshape(-1, 8) * 2e4) / 2e4).all()
    # least-squares scale: the residual is orthogonal to the reconstruction
    a = c.decode(codes, ids).astype(np.float64)
    assert np.abs(((y - a) * a).sum(1)).max() < 1e-4 * (y.astype(np.float64) ** 2).sum(1).max()


def test_e8q_zero_vector_and_empty() -> None:
    c = E8Q(16, 2)
    z = np.zeros((2, 16), dtype=np.float32)
    ids = np.arange(2, dtype=np.int64)
    np.testing.assert_array_equal(c.decode(c.encode(z, ids), ids), z)
    codes = c.encode(z[:0], ids[:0])
    assert codes.shape == (0, c.code_size) and c.decode(codes, ids[:0]).shape == (0, 16)


def test_e8q_bad_parameters() -> None:
    for bits in (1, 5, 8, 2.5, True):
        with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 4\]"):
            E8Q(16, bits)
    with pytest.raises(ValueError, match="d must"):
        E8Q(0, 2)
    c = E8Q(16, 2)
    y = np.zeros((3, 16), dtype=np.float32)
    with pytest.raises(ValueError, match="ids must have shape"):
        c.encode(y, np.arange(2))
    with pytest.raises(ValueError, match=r"shape \(n, 16\)"):
        c.encode(np.zeros((3, 8), np.float32), np.arange(3))
    with pytest.raises(ValueError, match="codes must have shape"):
        c.decode(np.zeros((3, 5), np.uint8), np.arange(3))


def test_e8q_state_roundtrip() -> None:
    c = E8Q(24, 4)
    meta, arrays = c.get_state()
    meta = json.loads(json.dumps(meta))
    other = E8Q(8, 4)
    other.set_state(meta, arrays)
    assert (other.d, other.dp, other.code_size) == (24, 24, c.code_size)
    with pytest.raises(ValueError, match="saved by codec"):
        E8Q(24, 3).set_state(meta, arrays)
