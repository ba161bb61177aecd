"""rhtann: randomized Hadamard rotations before quantization, for faiss.

Public names
------------
RHT, choose_rounds
    The randomized Hadamard transform (faiss VectorTransform interface) and
    the per-vector round check (:mod:`rhtann.transform`).
moment_stats
    Per-vector moment statistics (:mod:`rhtann.moments`).
Index, index_factory, wrap
    A rotation in front of any faiss index (:mod:`rhtann.index`).
CodecAssumptionWarning, UnrotatedTrainingWarning
    Warnings of broken input assumptions (:mod:`rhtann.index.checks`).
load, FormatError
    Read any object written by an rhtann ``save`` method (:mod:`rhtann.io`).
set_num_threads, get_num_threads
    One thread setting for rhtann's kernels and faiss (:mod:`rhtann.threads`).
warmup
    Compile (or load from numba's cache) the kernels of chosen layouts now.

Layers
------
Imports flow one way: ``kernels`` (every numba function) <- ``layouts`` <-
``moments`` <- ``rounds`` <- ``transform`` <- ``codecs`` <- ``index``, with the
leaf helpers ``_validation``, ``io``, ``signs``, ``threads`` and ``progress``
below ``layouts``. ``rhtann.data`` builds on the public API and is never
imported by the core.
"""

from __future__ import annotations

import os
import time
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from ._validation import MAX_D
from .index import CodecAssumptionWarning, Index, UnrotatedTrainingWarning, index_factory, wrap
from .io import FormatError, peek_kind
from .moments import moment_stats
from .threads import get_num_threads, set_num_threads
from .transform import RHT, choose_rounds

try:
    __version__ = version("rhtann")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0+unknown"

_LOADERS = {"RHT": RHT.load}
_LOADERS["Index"] = Index.load


def warmup(layouts=("pad",), inverse: bool = False) -> float:
    """Compile, or load from numba's on-disk cache, the kernels of ``layouts`` now.

    The kernels are compiled on their first use, per layout: a process that
    only uses ``layout="pad"`` never compiles the keep kernels. The first
    ``apply`` of a process pays for loading them from the cache (or, on the
    first run after installing, for compiling them); calling ``warmup`` at
    start-up moves that cost out of the first request.

    Parameters
    ----------
    layouts : iterable of {"pad", "keep", "auto"}, default ("pad",)
        Layouts whose forward kernels (serial path for small batches and
        parallel path) are prepared.
    inverse : bool, default False
        Also prepare the kernels of :meth:`RHT.reverse_transform`.

    Returns
    -------
    float
        Seconds spent.
    """
    t0 = time.perf_counter()
    x = np.zeros((300, 12), dtype=np.float32)
    for layout in layouts:
        rht = RHT(12, rounds=1, layout=layout)
        for rows in (x[:2], x):
            y = rht.apply(rows)
            if inverse:
                rht.reverse_transform(y)
    return time.perf_counter() - t0


def load(path: str | os.PathLike):
    """Read an object saved by rhtann (an :class:`RHT` or an index).

    Parameters
    ----------
    path : str or path-like
        A file written by a ``save`` method.

    Raises
    ------
    rhtann.FormatError
        If the file is not an rhtann file, is truncated, corrupted, from a
        newer format version, or holds an unknown kind of object.
    """
    kind = peek_kind(path)
    if kind not in _LOADERS:
        raise FormatError(f"{os.fspath(path)!r} holds an unknown kind of object {kind!r}")
    return _LOADERS[kind](path)


__all__ = ["MAX_D", "RHT", "FormatError", "load", "set_num_threads", "get_num_threads", "__version__"]
__all__ += ["warmup"]
__all__ += ["Index", "index_factory", "wrap"]
__all__ += ["choose_rounds", "moment_stats"]
__all__ += ["CodecAssumptionWarning", "UnrotatedTrainingWarning"]
