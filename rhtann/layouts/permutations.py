"""The fixed inter-round permutations of the keep layout (:mod:`rhtann.layouts.keep`).

Both depend on ``d`` only, never on the seed, and are built from SplitMix64
streams, so they are the same on every machine and numpy version:

* :func:`fixed_permutation`, a uniform shuffle of the ``d`` coordinates;
* :func:`block_permutation`, which moves 8-coordinate blocks, shuffles the
  lanes inside each block and transposes ``8 x 8`` sub-blocks, for the ``d``
  where the per-row span kernels apply it with vector loads and register
  shuffles (:func:`rhtann.layouts.keep.block_permuted`).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..kernels import simd as _simd
from ..kernels.simd_keep import LANES
from ..signs import splitmix64

#: Seed offset of the fixed inter-round permutation (mixed with ``d``).
PERM_SEED = 0x6B656570  # "keep"
#: Seed offset of the lane permutations of :func:`block_permutation` (mixed with ``d``).
LANE_SEED = 0x6C616E65  # "lane"
#: The inter-round permutations: a uniform shuffle, or blocks and lanes (:func:`block_permutation`).
PERM_KINDS = ("shuffle", "blocks")


def _shuffle(n: int, z: np.ndarray) -> np.ndarray:
    """``arange(n)`` shuffled by Fisher-Yates, step ``i`` swapping with ``z[i] % (i + 1)``, int64."""
    perm = np.arange(n, dtype=np.int64)
    for i in range(n - 1, 0, -1):
        j = int(z[i] % np.uint64(i + 1))
        perm[i], perm[j] = perm[j], perm[i]
    return perm


@cache
def fixed_permutation(d: int) -> np.ndarray:
    """The inter-round permutation of the keep layout, shape (d,), int64.

    A Fisher-Yates shuffle driven by SplitMix64 seeded with
    ``PERM_SEED + d``; it depends on ``d`` only and is stable across numpy
    versions. The result is read-only.
    """
    perm = _shuffle(int(d), splitmix64(PERM_SEED + int(d), max(int(d), 1)))
    perm.setflags(write=False)
    return perm


@cache
def block_permutation(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block-and-lane inter-round permutation for ``d`` a multiple of ``SPAN``.

    With ``B = d / 8`` blocks of 8 coordinates, a shuffle ``pi`` of the
    blocks (Fisher-Yates driven by SplitMix64 seeded with ``PERM_SEED + d``)
    and one shuffle ``sigma_j`` of the 8 lanes per block (seeded with
    ``LANE_SEED + d``), the permuted vector is ``v'[i] = v[perm[i]]`` with

    ``perm[64 g + 8 a + b] = 8 pi(j) + sigma_j(a)``, ``j = 8 g + b``,

    for ``g < d / 64`` and ``a, b < 8``: block ``j`` of ``v`` after its lane
    shuffle is column ``b`` of the ``8 x 8`` matrix that span ``g`` of
    ``v'`` holds row by row. A kernel therefore builds each span of ``SPAN``
    outputs from 8 block loads, 8 in-register lane permutes and an ``8 x 8``
    transpose instead of 64 gathered values. The lane shuffles differ from
    block to block (one shared set would keep a lane pattern that the next
    Sylvester round lines up again), and the transpose mixes lanes across
    blocks; ``bench/studies/layout_quality.py`` measures the result.

    Returns
    -------
    perm : ndarray, shape (d,), int64
        The permutation (read-only).
    bsrc : ndarray, shape (d // 8,), int32
        ``8 pi(j)``: where block ``j``'s source starts (read-only).
    lperm : ndarray, shape (d // 8, 8), int32
        ``sigma_j(a)`` at ``[j, a]`` (read-only).
    """
    d = int(d)
    if d < _simd.SPAN or d % _simd.SPAN:
        raise ValueError(f"d must be a positive multiple of {_simd.SPAN}; got {d}")
    nb = d // LANES
    pi = _shuffle(nb, splitmix64(PERM_SEED + d, nb))
    zl = splitmix64(LANE_SEED + d, d).reshape(nb, LANES)
    lperm = np.stack([_shuffle(LANES, zl[blk]) for blk in range(nb)])
    pre = (LANES * pi)[:, None] + lperm  # pre[j, a]: source of lane a of block j
    perm = pre.reshape(d // _simd.SPAN, LANES, LANES).transpose(0, 2, 1).reshape(d)
    perm = np.ascontiguousarray(perm)
    bsrc = (LANES * pi).astype(np.int32)
    lperm = lperm.astype(np.int32)
    for a in (perm, bsrc, lperm):
        a.setflags(write=False)
    return perm, bsrc, lperm


def keep_permutation(d: int, kind: str) -> np.ndarray:
    """The inter-round permutation of kind ``kind`` (one of :data:`PERM_KINDS`), shape (d,), int64."""
    if kind == "blocks":
        return block_permutation(d)[0]
    if kind == "shuffle":
        return fixed_permutation(d)
    raise ValueError(f"perm must be one of {PERM_KINDS}; got {kind!r}")
