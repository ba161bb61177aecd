"""The zero-padding layout: next power of two, faiss-compatible."""

from __future__ import annotations

import numpy as np

from .._threads import get_num_threads
from ..kernels import pad as _kernels

#: Below this many rows the serial row kernel is used (no thread launch).
SMALL_BATCH = 8


def tile_plan(n: int, p: int, threads: int) -> tuple[int, int]:
    """Tile width and number of parallel chunks for ``n`` rows of ``p`` values.

    Returns
    -------
    tw : int
        Rows per tile, a multiple of 16: 16 for rows long enough to be cut
        into several blocks (:func:`blocked`), so that a block of 16 rows and
        ``_kernels.BLOCK_ROWS`` coordinates fits in L1; otherwise 64
        (``_kernels.TILE``), or 16 for batches under 64 rows so that little
        work is spent on empty rows.
    nchunks : int
        Contiguous runs of tiles handed to threads: up to 4 per thread, so a
        slow thread delays the batch by at most a quarter of its share.
    """
    if n < _kernels.TILE or blocked(p):
        tw = 16
    else:
        tw = _kernels.TILE
    ntiles = -(-n // tw)
    return tw, max(1, min(ntiles, 4 * threads))


def blocked(p: int) -> bool:
    """Whether rows of ``p`` coordinates are cut into several blocks per tile.

    From ``p = 512`` on (two blocks or more), 16-row tiles cut into L1-sized
    blocks of 256 coordinates beat 64-row tiles: 1.05-1.5x at ``p = 512`` and
    ``1024``, 1.2-1.3x at ``2048``, 2x at ``4096`` on the development machine
    (``bench/RESULTS.md``).
    """
    return p >= 2 * _kernels.BLOCK_ROWS


def scratch_for(n: int, p: int, threads: int, dtype) -> tuple[np.ndarray, int]:
    """Uninitialized tile buffers for :func:`rhtann._kernels.rht_forward_tiled`.

    Returns
    -------
    scratch : ndarray, shape (nchunks, nb, br * stride + BLOCK_PAD)
        ``br = min(p, BLOCK_ROWS)`` coordinates per block, ``nb = p // br``
        blocks; rows of one block are ``stride = tw + TILE_PAD`` floats apart
        (against cache-set aliasing), rows of several blocks ``tw``.
    tw : int
        Rows per tile.
    """
    tw, nch = tile_plan(n, p, threads)
    br = min(p, _kernels.BLOCK_ROWS)
    stride = tw if p > br else tw + _kernels.TILE_PAD
    return np.empty((nch, p // br, br * stride + _kernels.BLOCK_PAD), dtype=dtype), tw


#: Outputs of at least this many bytes are written with non-temporal stores
#: when their rows are 64-byte aligned: they would not stay in cache anyway,
#: and bypassing it saves reading every output line before writing it.
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


def next_pow2(d: int) -> int:
    """Smallest power of two >= ``d`` (1 for ``d <= 1``)."""
    return 1 << max(int(d) - 1, 0).bit_length()


class PadLayout:
    """Zero padding to the next power of two.

    Parameters
    ----------
    d : int
        Input dimension, >= 1.
    """

    name = "pad"

    def __init__(self, d: int) -> None:
        self.d = int(d)
        self.d_out = next_pow2(self.d)
        self.sign_length = self.d_out

    def __repr__(self) -> str:
        return f"PadLayout(d={self.d}, d_out={self.d_out})"

    def scale(self, rounds: int) -> float:
        """Normalization applied once after ``rounds`` unnormalized rounds."""
        return float(self.d_out) ** (-0.5 * rounds)

    def forward(
        self,
        x: np.ndarray,
        signs: np.ndarray,
        rounds: int,
        first: int = 0,
        out: np.ndarray | None = None,
        moments: np.ndarray | None = None,
    ) -> tuple[np.ndarray, bool]:
        """Apply rounds ``first .. first + rounds - 1`` to the rows of ``x``.

        Parameters
        ----------
        x : ndarray, C-contiguous float32 or float64
            Shape ``(n, d)`` when ``first == 0``; shape ``(n, d_out)`` (rows
            already carried through rounds ``0 .. first - 1``) otherwise.
        signs : ndarray, shape (>= first + rounds, d_out), same dtype as ``x``
        rounds : int
            Number of rounds to apply.
        first : int, default 0
            Index of the first round to apply.
        out : ndarray, shape (n, d_out), dtype of ``x``, C-contiguous, optional
            Output buffer (allocated when None).
        moments : ndarray, shape (2, n), dtype of ``x``, zeroed, optional
            Receives each input row's sum of squares and sum of fourth powers,
            computed while the rows are read (used by :meth:`RHT.apply_adaptive`).
            A NaN or infinity in ``x`` then shows in these sums, and ``bad``
            may be False: the caller checks them.

        Returns
        -------
        y : ndarray, shape (n, d_out), dtype of ``x``
        bad : bool
            True when ``x`` held a NaN or an infinity.
        """
        if first:
            signs = signs[first : first + rounds]
        n = x.shape[0]
        if out is None:
            out = empty_output((n, self.d_out), x.dtype)
        scale = x.dtype.type(self.scale(rounds))
        if moments is None:
            moments = np.zeros((2, 0), dtype=x.dtype)
        if n < SMALL_BATCH:
            bad = _kernels.rht_forward_rows(x, signs, rounds, scale, out, moments)
            return out, bool(bad)
        scratch, tw = scratch_for(n, self.d_out, get_num_threads(), x.dtype)
        bad = np.zeros(scratch.shape[0], dtype=np.bool_)
        _kernels.rht_forward_tiled(x, signs, rounds, scale, out, scratch, tw, bad, moments, streams(out))
        return out, bool(bad.any())

    def inverse(self, y: np.ndarray, signs: np.ndarray, rounds: int) -> tuple[np.ndarray, bool]:
        """Invert ``rounds`` rounds; rows of ``y`` have ``d_out`` entries.

        Returns
        -------
        x : ndarray, shape (n, d), dtype of ``y``
            For ``y`` in the range of the forward map this is the exact
            preimage; otherwise it is the least-squares preimage (the
            orthogonal projection, then truncation of the padding).
        bad : bool
            True when ``y`` held a NaN or an infinity.
        """
        n = y.shape[0]
        out = empty_output((n, self.d), y.dtype)
        scale = y.dtype.type(self.scale(rounds))
        if n < SMALL_BATCH:
            work = np.empty(self.d_out, dtype=y.dtype)
            bad = _kernels.rht_inverse_rows(y, signs, rounds, scale, out, work)
            return out, bool(bad)
        scratch, tw = scratch_for(n, self.d_out, get_num_threads(), y.dtype)
        bad = np.zeros(scratch.shape[0], dtype=np.bool_)
        no_moments = np.zeros((2, 0), dtype=y.dtype)
        _kernels.rht_inverse_tiled(y, signs, rounds, scale, out, scratch, tw, bad, no_moments, streams(out))
        return out, bool(bad.any())

    def native_faiss(self, seed: int, rounds: int):
        """The native faiss transform equal to this layout, or None."""
        import faiss

        if rounds == 3 and 0 <= seed < 2**32:
            return faiss.HadamardRotation(self.d, int(seed))
        return None
