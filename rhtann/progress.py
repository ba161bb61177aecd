"""Progress bars and timers: the one place rhtann shows progress or times a stage."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, MutableMapping
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def bar(items: Iterable[T], desc: str, *, total: int | None = None, enabled: bool = True) -> Iterable[T]:
    """``items`` wrapped in a tqdm progress bar when ``enabled``, else ``items`` itself.

    Parameters
    ----------
    items : iterable
    desc : str
        Label of the bar.
    total : int, optional
        Number of items, when ``items`` has no length.
    enabled : bool, default True
    """
    if not enabled:
        return items
    return tqdm(items, desc=desc, unit="chunk", total=total)


@contextlib.contextmanager
def timed(stats: MutableMapping[str, float], key: str) -> Iterator[None]:
    """Add the wall-clock seconds of the body to ``stats[key]``, even when it raises."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        stats[key] = stats.get(key, 0.0) + time.perf_counter() - t0


class Stopwatch:
    """Seconds since construction: ``Stopwatch().seconds()``."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def seconds(self) -> float:
        """Elapsed wall-clock seconds."""
        return time.perf_counter() - self._t0


__all__ = ["Stopwatch", "bar", "timed"]
