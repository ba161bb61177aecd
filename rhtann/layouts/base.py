"""The interface every coordinate layout implements.

A layout owns how a ``d``-dimensional vector meets the Hadamard matrix: the
output dimension ``d_out``, the length of each round's sign vector, and the
kernels that apply and invert rounds. :class:`rhtann.RHT` holds the signs and
the round count and calls only the methods declared here, so it never needs
to know which layout it has.

Every method takes trusted arrays: C-contiguous float32 or float64 of the
documented shapes, validated by the caller. NaN and infinity are not errors
here; they are reported through the returned ``bad`` flag (or, for
``moments``, show in the sums) for the caller to raise with its own argument
name.
"""

from __future__ import annotations

import abc

import numpy as np


class Layout(abc.ABC):
    """A coordinate layout of the randomized Hadamard transform.

    Attributes
    ----------
    name : str
        Registry name (``"pad"``, ``"keep"``).
    d : int
        Input dimension.
    d_out : int
        Output dimension.
    sign_length : int
        Entries of each round's sign vector.
    """

    name: str = ""
    d: int
    d_out: int
    sign_length: int

    @abc.abstractmethod
    def forward(
        self,
        x: np.ndarray,
        signs: np.ndarray,
        rounds: int,
        *,
        first: int = 0,
        out: np.ndarray | None = None,
        moments: np.ndarray | None = None,
    ) -> tuple[np.ndarray, bool]:
        """Apply rounds ``first .. first + rounds - 1`` to the rows of ``x``.

        Parameters
        ----------
        x : ndarray, C-contiguous float32 or float64
            Shape ``(n, d)`` when ``first == 0``; shape ``(n, d_out)`` (rows
            already carried through rounds ``0 .. first - 1``) otherwise.
            Not modified.
        signs : ndarray, shape (>= first + rounds, sign_length)
            Sign vector of each round, in the dtype of ``x``.
        rounds : int
            Number of rounds to apply, >= 1.
        first : int, default 0
            Index of the first round to apply.
        out : ndarray, shape (n, d_out), dtype of ``x``, C-contiguous, optional
            Output buffer; a new one comes from
            :func:`rhtann.layouts.output.empty_output` when None.
        moments : ndarray, shape (2, n), dtype of ``x``, zeroed, optional
            Receives each input row's sum of squares (row 0) and sum of
            fourth powers (row 1). A NaN or infinity in ``x`` then shows in
            these sums and ``bad`` may be False: the caller checks them.

        Returns
        -------
        y : ndarray, shape (n, d_out), dtype of ``x``
            ``out`` when given.
        bad : bool
            True when ``x`` held a NaN or an infinity.
        """

    @abc.abstractmethod
    def inverse(
        self, y: np.ndarray, signs: np.ndarray, rounds: int, *, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool]:
        """Invert rounds ``0 .. rounds - 1``.

        Parameters
        ----------
        y : ndarray, shape (n, d_out), C-contiguous float32 or float64
        signs : ndarray, shape (>= rounds, sign_length), dtype of ``y``
        rounds : int
        out : ndarray, shape (n, d), dtype of ``y``, C-contiguous, optional

        Returns
        -------
        x : ndarray, shape (n, d), dtype of ``y``
            The exact preimage for ``y`` in the range of :meth:`forward`,
            the least-squares preimage otherwise.
        bad : bool
            True when ``y`` held a NaN or an infinity.
        """

    def forward_checked(
        self,
        x: np.ndarray,
        signs: np.ndarray,
        rounds: int,
        *,
        first: int = 0,
        out: np.ndarray | None = None,
        moments: np.ndarray | None = None,
    ) -> tuple[np.ndarray, bool, bool]:
        """:meth:`forward` that also says whether the output may hold a NaN or infinity.

        Returns
        -------
        y, bad
            As in :meth:`forward`.
        suspect : bool
            False only when every value written to ``y`` is known to be
            finite; True means the caller must scan ``y``. This default
            knows nothing about the output and returns True; layouts whose
            kernels check the values they store override it.
        """
        y, bad = self.forward(x, signs, rounds, first=first, out=out, moments=moments)
        return y, bad, True

    def inverse_checked(
        self, y: np.ndarray, signs: np.ndarray, rounds: int, *, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool, bool]:
        """:meth:`inverse` with the ``suspect`` flag of :meth:`forward_checked`."""
        x, bad = self.inverse(y, signs, rounds, out=out)
        return x, bad, True

    def native_faiss(self, seed: int, rounds: int):
        """A native faiss VectorTransform equal to ``rounds`` rounds with ``seed``, or None.

        None means that only a dense ``faiss.LinearTransform`` reproduces the
        layout (built by :meth:`rhtann.RHT.to_faiss`).
        """
        return None


__all__ = ["Layout"]
