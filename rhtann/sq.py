"""Scalar-quantizer encoding in numba, bit-identical to faiss's codes.

faiss's ``IndexScalarQuantizer`` encodes one component at a time in a scalar
loop; after an rhtann rotation that loop, not the rotation, is what an
``add`` waits on. :class:`SQEncoder` reads the trained ranges of a faiss
scalar quantizer and writes the same bytes with a vectorized, multi-threaded
numba kernel; :meth:`rhtann.Index.add` hands the codes to the faiss index
through :class:`CodeAppender` (the codes are written straight into the
index's storage) or ``add_sa_codes``, so searching, saving and exporting are
unchanged.

Supported quantizer types: ``QT_8bit``, ``QT_4bit``, ``QT_8bit_uniform`` and
``QT_4bit_uniform`` (faiss factory strings ``SQ8``, ``SQ4``, ``SQ8_uniform``
(``SQ8U``) and ``SQ4_uniform``). For each component ``i`` with trained
minimum ``vmin[i]`` and range ``vdiff[i]``, faiss computes in float32
``u = clip((x[i] - vmin[i]) / vdiff[i], 0, 1)`` (``u = 0`` where
``vdiff[i] == 0``), then the code ``floor(255 * u)`` with the product rounded
to float32 (8 bits) or ``floor(15 * u)`` with the product in float64 (4 bits,
two components per byte, the even one in the low nibble). The kernels do the
same operations in the same precision.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._validation import as_matrix, check_out

__all__ = ["SQEncoder", "CodeAppender"]


@njit(cache=True, inline="always")
def _unit(v, lo, width):
    """``clip((v - lo) / width, 0, 1)`` in float32, 0 where ``width == 0`` (as faiss)."""
    u = (v - lo) / width
    u = min(max(u, np.float32(0.0)), np.float32(1.0))
    if width == 0:
        u = np.float32(0.0)
    return u


@njit(cache=True, parallel=True)
def sq_encode8(y, vmin, vdiff, codes):
    """8-bit codes: ``codes[r, i] = floor(float32(255) * u)``.

    Parameters
    ----------
    y : ndarray, shape (n, d), float32, C-contiguous
    vmin, vdiff : ndarray, shape (d,), float32
    codes : ndarray, shape (n, d), uint8, C-contiguous
        Output.

    Returns
    -------
    int
        Number of NaN or infinite values met in ``y`` (their codes are
        undefined).
    """
    n, d = y.shape
    k = np.float32(255.0)
    bad = 0
    for r in prange(n):
        yr = y[r]
        cr = codes[r]
        nf = 0
        for i in range(d):
            v = yr[i]
            nf += (v - v) != 0
            cr[i] = np.uint8(np.int32(k * _unit(v, vmin[i], vdiff[i])))
        bad += nf
    return bad


@njit(cache=True, parallel=True)
def sq_encode4(y, vmin, vdiff, codes):
    """4-bit codes: component ``i`` is ``floor(15.0 * float64(u))`` in nibble ``i % 2`` of byte ``i // 2``.

    Arguments and return value as in :func:`sq_encode8`, with ``codes`` of
    shape ``(n, (d + 1) // 2)``.
    """
    n, d = y.shape
    half = d // 2
    bad = 0
    for r in prange(n):
        yr = y[r]
        cr = codes[r]
        nf = 0
        for b in range(half):
            i = 2 * b
            v0 = yr[i]
            v1 = yr[i + 1]
            nf += ((v0 - v0) != 0) + ((v1 - v1) != 0)
            c0 = np.int32(np.float64(_unit(v0, vmin[i], vdiff[i])) * 15.0)
            c1 = np.int32(np.float64(_unit(v1, vmin[i + 1], vdiff[i + 1])) * 15.0)
            cr[b] = np.uint8(c0 | (c1 << 4))
        if d % 2:
            i = d - 1
            v = yr[i]
            nf += (v - v) != 0
            cr[half] = np.uint8(np.int32(np.float64(_unit(v, vmin[i], vdiff[i])) * 15.0))
        bad += nf
    return bad


#: faiss quantizer type name -> (bits per component, one range for all components)
_TYPES = {
    "QT_8bit": (8, False),
    "QT_4bit": (4, False),
    "QT_8bit_uniform": (8, True),
    "QT_4bit_uniform": (4, True),
}


class SQEncoder:
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

        Parameters
        ----------
        index : faiss.Index
            Any faiss index. None is returned unless it is an
            ``IndexScalarQuantizer`` (not a subclass or wrapper) that is
            trained and whose quantizer type is one of ``QT_8bit``,
            ``QT_4bit``, ``QT_8bit_uniform``, ``QT_4bit_uniform``.
        """
        import faiss

        index = faiss.downcast_index(index)
        if type(index) is not faiss.IndexScalarQuantizer or not index.is_trained:
            return None
        sq = index.sq
        kind = next(
            (name for name in _TYPES if getattr(faiss.ScalarQuantizer, name, None) == sq.qtype),
            None,
        )
        if kind is None:
            return None
        bits, uniform = _TYPES[kind]
        trained = faiss.vector_to_array(sq.trained).astype(np.float32, copy=False)
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
        if enc.code_size != index.sa_code_size():
            return None
        return enc

    def encode(self, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Codes of the rows of ``y``.

        Parameters
        ----------
        y : array_like, shape (n, d), float32
            Vectors (converted to C-contiguous float32 when they are not).
        out : ndarray, shape (n, code_size), uint8, C-contiguous, writeable, optional
            Output buffer (allocated when None).

        Returns
        -------
        codes : ndarray, shape (n, code_size), uint8
        """
        y = as_matrix(y, "y", self.d)
        n = y.shape[0]
        if out is None:
            out = np.empty((n, self.code_size), dtype=np.uint8)
        else:
            check_out(out, (n, self.code_size), np.uint8)
        if self._encode_into(y, out):
            raise ValueError("y must be finite; it holds NaN or infinity")
        return out

    def _encode_into(self, y: np.ndarray, out: np.ndarray) -> int:
        """Encode C-contiguous float32 ``y`` into ``out``; return the count of non-finite values."""
        if not y.shape[0]:
            return 0
        kernel = sq_encode8 if self.bits == 8 else sq_encode4
        return int(kernel(y, self.vmin, self.vdiff, out))


class CodeAppender:
    """Append codes to a faiss flat-codes index by writing into its storage.

    ``IndexFlatCodes.add_sa_codes`` grows the code vector once per call and
    copies the codes in; for an ``add`` done in chunks that is one reallocation
    and copy per chunk. This context manager grows the storage once, exposes
    the new rows as a numpy view to encode into, and at exit keeps exactly the
    rows marked as written (all of them, or those written before an error).

    Parameters
    ----------
    index : faiss.IndexFlatCodes
        A flat-codes index that owns its code storage (not memory-mapped).
    n : int
        Number of rows to append.

    Attributes
    ----------
    rows : ndarray, shape (n, code_size), uint8
        View of the new rows inside the index's storage; valid inside the
        ``with`` block only.
    done : int
        Rows written so far, set by the caller; the index keeps
        ``rows[:done]``.

    Examples
    --------
    >>> with CodeAppender(index, len(x)) as app:  # doctest: +SKIP
    ...     encoder.encode(x, out=app.rows)
    ...     app.done = len(x)
    """

    def __init__(self, index, n: int) -> None:
        import faiss

        self.index = faiss.downcast_index(index)
        if not self.supports(self.index):
            raise ValueError(
                "index must be a faiss IndexFlatCodes that owns its codes (not memory-mapped); "
                f"got {type(self.index).__name__}"
            )
        self.n = int(n)
        self.done = 0
        self.rows = np.empty((0, self.index.code_size), np.uint8)

    @staticmethod
    def supports(index) -> bool:
        """Whether ``index`` is a flat-codes index whose storage can be appended to."""
        import faiss

        index = faiss.downcast_index(index)
        return isinstance(index, faiss.IndexFlatCodes) and bool(index.codes.is_owned)

    def __enter__(self) -> "CodeAppender":
        import faiss

        cs = int(self.index.code_size)
        self._start = int(self.index.ntotal)
        total = (self._start + self.n) * cs
        self.index.codes.resize(total)
        if self.n:
            whole = faiss.rev_swig_ptr(self.index.codes.data(), total)
            self.rows = whole.reshape(-1, cs)[self._start :]
        return self

    def __exit__(self, *exc) -> None:
        done = min(max(int(self.done), 0), self.n)
        self.rows = np.empty((0, self.index.code_size), np.uint8)
        self.index.codes.resize((self._start + done) * int(self.index.code_size))
        self.index.ntotal = self._start + done
