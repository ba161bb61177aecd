"""Transform rounds that cannot silently overflow: every finite input gives a finite output or an error.

The kernels apply unnormalized Hadamard rounds and scale once at the end, so
intermediate values grow by up to ``d_out`` per round (in the largest
magnitude) before the final scale brings them back. A finite float32 row of
large magnitude (``1e35`` at ``d = 100``, ``1e33`` at ``d = 4096``) then
overflows to infinity inside the kernel even though its rotation is
representable. The functions here run the layout, scan the output
(:func:`rhtann.kernels.finite.scan_rows`) when the layout cannot vouch for
it (:meth:`rhtann.layouts.base.Layout.forward_checked`: the tiled kernels
check every value they store, so a finite result needs no second pass),
and re-run only the rows that came out non-finite from an input scaled down by a power of two (exact: only
the exponent changes), scaling the result back up. A row whose rotation is
truly not representable (an entry above the dtype's largest finite value)
raises ValueError naming the argument and the row. NaN or infinity in the
input is reported through ``bad``, as the layouts do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..kernels import finite as _finite
from .base import Layout


def _repair(
    x: np.ndarray,
    y: np.ndarray,
    rounds: int,
    width: int,
    run: Callable[[np.ndarray], np.ndarray],
    name: str,
    sq: np.ndarray | None,
    suspect: bool = True,
) -> bool:
    """Fix the non-finite rows of ``y = run(x)``; return True when ``x`` itself is not finite.

    With ``suspect`` False (the kernels stored only finite values) and no
    ``sq`` to fill, ``y`` is not scanned.
    """
    if not suspect and sq is None:
        return False
    flags = np.zeros(y.shape[0], dtype=np.bool_)
    count = _finite.scan_rows(y, flags, sq if sq is not None else np.empty(0))
    if count == 0:
        return False
    rows = np.flatnonzero(flags)
    xr = np.ascontiguousarray(x[rows])
    if not np.isfinite(xr).all():
        return True
    info = np.finfo(x.dtype)
    amax = np.abs(xr).max(axis=1).astype(np.float64)
    _, top = np.frexp(amax)  # amax < 2**top
    # Largest magnitude grows by at most `width` per unnormalized round.
    growth = rounds * max(1, int(width - 1).bit_length())
    shift = np.maximum(top - (info.maxexp - growth - 2), 0).astype(np.int64)[:, None]
    xs = np.ldexp(xr, -shift).astype(x.dtype)
    ys = np.asarray(run(xs), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        yr = np.ldexp(ys, shift)
    ok = np.isfinite(yr).all(axis=1) & (np.abs(yr).max(axis=1, initial=0.0) <= float(info.max))
    if not ok.all():
        row = int(rows[np.flatnonzero(~ok)[0]])
        raise ValueError(
            f"{name}: the rotation of row {row} has entries beyond the {x.dtype} range "
            f"(|value| > {float(info.max):.3g}); its values are too large to rotate in {x.dtype} "
            f"(largest |entry| {float(amax.max()):.3g}). Scale the input down."
        )
    y[rows] = yr.astype(y.dtype)
    if sq is not None:
        sq[rows] = np.einsum("ij,ij->i", yr, yr)
    return False


def forward(
    layout: Layout,
    x: np.ndarray,
    signs: np.ndarray,
    rounds: int,
    name: str,
    *,
    first: int = 0,
    out: np.ndarray | None = None,
    moments: np.ndarray | None = None,
    sq: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """:meth:`rhtann.layouts.base.Layout.forward` with overflowing rows redone prescaled.

    Parameters
    ----------
    layout, x, signs, rounds, first, out, moments
        As in :meth:`rhtann.layouts.base.Layout.forward`. The ``moments`` of
        re-run rows are those of the unscaled input (overflowed sums show
        as non-finite; callers re-check such rows exactly).
    name : str
        Argument named by the error for an unrepresentable result.
    sq : ndarray, shape (n,), float64, optional
        Receives each output row's squared norm (float64 sums).

    Returns
    -------
    y : ndarray, shape (n, d_out)
        Finite wherever ``x`` is.
    bad : bool
        True when ``x`` held a NaN or an infinity.

    Raises
    ------
    ValueError
        When a row's rotation has an entry beyond the dtype's finite range.
    """
    y, bad, suspect = layout.forward_checked(x, signs, rounds, first=first, out=out, moments=moments)
    if bad:
        return y, True

    def run(xs: np.ndarray) -> np.ndarray:
        return layout.forward(xs, signs, rounds, first=first)[0]

    return y, _repair(x, y, rounds, layout.d_out, run, name, sq, suspect)


def inverse(
    layout: Layout, y: np.ndarray, signs: np.ndarray, rounds: int, name: str, *, out: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    """:meth:`rhtann.layouts.base.Layout.inverse` with overflowing rows redone prescaled.

    Returns and raises as :func:`forward` (the result has shape ``(n, d)``).
    """
    x, bad, suspect = layout.inverse_checked(y, signs, rounds, out=out)
    if bad:
        return x, True

    def run(ys: np.ndarray) -> np.ndarray:
        return layout.inverse(ys, signs, rounds)[0]

    return x, _repair(y, x, rounds, layout.d_out, run, name, None, suspect)


__all__ = ["forward", "inverse"]
