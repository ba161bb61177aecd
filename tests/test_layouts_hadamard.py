"""Tests of the Hadamard constructions behind the "keep" layout."""

from __future__ import annotations

import numpy as np
import pytest

from rhtann.layouts import hadamard as hd
from rhtann.layouts.keep import KeepLayout


def is_hadamard(h: np.ndarray) -> bool:
    """Entries +-1 and ``H H^T = n I`` (exact: float64 sums of +-1 stay integral)."""
    n = h.shape[0]
    if h.shape != (n, n) or not np.isin(h, (-1, 1)).all():
        return False
    g = h.astype(np.float64)
    return bool(np.array_equal(g @ g.T, n * np.eye(n)))


def test_prime_power_against_trial_division():
    for q in range(1, 400):
        got = hd.prime_power(q)
        divisors = [p for p in range(2, q + 1) if q % p == 0 and all(p % r for r in range(2, p))]
        if len(divisors) == 1:
            p = divisors[0]
            k = round(np.log(q) / np.log(p))
            assert got == (p, k) and p**k == q
        else:
            assert got is None, q


@pytest.mark.parametrize("q", [q for q in range(3, 260) if hd.prime_power(q) and q % 4 == 3])
def test_paley1_is_hadamard(q):
    h = hd.paley1(q)
    assert h.shape == (q + 1, q + 1) and is_hadamard(h)


@pytest.mark.parametrize("q", [q for q in range(5, 130) if hd.prime_power(q) and q % 4 == 1])
def test_paley2_is_hadamard(q):
    # includes the prime powers 9, 25, 49, 81, 121 built from GF(p^2), GF(p^4)
    h = hd.paley2(q)
    assert h.shape == (2 * q + 2, 2 * q + 2) and is_hadamard(h)


def test_paley_rejects_wrong_q():
    with pytest.raises(ValueError, match="q must be a prime power"):
        hd.paley1(13)  # 13 = 1 mod 4
    with pytest.raises(ValueError, match="q must be a prime power"):
        hd.paley2(15)  # not a prime power


def test_every_core_is_hadamard():
    cores = hd.core_orders()
    # the orders the bench dimensions need, among others
    assert {12, 20, 28, 100}.issubset(cores)
    for k in cores:
        assert is_hadamard(hd.core_matrix(k)), k


def test_sylvester():
    for m in range(6):
        assert is_hadamard(hd.sylvester(m))


# Every order a keep layout uses at d <= 2100 is a planned order; the plans
# below 600 are checked in full, and the larger ones the bench uses as well.
PLANNED = [n for n in range(1, 2101) if hd.hadamard_plan(n) is not None]


@pytest.mark.parametrize("n", [n for n in PLANNED if n <= 600] + [768, 784, 960, 1536, 2048])
def test_planned_order_is_hadamard(n):
    cores, m = hd.hadamard_plan(n)
    assert int(np.prod(cores, dtype=np.int64)) * m == n and m & (m - 1) == 0
    assert all(k <= hd.MAX_CORE for k in cores) and sum(cores) <= hd.MAX_DENSE
    assert is_hadamard(hd.hadamard(n))


def test_plans_of_the_common_embedding_sizes():
    assert hd.hadamard_plan(100) == ((100,), 1)
    assert hd.hadamard_plan(200) == ((100,), 2)
    assert hd.hadamard_plan(384) == ((12,), 32)
    assert hd.hadamard_plan(784) == ((28, 28), 1)
    assert hd.hadamard_plan(960)[1] == 4
    assert hd.hadamard_plan(1536) == ((12,), 128)
    for n in (50, 98, 300, 1000):  # not multiples of 4, or no construction built
        assert hd.hadamard_plan(n) is None
    with pytest.raises(ValueError, match="no Hadamard construction of order n=50"):
        hd.hadamard(50)


def test_no_plan_unless_multiple_of_four():
    for n in range(3, 2101):
        if n % 4:
            assert hd.hadamard_plan(n) is None, n


@pytest.mark.parametrize("n", [12, 100, 784, 960])
def test_kernel_applies_the_planned_matrix(n):
    # one round with all signs +1 is (1/sqrt(n)) H_n, with H_n from plan_matrix
    lay = KeepLayout(n)
    y, bad = lay.forward(np.eye(n), np.ones((3, lay.sign_length)), 1)
    assert not bad
    np.testing.assert_allclose(y.T * np.sqrt(n), hd.hadamard(n), atol=1e-10)
