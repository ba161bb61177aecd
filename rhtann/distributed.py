"""Build one index on a Dask cluster: train once, encode shards on the workers, merge.

:func:`build` runs on the client against any ``dask.distributed.Client``
(a ``LocalCluster`` or a real scheduler address):

1. The client draws ``train_rows`` rows of the source with ``seed``
   (:func:`rhtann.index.sources.sample_rows`) and trains the index, exactly
   as ``Index(d, spec, metric).train_from(source, rows=train_rows, seed=seed)``
   does in one process: same rows, same trained state.
2. The trained empty index travels to the workers as the bytes of an rhtann
   container file (checksummed, :mod:`rhtann.io`), inside each task.
3. Each task reads its row range ``[start, stop)`` from the source, rotates
   and encodes it with :meth:`rhtann.Index.add_from` (IVF indexes under the
   global ids ``start..stop-1``), and returns the shard's faiss sub-index:
   as bytes, or with ``ondisk`` as a faiss index file in a folder next to the
   lists file (the folder must be shared by the workers and the client).
4. The client merges the shards in row order into the trained index
   (``merge_from``, or with ``ondisk`` one ``merge_from_multiple`` pass into
   a new ``OnDiskInvertedLists`` file, see :mod:`rhtann.index.ondisk`).
   Flat-code shards appended in row order hold rows ``0..n-1`` in order, and
   IVF shards carry their global ids, so the merged index holds the ids an
   ``add`` of the whole source in one process gives.

A task whose worker dies is rescheduled by Dask; a task that raises is
retried ``retries`` times. Each task is a pure function of its row range
(shard files are written under a temporary name, then renamed), so a rerun
replaces its own output and the merge takes exactly one result per range:
every row is stored exactly once. The merge checks that the ranges tile
``[0, n)`` and that each shard holds ``stop - start`` vectors.

Sources: a path every worker can read (HDF5, ``.fvecs``/``.bvecs``/
``.ivecs``, ``.npy``), a dask array (each task computes its slice with the
synchronous scheduler), a numpy array (each task carries its slice), or
another picklable array-like with ``shape``, ``dtype`` and row slicing (each
task carries the object). An open h5py dataset cannot be pickled: pass its
file path and ``dataset=``. Needs the ``distributed`` extra
(``pip install rhtann[distributed]``).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import check_int
from .index import Index
from .index import faiss_glue as glue
from .index import ondisk as od
from .index.sources import RowRange, open_source
from .progress import bar
from .threads import check_threads

#: Training rows used when ``train_rows`` is not given (at most the source's rows).
DEFAULT_TRAIN_ROWS = 100_000


def index_to_bytes(index: Index) -> bytes:
    """The bytes of ``index.save`` (an rhtann container with its checksum)."""
    with tempfile.TemporaryDirectory(prefix="rhtann-") as tmp:
        path = Path(tmp) / "index.rhtann"
        index.save(path)
        return path.read_bytes()


def index_from_bytes(blob: bytes) -> Index:
    """Inverse of :func:`index_to_bytes` (all of :func:`rhtann.load`'s checks)."""
    with tempfile.TemporaryDirectory(prefix="rhtann-") as tmp:
        path = Path(tmp) / "index.rhtann"
        path.write_bytes(blob)
        return Index.load(path)


def _worker_threads() -> int:
    """Threads of the Dask worker running the current task (1 outside a worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return 1
    state = getattr(worker, "state", worker)
    return max(1, int(getattr(state, "nthreads", 1)))


def encode_shard(
    blob: bytes, part: Any, start: int, stop: int, use_ids: bool, shard_file: str | None
) -> tuple[int, int, Any, float, float, int]:
    """Task body: rotate and encode rows ``start..stop-1`` into a copy of the trained index.

    Parameters
    ----------
    blob : bytes
        The trained empty index (:func:`index_to_bytes`).
    part : object
        The rows of the range: a :class:`rhtann.index.sources.RowRange` or an
        array of shape ``(stop - start, d)`` (numpy or dask).
    start, stop : int
        The range, for ids and the result.
    use_ids : bool
        Add under the ids ``start..stop-1`` (IVF) instead of sequential ids.
    shard_file : str or None
        Write the shard sub-index there (``faiss.write_index``, atomically)
        and return the name; None returns the faiss bytes.

    Returns
    -------
    tuple
        ``(start, stop, bytes or file name, wall seconds of the add, CPU
        seconds of the worker process during it, ntotal)``.
    """
    import dask
    import faiss

    index = index_from_bytes(blob)
    index.threads = check_threads(_worker_threads())
    ids = np.arange(start, stop, dtype=np.int64) if use_ids else None
    t0, c0 = time.perf_counter(), time.process_time()
    with dask.config.set(scheduler="synchronous"):
        index.add_from(part, ids=ids, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    sub = index.sub_index
    if shard_file is None:
        return start, stop, glue.serialize(sub), seconds, cpu, int(sub.ntotal)
    tmp = f"{shard_file}.{uuid.uuid4().hex}.tmp"
    faiss.write_index(sub, tmp)
    os.replace(tmp, shard_file)
    return start, stop, shard_file, seconds, cpu, int(sub.ntotal)


def _part(source: Any, start: int, stop: int, dataset: str) -> Any:
    """What one task reads: a RowRange for paths and generic array-likes, a slice of an array."""
    if isinstance(source, (str, os.PathLike)):
        return RowRange(os.fspath(Path(source).resolve()), start, stop, dataset)
    if isinstance(source, np.ndarray) or type(source).__module__.startswith("dask."):
        return source[start:stop]
    return RowRange(source, start, stop, dataset)


def _check_picklable(source: Any) -> None:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        return
    if isinstance(source, h5py.Dataset):
        raise TypeError(
            "source is an open h5py dataset, which cannot travel to Dask workers; pass the "
            f"file path {source.file.filename!r} and dataset={source.name.lstrip('/')!r}"
        )


def plan_shards(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous row ranges tiling ``[0, n)``, sizes differing by at most one."""
    bounds = np.linspace(0, n, shards + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def build(
    d: int,
    spec: str,
    source: Any,
    *,
    client: Any,
    metric: str = "l2",
    train_rows: int | None = None,
    seed: int = 0,
    shards: int | None = None,
    ondisk: str | os.PathLike | None = None,
    dataset: str = "train",
    retries: int = 3,
    timeout: float | None = None,
    progress: bool = False,
    index_kwargs: dict | None = None,
) -> Index:
    """Build an :class:`rhtann.Index` of every row of ``source`` on a Dask cluster.

    Parameters
    ----------
    d : int
        Dimension of the vectors.
    spec : str
        Index spec (:mod:`rhtann.index.spec`) whose faiss part is an IVF index
        (``"RHT,IVF256,SQ8"``) or flat codes (``"RHT,SQ8"``); not adaptive.
    source : str, path-like or array-like
        See the module docstring; shape ``(n, d)``, numeric.
    client : dask.distributed.Client
        Connected to a ``LocalCluster`` or a scheduler address.
    metric : {"l2", "ip", "cosine"}, default "l2"
    train_rows : int, optional
        Rows drawn for training (default ``min(n, 100000)``).
    seed : int, default 0
        Seed of the training sample.
    shards : int, optional
        Number of row ranges (tasks); default twice the cluster's threads.
    ondisk : str or path-like, optional
        Keep the merged inverted lists in this new file (IVF only).
    dataset : str, default "train"
        HDF5 dataset name for HDF5 sources.
    retries : int, default 3
        Retries of a task that raises (a lost worker's task is rescheduled
        by Dask itself, up to ``distributed.scheduler.allowed-failures``).
    timeout : float, optional
        Seconds to wait for the encode phase; ``TimeoutError`` past it.
    progress : bool, default False
        A progress bar over finished shards.
    index_kwargs : dict, optional
        Further :class:`rhtann.Index` arguments (``seed`` of the rotation,
        ``chunk_size``...).

    Returns
    -------
    Index
        Trained, holding rows ``0..n-1`` under ids ``0..n-1``. Its
        ``build_report_`` dict gives ``rows``, ``shards``, ``workers``,
        ``threads``, ``train_s``, ``encode_s`` (wall seconds from submitting
        the tasks to the last shard done), ``worker_add_s`` and
        ``worker_cpu_s`` (wall and CPU seconds of the adds, summed over
        tasks) and ``merge_s``.

    Raises
    ------
    ValueError, TypeError
        For a bad source (as :meth:`rhtann.Index.add_from`), spec or argument.
    FileExistsError
        When ``ondisk`` exists.
    RuntimeError
        When the shards returned do not tile the rows exactly.
    """
    from distributed import wait

    kwargs = dict(index_kwargs or {})
    if kwargs.get("adaptive"):
        raise ValueError("distributed.build takes non-adaptive specs (one sub-index to merge)")
    retries = check_int(retries, "retries", 0)
    index = Index(d, spec, metric, **kwargs)
    _check_picklable(source)
    with open_source(source, dataset=dataset, d=index.d) as src:
        n = src.shape[0]
    if n == 0:
        raise ValueError("source holds no rows")
    train_rows = min(n, DEFAULT_TRAIN_ROWS) if train_rows is None else train_rows
    lists_path = None if ondisk is None else Path(ondisk).resolve()
    if lists_path is not None and lists_path.exists():
        raise FileExistsError(f"ondisk path {os.fspath(ondisk)!r} exists; give a new file name")
    t0 = time.perf_counter()
    index.train_from(source, rows=train_rows, seed=seed, dataset=dataset)
    train_s = time.perf_counter() - t0
    kind = od.check_mergeable(index.sub_index, index.spec.text, lists_path is not None)
    threads = sum(int(v) for v in client.nthreads().values())
    if threads == 0:
        raise RuntimeError("the Dask cluster has no workers")
    shards = min(n, 2 * threads) if shards is None else min(n, check_int(shards, "shards", 1))
    ranges = plan_shards(n, shards)
    shard_dir = None
    if lists_path is not None:
        shard_dir = lists_path.with_name(lists_path.name + ".shards")
        shard_dir.mkdir(exist_ok=True)
    blob = index_to_bytes(index)
    token = uuid.uuid4().hex[:12]
    t1 = time.perf_counter()
    futures = [
        client.submit(
            encode_shard,
            blob,
            _part(source, a, b, dataset),
            a,
            b,
            kind == "ivf",
            None if shard_dir is None else str(shard_dir / f"shard-{j:06d}.faiss"),
            key=f"rhtann-shard-{token}-{j}",
            retries=retries,
            pure=False,
        )
        for j, (a, b) in enumerate(ranges)
    ]
    try:
        if progress:
            from distributed import as_completed

            for _ in bar(as_completed(futures), "shards", total=len(futures)):
                pass
        wait(futures, timeout=timeout)
        encode_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        worker_add_s, worker_cpu_s, payloads = 0.0, 0.0, []
        for (a, b), fut in zip(ranges, futures, strict=True):
            start, stop, payload, secs, cpu, count = fut.result()
            if (start, stop) != (a, b) or count != b - a:
                raise RuntimeError(
                    f"shard [{a}, {b}) came back as [{start}, {stop}) holding {count} vectors"
                )
            worker_add_s += secs
            worker_cpu_s += cpu
            if shard_dir is None:
                od.merge_shards(index.sub_index, [glue.deserialize(payload)])
            else:
                payloads.append(payload)
            fut.release()
        if shard_dir is not None:
            index._ondisk = od.merge_shard_files(index.sub_index, payloads, lists_path)
    finally:
        for fut in futures:
            fut.release()
        if shard_dir is not None:
            for f in shard_dir.glob("shard-*"):
                f.unlink()
            shard_dir.rmdir()
    if index.ntotal != n:
        raise RuntimeError(f"the merged index holds {index.ntotal} vectors; the source has {n}")
    index.build_report_ = {
        "rows": n,
        "shards": len(ranges),
        "workers": len(client.nthreads()),
        "threads": threads,
        "train_s": train_s,
        "encode_s": encode_s,
        "worker_add_s": worker_add_s,
        "worker_cpu_s": worker_cpu_s,
        "merge_s": time.perf_counter() - t2,
    }
    return index


__all__ = ["DEFAULT_TRAIN_ROWS", "build", "encode_shard", "index_from_bytes", "index_to_bytes", "plan_shards"]
