"""Coordinate layouts: how a d-dimensional vector meets the Hadamard matrix.

A layout owns the dimension arithmetic of the transform (``d_out``, the
length of each round's sign vector) and runs the kernels. The transform class
holds the signs and the round count and delegates the work here.

``"pad"``
    Zero-pad to ``p``, the next power of two >= d, and apply ``H_p``. Every
    guarantee of the randomized Hadamard transform holds with ``d -> p``;
    ``d_out = p``. With three rounds it equals ``faiss.HadamardRotation``.
``"keep"``
    ``d_out = d`` for every ``d``: a true Hadamard matrix of order ``d``
    (Paley cores, Kronecker products, Sylvester factor) when one is built,
    otherwise three overlapping Hadamard windows per round; a fixed
    permutation of the coordinates precedes every round after the first
    (see :mod:`rhtann.layouts.keep`).
``"auto"``
    Per ``d``: ``"pad"`` for powers of two (so it equals
    ``faiss.HadamardRotation`` there), ``"keep"`` wherever its quality
    matches the padded layout's, ``"pad"`` otherwise (see
    :func:`rhtann.layouts.auto.auto_choice`).

Every layout implements :class:`rhtann.layouts.base.Layout`; where outputs
are allocated and when they are streamed is decided in
:mod:`rhtann.layouts.output`.
"""

from __future__ import annotations

from collections.abc import Callable

from .auto import AUTO_MAX_SPREAD, auto_choice, auto_layout
from .base import Layout
from .keep import KeepLayout
from .pad import PadLayout, next_pow2

#: Layout name -> builder taking ``d``.
LAYOUTS: dict[str, Callable[[int], Layout]] = {"pad": PadLayout, "keep": KeepLayout, "auto": auto_layout}


def make_layout(name: str, d: int) -> Layout:
    """Build the layout called ``name`` for dimension ``d``.

    Raises
    ------
    ValueError
        If ``name`` is not a key of :data:`LAYOUTS`.
    """
    if not isinstance(name, str) or name not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}; got {name!r}")
    return LAYOUTS[name](d)

__all__ = [
    "AUTO_MAX_SPREAD",
    "LAYOUTS",
    "Layout",
    "KeepLayout",
    "PadLayout",
    "auto_choice",
    "auto_layout",
    "make_layout",
    "next_pow2",
]
