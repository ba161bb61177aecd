"""Argument checks and header packing shared by the codecs of this package."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from .._validation import check_int


def check_bits(bits: object, allowed: range | tuple[int, ...], codec: str) -> int:
    """``bits`` as an int in ``allowed``, or a ValueError naming the codec and the range."""
    if isinstance(bits, bool) or not isinstance(bits, Integral) or int(bits) not in allowed:
        lo, hi = min(allowed), max(allowed)
        raise ValueError(f"{codec}: bits must be an integer in [{lo}, {hi}]; got {bits!r}")
    return int(bits)


def check_dim(d: object, codec: str) -> int:
    """``d`` as an int >= 1."""
    if isinstance(d, bool) or not isinstance(d, Integral) or int(d) < 1:
        raise ValueError(f"{codec}: d must be an integer >= 1; got {d!r}")
    return int(d)


def check_seed(seed: object, codec: str) -> int:
    """``seed`` as an int in [0, 2**64)."""
    return check_int(seed, f"{codec}: seed", 0, 2**64 - 1)


def check_y(y: object, d: int, codec: str) -> np.ndarray:
    """``y`` as a C-contiguous float32 (n, d) array of finite values."""
    if not isinstance(y, np.ndarray):
        raise TypeError(
            f"{codec}: y must be a numpy array of float32, shape (n, {d}); got {type(y).__name__}"
        )
    if y.ndim != 2 or y.shape[1] != d:
        raise ValueError(f"{codec}: y must have shape (n, {d}); got {y.shape}")
    if y.dtype != np.float32:
        if not np.issubdtype(y.dtype, np.floating):
            raise TypeError(f"{codec}: y must be float32 (or another float dtype); got {y.dtype}")
        y = y.astype(np.float32)
    y = np.ascontiguousarray(y)
    if not np.isfinite(y).all():
        raise ValueError(f"{codec}: y holds non-finite values (NaN or inf)")
    return y


def check_ids(ids: object, n: int | None, codec: str) -> np.ndarray:
    """``ids`` as a C-contiguous int64 (n,) array (any length when ``n`` is None)."""
    if not isinstance(ids, np.ndarray):
        raise TypeError(
            f"{codec}: ids must be a numpy array of int64, shape ({n},); got {type(ids).__name__}"
        )
    if ids.ndim != 1 or (n is not None and ids.shape[0] != n):
        raise ValueError(f"{codec}: ids must have shape ({n},), one id per row; got {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{codec}: ids must be an integer array (int64); got {ids.dtype}")
    return np.ascontiguousarray(ids, dtype=np.int64)


def check_codes(codes: object, code_size: int, codec: str) -> np.ndarray:
    """``codes`` as a C-contiguous uint8 (n, code_size) array."""
    if not isinstance(codes, np.ndarray):
        raise TypeError(
            f"{codec}: codes must be a numpy array of uint8, shape (n, {code_size}); "
            f"got {type(codes).__name__}"
        )
    if codes.dtype != np.uint8:
        raise TypeError(f"{codec}: codes must have dtype uint8; got {codes.dtype}")
    if codes.ndim != 2 or codes.shape[1] != code_size:
        raise ValueError(f"{codec}: codes must have shape (n, {code_size}); got {codes.shape}")
    return np.ascontiguousarray(codes)


def write_head(codes: np.ndarray, head: np.ndarray) -> None:
    """Store the float32 header ``head`` ((n, h)) in the first ``4 h`` bytes of each code."""
    h = head.shape[1]
    codes[:, : 4 * h] = np.ascontiguousarray(head, dtype="<f4").view(np.uint8).reshape(-1, 4 * h)


def read_head(codes: np.ndarray, h: int) -> np.ndarray:
    """The float32 header ((n, h)) stored by :func:`write_head`."""
    return np.ascontiguousarray(codes[:, : 4 * h]).view("<f4").astype(np.float32).reshape(-1, h)


def check_state_name(meta: object, name: str) -> dict:
    """``meta`` as a dict saved by a codec called ``name`` (same kind and bits)."""
    if not isinstance(meta, dict):
        raise TypeError(f"{name}: meta must be the dict returned by get_state; got {type(meta).__name__}")
    if meta.get("name") != name:
        raise ValueError(f"{name}: state was saved by codec {meta.get('name')!r}, not {name!r}")
    return meta


class BitsState:
    """File state of codecs built as ``Codec(d, bits, seed)``: the base state plus ``bits``.

    Mixed in before :class:`rhtann.codecs.base.Codec`; the host provides
    ``name`` and ``bits``.
    """

    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta, arrays = super().get_state()  # type: ignore[misc]
        meta["bits"] = self.bits  # type: ignore[attr-defined]
        return meta, arrays

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        check_state_name(meta, self.name)  # type: ignore[attr-defined]
        self.__init__(meta["d"], self.bits, meta["seed"])  # type: ignore[attr-defined, misc]
