"""Seeded synthetic vectors, including the worst cases of the randomized Hadamard transform.

Every generator takes ``(n, d, seed)`` and returns a C-contiguous float32
array of shape ``(n, d)``; the same arguments give the same array.

The sparse worst cases (one-hot, indicator of the first ``m`` coordinates,
the pair ``(e0 + e1) / sqrt(2)``) carry an independent random sign on every
nonzero entry of every row by default. A sign flip of an input coordinate is
absorbed by the first round's random signs, so the flips change neither the
moment statistics nor the worst-case behaviour of the rounds; they only make
the rows of one batch behave like independent draws of the first round's
signs, so that a single transform applied to ``n`` rows samples the error
distribution ``n`` times. Pass ``random_signs=False`` for identical rows.
"""

from __future__ import annotations

import numpy as np

from ._core import as_matrix, check_int


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(check_int(seed, "seed", 0))


def _check(n: int, d: int) -> tuple[int, int]:
    return check_int(n, "n", 0), check_int(d, "d", 1)


def _signed(x: np.ndarray, rng: np.random.Generator, random_signs: bool) -> np.ndarray:
    if random_signs:
        x *= np.where(rng.random(x.shape) < 0.5, np.float32(-1.0), np.float32(1.0))
    return np.ascontiguousarray(x, dtype=np.float32)


def gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    """I.i.d. N(0, 1) entries: ``kappa`` about 3, already Gaussian-looking.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, float32.
    """
    n, d = _check(n, d)
    return _rng(seed).standard_normal((n, d), dtype=np.float32)


def lognormal(n: int, d: int, seed: int = 0, sigma: float = 1.0) -> np.ndarray:
    """I.i.d. LogNormal(0, sigma) entries (non-negative, heavy-tailed).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, float32.
    """
    n, d = _check(n, d)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma!r}")
    return _rng(seed).lognormal(0.0, sigma, (n, d)).astype(np.float32)


def one_hot(n: int, d: int, seed: int = 0, random_signs: bool = True) -> np.ndarray:
    """Rows ``+-e_j`` with a uniformly random position ``j`` per row.

    One round maps a one-hot vector to a flat one (``kappa = d``).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, float32.
    """
    n, d = _check(n, d)
    rng = _rng(seed)
    x = np.zeros((n, d), dtype=np.float32)
    x[np.arange(n), rng.integers(0, d, n)] = 1.0
    return _signed(x, rng, random_signs)


def indicator(n: int, d: int, m: int, seed: int = 0, random_signs: bool = True) -> np.ndarray:
    """Rows ``+-1[0:m] / sqrt(m)``: the first ``m`` coordinates, equal magnitude.

    Aligned with the Hadamard structure: after one round the output holds
    only ``m`` distinct magnitudes. ``m = 4`` is the worst case of one round
    followed by 1-bit sign quantization (vNMSE 1.5 instead of 0.571).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, float32, ``kappa = d / m``.
    """
    n, d = _check(n, d)
    m = check_int(m, "m", 1, d)
    rng = _rng(seed)
    x = np.zeros((n, d), dtype=np.float32)
    x[:, :m] = np.float32(1.0 / np.sqrt(m))
    return _signed(x, rng, random_signs)


def pair(n: int, d: int, seed: int = 0, random_signs: bool = True) -> np.ndarray:
    """Rows ``(+-e0 +- e1) / sqrt(2)``: the counter-example for two rounds and blocks.

    After two rounds the first two output coordinates have equal magnitude
    whatever the signs, so a 2-D codebook sees all the mass on diagonals.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, float32; ``d >= 2``.
    """
    n, d = _check(n, d)
    if d < 2:
        raise ValueError(f"d must be >= 2 for pair vectors; got {d}")
    return indicator(n, d, 2, seed, random_signs)


def bag_of_words(
    n: int, d: int, seed: int = 0, mean_words: float = 20.0, zipf_exponent: float = 1.1
) -> np.ndarray:
    """Sparse binary bag-of-words-like rows.

    Each row draws ``1 + Poisson(mean_words - 1)`` word occurrences from a
    Zipf law over the ``d`` vocabulary entries (probability proportional to
    ``1 / (rank + 1) ** zipf_exponent``, ranks shuffled once per seed) and
    sets the entries of the distinct words to 1. Rows are non-negative with
    a few to a few tens of nonzeros, so ``kappa = d / nnz`` is large.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, float32, entries in {0, 1}; no row is zero.
    """
    n, d = _check(n, d)
    if not mean_words >= 1:
        raise ValueError(f"mean_words must be >= 1; got {mean_words!r}")
    rng = _rng(seed)
    p = 1.0 / np.arange(1, d + 1) ** float(zipf_exponent)
    p = p[rng.permutation(d)]
    cdf = np.cumsum(p / p.sum())
    counts = 1 + rng.poisson(mean_words - 1.0, n)
    words = np.minimum(np.searchsorted(cdf, rng.random(int(counts.sum())), side="right"), d - 1)
    rows = np.repeat(np.arange(n), counts)
    x = np.zeros((n, d), dtype=np.float32)
    x[rows, words] = 1.0
    return x


def mix_rows(base: object, other: object, fraction: float, seed: int = 0) -> np.ndarray:
    """Replace a random ``fraction`` of the rows of ``base`` by rows of ``other``.

    Each inserted row is rescaled to the norm of the row it replaces, so the
    mixture keeps ``base``'s norms and differs only in shape (for example a
    real dataset with some sparse or one-hot vectors).

    Parameters
    ----------
    base : array_like, shape (n, d)
        Real vectors.
    other : array_like, shape (n_other, d)
        Vectors drawn from (cycled if fewer than needed).
    fraction : float
        In ``[0, 1]``.
    seed : int, default 0

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, float32; a new array.
    """
    base = as_matrix(base, "base", None)
    other = as_matrix(other, "other", base.shape[1])
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction!r}")
    if other.shape[0] == 0 and fraction > 0:
        raise ValueError("other must have at least one row when fraction > 0")
    rng = _rng(seed)
    n = base.shape[0]
    k = int(round(fraction * n))
    out = base.copy()
    rows = rng.choice(n, size=k, replace=False)
    src = other[np.arange(k) % max(other.shape[0], 1)].astype(np.float64)
    src_norm = np.linalg.norm(src, axis=1)
    dst_norm = np.linalg.norm(base[rows].astype(np.float64), axis=1)
    scale = np.divide(dst_norm, src_norm, out=np.zeros_like(src_norm), where=src_norm > 0)
    out[rows] = (src * scale[:, None]).astype(np.float32)
    return out


def worst_case_suite(d: int, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Named datasets on which the number of rounds matters, plus references.

    Parameters
    ----------
    d : int
        Dimension, >= 16.
    n : int
        Rows per dataset.
    seed : int, default 0

    Returns
    -------
    dict of str to ndarray
        Each value has shape ``(n, d)``, float32. Keys: ``"one_hot"``,
        ``"indicator_4"`` (worst case of one round with sign quantization),
        ``"indicator_16"``, ``"pair"`` (worst case of two rounds for block
        codebooks), ``"bag_of_words"``, ``"lognormal"`` and ``"gaussian"``
        (a reference where one round is exactly as good as a uniform random
        rotation, averaged over the data).
    """
    d = check_int(d, "d", 16)
    n = check_int(n, "n", 1)
    seeds = np.random.SeedSequence(check_int(seed, "seed", 0)).generate_state(8)
    s = [int(v) for v in seeds]
    return {
        "one_hot": one_hot(n, d, s[0]),
        "indicator_4": indicator(n, d, 4, s[1]),
        "indicator_16": indicator(n, d, 16, s[2]),
        "pair": pair(n, d, s[3]),
        "bag_of_words": bag_of_words(n, d, s[4]),
        "lognormal": lognormal(n, d, s[5]),
        "gaussian": gaussian(n, d, s[6]),
    }


__all__ = [
    "bag_of_words",
    "gaussian",
    "indicator",
    "lognormal",
    "mix_rows",
    "one_hot",
    "pair",
    "worst_case_suite",
]
