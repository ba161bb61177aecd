"""A readers-writer lock for :class:`rhtann.Index` and the method decorators that take it.

faiss indexes may be searched from several threads at once but not searched
while they change: ``add`` reallocates the code storage that a concurrent
search reads, and two ``add`` calls race on ``ntotal``. The lock lets any
number of readers (``search``, ``reconstruct``, ``save``...) in together and
gives writers (``train``, ``add``, ``add_with_ids``, ``remove_ids``) the
index alone. Writers are preferred: once one waits, new readers queue behind
it, so a stream of searches cannot starve an ``add``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class RWLock:
    """Many readers or one writer; writer-preferring, not reentrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared for the body."""
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively for the body."""
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _lock_of(obj: Any) -> RWLock:
    lock = obj.__dict__.get("_rwlock")
    if lock is None:  # objects built without __init__ (copies, subclasses)
        lock = obj.__dict__.setdefault("_rwlock", RWLock())
    return lock


def shared(method: F) -> F:
    """Run ``method`` holding its object's lock shared (readers in parallel)."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        with _lock_of(self).read():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def exclusive(method: F) -> F:
    """Run ``method`` holding its object's lock exclusively."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        with _lock_of(self).write():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


__all__ = ["RWLock", "exclusive", "shared"]
