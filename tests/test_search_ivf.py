"""Tests of CodecIVF (rhtann.search.ivf)."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann.codecs.lloydmax import TQ
from rhtann.search import CodecFlat, CodecIVF


def _data(n=2000, d=32, m=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((20, d)) * 3
    x = (centers[rng.integers(0, 20, n)] + rng.standard_normal((n, d))).astype(np.float32)
    q = (centers[rng.integers(0, 20, m)] + rng.standard_normal((m, d))).astype(np.float32)
    return x, q


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_all_lists_probed_equals_the_flat_index(metric):
    x, q = _data()
    rht = rhtann.RHT(32, rounds=2, seed=5)
    ivf = CodecIVF(32, TQ(32, 4, extra=8), 16, rht=rht, metric=metric)
    ivf.train(x)
    ivf.add(x[:1200])
    ivf.add(x[1200:])
    flat = CodecFlat(32, TQ(32, 4, extra=8), rht=rht, metric=metric)
    flat.codec.set_state(ivf.codec.get_state()[0], {})
    flat.add(x)
    D1, I1 = ivf.search(q, 10, nprobe=16, k_factor=20)  # noqa: E741
    D2, I2 = flat.search(q, 10, k_factor=20)  # noqa: E741
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_allclose(D1, D2, rtol=1e-5, atol=1e-4)
    assert ivf.ntotal == 2000


def test_few_probes_keep_most_of_the_recall_and_ids_map_back():
    x, q = _data()
    ivf = CodecIVF(32, "TQ4", 16, metric="l2", nprobe=4)
    ivf.train(x)
    ivf.add(x, ids=np.arange(2000) + 1000)
    _, I = ivf.search(q, 10)  # noqa: E741
    exact = np.argsort(((q[:, None] - x[None]) ** 2).sum(-1), axis=1)[:, :10] + 1000
    rec = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(I, exact, strict=True)])
    assert rec > 0.7
    np.testing.assert_allclose(
        ivf.reconstruct([1000, 2999]), ivf.codec.decode(ivf.codec.encode(x[[0, 1999]])), atol=1e-6
    )
    with pytest.raises(KeyError, match="5"):
        ivf.reconstruct([5])
    assert ivf.bytes_per_vector >= 16 + 4 + 4 + 8


def test_save_load_round_trip(tmp_path):
    x, q = _data(n=500)
    ivf = CodecIVF(
        32, TQ(32, 2, extra=5, scale_dtype="float16"), 8, rht=rhtann.RHT(32, rounds=2), metric="ip"
    )
    ivf.train(x)
    ivf.add(x)
    ivf.save(tmp_path / "ivf.rht")
    back = CodecIVF.load(tmp_path / "ivf.rht")
    D1, I1 = ivf.search(q, 5, nprobe=3)  # noqa: E741
    D2, I2 = back.search(q, 5, nprobe=3)  # noqa: E741
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_array_equal(D1, D2)
    with pytest.raises(rhtann.FormatError):
        CodecFlat.load(tmp_path / "ivf.rht")


def test_bad_inputs():
    x, q = _data(n=100)
    with pytest.raises(ValueError, match="nibble codec"):
        CodecIVF(32, TQ(32, 3), 4)
    ivf = CodecIVF(32, "TQ4", 4)
    with pytest.raises(RuntimeError, match="train"):
        ivf.add(x)
    with pytest.raises(ValueError, match="at least nlist"):
        CodecIVF(32, "TQ4", 200).train(x)
    ivf.train(x)
    ivf.add(x)
    with pytest.raises(ValueError, match="nprobe"):
        ivf.search(q, 3, nprobe=0)
    with pytest.raises(ValueError, match=r"\(n, 32\)"):
        ivf.search(q[:, :5], 3)
    D, I = ivf.search(q, 200, nprobe=4)  # noqa: E741
    assert (I[:, 100:] == -1).all() and (D[:, 100:] == np.finfo(np.float32).max).all()
