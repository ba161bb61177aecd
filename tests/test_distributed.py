"""rhtann.distributed.build on a LocalCluster of 2 worker processes: equal to one process, survives a kill."""

from __future__ import annotations

import os
import sys

import faiss
import h5py
import numpy as np
import pytest

pytest.importorskip("distributed")
import cloudpickle  # noqa: E402  (a dependency of distributed)
from distributed import Client, LocalCluster  # noqa: E402

import rhtann  # noqa: E402
from rhtann import distributed as rd  # noqa: E402
from rhtann.index import ondisk  # noqa: E402

D = 32
N = 12_000
TRAIN = 3000
SPEC = "RHT,IVF32,SQ8"
TIMEOUT = 120  # seconds for any one build's encode phase

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers unpickle ExitOnce by value


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as cluster, Client(cluster.scheduler_address) as c:  # by address, as for a remote cluster
        c.wait_for_workers(2, timeout=TIMEOUT)
        yield c


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(21).standard_normal((N, D)).astype(np.float32)


@pytest.fixture(scope="module")
def npy(tmp_path_factory, x):
    path = tmp_path_factory.mktemp("dist") / "x.npy"
    np.save(path, x)
    return path


def single(x: np.ndarray, spec: str = SPEC) -> rhtann.Index:
    index = rhtann.Index(D, spec).train_from(x, rows=TRAIN, seed=4)
    index.add(x)
    return index


def recall_at_10(I: np.ndarray, truth: np.ndarray) -> float:  # noqa: E741
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(I, truth, strict=True)]))


def all_ids(index: rhtann.Index) -> np.ndarray:
    lists = ondisk.lists_of(index.sub_index)
    parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy() for i in range(lists.nlist)]
    return np.sort(np.concatenate(parts))


def test_ivf_build_equals_single_process(client, x, npy):
    built = rd.build(D, SPEC, npy, client=client, train_rows=TRAIN, seed=4, shards=5, timeout=TIMEOUT)
    ref = single(x)
    report = built.build_report_
    assert (report["rows"], report["shards"], report["workers"]) == (N, 5, 2)
    assert built.ntotal == N
    ivf_b, ivf_r = faiss.extract_index_ivf(built.sub_index), faiss.extract_index_ivf(ref.sub_index)
    np.testing.assert_array_equal(  # trained once on the client: the same centroids
        ivf_b.quantizer.reconstruct_n(0, 32), ivf_r.quantizer.reconstruct_n(0, 32)
    )
    np.testing.assert_array_equal(all_ids(built), np.arange(N))
    q = x[:100] + 0.05
    truth = np.argsort(((q[:, None, :] - x[None]) ** 2).sum(-1), axis=1)[:, :10]
    Db, Ib = built.search(q, 10, nprobe=8)
    Dr, Ir = ref.search(q, 10, nprobe=8)
    assert abs(recall_at_10(Ib, truth) - recall_at_10(Ir, truth)) <= 0.01
    np.testing.assert_array_equal(Ib, Ir)  # merged lists keep the single-process order
    np.testing.assert_array_equal(Db, Dr)


def test_flat_codes_from_numpy_and_dask_arrays(client, x):
    da = pytest.importorskip("dask.array")
    ref = single(x, "RHT,SQ8")
    want = faiss.vector_to_array(faiss.downcast_index(ref.sub_index).codes)
    for src in (x, da.from_array(x, chunks=(2500, D))):
        built = rd.build(D, "RHT,SQ8", src, client=client, train_rows=TRAIN, seed=4, timeout=TIMEOUT)
        assert built.build_report_["shards"] == 4  # twice the cluster's 2 threads
        got = faiss.vector_to_array(faiss.downcast_index(built.sub_index).codes)
        np.testing.assert_array_equal(got, want)  # rows 0..n-1 in order


def test_ondisk_build_saves_and_loads(client, x, npy, tmp_path):
    lists = tmp_path / "lists.ivfdata"
    built = rd.build(
        D, SPEC, npy, client=client, train_rows=TRAIN, seed=4, ondisk=lists, shards=3, timeout=TIMEOUT
    )
    assert built._ondisk == str(lists) and lists.stat().st_size > 0
    assert not (tmp_path / "lists.ivfdata.shards").exists()  # shard files removed after the merge
    np.testing.assert_array_equal(all_ids(built), np.arange(N))
    _, Ir = single(x).search(x[:50], 10, nprobe=8)
    np.testing.assert_array_equal(built.search(x[:50], 10, nprobe=8)[1], Ir)
    built.save(tmp_path / "i.rhtann")
    loaded = rhtann.load(tmp_path / "i.rhtann")
    np.testing.assert_array_equal(loaded.search(x[:50], 10, nprobe=8)[1], Ir)
    with pytest.raises(FileExistsError, match="exists"):
        rd.build(D, SPEC, npy, client=client, train_rows=TRAIN, seed=4, ondisk=lists)


def test_bad_builds_fail_before_any_task(client, x, npy, tmp_path):
    with pytest.raises(ValueError, match="cannot be merged"):
        rd.build(D, "RHT,HNSW16", x[:500], client=client, train_rows=500)
    with pytest.raises(ValueError, match="non-adaptive"):
        rd.build(D, SPEC, npy, client=client, index_kwargs={"adaptive": True})
    with pytest.raises(ValueError, match="on-disk merging needs|need an IVF index"):
        rd.build(D, "RHT,SQ8", npy, client=client, train_rows=500, ondisk=tmp_path / "z")
    with pytest.raises(ValueError, match="d=16"):
        rd.build(16, SPEC, npy, client=client)
    with pytest.raises(ValueError, match="rows must be <= the number of rows"):
        rd.build(D, SPEC, npy, client=client, train_rows=N + 1)
    h5 = tmp_path / "x.h5"
    with h5py.File(h5, "w") as f:
        f["train"] = x[:100]
    with h5py.File(h5, "r") as f, pytest.raises(TypeError, match="pass the file path"):
        rd.build(D, SPEC, f["train"], client=client)


def test_plan_shards_tiles_the_rows():
    for n, k in [(10, 3), (7, 7), (1000, 13), (5, 1)]:
        ranges = rd.plan_shards(n, k)
        assert ranges[0][0] == 0 and ranges[-1][1] == n and len(ranges) == k
        assert all(a1 == b0 for (_, a1), (b0, _) in zip(ranges[:-1], ranges[1:], strict=True))
        sizes = [b - a for a, b in ranges]
        assert max(sizes) - min(sizes) <= 1


def test_index_bytes_round_trip(x):
    index = rhtann.Index(D, SPEC).train(x[:2000])
    copy = rd.index_from_bytes(rd.index_to_bytes(index))
    assert faiss.serialize_index(copy.sub_index).tobytes() == faiss.serialize_index(index.sub_index).tobytes()
    with pytest.raises(rhtann.FormatError):
        rd.index_from_bytes(rd.index_to_bytes(index)[:-1])


class ExitOnce:
    """An array-like whose first slice read at or past ``row`` in a worker kills that worker process."""

    def __init__(self, x: np.ndarray, row: int, marker: str) -> None:
        self.x, self.row, self.marker, self.pid = x, row, marker, os.getpid()
        self.shape, self.dtype = x.shape, x.dtype

    def __getitem__(self, key):
        if isinstance(key, slice) and os.getpid() != self.pid and key.start >= self.row:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                os._exit(17)  # the worker process dies mid-task
        return self.x[key]


def test_build_survives_a_killed_worker(client, x, tmp_path):
    marker = tmp_path / "killed"
    src = ExitOnce(x, N // 2, str(marker))
    built = rd.build(D, SPEC, src, client=client, train_rows=TRAIN, seed=4, shards=6, timeout=TIMEOUT)
    assert marker.exists()  # a worker did die
    assert built.ntotal == N
    np.testing.assert_array_equal(all_ids(built), np.arange(N))  # every row exactly once
    _, Ir = single(x).search(x[:50], 10, nprobe=8)
    np.testing.assert_array_equal(built.search(x[:50], 10, nprobe=8)[1], Ir)
