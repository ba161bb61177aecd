"""The keep layout's kernels: the per-row span path against the tiled kernels and a dense reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rhtann.kernels import keep_span
from rhtann.layouts import hadamard
from rhtann.layouts.keep import KeepLayout, keep_permutation, span_plan
from rhtann.signs import sign_vectors

# natural span layout (M >= 64): Sylvester only, one core, two cores (the smallest such d;
# its dense reference is a 9216 x 9216 product, so it runs for three rounds only)
TWO_CORES = 12 * 12 * 64
NATURAL = [64, 128, 256, 768, 1024, 1536, TWO_CORES]
# blocked span layout (M < 64): one dense core, inner core padded, three factors
BLOCKED = [12, 48, 96, 100, 784, 960]


def dense_reference(d: int, signs: np.ndarray, first: int, rounds: int, x: np.ndarray,
                    perm_kind: str | None = None) -> np.ndarray:
    """Rounds ``first .. first+rounds-1`` of the keep transform as dense float64 products."""
    cores, m = hadamard.hadamard_plan(d)
    h = hadamard.plan_matrix(cores, m).astype(np.float64) / math.sqrt(d)
    perm = keep_permutation(d, perm_kind or KeepLayout(d).perm_kind)
    v = x.astype(np.float64)
    for r in range(first, first + rounds):
        if r >= 1:
            v = v[:, perm]
        v = (v * signs[r]) @ h.T
    return v


def paths(lay: KeepLayout, x, signs, rounds, first=0):
    lay.use_span = False
    tiled = lay.forward_checked(x, signs, rounds, first=first)
    lay.use_span = True
    span = lay.forward_checked(x, signs, rounds, first=first)
    lay.use_span = None
    return tiled, span


ROUND_CASES = [(0, 3), (0, 1), (1, 2), (2, 1)]


@pytest.mark.parametrize(
    ("d", "first", "rounds"),
    [(d, f, r) for d in NATURAL + BLOCKED for f, r in ROUND_CASES if d != TWO_CORES or (f, r) == (0, 3)],
)
def test_span_matches_tiled_and_dense_float64(d, first, rounds):
    lay = KeepLayout(d)
    assert lay.span is not None and lay.span.natural == (d in NATURAL)
    rng = np.random.default_rng(d + 10 * first + rounds)
    signs = sign_vectors(d, 3, lay.sign_length).astype(np.float64)
    # 1 row, a partial group of rows, and enough rows for the parallel kernel
    for n in (1, 5, 37):
        x = rng.standard_normal((n, d))
        (yt, bt, ot), (ys, bs, os_) = paths(lay, x, signs, rounds, first)
        ref = dense_reference(d, signs, first, rounds, x)
        scale = np.abs(ref).max()
        np.testing.assert_allclose(ys, ref, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(ys, yt, rtol=0, atol=1e-12 * scale)
        assert not (bt or ot or bs or os_)


@pytest.mark.parametrize("d", [256, 768, 1536])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_span_with_the_shuffle_permutation(d, dtype):
    # the permutation of earlier versions stays available on the natural span layout
    # (gathered values instead of block loads); both dtypes, 3 rounds and a later start
    lay = KeepLayout(d, perm="shuffle")
    assert lay.span.natural and not lay.span.blocks and KeepLayout(d).span.blocks
    rng = np.random.default_rng(d)
    x = rng.standard_normal((9, d)).astype(dtype)
    signs = sign_vectors(5, 3, lay.sign_length).astype(dtype)
    for first, rounds in ((0, 3), (1, 2)):
        (yt, _, _), (ys, _, _) = paths(lay, x, signs, rounds, first)
        ref = dense_reference(d, signs.astype(np.float64), first, rounds, x, "shuffle")
        tol = 3 * math.log2(d) * np.finfo(dtype).eps * np.linalg.norm(x, axis=1, keepdims=True)
        assert np.all(np.abs(ys - ref) <= tol) and np.all(np.abs(yt - ref) <= tol)
        new = KeepLayout(d).forward(x, signs, rounds, first=first)[0]
        assert np.abs(new - ys).max() > 0.1  # the default permutation differs


@pytest.mark.parametrize("d", [100, 768, 784, 1024])
def test_span_float32_within_rounding(d):
    lay = KeepLayout(d)
    rng = np.random.default_rng(d)
    x = rng.standard_normal((40, d)).astype(np.float32)
    signs = sign_vectors(3, 3, lay.sign_length).astype(np.float32)
    (yt, _, _), (ys, _, _) = paths(lay, x, signs, 3)
    ref = dense_reference(d, signs.astype(np.float64), 0, 3, x)
    assert ys.dtype == np.float32
    # each output is a sum of 3 log2(d) roundings at most, relative to the row norm
    tol = 3 * math.log2(d) * np.finfo(np.float32).eps * np.linalg.norm(x, axis=1, keepdims=True)
    assert np.all(np.abs(ys - ref) <= tol)
    assert np.all(np.abs(ys - yt) <= 2 * tol)
    # orthogonal: norms kept to float32 rounding
    np.testing.assert_allclose(np.linalg.norm(ys, axis=1), np.linalg.norm(x, axis=1), rtol=1e-5)


@pytest.mark.parametrize("d", [100, 768, 960])
def test_span_reports_non_finite_rows(d):
    lay = KeepLayout(d)
    rng = np.random.default_rng(1)
    signs = sign_vectors(5, 3, lay.sign_length)
    x = rng.standard_normal((24, d))
    x[9, 3] = np.nan
    x[17, d - 1] = np.inf
    lay.use_span = True
    y, bad, over = lay.forward_checked(x, signs, 2)
    assert bad and over
    finite = np.all(np.isfinite(y), axis=1)
    # a non-finite input reaches every coordinate of its row and no other row
    assert not finite[9] and not finite[17]
    keep = np.setdiff1d(np.arange(24), [9, 17])
    assert finite[keep].all()
    np.testing.assert_allclose(y[keep], dense_reference(d, signs, 0, 2, x[keep]), atol=1e-12)
    # finite input, overflowing output
    big = np.full((3, d), np.finfo(np.float64).max / 2)
    _, bad, over = lay.forward_checked(big, signs, 1)
    assert not bad and over


def test_span_kernel_serial_and_parallel_agree():
    """The serial kernel and the parallel one over uneven chunks store the same rows."""
    d = 100
    lay = KeepLayout(d)
    sp = lay.span
    rng = np.random.default_rng(2)
    x = rng.standard_normal((23, d))
    signs = sign_vectors(9, 3, d)
    ssc = np.zeros((3, sp.p))
    ssc[:, sp.real] = signs[:, sp.nat[sp.real]] / math.sqrt(d)
    mats, mat_t = sp.tables(np.float64)
    outs = []
    runs = ((1, 23, keep_span.span_blocked_forward_serial), (3, 8, keep_span.span_blocked_forward))
    for nch, per, kernel in runs:
        out = np.full((23, d), np.nan)
        bufs = np.zeros((nch, 3, sp.rows, sp.p))
        bad = np.zeros(nch, dtype=np.bool_)
        over = np.zeros(nch, dtype=np.bool_)
        kernel(x, out, 3, ssc, sp.gx, sp.gbuf, sp.fin, sp.kin, sp.col_k, sp.col_s, sp.col_m, mats,
               mat_t, bufs[:, 0], bufs[:, 1], per, bad, over)
        assert not bad.any() and not over.any()
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_allclose(outs[0], dense_reference(d, signs, 0, 3, x), atol=1e-12)


def test_span_plan_tables():
    # 784 = 28 (x) 28: inner digit padded to 32, the other at stride 32
    sp = span_plan(784)
    assert not sp.natural and sp.kin == 28 and sp.p == 28 * 32 and sp.rows == 1
    assert list(sp.col_k) == [28] and list(sp.col_s) == [32]
    # every coordinate has one buffer position, pads hold none
    assert sorted(sp.fin) == list(sp.real) and len(sp.real) == 784
    np.testing.assert_array_equal(sp.nat[sp.fin], np.arange(784))
    # 960 = 12 (x) 20 (x) 4: the factor 20 runs along the contiguous index (least padding)
    sp = span_plan(960)
    assert sp.kin == 20 and sorted(sp.col_k) == [4, 12]
    # 100: one dense core, 4 rows share the buffers
    assert span_plan(100).rows == 4
    # natural layout: cores at strides that are multiples of M
    sp = span_plan(1536)
    assert sp.natural and sp.m == 128 and list(sp.col_s) == [128]
    # no span path: windows mode, or a factor of order 2 that is not the inner one
    assert span_plan(50) is None and span_plan(200) is None and span_plan(1) is None


def test_zero_rounds_is_the_identity_on_both_paths():
    x = np.random.default_rng(5).standard_normal((3, 768))
    s = sign_vectors(1, 3, 768)
    (yt, _, _), (ys, _, _) = paths(KeepLayout(768), x, s, 0)
    np.testing.assert_array_equal(yt, x)
    np.testing.assert_array_equal(ys, x)


def test_path_choice_depends_on_d_only():
    for n in (1, 16, 10**6):
        assert KeepLayout(768).takes_span(n) and not KeepLayout(784).takes_span(n)
    lay = KeepLayout(784)
    lay.use_span = True
    assert lay.takes_span(10**6)
    assert not KeepLayout(50).takes_span(1)


@pytest.mark.parametrize("d", [768, 1024])
def test_span_bits_do_not_depend_on_the_batch(d):
    lay = KeepLayout(d)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((70, d)).astype(np.float32)
    s = sign_vectors(6, 3, d).astype(np.float32)
    y, _ = lay.forward(x, s, 3)
    rows = np.concatenate([lay.forward(x[i : i + 7], s, 3)[0] for i in range(0, 70, 7)])
    np.testing.assert_array_equal(y, rows)
