"""Tests of distributed mean estimation and of the codec registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rhtann
from rhtann.codecs.base import Codec
from rhtann.codecs.dithered import DSQ, DTQ
from rhtann.codecs.drive import DRIVE1
from rhtann.codecs.e8 import E8Q
from rhtann.codecs.mean import DRIVE1_VNMSE, mean_estimate, vnmse
from rhtann.codecs.registry import CODECS, make_codec, parse_token, recommended_rounds


def test_registry_tokens() -> None:
    assert isinstance(make_codec("DTQ4", 16, 1), DTQ)
    assert isinstance(make_codec("DSQ8", 16, 1), DSQ)
    assert isinstance(make_codec("E8Q3", 16, 1), E8Q)
    assert isinstance(make_codec("DRIVE1", 16, 1), DRIVE1)
    for tok in ("DTQ1", "DSQ8", "E8Q2", "E8Q4", "DRIVE1"):
        c = make_codec(tok, 24, 3)
        assert isinstance(c, Codec) and c.name == tok and c.d == 24
    assert recommended_rounds("DTQ3") == 1 and recommended_rounds("DSQ2") == 1
    assert recommended_rounds("E8Q2") == 3
    assert set(CODECS) >= {"DTQ", "DSQ", "E8Q", "DRIVE"}
    assert parse_token("E8Q2")[1] == 2


@pytest.mark.parametrize(
    "token, match",
    [("DTQ0", "bits in"), ("DTQ9", "bits in"), ("E8Q1", "bits in"), ("E8Q5", "bits in"),
     ("DRIVE2", "bits in"), ("FOO4", "unknown codec"), ("DTQ", "unknown codec"), ("", "unknown codec")],
)
def test_registry_errors(token: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_codec(token, 16, 0)


def test_registry_type_error() -> None:
    with pytest.raises(TypeError, match="token"):
        make_codec(4, 16, 0)  # type: ignore[arg-type]


def test_drive1_code_and_scale() -> None:
    c = DRIVE1(20)
    y = np.random.default_rng(0).standard_normal((7, 20)).astype(np.float32)
    ids = np.arange(7, dtype=np.int64)
    codes = c.encode(y, ids)
    assert codes.shape == (7, 4 + 3) == (7, c.code_size)
    a = c.decode(codes, ids).astype(np.float64)
    np.testing.assert_array_equal(np.sign(a), np.sign(y))
    yd = y.astype(np.float64)
    np.testing.assert_allclose((a * yd).sum(1), (yd**2).sum(1), rtol=1e-5)


def _trials(token: str, x: np.ndarray, trials: int) -> np.ndarray:
    n = x.shape[0]
    return np.array([n * vnmse(x, mean_estimate(x, token, seed=s)) for s in range(trials)])


def test_drive1_mean_vnmse_matches_theory() -> None:
    # n clients with independent Gaussian vectors, a fresh shared rotation per trial:
    # n * vNMSE -> pi/2 - 1 (errors of different clients are uncorrelated)
    rng = np.random.default_rng(1)
    d, n, trials = 512, 30, 24
    x = rng.standard_normal((n, d)).astype(np.float32)
    v = _trials("DRIVE1", x, trials)
    se = v.std(ddof=1) / math.sqrt(trials)
    assert abs(v.mean() - DRIVE1_VNMSE) < 5 * se + 2.0 / d


def test_dsq_mean_error_is_the_predicted_one() -> None:
    # DSQ errors are independent, zero-mean and uniform with the step stored in the codes,
    # so E||mean error||^2 = sum_i d' step_i^2 / 12 / n^2 exactly
    rng = np.random.default_rng(2)
    d, n, trials, bits = 256, 40, 30, 3
    x = rng.standard_normal((n, d)).astype(np.float32)
    x[:5] = 0
    x[:5, :3] = 5.0  # sparse clients
    ratios = []
    for s in range(trials):
        est = mean_estimate(x, f"DSQ{bits}", seed=s)
        rht = rhtann.RHT(d, rounds=1, seed=s)
        y = rht.apply(x).astype(np.float64)
        step = (y.max(1) - y.min(1)) / (2**bits - 1)
        predicted = (rht.d_out * step**2 / 12).sum() / n**2
        ratios.append(float(((x.mean(0) - est) ** 2).sum()) / predicted)
    r = np.array(ratios)
    # per coordinate the mean error is a sum of n independent uniforms (about Gaussian), so a
    # trial's squared norm over d' = d coordinates has relative sd at most sqrt(2 / d)
    assert abs(r.mean() - 1) < 5 * math.sqrt(2 / d) / math.sqrt(trials)


def test_dtq_mean_error_shrinks_with_clients() -> None:
    rng = np.random.default_rng(3)
    d = 128
    x = rng.standard_normal((400, d)).astype(np.float32)
    few = np.mean([vnmse(x[:20], mean_estimate(x[:20], "DTQ4", seed=s)) for s in range(6)])
    many = np.mean([vnmse(x, mean_estimate(x, "DTQ4", seed=s)) for s in range(6)])
    # independent dithers: the error of the mean falls like 1/n (20 -> 400 clients)
    assert many < few / 8


def test_mean_with_codec_instance_and_errors() -> None:
    x = np.random.default_rng(4).standard_normal((10, 100)).astype(np.float32)
    est = mean_estimate(x, E8Q(128, 3), seed=2, rounds=3)
    assert est.shape == (100,) and est.dtype == np.float64
    assert vnmse(x, est) < 0.05
    with pytest.raises(ValueError, match="d_out=128"):
        mean_estimate(x, E8Q(100, 3), seed=2)
    with pytest.raises(ValueError, match="at least one row"):
        mean_estimate(x[:0], "DTQ4")
    with pytest.raises(ValueError, match="rounds"):
        mean_estimate(x, "DTQ4", rounds=4)
    with pytest.raises(ValueError, match="unknown codec"):
        mean_estimate(x, "NOPE4")
    with pytest.raises(TypeError, match="codec must be"):
        mean_estimate(x, 3)  # type: ignore[arg-type]
    bad = x.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        mean_estimate(bad, "DSQ4")
    with pytest.raises(ValueError, match="estimate"):
        vnmse(x, est[:5])
