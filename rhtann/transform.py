"""The randomized Hadamard transform (RHT) as a faiss-style VectorTransform."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _fileformat
from ._signs import sign_vectors
from ._validation import as_matrix, check_finite_flag, check_int
from .layouts import LAYOUTS, make_layout

#: Largest number of rounds; sign vectors are always drawn for all of them so
#: that the signs of a k-round transform are a prefix of any longer one's.
MAX_ROUNDS = 3


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
    rounds : {1, 2, 3}, default 3
        Number of randomized Hadamard rounds. One round makes typical data
        look Gaussian coordinate-wise but fails on sparse worst cases; two
        bring every coordinate's marginal close to Gaussian (enough for
        scalar quantizers); three also decorrelate coordinates (vector and
        block codebooks).
    seed : int, default 12345
        Seed of the SplitMix64 sign stream, in ``[0, 2**64)``. With
        ``rounds=3`` and ``layout="pad"`` the transform equals
        ``faiss.HadamardRotation(d, seed)`` for seeds below ``2**32``.
    layout : str, default "pad"
        How dimensions that are not powers of two are handled: ``"pad"``
        zero-pads to the next power of two (``d_out = p``).

    Attributes
    ----------
    d_in : int
        Input dimension.
    d_out : int
        Output dimension.
    is_trained : bool
        Whether :meth:`apply` may be called. Fixed round counts need no
        training.
    n_rounds : int
        Number of rounds applied by :meth:`apply`.
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
        self, d: int, rounds: int | str = 3, seed: int = 12345, layout: str = "pad"
    ) -> None:
        self.d_in = check_int(d, "d", 1)
        if rounds not in (1, 2, 3) or isinstance(rounds, bool):
            raise ValueError(f"rounds must be 1, 2 or 3; got {rounds!r}")
        self.rounds = int(rounds)
        self.seed = check_int(seed, "seed", 0, 2**64 - 1)
        if not isinstance(layout, str) or layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {sorted(LAYOUTS)}; got {layout!r}")
        self.layout = layout
        self._layout = make_layout(layout, self.d_in)
        self.d_out = self._layout.d_out
        self.n_rounds: int | None = self.rounds
        self.is_trained = True
        self.signs = sign_vectors(self.seed, MAX_ROUNDS, self._layout.sign_length)
        self._signs64: np.ndarray | None = None

    # ------------------------------------------------------------------
    # VectorTransform interface
    # ------------------------------------------------------------------

    def train(self, x: Any) -> "RHT":
        """Check ``x`` and mark the transform trained.

        A fixed round count needs no data; the call only validates ``x``.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Training vectors (float or integer dtype).

        Returns
        -------
        RHT
            ``self``.
        """
        as_matrix(x, "x", self.d_in)
        self.is_trained = True
        return self

    def _check_trained(self) -> int:
        if not self.is_trained or self.n_rounds is None:
            raise RuntimeError("this RHT is not trained yet; call train(x) first")
        return self.n_rounds

    def apply(self, x: Any) -> np.ndarray:
        """Rotate the rows of ``x``.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            Float or integer dtype; converted once to contiguous float32.
            Never modified.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d_out)``, dtype float32.
        """
        rounds = self._check_trained()
        x = as_matrix(x, "x", self.d_in)
        if x.shape[0] == 0:
            return np.empty((0, self.d_out), dtype=np.float32)
        y, bad = self._layout.forward(x, self.signs, rounds)
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
        return {"d": self.d_in, "rounds": self.rounds, "seed": self.seed, "layout": self.layout}

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
            reference to the object while faiss uses it.

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
        return {**self.get_params(), "n_rounds": self.n_rounds, "is_trained": self.is_trained}

    @classmethod
    def _from_state(cls, state: dict) -> "RHT":
        obj = cls(state["d"], state["rounds"], state["seed"], state["layout"])
        obj.n_rounds = state["n_rounds"]
        obj.is_trained = state["is_trained"]
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
        return hash(tuple(sorted(self._state().items())))

    def __repr__(self) -> str:
        return (
            f"RHT(d={self.d_in}, rounds={self.rounds!r}, seed={self.seed}, "
            f"layout={self.layout!r})"
        )
