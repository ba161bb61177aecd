"""The thread count of the numba kernels (numba's own setting)."""

from __future__ import annotations

import numba
import numba.np.ufunc.parallel as _parallel

#: The thread count's reader once numba's threads are launched (see :func:`get_num_threads`).
_reader = None


def get_num_threads() -> int:
    """Threads the parallel kernels use now (numba's setting in the calling thread).

    ``numba.get_num_threads`` takes two locks on every call (it first makes
    sure the thread pool is launched); after the first call this reads the
    count from the threading layer directly (numba's ``_get_num_threads``),
    falling back to the public function where that reader is missing.
    """
    global _reader
    if _reader is None:
        n = numba.get_num_threads()
        _reader = getattr(_parallel, "_get_num_threads", None) or numba.get_num_threads
        return n
    n = int(_reader())
    return n if n > 0 else numba.get_num_threads()


def set_num_threads(threads: int) -> None:
    """Set the threads of the parallel kernels; ``1 <= threads <= max_threads()`` (unchecked)."""
    numba.set_num_threads(threads)


def max_threads() -> int:
    """Largest thread count the kernels accept (``NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)
