"""Claims about the number of rounds, and the API of rounds="auto" and the adaptive methods.

Statistical notes. Rows that differ only by signs are rotated by one
transform into few distinct directions after the first round (a pair row has
2, an indicator of 4 coordinates 8, up to sign), so statistics of two or
three rounds are averaged over many seeds (independent transforms), and their
standard errors are computed over seeds, not rows.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import rhtann
from rhtann import rounds as rounds_module
from rhtann import synthetic as syn

URR_DRIVE = np.pi / 2 - 1  # 1-bit unbiased DRIVE vNMSE under a uniform random rotation


def drive_vnmse(y: np.ndarray) -> np.ndarray:
    """Per-row vNMSE of unbiased 1-bit sign quantization: d ||y||^2 / ||y||_1^2 - 1."""
    y = y.astype(np.float64)
    return y.shape[1] * (y**2).sum(1) / np.abs(y).sum(1) ** 2 - 1


def codebook_2d() -> np.ndarray:
    """16 centroids for 2-D N(0, I) (k-means, seeded): a non-separable block codebook."""
    from scipy.cluster.vq import kmeans2

    pts = np.random.default_rng(0).standard_normal((20000, 2))
    return kmeans2(pts, 16, seed=1, minit="++", iter=30)[0]


def block_vnmse(y: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """Per-row relative error of coordinate pairs (2i, 2i+1) coded by ``cb``."""
    u = np.sqrt(y.shape[1]) * y.astype(np.float64) / np.linalg.norm(y, axis=1, keepdims=True)
    p = u.reshape(-1, 2)
    err = ((p[:, None, :] - cb[None]) ** 2).sum(-1).min(1)
    return err.reshape(len(y), -1).sum(1) / y.shape[1]


def over_seeds(x: np.ndarray, rounds, seeds, target="scalar", metric=drive_vnmse) -> np.ndarray:
    """Mean error (``metric`` per row) of the rows of ``x``, one value per seed."""
    out = []
    for s in seeds:
        rht = rhtann.RHT(x.shape[1], rounds=rounds, seed=int(s), target=target)
        if rounds == "auto":
            rht.train(x)
        out.append(metric(rht.apply(x)).mean())
    return np.array(out)


# ----------------------------------------------------------------------
# the claims
# ----------------------------------------------------------------------


def test_one_round_fails_on_indicator_of_four_two_rounds_match_random_rotation(rng, one_thread):
    d = 256
    x = syn.indicator(4000, d, 4, seed=1)
    one = drive_vnmse(rhtann.RHT(d, rounds=1, seed=5).apply(x))
    # Per row the value is exactly 0 or 3 with probability 1/2 each (mean 1.5,
    # sd 1.5); random row signs make the 4000 rows independent draws:
    # standard error 0.024, tolerance 5 of them.
    assert abs(one.mean() - 1.5) < 0.12
    assert set(np.round(one, 4)) == {0.0, 3.0}

    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    urr = drive_vnmse(x[:2000].astype(np.float64) @ q.T).mean()
    assert abs(urr - URR_DRIVE) < 0.02  # finite-d value near the limit 0.5708
    assert one.mean() > 2.5 * URR_DRIVE

    two = over_seeds(x[:16], 2, range(200))
    se = two.std() / np.sqrt(two.size)
    # 200 independent seeds: the standard error is about 0.002; "within a few
    # percent" is checked as within 4 % of the limit, i.e. 0.023.
    assert se < 0.005
    assert abs(two.mean() / URR_DRIVE - 1) < 0.04


@pytest.mark.parametrize("d", [64, 256])
def test_pair_magnitudes_equal_after_two_rounds_not_after_three(d, one_thread):
    """The dependence is visible to a 2-D codebook: 2 rounds err, 3 do not."""
    x = syn.pair(1, d, 0, random_signs=False)
    z2 = np.array([rhtann.RHT(d, rounds=2, seed=s).apply(x)[0] for s in range(300)])
    z3 = np.array([rhtann.RHT(d, rounds=3, seed=s).apply(x)[0] for s in range(300)])
    # after two rounds every coordinate pair (2i, 2i+1) has equal magnitude
    np.testing.assert_allclose(np.abs(z2[:, 0::2]), np.abs(z2[:, 1::2]), rtol=1e-5, atol=1e-7)
    eq3 = np.isclose(np.abs(z3[:, 0]), np.abs(z3[:, 1]), rtol=1e-5, atol=1e-7)
    # after three rounds the values are discrete, so ties keep a small
    # probability (3 % measured at d = 256); 20 % of 300 seeds is far above it
    assert eq3.mean() < 0.2
    c3 = np.corrcoef(z3[:, 0] ** 2, z3[:, 1] ** 2)[0, 1]
    assert abs(c3) < 0.3  # 2 rounds: correlation exactly 1; sampling sd here about 0.06
    cb = codebook_2d()
    e2, e3 = block_vnmse(z2, cb), block_vnmse(z3, cb)
    ref = block_vnmse(np.random.default_rng(d).standard_normal((300, d)), cb)  # URR
    se = np.sqrt(e2.var() / 300 + ref.var() / 300)
    # 2 rounds: about 20 % above the random rotation's error at d = 256
    # (0.131 vs 0.108, standard error 0.001); 3 rounds within 5 % of it
    assert e2.mean() - ref.mean() > 10 * se
    assert abs(e3.mean() / ref.mean() - 1) < 0.05


@pytest.mark.parametrize("target", ["scalar", "vq"])
def test_auto_picks_per_dataset_and_is_never_worse_than_three_rounds(target, one_thread):
    d, n = 256, 64
    suite = syn.worst_case_suite(d, n, seed=3)
    expected = {name: (2 if target == "scalar" else 3) for name in suite}
    expected["gaussian"] = 1 if target == "scalar" else 2
    if target == "scalar":
        metric = drive_vnmse  # 1-bit sign quantization
    else:
        cb = codebook_2d()

        def metric(y):
            return block_vnmse(y, cb)

    seeds = range(40)
    for name, x in suite.items():
        rht = rhtann.RHT(d, rounds="auto", target=target, seed=1).train(x)
        assert rht.n_rounds == expected[name], name
        diff = over_seeds(x, "auto", seeds, target, metric) - over_seeds(x, 3, seeds, metric=metric)
        se = diff.std() / np.sqrt(diff.size)
        # paired over 40 seeds (auto's rounds are a prefix of the same signs):
        # worse only by at most 4 standard errors of the difference (and by
        # nothing when auto chose 3 rounds: the difference is then 0).
        assert diff.mean() <= 4 * se, (name, diff.mean(), se)


def test_auto_choice_follows_the_pass_fraction():
    d, n = 128, 1000
    x = syn.gaussian(n, d, 0)
    x[:5] = syn.one_hot(5, d, 1)  # 0.5 % need two rounds
    rht = rhtann.RHT(d, rounds="auto").train(x)
    assert rht.n_rounds == 1
    rep = rht.auto_report_
    assert rep["fraction_needing"] == {"1": 0.995, "2": 0.005}
    x[:20] = syn.one_hot(20, d, 1)  # 2 % need two rounds
    assert rht.train(x).n_rounds == 2
    assert rht.auto_report_["fraction_needing"]["2"] == 0.02


# ----------------------------------------------------------------------
# rounds="auto": API
# ----------------------------------------------------------------------


def test_untrained_auto_raises_and_reports_its_state(rng):
    rht = rhtann.RHT(100, rounds="auto", seed=7)
    assert not rht.is_trained and rht.rounds == "auto" and rht.n_rounds is None
    assert rht.auto_report_ is None
    x = rng.standard_normal((3, 100)).astype(np.float32)
    for call in (
        lambda: rht.apply(x),
        lambda: rht.reverse_transform(np.zeros((1, 128))),
        rht.matrix,
        rht.to_faiss,
    ):
        with pytest.raises(RuntimeError, match="rounds='auto' and is not trained yet"):
            call()
    with pytest.raises(ValueError, match="at least one vector"):
        rht.train(np.zeros((0, 100)))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 100\)"):
        rht.train(np.zeros((4, 99)))


def test_trained_auto_behaves_like_fixed_rounds(rng):
    import faiss

    d = 100
    x = syn.bag_of_words(300, d, 2)  # sparse: 3 rounds for "vq"
    rht = rhtann.RHT(d, rounds="auto", seed=11, target="vq").train(x)
    assert rht.is_trained and rht.n_rounds == 3 and rht.rounds == "auto"
    fixed = rhtann.RHT(d, rounds=3, seed=11)
    q = rng.standard_normal((20, d)).astype(np.float32)
    np.testing.assert_array_equal(rht.apply(q), fixed.apply(q))
    y = rht.apply(q)
    np.testing.assert_array_equal(rht.reverse_transform(y), fixed.reverse_transform(y))
    np.testing.assert_array_equal(rht.matrix(), fixed.matrix())
    vt = rht.to_faiss()
    assert isinstance(vt, faiss.HadamardRotation)  # same native export as 3 fixed rounds
    np.testing.assert_allclose(vt.apply(q), rht.apply(q), atol=1e-5)

    g = rhtann.RHT(d, rounds="auto", seed=11).train(syn.gaussian(300, d, 1))
    assert g.n_rounds == 1
    np.testing.assert_array_equal(g.apply(q), rhtann.RHT(d, rounds=1, seed=11).apply(q))
    assert isinstance(g.to_faiss(), faiss.LinearTransform)


def test_auto_report_contents():
    d = 64
    x = np.vstack([syn.gaussian(90, d, 0), syn.one_hot(10, d, 1)])
    rht = rhtann.RHT(d, rounds="auto", seed=3).train(x)
    rep = rht.auto_report_
    assert rep["n_rounds"] == rht.n_rounds == 2
    assert rep["target"] == "scalar" and rep["threshold"] == 8.0
    assert rep["pass_fraction"] == rounds_module.AUTO_PASS_FRACTION
    assert rep["n_sample"] == rep["n_total"] == 100
    assert rep["fraction_needing"] == {"1": 0.9, "2": 0.1}
    assert rep["quantiles"] == [0.5, 0.9, 0.99, 1.0]
    kap = rhtann.moment_stats(x, d).kappa
    np.testing.assert_allclose(rep["kappa"], np.quantile(kap, rep["quantiles"]))
    assert rep["kappa"][-1] == pytest.approx(64.0)  # the one-hot rows
    assert rep["kappa_after_1_round"][-1] < 8  # one round flattens them (kappa 1)
    assert len(rep["rho3"]) == len(rep["peak"]) == 4 and rep["peak"][-1] == pytest.approx(1.0)
    assert rep["seconds"] >= 0


def test_auto_samples_large_training_sets(monkeypatch):
    monkeypatch.setattr(rounds_module, "AUTO_SAMPLE", 50)
    x = syn.gaussian(400, 32, 0)
    rht = rhtann.RHT(32, rounds="auto", seed=4).train(x)
    assert rht.auto_report_["n_sample"] == 50 and rht.auto_report_["n_total"] == 400
    again = rhtann.RHT(32, rounds="auto", seed=4).train(x)
    assert again.auto_report_["kappa"] == rht.auto_report_["kappa"]  # seeded sample


def test_auto_persistence(tmp_path):
    d = 50
    x = syn.lognormal(200, d, 3)
    rht = rhtann.RHT(d, rounds="auto", seed=2**40 + 1, target="vq", threshold=6.0).train(x)
    q = syn.gaussian(7, d, 1)
    path = tmp_path / "auto.rht"
    rht.save(path)
    back = rhtann.load(path)
    clone = pickle.loads(pickle.dumps(rht))
    for other in (back, clone):
        assert other == rht and hash(other) == hash(rht) and repr(other) == repr(rht)
        assert other.rounds == "auto" and other.n_rounds == rht.n_rounds
        assert other.target == "vq" and other.threshold == 6.0
        assert other.auto_report_ == rht.auto_report_
        np.testing.assert_array_equal(other.apply(q), rht.apply(q))
        other.check_identical(rht)
    assert "target='vq'" in repr(rht) and "threshold=6.0" in repr(rht)

    untrained = rhtann.RHT(d, rounds="auto")
    untrained.save(path)
    back = rhtann.load(path)
    assert not back.is_trained and back.n_rounds is None and back.auto_report_ is None


def test_load_rejects_inconsistent_round_state(tmp_path):
    from rhtann import io as _fileformat

    rht = rhtann.RHT(16, rounds=2)
    path = tmp_path / "t.rht"
    for change in ({"n_rounds": 3}, {"rounds": "auto", "n_rounds": None, "is_trained": True}):
        state = {**rht._state(), **change}
        _fileformat.write_container(path, "RHT", state, {"signs": rht.signs.tobytes()})
        with pytest.raises(rhtann.FormatError, match="invalid RHT parameters"):
            rhtann.load(path)


def test_parameter_errors():
    with pytest.raises(ValueError, match="rounds must be 1, 2 or 3, or 'auto'; got 'AUTO'"):
        rhtann.RHT(10, rounds="AUTO")
    with pytest.raises(ValueError, match="rounds must be"):
        rhtann.RHT(10, rounds=True)
    with pytest.raises(ValueError, match="target must be 'scalar' or 'vq'; got 'pq'"):
        rhtann.RHT(10, target="pq")
    with pytest.raises(ValueError, match="threshold must be a finite number >= 1"):
        rhtann.RHT(10, threshold=float("nan"))
    assert rhtann.RHT(10, rounds=2, target="vq").get_params() == {
        "d": 10,
        "rounds": 2,
        "seed": 12345,
        "layout": "pad",
        "target": "vq",
        "threshold": None,
    }


# ----------------------------------------------------------------------
# per-vector adaptive rounds
# ----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["scalar", "vq"])
@pytest.mark.parametrize("d", [64, 100])
def test_apply_adaptive_rows_equal_fixed_rounds_and_round_trip(target, d):
    x = np.vstack(
        [syn.gaussian(40, d, 0), syn.one_hot(30, d, 1), syn.bag_of_words(30, d, 2)]
    )[np.random.default_rng(0).permutation(100)]
    rht = rhtann.RHT(d, rounds="auto", seed=5, target=target)  # untrained is fine here
    y, k = rht.apply_adaptive(x)
    assert y.shape == (100, rht.d_out) and y.dtype == np.float32
    assert k.shape == (100,) and k.dtype == np.uint8
    np.testing.assert_array_equal(k, rhtann.choose_rounds(x, target=target, rht=rht))
    lo = 1 if target == "scalar" else 2
    assert set(k.tolist()) == {lo, lo + 1}
    for r in (lo, lo + 1):
        rows = k == r
        ref = rhtann.RHT(d, rounds=r, seed=5).apply(x[rows])
        # continuing a round scales by 1/sqrt(p) per round instead of once:
        # equal up to float32 rounding (exact when p is a power of 4)
        np.testing.assert_allclose(y[rows], ref, rtol=0, atol=1e-6)
    back = rht.reverse_adaptive(y, k)
    assert back.shape == (100, d) and back.dtype == np.float32
    np.testing.assert_allclose(back, x, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-5)


def test_adaptive_threshold_is_the_transforms():
    d = 64
    x = syn.indicator(3, d, 16, 0)  # kappa 4
    assert (rhtann.RHT(d).apply_adaptive(x)[1] == 1).all()
    assert (rhtann.RHT(d, threshold=2).apply_adaptive(x)[1] == 2).all()


def test_reverse_adaptive_checks_counts():
    rht = rhtann.RHT(16)
    y = np.zeros((3, 16), dtype=np.float32)
    with pytest.raises(ValueError, match=r"counts must be an integer array of shape \(3,\)"):
        rht.reverse_adaptive(y, np.ones(2, dtype=np.uint8))
    with pytest.raises(ValueError, match="counts must be an integer array"):
        rht.reverse_adaptive(y, np.ones(3))
    with pytest.raises(ValueError, match=r"counts must hold values in 1..3; got values in 0..1"):
        rht.reverse_adaptive(y, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"y must have shape \(n, 16\)"):
        rht.reverse_adaptive(np.zeros((3, 8)), np.ones(3, dtype=np.uint8))
    assert rht.reverse_adaptive(np.zeros((0, 16)), np.zeros(0, dtype=np.uint8)).shape == (0, 16)


@pytest.mark.parametrize(("target", "levels"), [("scalar", 2), ("vq", 3)])
@pytest.mark.parametrize("d", [16, 100, 128])
def test_apply_levels_equals_fixed_rounds(target, levels, d, rng):
    q = rng.standard_normal((37, d)).astype(np.float32)
    rht = rhtann.RHT(d, seed=21, target=target)
    out = rht.apply_levels(q)
    assert out.shape == (levels, 37, rht.d_out) and out.dtype == np.float32
    for lev in range(1, levels + 1):
        ref = rhtann.RHT(d, rounds=lev, seed=21).apply(q)
        if rht.d_out in (16, 256):  # powers of 4: the per-round scales are exact
            np.testing.assert_array_equal(out[lev - 1], ref)
        else:
            np.testing.assert_allclose(out[lev - 1], ref, rtol=0, atol=2e-6 * np.abs(ref).max())
    assert rht.apply_levels(q[:0]).shape == (levels, 0, rht.d_out)
    with pytest.raises(ValueError, match="q contains NaN"):
        rht.apply_levels(np.full((2, d), np.nan, dtype=np.float32))


def test_adaptive_methods_on_other_layouts(rng):
    layouts = [name for name in sorted(rhtann.layouts.LAYOUTS) if name != "pad"]
    if not layouts:
        pytest.skip("only the padded layout is registered")
    d = 100
    x = np.vstack([rng.standard_normal((20, d)), syn.one_hot(20, d, 0)]).astype(np.float32)
    for name in layouts:
        rht = rhtann.RHT(d, seed=3, layout=name, target="vq")
        y, k = rht.apply_adaptive(x)
        np.testing.assert_allclose(rht.reverse_adaptive(y, k), x, atol=1e-5)
        lv = rht.apply_levels(x)
        for lev in (1, 2, 3):
            ref = rhtann.RHT(d, rounds=lev, seed=3, layout=name).apply(x)
            np.testing.assert_allclose(lv[lev - 1], ref, atol=2e-6 * np.abs(ref).max())
