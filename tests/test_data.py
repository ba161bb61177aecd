"""ann-benchmarks HDF5 I/O, raw vector readers, the converter and builders."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from faiss.contrib import vecs_io

from rhtann import data

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SIFTSMALL = SHARED / "data" / "siftsmall"


def _brute_force(train, test, distance, k):
    """float64 numpy reference: ids sorted by distance, ties by id."""
    a = test.astype(np.float64)
    b = train.astype(np.float64)
    if distance == "euclidean":
        dist = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    else:
        cos = (a @ b.T) / np.linalg.norm(a, axis=1)[:, None] / np.linalg.norm(b, axis=1)[None]
        dist = 1 - cos
    order = np.lexsort((np.broadcast_to(np.arange(len(b)), dist.shape), dist), axis=1)[:, :k]
    return order, np.take_along_axis(dist, order, axis=1)


def _tiny(seed=0, n=500, q=20, d=12, distance="euclidean"):
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((n, d)).astype(np.float32)
    test = rng.standard_normal((q, d)).astype(np.float32)
    nb, di = data.ground_truth(train, test, distance, k=100, progress=False)
    return data.Dataset("tiny", train, test, nb, di, distance, {"note": "x"})


def test_hdf5_round_trip_keeps_schema(tmp_path):
    ds = _tiny(distance="angular")
    path = data.write_hdf5(tmp_path / "tiny.hdf5", ds)
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == ["distances", "neighbors", "test", "train"]
        assert f.attrs["distance"] == "angular"
        assert f.attrs["dimension"] == 12
        assert f.attrs["point_type"] == "float"
        assert f.attrs["type"] == "dense"
        assert f["neighbors"].dtype == np.int32
    back = data.read_hdf5(path)
    assert back.name == "tiny" and back.distance == "angular" and back.metric == "cosine"
    np.testing.assert_array_equal(back.train, ds.train)
    np.testing.assert_array_equal(back.test, ds.test)
    np.testing.assert_array_equal(back.neighbors, ds.neighbors)
    np.testing.assert_array_equal(back.distances, ds.distances)
    assert back.attrs["note"] == "x"


def test_reads_file_written_like_ann_benchmarks(tmp_path):
    # ann-benchmarks writes float64 vectors and int64 neighbours through h5py
    rng = np.random.default_rng(1)
    path = tmp_path / "ab.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["type"] = "dense"
        f.attrs["distance"] = "euclidean"
        f.attrs["dimension"] = 4
        f.attrs["point_type"] = "float"
        f.create_dataset("train", data=rng.standard_normal((30, 4)))
        f.create_dataset("test", data=rng.standard_normal((3, 4)))
        f.create_dataset("neighbors", data=np.zeros((3, 10), dtype=np.int64))
        f.create_dataset("distances", data=np.zeros((3, 10)))
    ds = data.read_hdf5(path)
    assert ds.train.dtype == np.float32 and ds.train.shape == (30, 4)
    assert ds.neighbors.shape == (3, 10)


def test_read_rejects_incomplete_and_sparse_files(tmp_path):
    path = tmp_path / "bad.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train", data=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="missing"):
        data.read_hdf5(path)
    with h5py.File(path, "a") as f:
        for key in ("test", "neighbors", "distances"):
            f.create_dataset(key, data=np.zeros((1, 2)))
        f.attrs["type"] = "sparse"
    with pytest.raises(ValueError, match="sparse"):
        data.read_hdf5(path)


@pytest.mark.parametrize("distance", ["euclidean", "angular"])
def test_ground_truth_equals_brute_force(distance):
    rng = np.random.default_rng(2)
    train = rng.standard_normal((700, 9)).astype(np.float32)
    test = rng.standard_normal((33, 9)).astype(np.float32)
    nb, di = data.ground_truth(train, test, distance, k=100, chunk=10, progress=False)
    ref_ids, ref_d = _brute_force(train, test, distance, 100)
    np.testing.assert_array_equal(nb, ref_ids)
    np.testing.assert_allclose(di, ref_d, rtol=1e-6, atol=1e-6)


def test_ground_truth_breaks_ties_by_id():
    # duplicated train vectors are at exactly equal distance from every query
    train = np.repeat(np.eye(4, dtype=np.float32), 3, axis=0)  # rows 0,1,2 equal, ...
    test = np.array([[1, 0, 0, 0], [0, 0, 0.9, 0]], dtype=np.float32)
    nb, di = data.ground_truth(train, test, "euclidean", k=6, progress=False)
    np.testing.assert_array_equal(nb[0, :3], [0, 1, 2])
    np.testing.assert_array_equal(nb[1, :3], [6, 7, 8])
    np.testing.assert_allclose(di[0, :3], 0.0, atol=1e-7)
    np.testing.assert_allclose(di[1, :3], 0.1, atol=1e-6)


def test_pair_distances_angular_is_one_minus_cos_and_pads_inf():
    train = np.array([[1, 0], [0, 2], [-3, 0]], dtype=np.float32)
    test = np.array([[2, 0]], dtype=np.float32)
    out = data.pair_distances(train, test, np.array([[0, 1, 2, -1]]), "angular")
    np.testing.assert_allclose(out[0, :3], [0.0, 1.0, 2.0], atol=1e-12)
    assert np.isinf(out[0, 3])
    out = data.pair_distances(train, test, np.array([[2]]), "euclidean")
    np.testing.assert_allclose(out, [[5.0]])


def test_vecs_readers(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 5)).astype(np.float32)
    vecs_io.fvecs_write(str(tmp_path / "a.fvecs"), x)
    np.testing.assert_array_equal(data.read_vectors(tmp_path / "a.fvecs"), x)
    ids = rng.integers(0, 100, (4, 3)).astype(np.int32)
    vecs_io.ivecs_write(str(tmp_path / "a.ivecs"), ids)
    np.testing.assert_array_equal(data.read_vectors(tmp_path / "a.ivecs"), ids)
    b = rng.integers(0, 256, (6, 5)).astype(np.uint8)
    raw = np.empty((6, 9), dtype=np.uint8)
    raw[:, :4] = np.frombuffer(np.int32(5).tobytes(), dtype=np.uint8)
    raw[:, 4:] = b
    raw.tofile(tmp_path / "a.bvecs")
    got = data.read_vectors(tmp_path / "a.bvecs")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, b.astype(np.float32))
    np.save(tmp_path / "a.npy", x.astype(np.float64))
    np.testing.assert_array_equal(data.read_vectors(tmp_path / "a.npy"), x)
    (tmp_path / "a.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match=r"\.fvecs"):
        data.read_vectors(tmp_path / "a.txt")


def test_split_queries_matches_sklearn_train_test_split():
    x = np.arange(50, dtype=np.float32).reshape(25, 2)
    train, test = data.split_queries(x, n_test=5, seed=1)
    # sklearn's ShuffleSplit: RandomState(seed).permutation(n); the first n_test are the test set
    perm = np.random.RandomState(1).permutation(25)
    np.testing.assert_array_equal(test, x[perm[:5]])
    np.testing.assert_array_equal(train, x[perm[5:]])
    assert len(np.unique(np.concatenate([train[:, 0], test[:, 0]]))) == 25
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        return
    ref_train, ref_test = train_test_split(x, test_size=5, random_state=1)
    np.testing.assert_array_equal(test, ref_test)
    np.testing.assert_array_equal(train, ref_train)


def test_convert_cli_with_split_and_with_queries(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((400, 6)).astype(np.float32)
    q = rng.standard_normal((9, 6)).astype(np.float32)
    vecs_io.fvecs_write(str(tmp_path / "base.fvecs"), x)
    np.save(tmp_path / "q.npy", q)
    out = tmp_path / "conv.hdf5"
    assert data.main(["convert", str(tmp_path / "base.fvecs"), "--queries",
                      str(tmp_path / "q.npy"), "--distance", "euclidean", "--out", str(out)]) == 0
    ds = data.read_hdf5(out)
    ref_ids, ref_d = _brute_force(x, q, "euclidean", 100)
    np.testing.assert_array_equal(ds.neighbors, ref_ids)
    np.testing.assert_allclose(ds.distances, ref_d, rtol=1e-6)
    ds2 = data.convert(tmp_path / "base.fvecs", tmp_path / "split.hdf5", "angular", n_test=50,
                       progress=False)
    assert ds2.train.shape == (350, 6) and ds2.test.shape == (50, 6)
    ref_ids, _ = _brute_force(ds2.train, ds2.test, "angular", 100)
    np.testing.assert_array_equal(data.read_hdf5(tmp_path / "split.hdf5").neighbors, ref_ids)


def test_subsample_recomputes_ground_truth():
    ds = _tiny(n=800, q=30)
    small = ds.subsample(max_train=300, max_test=10, seed=5)
    assert small.train.shape == (300, 12) and small.test.shape == (10, 12)
    ref_ids, _ = _brute_force(small.train, small.test, "euclidean", 100)
    np.testing.assert_array_equal(small.neighbors, ref_ids)
    assert "ground truth recomputed" in small.attrs["subsampled"]
    assert ds.subsample(None, None) is ds


def test_load_by_name_builds_and_caches(tmp_path):
    ds = data.load("gaussian-aniso-64-euclidean", root=tmp_path, progress=False)
    assert (tmp_path / "gaussian-aniso-64-euclidean.hdf5").exists()
    assert ds.train.shape == (20_000, 64) and ds.neighbors.shape == (500, 100)
    again = data.load("gaussian-aniso-64-euclidean", root=tmp_path)
    np.testing.assert_array_equal(again.neighbors, ds.neighbors)
    with pytest.raises(FileNotFoundError, match="download"):
        data.load("sift-128-euclidean", root=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load("nope", root=tmp_path)


@pytest.mark.skipif(not SIFTSMALL.is_dir(), reason="../shared/data/siftsmall not present")
def test_siftsmall_builder_keeps_official_ground_truth():
    ds = data.build_siftsmall(progress=False)
    assert ds.train.shape == (10_000, 128) and ds.test.shape == (100, 128)
    official = vecs_io.ivecs_read(str(SIFTSMALL / "siftsmall_groundtruth.ivecs"))
    np.testing.assert_array_equal(ds.neighbors, official)
    # distances are non-decreasing along each row (the official order is by distance)
    assert np.all(np.diff(ds.distances, axis=1) >= -1e-3)
    ids, _ = data.ground_truth(ds.train, ds.test[:5], "euclidean", k=10, progress=False)
    np.testing.assert_array_equal(ids[:, 0], official[:5, 0])
