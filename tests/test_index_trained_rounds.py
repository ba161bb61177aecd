"""RHTauto in front of trained quantizers: 0 to 3 rounds chosen by held-out distortion."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from faiss.contrib.vecs_io import fvecs_read

import rhtann
from rhtann.index import trained_rounds

pytestmark = pytest.mark.usefixtures("one_thread_module")


def _spiky(n: int = 3000, d: int = 64, seed: int = 3) -> np.ndarray:
    """Small Gaussian noise plus two large spikes per row at random coordinates.

    Each coordinate's trained SQ range must cover the spikes, so the noise
    around zero is quantized with steps far larger than itself; a rotation
    spreads every spike over all coordinates.
    """
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((n, d)).astype(np.float32)
    for _ in range(2):
        x[np.arange(n), rng.integers(0, d, n)] += 10.0 * rng.choice([-1.0, 1.0], n).astype(np.float32)
    return x


@pytest.mark.parametrize(
    ("key", "trained"),
    [
        ("PQ16", True),
        ("IVF64,PQ16x4fs", True),
        ("OPQ8_64,PQ8", True),
        ("SQ4", True),
        ("SQ8_uniform", True),
        ("IVF64,SQ6,RFlat", True),
        ("RQ4x8", True),
        ("SQtqmse4", False),
        ("SQtq4", False),
        ("SQfp16", False),
        ("RaBitQ", False),
        ("EDEN4", False),
        ("IVF64,Flat", False),
        ("DSQ4", False),
        ("DTQ4", False),
    ],
)
def test_trained_quantizer_keys(key, trained):
    assert trained_rounds.is_trained_quantizer(key) is trained


def test_rotation_helps_spiky_sq4():
    x = _spiky()
    index = rhtann.Index(64, "RHTauto,SQ4").train(x)
    rep = index.train_report_
    assert rep["method"] == "heldout_distortion"
    assert rep["n_rounds"] >= 1 and index.rht is not None and index.rht.n_rounds_ == rep["n_rounds"]
    assert set(rep["distortion"]) == {"0", "1", "2", "3"}
    assert rep["n_holdout"] == round(0.15 * x.shape[0]) and rep["n_fit"] == x.shape[0] - rep["n_holdout"]
    # the chosen count's error is within the tolerance of the best, and far below no rotation
    best = min(rep["distortion"].values())
    assert rep["distortion"][str(rep["n_rounds"])] <= best * (1 + trained_rounds.TOLERANCE)
    assert rep["distortion"]["0"] > 3 * rep["distortion"][str(rep["n_rounds"])]
    # the sub-index lives in the chosen rotated space and search works
    index.add(x)
    _, ids = index.search(x[:20], 1)
    assert (ids[:, 0] == np.arange(20)).mean() >= 0.9


def test_deterministic_with_seed_and_saved(tmp_path):
    x = _spiky(2000)
    a = rhtann.Index(64, "RHTauto,SQ4", seed=11).train(x)
    b = rhtann.Index(64, "RHTauto,SQ4", seed=11).train(x)
    drop = ("seconds",)
    strip = lambda r: {k: v for k, v in r.items() if k not in drop}  # noqa: E731
    assert strip(a.train_report_) == strip(b.train_report_)
    a.add(x)
    a.save(tmp_path / "a.rht")
    c = rhtann.load(tmp_path / "a.rht")
    assert c.train_report_ == a.train_report_
    assert c.rht.n_rounds_ == a.rht.n_rounds_
    np.testing.assert_array_equal(c.search(x[:10], 5)[1], a.search(x[:10], 5)[1])


def test_no_rotation_chosen_is_saved_and_exported(tmp_path):
    # Strongly correlated neighbouring coordinates: each pair is one
    # 2-d sub-quantizer of PQ, which a rotation would split.
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3000, 16)).astype(np.float32) * np.geomspace(4, 0.2, 16).astype(np.float32)
    x = np.repeat(base, 2, axis=1) + 0.01 * rng.standard_normal((3000, 32)).astype(np.float32)
    index = rhtann.Index(32, "RHTauto,PQ16x4fs").train(x)
    assert index.train_report_["n_rounds"] == 0
    assert index.rht is None and index.d_out == 32 and index.sub_index.d == 32
    index.add(x)
    index.save(tmp_path / "none.rht")
    back = rhtann.load(tmp_path / "none.rht")
    assert back.rht is None and back.train_report_ == index.train_report_
    q = x[:15]
    np.testing.assert_array_equal(back.search(q, 5)[1], index.search(q, 5)[1])
    np.testing.assert_array_equal(index.to_faiss().search(q, 5)[1], index.search(q, 5)[1])


def test_oblivious_codes_keep_the_moment_check():
    x = _spiky(1500)
    index = rhtann.Index(64, "RHTauto,EDEN4").train(x)
    assert index.train_report_ is None
    assert index.rht.auto_report_ is not None and index.rht.n_rounds_ in (1, 2)


def test_too_few_rows():
    with pytest.raises(ValueError, match="at least 2 training vectors"):
        rhtann.Index(8, "RHTauto,SQ4").train(np.ones((1, 8), np.float32))


def test_sift10k_pq16_picks_no_rotation(siftsmall_dir, monkeypatch):
    # Half the default fitting rows keeps the four PQ16 trainings short; the
    # gap between no rotation and any rotation is large either way.
    monkeypatch.setattr(trained_rounds, "MAX_FIT", 4096)
    x = fvecs_read(str(siftsmall_dir / "siftsmall_base.fvecs"))
    index = rhtann.Index(128, "RHTauto,PQ16")
    rht, rep = trained_rounds.choose(index, x)
    assert rht is None and rep["n_rounds"] == 0 and rep["n_fit"] == 4096
    assert rep["distortion"]["0"] < min(rep["distortion"][r] for r in "123")


def test_faiss_glue_relative_error_uses_base_of_refine():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    ref = faiss.index_factory(16, "SQ4,RFlat")
    ref.train(x)
    plain = faiss.index_factory(16, "SQ4")
    plain.train(x)
    from rhtann.index.faiss_glue import relative_error

    assert relative_error(ref, x) == pytest.approx(relative_error(plain, x), rel=1e-6)
    assert 0 < relative_error(plain, x) < 0.05


@pytest.mark.parametrize("spec", ["RHTauto,IVF16,SQ4,RFlat", "RHTauto,IVF16,PQ16x4fs"])
def test_nested_keys_choose_and_search(spec):
    x = _spiky(2500)
    index = rhtann.Index(64, spec).train(x)
    rep = index.train_report_
    assert rep["n_rounds"] in trained_rounds.CANDIDATES
    assert all(np.isfinite(v) and v > 0 for v in rep["distortion"].values())
    index.add(x)
    d_ref, i_ref = index.search(x[:10], 5, nprobe=16)
    exported = index.to_faiss()
    i_exp = exported.search(x[:10], 5, params=index.search_parameters(nprobe=16))[1]
    assert (i_exp == i_ref).mean() >= 0.9
