"""The zero-padding layout: next power of two, faiss-compatible."""

from __future__ import annotations

import faiss
import numpy as np

from ..kernels import pad as _kernels
from ..kernels.threads import get_num_threads
from .base import Layout
from .output import empty_output, streams

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

    From two blocks on (``p >= 2 * BLOCK_ROWS``), 16-row tiles cut into
    L1-sized blocks are used instead of 64-row tiles; the speed comparison
    that set this boundary is in ``bench/results/``.
    """
    return p >= 2 * _kernels.BLOCK_ROWS


def scratch_for(n: int, p: int, threads: int, dtype) -> tuple[np.ndarray, int]:
    """Uninitialized tile buffers for :func:`rhtann.kernels.pad.rht_forward_tiled`.

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


def next_pow2(d: int) -> int:
    """Smallest power of two >= ``d`` (1 for ``d <= 1``)."""
    return 1 << max(int(d) - 1, 0).bit_length()


class PadLayout(Layout):
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
        *,
        first: int = 0,
        out: np.ndarray | None = None,
        moments: np.ndarray | None = None,
    ) -> tuple[np.ndarray, bool]:
        """See :meth:`rhtann.layouts.base.Layout.forward`.

        The sums of ``moments`` are accumulated while the first round loads
        the rows, so asking for them costs no extra pass.
        """
        return self.forward_checked(x, signs, rounds, first=first, out=out, moments=moments)[:2]

    def forward_checked(
        self,
        x: np.ndarray,
        signs: np.ndarray,
        rounds: int,
        *,
        first: int = 0,
        out: np.ndarray | None = None,
        moments: np.ndarray | None = None,
    ) -> tuple[np.ndarray, bool, bool]:
        """See :meth:`rhtann.layouts.base.Layout.forward_checked`; the kernels check all they store."""
        if first:
            signs = signs[first : first + rounds]
        n = x.shape[0]
        if out is None:
            out = empty_output((n, self.d_out), x.dtype)
        scale = x.dtype.type(self.scale(rounds))
        if moments is None:
            moments = np.zeros((2, 0), dtype=x.dtype)
        if n < SMALL_BATCH:
            over = np.zeros(1, dtype=np.bool_)
            bad = _kernels.rht_forward_rows(x, signs, rounds, scale, out, over, moments)
            return out, bool(bad), bool(over[0])
        scratch, tw = scratch_for(n, self.d_out, get_num_threads(), x.dtype)
        bad = np.zeros(scratch.shape[0], dtype=np.bool_)
        over = np.zeros(scratch.shape[0], dtype=np.bool_)
        _kernels.rht_forward_tiled(
            x, signs, rounds, scale, out, scratch, tw, bad, over, moments, streams(out)
        )
        return out, bool(bad.any()), bool(over.any())

    def inverse(
        self, y: np.ndarray, signs: np.ndarray, rounds: int, *, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool]:
        """See :meth:`rhtann.layouts.base.Layout.inverse`.

        For ``y`` outside the range of the forward map the result is the
        orthogonal projection onto it, then truncation of the padding.
        """
        return self.inverse_checked(y, signs, rounds, out=out)[:2]

    def inverse_checked(
        self, y: np.ndarray, signs: np.ndarray, rounds: int, *, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool, bool]:
        """See :meth:`rhtann.layouts.base.Layout.inverse_checked`; the kernels check all they store."""
        n = y.shape[0]
        if out is None:
            out = empty_output((n, self.d), y.dtype)
        scale = y.dtype.type(self.scale(rounds))
        if n < SMALL_BATCH:
            work = np.empty(self.d_out, dtype=y.dtype)
            over = np.zeros(1, dtype=np.bool_)
            bad = _kernels.rht_inverse_rows(y, signs, rounds, scale, out, over, work)
            return out, bool(bad), bool(over[0])
        scratch, tw = scratch_for(n, self.d_out, get_num_threads(), y.dtype)
        bad = np.zeros(scratch.shape[0], dtype=np.bool_)
        over = np.zeros(scratch.shape[0], dtype=np.bool_)
        no_moments = np.zeros((2, 0), dtype=y.dtype)
        _kernels.rht_inverse_tiled(
            y, signs, rounds, scale, out, scratch, tw, bad, over, no_moments, streams(out)
        )
        return out, bool(bad.any()), bool(over.any())

    def native_faiss(self, seed: int, rounds: int):
        """``faiss.HadamardRotation(d, seed)`` for 3 rounds and ``seed < 2**32``; None otherwise."""
        if rounds == 3 and 0 <= seed < 2**32:
            return faiss.HadamardRotation(self.d, int(seed))
        return None
