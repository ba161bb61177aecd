"""Distance names of the ann-benchmarks format and the ground-truth depth."""

from __future__ import annotations

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
