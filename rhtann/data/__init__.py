"""Datasets in the ann-benchmarks HDF5 layout: registry, read, write, convert, build, download.

The core of rhtann never imports this package.

Modules
-------
dataset
    :class:`Dataset` (train, test, neighbors, distances, distance).
hdf5
    :func:`read_hdf5` (checks shapes, dtypes, storage and values before
    trusting a file) and :func:`write_hdf5` (atomic).
vecs
    :func:`read_vectors` (``.fvecs``, ``.bvecs``, ``.ivecs``, ``.npy``) and
    :func:`split_queries` (ann-benchmarks' query split).
groundtruth
    :func:`pair_distances` and :func:`ground_truth` (exact, float64 re-scored).
registry
    :data:`REGISTRY`: every named set, built locally or downloaded.
builders
    The local builders (GloVe, image patches, SIFT10K, synthetic sets).
download
    The checked, resumable downloader of ann-benchmarks files.
synthetic
    Seeded synthetic vectors, including the RHT's worst cases.
paths
    The cache folder (``$RHTANN_DATA``, else ``~/.cache/rhtann/datasets``)
    and the rule for dataset names.

Command line (``python -m rhtann.data --help``)::

    python -m rhtann.data list
    python -m rhtann.data build glove-6b-50-angular
    python -m rhtann.data download fashion-mnist-784-euclidean
    python -m rhtann.data info glove-6b-50-angular
    python -m rhtann.data convert base.fvecs --queries query.fvecs --distance euclidean --out mine.hdf5
"""

from __future__ import annotations

from . import synthetic
from .builders import build_glove, build_sample_patches, build_siftsmall, gaussian, image_patches
from .cli import main
from .dataset import DISTANCES, GT_COUNT, Dataset, metric_of
from .groundtruth import ground_truth, pair_distances
from .hdf5 import read_hdf5, write_hdf5
from .loader import available, build, convert, load
from .paths import ENV_VAR, check_name, default_root
from .registry import ANN_BENCHMARKS, BUILDERS, REGISTRY, Entry
from .vecs import read_vectors, split_queries

__all__ = [
    "ANN_BENCHMARKS", "BUILDERS", "DISTANCES", "ENV_VAR", "GT_COUNT", "REGISTRY", "Dataset", "Entry",
    "available", "build", "build_glove", "build_sample_patches", "build_siftsmall", "check_name",
    "convert", "default_root", "gaussian", "ground_truth", "image_patches", "load", "main", "metric_of",
    "pair_distances", "read_hdf5", "read_vectors", "split_queries", "synthetic", "write_hdf5",
]
