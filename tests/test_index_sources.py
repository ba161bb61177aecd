"""Index.add_from and train_from: each source kind equals add/train on the same rows; bad ones fail."""

from __future__ import annotations

import re
from pathlib import Path

import faiss
import h5py
import numpy as np
import pytest

import rhtann
from rhtann.index import sources
from rhtann.index.sources import RowRange, open_source, sample_rows

D = 24
N = 3000
CHUNK = 700  # does not divide N: the last chunk is short


def write_vecs(path: Path, x: np.ndarray, dtype: str) -> Path:
    """Write ``x`` as .fvecs/.ivecs/.bvecs records: int32 dimension, then the components."""
    n, d = x.shape
    comp = np.ascontiguousarray(x.astype(dtype)).view(np.uint8).reshape(n, -1)
    rec = np.empty((n, 4 + comp.shape[1]), dtype=np.uint8)
    rec[:, :4] = np.frombuffer(np.int32(d).astype("<i4").tobytes(), dtype=np.uint8)
    rec[:, 4:] = comp
    path.write_bytes(rec.tobytes())
    return path


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(7).standard_normal((N, D)).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory, x) -> dict:
    root = tmp_path_factory.mktemp("sources")
    u8 = np.random.default_rng(8).integers(0, 256, (N, D)).astype(np.uint8)
    i32 = np.random.default_rng(9).integers(-50, 50, (N, D)).astype(np.int32)
    with h5py.File(root / "ann.hdf5", "w") as f:
        f["train"] = x
        f["test"] = x[:10]
        f["other/vectors"] = x * 2
        f["flat"] = x[:, 0]
        f["names"] = np.array([b"a", b"b"])
    np.save(root / "c.npy", x)
    np.save(root / "f.npy", np.asfortranarray(x))
    np.save(root / "f64.npy", x.astype(np.float64))
    x.tofile(root / "raw.f32")
    return {
        "root": root,
        "hdf5": (root / "ann.hdf5", x),
        "npy": (root / "c.npy", x),
        "npy_fortran": (root / "f.npy", x),
        "npy_f64": (root / "f64.npy", x.astype(np.float64)),
        "fvecs": (write_vecs(root / "x.fvecs", x, "<f4"), x),
        "bvecs": (write_vecs(root / "x.bvecs", u8, "u1"), u8),
        "ivecs": (write_vecs(root / "x.ivecs", i32, "<i4"), i32),
        "raw": root / "raw.f32",
    }


def trained(x: np.ndarray, spec: str = "RHT,SQ8") -> rhtann.Index:
    return rhtann.Index(D, spec).train(x.astype(np.float32))


def codes(index: rhtann.Index) -> np.ndarray:
    return faiss.vector_to_array(faiss.downcast_index(index.sub_index).codes)


@pytest.mark.parametrize("kind", ["hdf5", "npy", "npy_fortran", "npy_f64", "fvecs", "bvecs", "ivecs"])
def test_add_from_file_equals_add(files, kind, one_thread):
    path, data = files[kind]
    a, b = trained(data), trained(data)
    assert a.add_from(path, chunk_rows=CHUNK, progress=False) == N
    b.add(data)
    assert a.ntotal == b.ntotal == N
    np.testing.assert_array_equal(codes(a), codes(b))


def test_add_from_array_likes_equal_add(files, x, one_thread):
    da = pytest.importorskip("dask.array")
    mm = np.memmap(files["raw"], dtype=np.float32, mode="r", shape=(N, D))
    with h5py.File(files["hdf5"][0], "r") as f:
        for src in (f["train"], mm, da.from_array(x, chunks=(512, D)), x):
            a, b = trained(x), trained(x)
            a.add_from(src, chunk_rows=CHUNK, progress=False)
            b.add(x)
            np.testing.assert_array_equal(codes(a), codes(b))


def test_add_from_named_hdf5_dataset_and_ivf(files, x, one_thread):
    path = files["hdf5"][0]
    a, b = trained(x, "RHT,IVF16,SQ8"), trained(x, "RHT,IVF16,SQ8")
    a.add_from(path, dataset="other/vectors", chunk_rows=CHUNK, progress=False)
    b.add(x * 2)
    q = x[:50] * 2
    Da, Ia = a.search(q, 5, nprobe=4)
    Db, Ib = b.search(q, 5, nprobe=4)
    np.testing.assert_array_equal(Ia, Ib)
    np.testing.assert_array_equal(Da, Db)


def test_add_from_ids_equals_add_with_ids(files, x, one_thread):
    ids = np.arange(N, dtype=np.int64) * 3 + 11
    a, b = trained(x, "RHT,IVF16,SQ8"), trained(x, "RHT,IVF16,SQ8")
    a.add_from(files["npy"][0], ids=ids, chunk_rows=CHUNK, progress=False)
    b.add_with_ids(x, ids)
    _, Ia = a.search(x[:40], 3, nprobe=16)
    _, Ib = b.search(x[:40], 3, nprobe=16)
    np.testing.assert_array_equal(Ia, Ib)
    assert set(Ia[:, 0].tolist()) <= set(ids.tolist())


def test_add_from_keeps_index_settings(files, x):
    index = trained(x)
    index.progress = False
    before = index._chunk_arg
    index.add_from(files["npy"][0], chunk_rows=123, progress=True)
    assert (index._chunk_arg, index.progress) == (before, False)


def test_add_from_shows_progress(files, x, capsys):
    index = trained(x)
    index.add_from(files["npy"][0], chunk_rows=1000, progress=True)
    assert "add" in capsys.readouterr().err
    index.add_from(files["npy"][0], chunk_rows=1000, progress=False)
    assert "add" not in capsys.readouterr().err


def test_train_from_equals_train_on_the_sampled_rows(files, x, one_thread):
    idx = sample_rows(N, 500, 5)
    for kind in ("hdf5", "fvecs", "npy"):
        a = rhtann.Index(D, "RHT,IVF16,SQ8").train_from(files[kind][0], rows=500, seed=5)
        b = rhtann.Index(D, "RHT,IVF16,SQ8").train(x[idx])
        assert faiss.serialize_index(a.sub_index).tobytes() == faiss.serialize_index(b.sub_index).tobytes()


def test_sample_rows_is_seeded_sorted_and_distinct():
    a, b, c = sample_rows(10_000, 300, 1), sample_rows(10_000, 300, 1), sample_rows(10_000, 300, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.int64 and np.all(np.diff(a) > 0) and 0 <= a[0] and a[-1] < 10_000
    assert sample_rows(5, 5, 0).tolist() == [0, 1, 2, 3, 4]


def test_row_range_reads_its_rows(files, x):
    with open_source(RowRange(files["fvecs"][0], 100, 250), d=D) as src:
        assert src.shape == (150, D)
        np.testing.assert_array_equal(src[10:20], x[110:120])
        np.testing.assert_array_equal(src.take(np.array([0, 149]), 1), x[[100, 249]])
    with pytest.raises(ValueError, match=r"row range \[100, 9000\)"):
        RowRange(files["npy"][0], 100, 9000).open(D)


# ----------------------------------------------------------------------
# bad sources
# ----------------------------------------------------------------------


def bad(files, tmp_path, x):
    """(source, kwargs, error type, message pattern) of every bad source."""
    root = files["root"]
    trunc = tmp_path / "trunc.fvecs"
    trunc.write_bytes(files["fvecs"][0].read_bytes()[:-3])
    mixed = tmp_path / "mixed.fvecs"
    raw = bytearray(files["fvecs"][0].read_bytes())
    raw[(4 + 4 * D) * 5 : (4 + 4 * D) * 5 + 4] = np.int32(D + 1).tobytes()
    mixed.write_bytes(bytes(raw))
    empty = tmp_path / "empty.fvecs"
    empty.write_bytes(b"")
    np.save(tmp_path / "str.npy", np.array([["a", "b"]]))
    np.save(tmp_path / "obj.npy", np.array([[object()]]), allow_pickle=True)
    np.save(tmp_path / "d3.npy", np.zeros((2, 3, 4), np.float32))
    (tmp_path / "x.csv").write_text("1,2\n")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    h5 = files["hdf5"][0]
    return [
        (tmp_path / "missing.h5", {}, FileNotFoundError, "missing.h5.*does not exist"),
        (tmp_path / "x.csv", {}, ValueError, "suffix '.csv'"),
        (tmp_path / "junk.h5", {}, ValueError, "not a readable HDF5 file"),
        (h5, {"dataset": "nope"}, ValueError, r"no dataset named 'nope'.*'train'"),
        (h5, {"dataset": "other"}, ValueError, "a group, not a dataset"),
        (h5, {"dataset": "flat"}, ValueError, r"2-D.*shape \(3000,\)"),
        (h5, {"dataset": "names"}, TypeError, "float or integer values.*dtype \\|S1"),
        (root / "ann.hdf5", {"dataset": 3}, TypeError, "dataset must be a str"),
        (trunc, {}, ValueError, "not a whole number of 100-byte records"),
        (mixed, {}, ValueError, "record 5 has a dimension other than 24"),
        (empty, {}, ValueError, "is empty"),
        (tmp_path / "str.npy", {}, TypeError, "float or integer values.*<U1"),
        (tmp_path / "obj.npy", {}, TypeError, "numeric array"),
        (tmp_path / "d3.npy", {}, ValueError, r"2-D.*\(2, 3, 4\)"),
        (x[:, :10], {}, ValueError, r"10 columns.*d=24"),
        (x > 0, {}, TypeError, "dtype bool"),
        (x.astype(np.complex64), {}, TypeError, "dtype complex64"),
        ([[1.0] * D], {}, TypeError, "got list"),
        (None, {}, TypeError, "got NoneType"),
    ]


def test_every_bad_source_gets_a_clear_error(files, tmp_path, x):
    index = trained(x)
    for source, kwargs, exc, pattern in bad(files, tmp_path, x):
        with pytest.raises(exc, match=pattern):
            index.add_from(source, progress=False, **kwargs)
        with pytest.raises(exc, match=pattern):
            rhtann.Index(D, "RHT,SQ8").train_from(source, rows=N, seed=0, **kwargs)
    assert index.ntotal == 0


def test_wrong_d_names_both_dimensions(files, x):
    index = rhtann.Index(D + 8, "RHT,SQ8").train(np.zeros((10, D + 8), np.float32))
    with pytest.raises(ValueError, match=re.escape("has 24 columns (shape (3000, 24)); this Index has d=32")):
        index.add_from(files["hdf5"][0])


def test_bad_arguments(files, x):
    path = files["npy"][0]
    index = trained(x)
    with pytest.raises(ValueError, match="chunk_rows must be >= 1; got 0"):
        index.add_from(path, chunk_rows=0)
    with pytest.raises(ValueError, match="ids must be a 1-D integer array of length 3000"):
        index.add_from(path, ids=np.arange(5))
    with pytest.raises(RuntimeError, match="not trained; call train"):
        rhtann.Index(D, "RHT,SQ8").add_from(path)
    fresh = rhtann.Index(D, "RHT,SQ8")
    with pytest.raises(ValueError, match=r"rows must be <= the number of rows in the source \(3000\)"):
        fresh.train_from(path, rows=N + 1, seed=0)
    with pytest.raises(ValueError, match="rows must be >= 1; got 0"):
        fresh.train_from(path, rows=0, seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0; got -1"):
        fresh.train_from(path, rows=10, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer; got 1.5"):
        fresh.train_from(path, rows=10, seed=1.5)
    with pytest.raises(ValueError, match="holds no rows"):
        fresh.train_from(np.zeros((0, D), np.float32), rows=1, seed=0)
    assert not fresh.is_trained


def test_non_finite_rows_are_refused(tmp_path, x):
    y = x.copy()
    y[1234, 3] = np.nan
    np.save(tmp_path / "nan.npy", y)
    index = trained(x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        index.add_from(tmp_path / "nan.npy", chunk_rows=1000, progress=False)
    assert index.ntotal == 1000  # the chunk before the bad one stays added


def test_mapped_pages_are_released(files):
    src = open_source(files["npy"][0], d=D)
    assert src._mm is not None and hasattr(src._mm, "madvise")
    first = src.read(0, 100)
    np.testing.assert_array_equal(src.read(0, 100), first)  # released pages read back from the file
    src.close()
    assert src._mm is None and src.rows is None


def test_suffix_table_covers_the_documented_kinds():
    assert set(sources.SUFFIXES.values()) == {"hdf5", "fvecs", "ivecs", "bvecs", "npy"}


def test_adaptive_add_from_equals_add(files, x, one_thread):
    a = rhtann.Index(D, "RHT,SQ8", adaptive=True).train(x)
    b = rhtann.Index(D, "RHT,SQ8", adaptive=True).train(x)
    a.add_from(files["fvecs"][0], chunk_rows=CHUNK, progress=False)
    b.add(x)
    assert a.level_counts == b.level_counts and a.ntotal == N
    np.testing.assert_array_equal(a.search(x[:50], 5)[1], b.search(x[:50], 5)[1])
