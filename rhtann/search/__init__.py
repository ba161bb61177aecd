"""Indexes over rhtann codec codes: flat scans and IVF.

Public names
------------
CodecFlat
    Exhaustive search with the fast 4-bit scanner or blocked decode-then-multiply.
CodecIVF
    faiss coarse quantizer in front of inverted lists of codes.
"""

from __future__ import annotations

from .flat import CodecFlat
from .ivf import CodecIVF

__all__ = ["CodecFlat", "CodecIVF"]
