"""Tests of the dithered scalar codecs DSQ and DTQ and of their kernels."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import rhtann
from rhtann.codecs.dithered import DSQ, DTQ
from rhtann.kernels import dither as kd

M = 3000  # ids per unbiasedness check


def _gauss(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _copies(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(y[None], m, axis=0), np.arange(m, dtype=np.int64) * 7 + 11


@pytest.mark.parametrize("bits", range(1, 9))
def test_pack_roundtrip(bits: int) -> None:
    rng = np.random.default_rng(bits)
    k = rng.integers(0, 2**bits, size=(5, 37)).astype(np.int64)
    codes = np.full((5, 3 + (37 * bits + 7) // 8), 0xAA, dtype=np.uint8)
    kd.pack_indices(k, bits, 3, codes)
    back = np.empty_like(k)
    kd.unpack_indices(codes, bits, 3, 37, back)
    np.testing.assert_array_equal(back, k)
    assert (codes[:, :3] == 0xAA).all()


def test_norm_ppf_inverts_cdf() -> None:
    for p in (1e-12, 1e-6, 0.01, 0.02425, 0.3, 0.5, 0.77, 0.99, 1 - 1e-9):
        x = kd.norm_ppf(p)
        assert abs(kd.norm_cdf(x) - p) <= 1e-12 * max(1.0, 1e3 * min(p, 1 - p)) + 1e-15


def test_dithers_are_uniform_independent_and_reproducible() -> None:
    c = DSQ(64, 4, seed=5)
    ids = np.arange(2000, dtype=np.int64)
    u = c.dithers(ids)
    assert u.shape == (2000, 64) and (u > 0).all() and (u < 1).all()
    se = math.sqrt(1 / 12 / u.size)
    assert abs(u.mean() - 0.5) < 5 * se
    np.testing.assert_array_equal(u, DSQ(64, 4, seed=5).dithers(ids))
    # neighbouring ids and coordinates: correlations at the sampling noise
    lim = 5 / math.sqrt(u.size)
    assert abs(np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]) < lim
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < lim
    assert not np.array_equal(u, DSQ(64, 4, seed=6).dithers(ids))


@pytest.mark.parametrize("cls", [DSQ, DTQ])
@pytest.mark.parametrize("bits", [1, 3, 4, 8])
def test_roundtrip_shapes_and_determinism(cls: type, bits: int) -> None:
    d = 37
    c = cls(d, bits, seed=9)
    y = _gauss(50, d, 1)
    ids = np.arange(50, dtype=np.int64)
    codes = c.encode(y, ids)
    head = 8 if cls is DSQ else 4
    assert codes.dtype == np.uint8 and codes.shape == (50, head + (d * bits + 7) // 8)
    assert c.code_size == codes.shape[1]
    a = c.decode(codes, ids)
    assert a.dtype == np.float32 and a.shape == (50, d) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, c.decode(codes, ids))
    np.testing.assert_array_equal(a, cls(d, bits, seed=9).decode(codes, ids))
    np.testing.assert_array_equal(codes, c.encode(y, ids))
    rel = ((a - y) ** 2).sum() / (y**2).sum()
    assert rel < 4.0 ** (1 - bits) * 3


@pytest.mark.parametrize("cls", [DSQ, DTQ])
def test_copies_under_other_ids_get_other_dithers(cls: type) -> None:
    c = cls(64, 3, seed=1)
    y = np.repeat(_gauss(1, 64, 2), 2, axis=0)
    same = c.decode(c.encode(y, np.array([4, 4])), np.array([4, 4]))
    np.testing.assert_array_equal(same[0], same[1])
    other = c.decode(c.encode(y, np.array([4, 5])), np.array([4, 5]))
    assert not np.array_equal(other[0], other[1])
    # decoding under the wrong id gives another (still finite) vector
    codes = c.encode(y[:1], np.array([4]))
    assert not np.array_equal(c.decode(codes, np.array([4])), c.decode(codes, np.array([5])))


def test_dsq_error_within_half_step_and_exact_on_constants() -> None:
    c = DSQ(40, 3, seed=2)
    y = _gauss(200, 40, 3)
    ids = np.arange(200, dtype=np.int64)
    codes = c.encode(y, ids)
    step = codes[:, 4:8].copy().view("<f4")[:, 0].astype(np.float64)
    lo = codes[:, 0:4].copy().view("<f4")[:, 0]
    np.testing.assert_array_equal(lo, y.min(1))
    assert (lo + 7 * step >= y.max(1)).all()
    err = np.abs(c.decode(codes, ids).astype(np.float64) - y)
    assert (err <= step[:, None] / 2 * (1 + 1e-5) + 1e-6).all()
    tiny = np.zeros((1, 40), dtype=np.float32)
    tiny[0, 5] = np.float32(1.4e-45)  # a subnormal range: the step must not underflow to 0
    t_codes = c.encode(tiny, ids[:1])
    assert t_codes[:, 4:8].copy().view("<f4")[0, 0] > 0
    assert np.abs(c.decode(t_codes, ids[:1]) - tiny).max() <= 1e-44
    const = np.full((3, 40), 0.75, dtype=np.float32)
    np.testing.assert_array_equal(c.decode(c.encode(const, ids[:3]), ids[:3]), const)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_dsq_is_unbiased_over_ids(bits: int) -> None:
    d = 32
    c = DSQ(d, bits, seed=3)
    for y in (_gauss(1, d, 4)[0], np.eye(d, dtype=np.float32)[0], np.linspace(-1, 2, d, dtype=np.float32)):
        ys, ids = _copies(y, M)
        dec = c.decode(c.encode(ys, ids), ids).astype(np.float64)
        step = (y.max() - y.min()) / (2**bits - 1)
        se = step / math.sqrt(12 * M)
        assert np.abs(dec.mean(0) - y).max() < 5 * se + 1e-6


def test_dsq_error_law_does_not_depend_on_the_input() -> None:
    d, bits = 64, 3
    c = DSQ(d, bits, seed=4)
    rng = np.random.default_rng(5)
    a = np.linspace(-1, 1, d).astype(np.float32)  # evenly spread
    b = np.where(rng.random(d) < 0.5, -1.0, 1.0).astype(np.float32)  # only the two ends
    b[0], b[1] = -1, 1
    step = 2 / (2**bits - 1)
    for y in (a, b):
        ys, ids = _copies(y, M)
        e = (c.decode(c.encode(ys, ids), ids).astype(np.float64) - y) / step
        n = e.size
        assert abs(e.mean()) < 5 * math.sqrt(1 / 12 / n)
        assert abs(e.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / n)
        # uniform on [-1/2, 1/2): each quarter holds a quarter of the errors
        q = np.histogram(e, bins=[-0.5, -0.25, 0, 0.25, 0.5 + 1e-6])[0] / n
        assert np.abs(q - 0.25).max() < 5 * math.sqrt(0.25 * 0.75 / n)
        # error uncorrelated with the coordinate value
        assert abs(np.corrcoef(e.ravel(), np.broadcast_to(y, e.shape).ravel())[0, 1]) < 5 / math.sqrt(n)


@pytest.mark.parametrize("bits", [2, 4])
def test_dtq_is_unbiased_in_the_companded_domain(bits: int) -> None:
    d = 64
    c = DTQ(d, bits, seed=6)
    rht = rhtann.RHT(d, rounds=1, seed=3)
    for x in (_gauss(1, d, 7), np.eye(d, dtype=np.float32)[:1]):
        y = rht.apply(x)[0]
        ys, ids = _copies(y, M)
        s = c.companded(y[None])[0]
        sh = c.companded_codes(c.encode(ys, ids), ids)
        bulk = (s >= 0.5) & (s <= 2**bits - 0.5)
        assert bulk.sum() >= d // 2
        se = math.sqrt(1 / 12 / M)
        assert np.abs(sh.mean(0) - s)[bulk].max() < 5 * se
        assert np.abs(sh - s)[:, bulk].max() <= 0.5 + 1e-9


def test_dtq_decodes_the_companded_value() -> None:
    c = DTQ(16, 3, seed=1)
    y = _gauss(4, 16, 8)
    ids = np.arange(4, dtype=np.int64)
    codes = c.encode(y, ids)
    sh = c.companded_codes(codes, ids)
    from scipy.stats import norm

    expect = np.linalg.norm(y, axis=1, keepdims=True) * math.sqrt(3) * norm.ppf(sh / 8) / 4
    np.testing.assert_allclose(c.decode(codes, ids), expect, rtol=1e-5, atol=1e-6)


def test_dtq_mse_matches_high_resolution_theory_on_one_hot_after_one_rht() -> None:
    # one RHT maps e_1 to a flat vector: u_j = +-1 for all j, where the
    # compander's high-resolution error is 6 pi exp(1/3) / (12 N^2) per coordinate
    d, bits = 256, 6
    x = np.eye(d, dtype=np.float32)[:1]
    y = rhtann.RHT(d, rounds=1, seed=2).apply(x)[0]
    ys, ids = _copies(y, 400)
    c = DTQ(d, bits, seed=7)
    mse = float(((c.decode(c.encode(ys, ids), ids) - y) ** 2).sum(1).mean())
    theory = 6 * math.pi * math.exp(1 / 3) / (12 * 4**bits)
    assert abs(mse / theory - 1) < 0.05


def test_zero_vector() -> None:
    z = np.zeros((2, 8), dtype=np.float32)
    ids = np.arange(2, dtype=np.int64)
    for c in (DTQ(8, 4), DSQ(8, 4)):
        np.testing.assert_array_equal(c.decode(c.encode(z, ids), ids), z)


@pytest.mark.parametrize("cls", [DSQ, DTQ])
def test_bad_parameters(cls: type) -> None:
    for bits in (0, 9, 2.0, True, "4"):
        with pytest.raises(ValueError, match="bits"):
            cls(8, bits)
    for d in (0, -3, 1.5):
        with pytest.raises(ValueError, match="d must"):
            cls(d, 4)
    with pytest.raises(ValueError, match="seed"):
        cls(8, 4, seed=-1)
    c = cls(8, 4)
    y = _gauss(3, 8, 0)
    ids = np.arange(3, dtype=np.int64)
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        c.encode(_gauss(3, 9, 0), ids)
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        c.encode(y[0], ids)
    with pytest.raises(TypeError, match="float32"):
        c.encode(y.astype(np.int32), ids)
    with pytest.raises(TypeError, match="numpy array"):
        c.encode(y.tolist(), ids)
    bad = y.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        c.encode(bad, ids)
    with pytest.raises(ValueError, match=r"ids must have shape \(3,\)"):
        c.encode(y, ids[:2])
    with pytest.raises(TypeError, match="integer"):
        c.encode(y, ids.astype(np.float64))
    codes = c.encode(y, ids)
    with pytest.raises(TypeError, match="uint8"):
        c.decode(codes.astype(np.int16), ids)
    with pytest.raises(ValueError, match="codes must have shape"):
        c.decode(codes[:, :-1], ids)
    with pytest.raises(ValueError, match="ids must have shape"):
        c.decode(codes, ids[:1])
    if cls is DSQ:
        wide = np.array([[-3e38, 3e38] + [0.0] * 6], dtype=np.float32)
        with pytest.raises(ValueError, match="overflows float32"):
            c.encode(wide, ids[:1])
    broken = codes.copy()
    broken[:, :4] = np.frombuffer(np.float32(np.nan).tobytes(), dtype=np.uint8)
    with pytest.raises(ValueError, match="non-finite"):
        c.decode(broken, ids)


@pytest.mark.parametrize("cls", [DSQ, DTQ])
def test_state_roundtrip(cls: type) -> None:
    c = cls(20, 5, seed=123)
    meta, arrays = c.get_state()
    meta = json.loads(json.dumps(meta))
    other = cls(7, 5, seed=0)
    other.set_state(meta, arrays)
    assert (other.d, other.seed, other.code_size, other.name) == (20, 123, c.code_size, c.name)
    y = _gauss(5, 20, 1)
    ids = np.arange(5, dtype=np.int64)
    np.testing.assert_array_equal(other.decode(c.encode(y, ids), ids), c.decode(c.encode(y, ids), ids))
    with pytest.raises(ValueError, match="saved by codec"):
        cls(20, 4).set_state(meta, arrays)


def test_empty_batch() -> None:
    for c in (DSQ(8, 2), DTQ(8, 2)):
        codes = c.encode(np.zeros((0, 8), np.float32), np.zeros(0, np.int64))
        assert codes.shape == (0, c.code_size)
        assert c.decode(codes, np.zeros(0, np.int64)).shape == (0, 8)


@pytest.mark.parametrize("token", ["DTQ3", "DSQ2", "E8Q2", "E8Q4", "DRIVE1"])
def test_scan_equals_decode_then_dot(token: str) -> None:
    from rhtann.codecs.registry import make_codec

    c = make_codec(token, 24, 5)
    y = _gauss(30, 24, 9)
    ids = np.arange(30, dtype=np.int64) - 10  # negative ids are valid too
    codes = c.encode(y, ids)
    q = _gauss(4, 24, 10)
    expect = q.astype(np.float64) @ c.decode(codes, ids).astype(np.float64).T
    np.testing.assert_allclose(c.scan(c.prepare(q), codes, ids), expect, rtol=1e-5, atol=1e-5)
