"""Where transform outputs go: allocation and the non-temporal store rule.

This module is the one owner of that policy. Outputs of at least
:data:`STREAM_BYTES` whose rows start on 64-byte boundaries are written by the
kernels with non-temporal stores: such outputs would not stay in cache anyway,
and bypassing it saves reading every output line before writing it. Arrays
allocated here are aligned exactly when they are large enough to be streamed.
"""

from __future__ import annotations

import numpy as np

#: Outputs of at least this many bytes, with 64-byte aligned rows, are streamed.
STREAM_BYTES = 8 * 2**20


def empty_aligned(shape: tuple[int, int], dtype) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = shape[0] * shape[1] * dtype.itemsize
    raw = np.empty(nbytes + 64, dtype=np.uint8)
    offset = -raw.__array_interface__["data"][0] % 64
    return raw[offset : offset + nbytes].view(dtype).reshape(shape)


def empty_output(shape: tuple[int, int], dtype) -> np.ndarray:
    """A new output array: 64-byte aligned when it is large enough to be streamed."""
    if shape[0] * shape[1] * np.dtype(dtype).itemsize >= STREAM_BYTES:
        return empty_aligned(shape, dtype)
    return np.empty(shape, dtype=dtype)


def streams(out: np.ndarray) -> bool:
    """Whether the kernels may write ``out`` (2-D, C-contiguous) with non-temporal stores."""
    return (
        out.nbytes >= STREAM_BYTES
        and out.__array_interface__["data"][0] % 64 == 0
        and (out.shape[1] * out.itemsize) % 64 == 0
    )


__all__ = ["STREAM_BYTES", "empty_aligned", "empty_output", "streams"]
