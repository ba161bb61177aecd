"""The one place where :mod:`rhtann.data` imports private helpers of the core.

The core package never imports :mod:`rhtann.data`; this module is the only
import in the other direction, so a move of the core's helpers touches one
line here.
"""

from __future__ import annotations

from .._validation import as_matrix, check_int

__all__ = ["as_matrix", "check_int", "progress_bar"]


class _NoBar:
    """Stand-in for a tqdm bar when none is shown."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, **kwargs):
    """A tqdm bar when ``enabled`` and tqdm is installed, else a silent stand-in."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional for rhtann.data
        return _NoBar()
    return tqdm(**kwargs)
