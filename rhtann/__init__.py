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
from importlib.metadata import PackageNotFoundError, version

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


__all__ = ["RHT", "FormatError", "load", "set_num_threads", "get_num_threads", "__version__"]
__all__ += ["Index", "index_factory", "wrap"]
__all__ += ["choose_rounds", "moment_stats"]
__all__ += ["CodecAssumptionWarning", "UnrotatedTrainingWarning"]
