"""Tests of the "keep" and "auto" layouts."""

from __future__ import annotations

import pickle

import faiss
import numpy as np
import pytest
from scipy import stats

import rhtann
from rhtann.layouts import LAYOUTS, make_layout
from rhtann.layouts.auto import AUTO_MAX_SPREAD, auto_choice
from rhtann.layouts.keep import (
    KeepLayout,
    block_permutation,
    block_permuted,
    fixed_permutation,
    keep_mode,
    keep_permutation,
    variance_spread,
    window_order,
)
from rhtann.layouts.pad import PadLayout
from rhtann.signs import sign_vectors

# d = 2 .. 2100: every d up to 260, then every 7th (all residues mod 4 and
# mod 8 occur), plus the bench dimensions and the ends of the range.
DENSE_DIMS = sorted(
    set(range(2, 261)) | set(range(261, 2101, 7)) | {300, 384, 768, 784, 960, 1536, 2099, 2100}
)


def signs_for(layout, seed: int) -> np.ndarray:
    return sign_vectors(seed, 3, layout.sign_length).astype(np.float64)


def test_registry():
    assert {"pad", "keep", "auto"} <= set(LAYOUTS)
    assert isinstance(make_layout("keep", 100), KeepLayout)
    with pytest.raises(ValueError, match="layout must be one of"):
        make_layout("nope", 10)


def test_modes():
    assert keep_mode(128) == "sylvester" and keep_mode(2) == "sylvester"
    assert keep_mode(100) == "hadamard" and keep_mode(784) == "hadamard"
    assert keep_mode(50) == "windows" and keep_mode(2099) == "windows"
    assert repr(KeepLayout(784)) == "KeepLayout(d=784, mode='hadamard', window=784, cores=[28, 28], M=1)"
    for d in (3, 50, 300, 1000, 2100):
        h = window_order(d)
        assert d / 2 < h <= d and KeepLayout(d).window == h


@pytest.mark.parametrize("d", DENSE_DIMS)
def test_orthogonal_and_exact_inverse_every_d(d):
    """Norms preserved and the inverse exact, float64, for every round count."""
    lay = KeepLayout(d)
    assert lay.d_out == d
    rng = np.random.default_rng(d)
    x = rng.standard_normal((3, d))
    s = signs_for(lay, d)
    for rounds in (1, 2, 3):
        y, bad = lay.forward(x, s, rounds)
        assert not bad and y.shape == (3, d)
        np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)
        back, bad = lay.inverse(y, s, rounds)
        assert not bad
        np.testing.assert_allclose(back, x, atol=1e-12)


@pytest.mark.parametrize(
    "d", list(range(2, 70)) + [92, 100, 116, 129, 200, 300, 384, 784, 1000]
)
def test_matrix_is_orthogonal(d):
    rht = rhtann.RHT(d, rounds=3, seed=d, layout="keep")
    a = rht.matrix()
    assert a.shape == (d, d)
    np.testing.assert_allclose(a.T @ a, np.eye(d), atol=1e-12)
    # one round already sends every input coordinate to every output
    # coordinate (windows overlap): summed over a few seeds, so that a chance
    # cancellation (an entry is a sum of +-1 terms, exactly 0 with probability
    # <= 1/2 per draw) does not hide a structural zero, no entry is 0
    reach = sum(np.abs(rhtann.RHT(d, rounds=1, seed=s, layout="keep").matrix()) for s in range(12))
    assert (reach > 1e-12).all()


@pytest.mark.parametrize("d", [50, 100, 300, 784])
def test_rht_float32_roundtrip_and_matrix_agree(d, rng):
    x = rng.standard_normal((40, d)).astype(np.float32)
    for rounds in (1, 2, 3):
        rht = rhtann.RHT(d, rounds=rounds, seed=7, layout="keep")
        y = rht.apply(x)
        assert y.shape == (40, d) and y.dtype == np.float32
        np.testing.assert_allclose(y, x @ rht.matrix().T, atol=2e-5)
        np.testing.assert_allclose(rht.reverse_transform(y), x, atol=2e-5)


@pytest.mark.parametrize("d", [50, 100, 784])
def test_first_continues_the_transform(d, rng):
    lay = KeepLayout(d)
    s = signs_for(lay, 3)
    x = rng.standard_normal((5, d))
    y3, _ = lay.forward(x, s, 3)
    y1, _ = lay.forward(x, s, 1)
    y12, _ = lay.forward(y1, s, 2, first=1)
    np.testing.assert_allclose(y12, y3, atol=1e-12)
    y2, _ = lay.forward(y1, s, 1, first=1)
    y23, _ = lay.forward(y2, s, 1, first=2)
    np.testing.assert_allclose(y23, y3, atol=1e-12)


@pytest.mark.parametrize("d", [50, 100, 784])
def test_parallel_and_serial_paths_agree(d, rng):
    lay = KeepLayout(d)
    s = signs_for(lay, 11).astype(np.float32)
    x = rng.standard_normal((300, d)).astype(np.float32)
    y, bad = lay.forward(x, s, 3)  # many tiles: parallel kernel
    assert not bad
    rows = np.concatenate([lay.forward(x[i : i + 5], s, 3)[0] for i in range(0, 300, 5)])
    np.testing.assert_array_equal(y, rows)
    back, _ = lay.inverse(y, s, 3)
    np.testing.assert_allclose(back, x, atol=2e-5)


@pytest.mark.parametrize("n", [3, 300])
def test_non_finite_input_is_flagged(n, rng):
    lay = KeepLayout(100)
    s = signs_for(lay, 1)
    x = rng.standard_normal((n, 100))
    assert not lay.forward(x, s, 2)[1]
    x[n - 1, 17] = np.nan
    assert lay.forward(x, s, 2)[1]
    assert lay.inverse(x, s, 2)[1]
    x[n - 1, 17] = np.inf
    assert lay.forward(x, s, 2)[1]
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        rhtann.RHT(100, layout="keep").apply(x.astype(np.float32))


@pytest.mark.parametrize("d", [1, 2, 64, 128, 1024])
def test_keep_round_zero_equals_pad_for_powers_of_two(d, rng):
    x = rng.standard_normal((20, d)).astype(np.float32)
    keep = rhtann.RHT(d, rounds=1, seed=5, layout="keep")
    pad = rhtann.RHT(d, rounds=1, seed=5, layout="pad")
    np.testing.assert_allclose(keep.apply(x), pad.apply(x), atol=1e-5)
    # later rounds start with the fixed permutation, so three rounds differ
    # from faiss.HadamardRotation (d >= 4; a 2-element permutation may be trivial)
    keep3 = rhtann.RHT(d, rounds=3, seed=5, layout="keep")
    assert isinstance(keep3.to_faiss(), faiss.LinearTransform)
    if d >= 64:
        hr = faiss.HadamardRotation(d, 5)
        assert np.abs(keep3.apply(x) - hr.apply(x)).max() > 0.1


@pytest.mark.parametrize("d", [50, 100, 784])
def test_determinism_by_seed(d, rng):
    x = rng.standard_normal((10, d)).astype(np.float32)
    a = rhtann.RHT(d, seed=42, layout="keep").apply(x)
    b = rhtann.RHT(d, seed=42, layout="keep").apply(x)
    c = rhtann.RHT(d, seed=43, layout="keep").apply(x)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1
    # the fixed permutation depends on d only, and is a permutation
    p = fixed_permutation(d)
    assert np.array_equal(np.sort(p), np.arange(d))
    assert np.array_equal(p, fixed_permutation.__wrapped__(d))


@pytest.mark.parametrize("d", [64, 128, 768, 1536, 3072])
def test_block_permutation_structure(d):
    perm, bsrc, lperm = block_permutation(d)
    nb = d // 8
    assert perm.dtype == np.int64 and bsrc.shape == (nb,) and lperm.shape == (nb, 8)
    assert np.array_equal(np.sort(perm), np.arange(d))
    assert np.array_equal(np.sort(bsrc // 8), np.arange(nb)) and np.all(bsrc % 8 == 0)
    assert np.array_equal(np.sort(lperm, axis=1), np.tile(np.arange(8), (nb, 1)))
    # span g, row a, column b holds lane a of block j = 8 g + b after its lane shuffle
    g, a, b = np.meshgrid(np.arange(d // 64), np.arange(8), np.arange(8), indexing="ij")
    j = 8 * g + b
    assert np.array_equal(perm[64 * g + 8 * a + b], bsrc[j] + lperm[j, a])
    # lane shuffles differ between blocks (a shared set keeps a lane pattern)
    assert len({tuple(r) for r in lperm.tolist()}) > nb // 2
    assert np.array_equal(perm, block_permutation.__wrapped__(d)[0])
    assert not perm.flags.writeable and not lperm.flags.writeable


def test_block_permutation_where_it_applies():
    # the natural span layout (Sylvester factor of order >= 64) from d = 256 on
    assert [d for d in (50, 64, 100, 128, 256, 384, 768, 784, 960, 1024, 1536) if block_permuted(d)] == [
        256, 768, 1024, 1536]
    for d in (256, 768):
        assert KeepLayout(d).perm_kind == "blocks" and "perm='blocks'" in repr(KeepLayout(d))
    for d in (100, 128, 784):
        assert KeepLayout(d).perm_kind == "shuffle" and "perm" not in repr(KeepLayout(d))
    with pytest.raises(ValueError, match="multiple of 64"):
        block_permutation(100)
    with pytest.raises(ValueError, match="perm='blocks'"):
        KeepLayout(784, perm="blocks")
    with pytest.raises(ValueError, match="perm='blocks'"):
        KeepLayout(128, perm="blocks")
    with pytest.raises(ValueError, match="perm must be one of"):
        KeepLayout(768, perm="random")


def test_transform_saved_with_the_shuffle_permutation_loads_as_saved(tmp_path, rng):
    # a state written before the block permutation became the default for d = 768
    d = 768
    x = rng.standard_normal((6, d)).astype(np.float32)
    new = rhtann.RHT(d, rounds=3, seed=4, layout="keep")
    state = new._state()
    old_repr = repr(KeepLayout(d, perm="shuffle"))
    state["layout_resolved"] = old_repr
    old = rhtann.RHT._from_state(state)
    assert old.layout_.perm_kind == "shuffle" and repr(old.layout_) == old_repr
    lay = KeepLayout(d, perm="shuffle")
    ref = lay.forward(x, old.signs_, 3)[0]
    np.testing.assert_allclose(old.apply(x), ref, atol=1e-5)
    assert np.abs(old.apply(x) - new.apply(x)).max() > 0.1
    np.testing.assert_allclose(old.reverse_transform(old.apply(x)), x, atol=1e-4)
    # save/load and pickling keep the old permutation; the new default stays new
    old.save(tmp_path / "old.rht")
    back = rhtann.load(tmp_path / "old.rht")
    assert back.layout_.perm_kind == "shuffle"
    np.testing.assert_array_equal(back.apply(x), old.apply(x))
    assert pickle.loads(pickle.dumps(old)).layout_.perm_kind == "shuffle"
    with pytest.raises(AssertionError, match="layouts differ"):
        old.check_identical(new)
    # any other saved layout still fails clearly
    state["layout_resolved"] = old_repr.replace("M=64", "M=32")
    with pytest.raises(ValueError, match="the transform would differ"):
        rhtann.RHT._from_state(state)


@pytest.mark.parametrize("d", [50, 100, 384])
def test_to_faiss_equivalence(d, rng):
    xb = rng.standard_normal((500, d)).astype(np.float32)
    xq = rng.standard_normal((20, d)).astype(np.float32)
    rht = rhtann.RHT(d, rounds=3, seed=9, layout="keep")
    vt = rht.to_faiss()
    assert isinstance(vt, faiss.LinearTransform) and vt.d_out == d
    index = faiss.IndexPreTransform(vt, faiss.IndexFlatL2(rht.d_out))
    index.add(xb)
    dist, ids = index.search(xq, 10)
    ref = faiss.IndexFlatL2(rht.d_out)
    ref.add(rht.apply(xb))
    dist_ref, ids_ref = ref.search(rht.apply(xq), 10)
    np.testing.assert_array_equal(ids, ids_ref)
    np.testing.assert_allclose(dist, dist_ref, rtol=1e-4)
    np.testing.assert_allclose(vt.apply(xq), rht.apply(xq), atol=1e-5)


def test_variance_spread():
    # exact Hadamard modes have identical variances for every input coordinate
    # (a permutation between rounds keeps that)
    assert variance_spread(100, 1) == 0.0 and variance_spread(128, 1) == 0.0
    # windows mode: at most (d - h) / h after one round, non-increasing after
    for d in (3, 7, 50, 300, 1000, 2100):
        h = window_order(d)
        s = [variance_spread(d, r) for r in (1, 2, 3)]
        assert s[0] <= (d - h) / h + 1e-12
        assert s[0] >= s[1] >= s[2]
    assert variance_spread(50, 2) < 1e-3


def test_variance_spread_matches_brute_force():
    # E[A_ij^2] over the signs, from the full matrix of expected squares
    d = 50
    h = window_order(d)
    perm = fixed_permutation(d)
    p = np.eye(d)
    for r in range(2):
        if r:
            p = p[perm]
        for lo in (0, d - h, 0):
            p[lo : lo + h] = p[lo : lo + h].mean(axis=0)
    assert variance_spread(d, 2) == pytest.approx(np.abs(d * p - 1).max(), abs=1e-12)
    # and from the sampled transform: the mean of A_ij^2 over 200 seeds agrees
    # with the one-round matrix of expected squares within 6 standard errors
    # per entry (normal approximation: a false alarm has probability < 1e-8
    # per entry, < 3e-5 over the 2500 entries)
    lay = KeepLayout(d)
    sq = np.stack([lay.forward(np.eye(d), signs_for(lay, seed), 1)[0].T ** 2 for seed in range(200)])
    p1 = np.eye(d)
    for lo in (0, d - h, 0):
        p1[lo : lo + h] = p1[lo : lo + h].mean(axis=0)
    se = sq.std(axis=0) / np.sqrt(len(sq))
    assert (np.abs(sq.mean(axis=0) - p1) <= 6 * se + 1e-12).all()
    # a wrong model (uniform 1/d) is rejected by the same check
    assert not (np.abs(sq.mean(axis=0) - 1 / d) <= 6 * se + 1e-12).all()


def test_auto_rule():
    for d in (1, 2, 64, 128, 1024, 4096):
        assert auto_choice(d) == "pad"
        assert isinstance(make_layout("auto", d), PadLayout)
    for d in (100, 200, 384, 768, 784, 960, 1536):
        assert auto_choice(d) == "keep"
    for d in range(3, 600):
        if keep_mode(d) == "windows":
            expect = "keep" if variance_spread(d, 2) <= AUTO_MAX_SPREAD else "pad"
            assert auto_choice(d) == expect
    assert auto_choice(50) == "keep" and auto_choice(3) == "pad"
    rht = rhtann.RHT(100, layout="auto")
    assert rht.d_out == 100
    hr = rhtann.RHT(96 + 32, layout="auto", seed=3).to_faiss()
    assert isinstance(hr, faiss.HadamardRotation)


@pytest.mark.parametrize("d", [100, 768])
def test_two_round_marginal_is_close_to_gaussian(d):
    """KS distance of coordinate 0 after 2 rounds, input = indicator of e0..e3.

    Bound: for a unit x, one round gives E[sum_i y_i^4] = (3 - 2 rho4(x)) / d
    for any Hadamard matrix (theory.md A.4 (ii)); rho4 = 1/4 here, so
    E[rho4(y)] = 2.5 / d. Given y, the second round makes coordinate 0 a
    Rademacher sum, within 0.56 * rho3(y) <= 0.56 * sqrt(rho4(y)) of N(0, 1)
    in Kolmogorov distance (Berry-Esseen, Shevtsova's constant); averaging over
    y and Jensen give KS <= 0.56 * sqrt(2.5 / d): 0.0885 at d = 100, 0.0320 at
    d = 768. Sampling: with T = 6000 independent sign draws the DKW inequality
    puts the empirical CDF within sqrt(ln(2 / 1e-6) / (2 T)) = 0.0491 of the
    true one with probability 1 - 1e-6. One round gives about 0.19 here
    (theory.md B.1), so the test can fail.
    """
    trials = 6000
    lay = KeepLayout(d)
    assert lay.mode == "hadamard"  # 100 = Paley II of 49; 768 = H_12 (x) H_64
    x = np.zeros((1, d))
    x[0, :4] = 0.5
    rng = np.random.default_rng(77)
    z = np.empty(trials)
    signs = rng.integers(0, 2, size=(trials, 3, lay.sign_length)).astype(np.float64) * 2 - 1
    for t in range(trials):
        y, _ = lay.forward(x, signs[t], 2)
        z[t] = y[0, 0] * np.sqrt(d)
    bound = 0.56 * np.sqrt(2.5 / d) + np.sqrt(np.log(2 / 1e-6) / (2 * trials))
    ks = stats.kstest(z, "norm").statistic
    assert ks < bound
    # and one round is far from Gaussian on this input (the test has power)
    z1 = np.array([lay.forward(x, signs[t], 1)[0][0, 0] * np.sqrt(d) for t in range(500)])
    assert stats.kstest(z1, "norm").statistic > bound


@pytest.mark.parametrize("layout", ["keep", "auto"])
def test_save_load_and_pickle(layout, tmp_path, rng):
    import pickle

    x = rng.standard_normal((8, 50)).astype(np.float32)
    rht = rhtann.RHT(50, rounds=2, seed=21, layout=layout)
    path = tmp_path / "rht.bin"
    rht.save(path)
    back = rhtann.load(path)
    assert back == rht and back.d_out == 50
    np.testing.assert_array_equal(back.apply(x), rht.apply(x))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(rht)).apply(x), rht.apply(x))


def test_bad_dimension():
    with pytest.raises(ValueError, match="d must be >= 1"):
        KeepLayout(0)


def dense_reference(lay, s: np.ndarray, rounds: int) -> np.ndarray:
    """The keep transform as a float64 matrix, built from its definition with numpy."""
    from rhtann.layouts.hadamard import plan_matrix

    d, h = lay.d, lay.window
    hm = plan_matrix(*lay.plan).astype(np.float64) / np.sqrt(h)
    starts = [0] if lay.mode != "windows" else [0, d - h, 0]
    perm = keep_permutation(d, lay.perm_kind)
    a = np.eye(d)
    for r in range(rounds):
        if r:
            a = a[perm]
        for k, lo in enumerate(starts):
            step = np.eye(d)
            step[lo : lo + h, lo : lo + h] = hm * s[r, k * d + lo : k * d + lo + h]
            a = step @ a
    return a


# powers of two, Hadamard plans with one, two and three cores (12, 20, 28, 44,
# 60, 100 among them, so every group size 4 and 5 and ragged last groups
# occur), with and without a Sylvester factor, and windows of every kind
REFERENCE_DIMS = [1, 2, 3, 4, 7, 12, 20, 24, 28, 44, 50, 60, 64, 100, 120, 144, 200, 240, 336, 400, 784, 960]


@pytest.mark.parametrize("d", REFERENCE_DIMS)
def test_kernels_match_dense_reference(d, rng):
    """Forward and inverse, float64 and float32, every round count, serial and parallel tiles."""
    lay = KeepLayout(d)
    s = signs_for(lay, d + 5)
    for rounds in (1, 2, 3):
        a = dense_reference(lay, s, rounds)
        for n in (3, 130):  # one tile; several tiles with a partial last one
            x = rng.standard_normal((n, d))
            y, bad = lay.forward(x, s, rounds)
            assert not bad
            np.testing.assert_allclose(y, x @ a.T, atol=1e-12)
            back, _ = lay.inverse(y, s, rounds)
            np.testing.assert_allclose(back, x, atol=1e-12)
            y32, _ = lay.forward(x.astype(np.float32), s.astype(np.float32), rounds)
            assert y32.dtype == np.float32
            np.testing.assert_allclose(y32, x @ a.T, atol=2e-5)


@pytest.mark.parametrize("d", [100, 784])
def test_forward_and_inverse_write_out(d, rng):
    lay = KeepLayout(d)
    s = signs_for(lay, 2).astype(np.float32)
    x = rng.standard_normal((70, d)).astype(np.float32)
    out = np.full((70, d), np.nan, np.float32)
    y, bad = lay.forward(x, s, 3, out=out)
    assert y is out and not bad
    np.testing.assert_array_equal(out, lay.forward(x, s, 3)[0])
    back = np.empty_like(x)
    x2, _ = lay.inverse(out, s, 3, out=back)
    assert x2 is back
    np.testing.assert_allclose(back, x, atol=2e-5)


@pytest.mark.parametrize("k", [12, 20, 28, 44, 100])
@pytest.mark.parametrize("transpose", [False, True])
def test_core_tables_rebuild_the_core(k, transpose):
    """Summing each output's grouped terms gives back the row of the (transposed) core."""
    from rhtann.layouts.hadamard import core_matrix
    from rhtann.layouts.keep import MAX_GROUP, core_tables, group_size

    assert 1 <= group_size(k) <= MAX_GROUP
    ints, tsgn, terms = core_tables((k,), transpose)
    core_k, core_g, gb_off, t_off, gbounds, gcomb, tidx = ints
    assert core_k.tolist() == [k] and terms == gcomb[core_g[0]]
    h = core_matrix(k).astype(np.float64)
    h = h.T if transpose else h
    # the signed sums as a matrix: row gcomb[g] + q holds the coefficients of sum q of group g
    sums = np.zeros((terms, k))
    for g in range(core_g[0]):
        j0, j1 = gbounds[g], gbounds[g + 1]
        for q in range(2 ** (j1 - j0 - 1)):
            sums[gcomb[g] + q, j0] = 1.0
            for b in range(1, j1 - j0):
                sums[gcomb[g] + q, j0 + b] = -1.0 if (q >> (b - 1)) & 1 else 1.0
    ng = core_g[0]
    rebuilt = np.array([sum(tsgn[i * ng + g] * sums[tidx[i * ng + g]] for g in range(ng)) for i in range(k)])
    np.testing.assert_array_equal(rebuilt, h)
