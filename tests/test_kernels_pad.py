"""The padded layout's kernels against a numpy Walsh-Hadamard reference, path against path."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.kernels import pad as kernels
from rhtann.layouts.output import empty_aligned
from rhtann.layouts.pad import next_pow2, scratch_for


def fwht(v: np.ndarray) -> np.ndarray:
    """Unnormalized Walsh-Hadamard transform (Sylvester order) of each row of ``v``, in float64."""
    v = np.array(v, dtype=np.float64)
    n, p = v.shape
    h = 1
    while h < p:
        v = v.reshape(n, p // (2 * h), 2, h)
        v = np.stack([v[:, :, 0] + v[:, :, 1], v[:, :, 0] - v[:, :, 1]], axis=2)
        h *= 2
    return v.reshape(n, p)


def reference(x: np.ndarray, signs: np.ndarray, rounds: int) -> np.ndarray:
    n, d = x.shape
    p = signs.shape[1]
    v = np.zeros((n, p))
    v[:, :d] = x
    for k in range(rounds):
        v = fwht(v * signs[k])
    return v * float(p) ** (-rounds / 2)


def forward(x, signs, rounds, *, threads=2, moments=False, stream=False, p=None):
    """Run :func:`kernels.rht_forward_tiled` as the layout does; returns (out, bad, over)."""
    n, d = x.shape
    p = p or next_pow2(d)
    out = empty_aligned((n, p), x.dtype)
    scratch, tw = scratch_for(n, p, threads, x.dtype)
    bad = np.zeros(scratch.shape[0], np.bool_)
    over = np.zeros(scratch.shape[0], np.bool_)
    mom = np.zeros((2, n if moments else 0), x.dtype)
    scale = x.dtype.type(float(p) ** (-rounds / 2))
    kernels.rht_forward_tiled(x, signs, rounds, scale, out, scratch, tw, bad, over, mom, stream)
    return out, bad, over


def random_signs(rng, rounds, p, dtype):
    return np.where(rng.random((rounds, p)) < 0.5, -1.0, 1.0).astype(dtype)


# span path from p = SPAN to SPAN_MAX (d a multiple of the span or not, with
# empty spans of padding), and the tiled path beyond it
DIMS = [50, 64, 100, 200, 256, 384, 768, 1000, 1024, 1536, 3072, 4097]


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_reference(d, dtype, rng):
    p = next_pow2(d)
    n = 37  # several chunks of rows, a partial last one
    x = rng.standard_normal((n, d)).astype(dtype)
    signs = random_signs(rng, 3, p, dtype)
    for rounds in (1, 3):
        out, bad, over = forward(x, signs, rounds)
        assert not bad.any() and not over.any()
        tol = 2e-6 * np.sqrt(np.log2(p) * rounds) if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(out, reference(x, signs, rounds), atol=tol * 4, rtol=0)


@pytest.mark.parametrize("d", [50, 200, 768, 1024, 2048, 4096])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_span_path_gives_the_tiled_paths_bits(d, dtype, rng):
    """Asking for the moments sends the rows through the tiled path: same stages, same rounding."""
    x = rng.standard_normal((40, d)).astype(dtype)
    signs = random_signs(rng, 3, next_pow2(d), dtype)
    spans, _, _ = forward(x, signs, 3)
    tiles, _, _ = forward(x, signs, 3, moments=True)
    np.testing.assert_array_equal(spans, tiles)
    streamed, _, _ = forward(x, signs, 3, stream=True)
    np.testing.assert_array_equal(streamed, spans)
    serial, _, _ = forward(x, signs, 3, threads=1)
    np.testing.assert_array_equal(serial, spans)


@pytest.mark.parametrize("d", [100, 1024])
def test_non_finite_input_and_overflow_are_told_apart(d, rng):
    x = rng.standard_normal((64, d)).astype(np.float32)
    signs = random_signs(rng, 3, next_pow2(d), np.float32)
    for value in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[50, d // 2] = value
        out, bad, over = forward(y, signs, 3, threads=1)
        assert bad.sum() == 1 and over.sum() == 1  # one chunk, the one with row 50
        assert not np.isfinite(out[50]).any()
        assert np.isfinite(np.delete(out, 50, axis=0)).all()
    # finite input whose transform overflows float32: stored infinities, no bad input
    y = x.copy()
    y[3] = np.finfo(np.float32).max
    out, bad, over = forward(y, signs, 1, threads=1)
    assert not bad.any() and over.sum() == 1
    assert not np.isfinite(out[3]).all()


def test_inverse_undoes_forward(rng):
    d = 768
    p = next_pow2(d)
    x = rng.standard_normal((33, d)).astype(np.float64)
    signs = random_signs(rng, 3, p, np.float64)
    y, _, _ = forward(x, signs, 3)
    back = np.empty_like(x)
    scratch, tw = scratch_for(33, p, 2, np.float64)
    bad = np.zeros(scratch.shape[0], np.bool_)
    over = np.zeros(scratch.shape[0], np.bool_)
    kernels.rht_inverse_tiled(
        y, signs, 3, float(p) ** -1.5, back, scratch, tw, bad, over, np.zeros((2, 0)), False
    )
    np.testing.assert_allclose(back, x, atol=1e-12)
