"""The thread count of the numba kernels (numba's own setting)."""

from __future__ import annotations

import numba


def get_num_threads() -> int:
    """Threads the parallel kernels use now."""
    return numba.get_num_threads()


def set_num_threads(threads: int) -> None:
    """Set the threads of the parallel kernels; ``1 <= threads <= max_threads()`` (unchecked)."""
    numba.set_num_threads(threads)


def max_threads() -> int:
    """Largest thread count the kernels accept (``NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)
