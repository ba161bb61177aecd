"""Encoders: rhtann kernels that write a faiss index's codes for it.

After an rhtann rotation, faiss's own encoding loop can be what an ``add``
waits on. An :class:`Encoder` reads the trained state of a faiss sub-index and
writes the bytes faiss would have written, straight into the index's storage
(:class:`rhtann.index.faiss_glue.CodeAppender`), so searching, saving and
exporting are unchanged. :func:`encoder_for` picks one from
:data:`ENCODERS`, the one registry; :class:`rhtann.Index` uses it and falls
back to faiss's ``add`` when no encoder fits.

:class:`SQEncoder` covers faiss's ``IndexScalarQuantizer`` with the quantizer
types ``QT_8bit``, ``QT_4bit``, ``QT_8bit_uniform`` and ``QT_4bit_uniform``
(factory strings ``SQ8``, ``SQ4``, ``SQ8_uniform`` and ``SQ4_uniform``); the
arithmetic is described in :mod:`rhtann.kernels.sq`.
"""

from __future__ import annotations

import abc

import numpy as np

from .._validation import as_matrix, check_out
from ..kernels import sq as _sq
from .faiss_glue import CodeAppender, scalar_quantizer_state


class Encoder(abc.ABC):
    """Writes the codes a trained faiss index stores for rotated vectors.

    Attributes
    ----------
    d : int
        Vector dimension.
    code_size : int
        Bytes per code, equal to the faiss index's ``sa_code_size()``.
    """

    d: int
    code_size: int

    @classmethod
    @abc.abstractmethod
    def for_index(cls, index) -> "Encoder | None":
        """The encoder of a trained faiss index, or None when this class does not fit it.

        A non-None result must write exactly the bytes ``index.sa_encode``
        returns, into storage that :class:`CodeAppender` can grow.
        """

    @abc.abstractmethod
    def encode_into(self, y: np.ndarray, out: np.ndarray) -> int:
        """Encode trusted rows into ``out``.

        Parameters
        ----------
        y : ndarray, shape (n, d), C-contiguous float32
        out : ndarray, shape (n, code_size), uint8, C-contiguous, writeable

        Returns
        -------
        int
            Number of NaN or infinite values met in ``y`` (their codes are
            undefined).
        """

    def encode(self, y: object, out: np.ndarray | None = None) -> np.ndarray:
        """Codes of the rows of ``y``.

        Parameters
        ----------
        y : array_like, shape (n, d)
            Vectors (converted to C-contiguous float32 when they are not).
        out : ndarray, shape (n, code_size), uint8, C-contiguous, writeable, optional
            Output buffer (allocated when None).

        Returns
        -------
        codes : ndarray, shape (n, code_size), uint8

        Raises
        ------
        ValueError
            If ``y`` has the wrong shape or holds NaN or infinity, or ``out``
            is not the buffer described.
        """
        y = as_matrix(y, "y", self.d)
        n = y.shape[0]
        if out is None:
            out = np.empty((n, self.code_size), dtype=np.uint8)
        else:
            check_out(out, (n, self.code_size), np.uint8)
        if n and self.encode_into(y, out):
            raise ValueError("y must be finite; it holds NaN or infinity")
        return out


#: faiss quantizer type name -> (bits per component, one range for all components)
_SQ_TYPES = {
    "QT_8bit": (8, False),
    "QT_4bit": (4, False),
    "QT_8bit_uniform": (8, True),
    "QT_4bit_uniform": (4, True),
}


class SQEncoder(Encoder):
    """faiss scalar-quantizer codes from a numba kernel.

    Build one with :meth:`for_index` from a trained faiss
    ``IndexScalarQuantizer``; :meth:`encode` then returns what the index's
    ``sa_encode`` returns, byte for byte.

    Parameters
    ----------
    bits : {4, 8}
        Bits per component.
    vmin, vdiff : ndarray, shape (d,), float32
        Trained minimum and range of each component.

    Attributes
    ----------
    d : int
        Vector dimension.
    code_size : int
        Bytes per code: ``d`` (8 bits) or ``(d + 1) // 2`` (4 bits).
    """

    def __init__(self, bits: int, vmin: np.ndarray, vdiff: np.ndarray) -> None:
        if bits not in (4, 8):
            raise ValueError(f"bits must be 4 or 8; got {bits!r}")
        vmin = np.ascontiguousarray(vmin, dtype=np.float32)
        vdiff = np.ascontiguousarray(vdiff, dtype=np.float32)
        if vmin.ndim != 1 or vmin.shape != vdiff.shape or vmin.size == 0:
            raise ValueError(
                f"vmin and vdiff must be 1-D float32 arrays of one length d >= 1; "
                f"got shapes {vmin.shape} and {vdiff.shape}"
            )
        self.bits = bits
        self.vmin = vmin
        self.vdiff = vdiff
        self.d = vmin.size
        self.code_size = self.d if bits == 8 else (self.d + 1) // 2

    def __repr__(self) -> str:
        return f"SQEncoder(bits={self.bits}, d={self.d})"

    @classmethod
    def for_index(cls, index) -> "SQEncoder | None":
        """The encoder of a trained faiss ``IndexScalarQuantizer``, or None.

        None unless ``index`` is an ``IndexScalarQuantizer`` (not a subclass
        or wrapper) that is trained and whose quantizer type is one of
        ``QT_8bit``, ``QT_4bit``, ``QT_8bit_uniform``, ``QT_4bit_uniform``.
        """
        state = scalar_quantizer_state(index)
        if state is None or state[0] not in _SQ_TYPES:
            return None
        qtype, trained, code_size = state
        bits, uniform = _SQ_TYPES[qtype]
        d = int(index.d)
        if uniform:
            if trained.size != 2:
                return None
            vmin, vdiff = np.full(d, trained[0], np.float32), np.full(d, trained[1], np.float32)
        else:
            if trained.size != 2 * d:
                return None
            vmin, vdiff = trained[:d], trained[d:]
        enc = cls(bits, vmin, vdiff)
        return enc if enc.code_size == code_size else None

    def encode_into(self, y: np.ndarray, out: np.ndarray) -> int:
        """See :meth:`Encoder.encode_into`."""
        if not y.shape[0]:
            return 0
        kernel = _sq.sq_encode8 if self.bits == 8 else _sq.sq_encode4
        return int(kernel(y, self.vmin, self.vdiff, out))


#: The encoder registry, tried in order by :func:`encoder_for`.
ENCODERS: list[type[Encoder]] = [SQEncoder]


def encoder_for(index) -> Encoder | None:
    """The first encoder of :data:`ENCODERS` that fits ``index``, or None.

    None also when the index's storage cannot be appended to in place.
    """
    if not CodeAppender.supports(index):
        return None
    for cls in ENCODERS:
        enc = cls.for_index(index)
        if enc is not None:
            return enc
    return None


__all__ = ["ENCODERS", "CodeAppender", "Encoder", "SQEncoder", "encoder_for"]
