"""Indexes: a randomized Hadamard rotation in front of faiss.

Modules
-------
spec
    The spec grammar (``"RHT2keep,IVF256,SQ8"``): the only parser of spec strings.
metric
    Metric names, aliases and the cosine normalization.
faiss_glue
    Every faiss internal: building, walking, code bytes, ids, search
    parameters, reconstruct/remove, storage appends, export, repair_orthonormal.
encoders
    The encoder interface and registry; rhtann kernels writing faiss's codes.
core
    :class:`Index`: validate once, rotate, then encode or hand to faiss.
factory
    :func:`index_factory` and :func:`wrap`.
adaptive
    :class:`AdaptiveIndex`: per-vector round counts, one sub-index per level.
sources
    Files and lazy arrays read a chunk at a time (``Index.add_from``, ``train_from``).
ondisk
    IVF inverted lists in a memory-mapped file (``Index.to_ondisk``), shard merging.
trained_rounds
    ``RHTauto`` before trained quantizers: 0-3 rounds by held-out distortion.
checks
    Input-assumption warnings of codecs and of :func:`wrap`.
codec
    :class:`CodecIndex`: specs naming rhtann's own codecs (``"RHT1,DTQ4"``),
    searched with :mod:`rhtann.search`.
"""

from __future__ import annotations

from .adaptive import AdaptiveIndex
from .checks import CodecAssumptionWarning, UnrotatedTrainingWarning
from .codec import CodecIndex
from .core import Index
from .factory import index_factory, wrap
from .faiss_glue import code_bytes, repair_orthonormal

__all__ = [
    "AdaptiveIndex",
    "CodecAssumptionWarning",
    "CodecIndex",
    "Index",
    "UnrotatedTrainingWarning",
    "code_bytes",
    "index_factory",
    "repair_orthonormal",
    "wrap",
]
