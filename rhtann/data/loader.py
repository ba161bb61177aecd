"""Resolve a dataset by path or registry name: cached file, local build, or download."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import download as _download
from ._core import as_matrix
from .dataset import GT_COUNT, Dataset, check_distance
from .groundtruth import ground_truth
from .hdf5 import read_hdf5, write_hdf5
from .paths import cached_path, check_name, default_root
from .registry import ANN_BENCHMARKS, BUILDERS
from .vecs import read_vectors, split_queries


def available(root: str | os.PathLike | None = None) -> list[str]:
    """Names that :func:`load` can resolve without a download (builders and cached files)."""
    names = set(BUILDERS)
    folder = Path(default_root() if root is None else root)
    if folder.is_dir():
        names.update(p.stem for p in folder.glob("*.hdf5"))
    return sorted(names)


def build(name: str, root: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Build the local set ``name`` into ``{root}/{name}.hdf5`` (rebuilt when present)."""
    if name not in BUILDERS:
        raise ValueError(f"no local builder named {name!r}; known: {', '.join(sorted(BUILDERS))}")
    return write_hdf5(cached_path(name, root), BUILDERS[name](progress=progress))


def load(
    name_or_path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    download: bool = False,
    progress: bool = True,
) -> Dataset:
    """Load a dataset by file path or by name, building or downloading it once.

    Resolution order: an existing file path (or any text ending in ``.hdf5``
    or ``.h5``, or containing a path separator, which must then exist);
    ``{root}/{name}.hdf5`` when it exists; a local builder of the registry
    (the result is cached as ``{root}/{name}.hdf5``); with ``download=True``,
    a standard ann-benchmarks file fetched with
    :func:`rhtann.data.download.download_dataset`.

    Parameters
    ----------
    name_or_path : str or path-like
        ``"glove-6b-50-angular"``, ``"sift-128-euclidean"``,
        ``"path/to/file.hdf5"``... Relative paths are relative to the
        current folder.
    root : str or path-like, optional
        Cache folder; default :func:`rhtann.data.default_root`
        (``$RHTANN_DATA``, else the user's cache folder).
    download : bool
        Allow downloading ann-benchmarks files by name.
    progress : bool
        Show progress bars.

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError
        For a path that does not exist (the message gives the absolute path
        tried) or an ann-benchmarks name not cached with ``download=False``.
    ValueError
        For an unknown name or one that is not a safe file name.
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    looks_like_path = path.suffix.lower() in (".hdf5", ".h5") or os.sep in text or "/" in text
    if looks_like_path or path.exists():
        if not path.exists():
            raise FileNotFoundError(
                f"dataset file {text!r} does not exist (looked for {os.fspath(path.absolute())})"
            )
        return read_hdf5(path)
    folder = Path(default_root() if root is None else root)
    check_name(text)
    cached = cached_path(text, folder)
    if cached.exists():
        return read_hdf5(cached)
    if text in BUILDERS:
        ds = BUILDERS[text](progress=progress)
        write_hdf5(cached, ds)
        return ds
    if text in ANN_BENCHMARKS:
        if not download:
            raise FileNotFoundError(
                f"{text!r} is an ann-benchmarks dataset that is not in {os.fspath(folder)!r}; "
                f"fetch it with: python -m rhtann.data download {text}"
            )
        _download.download_dataset(text, root=folder, progress=progress)
        return read_hdf5(cached)
    raise ValueError(
        f"unknown dataset {text!r}: not a file (looked for {os.fspath(path.absolute())}), not cached in "
        f"{os.fspath(folder)!r}, and not one of {available(folder)} nor an ann-benchmarks name "
        f"({', '.join(sorted(ANN_BENCHMARKS))})"
    )


def convert(
    base: str | os.PathLike | np.ndarray,
    out: str | os.PathLike,
    distance: str,
    queries: str | os.PathLike | np.ndarray | None = None,
    n_test: int = 10_000,
    seed: int = 1,
    k: int = GT_COUNT,
    name: str | None = None,
    progress: bool = True,
) -> Dataset:
    """Turn raw vectors into an ann-benchmarks HDF5 file with ground truth.

    Parameters
    ----------
    base : path or ndarray, shape (n, d)
        The vectors (``.fvecs``, ``.bvecs``, ``.npy``) or an array.
    out : str or path-like
        The ``.hdf5`` file to write.
    distance : {"euclidean", "angular"}
    queries : path or ndarray, shape (q, d), optional
        The queries. When absent, ``n_test`` vectors are split off ``base``
        with :func:`rhtann.data.split_queries` (seed ``seed``).
    n_test, seed : int
        Query split when ``queries`` is absent.
    k : int
        Ground-truth neighbours per query (capped at the train size).
    name : str, optional
        Dataset name; defaults to the stem of ``out``.
    progress : bool
        Show a progress bar for the ground truth.

    Returns
    -------
    Dataset
        What was written.
    """
    check_distance(distance)
    x = read_vectors(base) if not isinstance(base, np.ndarray) else as_matrix(base, "base", None)
    if queries is None:
        train, test = split_queries(x, n_test, seed)
        how = f"{n_test} queries split off with numpy RandomState({seed}).permutation"
    else:
        train = x
        if isinstance(queries, np.ndarray):
            test = as_matrix(queries, "queries", None)
        else:
            test = read_vectors(queries)
        if test.shape[1] != train.shape[1]:
            raise ValueError(
                f"queries must have {train.shape[1]} columns like the base vectors; got shape {test.shape}"
            )
        how = "separate query file"
    neighbors, distances = ground_truth(train, test, distance, k=min(k, len(train)), progress=progress)
    ds = Dataset(name or Path(out).stem, train, test, neighbors, distances, distance, {"queries": how})
    write_hdf5(out, ds)
    return ds
