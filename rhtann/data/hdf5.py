"""Read and write the ann-benchmarks HDF5 layout, checking a file before trusting it.

An ann-benchmarks file holds four datasets and a few root attributes:

``train`` (n, d)
    The vectors to index.
``test`` (q, d)
    The queries.
``neighbors`` (q, m) int
    Ids of each query's true nearest neighbours, nearest first.
``distances`` (q, m) float
    Their distances: the Euclidean distance (not squared) for
    ``distance="euclidean"``, ``1 - cos`` for ``distance="angular"``.

Root attributes: ``distance``, ``dimension``, ``point_type`` ("float") and
``type`` ("dense").

:func:`read_hdf5` reads only regular files, and checks every declared shape,
dtype and storage before it reads a byte of data: a small file cannot make it
allocate much more than its own size (:data:`MAX_EXPANSION`), nor more than
:data:`MAX_BYTES` in all; datasets stored outside the file (HDF5 external
storage, virtual datasets) are refused, so a file cannot make it read other
local files. The data is then checked: finite vectors, neighbour ids in
``[0, n)``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Dataset

#: The four datasets of the layout.
KEYS = ("train", "test", "neighbors", "distances")

#: Largest ratio of declared data bytes (as read into memory) to file size.
#: Uncompressed files are at ratio <= 1; compressed ones rarely pass 10.
MAX_EXPANSION = 64.0

#: Largest number of bytes :func:`read_hdf5` allocates for one file, unless
#: the caller passes ``max_bytes`` (environment override: ``RHTANN_MAX_READ_BYTES``).
MAX_BYTES = int(os.environ.get("RHTANN_MAX_READ_BYTES", 64 << 30))

_KINDS = {"train": "fiu", "test": "fiu", "neighbors": "iu", "distances": "fiu"}
_OUT_DTYPE = {"train": np.float32, "test": np.float32, "neighbors": np.int32, "distances": np.float32}


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_dataset(f, key: str, where: str):
    """The h5py dataset ``key`` after its kind, storage, dtype and rank checks."""
    import h5py

    obj = f.get(key, getlink=False)
    if not isinstance(obj, h5py.Dataset):
        raise ValueError(f"{where}: {key!r} must be an HDF5 dataset; found {type(obj).__name__}")
    if obj.external:
        raise ValueError(
            f"{where}: dataset {key!r} uses HDF5 external storage (data in another file); "
            "refused, only data stored inside the file is read"
        )
    if obj.is_virtual:
        raise ValueError(
            f"{where}: {key!r} is a virtual dataset (data mapped from other files); refused"
        )
    dt = obj.dtype
    if dt.kind not in _KINDS[key] or dt.fields is not None or dt.subdtype is not None:
        wanted = "an integer" if key == "neighbors" else "a real numeric (float or integer)"
        raise ValueError(f"{where}: {key!r} must have {wanted} dtype; got {dt}")
    if obj.ndim != 2:
        raise ValueError(f"{where}: {key!r} must be 2-D; got shape {obj.shape}")
    return obj


def read_hdf5(
    path: str | os.PathLike,
    name: str | None = None,
    *,
    max_bytes: int | None = None,
    max_expansion: float = MAX_EXPANSION,
) -> Dataset:
    """Read an ann-benchmarks HDF5 file, refusing anything malformed or hostile.

    Parameters
    ----------
    path : str or path-like
        A regular file, for example ``sift-128-euclidean.hdf5`` as downloaded
        from ann-benchmarks.com.
    name : str, optional
        Dataset name; defaults to the file stem.
    max_bytes : int, optional
        Most bytes the data may take in memory (default :data:`MAX_BYTES`).
    max_expansion : float
        Most bytes in memory per byte of file (default :data:`MAX_EXPANSION`).

    Returns
    -------
    Dataset
        ``train`` and ``test`` as float32 ``(n, d)`` / ``(q, d)``,
        ``neighbors`` as int32 ``(q, m)`` with ids in ``[0, n)``,
        ``distances`` as float32 ``(q, m)``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the path is not a regular file; the file is not HDF5, lacks one
        of the four datasets, is sparse; a dataset is not 2-D, has a
        non-numeric (bool, complex, string, compound) dtype, external or
        virtual storage; the shapes disagree or ``d < 1``; the declared size
        is over the limits; a vector or distance is not finite; or a
        neighbour id is negative or ``>= n``.
    """
    import h5py

    path = Path(path)
    where = repr(os.fspath(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"dataset file {where} does not exist") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{where} is not a regular file; only regular HDF5 files are read")
    limit = MAX_BYTES if max_bytes is None else int(max_bytes)
    limit = min(limit, int(max_expansion * max(st.st_size, 1)))
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{where} is not a readable HDF5 file ({exc})") from None
    with f:
        missing = [key for key in KEYS if key not in f]
        if missing:
            raise ValueError(
                f"{where} is not an ann-benchmarks dataset: missing {missing} (found {sorted(f.keys())})"
            )
        attrs = {key: _decode(value) for key, value in f.attrs.items()}
        if attrs.get("type", "dense") != "dense":
            raise ValueError(f"{where} holds a {attrs['type']!r} dataset; only dense datasets are supported")
        dsets = {key: _check_dataset(f, key, where) for key in KEYS}
        (n, d), (q, d_test) = dsets["train"].shape, dsets["test"].shape
        if d < 1 or n < 1 or q < 1 or d_test != d:
            raise ValueError(
                f"{where}: train {dsets['train'].shape} and test {dsets['test'].shape} must be "
                "non-empty with the same number of columns d >= 1"
            )
        nb_shape, di_shape = dsets["neighbors"].shape, dsets["distances"].shape
        if nb_shape != di_shape or nb_shape[0] != q or nb_shape[1] < 1:
            raise ValueError(
                f"{where}: neighbors {nb_shape} and distances {di_shape} must both be (q, m) "
                f"with q = {q} queries and m >= 1"
            )
        declared = sum(
            int(np.prod(obj.shape, dtype=np.float64)) * max(obj.dtype.itemsize, 4) for obj in dsets.values()
        )
        if declared > limit:
            raise ValueError(
                f"{where}: the datasets declare {declared:,} bytes of data but the file has "
                f"{st.st_size:,} bytes; refused above {limit:,} bytes (at most {max_expansion:g} x the "
                "file size and max_bytes)"
            )
        arrays = {}
        for key, obj in dsets.items():
            out = np.empty(obj.shape, dtype=_OUT_DTYPE[key])
            if key == "neighbors":
                raw = obj[()]
                if raw.size and (raw.min() < 0 or raw.max() >= n):
                    raise ValueError(
                        f"{where}: neighbors must be ids in [0, {n}) (train has n = {n} rows); got "
                        f"values from {raw.min()} to {raw.max()}"
                    )
                out[...] = raw
            else:
                obj.read_direct(out)
                if out.size and not np.isfinite(out).all():
                    bad = np.argwhere(~np.isfinite(out))[0]
                    raise ValueError(
                        f"{where}: {key!r} must be finite; row {bad[0]} column {bad[1]} is {out[tuple(bad)]}"
                    )
            arrays[key] = out
    distance = str(attrs.pop("distance", "euclidean"))
    dimension = attrs.pop("dimension", d)
    if not isinstance(dimension, (int, np.integer)) or int(dimension) != d:
        raise ValueError(f"{where}: attribute dimension={dimension!r} but train has {d} columns")
    return Dataset(
        name or path.stem, arrays["train"], arrays["test"], arrays["neighbors"], arrays["distances"],
        distance, attrs,
    )


def write_hdf5(path: str | os.PathLike, ds: Dataset) -> Path:
    """Write ``ds`` in the ann-benchmarks layout, atomically.

    The file is written under a temporary name in the same folder and then
    renamed, so a crash never leaves a half-written file under ``path``.

    Parameters
    ----------
    path : str or path-like
        Destination ``.hdf5`` file; parent folders are created.
    ds : Dataset
        The data. ``train``/``test`` are stored as float32, ``neighbors`` as
        int32, ``distances`` as float32, with root attributes ``distance``,
        ``dimension``, ``point_type="float"``, ``type="dense"`` plus any
        string or number in ``ds.attrs``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            for key, value in ds.attrs.items():
                if isinstance(value, (str, int, float, np.integer, np.floating)):
                    f.attrs[key] = value
            f.attrs["type"] = "dense"
            f.attrs["distance"] = ds.distance
            f.attrs["dimension"] = ds.dimension
            f.attrs["point_type"] = "float"
            f.create_dataset("train", data=np.asarray(ds.train, dtype=np.float32))
            f.create_dataset("test", data=np.asarray(ds.test, dtype=np.float32))
            f.create_dataset("neighbors", data=np.asarray(ds.neighbors, dtype=np.int32))
            f.create_dataset("distances", data=np.asarray(ds.distances, dtype=np.float32))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
