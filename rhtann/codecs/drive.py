"""DRIVE's 1-bit codec with the unbiased scale (for distributed mean estimation)."""

from __future__ import annotations

import numpy as np

from ..kernels import dither as _k
from ._common import (
    check_codes,
    check_dim,
    check_ids,
    check_seed,
    check_state_name,
    check_y,
    read_head,
    write_head,
)
from .base import Codec


class DRIVE1(Codec):
    """Sign bits plus one scale: ``y_hat = S sign(y)`` with ``S = ||y||_2^2 / ||y||_1``.

    The scale makes ``<y_hat, y> = ||y||^2``. Unbiasedness holds over the
    rotation, not per vector: for ``y = R x`` with ``R`` a uniform random
    rotation, ``E_R[R^T y_hat] = x``, and the normalized error
    ``E||y_hat - y||^2 / ||y||^2 = E[d ||y||^2 / ||y||_1^2] - 1`` tends to
    ``pi/2 - 1``. After RHTs this holds once the rotated vector looks
    Gaussian (two rounds for every input; one round is exact on one-hot
    inputs but worst on the indicator of 4 coordinates). Deterministic: the
    ids are accepted for the common interface and unused.

    Parameters
    ----------
    d : int
        Dimension, >= 1.
    seed : int, default 0
        Unused; kept for the common interface.

    Attributes
    ----------
    code_size : int
        ``4 + ceil(d / 8)`` bytes (the float32 scale, then one bit per coordinate).
    """

    bits = 1

    def __init__(self, d: int, seed: int = 0) -> None:
        d = check_dim(d, "DRIVE1")
        super().__init__(d, check_seed(seed, "DRIVE1"))
        self.name = "DRIVE1"
        self.code_size = 4 + (self.d + 7) // 8

    def encode(self, y: np.ndarray, ids: np.ndarray) -> np.ndarray:
        y = check_y(y, self.d, self.name)
        check_ids(ids, y.shape[0], self.name)
        codes = np.zeros((y.shape[0], self.code_size), dtype=np.uint8)
        head = np.empty((y.shape[0], 1), dtype=np.float32)
        if y.shape[0]:
            _k.drive_encode(y, head, codes)
            write_head(codes, head)
        return codes

    def decode(self, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        codes = check_codes(codes, self.code_size, self.name)
        check_ids(ids, codes.shape[0], self.name)
        out = np.empty((codes.shape[0], self.d), dtype=np.float32)
        if codes.shape[0]:
            head = read_head(codes, 1)
            if not np.isfinite(head).all():
                raise ValueError(f"{self.name}: codes hold a non-finite scale (corrupted codes?)")
            _k.drive_decode(head, codes, self.d, out)
        return out

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        check_state_name(meta, self.name)
        self.__init__(meta["d"], meta["seed"])

    def __repr__(self) -> str:
        return f"DRIVE1(d={self.d})"
