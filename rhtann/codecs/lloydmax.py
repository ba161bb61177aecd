"""``TQ{b}``: per-vector scale plus Gaussian Lloyd-Max levels per coordinate.

After a random rotation every coordinate of a vector of norm ``r`` in
dimension ``d`` is close to ``N(0, r**2 / d)``. The codec divides each
vector by its norm, quantizes every coordinate to the nearest of the
``2**b`` Lloyd-Max levels of ``N(0, 1/d)`` (optionally scaled by a factor
learned by :meth:`TQ.train`), and stores one float per vector: the scale
``s`` that minimizes ``||y - s * u||`` for the chosen levels ``u`` (the
least-squares scale, ``s = <y, u> / ||u||**2``), or the norm itself.

Code layout
-----------
A code is ``ceil(d * b / 8)`` bytes of level indices followed by the scale
(4 bytes float32 or 2 bytes float16, little-endian). Indices are a
little-endian bit stream: coordinate ``j`` occupies bits
``[j*b, (j+1)*b)``. For ``b`` in 1, 2, 4 the stream is a sequence of
nibbles, nibble ``m`` holding coordinates ``m*g .. m*g + g - 1`` with
``g = 4 // b``; byte ``p`` holds nibbles ``2p`` (low) and ``2p + 1``
(high). The fast scanner of :mod:`rhtann.kernels.scan` reads that layout
with 16-entry lookup tables per nibble.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .._validation import as_matrix, check_int
from ..kernels import tables as _tables
from .base import Codec

#: Bit widths TQ accepts.
BITS = (1, 2, 3, 4, 8)


def lloyd_max_gaussian(bits: int, iters: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd-Max levels and thresholds of the standard normal distribution.

    Parameters
    ----------
    bits : int
        1 to 8: ``2**bits`` levels.
    iters : int
        Lloyd iterations (centroid and midpoint updates).

    Returns
    -------
    levels : ndarray of float64, shape (2**bits,)
        Increasing reconstruction levels, symmetric about 0.
    thresholds : ndarray of float64, shape (2**bits - 1,)
        Decision thresholds (midpoints between consecutive levels).
    """
    bits = check_int(bits, "bits", 1, 8)
    n = 1 << bits
    erf = np.vectorize(math.erf)
    # start from the quantiles of equal probability
    p = (np.arange(n) + 0.5) / n
    levels = np.array([_norm_ppf(v) for v in p])
    for _ in range(iters):
        t = 0.5 * (levels[1:] + levels[:-1])
        edges = np.concatenate(([-np.inf], t, [np.inf]))
        pdf = np.exp(-0.5 * edges**2) / math.sqrt(2 * math.pi)
        cdf = 0.5 * (1.0 + erf(edges / math.sqrt(2.0)))
        mass = np.diff(cdf)
        new = (pdf[:-1] - pdf[1:]) / np.maximum(mass, 1e-300)
        if np.max(np.abs(new - levels)) < 1e-13:
            levels = new
            break
        levels = new
    levels = 0.5 * (levels - levels[::-1])  # exact symmetry
    return levels, 0.5 * (levels[1:] + levels[:-1])


def _norm_ppf(p: float) -> float:
    """Inverse of the standard normal CDF by bisection (start values only)."""
    lo, hi = -12.0, 12.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def gaussian_mse(bits: int) -> float:
    """Mean squared error of the ``bits``-bit Lloyd-Max quantizer on ``N(0, 1)``."""
    levels, thr = lloyd_max_gaussian(bits)
    x = np.linspace(-10, 10, 400_001)
    w = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    q = levels[np.searchsorted(thr, x)]
    return float(np.sum(w * (x - q) ** 2) * (x[1] - x[0]))


_TOKEN = re.compile(r"^TQ(\d+)(?:r(\d+))?(h?)$")


def parse_token(token: str) -> dict | None:
    """Parse a ``TQ{b}[r{R}][h]`` spec token.

    ``r{R}``: one refinement bit on the first ``R`` coordinates; ``h``:
    float16 scale.

    Returns
    -------
    dict or None
        ``{"bits": b, "extra": R, "scale_dtype": "float32" | "float16"}``,
        or None when ``token`` is not a TQ token.

    Raises
    ------
    ValueError
        If the token is a TQ token with an unsupported bit width.
    """
    m = _TOKEN.match(token)
    if m is None:
        return None
    bits = int(m.group(1))
    if bits not in BITS:
        raise ValueError(f"TQ bit width must be one of {BITS}; got {bits} in token {token!r}")
    extra = int(m.group(2)) if m.group(2) else 0
    return {"bits": bits, "extra": extra, "scale_dtype": "float16" if m.group(3) else "float32"}


def refinement_levels(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Split of every ``bits``-bit Lloyd-Max cell of ``N(0, 1)`` into two.

    Returns
    -------
    levels : ndarray of float64, shape (2 ** (bits + 1),)
        ``levels[2c + e]``: reconstruction of cell ``c``'s lower (``e = 0``)
        or upper (``e = 1``) part, the conditional means of the two parts.
    splits : ndarray of float64, shape (2 ** bits,)
        Where cell ``c`` is split (a two-level Lloyd-Max quantizer of the
        normal distribution restricted to the cell).
    """
    _, thr = lloyd_max_gaussian(bits)
    edges = np.concatenate(([-np.inf], thr, [np.inf]))
    n = 1 << bits
    levels = np.zeros(2 * n)
    splits = np.zeros(n)

    def cmean(lo: float, hi: float) -> float:
        plo = math.exp(-0.5 * lo * lo) if math.isfinite(lo) else 0.0
        phi = math.exp(-0.5 * hi * hi) if math.isfinite(hi) else 0.0
        mass = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
        return (plo - phi) / math.sqrt(2 * math.pi) / max(mass, 1e-300)

    for c in range(n):
        lo, hi = edges[c], edges[c + 1]
        sp = cmean(lo, hi)
        for _ in range(200):
            a, b = cmean(lo, sp), cmean(sp, hi)
            sp = 0.5 * (a + b)
        splits[c] = sp
        levels[2 * c], levels[2 * c + 1] = cmean(lo, sp), cmean(sp, hi)
    return levels, splits


class TQ(Codec):
    """Norm plus Gaussian Lloyd-Max scalar codes (non-dithered TurboQuant).

    Parameters
    ----------
    d : int
        Dimension of the (rotated) vectors, >= 1.
    bits : int
        Bits per coordinate: 1, 2, 3, 4 or 8.
    seed : int
        Unused (the codec is deterministic); kept for the Codec interface.
    scale_dtype : {"float32", "float16"}
        How the per-vector scale is stored (4 or 2 bytes).
    scale : {"ls", "norm"}
        Stored scale: the least-squares fit of the vector to its levels, or
        its norm.

    Attributes
    ----------
    levels : ndarray of float32, shape (2**bits,)
        Reconstruction levels for unit vectors: the Lloyd-Max levels of
        ``N(0, 1)`` times ``gain / sqrt(d)``.
    thresholds : ndarray of float32, shape (2**bits - 1,)
    gain : float
        Scale factor of the levels (1 unless :meth:`train` calibrated it).
    code_size : int
        ``ceil(d * bits / 8)`` plus 4 (float32 scale) or 2 (float16).
    """

    def __init__(
        self,
        d: int,
        bits: int = 4,
        seed: int = 0,
        *,
        scale_dtype: str = "float32",
        scale: str = "ls",
        calibrate: bool = True,
        extra: int = 0,
    ) -> None:
        super().__init__(check_int(d, "d", 1), seed)
        if isinstance(bits, bool) or bits not in BITS:
            raise ValueError(f"bits must be one of {BITS}; got {bits!r}")
        if scale_dtype not in ("float32", "float16"):
            raise ValueError(f"scale_dtype must be 'float32' or 'float16'; got {scale_dtype!r}")
        if scale not in ("ls", "norm"):
            raise ValueError(f"scale must be 'ls' or 'norm'; got {scale!r}")
        self.bits = int(bits)
        self.extra = check_int(extra, "extra", 0, self.d)
        if self.extra and self.bits == 8:
            raise ValueError("extra refinement bits are not supported with bits=8")
        self.scale_dtype = scale_dtype
        self.scale_kind = scale
        self.calibrate = bool(calibrate)
        self.name = (
            f"TQ{self.bits}"
            + (f"r{self.extra}" if self.extra else "")
            + ("h" if scale_dtype == "float16" else "")
        )
        self.index_bytes = (self.d * self.bits + 7) // 8
        self.extra_bytes = (self.extra + 7) // 8
        self.scale_bytes = 4 if scale_dtype == "float32" else 2
        self.code_size = self.index_bytes + self.extra_bytes + self.scale_bytes
        self._std_levels, self._std_thr = lloyd_max_gaussian(self.bits)
        if self.bits < 8:
            self._std_ref, self._std_split = refinement_levels(self.bits)
        else:
            self._std_ref, self._std_split = np.zeros(2), np.zeros(1)
        self._set_gain(1.0)

    # -- levels -----------------------------------------------------------
    def _set_gain(self, gain: float) -> None:
        self.gain = float(gain)
        f = self.gain / math.sqrt(self.d)
        self.levels = (self._std_levels * f).astype(np.float32)
        self.thresholds = (self._std_thr * f).astype(np.float32)
        self.ref_levels = (self._std_ref * f).astype(np.float32)
        self.splits = (self._std_split * f).astype(np.float32)
        n = len(self.levels)
        base = np.repeat(self.levels[: len(self.ref_levels) // 2], 2) if n > 1 else self.levels
        #: ``ref_levels[2c + e] - levels[c]``: what a refinement bit adds.
        self.ref_delta = (self.ref_levels - base).astype(np.float32)

    def _reconstruct_unit(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Level indices, refinement bits and unit reconstruction of rows ``u``."""
        idx = np.searchsorted(self.thresholds, u).astype(np.uint8)
        q = self.levels[idx]
        R = self.extra
        if R:
            e = (u[:, :R] > self.splits[idx[:, :R]]).astype(np.uint8)
            q = q.copy()
            q[:, :R] = self.ref_levels[2 * idx[:, :R].astype(np.int64) + e]
        else:
            e = np.zeros((u.shape[0], 0), dtype=np.uint8)
        return idx, e, q

    @property
    def nibbles(self) -> int:
        """Number of 4-bit groups the fast scanner reads (0 when ``bits`` is 3 or 8)."""
        if self.bits not in (1, 2, 4):
            return 0
        return (self.d * self.bits + 3) // 4

    def train(self, y: np.ndarray) -> None:
        """Calibrate the level scale on a sample (when ``calibrate`` is set).

        The gain of the levels is chosen on a grid around 1 to minimize the
        squared error of the unit-normalized sample, the way a per-index
        calibration fits the quantizer to the rotated data's spread.

        Parameters
        ----------
        y : ndarray of float32, shape (n, d)
        """
        y = as_matrix(y, "y", self.d)
        if self.calibrate and y.shape[0] > 0:
            u = y[: min(len(y), 20000)].astype(np.float64)
            nrm = np.linalg.norm(u, axis=1, keepdims=True)
            u = u[nrm[:, 0] > 0] / nrm[nrm[:, 0] > 0]
            if len(u):
                best, best_err = 1.0, np.inf
                for g in np.linspace(0.70, 1.30, 61):
                    self._set_gain(g)
                    q = self._reconstruct_unit(u.astype(np.float32))[2].astype(np.float64)
                    s = np.sum(u * q, axis=1, keepdims=True) / np.maximum(
                        np.sum(q * q, axis=1, keepdims=True), 1e-30
                    )
                    err = float(np.mean(np.sum((u - s * q) ** 2, axis=1)))
                    if err < best_err:
                        best, best_err = float(g), err
                self._set_gain(best)
        self.is_trained = True

    # -- codes ------------------------------------------------------------
    def quantize(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Level indices, refinement bits and scales of rotated vectors.

        Returns
        -------
        idx : ndarray of uint8, shape (n, d)
        ref : ndarray of uint8, shape (n, extra), values 0 or 1
        scale : ndarray of float32, shape (n,)
        """
        y = as_matrix(y, "y", self.d)
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values; all entries must be finite")
        nrm = np.linalg.norm(y, axis=1)
        safe = np.where(nrm > 0, nrm, 1.0).astype(np.float32)
        u = y / safe[:, None]
        idx, e, q = self._reconstruct_unit(u)
        if self.scale_kind == "norm":
            s = nrm.astype(np.float32)
        else:
            qq = np.einsum("ij,ij->i", q, q)
            s = (np.einsum("ij,ij->i", y, q) / np.maximum(qq, 1e-30)).astype(np.float32)
        s[nrm == 0] = 0.0
        return idx, e, s

    def pack(self, idx: np.ndarray, ref: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Codes (n, code_size) from level indices (n, d), refinement bits (n, extra) and scales (n,)."""
        n = idx.shape[0]
        out = np.zeros((n, self.code_size), dtype=np.uint8)
        ib, eb = self.index_bytes, self.extra_bytes
        out[:, :ib] = _pack_bits(idx, self.bits, ib)
        if self.extra:
            out[:, ib : ib + eb] = _pack_bits(ref, 1, eb)
        sc = scale.astype("<f4" if self.scale_bytes == 4 else "<f2")
        out[:, ib + eb :] = sc.view(np.uint8).reshape(n, self.scale_bytes)
        return out

    def unpack(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Level indices (n, d), refinement bits (n, extra) (uint8) and scales (n,) float32."""
        codes = self._check_codes(codes)
        ib, eb = self.index_bytes, self.extra_bytes
        idx = _unpack_bits(codes[:, :ib], self.bits, self.d)
        ref = _unpack_bits(codes[:, ib : ib + eb], 1, self.extra)
        raw = np.ascontiguousarray(codes[:, ib + eb :])
        scale = raw.view("<f4" if self.scale_bytes == 4 else "<f2")[:, 0].astype(np.float32)
        return idx, ref, scale

    def encode(self, y: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """Encode rotated vectors: see :class:`rhtann.codecs.base.Codec`."""
        return self.pack(*self.quantize(y))

    def decode(self, codes: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """Reconstruct ``scale * levels[idx]``, float32 (n, d).

        The first ``extra`` coordinates use the refined levels ``ref_levels[2 idx + bit]``.
        """
        idx, ref, s = self.unpack(codes)
        q = self.levels[idx]
        if self.extra:
            q[:, : self.extra] = self.ref_levels[2 * idx[:, : self.extra].astype(np.int64) + ref]
        return (q * s[:, None]).astype(np.float32)

    def _check_codes(self, codes: np.ndarray) -> np.ndarray:
        if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8 or codes.ndim != 2:
            raise ValueError(
                f"codes must be a uint8 array of shape (n, {self.code_size}); got "
                f"{type(codes).__name__} {getattr(codes, 'dtype', '')} {getattr(codes, 'shape', '')}"
            )
        if codes.shape[1] != self.code_size:
            raise ValueError(f"codes must have {self.code_size} columns; got shape {codes.shape}")
        return np.ascontiguousarray(codes)

    # -- search -------------------------------------------------------------
    def nibble_luts(self, q: np.ndarray) -> np.ndarray:
        """Float lookup tables of the fast scanner, float32 (m, nibbles, 16).

        ``lut[i, m, v]`` is the inner product of query ``i`` with the unit
        levels that nibble value ``v`` encodes at nibble ``m``, so that
        ``<q_i, decode(code)> = scale * sum_m lut[i, m, nibble_m(code)]``.
        """
        if self.nibbles == 0:
            raise ValueError(f"{self.name} has no nibble layout (bits must be 1, 2 or 4)")
        q = as_matrix(q, "q", self.d)
        lut = np.empty((q.shape[0], self.nibbles, 16), dtype=np.float32)
        _tables.nibble_tables(q, self.levels, self.bits, lut)
        return lut

    def scan(self, state: np.ndarray, codes: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """Inner products ``(m, n)`` of prepared queries with the codes (float LUTs)."""
        q = as_matrix(state, "state", self.d)
        idx, ref, s = self.unpack(codes)
        if self.nibbles and not self.extra:
            lut = self.nibble_luts(q)
            nib = _unpack_bits(codes[:, : self.index_bytes], 4, self.nibbles)
            m = np.arange(self.nibbles)
            return (lut[:, m[None, :], nib].sum(axis=2) * s[None, :]).astype(np.float32)
        return (q @ self.decode(codes).T).astype(np.float32)

    # -- state for files ----------------------------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {
            "name": self.name,
            "d": self.d,
            "seed": self.seed,
            "bits": self.bits,
            "scale_dtype": self.scale_dtype,
            "scale": self.scale_kind,
            "calibrate": self.calibrate,
            "gain": self.gain,
            "extra": self.extra,
        }
        return meta, {}

    @classmethod
    def from_state(cls, meta: dict) -> "TQ":
        obj = cls(
            int(meta["d"]),
            int(meta["bits"]),
            int(meta["seed"]),
            scale_dtype=str(meta["scale_dtype"]),
            scale=str(meta["scale"]),
            calibrate=bool(meta["calibrate"]),
            extra=int(meta.get("extra", 0)),
        )
        obj.set_state(meta, {})
        return obj

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        gain = float(meta["gain"])
        if not (math.isfinite(gain) and gain > 0):
            raise ValueError(f"gain must be a positive finite float; got {gain!r}")
        self._set_gain(gain)
        self.is_trained = True

    def __repr__(self) -> str:
        return (
            f"TQ(d={self.d}, bits={self.bits}, extra={self.extra}, "
            f"scale_dtype={self.scale_dtype!r}, gain={self.gain:.4g})"
        )


def _pack_bits(idx: np.ndarray, bits: int, nbytes: int) -> np.ndarray:
    """Little-endian bit stream of ``bits``-bit values, (n, nbytes) uint8."""
    n, d = idx.shape
    if bits == 8:
        return idx.astype(np.uint8)
    bitsarr = np.unpackbits(idx.astype(np.uint8)[:, :, None], axis=2, bitorder="little")[:, :, :bits]
    flat = bitsarr.reshape(n, d * bits)
    pad = nbytes * 8 - d * bits
    if pad:
        flat = np.concatenate([flat, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    return np.packbits(flat, axis=1, bitorder="little")


def _unpack_bits(packed: np.ndarray, bits: int, d: int) -> np.ndarray:
    """Inverse of :func:`_pack_bits`: (n, d) uint8 values."""
    n = packed.shape[0]
    if bits == 8:
        return np.ascontiguousarray(packed[:, :d])
    if d == 0:
        return np.zeros((n, 0), dtype=np.uint8)
    flat = np.unpackbits(np.ascontiguousarray(packed), axis=1, bitorder="little")[:, : d * bits]
    b = flat.reshape(n, d, bits)
    w = (1 << np.arange(bits)).astype(np.uint8)
    return (b * w).sum(axis=2).astype(np.uint8)
