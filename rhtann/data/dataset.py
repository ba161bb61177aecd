"""The in-memory dataset of the ann-benchmarks layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Distances of the ann-benchmarks format that this package computes.
DISTANCES = ("euclidean", "angular")

#: Number of ground-truth neighbours stored per query, as in ann-benchmarks.
GT_COUNT = 100


def check_distance(distance: str) -> str:
    """Return ``distance`` if it is one of :data:`DISTANCES`, else raise ValueError."""
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}")
    return distance


def metric_of(distance: str) -> str:
    """Map an ann-benchmarks distance name to an rhtann metric name.

    ``"euclidean"`` -> ``"l2"``, ``"angular"`` -> ``"cosine"``.
    """
    if distance == "euclidean":
        return "l2"
    if distance == "angular":
        return "cosine"
    raise ValueError(f"distance must be one of {DISTANCES} to build an index; got {distance!r}")


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
        True neighbour ids per query, nearest first (``m`` is usually 100),
        each in ``[0, n)``.
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
            None or 0: keep all.
        max_test : int or None
            Keep the first ``max_test`` queries. None or 0: keep all.
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
        from .groundtruth import ground_truth

        n, q = len(self.train), len(self.test)
        keep_train = bool(max_train) and max_train < n
        keep_test = bool(max_test) and max_test < q
        if not keep_train and not keep_test:
            return self
        test = self.test[:max_test] if keep_test else self.test
        notes = []
        if keep_train:
            rng = np.random.default_rng(seed)
            idx = np.sort(rng.choice(n, size=max_train, replace=False))
            train = self.train[idx]
            count = min(self.neighbors.shape[1], max_train)
            neighbors, distances = ground_truth(train, test, self.distance, k=count, progress=progress)
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
