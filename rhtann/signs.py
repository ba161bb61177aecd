"""Sign vectors for the randomized Hadamard rounds.

The signs are drawn from the SplitMix64 stream that ``faiss.HadamardRotation``
uses, so that a three-round padded transform reproduces faiss exactly. Round
``r`` uses entries ``[r * p, (r + 1) * p)`` of one stream, which makes the sign
vectors of a ``k``-round transform a prefix of those of a ``k + 1``-round one.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed: int, count: int) -> np.ndarray:
    """Return the first ``count`` outputs of SplitMix64 seeded with ``seed``.

    Parameters
    ----------
    seed : int
        Generator state, taken modulo 2**64.
    count : int
        Number of 64-bit outputs.

    Returns
    -------
    numpy.ndarray
        Shape ``(count,)``, dtype uint64.
    """
    state0 = np.uint64(int(seed) % (1 << 64))
    steps = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = state0 + steps * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    return z


def sign_vectors(seed: int, rounds: int, length: int) -> np.ndarray:
    """Return ``rounds`` independent +-1 vectors of ``length`` entries.

    An output ``z`` of the stream gives ``-1`` when ``z % 2 == 0`` and ``+1``
    otherwise, as in faiss's ``SplitMix64RandomGenerator::rand_int(2)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(rounds, length)``, dtype float32, entries in {-1, +1}.
    """
    z = splitmix64(seed, rounds * length)
    signs = np.where((z & np.uint64(1)) == 0, np.float32(-1.0), np.float32(1.0))
    return signs.astype(np.float32).reshape(rounds, length)
