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


# --------------------------------------------------------------------------------------
# hostile and malformed HDF5 files: each must end in a clear ValueError


def _write_raw(path, train=None, test=None, neighbors=None, distances=None, attrs=None, create=None):
    """An ann-benchmarks-like file with any of its four datasets replaced."""
    rng = np.random.default_rng(7)
    parts = {
        "train": rng.standard_normal((50, 4)).astype(np.float32) if train is None else train,
        "test": rng.standard_normal((3, 4)).astype(np.float32) if test is None else test,
        "neighbors": np.zeros((3, 5), np.int32) if neighbors is None else neighbors,
        "distances": np.zeros((3, 5), np.float32) if distances is None else distances,
    }
    create = create or {}
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = "euclidean"
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        for key, value in parts.items():
            if key in create:
                create[key](f, key)
            else:
                f.create_dataset(key, data=value)
    return path


def test_read_refuses_declared_sizes_far_above_the_file_size(tmp_path):
    # a few KB of file declaring 100M x 4 float32 (1.6 GB) without storing it
    path = _write_raw(tmp_path / "huge.hdf5",
                      create={"train": lambda f, k: f.create_dataset(k, shape=(100_000_000, 4),
                                                                     dtype=np.float32)})
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match="declare .* bytes"):
        data.read_hdf5(path)
    # an honest file passes, and a caller's own max_bytes is enforced too
    ok = _write_raw(tmp_path / "ok.hdf5")
    assert data.read_hdf5(ok).train.shape == (50, 4)
    with pytest.raises(ValueError, match="refused above 100 bytes"):
        data.read_hdf5(ok, max_bytes=100)


@pytest.mark.parametrize("ids, what", [(-1, "negative"), (50, "== n"), (10**6, "far above n")])
def test_read_refuses_neighbour_ids_out_of_range(tmp_path, ids, what):
    nb = np.zeros((3, 5), np.int64)
    nb[1, 2] = ids
    path = _write_raw(tmp_path / "ids.hdf5", neighbors=nb)
    with pytest.raises(ValueError, match=r"ids in \[0, 50\)"):
        data.read_hdf5(path)


@pytest.mark.parametrize("key, bad", [("train", np.nan), ("test", np.inf), ("distances", -np.inf)])
def test_read_refuses_non_finite_values(tmp_path, key, bad):
    arr = np.zeros((50, 4) if key == "train" else (3, 4) if key == "test" else (3, 5), np.float64)
    arr[1, 1] = bad
    path = _write_raw(tmp_path / "nan.hdf5", **{key: arr})
    with pytest.raises(ValueError, match=f"'{key}' must be finite; row 1 column 1"):
        data.read_hdf5(path)


@pytest.mark.parametrize("key, arr", [
    ("train", np.zeros((50, 4), np.complex64)),
    ("train", np.zeros((50, 4), bool)),
    ("test", np.zeros((3, 4), "S4")),
    ("neighbors", np.zeros((3, 5), np.float32)),
    ("distances", np.zeros((3, 5), np.complex128)),
])
def test_read_refuses_non_real_dtypes(tmp_path, key, arr):
    path = _write_raw(tmp_path / "dtype.hdf5", **{key: arr})
    with pytest.raises(ValueError, match=f"'{key}' must have .* dtype; got"):
        data.read_hdf5(path)


def test_read_refuses_zero_dimension_and_bad_ranks(tmp_path):
    path = _write_raw(tmp_path / "d0.hdf5", train=np.zeros((50, 0), np.float32),
                      test=np.zeros((3, 0), np.float32))
    with pytest.raises(ValueError, match="d >= 1"):
        data.read_hdf5(path)
    path = _write_raw(tmp_path / "rank.hdf5", train=np.zeros((5, 4, 2), np.float32))
    with pytest.raises(ValueError, match="'train' must be 2-D"):
        data.read_hdf5(path)
    path = _write_raw(tmp_path / "group.hdf5", create={"test": lambda f, k: f.create_group(k)})
    with pytest.raises(ValueError, match="'test' must be an HDF5 dataset"):
        data.read_hdf5(path)
    path = _write_raw(tmp_path / "dim.hdf5", attrs={"dimension": 7})
    with pytest.raises(ValueError, match="dimension=7"):
        data.read_hdf5(path)


def test_read_refuses_external_storage_that_would_read_another_file(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(200, dtype=np.float32).tobytes())
    path = _write_raw(
        tmp_path / "ext.hdf5",
        create={"train": lambda f, k: f.create_dataset(
            k, shape=(50, 4), dtype=np.float32, external=[(str(secret), 0, 800)])},
    )
    with h5py.File(path, "r") as f:  # h5py itself would return the secret file's bytes
        assert f["train"][0, 1] == 1.0
    with pytest.raises(ValueError, match="external storage"):
        data.read_hdf5(path)


def test_read_refuses_virtual_datasets(tmp_path):
    src = tmp_path / "src.hdf5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.ones((50, 4), np.float32))
    layout = h5py.VirtualLayout(shape=(50, 4), dtype=np.float32)
    layout[:] = h5py.VirtualSource(str(src), "x", shape=(50, 4))
    path = _write_raw(tmp_path / "vds.hdf5",
                      create={"train": lambda f, k: f.create_virtual_dataset(k, layout)})
    with pytest.raises(ValueError, match="virtual dataset"):
        data.read_hdf5(path)


def test_read_refuses_special_and_foreign_files(tmp_path):
    import os

    fifo = tmp_path / "pipe.hdf5"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        data.read_hdf5(fifo)  # would block in open() without the check
    with pytest.raises(ValueError, match="not a regular file"):
        data.read_hdf5(tmp_path)
    (tmp_path / "text.hdf5").write_text("hello")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        data.read_hdf5(tmp_path / "text.hdf5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.read_hdf5(tmp_path / "absent.hdf5")


# --------------------------------------------------------------------------------------
# cache folder, names, registry


def test_cache_folder_comes_from_rhtann_data_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("RHTANN_DATA", str(tmp_path / "mine"))
    assert data.default_root() == tmp_path / "mine"
    monkeypatch.delenv("RHTANN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_root() == tmp_path / "xdg" / "rhtann" / "datasets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_root() == tmp_path / "home" / ".cache" / "rhtann" / "datasets"


def test_load_without_root_caches_in_rhtann_data_not_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RHTANN_DATA", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    ds = data.load("gaussian-aniso-100-angular", progress=False)
    assert (tmp_path / "cache" / "gaussian-aniso-100-angular.hdf5").is_file()
    assert not (tmp_path / "datasets").exists()
    assert ds.distance == "angular" and ds.dimension == 100


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".hidden", "", "x" * 200, "a\\b", "név"])
def test_unsafe_dataset_names_are_refused(name):
    with pytest.raises(ValueError, match="dataset name must match"):
        data.check_name(name)


def test_load_of_a_missing_relative_path_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "sub" / "x.hdf5")):
        data.load("sub/x.hdf5")
    with pytest.raises(FileNotFoundError, match="looked for"):
        data.load("../../x", root=tmp_path)


def test_registry_is_one_table_with_two_views():
    assert set(data.BUILDERS) | set(data.ANN_BENCHMARKS) == set(data.REGISTRY)
    assert not set(data.BUILDERS) & set(data.ANN_BENCHMARKS)
    for name, entry in data.REGISTRY.items():
        assert data.check_name(name) == name == entry.name
        assert entry.kind == ("build" if name in data.BUILDERS else "download")
        assert entry.d >= 1 and entry.distance in data.DISTANCES
    assert "sklearn-patches-768-euclidean" in data.BUILDERS


def test_python_m_rhtann_data_list_runs(tmp_path):
    import subprocess
    import sys

    env = {"RHTANN_DATA": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "rhtann.data", "list"], capture_output=True, text=True,
                         env=env, timeout=300, check=True)
    assert f"dataset folder: {tmp_path}" in out.stdout
    assert "sklearn-patches-768-euclidean" in out.stdout and "sift-128-euclidean" in out.stdout


def test_image_patches_cut_every_window_on_the_grid():
    img = np.arange(20 * 24 * 3, dtype=np.uint8).reshape(20, 24, 3)
    p = data.image_patches([img], size=16, stride=4)
    assert p.shape == (2 * 3, 768) and p.dtype == np.float32
    np.testing.assert_array_equal(p[0], img[:16, :16].reshape(-1))
    np.testing.assert_array_equal(p[4], img[4:20, 4:20].reshape(-1))  # row 1, column 1
    with pytest.raises(ValueError, match="images must be"):
        data.image_patches([np.zeros((8, 8, 3), np.uint8)])


def test_sample_patches_builder_has_exact_float64_ground_truth():
    pytest.importorskip("sklearn")
    pytest.importorskip("PIL")
    ds = data.build_sample_patches(progress=False)
    assert ds.dimension == 768 and ds.train.shape == (31_342, 768) and ds.neighbors.shape == (1000, 100)
    ref_ids, ref_d = _brute_force(ds.train, ds.test[:4], "euclidean", 100)
    np.testing.assert_array_equal(ds.neighbors[:4], ref_ids)
    np.testing.assert_allclose(ds.distances[:4], ref_d, rtol=1e-6)
