"""Former home of :func:`repair_orthonormal`; it lives in :mod:`rhtann.index.faiss_glue`."""

from __future__ import annotations

from .index.faiss_glue import repair_orthonormal

__all__ = ["repair_orthonormal"]
