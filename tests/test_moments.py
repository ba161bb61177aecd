"""Tests of the moment statistics and of the round check (rhtann.moments)."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann import moments
from rhtann import synthetic as syn


def reference_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rho4, rho3, peak in float64 with numpy, straight from the definitions."""
    x = x.astype(np.float64)
    s2 = (x**2).sum(1)
    return (x**4).sum(1) / s2**2, (np.abs(x) ** 3).sum(1) / s2**1.5, np.abs(x).max(1) / np.sqrt(s2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("n", [7, 600])  # serial kernel below 256 rows, parallel above
def test_stats_match_numpy_reference(dtype, n, rng):
    x = (rng.standard_normal((n, 100)) * 30).astype(dtype)
    x[0] = 0
    x[0, 5] = 3  # a one-hot row
    st = rhtann.moment_stats(x)
    rho4, rho3, peak = reference_stats(x)
    # float64 input: float64 sums of 100 terms, relative error a few 1e-15.
    # float32 (and integers, read as float32): float32 sums, relative error
    # at most about 100 * 6e-8 = 6e-6 in the worst case, 3e-7 seen.
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(st.rho4, rho4, rtol=tol)
    np.testing.assert_allclose(st.rho3, rho3, rtol=tol)
    np.testing.assert_allclose(st.peak, peak, rtol=tol)
    np.testing.assert_allclose(st.kappa, 100 * rho4, rtol=tol)
    assert st.d_eff == 100 and st.rho4[0] == 1.0 and st.peak[0] == 1.0
    kx = np.ascontiguousarray(x, dtype=np.float64 if dtype == np.float64 else np.float32)
    np.testing.assert_allclose(moments.kappa(kx, 128), 128 * rho4, rtol=tol)


def test_d_eff_scales_kappa_only(rng):
    x = rng.standard_normal((5, 100))
    a, b = rhtann.moment_stats(x), rhtann.moment_stats(x, d_eff=128)
    np.testing.assert_array_equal(a.rho4, b.rho4)
    np.testing.assert_allclose(b.kappa, a.kappa * 1.28, rtol=1e-15)


def test_extreme_scales_and_zero_rows_give_no_nan():
    big64 = np.zeros((4, 8))
    big64[1, :2] = 1e300  # squares overflow float64 without the rescale
    big64[2, :] = 1e-300  # fourth powers underflow without it
    big64[3, 0] = 5e-324  # smallest subnormal
    st = rhtann.moment_stats(big64)
    np.testing.assert_array_equal(st.rho4, [0.0, 0.5, 0.125, 1.0])
    np.testing.assert_allclose(st.peak, [0.0, 2**-0.5, 8**-0.5, 1.0], rtol=1e-15)
    np.testing.assert_array_equal(st.kappa, [0.0, 4.0, 1.0, 8.0])

    f32 = np.zeros((3, 16), dtype=np.float32)
    f32[1, :4] = 3e38  # largest float32 range
    f32[2, :] = 1e-45  # subnormal float32
    st = rhtann.moment_stats(f32)
    np.testing.assert_allclose(st.rho4, [0.0, 0.25, 1 / 16], rtol=1e-12)
    np.testing.assert_allclose(st.rho3, [0.0, 0.5, 0.25], rtol=1e-12)
    assert np.isfinite(st.kappa).all() and st.kappa[0] == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3, 300])
def test_non_finite_input_raises(bad, dtype, n):
    x = np.ones((n, 20), dtype=dtype)
    x[n - 1, 7] = bad
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        rhtann.moment_stats(x)
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        rhtann.choose_rounds(x)


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match=r"x must be a 2-D array .* got a 1-D array"):
        rhtann.moment_stats(np.ones(5))
    with pytest.raises(TypeError, match="x must have a float or integer dtype"):
        rhtann.moment_stats(np.ones((2, 2), dtype=complex))


@pytest.mark.parametrize(
    "make",
    [
        lambda n, d, s: syn.one_hot(n, d, s),
        lambda n, d, s: syn.indicator(n, d, 16, s),
        lambda n, d, s: syn.lognormal(n, d, s)
        * np.where(np.random.default_rng(s).random((n, d)) < 0.5, -1, 1),
    ],
    ids=["one_hot", "indicator_16", "signed_lognormal"],
)
def test_one_round_fourth_moment_identity(make):
    """E[d * rho4(R x)] = 3 - 2 rho4(x) over the signs of one round.

    Every row carries independent random signs, which the first round's
    signs absorb, so one transform gives n independent draws of R x.
    """
    n, d = 4000, 256
    x = make(n, d, 5).astype(np.float32)
    y = rhtann.RHT(d, rounds=1, seed=77).apply(x)
    got = rhtann.moment_stats(y).kappa
    want = 3 - 2 * rhtann.moment_stats(x).rho4
    diff = got - want
    se = diff.std() / np.sqrt(n)
    # Five standard errors: a false alarm has probability below 1e-6. With
    # 4000 rows the standard error is at most 0.018 (indicator_16, whose
    # rotated rows hold only 16 distinct magnitudes), so a bias of 0.125
    # (4 % of the expected 2.875) would be caught.
    assert se < 0.025
    assert abs(diff.mean()) < 5 * se + 1e-9
