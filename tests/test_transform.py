"""Tests of the RHT class with fixed round counts and the padded layout."""

from __future__ import annotations

import pickle

import faiss
import numpy as np
import pytest
from scipy.linalg import hadamard

import rhtann
from rhtann.faiss_compat import repair_orthonormal

# Dimensions: powers of two, primes, odd numbers and common embedding sizes.
DIMS = [1, 2, 3, 5, 7, 8, 13, 31, 50, 64, 97, 100, 127, 128, 129, 255, 384, 511, 768, 1000]


def reference(x: np.ndarray, d: int, rounds: int, seed: int) -> np.ndarray:
    """Float64 reference built from the explicit Sylvester-Hadamard matrix."""
    p = 1 << max(d - 1, 0).bit_length()
    h = hadamard(p).astype(np.float64) / np.sqrt(p)
    signs = rhtann.transform.sign_vectors(seed, 3, p).astype(np.float64)
    v = np.zeros((x.shape[0], p))
    v[:, :d] = x
    for r in range(rounds):
        v = (v * signs[r]) @ h.T
    return v


@pytest.mark.parametrize("d", DIMS + [2048, 4096])
@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_equals_explicit_hadamard_reference(d, rounds, rng):
    n = 40 if d < 2048 else 3  # 40 rows use the tiled kernel, 3 the row kernel
    x = rng.standard_normal((n, d))
    rht = rhtann.RHT(d, rounds=rounds, seed=99)
    ref = reference(x, d, rounds, 99)
    y = rht.apply(x)
    assert y.shape == (n, rht.d_out) and y.dtype == np.float32
    # float32 butterflies: relative error grows like log2(p) * rounds * eps32
    np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())
    if d <= 1024:
        np.testing.assert_allclose(rht.matrix(), reference(np.eye(d), d, rounds, 99).T, atol=1e-12)


@pytest.mark.parametrize("d", [1, 3, 64, 96, 100, 128, 200, 1000, 1024])
@pytest.mark.parametrize("n", [1, 5, 40])
def test_equals_faiss_hadamard_rotation(d, n, rng):
    x = rng.standard_normal((n, d)).astype(np.float32)
    for seed in (0, 12345, 2**32 - 1):
        hr = faiss.HadamardRotation(d, seed)
        rht = rhtann.RHT(d, rounds=3, seed=seed, layout="pad")
        assert rht.d_out == hr.d_out
        np.testing.assert_allclose(rht.apply(x), hr.apply(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_isometry_and_exact_inverse(d, rounds, rng):
    x = rng.standard_normal((37, d)).astype(np.float32)
    rht = rhtann.RHT(d, rounds=rounds, seed=3)
    y = rht.apply(x)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-5)
    np.testing.assert_allclose(y @ y[:5].T, x @ x[:5].T, atol=1e-4 * d)
    back = rht.reverse_transform(y)
    assert back.shape == (37, d) and back.dtype == np.float32
    rel = np.abs(back - x).max() / np.abs(x).max()
    assert rel <= 1e-5


def test_inverse_of_foreign_vector_is_least_squares(rng):
    rht = rhtann.RHT(100, rounds=2, seed=1)
    a = rht.matrix()
    y = rng.standard_normal((4, rht.d_out))
    np.testing.assert_allclose(rht.reverse_transform(y), y @ a, atol=1e-5)


def test_threads_and_tile_edges_give_identical_results(rng):
    d = 200
    rht = rhtann.RHT(d, rounds=3, seed=5)
    x = rng.standard_normal((1000, d)).astype(np.float32)
    full = rht.apply(x)
    old = rhtann.get_num_threads()
    try:
        for threads in range(1, old + 1):
            rhtann.set_num_threads(threads)
            np.testing.assert_array_equal(rht.apply(x), full)
    finally:
        rhtann.set_num_threads(old)
    # any n: row kernel below 8 rows, 16-row tiles below 64 rows, 64-row tiles above,
    # with partial last tiles and uneven chunks of tiles per thread
    for n in (1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 257, 999):
        np.testing.assert_allclose(rht.apply(x[:n]), full[:n], atol=1e-6)
        np.testing.assert_allclose(rht.reverse_transform(full[:n]), x[:n], atol=1e-5)


def test_seeds(rng):
    x = rng.standard_normal((8, 100)).astype(np.float32)
    a = rhtann.RHT(100, seed=1).apply(x)
    np.testing.assert_array_equal(rhtann.RHT(100, seed=1).apply(x), a)
    assert not np.allclose(rhtann.RHT(100, seed=2).apply(x), a, atol=1e-3)
    # rounds are prefixes of one sign stream
    r1 = rhtann.RHT(100, rounds=1, seed=1)
    r3 = rhtann.RHT(100, rounds=3, seed=1)
    np.testing.assert_array_equal(r1.signs, r3.signs)


def test_input_kinds_accepted_and_not_modified(rng):
    rht = rhtann.RHT(128, rounds=2)
    base = rng.integers(0, 255, size=(50, 128)).astype(np.uint8)
    expected = rht.apply(base.astype(np.float32))
    for x in (
        base,
        base.astype(np.int64),
        base.astype(np.float64),
        np.asfortranarray(base.astype(np.float32)),
        np.repeat(base.astype(np.float32), 2, axis=1)[:, ::2],  # non-contiguous view
        base.astype(np.float32).tolist(),
    ):
        before = np.array(x, copy=True)
        np.testing.assert_allclose(rht.apply(x), expected, atol=1e-3)
        np.testing.assert_array_equal(np.asarray(x), before)
    empty = rht.apply(np.zeros((0, 128), np.float32))
    assert empty.shape == (0, rht.d_out) and empty.dtype == np.float32
    assert rht.reverse_transform(np.zeros((0, rht.d_out))).shape == (0, 128)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((3, 50), np.float32), ValueError, r"shape \(n, 64\); got shape \(3, 50\)"),
        (np.zeros(64, np.float32), ValueError, r"2-D array of shape \(n, 64\); got a 1-D"),
        (np.zeros((2, 2, 64), np.float32), ValueError, r"got a 3-D array of shape \(2, 2, 64\)"),
        (np.full((40, 64), np.nan, np.float32), ValueError, "NaN or infinite"),
        (np.array([[np.inf] + [0.0] * 63]), ValueError, "NaN or infinite"),
        (np.array([[1e300] * 64]), ValueError, "NaN or infinite"),  # overflows float32
        (np.zeros((2, 64), np.complex64), TypeError, "float or integer dtype.*complex64"),
        (np.array([["a"] * 64]), TypeError, "float or integer dtype"),
        (np.zeros((2, 64), bool), TypeError, "float or integer dtype.*bool"),
        (np.zeros((2, 64), object), TypeError, "float or integer dtype.*object"),
    ],
)
def test_bad_inputs(x, error, match):
    rht = rhtann.RHT(64)
    with pytest.raises(error, match=match):
        rht.apply(x)


def test_bad_reverse_inputs_and_parameters():
    rht = rhtann.RHT(100)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 128\); got shape \(2, 100\)"):
        rht.reverse_transform(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="NaN"):
        rht.reverse_transform(np.full((1, 128), np.nan))
    with pytest.raises(ValueError, match="rounds must be"):
        rhtann.RHT(10, rounds=4)
    with pytest.raises(ValueError, match=r"d must be in \[1, 1048576\]; got 0"):
        rhtann.RHT(0)
    with pytest.raises(TypeError, match="d must be an integer"):
        rhtann.RHT(10.5)
    with pytest.raises(ValueError, match="layout must be one of"):
        rhtann.RHT(10, layout="nope")
    with pytest.raises(ValueError, match="seed must be"):
        rhtann.RHT(10, seed=-1)


def test_sklearn_and_faiss_verbs(rng):
    x = rng.standard_normal((20, 30)).astype(np.float32)
    rht = rhtann.RHT(30, rounds=2)
    assert rht.fit(x) is rht and rht.is_trained
    np.testing.assert_array_equal(rht.transform(x), rht.apply_py(x))
    np.testing.assert_array_equal(rht.fit_transform(x), rht.apply(x))
    y = rht.apply(x)
    np.testing.assert_array_equal(rht.inverse_transform(y), rht.reverse_transform(y))
    rht.check_identical(rhtann.RHT(30, rounds=2))
    with pytest.raises(AssertionError):
        rht.check_identical(rhtann.RHT(30, rounds=3))


@pytest.mark.parametrize(("d", "rounds"), [(64, 3), (100, 3), (100, 1), (128, 2), (33, 2)])
def test_to_faiss_pipeline_matches_apply(d, rounds, rng, tmp_path):
    xb = rng.standard_normal((500, d)).astype(np.float32)
    xq = rng.standard_normal((20, d)).astype(np.float32)
    rht = rhtann.RHT(d, rounds=rounds, seed=11)
    vt = rht.to_faiss()
    expect_native = rounds == 3
    assert isinstance(vt, faiss.HadamardRotation) == expect_native
    assert (vt.d_in, vt.d_out) == (d, rht.d_out)
    np.testing.assert_allclose(vt.apply(xq), rht.apply(xq), atol=1e-5)

    pipeline = faiss.IndexPreTransform(vt, faiss.IndexFlatL2(rht.d_out))
    pipeline.add(xb)
    manual = faiss.IndexFlatL2(rht.d_out)
    manual.add(rht.apply(xb))
    d0, i0 = manual.search(rht.apply(xq), 10)
    d1, i1 = pipeline.search(xq, 10)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_allclose(d1, d0, rtol=1e-4, atol=1e-4)

    path = str(tmp_path / "pipe.faiss")
    faiss.write_index(pipeline, path)
    loaded = faiss.read_index(path)
    repair_orthonormal(loaded)
    d2, i2 = loaded.search(xq, 10)
    np.testing.assert_array_equal(i2, i0)
    if not expect_native or d == rht.d_out:
        np.testing.assert_allclose(loaded.reconstruct_n(0, 5), xb[:5], atol=1e-4)


def test_to_faiss_reversible_and_repair(rng):
    rht = rhtann.RHT(100, rounds=3, seed=4)
    lt = rht.to_faiss(reversible=True)
    assert isinstance(lt, faiss.LinearTransform)
    x = rng.standard_normal((10, 100)).astype(np.float32)
    np.testing.assert_allclose(lt.reverse_transform(lt.apply(x)), x, atol=1e-5)
    # faiss's own check refuses d_out > d_in; the repair recognises orthonormal columns
    idx = faiss.IndexPreTransform(lt, faiss.IndexFlatL2(128))
    lt.set_is_orthonormal()
    assert not lt.is_orthonormal
    assert repair_orthonormal(idx) == 1
    assert lt.is_orthonormal
    # a non-orthonormal matrix is flagged False
    bad = faiss.LinearTransform(4, 4, False)
    faiss.copy_array_to_vector(rng.standard_normal(16).astype(np.float32), bad.A)
    bad.is_trained = True
    bad.is_orthonormal = True
    repair_orthonormal(faiss.IndexPreTransform(bad, faiss.IndexFlatL2(4)))
    assert not bad.is_orthonormal


@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_save_load_and_pickle(rounds, tmp_path, rng):
    rht = rhtann.RHT(100, rounds=rounds, seed=2**40 + 3)
    x = rng.standard_normal((50, 100)).astype(np.float32)
    path = tmp_path / "t.rht"
    rht.save(path)
    back = rhtann.load(path)
    assert back == rht and isinstance(back, rhtann.RHT)
    np.testing.assert_array_equal(back.apply(x), rht.apply(x))
    clone = pickle.loads(pickle.dumps(rht))
    np.testing.assert_array_equal(clone.apply(x), rht.apply(x))
    assert repr(clone) == repr(rht)


def test_load_rejects_tampered_signs(tmp_path):
    from rhtann import io as _fileformat

    rht = rhtann.RHT(16, rounds=1, seed=5)
    signs = rht.signs.copy()
    signs[0, 0] *= -1
    path = tmp_path / "t.rht"
    _fileformat.write_container(path, "RHT", rht._state(), {"signs": signs.tobytes()})
    with pytest.raises(rhtann.FormatError, match="sign vectors differ"):
        rhtann.load(path)
    path.write_bytes(b"not a file at all")
    with pytest.raises(rhtann.FormatError, match="not an rhtann file"):
        rhtann.load(path)


def test_resolved_layout_is_saved_and_checked(tmp_path):
    from rhtann import io as _fileformat

    rht = rhtann.RHT(100, rounds=2, layout="auto")
    assert repr(rht.layout_).startswith(("KeepLayout", "PadLayout"))
    assert repr(rhtann.RHT(128, layout="auto").layout_) == "PadLayout(d=128, d_out=128)"
    state = rht._state()
    assert state["layout_resolved"] == repr(rht.layout_)
    state["layout_resolved"] = "PadLayout(d=100, d_out=128)"
    path = tmp_path / "t.rht"
    _fileformat.write_container(path, "RHT", state, {"signs": rht.signs.tobytes()})
    with pytest.raises(rhtann.FormatError, match="was saved as PadLayout"):
        rhtann.load(path)
    with pytest.raises(ValueError, match="was saved as"):
        rhtann.RHT._from_state(state)


def fast_reference(x, d, rounds, seed):
    """Float64 reference by butterflies (no explicit matrix): for p up to 8192."""
    n = x.shape[0]
    p = 1 << max(d - 1, 0).bit_length()
    signs = rhtann.transform.sign_vectors(seed, 3, p).astype(np.float64)
    v = np.zeros((n, p))
    v[:, :d] = x
    for r in range(rounds):
        v = v * signs[r]
        h = 1
        while h < p:
            w = v.reshape(n, p // (2 * h), 2, h)
            v = np.stack([w[:, :, 0] + w[:, :, 1], w[:, :, 0] - w[:, :, 1]], axis=2).reshape(n, p)
            h *= 2
    return v / p ** (rounds / 2)


@pytest.mark.parametrize(
    ("d", "n"), [(300, 9), (1000, 70), (1500, 9), (2048, 16), (2100, 33), (4096, 70), (5000, 17)]
)
@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_multi_block_tiles_equal_reference(d, n, rounds, rng):
    # p >= 512: 16-row tiles cut into blocks of 256 coordinates; partial
    # tiles, d % 16 != 0, whole zero blocks of padding (d = 2100 -> 4096) and
    # a block axis longer than one radix-16 pass (p = 8192)
    from rhtann.layouts.pad import blocked

    x = rng.standard_normal((n, d))
    rht = rhtann.RHT(d, rounds=rounds, seed=5)
    assert blocked(rht.d_out)
    ref = fast_reference(x, d, rounds, 5)
    y = rht.apply(x)
    np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())
    np.testing.assert_allclose(rht.reverse_transform(y), x, atol=2e-5 * np.abs(x).max())
    bad = x.astype(np.float32)
    bad[n // 2, d - 1] = np.nan  # last column: the scalar edge of the last block in use
    with pytest.raises(ValueError, match="NaN or infinite"):
        rht.apply(bad)
    bad = x.astype(np.float32)
    bad[n - 1, 17] = np.inf  # inside a full 16 x 16 block
    with pytest.raises(ValueError, match="NaN or infinite"):
        rht.apply(bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        rht.reverse_transform(np.where(np.arange(rht.d_out) == 300, np.nan, y).astype(np.float32))


@pytest.mark.parametrize(("d", "n"), [(3000, 70), (4096, 64), (2048, 130)])
def test_wide_tiles_match_faiss(d, n, rng):
    # tiles of several blocks (p >= 512), n a multiple of the 16-row tile or not
    x = rng.standard_normal((n, d)).astype(np.float32)
    rht = rhtann.RHT(d, rounds=3, seed=8)
    np.testing.assert_allclose(rht.apply(x), faiss.HadamardRotation(d, 8).apply(x), atol=2e-6)
    np.testing.assert_allclose(rht.reverse_transform(rht.apply(x)), x, atol=1e-5)


@pytest.mark.parametrize("layout", ["pad", "keep"])
def test_apply_into_preallocated_output(layout, rng):
    rht = rhtann.RHT(100, rounds=2, layout=layout)
    x = rng.standard_normal((70, 100)).astype(np.float32)
    out = np.full((70, rht.d_out), 7.0, np.float32)
    y = rht.apply(x, out=out)
    assert y is out
    np.testing.assert_array_equal(out, rht.apply(x))
    for bad in (np.empty((70, rht.d_out), np.float64), np.empty((69, rht.d_out), np.float32),
                np.empty((rht.d_out, 70), np.float32).T):
        with pytest.raises(ValueError, match="out must be a writeable C-contiguous float32 array"):
            rht.apply(x, out=bad)


@pytest.mark.parametrize(("d", "n"), [(7, 5), (128, 3), (128, 100), (100, 300), (1000, 77), (3000, 70)])
def test_moment_sums_fused_into_the_first_round(d, n, rng):
    # row kernel (n < 8), 16- and 64-row tiles, block edges (d % 16 != 0), wide tiles
    x = rng.standard_normal((n, d)).astype(np.float32)
    x[0] = 0.0
    rht = rhtann.RHT(d, rounds=2, seed=4)
    sums = np.zeros((2, n), np.float32)
    y, bad = rht.layout_.forward(x, rht.signs, 2, moments=sums)
    assert not bad
    np.testing.assert_array_equal(y, rht.apply(x))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(sums[0], (x64**2).sum(1), rtol=1e-5)
    np.testing.assert_allclose(sums[1], (x64**4).sum(1), rtol=1e-5)


@pytest.mark.parametrize("target", ["scalar", "vq"])
def test_adaptive_counts_equal_choose_rounds(target, rng):
    from rhtann import synthetic
    from rhtann.rounds import DEFAULT_THRESHOLD

    d = 200
    rht = rhtann.RHT(d, seed=3, target=target)
    parts = list(synthetic.worst_case_suite(d, 40, seed=1).values())
    # rows with kappa = d_out * rho4 right at the threshold: the fused float32
    # sums are re-checked exactly there
    m = int(round(rht.d_out / DEFAULT_THRESHOLD))
    edge = np.zeros((3, d), np.float32)
    edge[:, :m] = 1.0
    big = rng.standard_normal((3, d)).astype(np.float32) * np.float32(1e12)  # x^4 overflows float32
    x = np.vstack([p.astype(np.float32) for p in parts] + [edge, big])
    y, k = rht.apply_adaptive(x)
    np.testing.assert_array_equal(k, rhtann.choose_rounds(x, target=target, rht=rht))
    for r in np.unique(k):
        rows = k == r
        ref = rhtann.RHT(d, rounds=int(r), seed=3).apply(x[rows])
        np.testing.assert_allclose(y[rows], ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    bad = x[:50].copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        rht.apply_adaptive(bad)


def test_large_outputs_streamed_equal_cached_stores(rng):
    # outputs of >= 8 MiB with 64-byte aligned rows are written with
    # non-temporal stores; any other output with ordinary ones
    from rhtann.layouts.output import STREAM_BYTES, empty_aligned, streams

    d, n = 1000, 2100  # d_out = 1024: 2100 rows are 8.4 MiB
    rht = rhtann.RHT(d, rounds=3, seed=2)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rht.apply(x)
    assert y.nbytes >= STREAM_BYTES and streams(y)
    raw = np.empty(y.size + 1, np.float32)
    unaligned = raw[1:].reshape(y.shape)  # 4 bytes off a 64-byte boundary at best
    assert not streams(unaligned)
    np.testing.assert_array_equal(rht.apply(x, out=unaligned), y)
    np.testing.assert_array_equal(rht.apply(x[:100]), y[:100])  # small: cached stores
    z = rhtann.RHT(1024, rounds=2, seed=2)  # inverse output of 1024 columns: streamed too
    yz = z.apply(rng.standard_normal((n, 1024)).astype(np.float32))
    back = z.reverse_transform(yz)
    assert streams(back)
    np.testing.assert_array_equal(back[:50], z.reverse_transform(yz[:50]))
    assert not streams(empty_aligned((4, 1000), np.float32))  # small
    assert empty_aligned((3, 5), np.float64).ctypes.data % 64 == 0


def test_streamed_float64_matrix():
    # matrix() runs the float64 kernel; at d = 1100 (d_out = 2048) its output
    # is 18 MB, so it is written with non-temporal stores
    from rhtann.layouts.output import streams

    rht = rhtann.RHT(1100, rounds=3, seed=6)
    a = rht.matrix()
    eye = np.eye(1100)
    plain = np.empty((1100 * 2048 + 1,))[1:].reshape(1100, 2048)  # unaligned: cached stores
    assert not streams(plain)
    ref, bad = rht.layout_.forward(eye, rht.signs.astype(np.float64), 3, out=plain)
    assert not bad
    np.testing.assert_array_equal(a, ref.T)
    np.testing.assert_allclose(a.T @ a, np.eye(1100), atol=1e-12)


def test_warmup_prepares_only_the_layouts_asked_for():
    """Kernels are compiled per layout on first use; warmup loads exactly those asked for."""
    import subprocess
    import sys

    code = (
        "import rhtann\n"
        "from rhtann.kernels import keep as _kernels_keep, pad as _kernels\n"
        "assert not _kernels_keep.keep_forward.signatures and not _kernels.rht_forward_tiled.signatures\n"
        "t = rhtann.warmup(('pad',))\n"
        "assert t > 0 and _kernels.rht_forward_tiled.signatures and _kernels.rht_forward_rows.signatures\n"
        "k = _kernels_keep\n"
        "assert not k.keep_forward.signatures and not k.keep_forward_serial.signatures\n"
        "rhtann.warmup(('keep',), inverse=True)\n"
        "assert _kernels_keep.keep_forward.signatures and _kernels_keep.keep_forward_serial.signatures\n"
        "assert _kernels_keep.keep_inverse.signatures and _kernels_keep.keep_inverse_serial.signatures\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("ok")
