"""Spec tokens of rhtann's own codecs: ``DTQ{b}``, ``DSQ{b}``, ``E8Q{b}``, ``DRIVE1``, ``TQ{b}...``.

:data:`CODECS` is the table; :func:`make_codec` parses a token. A codec
family is added by adding one row. ``TQ`` tokens take optional suffixes
(``TQ4r40h``: refinement bits on 40 coordinates, float16 scale) parsed by
:func:`rhtann.codecs.lloydmax.parse_token`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from .base import Codec
from .dithered import DSQ, DTQ
from .drive import DRIVE1
from .e8 import E8Q
from .lloydmax import BITS as TQ_BITS
from .lloydmax import TQ
from .lloydmax import parse_token as parse_tq_token


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
    "TQ": CodecSpec("TQ", TQ_BITS, 2, lambda d, bits, seed: TQ(d, bits, seed),
                    "norm + Gaussian Lloyd-Max levels (TurboQuant without dither); suffixes r{R}, h"),
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
    token = token.strip()
    if parse_tq_token(token) is not None:  # raises for TQ tokens with unsupported bits
        return CODECS["TQ"], int(parse_tq_token(token)["bits"])
    m = _TOKEN.match(token)
    known = ", ".join(f"{f}{{{','.join(map(str, s.bits))}}}" if len(s.bits) > 1 else f"{f}{s.bits[0]}"
                      for f, s in CODECS.items()) + " (TQ also TQ{b}r{R}h)"
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
        ``"E8Q4"``, ``"DRIVE1"`` or ``"TQ{b}[r{R}][h]"`` (b in 1, 2, 3, 4, 8).
    d : int
        Dimension of the (rotated) vectors, >= 1.
    seed : int, default 0
        Seed of the codec's dithers, in [0, 2**64).

    Returns
    -------
    Codec
    """
    spec, bits = parse_token(token)
    if spec.family == "TQ":
        tq = parse_tq_token(token.strip())
        return TQ(d, bits, seed, scale_dtype=tq["scale_dtype"], extra=tq["extra"])
    return spec.make(d, bits, seed)


def is_codec_token(token: object) -> bool:
    """Whether ``token`` names a codec family of :data:`CODECS` (its bits may still be invalid)."""
    if not isinstance(token, str):
        return False
    token = token.strip()
    if re.match(r"^TQ\d", token):
        return True
    m = _TOKEN.match(token)
    return m is not None and m.group(1) in CODECS


def codec_from_state(meta: dict, arrays: dict | None = None) -> Codec:
    """Rebuild a codec from what its :meth:`~rhtann.codecs.base.Codec.get_state` returned.

    Raises
    ------
    ValueError
        For a name no row of :data:`CODECS` knows, or an invalid state.
    """
    name = str(meta.get("name", ""))
    spec, _ = parse_token(name)
    if spec.family == "TQ":
        return TQ.from_state(meta)
    codec = make_codec(name, int(meta["d"]), int(meta["seed"]))
    codec.set_state(meta, dict(arrays or {}))
    return codec


def recommended_rounds(token: str) -> int:
    """Recommended RHT rounds in front of the codec named by ``token``."""
    return parse_token(token)[0].rounds


__all__ = [
    "CODECS",
    "CodecSpec",
    "codec_from_state",
    "is_codec_token",
    "make_codec",
    "parse_token",
    "recommended_rounds",
]
