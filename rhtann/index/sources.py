"""Vector sources read a chunk at a time: files and lazy arrays for ``add_from``/``train_from``.

:func:`open_source` turns what a caller names into a :class:`Source`, a 2-D
numeric table of rows read by slices:

- a path ending in ``.h5``/``.hdf5``: the 2-D dataset named ``dataset`` of
  the file (``"train"`` in the ann-benchmarks layout), read with h5py one
  hyperslab at a time;
- a path ending in ``.fvecs`` (float32), ``.ivecs`` (int32) or ``.bvecs``
  (uint8): records of a little-endian int32 dimension followed by the
  components, memory-mapped; every record's dimension is checked as it is read;
- a path ending in ``.npy``: memory-mapped (any numeric dtype, C or Fortran order);
- any object with a 2-D ``shape``, a numeric ``dtype`` and slicing (an h5py
  dataset, ``np.memmap``, a dask array, a numpy array).

Pages of the memory-mapped files are dropped from the process (``madvise``
``MADV_DONTNEED``) once their rows are read, so reading a file larger than
RAM keeps the resident set at about one chunk. A caller's own ``np.memmap`` is
read through as it is: its pages stay mapped (file-backed, reclaimable by the
kernel) until the caller drops it. :func:`add_from` and
:func:`train_from` implement :meth:`rhtann.Index.add_from` and
:meth:`rhtann.Index.train_from`.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_ids, check_int

#: File suffixes :func:`open_source` reads, and the kind each names.
SUFFIXES = {
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".fvecs": "fvecs",
    ".ivecs": "ivecs",
    ".bvecs": "bvecs",
    ".npy": "npy",
}

_VECS_DTYPE = {"fvecs": np.dtype("<f4"), "ivecs": np.dtype("<i4"), "bvecs": np.dtype("u1")}
_PAGE = mmap.PAGESIZE


class Source:
    """A 2-D numeric table of rows, read by slices.

    Parameters
    ----------
    rows : object
        The underlying array-like; ``rows[i0:i1]`` gives rows ``i0..i1-1``.
    shape : tuple of int
        ``(n, d)``.
    dtype : numpy.dtype
        Dtype of the values (float, signed or unsigned integer).
    where : str
        Description used in error messages (the path, or the type of array).
    mm : mmap.mmap, optional
        The mapping behind ``rows`` (files): pages are released after reads.
    offset, row_bytes : int
        Byte offset of row 0 in ``mm`` and bytes per row (for releases).
    owner : object, optional
        Something to close with the source (an open h5py file).
    check : callable, optional
        ``check(i0, i1)`` validates the raw records of rows ``i0..i1-1``
        before they are used (the per-record dimension of ``.fvecs`` files).
    """

    def __init__(
        self,
        rows: Any,
        shape: tuple[int, int],
        dtype: np.dtype,
        where: str,
        *,
        mm: mmap.mmap | None = None,
        offset: int = 0,
        row_bytes: int = 0,
        owner: Any = None,
        check: Any = None,
    ) -> None:
        self.rows = rows
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.where = where
        self._mm = mm
        self._offset = offset
        self._row_bytes = row_bytes
        self._owner = owner
        self._check = check

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"Source({self.where}, shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(f"a Source is read by contiguous row slices; got {key!r}")
        i0, i1, _ = key.indices(self.shape[0])
        return self.read(i0, max(i0, i1))

    def read(self, i0: int, i1: int) -> np.ndarray:
        """Rows ``i0..i1-1`` as an in-memory numpy array of shape ``(i1 - i0, d)``."""
        if self._check is not None:
            self._check(i0, i1)
        out = np.asarray(self.rows[i0:i1])
        if self._mm is not None:  # copy out of the mapping, then drop its pages
            out = out.copy()
            self._release(i0, i1)
        return self._checked(out, i1 - i0)

    def take(self, idx: np.ndarray, group: int) -> np.ndarray:
        """The rows at sorted, distinct indices ``idx``, ``group`` indices at a time.

        Returns
        -------
        numpy.ndarray, shape (len(idx), d), float32
        """
        out = np.empty((idx.shape[0], self.shape[1]), dtype=np.float32)
        for j0 in range(0, idx.shape[0], group):
            sel = idx[j0 : j0 + group]
            if self._check is not None:
                for i in sel:
                    self._check(int(i), int(i) + 1)
            with np.errstate(over="ignore"):
                out[j0 : j0 + sel.shape[0]] = self._checked(np.asarray(self.rows[sel]), sel.shape[0])
            if sel.shape[0]:
                self._release(int(sel[0]), int(sel[-1]) + 1)
        return out

    def _checked(self, out: np.ndarray, n: int) -> np.ndarray:
        if out.shape != (n, self.shape[1]):
            raise ValueError(
                f"{self.where} returned shape {out.shape} for {n} rows; expected ({n}, {self.shape[1]})"
            )
        return out

    def _release(self, i0: int, i1: int) -> None:
        """Drop the pages of rows ``i0..i1-1`` from the resident set (mapped files only)."""
        if self._mm is None or not self._row_bytes or not hasattr(self._mm, "madvise"):
            return
        start = (self._offset + i0 * self._row_bytes) // _PAGE * _PAGE
        stop = min(len(self._mm), self._offset + i1 * self._row_bytes)
        if stop > start:
            self._mm.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def close(self) -> None:
        """Close the file behind the source (nothing for caller-owned arrays)."""
        self.rows = None
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:  # a view of the mapping is still alive; the OS unmaps at exit
                pass
            self._mm = None
        if self._owner is not None:
            self._owner.close()
            self._owner = None

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_table(shape: Any, dtype: Any, where: str, d: int | None) -> tuple[tuple[int, int], np.dtype]:
    """Validate the shape and dtype of a source, naming it in errors."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where} must have a numeric dtype; got dtype {dtype!r}") from None
    if dtype.kind not in "fiu":
        raise TypeError(
            f"{where} must hold float or integer values (float32 preferred); got dtype {dtype}"
        )
    shape = tuple(int(s) for s in shape)
    expected = f"(n, {d})" if d is not None else "(n, d)"
    if len(shape) != 2:
        raise ValueError(f"{where} must be 2-D of shape {expected}; got shape {shape}")
    if d is not None and shape[1] != d:
        raise ValueError(
            f"{where} has {shape[1]} columns (shape {shape}); this Index has d={d}, "
            f"so the source must have shape {expected}"
        )
    return (shape[0], shape[1]), dtype


def _open_hdf5(path: Path, dataset: str, d: int | None) -> Source:
    import h5py

    where = f"{os.fspath(path)!r}"
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{where} is not a readable HDF5 file ({exc})") from None
    try:
        obj = f.get(dataset)
        if not isinstance(obj, h5py.Dataset):
            found: list[str] = []
            f.visititems(lambda name, o: found.append(name) if isinstance(o, h5py.Dataset) else None)
            what = "no dataset" if obj is None else "a group, not a dataset,"
            raise ValueError(
                f"{where} has {what} named {dataset!r}; pass dataset= one of its datasets: {found}"
            )
        shape, dtype = _check_table(obj.shape, obj.dtype, f"dataset {dataset!r} of {where}", d)
        return Source(obj, shape, dtype, f"dataset {dataset!r} of {where}", owner=f)
    except BaseException:
        f.close()
        raise


def _map(path: Path) -> mmap.mmap | None:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return None
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def _open_vecs(path: Path, kind: str, d: int | None) -> Source:
    where = f"{os.fspath(path)!r}"
    dtype = _VECS_DTYPE[kind]
    mm = _map(path)
    if mm is None:
        raise ValueError(f"{where} is empty; a .{kind} file holds at least one record")
    dim = int(np.frombuffer(mm, dtype="<i4", count=1)[0])
    if dim <= 0 or dim > 1 << 20:
        mm.close()
        raise ValueError(f"{where} is not a .{kind} file: its first record has dimension {dim}")
    rec = 4 + dim * dtype.itemsize
    if len(mm) % rec:
        size = len(mm)
        mm.close()
        raise ValueError(
            f"{where} has {size} bytes, not a whole number of {rec}-byte records "
            f"(dimension {dim}): truncated, or records of different dimensions"
        )
    n = len(mm) // rec
    raw = np.frombuffer(mm, dtype=np.uint8).reshape(n, rec)
    heads = raw[:, :4]
    rows = raw[:, 4:].view(dtype)
    shape, _ = _check_table((n, dim), dtype, where, d)

    def check(i0: int, i1: int) -> None:
        bad = np.flatnonzero(heads[i0:i1].copy().view("<i4").ravel() != dim)
        if bad.size:
            raise ValueError(f"{where}: record {i0 + int(bad[0])} has a dimension other than {dim}")

    return Source(rows, shape, dtype, where, mm=mm, row_bytes=rec, check=check)


def _open_npy(path: Path, d: int | None) -> Source:
    where = f"{os.fspath(path)!r}"
    try:
        header = np.load(path, mmap_mode="r")
    except ValueError as exc:  # object arrays cannot be mapped
        raise TypeError(f"{where} must hold a numeric array ({exc})") from None
    shape, dtype = _check_table(header.shape, header.dtype, where, d)
    offset, fortran = int(header.offset), bool(header.flags.f_contiguous and not header.flags.c_contiguous)
    del header
    if shape[0] * shape[1] == 0:
        return Source(np.empty(shape, dtype), shape, dtype, where)
    mm = _map(path)
    flat = np.frombuffer(mm, dtype=dtype, count=shape[0] * shape[1], offset=offset)
    if fortran:
        return Source(flat.reshape(shape[::-1]).T, shape, dtype, where, mm=mm)
    row_bytes = shape[1] * dtype.itemsize
    return Source(flat.reshape(shape), shape, dtype, where, mm=mm, offset=offset, row_bytes=row_bytes)


def open_source(source: Any, *, dataset: str = "train", d: int | None = None) -> Source:
    """Open a path or wrap an array-like as a :class:`Source` (see the module docstring).

    Parameters
    ----------
    source : str, path-like or array-like
        A ``.h5``/``.hdf5``, ``.fvecs``/``.ivecs``/``.bvecs`` or ``.npy``
        path, or an object with a 2-D ``shape``, a numeric ``dtype`` and
        ``source[i0:i1]`` row slicing.
    dataset : str, default "train"
        The dataset read from an HDF5 file (ignored for other sources).
    d : int, optional
        Required number of columns.

    Returns
    -------
    Source
        Close it (or use it as a context manager) to close the file.

    Raises
    ------
    FileNotFoundError
        For a path that does not exist.
    ValueError
        For an unknown suffix, a missing HDF5 dataset (the message lists the
        file's datasets), a malformed ``.fvecs`` file, a source that is not
        2-D or has other than ``d`` columns.
    TypeError
        For non-numeric data, or an object that is neither a path nor an array-like.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"source {os.fspath(path)!r} does not exist")
        kind = SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise ValueError(
                f"source {os.fspath(path)!r} has suffix {path.suffix!r}; readable files end in "
                f"{sorted(SUFFIXES)} (or pass an array-like: h5py dataset, np.memmap, dask array)"
            )
        if not isinstance(dataset, str):
            raise TypeError(f"dataset must be a str naming an HDF5 dataset; got {type(dataset).__name__}")
        if kind == "hdf5":
            return _open_hdf5(path, dataset, d)
        if kind == "npy":
            return _open_npy(path, d)
        return _open_vecs(path, kind, d)
    if isinstance(source, RowRange):
        return source.open(d)
    if isinstance(source, Source):
        _check_table(source.shape, source.dtype, source.where, d)
        return source
    if not (hasattr(source, "shape") and hasattr(source, "__getitem__") and hasattr(source, "dtype")):
        raise TypeError(
            "source must be a path (.h5, .hdf5, .fvecs, .ivecs, .bvecs, .npy) or an array-like "
            f"with shape, dtype and row slicing; got {type(source).__name__}"
        )
    where = f"source ({type(source).__name__})"
    shape, dtype = _check_table(source.shape, source.dtype, where, d)
    return Source(source, shape, dtype, where)


class RowRange:
    """Rows ``start..stop-1`` of a source, itself a source (a shard of a distributed build).

    Parameters
    ----------
    source : str, path-like or array-like
        What :func:`open_source` accepts; opened when the range is opened.
    start, stop : int
        Row range, ``0 <= start <= stop <= n``.
    dataset : str, default "train"
    """

    def __init__(self, source: Any, start: int, stop: int, dataset: str = "train") -> None:
        self.source, self.start, self.stop, self.dataset = source, int(start), int(stop), dataset

    def open(self, d: int | None = None) -> Source:
        """The :class:`Source` of the range (close it after use)."""
        src = open_source(self.source, dataset=self.dataset, d=d)
        if not 0 <= self.start <= self.stop <= src.shape[0]:
            src.close()
            raise ValueError(
                f"row range [{self.start}, {self.stop}) is outside {src.where} of {src.shape[0]} rows"
            )
        start = self.start

        class _Shifted:
            def __getitem__(self, key: Any) -> Any:
                if isinstance(key, slice):
                    return src.read(start + key.start, start + key.stop)
                return src.take(np.asarray(key) + start, max(1, len(key)))

        shape = (self.stop - self.start, src.shape[1])
        where = f"rows [{self.start}, {self.stop}) of {src.where}"
        return Source(_Shifted(), shape, src.dtype, where, owner=src)


def sample_rows(n: int, rows: Any, seed: Any) -> np.ndarray:
    """Sorted distinct row indices: ``rows`` of ``range(n)`` drawn without replacement.

    ``np.random.default_rng(seed).choice(n, rows, replace=False)``, sorted;
    the same ``(n, rows, seed)`` always gives the same indices.

    Raises
    ------
    ValueError, TypeError
        For ``rows`` outside ``[1, n]`` or a negative or non-integer ``seed``.
    """
    rows = check_int(rows, "rows", 1)
    if rows > n:
        raise ValueError(f"rows must be <= the number of rows in the source ({n}); got rows={rows}")
    seed = check_int(seed, "seed", 0)
    idx = np.random.default_rng(seed).choice(n, size=rows, replace=False)
    return np.sort(idx).astype(np.int64, copy=False)


def add_from(index: Any, source: Any, *, dataset: str, chunk_rows: Any, ids: Any, progress: bool) -> int:
    """Implementation of :meth:`rhtann.Index.add_from`; returns the number of rows added."""
    index._check_trained("add_from")
    rows = index.chunk_size if chunk_rows is None else check_int(chunk_rows, "chunk_rows", 1)
    with open_source(source, dataset=dataset, d=index.d) as src:
        n = src.shape[0]
        ids_arr = None if ids is None else check_ids(ids, n, new=True)
        saved = index._chunk_arg, index.progress
        index._chunk_arg, index.progress = rows, bool(progress)
        try:
            index._add(src, ids_arr)
        finally:
            index._chunk_arg, index.progress = saved
    return n


def train_from(index: Any, source: Any, *, rows: Any, seed: Any, dataset: str = "train") -> np.ndarray:
    """Implementation of :meth:`rhtann.Index.train_from`; returns the sampled row indices."""
    with open_source(source, dataset=dataset, d=index.d) as src:
        if src.shape[0] == 0:
            raise ValueError(f"{src.where} holds no rows to train on")
        idx = sample_rows(src.shape[0], rows, seed)
        x = src.take(idx, index.chunk_size)
    index.train(x)
    return idx


__all__ = ["SUFFIXES", "RowRange", "Source", "add_from", "open_source", "sample_rows", "train_from"]
