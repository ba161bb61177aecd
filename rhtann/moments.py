"""Per-vector moment statistics (pure statistics; the round policy built on
them is in :mod:`rhtann.rounds`).

One randomized Hadamard round maps ``x`` to ``y`` whose coordinate
``sqrt(p) * y_i`` is a Rademacher sum with weights ``|x_j| / ||x||``. How close
that sum is to a Gaussian is governed by the moments of ``x``:

``rho4(x) = sum(x**4) / sum(x**2)**2``
    In ``[1/p, 1]``. ``kappa = d_eff * rho4`` is the kurtosis about zero:
    1 for a flat vector, about 3 for Gaussian-like data, ``d_eff`` for a
    one-hot vector.
``rho3(x) = sum(|x|**3) / ||x||**3``
    The Berry-Esseen ratio: the Kolmogorov distance of a coordinate after
    one round is at most ``0.56 * rho3(x)``; ``rho3 <= sqrt(rho4)``.
``peak(x) = max|x| / ||x||``
    A looser, cheaper bound on ``rho3``.

One round also makes the fourth moment small whatever the input:
``E[d_eff * rho4(R x)] = 3 - 2 * rho4(x) <= 3``. So a vector whose ``kappa``
is above the threshold passes after one more round, which is why the check
never needs more than two rounds for scalar quantizers and three for vector
quantizers (see :func:`rhtann.choose_rounds`).

Numerics
--------
The sums run in :mod:`rhtann.kernels.moments`. A float32 row is first
summed in float32 in one vectorized pass (the sums of
``x**2``, ``|x|**3``, ``x**4``); the result is kept when ``sum x**2`` lies in
``[2**-20, 2**100]`` and ``sum x**4 <= 2**100``, where nothing overflowed and
what float32 underflow dropped is negligible. The relative error of the
statistics is then that of float32 sums, below ``1e-5`` for ``d <= 65536``,
far finer than any threshold the check uses. Any other row (tiny or huge
scale, NaN, infinity, float64 input) takes the exact path: float64 sums,
after scaling by ``1 / max|x|`` for float64 rows, where every term lies in
``[0, 1]``; float32 rows need no scaling there, since ``x**4`` of a finite
float32 lies between ``3e-180`` and ``1.2e154`` (or is 0), inside float64's
range. ``max|x|`` comes from an integer maximum over the bit patterns, which
also flags NaN and infinity (their patterns are the largest).

A zero vector has no direction: its statistics are defined as
``rho4 = rho3 = peak = kappa = 0``, so it passes any threshold (rotating it
changes nothing) and never produces a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_rows64, check_finite_flag
from .kernels import moments as _k
from .kernels.threads import get_num_threads

#: Below this many values (rows * d) the serial kernels run: a thread launch
#: costs more than reading a batch that fits in cache.
_SERIAL_VALUES = 2**18


@dataclass(frozen=True)
class MomentStats:
    """Per-vector moment statistics (see the module docstring).

    Attributes
    ----------
    rho4, kappa, rho3, peak : ndarray, shape (n,), float64
        ``sum x^4 / (sum x^2)^2``, ``d_eff * rho4``, ``sum |x|^3 / ||x||^3``
        and ``max|x| / ||x||``; all 0 for zero vectors.
    d_eff : int
        The dimension used in ``kappa``.
    """

    rho4: np.ndarray
    kappa: np.ndarray
    rho3: np.ndarray
    peak: np.ndarray
    d_eff: int


def moment_stats(x: Any, d_eff: int | None = None) -> MomentStats:
    """Moment statistics of every row of ``x`` in one pass.

    Parameters
    ----------
    x : array_like, shape (n, d)
        float32 and float64 are read as they are; integer dtypes are
        converted to float32.
    d_eff : int, optional
        Dimension in ``kappa = d_eff * rho4``. Defaults to ``d``. For a
        zero-padded transform pass its ``d_out``: padding adds zeros, which
        leave ``rho4`` unchanged, but the rounds mix ``d_out`` coordinates.

    Returns
    -------
    MomentStats

    Raises
    ------
    ValueError
        If ``x`` is not 2-D or holds NaN or infinity.
    """
    return stats_of(as_rows64(x, "x"), d_eff, "x")


def stats_of(x: np.ndarray, d_eff: int | None, name: str) -> MomentStats:
    """:func:`moment_stats` of trusted rows (C-contiguous float32 or float64).

    Raises ValueError naming ``name`` when ``x`` holds NaN or infinity.
    """
    n, d = x.shape
    d_eff = d if d_eff is None else int(d_eff)
    rho4 = np.empty(n)
    rho3 = np.empty(n)
    peak = np.empty(n)
    bits, mask, infbits = _k.bit_view(x)
    if n * d < _SERIAL_VALUES or get_num_threads() == 1:
        bad = _k.stats_rows(x, bits, mask, infbits, rho4, rho3, peak)
    else:
        flags = np.zeros(n, dtype=np.bool_)
        _k.stats_rows_parallel(x, bits, mask, infbits, rho4, rho3, peak, flags)
        bad = bool(flags.any())
    check_finite_flag(bool(bad), name)
    return MomentStats(rho4=rho4, kappa=d_eff * rho4, rho3=rho3, peak=peak, d_eff=d_eff)


def kappa(x: np.ndarray, d_eff: int, name: str = "x") -> np.ndarray:
    """``d_eff * rho4`` of every row: the statistic the round check uses.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous float32 or float64
        Trusted rows (not converted).
    d_eff : int
    name : str, default "x"
        Argument named by the error for NaN or infinity.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, float64; 0 for zero rows.
    """
    n, d = x.shape
    out = np.empty(n)
    bits, mask, infbits = _k.bit_view(x)
    small = n * d < _SERIAL_VALUES
    if small or get_num_threads() == 1:
        bad = _k.kappa_rows(x, bits, mask, infbits, float(d_eff), out, small)
    else:
        flags = np.zeros(min(n, 4 * get_num_threads()), dtype=np.bool_)
        _k.kappa_rows_parallel(x, bits, mask, infbits, float(d_eff), out, flags, small)
        bad = bool(flags.any())
    check_finite_flag(bool(bad), name)
    return out


#: Range of ``sum x**2`` (and upper bound of ``sum x**4``) in which float32
#: power sums are trusted; the kernels use the same bounds.
FAST_LOW = _k.FAST_LOW
FAST_HIGH = _k.FAST_HIGH

__all__ = ["FAST_HIGH", "FAST_LOW", "MomentStats", "kappa", "moment_stats", "stats_of"]
