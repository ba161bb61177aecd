"""The randomized Hadamard transform (RHT) as a faiss-style VectorTransform."""

from __future__ import annotations

import os
from typing import Any

import faiss
import numpy as np

from . import io
from ._validation import as_matrix, check_dim, check_finite_flag, check_int, check_out
from .layouts import LAYOUTS, make_layout, safe
from .layouts.base import Layout
from .layouts.keep import KeepLayout
from .rounds import (
    MAX_ROUNDS,
    TARGET_ROUNDS,
    adaptive_forward,
    check_target,
    check_threshold,
    dataset_rounds,
    rounds_per_vector,
)
from .signs import sign_vectors
from .threads import thread_scope


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
        Input dimension ``d_in``, in ``[1, rhtann.MAX_D]`` (``2**20``).
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
        :data:`rhtann.rounds.DEFAULT_THRESHOLD` (8).

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
    layout : str
        The parameter as given.
    n_rounds_ : int or None
        Number of rounds applied by :meth:`apply`; None until an ``"auto"``
        transform is trained. ``n_rounds`` is a read-only alias.
    auto_report_ : dict or None
        For ``rounds="auto"`` after :meth:`train`: how the count was chosen
        (see :func:`rhtann.rounds.dataset_rounds`). None otherwise.
    layout_ : rhtann.layouts.base.Layout
        The layout actually used: what ``"auto"`` resolved to, with its
        parameters (the mode and window of ``"keep"``). Its ``repr`` is saved
        with the transform and checked on loading.
    signs_ : ndarray, shape (3, layout_.sign_length), float32
        The sign vectors of all three possible rounds; round ``r`` uses row
        ``r``. ``signs`` is a read-only alias.

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
        self.d_in = check_dim(d, "d")
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
        self.layout_: Layout = make_layout(layout, self.d_in)
        self.d_out = self.layout_.d_out
        self.signs_ = sign_vectors(self.seed, MAX_ROUNDS, self.layout_.sign_length)
        self.n_rounds_: int | None = None if auto else self.rounds
        self.auto_report_: dict | None = None
        self._signs64: np.ndarray | None = None

    # ------------------------------------------------------------------
    # read-only aliases of the learned state
    # ------------------------------------------------------------------

    @property
    def n_rounds(self) -> int | None:
        """Alias of ``n_rounds_``."""
        return self.n_rounds_

    @property
    def signs(self) -> np.ndarray:
        """Alias of ``signs_``."""
        return self.signs_

    @property
    def is_trained(self) -> bool:
        """Whether the round count is known (always for a fixed count)."""
        return self.n_rounds_ is not None

    @property
    def _threshold(self) -> float:
        return check_threshold(self.threshold)

    # ------------------------------------------------------------------
    # VectorTransform interface
    # ------------------------------------------------------------------

    def train(self, x: Any) -> "RHT":
        """Mark the transform trained; with ``rounds="auto"``, pick the count.

        A fixed round count needs no data; the call only validates ``x``.
        With ``rounds="auto"``, ``n_rounds_`` becomes the count
        :func:`rhtann.rounds.dataset_rounds` picks from a seeded sample of
        ``x`` with this transform's target, threshold and signs, and
        ``auto_report_`` its report. Training again replaces the choice.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Training vectors (float or integer dtype); ``n >= 1`` for
            ``rounds="auto"``.

        Returns
        -------
        RHT
            ``self``.
        """
        with thread_scope(None):
            return self._train(as_matrix(x, "x", self.d_in), "x")

    def _train(self, x: np.ndarray, name: str, n_total: int | None = None) -> "RHT":
        """:meth:`train` on trusted float32 rows; errors name ``name``.

        ``n_total``: rows of the whole set when ``x`` is already the sample of
        :func:`rhtann.rounds.auto_sample_rows`.
        """
        if self.rounds == "auto":
            if x.shape[0] == 0:
                raise ValueError(
                    f"{name} must hold at least one vector for rounds='auto'; got shape {x.shape}"
                )
            self.n_rounds_, self.auto_report_ = dataset_rounds(
                x, self.layout_, self.signs_, self.target, self._threshold, self.seed, n_total
            )
        return self

    def _check_trained(self) -> int:
        if self.n_rounds_ is None:
            raise RuntimeError(
                "this RHT has rounds='auto' and is not trained yet; call train(x) "
                "to choose the number of rounds first"
            )
        return self.n_rounds_

    def apply(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Rotate the rows of ``x``.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Float or integer dtype; converted once to contiguous float32.
            Never modified.
        out : ndarray, shape (n, d_out), float32, C-contiguous, optional
            Where to write the result, as faiss's ``apply_noalloc``; it must
            not share memory with ``x`` (ValueError otherwise). Reusing a
            buffer saves allocating (and page-faulting) a new one per call.
            Large outputs whose rows start on 64-byte boundaries (as the
            arrays ``apply`` allocates do) are written with non-temporal
            stores (:mod:`rhtann.layouts.output`); reuse a result of
            ``apply`` to keep that.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d_out)``, dtype float32 (``out`` when given).
        """
        rounds = self._check_trained()
        src = x
        x = as_matrix(x, "x", self.d_in)
        if out is not None:
            check_out(out, (x.shape[0], self.d_out), np.float32)
            if (isinstance(src, np.ndarray) and np.may_share_memory(out, src)) or np.may_share_memory(out, x):
                raise ValueError(
                    "out must not overlap x (the rows are read while out is written); "
                    "pass a separate buffer"
                )
        with thread_scope(None):
            return self._forward(x, rounds, out, "x")

    def _forward(
        self, x: np.ndarray, rounds: int, out: np.ndarray | None, name: str, sq: np.ndarray | None = None
    ) -> np.ndarray:
        """``rounds`` rounds of trusted float32 rows into ``out`` (checked by the caller).

        Finite rows give finite output or ValueError (:mod:`rhtann.layouts.safe`);
        ``sq`` (float64, shape ``(n,)``) receives the squared output row norms.
        """
        if x.shape[0] == 0:
            return np.empty((0, self.d_out), dtype=np.float32) if out is None else out
        y, bad = safe.forward(self.layout_, x, self.signs_, rounds, name, out=out, sq=sq)
        check_finite_flag(bad, name)
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
        with thread_scope(None):
            return self._inverse(as_matrix(y, "y", self.d_out), rounds, "y")

    def _inverse(self, y: np.ndarray, rounds: int, name: str) -> np.ndarray:
        """Undo ``rounds`` rounds of trusted float32 rows."""
        if y.shape[0] == 0:
            return np.empty((0, self.d_in), dtype=np.float32)
        x, bad = safe.inverse(self.layout_, y, self.signs_, rounds, name)
        check_finite_flag(bad, name)
        return x

    # ------------------------------------------------------------------
    # per-vector round counts
    # ------------------------------------------------------------------

    def apply_adaptive(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """Rotate each row with the fewest rounds its own check asks for.

        The rounds are prefixes of one sign stream: a row given ``r`` rounds
        equals row ``apply(x)`` of ``RHT(d, rounds=r, seed, layout)``. Works
        whether or not the transform is trained (``n_rounds_`` is not used).
        The policy is :func:`rhtann.rounds.adaptive_forward`.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Converted once to float32.

        Returns
        -------
        y : numpy.ndarray
            Shape ``(n, d_out)``, float32.
        counts : numpy.ndarray
            Shape ``(n,)``, uint8: the rounds each row received, as
            :func:`rhtann.choose_rounds` with this transform's target,
            threshold and signs returns them.
        """
        with thread_scope(None):
            return self._adaptive(as_matrix(x, "x", self.d_in), "x")

    def _adaptive(self, x: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`apply_adaptive` of trusted float32 rows."""
        if x.shape[0] == 0:
            return np.empty((0, self.d_out), dtype=np.float32), np.empty(0, dtype=np.uint8)
        return adaptive_forward(x, self.layout_, self.signs_, self.target, self._threshold, name)

    def reverse_adaptive(self, y: Any, counts: Any) -> np.ndarray:
        """Invert :meth:`apply_adaptive`: row ``i`` undoes ``counts[i]`` rounds.

        Parameters
        ----------
        y : array_like, shape (n, d_out)
            Rotated rows.
        counts : array_like, shape (n,)
            Integer rounds per row, each in 1..3.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d_in)``, float32.
        """
        y = as_matrix(y, "y", self.d_out)
        n = y.shape[0]
        counts = np.asarray(counts)
        if counts.dtype.kind not in "iu" or counts.shape != (n,):
            raise ValueError(
                f"counts must be an integer array of shape ({n},) with values in 1..{MAX_ROUNDS}; "
                f"got dtype {counts.dtype} and shape {counts.shape}"
            )
        if n and (counts.min() < 1 or counts.max() > MAX_ROUNDS):
            raise ValueError(
                f"counts must hold values in 1..{MAX_ROUNDS}; got values in "
                f"{int(counts.min())}..{int(counts.max())}"
            )
        with thread_scope(None):
            return self._reverse_adaptive(y, counts, "y")

    def _reverse_adaptive(self, y: np.ndarray, counts: np.ndarray, name: str) -> np.ndarray:
        """:meth:`reverse_adaptive` of trusted rows and counts."""
        out = np.empty((y.shape[0], self.d_in), dtype=np.float32)
        for r in np.unique(counts):
            rows = np.flatnonzero(counts == r)
            out[rows] = self._inverse(np.ascontiguousarray(y[rows]), int(r), name)
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
        with thread_scope(None):
            return self._levels(as_matrix(q, "q", self.d_in), "q")

    def _levels(self, q: np.ndarray, name: str) -> np.ndarray:
        """:meth:`apply_levels` of trusted float32 rows."""
        levels = TARGET_ROUNDS[self.target][1]
        n = q.shape[0]
        out = np.empty((levels, n, self.d_out), dtype=np.float32)
        if n == 0:
            return out
        _, bad = safe.forward(self.layout_, q, self.signs_, 1, name, out=out[0])
        check_finite_flag(bad, name)
        for lev in range(1, levels):
            safe.forward(self.layout_, out[lev - 1], self.signs_, 1, name, first=lev, out=out[lev])
        return out

    def check_identical(self, other: "RHT") -> None:
        """Raise AssertionError unless ``other`` is the same transform."""
        if not isinstance(other, RHT):
            raise AssertionError(f"other is a {type(other).__name__}, not an RHT")
        mine, theirs = self.get_params(), other.get_params()
        if mine != theirs or self.n_rounds_ != other.n_rounds_:
            raise AssertionError(f"transforms differ: {mine} vs {theirs}")
        if repr(self.layout_) != repr(other.layout_):
            raise AssertionError(f"layouts differ: {self.layout_!r} vs {other.layout_!r}")

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
        x = as_matrix(x, "x", self.d_in)
        return self._train(x, "x")._forward(x, self._check_trained(), None, "x")

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
            self._signs64 = self.signs_.astype(np.float64)
        eye = np.eye(self.d_in, dtype=np.float64)
        rows, _ = self.layout_.forward(eye, self._signs64, rounds)
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
        ``faiss.read_index`` call :func:`rhtann.index.faiss_glue.repair_orthonormal`
        rather than ``set_is_orthonormal()``.
        """
        rounds = self._check_trained()
        native = self.layout_.native_faiss(self.seed, rounds)
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
            "n_rounds": self.n_rounds_,
            "is_trained": self.is_trained,
            "auto_report": self.auto_report_,
            "layout_resolved": repr(self.layout_),
        }

    @classmethod
    def _from_state(cls, state: dict) -> "RHT":
        if not isinstance(state, dict):
            raise TypeError(f"the transform state must be a dict; got {type(state).__name__}")
        obj = cls(
            state["d"],
            state["rounds"],
            state["seed"],
            state["layout"],
            state.get("target", "scalar"),
            state.get("threshold"),
        )
        built = repr(obj.layout_)
        resolved = state.get("layout_resolved", built)
        if resolved != built and isinstance(obj.layout_, KeepLayout):
            # saved before the block-and-lane permutation became the default for this d
            legacy = KeepLayout(obj.d_in, perm="shuffle")
            if repr(legacy) == resolved:
                obj.layout_ = legacy
                built = resolved
        if resolved != built:
            raise ValueError(
                f"layout {state['layout']!r} was saved as {resolved}, but this version of rhtann "
                f"builds {built}: the transform would differ"
            )
        n_rounds, trained = state["n_rounds"], state["is_trained"]
        if not isinstance(trained, bool):
            raise TypeError(f"is_trained must be true or false; got {trained!r}")
        if obj.rounds == "auto":
            if n_rounds is not None:
                n_rounds = check_int(n_rounds, "n_rounds", 1, MAX_ROUNDS)
            if trained != (n_rounds is not None):
                raise ValueError(f"is_trained={trained} disagrees with n_rounds={n_rounds}")
        elif n_rounds != obj.rounds or not trained:
            raise ValueError(
                f"n_rounds={n_rounds!r} and is_trained={trained} disagree with rounds={obj.rounds}"
            )
        obj.n_rounds_ = n_rounds
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
        io.write_container(path, "RHT", self._state(), {"signs": self.signs_.tobytes()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RHT":
        """Read a transform written by :meth:`save`."""
        meta, blobs = io.read_container(path, "RHT")
        try:
            obj = cls._from_state(meta)
        except io.STATE_ERRORS as exc:
            raise io.FormatError(
                f"{os.fspath(path)!r}: invalid RHT parameters ({type(exc).__name__}: {exc})"
            ) from None
        if set(blobs) != {"signs"}:
            raise io.FormatError(f"{os.fspath(path)!r}: expected one blob 'signs'; found {sorted(blobs)}")
        if blobs.get("signs") != obj.signs_.tobytes():
            raise io.FormatError(
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
        return hash((*self.get_params().values(), self.n_rounds_))

    def __repr__(self) -> str:
        extra = "" if self.target == "scalar" else f", target={self.target!r}"
        if self.threshold is not None:
            extra += f", threshold={self.threshold!r}"
        return (
            f"RHT(d={self.d_in}, rounds={self.rounds!r}, seed={self.seed}, "
            f"layout={self.layout!r}{extra})"
        )


def choose_rounds(
    x: Any,
    target: str = "scalar",
    threshold: float | None = None,
    rht: RHT | None = None,
    seed: int = 12345,
    layout: str = "pad",
) -> np.ndarray:
    """Fewest randomized Hadamard rounds each vector needs.

    The rule checks after each round: look at the vector, and while it fails
    (``kappa = d_out * rho4 > threshold``; values within ``1e-6`` relative of
    the threshold, the accuracy of the float32 sums, pass) apply one more
    round and look again; stop at the first pass or at the cap
    (:func:`rhtann.rounds.rounds_per_vector`).

    * ``target="scalar"`` (per-coordinate quantizers): 1 round when ``x``
      passes, else 2. The Kolmogorov distance of every coordinate after the
      last round is at most ``0.56 * sqrt(threshold / d_out)`` given that the
      input of that round passes.
    * ``target="vq"`` (block and vector codebooks, which also need
      coordinates nearly uncorrelated): 2 rounds when ``x`` passes, else 3.
      The pair correlation after two rounds has RMS at most
      ``sqrt(2 * threshold / d_out)`` given that their input passes; one
      round is never enough, since its pair dependence is set by the Walsh
      spectrum of ``x**2``, which no O(d) statistic sees.

    Because ``E[kappa(R x)] = 3 - 2 rho4(x) <= 3`` whatever ``x``, one
    extra round is all a failing vector needs, so the caps (2 and 3) are
    reached only by vectors that failed on input; with these caps the
    decision costs one O(d) pass over ``x`` and no round.

    Parameters
    ----------
    x : array_like, shape (n, d)
        Vectors; converted once to float32.
    target : {"scalar", "vq"}, default "scalar"
    threshold : float, optional
        Largest passing ``kappa``; default
        :data:`rhtann.rounds.DEFAULT_THRESHOLD` = 8. Gaussian data has
        ``kappa`` about 3 (standard deviation about ``sqrt(96 / d)``), so 8
        leaves it one round for ``d >= 32``, while one-hot, pair and sparse
        indicator vectors (``kappa = d / m`` for ``m`` nonzeros) fail as long
        as ``m < d / 8``.
    rht : RHT, optional
        Transform whose layout and signs are used (its ``d_in`` must be
        ``d``). Default: ``RHT(d, seed=seed, layout=layout)``.
    seed : int, default 12345
    layout : str, default "pad"

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, dtype uint8, values in ``[1, 2]`` for ``"scalar"``
        and ``[2, 3]`` for ``"vq"``.

    Examples
    --------
    >>> import numpy as np, rhtann
    >>> x = np.zeros((2, 256), dtype="float32"); x[0, 0] = 1.0
    >>> x[1] = np.random.default_rng(0).standard_normal(256)
    >>> rhtann.choose_rounds(x).tolist()
    [2, 1]
    """
    check_target(target)
    thr = check_threshold(threshold)
    if rht is None:
        x = as_matrix(x, "x", None)
        rht = RHT(x.shape[1], seed=seed, layout=layout)
    elif not isinstance(rht, RHT):
        raise TypeError(f"rht must be an rhtann.RHT or None; got {type(rht).__name__}")
    else:
        x = as_matrix(x, "x", rht.d_in)
    return rounds_per_vector(x, rht.layout_, rht.signs_, target, thr)


__all__ = ["RHT", "choose_rounds"]
