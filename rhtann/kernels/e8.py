"""Kernels of the E8-lattice codecs (E8Q).

The E8 lattice is ``D8 U (D8 + 1/2)``, where ``D8`` holds the integer vectors
with an even coordinate sum. Its closest-point map is Conway and Sloane's:
round to ``D8`` (round every coordinate; if the sum is odd, round the
coordinate with the largest rounding error the other way), do the same for
the coset ``D8 + 1/2``, keep the closer of the two.

Two codebooks per 8-dimensional block are built on it:

* **E8P (16 bits per block).** The points ``+-p + t*1`` with ``t = +-1/4``,
  ``p`` one of 256 fixed "magnitude patterns" (vectors with entries in
  ``{1/2, 3/2, 5/2, ...}``, the 256 of smallest norm) and any sign pattern
  for which ``sum(sign * p)`` is even, i.e. ``sign * p`` lies in the
  half-integer coset of ``D8`` inside E8 (128 sign patterns per ``p``). That is ``2 * 256 * 128 = 2**16``
  points, all inside a ball. The search is exact: for each shift and pattern
  the best signs are those of the input, flipped on the cheapest coordinate
  when the parity is wrong.
* **Voronoi codes E8 / mE8 (8 log2(m) bits per block).** The ``m**8`` lattice
  points in ``m V + a`` (``V`` the Voronoi cell of E8 around 0, ``a`` a small
  fixed offset that breaks ties), indexed by their coordinates in a lattice
  basis modulo ``m``. A point whose nearest lattice point falls outside the
  region (overload) is coded by the best in-region point among the nearest
  lattice points of shrunken copies of it.

Every function takes preallocated outputs and work arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Lattice basis of E8 (rows), determinant 1: 2e1, e_{i+1} - e_i, (1/2) * ones.
E8_BASIS = np.zeros((8, 8), dtype=np.float64)
E8_BASIS[0, 0] = 2.0
for _i in range(1, 7):
    E8_BASIS[_i, _i - 1] = -1.0
    E8_BASIS[_i, _i] = 1.0
E8_BASIS[7, :] = 0.5
E8_BASIS_INV = np.linalg.inv(E8_BASIS)
#: Tie-breaking offset of the Voronoi region.
VORONOI_OFFSET = np.array([1.3, 2.9, 4.1, 5.9, 7.1, 8.3, 9.7, 11.3], dtype=np.float64) * 1e-4
#: Shrink factors tried, in order, for an overloaded block (the last, 0, always succeeds).
OVERLOAD_SHRINK = np.concatenate([np.arange(0.97, 0.0, -0.03), [0.0]]).astype(np.float64)


def e8p_patterns() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 256 magnitude patterns of E8P, their squared norms and parities.

    Returns
    -------
    patterns : ndarray of float64, shape (256, 8)
        Entries in ``{1/2, 3/2, 5/2, 7/2}``; sorted by squared norm, ties
        in lexicographic order of the entry indices.
    norms2 : ndarray of float64, shape (256,)
    parity : ndarray of int64, shape (256,)
        ``sum(2 * p) mod 4`` (0 or 2): with ``q`` negative signs, the signed
        pattern lies in E8 iff ``parity + 2 q`` is a multiple of 4.
    """
    idx = np.array(np.meshgrid(*([np.arange(4)] * 8), indexing="ij")).reshape(8, -1).T
    vals = idx.astype(np.float64) + 0.5
    n2 = (vals**2).sum(1)
    order = np.lexsort((np.arange(len(vals)), n2))[:256]
    pats = np.ascontiguousarray(vals[order])
    par = (np.rint(2 * pats).astype(np.int64).sum(1)) % 4
    return pats, np.ascontiguousarray(n2[order]), par


@njit(cache=True, inline="always")
def _d8_into(x: np.ndarray, xo: int, off: float, dst: np.ndarray, do: int) -> float:
    """Closest point of ``D8 + off*1`` to ``x[xo:xo+8]`` into ``dst[do:do+8]``; the squared distance."""
    total = 0
    worst = -1.0
    wi = 0
    for i in range(8):
        v = x[xo + i] - off
        f = math.floor(v + 0.5)
        dst[do + i] = f
        total += int(f)
        e = abs(v - f)
        if e > worst:
            worst = e
            wi = i
    if total % 2 != 0:
        v = x[xo + wi] - off
        if v - dst[do + wi] >= 0.0:
            dst[do + wi] += 1.0
        else:
            dst[do + wi] -= 1.0
    dist = 0.0
    for i in range(8):
        dst[do + i] += off
        e = x[xo + i] - dst[do + i]
        dist += e * e
    return dist


@njit(cache=True, inline="always")
def e8_closest_into(x: np.ndarray, xo: int, dst: np.ndarray, do: int, tmp: np.ndarray) -> float:
    """Closest E8 point to ``x[xo:xo+8]`` into ``dst[do:do+8]`` (``tmp``: float64, >= 8); squared distance."""
    da = _d8_into(x, xo, 0.0, dst, do)
    db = _d8_into(x, xo, 0.5, tmp, 0)
    if db < da:
        for i in range(8):
            dst[do + i] = tmp[i]
        return db
    return da


@njit(cache=True, parallel=True)
def e8_closest(x: np.ndarray, out: np.ndarray, work: np.ndarray) -> None:
    """Closest E8 point to every row of ``x`` (float64, (n, 8)) into ``out`` (float64, (n, 8)).

    ``work``: float64, (n, 8).
    """
    for r in prange(x.shape[0]):
        e8_closest_into(x[r], 0, out[r], 0, work[r])


# ---------------------------------------------------------------------------
# E8P, 16 bits per block
# ---------------------------------------------------------------------------


@njit(cache=True)
def _e8p_block(x: np.ndarray, xo: int, pats: np.ndarray, n2: np.ndarray, par: np.ndarray,
               cw: np.ndarray, co: int) -> np.int64:
    """Nearest E8P codeword to ``x[xo:xo+8]``: written to ``cw[co:co+8]``, its 16-bit index returned."""
    best = np.inf
    bshift = 0
    bp = 0
    bflip = -1
    bneg = 0
    for si in range(2):
        t = 0.25 if si == 0 else -0.25
        base = 0.0
        nneg = 0
        negmask = 0
        for i in range(8):
            z = x[xo + i] - t
            base += z * z
            if z < 0.0:
                nneg += 1
                negmask |= 1 << i
        for p in range(256):
            sc = 0.0
            mn = np.inf
            mi = 0
            for i in range(8):
                a = abs(x[xo + i] - t) * pats[p, i]
                sc += a
                if a < mn:
                    mn = a
                    mi = i
            dist = base + n2[p] - 2.0 * sc
            odd = (par[p] + 2 * nneg) % 4 != 0
            if odd:
                dist += 4.0 * mn
            if dist < best:
                best = dist
                bshift = si
                bp = p
                bflip = mi if odd else -1
                bneg = negmask
    if bflip >= 0:
        bneg ^= 1 << bflip
    t = 0.25 if bshift == 0 else -0.25
    for i in range(8):
        v = pats[bp, i]
        cw[co + i] = (-v if (bneg >> i) & 1 else v) + t
    return np.int64(bp) | (np.int64(bneg & 0x7F) << 8) | (np.int64(bshift) << 15)


@njit(cache=True)
def _e8p_word(index: np.int64, pats: np.ndarray, par: np.ndarray, cw: np.ndarray, co: int) -> None:
    """Codeword of a 16-bit E8P index into ``cw[co:co+8]``."""
    p = index & 0xFF
    neg = (index >> 8) & 0x7F
    t = 0.25 if ((index >> 15) & 1) == 0 else -0.25
    q = 0
    for i in range(7):
        q += (neg >> i) & 1
    # the last sign makes (parity + 2 * negatives) a multiple of 4
    neg7 = ((par[p] // 2) + q) % 2
    for i in range(8):
        v = pats[p, i]
        ng = ((neg >> i) & 1) if i < 7 else neg7
        cw[co + i] = (-v if ng else v) + t


# ---------------------------------------------------------------------------
# Voronoi codes E8 / mE8
# ---------------------------------------------------------------------------


@njit(cache=True)
def _in_region(lam: np.ndarray, lo: int, m: int, off: np.ndarray, tmp: np.ndarray) -> bool:
    """Whether the E8 point ``lam[lo:lo+8]`` lies in ``m V + off``."""
    for i in range(8):
        tmp[8 + i] = (lam[lo + i] - off[i]) / m
    e8_closest_into(tmp, 8, tmp, 16, tmp)
    for i in range(8):
        if tmp[16 + i] != 0.0:
            return False
    return True


@njit(cache=True)
def _voronoi_block(x: np.ndarray, xo: int, m: int, off: np.ndarray, shrink: np.ndarray,
                   cw: np.ndarray, co: int, tmp: np.ndarray) -> None:
    """Nearest in-region E8 point to ``x[xo:xo+8]`` (with the overload rule) into ``cw[co:co+8]``.

    ``tmp`` needs 40 float64 entries.
    """
    e8_closest_into(x, xo, cw, co, tmp)
    if _in_region(cw, co, m, off, tmp):
        return
    best = np.inf
    for s in range(shrink.shape[0]):
        a = shrink[s]
        for i in range(8):
            tmp[24 + i] = a * x[xo + i]
        e8_closest_into(tmp, 24, tmp, 32, tmp)
        # tmp[32:40] holds the candidate; e8_closest_into used tmp[0:8] as scratch
        if _in_region(tmp, 32, m, off, tmp):
            dist = 0.0
            for i in range(8):
                e = tmp[32 + i] - x[xo + i]
                dist += e * e
            if dist < best:
                best = dist
                for i in range(8):
                    cw[co + i] = tmp[32 + i]


@njit(cache=True, inline="always")
def _voronoi_index(cw: np.ndarray, co: int, m: int, binv: np.ndarray, j: int) -> np.int64:
    """Coordinate ``j`` of the E8 point ``cw[co:co+8]`` in the basis, modulo ``m``."""
    acc = 0.0
    for i in range(8):
        acc += cw[co + i] * binv[i, j]
    k = np.int64(math.floor(acc + 0.5)) % m
    return k


@njit(cache=True)
def _voronoi_word(k: np.ndarray, ko: int, m: int, basis: np.ndarray, off: np.ndarray,
                  cw: np.ndarray, co: int, tmp: np.ndarray) -> None:
    """Codeword of the indices ``k[ko:ko+8]`` (in ``[0, m)``) into ``cw[co:co+8]``."""
    for i in range(8):
        acc = 0.0
        for j in range(8):
            acc += k[ko + j] * basis[j, i]
        tmp[24 + i] = acc
    for i in range(8):
        tmp[8 + i] = (tmp[24 + i] - off[i]) / m
    e8_closest_into(tmp, 8, tmp, 16, tmp)
    for i in range(8):
        cw[co + i] = tmp[24 + i] - m * tmp[16 + i]


# ---------------------------------------------------------------------------
# whole-vector encoders and decoders
# ---------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def e8q_encode(y: np.ndarray, bits: int, gain: float, pats: np.ndarray, n2: np.ndarray,
               par: np.ndarray, basis_inv: np.ndarray, off: np.ndarray, shrink: np.ndarray,
               dp: int, head: np.ndarray, codes: np.ndarray, work: np.ndarray) -> None:
    """Encode rows of ``y`` (float32, (n, d), d <= dp, dp a multiple of 8).

    Each row is scaled to ``gain * sqrt(dp) / ||y||``, zero-padded to ``dp``
    and coded block by block (E8P at ``bits == 2``, the Voronoi code modulo
    ``2**bits * E8`` otherwise). ``head[r, 0]`` receives the least-squares
    scale ``<y, c> / ||c||^2`` of the chosen lattice points ``c``, so that
    the reconstruction is ``head[r, 0] * c``. The payload (``bits`` bytes
    per block) is written from byte 4 of each row of ``codes``.
    ``work``: float64, (n, dp + 48).
    """
    n, d = y.shape
    nb = dp // 8
    m = 1 << bits
    for r in prange(n):
        w = work[r]
        acc = 0.0
        for j in range(d):
            acc += float(y[r, j]) * float(y[r, j])
        nrm = math.sqrt(acc)
        f = gain * math.sqrt(dp) / nrm if nrm > 0.0 else 0.0
        x = w[dp:]  # 8 + 32 scratch entries: the block input, then kernel scratch
        tmp = w[dp + 8:]
        for b in range(nb):
            for i in range(8):
                j = b * 8 + i
                x[i] = float(y[r, j]) * f if j < d else 0.0
            if bits == 2:
                idx = _e8p_block(x, 0, pats, n2, par, w, b * 8)
                codes[r, 4 + 2 * b] = np.uint8(idx & 0xFF)
                codes[r, 5 + 2 * b] = np.uint8((idx >> 8) & 0xFF)
            else:
                _voronoi_block(x, 0, m, off, shrink, w, b * 8, tmp)
        if bits != 2:
            nbytes = nb * bits
            for t in range(nbytes):
                codes[r, 4 + t] = 0
            for b in range(nb):
                for j in range(8):
                    k = _voronoi_index(w, b * 8, m, basis_inv, j)
                    pos = (b * 8 + j) * bits
                    byte = 4 + (pos >> 3)
                    sh = pos & 7
                    v = k << sh
                    codes[r, byte] |= np.uint8(v & 0xFF)
                    if sh + bits > 8:
                        codes[r, byte + 1] |= np.uint8((v >> 8) & 0xFF)
        num = 0.0
        den = 0.0
        for j in range(dp):
            c = w[j]
            den += c * c
            if j < d:
                num += c * float(y[r, j])
        head[r, 0] = np.float32(num / den) if den > 0.0 else np.float32(0.0)


@njit(cache=True, parallel=True)
def e8q_decode(head: np.ndarray, codes: np.ndarray, bits: int, pats: np.ndarray, par: np.ndarray,
               basis: np.ndarray, off: np.ndarray, d: int, dp: int, out: np.ndarray,
               work: np.ndarray) -> None:
    """Decode into ``out`` (float32, (n, d)); ``work``: float64, (n, dp + 48)."""
    nb = dp // 8
    m = 1 << bits
    mask = m - 1
    for r in prange(codes.shape[0]):
        w = work[r]
        tmp = w[dp + 8:]
        kk = w[dp:dp + 8]
        for b in range(nb):
            if bits == 2:
                idx = np.int64(codes[r, 4 + 2 * b]) | (np.int64(codes[r, 5 + 2 * b]) << 8)
                _e8p_word(idx, pats, par, w, b * 8)
            else:
                for j in range(8):
                    pos = (b * 8 + j) * bits
                    byte = 4 + (pos >> 3)
                    sh = pos & 7
                    v = np.int64(codes[r, byte])
                    if sh + bits > 8:
                        v |= np.int64(codes[r, byte + 1]) << 8
                    kk[j] = float((v >> sh) & mask)
                _voronoi_word(kk, 0, m, basis, off, w, b * 8, tmp)
        s = float(head[r, 0])
        for j in range(d):
            out[r, j] = s * w[j]


# ---------------------------------------------------------------------------
# single-block codebooks, batched (tests and studies)
# ---------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def e8p_encode_blocks(x: np.ndarray, pats: np.ndarray, n2: np.ndarray, par: np.ndarray,
                      index: np.ndarray, cw: np.ndarray) -> None:
    """Nearest E8P codeword of every row of ``x`` (float64, (n, 8)).

    Writes ``index`` (int64, (n,)) and ``cw`` (float64, (n, 8)).
    """
    for r in prange(x.shape[0]):
        index[r] = _e8p_block(x[r], 0, pats, n2, par, cw[r], 0)


@njit(cache=True, parallel=True)
def e8p_decode_blocks(index: np.ndarray, pats: np.ndarray, par: np.ndarray, cw: np.ndarray) -> None:
    """Codewords (float64, (n, 8)) of 16-bit E8P indices (int64, (n,))."""
    for r in prange(index.shape[0]):
        _e8p_word(index[r], pats, par, cw[r], 0)


@njit(cache=True, parallel=True)
def voronoi_encode_blocks(x: np.ndarray, m: int, off: np.ndarray, shrink: np.ndarray,
                          basis_inv: np.ndarray, k: np.ndarray, cw: np.ndarray, work: np.ndarray) -> None:
    """Voronoi-code E8 / mE8 codewords and indices of the rows of ``x`` (float64, (n, 8)).

    Writes ``cw`` (float64, (n, 8)) and ``k`` (int64, (n, 8)).

    ``work``: float64, (n, 40).
    """
    for r in prange(x.shape[0]):
        _voronoi_block(x[r], 0, m, off, shrink, cw[r], 0, work[r])
        for j in range(8):
            k[r, j] = _voronoi_index(cw[r], 0, m, basis_inv, j)


@njit(cache=True, parallel=True)
def voronoi_decode_blocks(k: np.ndarray, m: int, basis: np.ndarray, off: np.ndarray,
                          cw: np.ndarray, work: np.ndarray) -> None:
    """Codewords (float64, (n, 8)) of Voronoi indices ``k`` (float64, (n, 8), values in [0, m)).

    ``work``: float64, (n, 40).
    """
    for r in prange(k.shape[0]):
        _voronoi_word(k[r], 0, m, basis, off, cw[r], 0, work[r])
