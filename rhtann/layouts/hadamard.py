"""Hadamard matrices of orders that are not powers of two.

A Hadamard matrix of order ``n`` has entries +-1 and ``H H^T = n I``. This
module builds them from three pieces:

* Paley construction I: for a prime power ``q = 3 (mod 4)``, order ``q + 1``;
* Paley construction II: for a prime power ``q = 1 (mod 4)``, order
  ``2 (q + 1)``;
* Kronecker products, including with the Sylvester matrix ``H_{2^m}``.

Both Paley constructions use the quadratic character of the finite field
``GF(q)``, built here for prime powers by polynomial arithmetic modulo an
irreducible polynomial.

A *plan* for an order ``n`` is a list of *cores* (Paley orders, applied as
small dense products) and a power of two ``M`` (applied as a fast
Walsh-Hadamard transform), with ``n = prod(cores) * M``; the matrix is
``H_{K_1} (x) ... (x) H_{K_c} (x) H_M``. :func:`hadamard_plan` returns the
cheapest plan whose dense work stays small, or None.
"""

from __future__ import annotations

from functools import cache

import numpy as np

#: Largest core order built (a Paley matrix applied as a dense product).
MAX_CORE = 128
#: Largest total dense work per coordinate and round (sum of the core orders).
MAX_DENSE = 128


def _is_pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def prime_power(q: int) -> tuple[int, int] | None:
    """Return ``(p, k)`` with ``q = p**k`` and ``p`` prime, or None."""
    if q < 2:
        return None
    p = 2
    while p * p <= q:
        if q % p == 0:
            break
        p += 1
    else:
        return q, 1
    k = 0
    while q % p == 0:
        q //= p
        k += 1
    return (p, k) if q == 1 else None


def _poly_mul_table(p: int, k: int, f: tuple[int, ...]) -> np.ndarray:
    """Multiplication table of ``GF(p)[x] / f`` on the ``p**k`` residues.

    Elements are integers whose base-``p`` digits are the coefficients
    (least significant digit = constant term). ``f`` lists the ``k`` lower
    coefficients of the monic modulus.
    """
    q = p**k
    digits = np.array([[(e // p**i) % p for i in range(k)] for e in range(q)], dtype=np.int64)
    prod = np.zeros((q, q, 2 * k - 1), dtype=np.int64)
    for i in range(k):
        for j in range(k):
            prod[:, :, i + j] += digits[:, None, i] * digits[None, :, j]
    prod %= p
    # reduce x^t for t >= k using x^k = -(f_0 + f_1 x + ... + f_{k-1} x^{k-1})
    for t in range(2 * k - 2, k - 1, -1):
        c = prod[:, :, t].copy()
        prod[:, :, t] = 0
        for i in range(k):
            prod[:, :, t - k + i] -= c * f[i]
        prod %= p
    weights = p ** np.arange(k, dtype=np.int64)
    return (prod[:, :, :k] * weights).sum(axis=2)


@cache
def _field(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Subtraction table and quadratic character of ``GF(q)``.

    Returns
    -------
    sub : ndarray, shape (q, q), int64
        ``sub[a, b]`` is the element ``a - b``.
    chi : ndarray, shape (q,), int64
        Quadratic character: 0 at 0, +1 on nonzero squares, -1 elsewhere.
    """
    pk = prime_power(q)
    if pk is None:
        raise ValueError(f"q must be a prime power; got {q}")
    p, k = pk
    digits = np.array([[(e // p**i) % p for i in range(k)] for e in range(q)], dtype=np.int64)
    weights = p ** np.arange(k, dtype=np.int64)
    sub = (((digits[:, None, :] - digits[None, :, :]) % p) * weights).sum(axis=2)
    if k == 1:
        squares = (np.arange(q, dtype=np.int64) ** 2) % q
    else:
        # first monic f of degree k without zero divisors in GF(p)[x]/f
        for code in range(p**k):
            f = tuple((code // p**i) % p for i in range(k))
            if f[0] == 0:
                continue
            mul = _poly_mul_table(p, k, f)
            if not (mul[1:, 1:] == 0).any():
                break
        else:  # pragma: no cover - an irreducible polynomial always exists
            raise RuntimeError(f"no irreducible polynomial found for GF({q})")
        squares = np.diagonal(mul).copy()
    chi = -np.ones(q, dtype=np.int64)
    chi[squares] = 1
    chi[0] = 0
    return sub, chi


def _jacobsthal(q: int) -> np.ndarray:
    sub, chi = _field(q)
    return chi[sub]


def paley1(q: int) -> np.ndarray:
    """Paley construction I: Hadamard matrix of order ``q + 1``.

    Parameters
    ----------
    q : int
        Prime power with ``q % 4 == 3``.

    Returns
    -------
    ndarray, shape (q + 1, q + 1), int8
    """
    if prime_power(q) is None or q % 4 != 3:
        raise ValueError(f"q must be a prime power = 3 (mod 4); got {q}")
    n = q + 1
    s = np.zeros((n, n), dtype=np.int64)
    s[0, 1:] = 1
    s[1:, 0] = -1
    s[1:, 1:] = _jacobsthal(q)
    return (s + np.eye(n, dtype=np.int64)).astype(np.int8)


def paley2(q: int) -> np.ndarray:
    """Paley construction II: Hadamard matrix of order ``2 (q + 1)``.

    Parameters
    ----------
    q : int
        Prime power with ``q % 4 == 1``.

    Returns
    -------
    ndarray, shape (2 q + 2, 2 q + 2), int8
    """
    if prime_power(q) is None or q % 4 != 1:
        raise ValueError(f"q must be a prime power = 1 (mod 4); got {q}")
    n = q + 1
    c = np.zeros((n, n), dtype=np.int64)
    c[0, 1:] = 1
    c[1:, 0] = 1
    c[1:, 1:] = _jacobsthal(q)
    eye = np.eye(n, dtype=np.int64)
    h = np.block([[c + eye, c - eye], [c - eye, -c - eye]])
    return h.astype(np.int8)


def sylvester(m: int) -> np.ndarray:
    """Sylvester-Hadamard matrix of order ``2**m`` (natural order), int8."""
    h = np.ones((1, 1), dtype=np.int8)
    for _ in range(m):
        h = np.block([[h, h], [h, -h]])
    return h


@cache
def core_matrix(k: int) -> np.ndarray | None:
    """A Paley Hadamard matrix of order ``k``, or None if neither applies.

    Construction I is preferred when both apply. The result is read-only.
    """
    h = None
    if k >= 4 and k % 4 == 0:
        q = k - 1
        if prime_power(q) is not None and q % 4 == 3:
            h = paley1(q)
        elif prime_power(k // 2 - 1) is not None and (k // 2 - 1) % 4 == 1:
            h = paley2(k // 2 - 1)
    if h is not None:
        h.setflags(write=False)
    return h


def core_orders(limit: int = MAX_CORE) -> list[int]:
    """Orders ``<= limit`` built by a Paley construction that are not powers of two."""
    return [k for k in range(12, limit + 1, 4) if not _is_pow2(k) and core_matrix(k) is not None]


@cache
def _best_plan(n: int) -> tuple[int, tuple[int, ...]] | None:
    """Cheapest ``(cost, cores)`` with ``n = prod(cores) * 2^m``; cost = sum(cores) + m."""
    if _is_pow2(n):
        return n.bit_length() - 1, ()
    best = None
    for k in core_orders():
        if n % k:
            continue
        sub = _best_plan(n // k)
        if sub is None:
            continue
        cost, cores = sub[0] + k, tuple(sorted((k, *sub[1])))
        if best is None or cost < best[0]:
            best = (cost, cores)
    return best


def hadamard_plan(n: int) -> tuple[tuple[int, ...], int] | None:
    """Plan ``(cores, M)`` for a Hadamard matrix of order ``n``, or None.

    The matrix is ``H_{cores[0]} (x) ... (x) H_M`` with ``M`` a power of two.
    Among the factorizations into Paley cores (each at most :data:`MAX_CORE`)
    and a power of two, the one with the smallest ``sum(cores) + log2(M)`` is
    chosen; plans whose dense work ``sum(cores)`` exceeds :data:`MAX_DENSE`
    are rejected.
    """
    n = int(n)
    if n < 1:
        return None
    best = _best_plan(n)
    if best is None or sum(best[1]) > MAX_DENSE:
        return None
    cores = best[1]
    m = n // int(np.prod(cores, dtype=np.int64)) if cores else n
    return cores, m


def plan_matrix(cores: tuple[int, ...], m: int) -> np.ndarray:
    """Dense int8 matrix ``H_{cores[0]} (x) ... (x) H_m`` (``m`` a power of two)."""
    h = np.ones((1, 1), dtype=np.int64)
    for k in cores:
        h = np.kron(h, core_matrix(k).astype(np.int64))
    h = np.kron(h, sylvester(m.bit_length() - 1).astype(np.int64))
    return h.astype(np.int8)


def hadamard(n: int) -> np.ndarray:
    """Hadamard matrix of order ``n`` from :func:`hadamard_plan`.

    Raises
    ------
    ValueError
        If no plan exists for ``n``.
    """
    plan = hadamard_plan(n)
    if plan is None:
        raise ValueError(f"no Hadamard construction of order n={n} is available")
    return plan_matrix(*plan)


def largest_planned_order(d: int) -> int:
    """Largest ``h <= d`` with a Hadamard plan (a power of two always has one)."""
    for h in range(int(d), 0, -1):
        if hadamard_plan(h) is not None:
            return h
    raise ValueError(f"d must be >= 1; got {d}")
