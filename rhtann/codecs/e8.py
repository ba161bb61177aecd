"""E8-lattice vector quantization on 8-dimensional blocks (E8Q).

Meant for vectors after three RHT rounds, whose 8-coordinate blocks are
close to isotropic Gaussian.
"""

from __future__ import annotations

import numpy as np

from ..kernels import e8 as _k
from ._common import (
    BitsState,
    check_bits,
    check_codes,
    check_dim,
    check_ids,
    check_seed,
    check_y,
    read_head,
    write_head,
)
from .base import Codec

_PATTERNS, _NORMS2, _PARITY = _k.e8p_patterns()
#: Scale, per bits, of the lattice relative to the per-coordinate RMS of the block input.
_GAINS = {2: 1.05, 3: 1.75, 4: 3.25}
_CHUNK = 8192


class E8Q(BitsState, Codec):
    """E8-lattice vector quantizer with a per-vector scale, 2 to 4 bits per coordinate.

    The vector is zero-padded to ``dp = 8 * ceil(d / 8)`` coordinates, scaled
    so that its RMS coordinate is a fixed gain (per ``bits``), and each
    8-coordinate block is replaced by a point of a codebook of ``2**(8 bits)``
    E8-lattice points:

    * ``bits = 2``: E8P, the ``2**16`` points ``+-p +- (1/4) 1`` built from the
      256 smallest half-integer magnitude patterns ``p`` (ball-shaped; see
      :mod:`rhtann.kernels.e8`), searched exactly.
    * ``bits = 3, 4``: the Voronoi code of E8 modulo ``8 E8`` / ``16 E8``
      (``m**8`` points), with the exact E8 closest-point map and, for a block
      whose closest lattice point falls outside the code (overload), the
      best in-code point among the closest points of shrunken copies.

    The stored scale is the least-squares one, ``<y, c> / ||c||^2`` over
    the chosen lattice points ``c``, and the reconstruction is
    ``scale * c``. The codec is deterministic (no dither) and biased
    towards zero, like any MSE quantizer.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    bits : int
        Bits per coordinate: 2, 3 or 4.
    seed : int, default 0
        Unused (the codebooks are fixed); kept for the common interface.

    Attributes
    ----------
    code_size : int
        ``4 + bits * dp / 8`` bytes: the float32 scale, then ``bits`` bytes per
        8-coordinate block.
    dp : int
        Padded dimension, a multiple of 8.
    """

    def __init__(self, d: int, bits: int, seed: int = 0) -> None:
        d = check_dim(d, "E8Q")
        self.bits = check_bits(bits, (2, 3, 4), "E8Q")
        super().__init__(d, check_seed(seed, "E8Q"))
        self.name = f"E8Q{self.bits}"
        self.dp = 8 * ((self.d + 7) // 8)
        self.code_size = 4 + self.bits * self.dp // 8

    def encode(self, y: np.ndarray, ids: np.ndarray) -> np.ndarray:
        y = check_y(y, self.d, self.name)
        check_ids(ids, y.shape[0], self.name)
        n = y.shape[0]
        codes = np.zeros((n, self.code_size), dtype=np.uint8)
        head = np.empty((n, 1), dtype=np.float32)
        work = np.empty((min(n, _CHUNK), self.dp + 48), dtype=np.float64)
        for a in range(0, n, _CHUNK):
            b = min(n, a + _CHUNK)
            _k.e8q_encode(
                y[a:b], self.bits, _GAINS[self.bits], _PATTERNS, _NORMS2, _PARITY,
                _k.E8_BASIS_INV, _k.VORONOI_OFFSET, _k.OVERLOAD_SHRINK, self.dp,
                head[a:b], codes[a:b], work[: b - a],
            )
        if n:
            write_head(codes, head)
        return codes

    def decode(self, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        codes = check_codes(codes, self.code_size, self.name)
        check_ids(ids, codes.shape[0], self.name)
        n = codes.shape[0]
        out = np.empty((n, self.d), dtype=np.float32)
        if n == 0:
            return out
        head = read_head(codes, 1)
        if not np.isfinite(head).all():
            raise ValueError(f"{self.name}: codes hold a non-finite scale (corrupted codes?)")
        work = np.empty((min(n, _CHUNK), self.dp + 48), dtype=np.float64)
        for a in range(0, n, _CHUNK):
            b = min(n, a + _CHUNK)
            _k.e8q_decode(
                head[a:b], codes[a:b], self.bits, _PATTERNS, _PARITY, _k.E8_BASIS,
                _k.VORONOI_OFFSET, self.d, self.dp, out[a:b], work[: b - a],
            )
        return out

    def __repr__(self) -> str:
        return f"E8Q(d={self.d}, bits={self.bits})"
