"""Codecs applied after the rotation: code layout, encoding, decoding and scanning.

See :mod:`rhtann.codecs.base` for the interface every codec implements and
:mod:`rhtann.codecs.registry` for the spec tokens.
"""

from .base import Codec
from .mean import mean_estimate
from .registry import CODECS, make_codec

__all__ = ["CODECS", "Codec", "make_codec", "mean_estimate"]
