"""Kernels of the dithered scalar codecs (DSQ, DTQ) and of 1-bit sign coding.

Dithers are never stored: the dither of coordinate ``j`` of the vector stored
under id ``i`` is a counter-based hash of ``(seed, i, j)`` (SplitMix64's
finalizer applied to a key derived from ``seed`` and ``i``, then to that key
plus the coordinate counter). Different ids give unrelated streams, and a
vector decodes identically every time it is decoded under the same id.

Each codec's code is a per-vector float32 header (passed to the kernels as
its own ``head`` array of shape (n, h); the caller stores its bytes first in
the code) followed by the payload: the ``bits``-bit indices of the
coordinates packed little-endian, coordinate ``j`` at bit offset
``j * bits``. The kernels write and read the payload at byte offset
``start`` of each row of ``codes`` (uint8, (n, code_size)).

All functions take preallocated outputs and allocate nothing per row.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO53_INV = 1.0 / 9007199254740992.0
_SQRT3 = math.sqrt(3.0)
_SQRT2 = math.sqrt(2.0)


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finalizer: a bijective 64-bit mixing function."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def stream_key(seed: np.uint64, vid: np.int64) -> np.uint64:
    """Key of the dither stream of one vector id (ids are hashed as uint64 bit patterns)."""
    k = mix64(seed + _GOLDEN)
    return mix64(k ^ (np.uint64(vid) * _GOLDEN + _M2))


@njit(cache=True, inline="always")
def uniform01(key: np.uint64, j: np.int64) -> float:
    """Dither of coordinate ``j`` in the open interval (0, 1), 53-bit resolution."""
    h = mix64(key + (np.uint64(j) + np.uint64(1)) * _GOLDEN)
    return (float(h >> np.uint64(11)) + 0.5) * _TWO53_INV


@njit(cache=True)
def dither_values(seed: np.uint64, ids: np.ndarray, d: int, out: np.ndarray) -> None:
    """Write the dithers of ``ids`` (int64, (n,)) into ``out`` (float64, (n, d))."""
    for r in range(ids.shape[0]):
        key = stream_key(seed, ids[r])
        for j in range(d):
            out[r, j] = uniform01(key, j)


# ---------------------------------------------------------------------------
# bit packing
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _put_bits(codes: np.ndarray, r: int, start: int, j: int, bits: int, k: np.int64) -> None:
    pos = j * bits
    byte = start + (pos >> 3)
    off = pos & 7
    v = np.int64(k) << off
    codes[r, byte] |= np.uint8(v & 0xFF)
    if off + bits > 8:
        codes[r, byte + 1] |= np.uint8((v >> 8) & 0xFF)


@njit(cache=True, inline="always")
def _get_bits(codes: np.ndarray, r: int, start: int, j: int, bits: int) -> np.int64:
    pos = j * bits
    byte = start + (pos >> 3)
    off = pos & 7
    v = np.int64(codes[r, byte])
    if off + bits > 8:
        v |= np.int64(codes[r, byte + 1]) << 8
    return (v >> off) & ((np.int64(1) << bits) - 1)


@njit(cache=True, parallel=True)
def pack_indices(k: np.ndarray, bits: int, start: int, codes: np.ndarray) -> None:
    """Pack integer indices ``k`` ((n, d), values < 2**bits) into ``codes[:, start:]``."""
    n, d = k.shape
    for r in prange(n):
        nbytes = (d * bits + 7) // 8
        for t in range(nbytes):
            codes[r, start + t] = 0
        for j in range(d):
            _put_bits(codes, r, start, j, bits, np.int64(k[r, j]))


@njit(cache=True, parallel=True)
def unpack_indices(codes: np.ndarray, bits: int, start: int, d: int, out: np.ndarray) -> None:
    """Inverse of :func:`pack_indices` (``out``: int64, (n, d))."""
    for r in prange(codes.shape[0]):
        for j in range(d):
            out[r, j] = _get_bits(codes, r, start, j, bits)


# ---------------------------------------------------------------------------
# normal distribution helpers
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def norm_cdf(t: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-t / _SQRT2)


@njit(cache=True)
def norm_ppf(p: float) -> float:
    """Standard normal quantile for p in (0, 1): Acklam's rational start plus two Newton steps."""
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e00) * q
               - 2.549732539343734e00) * q + 4.374664141464968e00) * q + 2.938163982698783e00) / (
            (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e00) * q
             + 3.754408661907416e00) * q + 1.0)
    elif p > 1.0 - plow:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e00) * q
                - 2.549732539343734e00) * q + 4.374664141464968e00) * q + 2.938163982698783e00) / (
            (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e00) * q
             + 3.754408661907416e00) * q + 1.0)
    else:
        q = p - 0.5
        t = q * q
        x = (((((-3.969683028665376e01 * t + 2.209460984245205e02) * t - 2.759285104469687e02) * t
               + 1.383577518672690e02) * t - 3.066479806614716e01) * t + 2.506628277459239e00) * q / (
            ((((-5.447609879822406e01 * t + 1.615858368580409e02) * t - 1.556989798598866e02) * t
              + 6.680131188771972e01) * t - 1.328068155288572e01) * t + 1.0)
    for _ in range(2):
        if p < 0.5:
            e = 0.5 * math.erfc(-x / _SQRT2) - p
        else:
            e = (1.0 - p) - 0.5 * math.erfc(x / _SQRT2)
        dens = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        if dens > 0.0:
            x = x - e / dens
    return x


# ---------------------------------------------------------------------------
# DSQ: uniform subtractive dither over the vector's own range
# ---------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def dsq_encode(
    y: np.ndarray, ids: np.ndarray, seed: np.uint64, bits: int, head: np.ndarray, codes: np.ndarray
) -> None:
    """Encode rows of ``y`` (float32, (n, d)); header = (low, step) as float32.

    ``step = (max - min) / (2**bits - 1)`` (rounded up in float32 so that the
    grid covers the row), ``s_j = (y_j - low) / step`` lies in
    ``[0, 2**bits - 1]``, and the index is ``floor(s_j + u_j)`` with the
    dither ``u_j`` in (0, 1): it never needs clipping.
    """
    n, d = y.shape
    levels = (1 << bits) - 1
    nbytes = (d * bits + 7) // 8
    for r in prange(n):
        lo = np.float32(y[r, 0])
        hi = np.float32(y[r, 0])
        for j in range(d):
            v = y[r, j]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        step = np.float32((float(hi) - float(lo)) / levels)
        while float(lo) + float(step) * levels < float(hi):
            # at least one float32 ulp up, subnormal steps included
            step = np.float32(float(step) * (1.0 + 2.0**-22) + 1.401298464324817e-45)
        head[r, 0] = lo
        head[r, 1] = step
        for t in range(nbytes):
            codes[r, 8 + t] = 0
        key = stream_key(seed, ids[r])
        fstep = float(step)
        for j in range(d):
            if fstep > 0.0:
                s = (float(y[r, j]) - float(lo)) / fstep
            else:
                s = 0.0
            k = np.int64(math.floor(s + uniform01(key, j)))
            if k < 0:
                k = 0
            elif k > levels:
                k = levels
            _put_bits(codes, r, 8, j, bits, k)


@njit(cache=True, parallel=True)
def dsq_decode(
    head: np.ndarray, codes: np.ndarray, ids: np.ndarray, seed: np.uint64, bits: int, d: int, out: np.ndarray
) -> None:
    """Decode: ``y_j = low + (k_j + 1/2 - u_j) * step`` (``out``: float32, (n, d))."""
    for r in prange(codes.shape[0]):
        lo = float(head[r, 0])
        step = float(head[r, 1])
        key = stream_key(seed, ids[r])
        for j in range(d):
            k = _get_bits(codes, r, 8, j, bits)
            out[r, j] = lo + (float(k) + 0.5 - uniform01(key, j)) * step


# ---------------------------------------------------------------------------
# DTQ: Gaussian compander + subtractive dither, per-vector norm
# ---------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def dtq_encode(
    y: np.ndarray, ids: np.ndarray, seed: np.uint64, bits: int, head: np.ndarray, codes: np.ndarray
) -> None:
    """Encode rows of ``y`` (float32, (n, d)); header = ||y|| as float32.

    ``u_j = sqrt(d) y_j / ||y||``, ``s_j = N * Phi(u_j / sqrt(3))`` with
    ``N = 2**bits`` cells, index ``k_j = clip(floor(s_j - 1/2 + v_j), 0, N-1)``
    with the dither ``v_j`` in (0, 1).
    """
    n, d = y.shape
    cells = 1 << bits
    nbytes = (d * bits + 7) // 8
    sqd = math.sqrt(d)
    for r in prange(n):
        acc = 0.0
        for j in range(d):
            acc += float(y[r, j]) * float(y[r, j])
        nrm = math.sqrt(acc)
        head[r, 0] = np.float32(nrm)
        for t in range(nbytes):
            codes[r, 4 + t] = 0
        key = stream_key(seed, ids[r])
        inv = sqd / nrm if nrm > 0.0 else 0.0
        for j in range(d):
            u = float(y[r, j]) * inv
            s = cells * norm_cdf(u / _SQRT3)
            k = np.int64(math.floor(s - 0.5 + uniform01(key, j)))
            if k < 0:
                k = 0
            elif k >= cells:
                k = cells - 1
            _put_bits(codes, r, 4, j, bits, k)


@njit(cache=True, parallel=True)
def dtq_companded(y: np.ndarray, bits: int, out: np.ndarray) -> None:
    """The companded values ``N Phi(u_j / sqrt(3))`` that :func:`dtq_encode` quantizes (float64 ``out``)."""
    n, d = y.shape
    cells = 1 << bits
    sqd = math.sqrt(d)
    for r in prange(n):
        acc = 0.0
        for j in range(d):
            acc += float(y[r, j]) * float(y[r, j])
        nrm = math.sqrt(acc)
        inv = sqd / nrm if nrm > 0.0 else 0.0
        for j in range(d):
            out[r, j] = cells * norm_cdf(float(y[r, j]) * inv / _SQRT3)


@njit(cache=True, parallel=True)
def dtq_decode(
    head: np.ndarray, codes: np.ndarray, ids: np.ndarray, seed: np.uint64, bits: int, d: int, out: np.ndarray
) -> None:
    """Decode: ``s_hat = k + 1 - v`` (in (0, N)), ``u_hat = sqrt(3) Phi^-1(s_hat / N)``,
    ``y_hat = ||y|| u_hat / sqrt(d)`` (``out``: float32, (n, d))."""
    cells = 1 << bits
    sqd = math.sqrt(d)
    for r in prange(codes.shape[0]):
        nrm = float(head[r, 0])
        key = stream_key(seed, ids[r])
        f = nrm / sqd
        for j in range(d):
            k = _get_bits(codes, r, 4, j, bits)
            sh = (float(k) + 1.0 - uniform01(key, j)) / cells
            out[r, j] = f * _SQRT3 * norm_ppf(sh)


# ---------------------------------------------------------------------------
# DRIVE, 1 bit: signs plus the unbiased scale ||y||^2 / ||y||_1
# ---------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def drive_encode(y: np.ndarray, head: np.ndarray, codes: np.ndarray) -> None:
    """Header = ``||y||_2^2 / ||y||_1`` (float32); bit j set when ``y_j < 0``."""
    n, d = y.shape
    nbytes = (d + 7) // 8
    for r in prange(n):
        s2 = 0.0
        s1 = 0.0
        for j in range(d):
            v = float(y[r, j])
            s2 += v * v
            s1 += abs(v)
        head[r, 0] = np.float32(s2 / s1 if s1 > 0.0 else 0.0)
        for t in range(nbytes):
            codes[r, 4 + t] = 0
        for j in range(d):
            if y[r, j] < 0:
                _put_bits(codes, r, 4, j, 1, np.int64(1))


@njit(cache=True, parallel=True)
def drive_decode(head: np.ndarray, codes: np.ndarray, d: int, out: np.ndarray) -> None:
    """Decode ``y_hat_j = +-scale`` (``out``: float32, (n, d))."""
    for r in prange(codes.shape[0]):
        s = float(head[r, 0])
        for j in range(d):
            out[r, j] = -s if _get_bits(codes, r, 4, j, 1) else s
