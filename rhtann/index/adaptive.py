"""The adaptive index: per-vector round counts, one faiss sub-index per count.

Each stored vector is rotated with the fewest rounds its own moment check
allows (:func:`rhtann.rounds.adaptive_forward`) and stored in the sub-index of
that level, under its id. Queries are rotated to every level at the cost of
the largest count (:meth:`rhtann.RHT.apply_levels`) and the per-level results
are merged. ``rhtann.Index(d, spec, adaptive=True)`` builds one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..progress import bar, timed
from ..rounds import TARGET_ROUNDS, rounds_per_vector
from . import faiss_glue as glue
from .core import TRAIN_SAMPLE_BYTES, Index
from .limits import check_norms


class AdaptiveIndex(Index, variant="adaptive"):
    """An :class:`rhtann.Index` whose vectors get per-vector round counts.

    Parameters are those of :class:`rhtann.Index` (``adaptive`` is implied);
    the spec must start with an RHT token. Levels are the target's round
    counts: 1 and 2 for ``"scalar"``, 2 and 3 for ``"vq"``.

    Attributes
    ----------
    sub_indexes : dict
        Level (rounds) -> faiss sub-index, each wrapped to store ids.
    level_counts : dict
        Level -> number of stored vectors.
    train_report_ : dict
        After :meth:`train`: per level, ``stored_fraction_in_train`` (share of
        training vectors whose check asks for that level) and ``trained_on``
        (rows its sub-index was trained on).
    """

    adaptive = True

    def __init__(self, d: int, spec: str, metric: str = "l2", **kwargs: Any) -> None:
        kwargs["adaptive"] = True
        super().__init__(d, spec, metric, **kwargs)

    def _level_list(self) -> list[int]:
        lo, hi = TARGET_ROUNDS[self.target]
        return list(range(lo, hi + 1))

    def _new_sub(self):
        return glue.with_ids(super()._new_sub())

    @property
    def sub_index(self):
        """Not available: an adaptive Index has one sub-index per level (:attr:`sub_indexes`)."""
        raise AttributeError(
            "an adaptive Index has one sub-index per level; use sub_indexes "
            "(a dict level -> faiss index)"
        )

    @property
    def level_counts(self) -> dict:
        """Number of stored vectors per level (rounds)."""
        return {lev: int(sub.ntotal) for lev, sub in zip(self._levels, self._subs, strict=True)}

    # ------------------------------------------------------------------
    # train / add
    # ------------------------------------------------------------------

    def _train_subs(self, x: Any, n: int) -> None:
        """Train one sub-index per level, each in its own rotated space.

        The level-``l`` sub-index is trained on the training vectors whose
        round check asks for at most ``l`` rounds, rotated with ``l`` rounds
        (the vectors it will store look like these); when fewer than
        ``max(1000, n // 10)`` qualify, on every training vector rotated with
        ``l`` rounds. The top level always gets all of them.
        """
        rht = self.rht
        # The input and every level's rotation are held at once: sample down
        # to TRAIN_SAMPLE_BYTES in all.
        cap = max(1000, TRAIN_SAMPLE_BYTES // (4 * (self.d + len(self._levels) * self.d_out)))
        rows = None
        if n > cap:
            rows = np.sort(np.random.default_rng(self.seed).choice(n, cap, replace=False))
            n = cap
        with timed(self.stats, "transform_s"):
            xp = np.empty((n, self.d), dtype=np.float32)
            for i0, i1 in self._chunks(n, "rotate"):
                xp[i0:i1] = self._prepare(x[i0:i1] if rows is None else x[rows[i0:i1]], "x")
            counts = rounds_per_vector(xp, rht.layout_, rht.signs_, self.target, rht._threshold)
            levels = rht._levels(xp, "x")  # (L, n, d_out)
            if self.metric != "cosine":
                check_norms(levels[-1], "x")
        need = min(n, max(1000, n // 10))
        self.train_report_ = {}
        for level, sub in zip(self._levels, self._subs, strict=True):
            rows = np.flatnonzero(counts <= level)
            y = levels[level - 1]
            if rows.size >= need:
                y = np.ascontiguousarray(y[rows])
            self.train_report_[str(level)] = {
                "stored_fraction_in_train": float(np.mean(counts == level)),
                "trained_on": int(y.shape[0]),
            }
            sub.train(y)

    def _add_rows(self, x: Any, n: int, ids: np.ndarray | None) -> None:
        if ids is None:
            ids = np.arange(self.ntotal, self.ntotal + n, dtype=np.int64)
        # A chunk's rotation, the rows continued to the next level and the
        # partition's swap buffer coexist: half-size chunks keep the extra
        # memory of an add within chunk_size * d_out * 4 bytes.
        step = max(1, self.chunk_size // 2)
        starts = range(0, n, step)
        for i0 in bar(starts, "add", total=len(starts), enabled=self.progress):
            i1 = min(n, i0 + step)
            self._add_chunk(x[i0:i1], ids[i0:i1])

    def _add_chunk(self, x: Any, ids: np.ndarray) -> None:
        with timed(self.stats, "transform_s"):
            y, counts = self.rht._adaptive(self._prepare(x, "x"), "x")
            if self.metric != "cosine":
                check_norms(y, "x")
        lo_sub, hi_sub = self._subs  # two levels: the target's fewest and most rounds
        # Partition the rows in place (lower level first) by swapping only the
        # misplaced rows, so each level is one contiguous block for faiss
        # without copying the (usually large) majority.
        is_lo = counts == self._levels[0]
        n_lo = int(is_lo.sum())
        front = np.flatnonzero(~is_lo[:n_lo])
        back = np.flatnonzero(is_lo[n_lo:]) + n_lo
        ids = np.array(ids, dtype=np.int64, copy=True)
        if front.size:
            y_front = y[front]
            y[front] = y[back]
            y[back] = y_front
            ids[front], ids[back] = ids[back], ids[front].copy()
        if n_lo:
            lo_sub.add_with_ids(y[:n_lo], ids[:n_lo])
        if n_lo < len(y):
            hi_sub.add_with_ids(y[n_lo:], ids[n_lo:])

    # ------------------------------------------------------------------
    # search / reconstruct / export
    # ------------------------------------------------------------------

    def _search_chunk(self, q: np.ndarray, k: int, sp: list) -> tuple[np.ndarray, np.ndarray]:
        with timed(self.stats, "search_transform_s"):
            levels = self.rht._levels(self._prepare(q, "q"), "q")
            if self.metric != "cosine":
                check_norms(levels[-1], "q")
        dists, labels = [], []
        for level, sub, params in zip(self._levels, self._subs, sp, strict=True):
            if sub.ntotal == 0:
                continue
            d_l, i_l = sub.search(np.ascontiguousarray(levels[level - 1]), k, params=params)
            dists.append(d_l)
            labels.append(i_l)
        return glue.merge_results(dists, labels, self.metric)

    def _reconstruct_rows(self, ids: np.ndarray) -> np.ndarray:
        y = np.empty((ids.shape[0], self.d_out), dtype=np.float32)
        kk = np.empty(ids.shape[0], dtype=np.uint8)
        for j, key in enumerate(ids):
            for level, sub in zip(self._levels, self._subs, strict=True):
                try:
                    y[j] = glue.reconstruct_one(sub, int(key))
                except RuntimeError:
                    continue
                kk[j] = level
                break
            else:
                raise KeyError(f"cannot reconstruct id {int(key)}: no level stores it")
        return self.rht._reverse_adaptive(y, kk, "y")

    def to_faiss(self):
        """Not available: faiss has no single index for per-level transforms."""
        raise NotImplementedError(
            "an adaptive Index stores each level under its own transform; faiss has no "
            "single index for that. Use save()/rhtann.load, or a fixed-rounds spec."
        )


__all__ = ["AdaptiveIndex"]
