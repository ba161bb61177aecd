"""Raw vector files (TEXMEX ``.fvecs``/``.bvecs``/``.ivecs``, ``.npy``) and the query split."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._core import as_matrix, check_int


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

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For an unknown suffix.
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


def split_queries(x: np.ndarray, n_test: int = 10_000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
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
