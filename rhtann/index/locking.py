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
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class RWLock:
    """Many readers or one writer; writer-preferring, not reentrant."""

    def __init__(self) -> None:
        # the readers' paths enter the plain lock directly (cheaper than the condition's ``with``)
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    def acquire_read(self) -> None:
        """Take the lock shared (waits while a writer holds or waits for it)."""
        with self._mutex:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._waiting_writers:  # only writers wait for the readers
                self._cond.notify_all()

    def acquire_write(self) -> None:
        """Take the lock exclusively (waits for the readers and the writer holding it)."""
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._waiting_writers -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    def read(self) -> "_Hold":
        """Context manager holding the lock shared for the body."""
        return _Hold(self.acquire_read, self.release_read)

    def write(self) -> "_Hold":
        """Context manager holding the lock exclusively for the body."""
        return _Hold(self.acquire_write, self.release_write)


class _Hold:
    """``with`` support for one pair of acquire and release calls."""

    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc: object) -> None:
        self._release()


def _lock_of(obj: Any) -> RWLock:
    lock = obj.__dict__.get("_rwlock")
    if lock is None:  # objects built without __init__ (copies, subclasses)
        lock = obj.__dict__.setdefault("_rwlock", RWLock())
    return lock


def shared(method: F) -> F:
    """Run ``method`` holding its object's lock shared (readers in parallel)."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        lock = _lock_of(self)
        lock.acquire_read()
        try:
            return method(self, *args, **kwargs)
        finally:
            lock.release_read()

    return wrapper  # type: ignore[return-value]


def exclusive(method: F) -> F:
    """Run ``method`` holding its object's lock exclusively."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        lock = _lock_of(self)
        lock.acquire_write()
        try:
            return method(self, *args, **kwargs)
        finally:
            lock.release_write()

    return wrapper  # type: ignore[return-value]


__all__ = ["RWLock", "exclusive", "shared"]
