"""One thread setting for rhtann's kernels and faiss (OpenMP).

Everything in rhtann that sets a thread count goes through this module: the
process-wide :func:`set_num_threads` and the per-call :func:`thread_scope`
that :class:`rhtann.Index` uses for its ``threads`` parameter.

numba's and OpenMP's thread counts are per calling thread: a count set in
the main thread does not reach threads started later. :func:`set_num_threads`
therefore also records the count, and every public entry point of
:class:`rhtann.RHT` and :class:`rhtann.Index` applies the recorded count in
whatever thread it runs (:func:`thread_scope` with ``None``), so the setting
is process-wide.
"""

from __future__ import annotations

import os

import faiss

from ._validation import check_int
from .kernels import threads as _kernel_threads

#: The count given to :func:`set_num_threads`, or None before any call.
_process_threads: int | None = None


def get_num_threads() -> int:
    """Return the number of threads rhtann's kernels use (the process-wide setting once set)."""
    if _process_threads is not None:
        return _process_threads
    return _kernel_threads.get_num_threads()


def check_threads(threads: object, name: str = "threads") -> int:
    """Return ``threads`` as an int in ``[1, NUMBA_NUM_THREADS]`` or raise naming ``name``."""
    return check_int(threads, name, 1, _kernel_threads.max_threads())


def set_num_threads(threads: int) -> None:
    """Set the thread count of rhtann's kernels and of faiss (OpenMP).

    Parameters
    ----------
    threads : int
        At least 1 and at most ``numba.config.NUMBA_NUM_THREADS`` (the number
        of cores unless the environment variable says otherwise).

    Notes
    -----
    Process-wide: the count applies to calls of rhtann from every thread,
    including threads started before or after this call (see the module
    docstring). An :class:`rhtann.Index` built with ``threads=`` uses its
    own count instead.
    """
    global _process_threads
    threads = check_threads(threads)
    _process_threads = threads
    _kernel_threads.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)


class thread_scope:  # noqa: N801 - used like a function: ``with thread_scope(n):``
    """Run the body with ``threads`` kernel and faiss threads, then restore both.

    ``threads=None`` applies the process-wide count of
    :func:`set_num_threads` in the calling thread (nothing when it was never
    set or already applies). The value must already be checked
    (:func:`check_threads`). A plain class rather than a generator-based
    context manager: every search enters one, so its cost counts.
    """

    __slots__ = ("_threads", "_old")

    def __init__(self, threads: int | None) -> None:
        self._threads = threads
        self._old: tuple[int, int] | None = None

    def __enter__(self) -> None:
        threads = self._threads
        if threads is None:
            threads = _process_threads
            if threads is None or (
                _kernel_threads.get_num_threads() == threads and faiss.omp_get_max_threads() == threads
            ):
                return
        self._old = (_kernel_threads.get_num_threads(), faiss.omp_get_max_threads())
        _kernel_threads.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            old_kernels, old_omp = self._old
            self._old = None
            _kernel_threads.set_num_threads(old_kernels)
            faiss.omp_set_num_threads(old_omp)


def default_threads() -> int:
    """Number of cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


__all__ = ["check_threads", "default_threads", "get_num_threads", "set_num_threads", "thread_scope"]
