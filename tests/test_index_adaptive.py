"""rhtann.Index(adaptive=True): per-vector rounds, one faiss sub-index per level."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

import rhtann
from rhtann import synthetic

D = 128


# small faiss builds: one thread avoids OpenMP spinning against numba's pool on
# the shared CI cores (the threads test checks per-index settings itself)
pytestmark = pytest.mark.usefixtures("one_thread_module")


def _true_knn(xb, xq, k, metric):
    if metric == "l2":
        dist = (
            (xq**2).sum(1)[:, None] - 2 * xq.astype(np.float64) @ xb.T + (xb**2).sum(1)[None]
        )
    else:
        dist = -(xq.astype(np.float64) @ xb.T)
    return dist


def _tie_aware_recall(dist, I, k):  # noqa: E741
    """ann-benchmarks rule: a returned id counts if its true distance is within
    1e-3 of the true k-th distance (one-hot and indicator data have many ties)."""
    kth = np.sort(dist, axis=1)[:, k - 1]
    got = np.take_along_axis(dist, np.where(I < 0, 0, I), 1)
    ok = (got <= kth[:, None] + 1e-3) & (I >= 0)
    return ok.sum() / (k * len(I))


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(5)
    g = rng.standard_normal((3000, D)).astype(np.float32)
    oh = np.zeros((600, D), np.float32)
    oh[np.arange(600), rng.integers(0, D, 600)] = rng.choice([-3.0, 3.0], 600)
    xb = np.vstack([g, oh])
    xq = np.vstack([g[:30] + 0.05 * rng.standard_normal((30, D)).astype(np.float32), oh[:5]])
    return xb, xq


def test_levels_hold_vectors_by_their_rounds(mixed):
    xb, _ = mixed
    index = rhtann.Index(D, "RHT,SQ8", adaptive=True)
    assert index.target == "scalar" and sorted(index.sub_indexes) == [1, 2]
    index.train(xb)
    index.add(xb)
    _, k = index.rht.apply_adaptive(xb)
    assert index.level_counts == {1: int((k == 1).sum()), 2: int((k == 2).sum())}
    # Gaussian rows pass the check at once, one-hot rows need a second round.
    assert index.level_counts[2] >= 600 and index.level_counts[1] >= 2900
    assert index.ntotal == len(xb)
    with pytest.raises(AttributeError, match="one sub-index per level"):
        _ = index.sub_index


def test_equals_manual_per_level_search(mixed):
    xb, xq = mixed
    index = rhtann.Index(D, "RHT,SQ8", adaptive=True)
    index.train(xb)
    index.add(xb)
    D_, I_ = index.search(xq, 10)
    # By hand: rotate the queries to each level, search each level, merge.
    levels = index.rht.apply_levels(xq)
    parts = [sub.search(levels[lev - 1], 10) for lev, sub in index.sub_indexes.items()]
    Dm, Im = faiss.merge_knn_results(np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts]))
    np.testing.assert_array_equal(I_, Im)
    np.testing.assert_array_equal(D_, Dm)


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_flat_adaptive_is_exact(mixed, metric):
    # Every level is exact (Flat), so the merged result is the exact k-NN.
    xb, xq = mixed
    index = rhtann.Index(D, "RHT,Flat", metric, adaptive=True)
    index.train(xb)
    index.add(xb)
    D_, I_ = index.search(xq, 10)
    dist = _true_knn(xb, xq, 10, metric)
    assert _tie_aware_recall(dist, I_, 10) == 1.0
    ref = np.sort(dist, axis=1)[:, :10]
    got = D_ if metric == "l2" else -D_
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)


def test_reconstruct_remove_ids_and_save(mixed, tmp_path):
    xb, xq = mixed
    index = rhtann.Index(D, "RHT,IVF8,Flat", adaptive=True)
    index.train(xb)
    ids = np.arange(len(xb), dtype=np.int64) * 3 + 1
    index.add_with_ids(xb, ids)
    rec = index.reconstruct(ids[[0, 3100]])  # one Gaussian row, one one-hot row
    np.testing.assert_allclose(rec, xb[[0, 3100]], atol=1e-4)
    path = tmp_path / "adaptive.rht"
    index.save(path)
    loaded = rhtann.load(path)
    assert loaded.adaptive and loaded.level_counts == index.level_counts
    for a, b in zip(index.search(xq, 5, nprobe=8), loaded.search(xq, 5, nprobe=8), strict=True):
        np.testing.assert_array_equal(a, b)
    assert index.remove_ids(ids[[0, 3100]]) == 2
    assert index.ntotal == len(xb) - 2
    with pytest.raises(KeyError, match="no level stores it"):
        index.reconstruct(int(ids[0]))
    with pytest.raises(NotImplementedError, match="own transform"):
        index.to_faiss()


def test_nan_rejected(mixed):
    xb, xq = mixed
    index = rhtann.Index(D, "RHT,SQ8", adaptive=True)
    index.train(xb)
    bad = xb[:5].copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        index.add(bad)
    index.add(xb)
    with pytest.raises(ValueError, match="q contains NaN"):
        index.search(bad, 3)


def test_recall_on_worst_case_suite_matches_three_rounds():
    # Each dataset of the suite: 1500 stored rows, 60 held-out queries, SQ4
    # (4 bits, where the rotation's quality shows). Recall@10 is tie-aware.
    # With 600 query-neighbour pairs per dataset, recall's binomial standard
    # error is at most sqrt(0.25 / 600) = 0.02; the adaptive index must stay
    # within 0.05 (2.5 standard errors) of fixed 3 rounds on every dataset.
    suite = synthetic.worst_case_suite(D, 1560, seed=3)
    for name, x in suite.items():
        xb, xq = x[:1500], x[1500:]
        dist = _true_knn(xb, xq, 10, "l2")
        recalls = {}
        for adaptive in (False, True):
            index = rhtann.Index(D, "RHT,SQ4", adaptive=adaptive)
            index.train(xb)
            index.add(xb)
            recalls[adaptive] = _tie_aware_recall(dist, index.search(xq, 10)[1], 10)
        print(f"\n{name}: fixed 3 rounds {recalls[False]:.3f}, adaptive {recalls[True]:.3f}")
        assert recalls[True] >= recalls[False] - 0.05, (name, recalls)
