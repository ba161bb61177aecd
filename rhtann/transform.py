"""The randomized Hadamard transform (RHT) as a faiss-style VectorTransform."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from . import io as _fileformat
from ._validation import as_matrix, check_finite_flag, check_int, check_out
from .layouts import LAYOUTS, make_layout
from .layouts.pad import PadLayout
from .moments import (
    _TIE,
    TARGET_ROUNDS,
    check_target,
    check_threshold,
    kappa,
    moment_stats,
    rounds_per_vector,
)
from .signs import sign_vectors

#: Largest number of rounds; sign vectors are always drawn for all of them so
#: that the signs of a k-round transform are a prefix of any longer one's.
MAX_ROUNDS = 3

#: ``rounds="auto"`` picks the fewest rounds that at least this fraction of
#: the training sample needs (see :meth:`RHT.train`).
AUTO_PASS_FRACTION = 0.99

#: Largest number of training vectors ``rounds="auto"`` examines.
AUTO_SAMPLE = 16384

_QUANTILES = (0.5, 0.9, 0.99, 1.0)


class RHT:
    """``rounds`` randomized Hadamard transforms applied one after another.

    One round maps a vector ``x`` to ``(1/sqrt(p)) * H_p * diag(s_r) * x``,
    where ``H_p`` is the Sylvester-Hadamard matrix of order ``p`` and ``s_r``
    is a random +-1 vector drawn for that round. The composition is
    orthogonal, so norms, inner products and L2 distances are preserved.

    The object follows the faiss ``VectorTransform`` interface (``d_in``,
    ``d_out``, ``is_trained``, ``train``, ``apply``, ``reverse_transform``)
    and scikit-learn's transformer verbs, but runs its own numba kernels.
    :meth:`to_faiss` returns a native faiss transform for use inside faiss
    indexes.

    Parameters
    ----------
    d : int
        Input dimension ``d_in``, >= 1.
    rounds : {1, 2, 3, "auto"}, default 3
        Number of randomized Hadamard rounds. One round makes typical data
        look Gaussian coordinate-wise but fails on sparse worst cases; two
        bring every coordinate's marginal close to Gaussian (enough for
        scalar quantizers); three also decorrelate coordinates (vector and
        block codebooks). ``"auto"`` leaves the transform untrained until
        :meth:`train` picks the count from the data's moments.
    seed : int, default 12345
        Seed of the SplitMix64 sign stream, in ``[0, 2**64)``. With
        ``rounds=3`` and ``layout="pad"`` the transform equals
        ``faiss.HadamardRotation(d, seed)`` for seeds below ``2**32``.
    layout : {"pad", "keep", "auto"}, default "pad"
        How dimensions that are not powers of two are handled. ``"pad"``
        zero-pads to the next power of two (``d_out = p``; equal to faiss's
        ``HadamardRotation`` at three rounds). ``"keep"`` keeps ``d_out = d``
        with a true Hadamard matrix of order ``d`` where one can be built and
        overlapping power-of-two-free windows otherwise, with a fixed
        permutation before every round after the first (see
        :mod:`rhtann.layouts`). ``"auto"`` picks per ``d``: ``"pad"`` for
        powers of two, ``"keep"`` where its quality matches padding.
    target : {"scalar", "vq"}, default "scalar"
        What follows the transform, for ``rounds="auto"`` and the adaptive
        methods: per-coordinate (scalar) quantizers need 1 or 2 rounds,
        block and vector codebooks 2 or 3 (see :func:`rhtann.choose_rounds`).
    threshold : float, optional
        Largest passing ``kappa = d_out * rho4`` of the round check; default
        :data:`rhtann.moments.DEFAULT_THRESHOLD` (8).

    Attributes
    ----------
    d_in : int
        Input dimension.
    d_out : int
        Output dimension.
    is_trained : bool
        Whether :meth:`apply` may be called. Fixed round counts need no
        training; ``rounds="auto"`` does.
    rounds : int or "auto"
        The parameter as given.
    n_rounds : int or None
        Number of rounds applied by :meth:`apply`; None until an ``"auto"``
        transform is trained.
    auto_report_ : dict or None
        For ``rounds="auto"`` after :meth:`train`: how the count was chosen
        (see :meth:`train`). None otherwise.
    layout_ : str
        The layout actually used, with its parameters (what ``"auto"``
        resolved to, the mode and window of ``"keep"``); saved with the
        transform and checked on loading.
    signs : ndarray, shape (3, sign_length), float32
        The sign vectors of all three possible rounds; round ``r`` uses row
        ``r``.

    Examples
    --------
    >>> import numpy as np, rhtann
    >>> x = np.random.default_rng(0).standard_normal((5, 100)).astype("float32")
    >>> rht = rhtann.RHT(100, rounds=2, seed=7)
    >>> y = rht.apply(x)
    >>> y.shape
    (5, 128)
    >>> bool(np.allclose(rht.reverse_transform(y), x, atol=1e-5))
    True
    """

    def __init__(
        self,
        d: int,
        rounds: int | str = 3,
        seed: int = 12345,
        layout: str = "pad",
        target: str = "scalar",
        threshold: float | None = None,
    ) -> None:
        self.d_in = check_int(d, "d", 1)
        auto = isinstance(rounds, str) and rounds == "auto"
        if not auto and (isinstance(rounds, (bool, str)) or rounds not in (1, 2, 3)):
            raise ValueError(f"rounds must be 1, 2 or 3, or 'auto'; got {rounds!r}")
        self.rounds: int | str = "auto" if auto else int(rounds)
        check_target(target)
        self.target = target
        check_threshold(threshold)
        self.threshold = None if threshold is None else float(threshold)
        self.seed = check_int(seed, "seed", 0, 2**64 - 1)
        if not isinstance(layout, str) or layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {sorted(LAYOUTS)}; got {layout!r}")
        self.layout = layout
        self._layout = make_layout(layout, self.d_in)
        self.d_out = self._layout.d_out
        self.layout_ = repr(self._layout)
        self.n_rounds: int | None = None if auto else self.rounds
        self.is_trained = not auto
        self.auto_report_: dict | None = None
        self.signs = sign_vectors(self.seed, MAX_ROUNDS, self._layout.sign_length)
        self._signs64: np.ndarray | None = None

    # ------------------------------------------------------------------
    # VectorTransform interface
    # ------------------------------------------------------------------

    def train(self, x: Any) -> "RHT":
        """Mark the transform trained; with ``rounds="auto"``, pick the count.

        A fixed round count needs no data; the call only validates ``x``.

        With ``rounds="auto"``, up to :data:`AUTO_SAMPLE` rows of ``x``
        (a seeded uniform sample) go through the round check of
        :func:`rhtann.choose_rounds` with this transform's target, threshold
        and signs, and ``n_rounds`` becomes the fewest rounds that at least
        :data:`AUTO_PASS_FRACTION` (99 %) of the sample needs. The
        remaining 1 % at most are left with a round fewer than their own
        check asks for: even if each were a worst case (1-bit vNMSE 1.5
        instead of 0.57), the average error would grow by under 2 %.
        Training again replaces the choice.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Training vectors (float or integer dtype); ``n >= 1`` for
            ``rounds="auto"``.

        Returns
        -------
        RHT
            ``self``.

        Notes
        -----
        The report ``auto_report_`` is a JSON-compatible dict with keys
        ``n_rounds``; ``target``; ``threshold``; ``pass_fraction``;
        ``n_sample`` and ``n_total`` (rows examined and given);
        ``fraction_needing`` (``{"1": f1, "2": f2, ...}``, the share of
        sampled vectors whose check asks for each count); ``quantiles``
        (the levels, 0.5, 0.9, 0.99 and 1.0); ``kappa``, ``rho3`` and
        ``peak`` (the statistics' quantiles on the input) and
        ``kappa_after_1_round`` (on the input after one round, which the
        identity ``E[kappa] = 3 - 2 rho4`` keeps near 3); and ``seconds``
        (time taken by the whole choice).
        """
        x = as_matrix(x, "x", self.d_in)
        if self.rounds == "auto":
            self._train_auto(x)
        self.is_trained = True
        return self

    def _train_auto(self, x: np.ndarray) -> None:
        t0 = time.perf_counter()
        n = x.shape[0]
        if n == 0:
            raise ValueError(
                f"x must hold at least one vector for rounds='auto'; got shape {x.shape}"
            )
        if n > AUTO_SAMPLE:
            rows = np.random.default_rng(self.seed).choice(n, AUTO_SAMPLE, replace=False)
            x = np.ascontiguousarray(x[np.sort(rows)])
        thr = check_threshold(self.threshold)
        k = rounds_per_vector(x, self._layout, self.signs, self.target, thr)
        lo, hi = TARGET_ROUNDS[self.target]
        need = {str(r): float(np.mean(k == r)) for r in range(lo, hi + 1)}
        chosen = hi
        for r in range(lo, hi + 1):
            if np.mean(k <= r) >= AUTO_PASS_FRACTION:
                chosen = r
                break
        stats = moment_stats(x, self._layout.d_out)
        y1, bad = self._layout.forward(x, self.signs, 1)
        check_finite_flag(bad, "x")
        after = moment_stats(y1, self._layout.d_out).kappa

        def quant(v: np.ndarray) -> list[float]:
            return [float(q) for q in np.quantile(v, _QUANTILES)]

        self.n_rounds = chosen
        self.auto_report_ = {
            "n_rounds": chosen,
            "target": self.target,
            "threshold": thr,
            "pass_fraction": AUTO_PASS_FRACTION,
            "n_sample": int(x.shape[0]),
            "n_total": int(n),
            "fraction_needing": need,
            "quantiles": list(_QUANTILES),
            "kappa": quant(stats.kappa),
            "rho3": quant(stats.rho3),
            "peak": quant(stats.peak),
            "kappa_after_1_round": quant(after),
            "seconds": time.perf_counter() - t0,
        }

    def _check_trained(self) -> int:
        if not self.is_trained or self.n_rounds is None:
            if self.rounds == "auto":
                raise RuntimeError(
                    "this RHT has rounds='auto' and is not trained yet; call train(x) "
                    "to choose the number of rounds first"
                )
            raise RuntimeError("this RHT is not trained yet; call train(x) first")
        return self.n_rounds

    def apply(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Rotate the rows of ``x``.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Float or integer dtype; converted once to contiguous float32.
            Never modified.
        out : ndarray, shape (n, d_out), float32, C-contiguous, optional
            Where to write the result, as faiss's ``apply_noalloc``: reusing a
            buffer saves allocating (and page-faulting) a new one per call.
            Outputs of 8 MiB or more whose rows start on 64-byte boundaries
            (as the arrays ``apply`` allocates do) are written with
            non-temporal stores, which skip reading each output line first
            (6-14% faster at d = 768-4096); reuse a result of ``apply`` to
            keep that.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d_out)``, dtype float32 (``out`` when given).
        """
        rounds = self._check_trained()
        x = as_matrix(x, "x", self.d_in)
        if out is not None:
            check_out(out, (x.shape[0], self.d_out), np.float32)
        if x.shape[0] == 0:
            return np.empty((0, self.d_out), dtype=np.float32) if out is None else out
        if out is not None and isinstance(self._layout, PadLayout):
            y, bad = self._layout.forward(x, self.signs, rounds, out=out)
        else:
            y, bad = self._layout.forward(x, self.signs, rounds)
            if out is not None:
                np.copyto(out, y)
                y = out
        check_finite_flag(bad, "x")
        return y

    apply_py = apply

    def reverse_transform(self, y: Any) -> np.ndarray:
        """Exact inverse of :meth:`apply`.

        Parameters
        ----------
        y : array_like, shape (n, d_out)
            Rotated vectors.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d_in)``, dtype float32. For ``y = apply(x)`` this is
            ``x`` up to float32 rounding; for other ``y`` it is the
            least-squares preimage.
        """
        rounds = self._check_trained()
        y = as_matrix(y, "y", self.d_out)
        if y.shape[0] == 0:
            return np.empty((0, self.d_in), dtype=np.float32)
        x, bad = self._layout.inverse(y, self.signs, rounds)
        check_finite_flag(bad, "y")
        return x

    # ------------------------------------------------------------------
    # per-vector round counts
    # ------------------------------------------------------------------

    def apply_adaptive(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """Rotate each row with the fewest rounds its own check asks for.

        The rounds are prefixes of one sign stream: a row given ``k`` rounds
        equals row ``apply(x)`` of ``RHT(d, rounds=k, seed, layout)``. Every
        row gets the target's minimum number of rounds in one batch, then
        the rows that need more continue from there. Works whether or not
        the transform is trained (``n_rounds`` is not used).

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Converted once to float32.

        Returns
        -------
        y : numpy.ndarray
            Shape ``(n, d_out)``, float32.
        k : numpy.ndarray
            Shape ``(n,)``, uint8: the rounds each row received, as
            :func:`rhtann.choose_rounds` with this transform's target,
            threshold and signs returns them.
        """
        x = as_matrix(x, "x", self.d_in)
        n = x.shape[0]
        if n == 0:
            return np.empty((0, self.d_out), dtype=np.float32), np.empty(0, dtype=np.uint8)
        lo, hi = TARGET_ROUNDS[self.target]
        threshold = check_threshold(self.threshold)
        if isinstance(self._layout, PadLayout) and hi - lo == 1:
            y, k = self._first_rounds_with_check(x, lo, threshold)
        else:
            k = rounds_per_vector(x, self._layout, self.signs, self.target, threshold)
            y, bad = self._layout.forward(x, self.signs, lo)
            check_finite_flag(bad, "x")
        for r in range(lo, hi):
            rows = np.flatnonzero(k > r)
            if rows.size == 0:
                break
            more, _ = self._layout.forward(np.ascontiguousarray(y[rows]), self.signs, 1, first=r)
            y[rows] = more
        return y, k

    def _first_rounds_with_check(
        self, x: np.ndarray, lo: int, threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``lo`` rounds and decide each row's count in the same pass.

        The padded kernel accumulates ``sum x^2`` and ``sum x^4`` of every row
        while it loads the rows for the first round, so the check adds next
        to nothing to the rotation (``bench/moments_speed.py``). With a cap of
        one round above the minimum, the decision needs only the input's
        ``kappa``. Rows whose float32 sums land within 0.1 % of the threshold,
        overflow, or hold NaN or infinity are re-checked with the exact
        standalone statistic (:func:`rhtann.moments.kappa`), so the counts are
        those :func:`rhtann.choose_rounds` returns.
        """
        n = x.shape[0]
        sums = np.zeros((2, n), dtype=np.float32)
        y, bad = self._layout.forward(x, self.signs, lo, moments=sums)
        check_finite_flag(bad, "x")
        s2 = sums[0].astype(np.float64)
        s4 = sums[1].astype(np.float64)
        limit = threshold * _TIE
        with np.errstate(all="ignore"):
            kap = np.where(s2 > 0, self.d_out * s4 / (s2 * s2), 0.0)
        unsure = ~(np.isfinite(s2) & np.isfinite(s4)) | (np.abs(kap - limit) <= 1e-3 * limit)
        if unsure.any():
            rows = np.flatnonzero(unsure)
            sub = np.ascontiguousarray(x[rows])
            check_finite_flag(not bool(np.isfinite(sub).all()), "x")
            kap[rows] = kappa(sub, self.d_out)
        k = (kap > limit).astype(np.uint8)
        k += lo
        return y, k

    def reverse_adaptive(self, y: Any, k: Any) -> np.ndarray:
        """Invert :meth:`apply_adaptive`: row ``i`` undoes ``k[i]`` rounds.

        Parameters
        ----------
        y : array_like, shape (n, d_out)
            Rotated rows.
        k : array_like, shape (n,)
            Integer rounds per row, each in 1..3.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d_in)``, float32.
        """
        y = as_matrix(y, "y", self.d_out)
        n = y.shape[0]
        k = np.asarray(k)
        if k.dtype.kind not in "iu" or k.shape != (n,):
            raise ValueError(
                f"k must be an integer array of shape ({n},) with values in 1..{MAX_ROUNDS}; "
                f"got dtype {k.dtype} and shape {k.shape}"
            )
        if n and (k.min() < 1 or k.max() > MAX_ROUNDS):
            raise ValueError(
                f"k must hold values in 1..{MAX_ROUNDS}; got values in "
                f"{int(k.min())}..{int(k.max())}"
            )
        out = np.empty((n, self.d_in), dtype=np.float32)
        for r in np.unique(k):
            rows = np.flatnonzero(k == r)
            back, bad = self._layout.inverse(np.ascontiguousarray(y[rows]), self.signs, int(r))
            check_finite_flag(bad, "y")
            out[rows] = back
        return out

    def apply_levels(self, q: Any) -> np.ndarray:
        """Rotate queries with 1, 2, ... rounds, at the cost of the largest count.

        Level ``l`` continues from level ``l - 1`` with one more round, so
        ``L`` levels cost ``L`` rounds. ``L`` is the most rounds the target
        uses: 2 for ``"scalar"`` (levels 1 and 2) and 3 for ``"vq"`` (levels
        1, 2, 3; level 1 is the first step towards the others). Entry
        ``l - 1`` equals ``RHT(d, rounds=l, seed, layout).apply(q)`` up to
        float32 rounding (bit for bit when ``d_out`` is a power of 4).

        Parameters
        ----------
        q : array_like, shape (n, d_in)
            Converted once to float32.

        Returns
        -------
        numpy.ndarray
            Shape ``(L, n, d_out)``, float32.
        """
        q = as_matrix(q, "q", self.d_in)
        levels = TARGET_ROUNDS[self.target][1]
        n = q.shape[0]
        out = np.empty((levels, n, self.d_out), dtype=np.float32)
        if n == 0:
            return out
        y, bad = self._layout.forward(q, self.signs, 1)
        check_finite_flag(bad, "q")
        out[0] = y
        for lev in range(1, levels):
            out[lev], _ = self._layout.forward(out[lev - 1], self.signs, 1, first=lev)
        return out

    def check_identical(self, other: "RHT") -> None:
        """Raise AssertionError unless ``other`` is the same transform."""
        if not isinstance(other, RHT):
            raise AssertionError(f"other is a {type(other).__name__}, not an RHT")
        mine, theirs = self.get_params(), other.get_params()
        if mine != theirs or self.n_rounds != other.n_rounds:
            raise AssertionError(f"transforms differ: {mine} vs {theirs}")

    # ------------------------------------------------------------------
    # scikit-learn verbs
    # ------------------------------------------------------------------

    def fit(self, x: Any, y: Any = None) -> "RHT":
        """Alias of :meth:`train`."""
        return self.train(x)

    def transform(self, x: Any) -> np.ndarray:
        """Alias of :meth:`apply`."""
        return self.apply(x)

    def inverse_transform(self, y: Any) -> np.ndarray:
        """Alias of :meth:`reverse_transform`."""
        return self.reverse_transform(y)

    def fit_transform(self, x: Any, y: Any = None) -> np.ndarray:
        """:meth:`train` then :meth:`apply`."""
        return self.train(x).apply(x)

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters, as scikit-learn's ``get_params``."""
        return {
            "d": self.d_in,
            "rounds": self.rounds,
            "seed": self.seed,
            "layout": self.layout,
            "target": self.target,
            "threshold": self.threshold,
        }

    # ------------------------------------------------------------------
    # exact forms
    # ------------------------------------------------------------------

    def matrix(self) -> np.ndarray:
        """Dense matrix of the whole transform, computed in float64.

        Returns
        -------
        numpy.ndarray
            Shape ``(d_out, d_in)``, dtype float64, with ``apply(x) == x @ A.T``
            up to float32 rounding and orthonormal columns.
        """
        rounds = self._check_trained()
        if self._signs64 is None:
            self._signs64 = self.signs.astype(np.float64)
        eye = np.eye(self.d_in, dtype=np.float64)
        rows, _ = self._layout.forward(eye, self._signs64, rounds)
        return np.ascontiguousarray(rows.T)

    def to_faiss(self, reversible: bool = False):
        """Return a native faiss VectorTransform equal to this transform.

        Parameters
        ----------
        reversible : bool, default False
            ``faiss.HadamardRotation`` cannot invert a padded transform (faiss
            raises in ``reverse_transform`` and ``reconstruct``). With
            ``reversible=True`` such cases get a ``LinearTransform`` instead,
            whose inverse works for every ``d``.

        Returns
        -------
        faiss.VectorTransform
            ``faiss.HadamardRotation(d, seed)`` when it matches exactly
            (3 rounds, padded layout, seed < 2**32, and, if ``reversible``,
            ``d`` a power of two); otherwise a trained ``faiss.LinearTransform``
            holding :meth:`matrix` in float32 with ``is_orthonormal`` set, so
            that ``reverse_transform`` uses the transpose. Keep a Python
            reference to the object while faiss uses it. The matrix costs
            ``d_out * d_in`` floats in a saved faiss index (4 MB at
            ``d = 1000``), against a few bytes for ``HadamardRotation``; the
            ``"keep"`` layout and 1 or 2 rounds always take this path.

        Notes
        -----
        faiss's ``set_is_orthonormal()`` answers False whenever
        ``d_out > d_in``, although a padded RHT has orthonormal columns; after
        ``faiss.read_index`` call :func:`rhtann.faiss_compat.repair_orthonormal`
        rather than ``set_is_orthonormal()``.
        """
        import faiss

        rounds = self._check_trained()
        native = self._layout.native_faiss(self.seed, rounds)
        if native is not None and not (reversible and native.d_out != native.d_in):
            return native
        lt = faiss.LinearTransform(self.d_in, self.d_out, False)
        faiss.copy_array_to_vector(self.matrix().astype(np.float32).ravel(), lt.A)
        lt.is_trained = True
        lt.is_orthonormal = True
        return lt

    # ------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------

    def _state(self) -> dict:
        return {
            **self.get_params(),
            "n_rounds": self.n_rounds,
            "is_trained": self.is_trained,
            "auto_report": self.auto_report_,
            "layout_resolved": self.layout_,
        }

    @classmethod
    def _from_state(cls, state: dict) -> "RHT":
        obj = cls(
            state["d"],
            state["rounds"],
            state["seed"],
            state["layout"],
            state.get("target", "scalar"),
            state.get("threshold"),
        )
        resolved = state.get("layout_resolved", obj.layout_)
        if resolved != obj.layout_:
            raise ValueError(
                f"layout {state['layout']!r} was saved as {resolved}, but this version of rhtann "
                f"builds {obj.layout_}: the transform would differ"
            )
        n_rounds, trained = state["n_rounds"], bool(state["is_trained"])
        if obj.rounds == "auto":
            if n_rounds is not None:
                n_rounds = check_int(n_rounds, "n_rounds", 1, MAX_ROUNDS)
            if trained != (n_rounds is not None):
                raise ValueError(f"is_trained={trained} disagrees with n_rounds={n_rounds}")
        elif n_rounds != obj.rounds:
            raise ValueError(f"n_rounds={n_rounds!r} differs from rounds={obj.rounds}")
        obj.n_rounds = n_rounds
        obj.is_trained = trained
        report = state.get("auto_report")
        if report is not None and not isinstance(report, dict):
            raise ValueError(f"auto_report must be a dict or null; got {type(report).__name__}")
        obj.auto_report_ = report
        return obj

    def save(self, path: str | os.PathLike) -> None:
        """Write the transform to ``path`` atomically; read it with :func:`rhtann.load`.

        The file stores the parameters as JSON and the sign vectors, which are
        checked against the regenerated ones on loading.
        """
        _fileformat.write_container(path, "RHT", self._state(), {"signs": self.signs.tobytes()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RHT":
        """Read a transform written by :meth:`save`."""
        meta, blobs = _fileformat.read_container(path, "RHT")
        try:
            obj = cls._from_state(meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise _fileformat.FormatError(f"{os.fspath(path)!r}: invalid RHT parameters ({exc})") from None
        if blobs.get("signs") != obj.signs.tobytes():
            raise _fileformat.FormatError(
                f"{os.fspath(path)!r}: stored sign vectors differ from the ones the seed generates"
            )
        return obj

    def __getstate__(self) -> dict:
        return self._state()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(RHT._from_state(state).__dict__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RHT) and self._state() == other._state()

    def __hash__(self) -> int:
        return hash((*self.get_params().values(), self.n_rounds))

    def __repr__(self) -> str:
        extra = "" if self.target == "scalar" else f", target={self.target!r}"
        if self.threshold is not None:
            extra += f", threshold={self.threshold!r}"
        return (
            f"RHT(d={self.d_in}, rounds={self.rounds!r}, seed={self.seed}, "
            f"layout={self.layout!r}{extra})"
        )
