"""Dithered scalar codecs: DSQ (uniform subtractive dither) and DTQ (dithered TurboQuant).

Both quantize every coordinate of a rotated vector independently, with a
dither drawn per coordinate from ``(seed, id, coordinate)`` by a
counter-based hash (:mod:`rhtann.kernels.dither`). The dither costs no bits,
the decoder regenerates it, and copies of one vector stored under
different ids get independent dithers.
"""

from __future__ import annotations

import numpy as np

from ..kernels import dither as _k
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


class _DitheredScalar(BitsState, Codec):
    """Shared plumbing: header of ``_head`` float32 values, then ``bits`` bits per coordinate."""

    _kind = ""
    _head = 1
    _bits_range: range = range(1, 9)

    def __init__(self, d: int, bits: int, seed: int = 0) -> None:
        d = check_dim(d, self._kind)
        self.bits = check_bits(bits, self._bits_range, self._kind)
        super().__init__(d, check_seed(seed, self._kind))
        self.name = f"{self._kind}{self.bits}"
        self.code_size = 4 * self._head + (self.d * self.bits + 7) // 8

    def _prep_encode(self, y: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = check_y(y, self.d, self.name)
        return y, check_ids(ids, y.shape[0], self.name)

    def _prep_decode(self, codes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = check_codes(codes, self.code_size, self.name)
        ids = check_ids(ids, codes.shape[0], self.name)
        return codes, ids, read_head(codes, self._head)

    def dithers(self, ids: np.ndarray) -> np.ndarray:
        """The dithers of the vectors stored under ``ids``.

        Parameters
        ----------
        ids : ndarray of int64, shape (n,)

        Returns
        -------
        ndarray of float64, shape (n, d)
            Values in the open interval (0, 1), one per coordinate; the same
            ids always give the same values.
        """
        ids = check_ids(ids, None, self.name)
        out = np.empty((ids.shape[0], self.d), dtype=np.float64)
        _k.dither_values(np.uint64(self.seed), ids, self.d, out)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, bits={self.bits}, seed={self.seed})"


class DSQ(_DitheredScalar):
    """Uniform scalar quantization with subtractive dither over the vector's own range.

    Each vector ``y`` stores ``low = min_j y_j`` and a step ``Delta`` with
    ``low + (2**bits - 1) * Delta >= max_j y_j`` (float32 each), then one
    ``bits``-bit index per coordinate: ``k_j = floor((y_j - low) / Delta + u_j)``
    with the dither ``u_j`` uniform on (0, 1). Decoding returns
    ``y_hat_j = low + (k_j + 1/2 - u_j) * Delta``.

    Unbiasedness and error law (exact, for every input): given ``y``, the
    errors ``e_j = y_hat_j - y_j`` are independent and uniform on
    ``(-Delta/2, Delta/2]``, whatever ``y`` is (the grid covers the range, so
    nothing is ever clipped). Hence ``E[decode(encode(y, id)) | y] = y``, the
    expectation taken over the dither (i.e. over ids), and
    ``E ||y_hat - y||^2 = d Delta^2 / 12``. The error depends on ``y`` only
    through ``Delta``, and ``e / Delta`` does not depend on ``y`` at all.
    Up to float32 rounding of the output.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    bits : int
        Bits per coordinate, 1 to 8.
    seed : int, default 0
        Seed of the dithers, in [0, 2**64).

    Attributes
    ----------
    code_size : int
        ``8 + ceil(d * bits / 8)`` bytes (low and Delta, then the indices).
    """

    _kind = "DSQ"
    _head = 2

    def encode(self, y: np.ndarray, ids: np.ndarray) -> np.ndarray:
        y, ids = self._prep_encode(y, ids)
        codes = np.zeros((y.shape[0], self.code_size), dtype=np.uint8)
        head = np.empty((y.shape[0], 2), dtype=np.float32)
        if y.shape[0]:
            _k.dsq_encode(y, ids, np.uint64(self.seed), self.bits, head, codes)
            if not np.isfinite(head).all():
                raise ValueError(
                    f"{self.name}: a row's range max(y) - min(y) overflows float32; scale y down"
                )
            write_head(codes, head)
        return codes

    def decode(self, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        codes, ids, head = self._prep_decode(codes, ids)
        out = np.empty((codes.shape[0], self.d), dtype=np.float32)
        if codes.shape[0]:
            if not np.isfinite(head).all() or (head[:, 1] < 0).any():
                raise ValueError(
                    f"{self.name}: codes hold a non-finite or negative header (corrupted codes?)"
                )
            _k.dsq_decode(head, codes, ids, np.uint64(self.seed), self.bits, self.d, out)
        return out


class DTQ(_DitheredScalar):
    """Dithered TurboQuant: per-vector norm, Gaussian-optimal compander, subtractive dither.

    Each vector ``y`` stores its norm ``||y||`` (float32), then one
    ``bits``-bit index per coordinate. With ``N = 2**bits`` cells,
    ``u_j = sqrt(d) y_j / ||y||`` (about N(0, 1) after an RHT) is companded
    to ``s_j = N Phi(u_j / sqrt(3))`` in (0, N) (``Phi`` the normal CDF; this
    is the Panter-Dite optimal compressor for a Gaussian), and quantized
    with a uniform dither ``v_j`` on (0, 1):
    ``k_j = clip(floor(s_j - 1/2 + v_j), 0, N - 1)``. Decoding forms
    ``s_hat_j = k_j + 1 - v_j`` and expands it:
    ``y_hat_j = ||y|| sqrt(3) Phi^-1(s_hat_j / N) / sqrt(d)``.

    In what sense it is unbiased (exact statements; expectations over the
    dither, i.e. over the ids a vector may be stored under):

    * **In the companded domain**, for every coordinate with
      ``1/2 <= s_j <= N - 1/2`` (that is ``|u_j| <= sqrt(3) Phi^-1(1 - 1/(2N))``,
      where the clip never acts): ``E[s_hat_j | y] = s_j``, and
      ``s_hat_j - s_j`` is uniform on ``(-1/2, 1/2]`` and independent across
      coordinates. Outside that range the clip pulls ``s_hat_j`` towards
      the centre.
    * **Not in the vector domain.** ``E[y_hat | y] != y`` in general: the
      expansion is nonlinear, and the bias of coordinate ``j`` is of order
      ``4**-bits`` relative to ``|y_j|`` (it has the sign of ``y_j``). Use
      :class:`DSQ` where exact unbiasedness is needed.

    As ``bits`` grows, the mean squared error approaches the high-resolution
    error of the compander, ``E[1/G'(u)^2] / (12 N^2)`` per coordinate, which
    is ``(pi sqrt(3) / 2) 4**-bits`` for Gaussian ``u``; after one RHT, in
    expectation over its signs, every input is at most that (Rademacher sums
    have ``E exp(u^2/3)`` no larger than a Gaussian's).

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    bits : int
        Bits per coordinate, 1 to 8.
    seed : int, default 0
        Seed of the dithers, in [0, 2**64).

    Attributes
    ----------
    code_size : int
        ``4 + ceil(d * bits / 8)`` bytes (the norm, then the indices).
    """

    _kind = "DTQ"
    _head = 1

    def encode(self, y: np.ndarray, ids: np.ndarray) -> np.ndarray:
        y, ids = self._prep_encode(y, ids)
        codes = np.zeros((y.shape[0], self.code_size), dtype=np.uint8)
        head = np.empty((y.shape[0], 1), dtype=np.float32)
        if y.shape[0]:
            _k.dtq_encode(y, ids, np.uint64(self.seed), self.bits, head, codes)
            write_head(codes, head)
        return codes

    def decode(self, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        codes, ids, head = self._prep_decode(codes, ids)
        out = np.empty((codes.shape[0], self.d), dtype=np.float32)
        if codes.shape[0]:
            if not np.isfinite(head).all() or (head < 0).any():
                raise ValueError(f"{self.name}: codes hold a non-finite or negative norm (corrupted codes?)")
            _k.dtq_decode(head, codes, ids, np.uint64(self.seed), self.bits, self.d, out)
        return out

    def companded(self, y: np.ndarray) -> np.ndarray:
        """The companded values ``s = N Phi(u / sqrt(3))`` of ``y`` (float64, (n, d)).

        The quantity whose dithered estimate is unbiased (see the class notes).
        """
        y = check_y(y, self.d, self.name)
        out = np.empty(y.shape, dtype=np.float64)
        _k.dtq_companded(y, self.bits, out)
        return out

    def companded_codes(self, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The dithered companded values ``s_hat = k + 1 - v`` of codes (float64, (n, d))."""
        codes, ids, _ = self._prep_decode(codes, ids)
        k = np.empty((codes.shape[0], self.d), dtype=np.int64)
        _k.unpack_indices(codes, self.bits, 4, self.d, k)
        return k + 1.0 - self.dithers(ids)
