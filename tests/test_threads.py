"""rhtann.threads: the one thread setting of the kernels and faiss."""

from __future__ import annotations

import faiss
import pytest

import rhtann
from rhtann.kernels import threads as kernel_threads
from rhtann.threads import check_threads, default_threads, thread_scope


def test_set_num_threads_sets_both_pools():
    before = rhtann.get_num_threads()
    try:
        rhtann.set_num_threads(1)
        assert rhtann.get_num_threads() == kernel_threads.get_num_threads() == 1
        assert faiss.omp_get_max_threads() == 1
    finally:
        rhtann.set_num_threads(before)


def test_thread_scope_restores_even_on_error():
    before = (kernel_threads.get_num_threads(), faiss.omp_get_max_threads())
    with pytest.raises(KeyError), thread_scope(1):
        assert (kernel_threads.get_num_threads(), faiss.omp_get_max_threads()) == (1, 1)
        raise KeyError("x")
    assert (kernel_threads.get_num_threads(), faiss.omp_get_max_threads()) == before
    with thread_scope(None):
        assert (kernel_threads.get_num_threads(), faiss.omp_get_max_threads()) == before


def test_thread_counts_are_checked():
    limit = kernel_threads.max_threads()
    assert check_threads(limit) == limit
    with pytest.raises(ValueError, match=rf"threads must be in \[1, {limit}\]; got 0"):
        rhtann.set_num_threads(0)
    with pytest.raises(TypeError, match="workers must be an integer"):
        check_threads(1.5, "workers")
    assert default_threads() >= 1


def test_set_num_threads_reaches_other_threads():
    import threading

    import numba

    before = rhtann.get_num_threads()
    seen = {}
    try:
        rhtann.set_num_threads(1)

        def worker():
            seen["plain"] = numba.get_num_threads()  # numba's own per-thread default
            with thread_scope(None):  # what every public entry point does
                seen["scoped"] = (numba.get_num_threads(), faiss.omp_get_max_threads())
            seen["public"] = rhtann.get_num_threads()

        t = threading.Thread(target=worker)
        t.start()
        t.join(30)
    finally:
        rhtann.set_num_threads(before)
    assert seen["scoped"] == (1, 1) and seen["public"] == 1
