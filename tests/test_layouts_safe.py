"""rhtann.layouts.safe: every finite input gives a finite rotation or a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann.kernels.finite import scan_rows
from rhtann.layouts import make_layout, safe
from rhtann.signs import sign_vectors

F32MAX = float(np.finfo(np.float32).max)


def _big_rows(d: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((24, d)).astype(np.float32)
    x[:8] *= np.float32(1e35)
    x[8:10] = 0
    x[8, 0] = 3e38  # a one-hot at the top of the range: its rotation is representable
    x[9, :2] = [-3e38, 3e38]
    x[10:12] *= np.float32(1e33)
    return x


@pytest.mark.parametrize("d", [100, 96, 4096])
@pytest.mark.parametrize("layout", ["pad", "keep"])
@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_large_finite_inputs_rotate_and_invert(d, layout, rounds, rng):
    x = _big_rows(d, rng)
    rht = rhtann.RHT(d, rounds=rounds, layout=layout, seed=3)
    y = rht.apply(x)
    assert np.isfinite(y).all()
    # Norms are preserved (float64 reference); rows are compared relative to their own scale.
    nx = np.linalg.norm(x.astype(np.float64), axis=1)
    ny = np.linalg.norm(y.astype(np.float64), axis=1)
    np.testing.assert_allclose(ny, nx, rtol=1e-5)
    back = rht.reverse_transform(y)
    assert np.isfinite(back).all()
    err = np.abs(back.astype(np.float64) - x).max(axis=1) / np.abs(x).max(axis=1)
    assert err.max() < 1e-5
    # Rows that did not overflow are bit-identical to a batch without the large rows.
    np.testing.assert_array_equal(rht.apply(x[12:]), y[12:])


def test_adaptive_levels_and_auto_on_large_inputs(rng):
    x = _big_rows(100, rng)
    rht = rhtann.RHT(100, rounds="auto", target="vq")
    rht.train(x)  # used to report a misleading "NaN or infinite" input
    y, counts = rht.apply_adaptive(x)
    assert np.isfinite(y).all() and set(counts.tolist()) <= {2, 3}
    np.testing.assert_allclose(rht.reverse_adaptive(y, counts), x, rtol=1e-5, atol=1e-5 * np.abs(x).max())
    lev = rht.apply_levels(x)
    assert np.isfinite(lev).all()


def test_unrepresentable_rotation_raises():
    x = np.full((2, 100), 3e38, dtype=np.float32)  # |y_0| = 100 * 3e38 / sqrt(128) > float32 max
    with pytest.raises(ValueError, match=r"x: the rotation of row 0 has entries beyond the float32 range"):
        rhtann.RHT(100).apply(x)
    y = np.full((1, 128), 3e38, dtype=np.float32)
    with pytest.raises(ValueError, match=r"y: the rotation of row 0"):
        rhtann.RHT(100).reverse_transform(y)


def test_nan_still_reported_as_nan(rng):
    x = rng.standard_normal((20, 64)).astype(np.float32) * np.float32(1e36)
    x[5, 3] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        rhtann.RHT(64).apply(x)


def test_scan_rows_flags_and_norms(rng):
    y = rng.standard_normal((9, 33)).astype(np.float32)
    y[2, 5] = np.inf
    y[7, 0] = np.nan
    flags = np.zeros(9, dtype=np.bool_)
    sq = np.empty(9)
    assert scan_rows(y, flags, sq) == 2
    assert np.flatnonzero(flags).tolist() == [2, 7]
    ok = [i for i in range(9) if i not in (2, 7)]
    np.testing.assert_allclose(sq[ok], (y[ok].astype(np.float64) ** 2).sum(axis=1), rtol=1e-12)


def test_apply_out_overlapping_x_rejected(rng):
    rht = rhtann.RHT(64, rounds=2)
    buf = rng.standard_normal((10, 64)).astype(np.float32)
    with pytest.raises(ValueError, match="out must not overlap x"):
        rht.apply(buf, out=buf)
    with pytest.raises(ValueError, match="out must not overlap x"):
        rht.apply(buf[:8], out=buf[2:])
    out = np.empty_like(buf)
    np.testing.assert_array_equal(rht.apply(buf, out=out), rht.apply(buf))


@pytest.mark.parametrize("layout", ["pad", "keep"])
@pytest.mark.parametrize("d", [100, 1024])
@pytest.mark.parametrize("n", [3, 200])
def test_kernels_report_non_finite_stores(layout, d, n, rng):
    """``suspect`` is False exactly when every stored value is finite (rows and tiled paths)."""
    lay = make_layout(layout, d)
    signs = sign_vectors(5, 3, lay.sign_length).astype(np.float32)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y, bad, suspect = lay.forward_checked(x, signs, 3)
    assert not bad and not suspect and np.isfinite(y).all()
    back, bad, suspect = lay.inverse_checked(y, signs, 3)
    assert not bad and not suspect
    # One row whose rotation leaves the float32 range (by far, on every layout).
    x[n - 1] = np.float32(3e38)
    y, bad, suspect = lay.forward_checked(x, signs, 3)
    assert not bad and suspect and not np.isfinite(y[n - 1]).all()
    big = np.full((n, lay.d_out), 3e38, dtype=np.float32)
    _, bad, suspect = lay.inverse_checked(big, signs, 3)
    assert not bad and suspect


def test_finite_output_is_not_rescanned(monkeypatch, rng):
    """The second pass over the output runs only when a kernel flagged a store, or for ``sq``."""
    calls = []
    real = safe._finite.scan_rows

    def counting(y, flags, sq):
        calls.append(y.shape[0])
        return real(y, flags, sq)

    monkeypatch.setattr(safe._finite, "scan_rows", counting)
    rht = rhtann.RHT(100, rounds=3, seed=2)
    x = rng.standard_normal((300, 100)).astype(np.float32)
    rht.apply(x)
    assert calls == []
    x[7] *= np.float32(1e36)
    y = rht.apply(x)
    assert calls == [300] and np.isfinite(y).all()
