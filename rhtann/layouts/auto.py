"""The ``"auto"`` layout rule: pad or keep the dimension, per ``d``."""

from __future__ import annotations

from .base import Layout
from .keep import KeepLayout, keep_mode, variance_spread
from .pad import PadLayout

#: Largest two-round variance spread for which ``auto`` keeps the dimension.
AUTO_MAX_SPREAD = 0.01


def auto_choice(d: int) -> str:
    """Name of the layout ``"auto"`` uses for dimension ``d``: ``"pad"`` or ``"keep"``.

    ``"pad"`` for powers of two (so ``"auto"`` equals
    ``faiss.HadamardRotation`` there); ``"keep"`` when ``d`` has a Hadamard
    plan; ``"keep"`` in the windows mode when
    :func:`rhtann.layouts.keep.variance_spread` after two rounds is at most
    :data:`AUTO_MAX_SPREAD`; ``"pad"`` otherwise.
    """
    mode = keep_mode(d)
    if mode == "sylvester":
        return "pad"
    if mode == "hadamard" or variance_spread(d, 2) <= AUTO_MAX_SPREAD:
        return "keep"
    return "pad"


def auto_layout(d: int) -> Layout:
    """The layout ``"auto"`` builds for dimension ``d`` (see :func:`auto_choice`)."""
    return KeepLayout(d) if auto_choice(d) == "keep" else PadLayout(d)


__all__ = ["AUTO_MAX_SPREAD", "auto_choice", "auto_layout"]
