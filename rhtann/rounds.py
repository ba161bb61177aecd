"""The round policy: how many randomized Hadamard rounds a vector or a dataset gets.

Everything that decides a round count lives here: the targets and their
bounds, the threshold and its tie rule, the per-vector check, the fused check
that decides while the first rounds run, and the dataset-level choice of
``rounds="auto"``. The statistics come from :mod:`rhtann.moments`; the rounds
are applied through the :class:`rhtann.layouts.base.Layout` interface, so the
policy works the same for every layout.

The check after each round looks at the vector and, while it fails
(``kappa = d_out * rho4 > threshold``), applies one more round and looks
again, stopping at the first pass or at the target's cap. Because
``E[kappa(R x)] = 3 - 2 rho4(x) <= 3`` whatever ``x``, one extra round is all
a failing vector needs, which is why each target's range spans one round.

All functions take trusted rows: C-contiguous float32 (or float64 for
statistics), already validated by the public caller, whose argument ``name``
they use in their errors.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_finite_flag
from .layouts import safe
from .layouts.base import Layout
from .moments import FAST_HIGH, FAST_LOW, kappa, stats_of
from .progress import Stopwatch

#: Default threshold on ``kappa = d_eff * rho4``.
DEFAULT_THRESHOLD = 8.0

#: Fewest and most rounds per target.
TARGET_ROUNDS = {"scalar": (1, 2), "vq": (2, 3)}

#: Largest number of rounds; sign vectors are always drawn for all of them so
#: that the signs of a k-round transform are a prefix of any longer one's.
MAX_ROUNDS = 3

#: Ties: kappa within float32 rounding (1e-6 relative) of the threshold passes.
TIE = 1.0 + 1e-6

#: ``rounds="auto"`` picks the fewest rounds that at least this fraction of
#: the training sample needs (see :func:`dataset_rounds`).
AUTO_PASS_FRACTION = 0.99

#: Largest number of training vectors ``rounds="auto"`` examines.
AUTO_SAMPLE = 16384

#: Quantile levels of the statistics in the ``rounds="auto"`` report.
REPORT_QUANTILES = (0.5, 0.9, 0.99, 1.0)

#: Relative distance to the threshold under which the fused float32 check
#: re-checks a row with the exact statistic.
_FUSED_MARGIN = 1e-3


def check_target(target: object) -> tuple[int, int]:
    """Return ``(fewest, most)`` rounds for ``target`` or raise ValueError."""
    if not isinstance(target, str) or target not in TARGET_ROUNDS:
        raise ValueError(f"target must be 'scalar' or 'vq'; got {target!r}")
    return TARGET_ROUNDS[target]


def check_threshold(threshold: object) -> float:
    """Return the threshold as a float (:data:`DEFAULT_THRESHOLD` for None) or raise."""
    if threshold is None:
        return DEFAULT_THRESHOLD
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise TypeError(f"threshold must be a number >= 1 or None; got {threshold!r}")
    value = float(threshold)
    if not value >= 1.0 or not np.isfinite(value):
        raise ValueError(f"threshold must be a finite number >= 1; got {threshold!r}")
    return value


def fails(kap: np.ndarray, threshold: float) -> np.ndarray:
    """Which rows fail the check: ``kappa > threshold`` beyond the tie margin."""
    return kap > threshold * TIE


def rounds_per_vector(
    x: np.ndarray, layout: Layout, signs: np.ndarray, target: str, threshold: float, name: str = "x"
) -> np.ndarray:
    """The check after each round.

    Parameters
    ----------
    x : ndarray, shape (n, d_in), C-contiguous float32
    layout : Layout
    signs : ndarray, shape (3, sign_length), float32
    target : {"scalar", "vq"}
    threshold : float
    name : str, default "x"
        Argument named by errors.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, uint8, values in the target's range.
    """
    lo, hi = TARGET_ROUNDS[target]
    # Check c looks at the vector after c rounds: failing it adds one round
    # to the minimum. The check stops at the first pass or at the cap.
    fail = fails(kappa(x, layout.d_out, name), threshold)
    counts = fail.astype(np.uint8)
    counts += lo
    if hi - lo > 1 and fail.any():
        rows = np.flatnonzero(fail)
        cur = np.ascontiguousarray(x[rows])
        applied = 0
        while rows.size and lo + applied + 1 < hi:
            cur, bad = safe.forward(layout, cur, signs, 1, name, first=applied)
            check_finite_flag(bad, name)
            applied += 1
            fail = fails(kappa(cur, layout.d_out, name), threshold)
            rows = rows[fail]
            cur = np.ascontiguousarray(cur[fail])
            counts[rows] += 1
    return counts


def first_rounds_with_check(
    x: np.ndarray, layout: Layout, signs: np.ndarray, lo: int, threshold: float, name: str = "x"
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``lo`` rounds and decide each row's count (``lo`` or ``lo + 1``) in the same pass.

    The layout accumulates ``sum x^2`` and ``sum x^4`` of every input row
    while it applies the rounds (fused into the first load for the padded
    layout). When a target's range spans one round, the decision needs only
    the input's ``kappa``. Rows whose float32 sums are outside the range in
    which they are trusted, overflow, hold NaN or infinity, or land within
    ``0.1 %`` of the threshold are re-checked with the exact statistic
    (:func:`rhtann.moments.kappa`), so the counts equal those of
    :func:`rounds_per_vector`.

    Parameters
    ----------
    x : ndarray, shape (n, d_in), C-contiguous float32
    layout, signs, threshold, name
        As in :func:`rounds_per_vector`.
    lo : int
        Rounds every row gets.

    Returns
    -------
    y : ndarray, shape (n, d_out), float32
        Every row after ``lo`` rounds.
    counts : ndarray, shape (n,), uint8
        ``lo`` or ``lo + 1`` per row.
    """
    n = x.shape[0]
    sums = np.zeros((2, n), dtype=x.dtype)
    y, bad = safe.forward(layout, x, signs, lo, name, moments=sums)
    check_finite_flag(bad, name)
    s2 = sums[0].astype(np.float64)
    s4 = sums[1].astype(np.float64)
    limit = threshold * TIE
    with np.errstate(all="ignore"):
        kap = np.where(s2 > 0, layout.d_out * s4 / (s2 * s2), 0.0)
        trusted = (s2 >= FAST_LOW) & (s2 <= FAST_HIGH) & (s4 <= FAST_HIGH)
    unsure = ~trusted | (np.abs(kap - limit) <= _FUSED_MARGIN * limit)
    if unsure.any():
        rows = np.flatnonzero(unsure)
        sub = np.ascontiguousarray(x[rows])
        check_finite_flag(not bool(np.isfinite(sub).all()), name)
        kap[rows] = kappa(sub, layout.d_out, name)
    counts = fails(kap, threshold).astype(np.uint8)
    counts += lo
    return y, counts


def adaptive_forward(
    x: np.ndarray, layout: Layout, signs: np.ndarray, target: str, threshold: float, name: str = "x"
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate each row with the rounds its own check asks for.

    Every row gets the target's minimum number of rounds in one batch (with
    the check fused in when the range spans one round), then the rows that
    need more continue from there with the next rounds of the same signs.

    Returns
    -------
    y : ndarray, shape (n, d_out), float32
    counts : ndarray, shape (n,), uint8
        Equal to :func:`rounds_per_vector`.
    """
    lo, hi = TARGET_ROUNDS[target]
    if hi - lo == 1:
        y, counts = first_rounds_with_check(x, layout, signs, lo, threshold, name)
    else:
        counts = rounds_per_vector(x, layout, signs, target, threshold, name)
        y, bad = safe.forward(layout, x, signs, lo, name)
        check_finite_flag(bad, name)
    for r in range(lo, hi):
        rows = np.flatnonzero(counts > r)
        if rows.size == 0:
            break
        more, _ = safe.forward(layout, np.ascontiguousarray(y[rows]), signs, 1, name, first=r)
        y[rows] = more
    return y, counts


def auto_sample_rows(n: int, seed: int) -> np.ndarray | None:
    """Sorted rows of the sample :func:`dataset_rounds` examines out of ``n``; None when it takes all.

    Callers holding a large source (memmap, HDF5) read only these rows and
    pass them with ``n_total=n``: the choice is the same.
    """
    if n <= AUTO_SAMPLE:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, AUTO_SAMPLE, replace=False))


def dataset_rounds(
    x: np.ndarray,
    layout: Layout,
    signs: np.ndarray,
    target: str,
    threshold: float,
    seed: int,
    n_total: int | None = None,
) -> tuple[int, dict]:
    """The round count of ``rounds="auto"``: one count for a whole training set.

    Up to :data:`AUTO_SAMPLE` rows of ``x`` (a uniform sample seeded with
    ``seed``) go through :func:`rounds_per_vector`; the count is the fewest
    rounds that at least :data:`AUTO_PASS_FRACTION` of the sample needs. The
    rows left with a round fewer than their own check asks for are at most
    ``1 - AUTO_PASS_FRACTION`` of the data.

    Parameters
    ----------
    x : ndarray, shape (n, d_in), C-contiguous float32, n >= 1
    layout, signs, target, threshold
        As in :func:`rounds_per_vector`.
    seed : int
        Seed of the sample.
    n_total : int, optional
        Rows of the whole training set when ``x`` is already the sample
        :func:`auto_sample_rows` picks (reported as ``n_total``).

    Returns
    -------
    n_rounds : int
    report : dict
        JSON-compatible: ``n_rounds``; ``target``; ``threshold``;
        ``pass_fraction``; ``n_sample`` and ``n_total`` (rows examined and
        given); ``fraction_needing`` (``{"1": f1, "2": f2, ...}``, the share of
        sampled vectors whose check asks for each count); ``quantiles``
        (:data:`REPORT_QUANTILES`); ``kappa``, ``rho3`` and ``peak`` (the
        statistics' quantiles on the input) and ``kappa_after_1_round`` (on
        the input after one round, which the identity
        ``E[kappa] = 3 - 2 rho4`` keeps near 3); and ``seconds`` (time taken
        by the whole choice).
    """
    clock = Stopwatch()
    n = x.shape[0]
    rows = auto_sample_rows(n, seed)
    if rows is not None:
        x = np.ascontiguousarray(x[rows])
    if n_total is not None:
        n = n_total
    counts = rounds_per_vector(x, layout, signs, target, threshold)
    lo, hi = TARGET_ROUNDS[target]
    need = {str(r): float(np.mean(counts == r)) for r in range(lo, hi + 1)}
    chosen = hi
    for r in range(lo, hi + 1):
        if np.mean(counts <= r) >= AUTO_PASS_FRACTION:
            chosen = r
            break
    stats = stats_of(x, layout.d_out, "x")
    y1, bad = safe.forward(layout, x, signs, 1, "x")
    check_finite_flag(bad, "x")
    after = stats_of(y1, layout.d_out, "x").kappa

    def quant(v: np.ndarray) -> list[float]:
        return [float(q) for q in np.quantile(v, REPORT_QUANTILES)]

    report = {
        "n_rounds": chosen,
        "target": target,
        "threshold": threshold,
        "pass_fraction": AUTO_PASS_FRACTION,
        "n_sample": int(x.shape[0]),
        "n_total": int(n),
        "fraction_needing": need,
        "quantiles": list(REPORT_QUANTILES),
        "kappa": quant(stats.kappa),
        "rho3": quant(stats.rho3),
        "peak": quant(stats.peak),
        "kappa_after_1_round": quant(after),
        "seconds": clock.seconds(),
    }
    return chosen, report


__all__ = [
    "AUTO_PASS_FRACTION",
    "AUTO_SAMPLE",
    "auto_sample_rows",
    "DEFAULT_THRESHOLD",
    "MAX_ROUNDS",
    "TARGET_ROUNDS",
    "adaptive_forward",
    "check_target",
    "check_threshold",
    "dataset_rounds",
    "first_rounds_with_check",
    "rounds_per_vector",
]
