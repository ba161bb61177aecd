"""Spec tokens of rhtann's own codecs: ``DTQ{b}``, ``DSQ{b}``, ``E8Q{b}``, ``DRIVE1``.

:data:`CODECS` is the table; :func:`make_codec` parses a token. A codec
family is added by adding one row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from .base import Codec
from .dithered import DSQ, DTQ
from .drive import DRIVE1
from .e8 import E8Q


class CodecSpec(NamedTuple):
    """One row of :data:`CODECS`.

    Attributes
    ----------
    family : str
        Token prefix (``"DTQ"``); the token is the prefix followed by the bits.
    bits : tuple of int
        Allowed bits per coordinate.
    rounds : int
        Recommended number of RHT rounds in front of the codec.
    make : callable
        ``make(d, bits, seed) -> Codec``.
    summary : str
        One line for listings.
    """

    family: str
    bits: tuple[int, ...]
    rounds: int
    make: Callable[[int, int, int], Codec]
    summary: str


CODECS: dict[str, CodecSpec] = {
    "DTQ": CodecSpec("DTQ", tuple(range(1, 9)), 1, DTQ,
                     "dithered TurboQuant: norm + Gaussian compander + subtractive dither"),
    "DSQ": CodecSpec("DSQ", tuple(range(1, 9)), 1, DSQ,
                     "uniform subtractive dither over the vector's range (exactly unbiased)"),
    "E8Q": CodecSpec("E8Q", (2, 3, 4), 3, E8Q, "E8-lattice VQ on 8-d blocks, per-vector scale"),
    "DRIVE": CodecSpec("DRIVE", (1,), 2, lambda d, bits, seed: DRIVE1(d, seed),
                       "DRIVE 1-bit signs with the unbiased scale ||y||^2/||y||_1"),
}

_TOKEN = re.compile(r"^([A-Za-z][A-Za-z0-9]*?)(\d+)$")


def parse_token(token: str) -> tuple[CodecSpec, int]:
    """Split a codec token into its table row and bits.

    Raises
    ------
    ValueError
        For an unknown family or bits outside the family's range.
    """
    if not isinstance(token, str):
        raise TypeError(f"codec token must be a str such as 'DTQ4'; got {type(token).__name__}")
    m = _TOKEN.match(token.strip())
    known = ", ".join(f"{f}{{{min(s.bits)}..{max(s.bits)}}}" if len(s.bits) > 1 else f"{f}{s.bits[0]}"
                      for f, s in CODECS.items())
    if m is None or m.group(1) not in CODECS:
        raise ValueError(f"unknown codec token {token!r}; known: {known}")
    spec = CODECS[m.group(1)]
    bits = int(m.group(2))
    if bits not in spec.bits:
        raise ValueError(
            f"codec token {token!r}: {spec.family} takes bits in {list(spec.bits)}; got {bits}"
        )
    return spec, bits


def make_codec(token: str, d: int, seed: int = 0) -> Codec:
    """Build the codec named by ``token`` for dimension ``d``.

    Parameters
    ----------
    token : str
        ``"DTQ1"`` .. ``"DTQ8"``, ``"DSQ1"`` .. ``"DSQ8"``, ``"E8Q2"`` ..
        ``"E8Q4"`` or ``"DRIVE1"``.
    d : int
        Dimension of the (rotated) vectors, >= 1.
    seed : int, default 0
        Seed of the codec's dithers, in [0, 2**64).

    Returns
    -------
    Codec
    """
    spec, bits = parse_token(token)
    return spec.make(d, bits, seed)


def recommended_rounds(token: str) -> int:
    """Recommended RHT rounds in front of the codec named by ``token``."""
    return parse_token(token)[0].rounds


__all__ = ["CODECS", "CodecSpec", "make_codec", "parse_token", "recommended_rounds"]
