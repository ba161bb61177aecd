"""One thread setting for rhtann's kernels and faiss."""

from __future__ import annotations

import os

import numba

from ._validation import check_int


def get_num_threads() -> int:
    """Return the number of threads rhtann's kernels use."""
    return numba.get_num_threads()


def set_num_threads(threads: int) -> None:
    """Set the thread count of rhtann's kernels and of faiss (OpenMP).

    Parameters
    ----------
    threads : int
        At least 1 and at most ``numba.config.NUMBA_NUM_THREADS`` (the number
        of cores unless the environment variable says otherwise).
    """
    limit = numba.config.NUMBA_NUM_THREADS
    threads = check_int(threads, "threads", 1, limit)
    numba.set_num_threads(threads)
    import faiss

    faiss.omp_set_num_threads(threads)


def default_threads() -> int:
    """Number of cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1
