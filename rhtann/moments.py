"""Per-vector moment statistics and the round check built on them.

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
quantizers (see :func:`choose_rounds`).

Numerics
--------
A float32 row is first summed in float32 in one vectorized pass (the sums of
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
from numba import njit, prange

from ._threads import get_num_threads
from ._validation import as_matrix, check_finite_flag

#: Default threshold on ``kappa = d_eff * rho4`` (see :func:`choose_rounds`).
DEFAULT_THRESHOLD = 8.0

#: Fewest and most rounds per target.
TARGET_ROUNDS = {"scalar": (1, 2), "vq": (2, 3)}

#: Ties: kappa within float32 rounding (1e-6 relative) of the threshold passes.
_TIE = 1.0 + 1e-6

#: Below this many values (rows * d) the serial kernels run: a thread launch
#: costs more than reading a batch that fits in cache.
_SERIAL_VALUES = 2**18

# Reassociation lets LLVM vectorize the reductions. No "nnan"/"ninf": NaN and
# infinity must keep their IEEE behaviour, since the fast float32 sums are
# validated by comparisons after the loop.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# The float32 sums are used when they stay in this range (see _fast_ok).
_LOW = 2.0**-20
_HIGH = 2.0**100


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _peak64(br, mask):
    """Largest ``bits & mask`` of a float64 row viewed as uint64."""
    m = np.uint64(0)
    for j in range(br.shape[0]):
        m = max(m, np.uint64(br[j] & mask))
    return m


@njit(cache=True, inline="always")
def _prescale(m):
    """Factors ``(pre, scale)`` with ``x * pre * scale = x / m``, all finite.

    ``1 / m`` overflows for subnormal ``m``; those rows are first multiplied
    by ``2**600``, an exact power of two.
    """
    pre = 1.0 if m >= 1e-300 else 2.0**600
    return pre, 1.0 / (m * pre)


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_sums(xr, br, mask, infbits):
    """Return (s2, s3, s4, peak, bad) of one row, in float64.

    ``br`` is the row viewed as unsigned integers of its float width,
    ``mask`` clears the sign bit and ``infbits`` is the pattern of +inf: for
    IEEE floats the order of ``|x|`` is the order of ``bits & mask``, and
    NaN and infinity have the largest patterns (``bad``). A float32 row is
    summed as it is in the same pass; a float64 row is scaled by
    ``1 / max|x|`` first. The ratios the callers form do not depend on the
    scale.
    """
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    if infbits == np.uint32(0x7F800000):
        m32 = np.uint32(0)
        for j in range(xr.shape[0]):
            a = abs(np.float64(xr[j]))
            a2 = a * a
            s2 += a2
            s3 += a2 * a
            s4 += a2 * a2
            m32 = max(m32, np.uint32(br[j] & mask))
        return s2, s3, s4, np.float64(np.uint32(m32).view(np.float32)), m32 >= infbits
    m64 = _peak64(br, mask)
    if m64 >= infbits or m64 == 0:
        return 0.0, 0.0, 0.0, 0.0, m64 >= infbits
    pre, scale = _prescale(np.uint64(m64).view(np.float64))
    for j in range(xr.shape[0]):
        a = abs(np.float64(xr[j]) * pre) * scale
        a2 = a * a
        s2 += a2
        s3 += a2 * a
        s4 += a2 * a2
    return s2, s3, s4, 1.0, False


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_s24(xr, br, mask, infbits):
    """Return (s2, s4, bad) of one row; see :func:`_row_sums`."""
    s2 = 0.0
    s4 = 0.0
    if infbits == np.uint32(0x7F800000):
        m32 = np.uint32(0)
        for j in range(xr.shape[0]):
            a = np.float64(xr[j])
            a2 = a * a
            s2 += a2
            s4 += a2 * a2
            m32 = max(m32, np.uint32(br[j] & mask))
        return s2, s4, m32 >= infbits
    m64 = _peak64(br, mask)
    if m64 >= infbits or m64 == 0:
        return 0.0, 0.0, m64 >= infbits
    pre, scale = _prescale(np.uint64(m64).view(np.float64))
    for j in range(xr.shape[0]):
        a = np.float64(xr[j]) * pre * scale
        a2 = a * a
        s2 += a2
        s4 += a2 * a2
    return s2, s4, False


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _fast_ok(s2, s4):
    """Whether float32 sums can be trusted.

    ``s2 >= 2**-20`` means every term dropped by float32 underflow
    (``x**4 < 2**-126``) is below ``2**-86 * d`` times ``s4``, and
    ``s2, s4 <= 2**100`` means nothing overflowed; NaN fails every comparison.
    """
    return s2 >= _LOW and s2 <= _HIGH and s4 <= _HIGH


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_fast_sums(xr, br, mask):
    """float32 (s2, s3, s4) and the largest ``bits & mask`` of a float32 row."""
    s2 = np.float32(0.0)
    s3 = np.float32(0.0)
    s4 = np.float32(0.0)
    m32 = np.uint32(0)
    for j in range(xr.shape[0]):
        a = abs(xr[j])
        a2 = a * a
        s2 += a2
        s3 += a2 * a
        s4 += a2 * a2
        m32 = max(m32, np.uint32(br[j] & mask))
    return np.float64(s2), np.float64(s3), np.float64(s4), m32


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _row_fast_s24(xr):
    """float32 (s2, s4) of a float32 row."""
    s2 = np.float32(0.0)
    s4 = np.float32(0.0)
    for j in range(xr.shape[0]):
        a = xr[j]
        a2 = a * a
        s2 += a2
        s4 += a2 * a2
    return np.float64(s2), np.float64(s4)


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _one_row_stats(xr, br, mask, infbits):
    """(rho4, rho3, peak, bad) of one row; zeros for a zero or bad row."""
    if infbits == np.uint32(0x7F800000):
        s2, s3, s4, m32 = _row_fast_sums(xr, br, mask)
        if m32 < infbits and _fast_ok(s2, s4):
            nrm = np.sqrt(s2)
            peak = np.float64(np.uint32(m32).view(np.float32))
            return s4 / (s2 * s2), s3 / (s2 * nrm), peak / nrm, False
    s2, s3, s4, m, bad = _row_sums(xr, br, mask, infbits)
    if bad or not s2 > 0.0:
        return 0.0, 0.0, 0.0, bad
    nrm = np.sqrt(s2)
    return s4 / (s2 * s2), s3 / (s2 * nrm), m / nrm, False


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _one_row_kappa(xr, br, mask, infbits, d_eff):
    """(kappa, bad) of one row; 0 for a zero or bad row."""
    if infbits == np.uint32(0x7F800000):
        s2, s4 = _row_fast_s24(xr)
        if _fast_ok(s2, s4):
            return d_eff * (s4 / (s2 * s2)), False
    s2, s4, bad = _row_s24(xr, br, mask, infbits)
    if bad or not s2 > 0.0:
        return 0.0, bad
    return d_eff * (s4 / (s2 * s2)), False


@njit(cache=True, fastmath=_FASTMATH)
def stats_rows(x, bits, mask, infbits, rho4, rho3, peak):
    """Moment statistics of every row, serially.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous float32 or float64
    bits : ndarray, shape (n, d)
        ``x`` viewed as uint32 (float32) or uint64 (float64).
    mask, infbits : unsigned scalar of the width of ``bits``
        All bits but the sign bit, and the bits of +inf.
    rho4, rho3, peak : ndarray, shape (n,), float64
        Outputs (0 for zero rows).

    Returns
    -------
    bool
        True when ``x`` holds a NaN or an infinity.
    """
    any_bad = False
    for i in range(x.shape[0]):
        rho4[i], rho3[i], peak[i], bad = _one_row_stats(x[i], bits[i], mask, infbits)
        any_bad |= bad
    return any_bad


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def stats_rows_parallel(x, bits, mask, infbits, rho4, rho3, peak, bad):
    """Parallel :func:`stats_rows`; ``bad`` has shape (n,) bool."""
    for i in prange(x.shape[0]):
        rho4[i], rho3[i], peak[i], bad[i] = _one_row_stats(x[i], bits[i], mask, infbits)


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _kappa_block(x, bits, mask, infbits, d_eff, out, i0, i1, interleave):
    """kappa of rows ``i0 .. i1 - 1``; True when one of them holds NaN/inf.

    With ``interleave``, float32 rows are summed four at a time in one loop:
    the per-row reductions then overlap, which pays when the batch is in
    cache and rows are short. Streaming from memory, one row at a time is
    faster (one sequential stream for the prefetcher). A row whose fast sums
    are out of range goes through :func:`_one_row_kappa`.
    """
    any_bad = False
    i = i0
    if interleave and infbits == np.uint32(0x7F800000):
        while i + 4 <= i1:
            x0 = x[i]
            x1 = x[i + 1]
            x2 = x[i + 2]
            x3 = x[i + 3]
            p2 = np.float32(0.0)
            p4 = np.float32(0.0)
            q2 = np.float32(0.0)
            q4 = np.float32(0.0)
            r2 = np.float32(0.0)
            r4 = np.float32(0.0)
            t2 = np.float32(0.0)
            t4 = np.float32(0.0)
            for j in range(x.shape[1]):
                a = x0[j] * x0[j]
                p2 += a
                p4 += a * a
                a = x1[j] * x1[j]
                q2 += a
                q4 += a * a
                a = x2[j] * x2[j]
                r2 += a
                r4 += a * a
                a = x3[j] * x3[j]
                t2 += a
                t4 += a * a
            for k, s2, s4 in ((0, p2, p4), (1, q2, q4), (2, r2, r4), (3, t2, t4)):
                s2d = np.float64(s2)
                s4d = np.float64(s4)
                if _fast_ok(s2d, s4d):
                    out[i + k] = d_eff * (s4d / (s2d * s2d))
                else:
                    out[i + k], bad = _one_row_kappa(
                        x[i + k], bits[i + k], mask, infbits, d_eff
                    )
                    any_bad |= bad
            i += 4
    while i < i1:
        out[i], bad = _one_row_kappa(x[i], bits[i], mask, infbits, d_eff)
        any_bad |= bad
        i += 1
    return any_bad


@njit(cache=True, fastmath=_FASTMATH)
def kappa_rows(x, bits, mask, infbits, d_eff, out, interleave):
    """``kappa = d_eff * rho4`` of every row, serially; True on NaN/inf."""
    return _kappa_block(x, bits, mask, infbits, d_eff, out, 0, x.shape[0], interleave)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def kappa_rows_parallel(x, bits, mask, infbits, d_eff, out, bad, interleave):
    """Parallel :func:`kappa_rows` over ``bad.shape[0]`` contiguous chunks.

    ``bad`` has shape (nchunks,) bool; chunk ``c`` sets ``bad[c]``.
    """
    n = x.shape[0]
    nch = bad.shape[0]
    for c in prange(nch):
        i0 = (c * n // nch) // 4 * 4
        i1 = n if c == nch - 1 else ((c + 1) * n // nch) // 4 * 4
        bad[c] = _kappa_block(x, bits, mask, infbits, d_eff, out, i0, i1, interleave)


def _bit_view(x: np.ndarray) -> tuple[np.ndarray, np.unsignedinteger, np.unsignedinteger]:
    """``x`` as unsigned integers, with the sign mask and the bits of +inf."""
    if x.dtype == np.float32:
        return x.view(np.uint32), np.uint32(0x7FFFFFFF), np.uint32(0x7F800000)
    return (
        x.view(np.uint64),
        np.uint64(0x7FFFFFFFFFFFFFFF),
        np.uint64(0x7FF0000000000000),
    )


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------


def _as_rows(x: Any, name: str) -> np.ndarray:
    """float32 and float64 stay as they are; other dtypes become float32."""
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return as_matrix(x, name, None, dtype=np.float64)
    return as_matrix(x, name, None)


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
    x = _as_rows(x, "x")
    n, d = x.shape
    d_eff = d if d_eff is None else int(d_eff)
    rho4 = np.empty(n)
    rho3 = np.empty(n)
    peak = np.empty(n)
    bits, mask, infbits = _bit_view(x)
    if n * d < _SERIAL_VALUES or get_num_threads() == 1:
        bad = stats_rows(x, bits, mask, infbits, rho4, rho3, peak)
    else:
        flags = np.zeros(n, dtype=np.bool_)
        stats_rows_parallel(x, bits, mask, infbits, rho4, rho3, peak, flags)
        bad = bool(flags.any())
    check_finite_flag(bool(bad), "x")
    return MomentStats(rho4=rho4, kappa=d_eff * rho4, rho3=rho3, peak=peak, d_eff=d_eff)


def kappa(x: np.ndarray, d_eff: int) -> np.ndarray:
    """``d_eff * rho4`` of every row: the statistic the round check uses.

    Parameters
    ----------
    x : ndarray, shape (n, d), C-contiguous float32 or float64
    d_eff : int

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, float64; 0 for zero rows.
    """
    n, d = x.shape
    out = np.empty(n)
    bits, mask, infbits = _bit_view(x)
    small = n * d < _SERIAL_VALUES
    if small or get_num_threads() == 1:
        bad = kappa_rows(x, bits, mask, infbits, float(d_eff), out, small)
    else:
        flags = np.zeros(min(n, 4 * get_num_threads()), dtype=np.bool_)
        kappa_rows_parallel(x, bits, mask, infbits, float(d_eff), out, flags, small)
        bad = bool(flags.any())
    check_finite_flag(bool(bad), "x")
    return out


def check_target(target: object) -> tuple[int, int]:
    """Return ``(fewest, most)`` rounds for ``target`` or raise ValueError."""
    if not isinstance(target, str) or target not in TARGET_ROUNDS:
        raise ValueError(f"target must be 'scalar' or 'vq'; got {target!r}")
    return TARGET_ROUNDS[target]


def check_threshold(threshold: object) -> float:
    """Return the threshold as a float (the default for None) or raise."""
    if threshold is None:
        return DEFAULT_THRESHOLD
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise TypeError(f"threshold must be a number >= 1 or None; got {threshold!r}")
    value = float(threshold)
    if not value >= 1.0 or not np.isfinite(value):
        raise ValueError(f"threshold must be a finite number >= 1; got {threshold!r}")
    return value


def rounds_per_vector(
    x: np.ndarray, layout: Any, signs: np.ndarray, target: str, threshold: float
) -> np.ndarray:
    """The check after each round, on rows already converted for the kernels.

    Parameters
    ----------
    x : ndarray, shape (n, d_in), C-contiguous float32
    layout : layout object
        Supplies ``d_out`` and ``forward``.
    signs : ndarray, shape (3, sign_length), float32
    target : {"scalar", "vq"}
    threshold : float

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, uint8.
    """
    lo, hi = TARGET_ROUNDS[target]
    limit = threshold * _TIE
    # Check c looks at the vector after c rounds: failing it adds one round
    # to the minimum. The check stops at the first pass or at the cap.
    fail = kappa(x, layout.d_out) > limit
    k = fail.astype(np.uint8)
    k += lo
    if hi - lo > 1 and fail.any():
        rows = np.flatnonzero(fail)
        cur = np.ascontiguousarray(x[rows])
        applied = 0
        while rows.size and lo + applied + 1 < hi:
            cur, bad = layout.forward(cur, signs, 1, first=applied)
            check_finite_flag(bad, "x")
            applied += 1
            fail = kappa(cur, layout.d_out) > limit
            rows = rows[fail]
            cur = np.ascontiguousarray(cur[fail])
            k[rows] += 1
    return k


def choose_rounds(
    x: Any,
    target: str = "scalar",
    threshold: float | None = None,
    rht: Any = None,
    seed: int = 12345,
    layout: str = "pad",
) -> np.ndarray:
    """Fewest randomized Hadamard rounds each vector needs.

    The rule checks after each round: look at the vector, and while it fails
    (``kappa = d_out * rho4 > threshold``; values within ``1e-6`` relative of
    the threshold, the accuracy of the float32 sums, pass) apply one more
    round and look again; stop at the first pass or at the cap.

    * ``target="scalar"`` (per-coordinate quantizers): 1 round when ``x``
      passes, else 2. The Kolmogorov distance of every coordinate after the
      last round is at most ``0.56 * sqrt(threshold / d_out)`` given that the
      input of that round passes.
    * ``target="vq"`` (block and vector codebooks, which also need
      coordinates nearly uncorrelated): 2 rounds when ``x`` passes, else 3.
      The pair correlation after two rounds has RMS at most
      ``sqrt(2 * threshold / d_out)`` given that their input passes; one
      round is never enough, since its pair dependence is set by the Walsh
      spectrum of ``x**2``, which no O(d) statistic sees.

    Because ``E[kappa(R x)] = 3 - 2 rho4(x) <= 3`` whatever ``x``, one
    extra round is all a failing vector needs, so the caps (2 and 3) are
    reached only by vectors that failed on input; with these caps the
    decision costs one O(d) pass over ``x`` and no round.

    Parameters
    ----------
    x : array_like, shape (n, d)
        Vectors; converted once to float32.
    target : {"scalar", "vq"}, default "scalar"
    threshold : float, optional
        Largest passing ``kappa``; default :data:`DEFAULT_THRESHOLD` = 8.
        Gaussian data has ``kappa`` about 3 (standard deviation about
        ``sqrt(96 / d)``), so 8 leaves it one round for ``d >= 32``, while
        one-hot, pair and sparse indicator vectors (``kappa = d / m`` for
        ``m`` nonzeros) fail as long as ``m < d / 8``.
    rht : RHT, optional
        Transform whose layout and signs are used (its ``d_in`` must be
        ``d``). Default: ``RHT(d, seed=seed, layout=layout)``.
    seed : int, default 12345
    layout : str, default "pad"

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, dtype uint8, values in ``[1, 2]`` for ``"scalar"``
        and ``[2, 3]`` for ``"vq"``.

    Examples
    --------
    >>> import numpy as np, rhtann
    >>> x = np.zeros((2, 256), dtype="float32"); x[0, 0] = 1.0
    >>> x[1] = np.random.default_rng(0).standard_normal(256)
    >>> rhtann.choose_rounds(x).tolist()
    [2, 1]
    """
    check_target(target)
    thr = check_threshold(threshold)
    if rht is None:
        from .transform import RHT

        x = as_matrix(x, "x", None)
        rht = RHT(x.shape[1], seed=seed, layout=layout)
    else:
        x = as_matrix(x, "x", rht.d_in)
    return rounds_per_vector(x, rht._layout, rht.signs, target, thr)


__all__ = [
    "DEFAULT_THRESHOLD",
    "MomentStats",
    "TARGET_ROUNDS",
    "choose_rounds",
    "kappa",
    "moment_stats",
]
