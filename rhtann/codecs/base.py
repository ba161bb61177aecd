"""The interface every rhtann codec implements.

A codec maps rotated vectors ``y`` (float32, shape ``(n, d)``) to fixed-size
byte codes and back. Codecs that use randomness (dithers) derive it from
``(seed, id)`` for each vector, so decoding is deterministic, costs no stored
bits, and copies of one vector stored under different ids get independent
randomness.

The search side is split in two steps so that scanners can reuse the work
done for a query across many blocks of codes:

* :meth:`Codec.prepare` turns a batch of queries into a per-query state;
* :meth:`Codec.scan` scores one block of codes against that state.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Codec:
    """Base class of the codecs.

    Parameters
    ----------
    d : int
        Dimension of the vectors the codec encodes (after the rotation).
    seed : int
        Seed of the codec's own randomness (dithers).

    Attributes
    ----------
    name : str
        Spec token of the codec, e.g. ``"DTQ4"``.
    d : int
        Input dimension.
    code_size : int
        Bytes per encoded vector, everything stored per vector included
        (norms and scales too).
    is_trained : bool
        Whether :meth:`train` has run (codecs that learn nothing are trained
        from the start).
    """

    name: str = ""
    code_size: int = 0

    def __init__(self, d: int, seed: int = 0) -> None:
        self.d = int(d)
        self.seed = int(seed)
        self.is_trained = True

    # -- learning ---------------------------------------------------------
    def train(self, y: np.ndarray) -> None:
        """Learn what the codec needs from rotated training vectors.

        Parameters
        ----------
        y : ndarray of float32, shape (n, d), C-contiguous, finite
        """
        self.is_trained = True

    # -- codes ------------------------------------------------------------
    def encode(self, y: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Encode rotated vectors.

        Parameters
        ----------
        y : ndarray of float32, shape (n, d), C-contiguous, finite
        ids : ndarray of int64, shape (n,)
            The ids the vectors are stored under (seed the dithers).

        Returns
        -------
        ndarray of uint8, shape (n, code_size)
        """
        raise NotImplementedError

    def decode(self, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Reconstruct vectors from their codes.

        Parameters
        ----------
        codes : ndarray of uint8, shape (n, code_size), C-contiguous
        ids : ndarray of int64, shape (n,)

        Returns
        -------
        ndarray of float32, shape (n, d)
        """
        raise NotImplementedError

    # -- search -------------------------------------------------------------
    def prepare(self, q: np.ndarray) -> Any:
        """Per-query state for :meth:`scan` (default: the queries themselves).

        Parameters
        ----------
        q : ndarray of float32, shape (m, d), C-contiguous, finite
        """
        return q

    def scan(self, state: Any, codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Inner products of the prepared queries with decoded codes.

        The default decodes the block and multiplies; codecs with a faster
        form (lookup tables) override it.

        Parameters
        ----------
        state : object returned by :meth:`prepare` for ``m`` queries
        codes : ndarray of uint8, shape (n, code_size)
        ids : ndarray of int64, shape (n,)

        Returns
        -------
        ndarray of float32, shape (m, n)
            ``scores[i, j] = <q_i, decode(codes)[j]>``.
        """
        return np.ascontiguousarray(state, dtype=np.float32) @ self.decode(codes, ids).T

    # -- state for files ----------------------------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-serializable parameters and named arrays of the learned state."""
        return {"name": self.name, "d": self.d, "seed": self.seed}, {}

    def set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`get_state` returned (validated by the caller's file format)."""
        self.is_trained = True
