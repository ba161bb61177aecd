"""Progress bars and timers: the one place rhtann shows progress or times a stage."""

from __future__ import annotations

import time
from collections.abc import Iterable, MutableMapping
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


class timed:
    """Add the wall-clock seconds of the ``with`` body to ``stats[key]``, even when it raises.

    Parameters
    ----------
    stats : mutable mapping of str to float
    key : str
    """

    __slots__ = ("_stats", "_key", "_t0")

    def __init__(self, stats: MutableMapping[str, float], key: str) -> None:
        self._stats = stats
        self._key = key
        self._t0 = 0.0

    def __enter__(self) -> None:
        self._t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        stats = self._stats
        stats[self._key] = stats.get(self._key, 0.0) + time.perf_counter() - self._t0


class Stopwatch:
    """Seconds since construction: ``Stopwatch().seconds()``."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def seconds(self) -> float:
        """Elapsed wall-clock seconds."""
        return time.perf_counter() - self._t0


__all__ = ["Stopwatch", "bar", "timed"]
