"""Input checks of the public edge.

The public methods (:class:`rhtann.RHT`, :class:`rhtann.Index`,
:func:`rhtann.moment_stats`...) call these once, with the caller's argument
name; everything below them receives trusted C-contiguous arrays. Every check
raises an error whose message names the argument, the expected shape or
dtype, and what arrived.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

#: Largest vector dimension rhtann accepts (``RHT``, ``Index``, and files
#: declaring a dimension). Checked before anything is allocated.
MAX_D = 2**20


def check_dim(d: object, name: str = "d") -> int:
    """Return ``d`` as an int in ``[1, MAX_D]`` or raise naming ``name``."""
    return check_int(d, name, 1, MAX_D)


def as_matrix(
    x: object, name: str, d: int | None, *, dtype: type = np.float32
) -> np.ndarray:
    """Convert ``x`` to a C-contiguous 2-D array of ``dtype``, once.

    Parameters
    ----------
    x : array_like, shape (n, d)
        Floating-point or integer values. C- or F-ordered arrays and
        non-contiguous views are accepted; the input is never modified.
    name : str
        Argument name used in error messages.
    d : int or None
        Required number of columns, or None to accept any.
    dtype : numpy dtype, default float32
        Output dtype.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, d)``, C-contiguous, dtype ``dtype``. It is ``x`` itself
        when no conversion is needed.

    Raises
    ------
    TypeError
        If ``x`` is not numeric (bool, complex, object, strings...).
    ValueError
        If ``x`` is not 2-D or has the wrong number of columns.

    Notes
    -----
    Finiteness is not checked here: the kernels detect NaN and infinity while
    they read the rows, which saves a pass over the data.
    """
    if (
        type(x) is np.ndarray
        and x.dtype == dtype
        and x.ndim == 2
        and (d is None or x.shape[1] == d)
        and x.flags.c_contiguous
    ):
        return x  # already what the kernels take: the common case of every search call
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            expected = f"(n, {d})" if d is not None else "(n, d)"
            raise TypeError(
                f"{name} must be a numeric array of shape {expected}; "
                f"got {type(x).__name__} that numpy cannot convert ({exc})"
            ) from None
    _check_dtype_shape(np.dtype(x.dtype), tuple(x.shape), name, d)
    with np.errstate(over="ignore"):  # overflow to inf is reported by the kernels
        return np.ascontiguousarray(x, dtype=dtype)


def _check_dtype_shape(dtype: np.dtype, shape: tuple[int, ...], name: str, d: int | None) -> None:
    expected = f"(n, {d})" if d is not None else "(n, d)"
    if dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must have a float or integer dtype (float32 preferred) "
            f"and shape {expected}; got dtype {dtype}"
        )
    if len(shape) != 2:
        hint = f" Use {name}.reshape(1, -1) for a single vector." if len(shape) == 1 else ""
        raise ValueError(
            f"{name} must be a 2-D array of shape {expected}; got a {len(shape)}-D "
            f"array of shape {shape}.{hint}"
        )
    if d is not None and shape[1] != d:
        raise ValueError(
            f"{name} must have shape {expected}; got shape {shape} "
            f"({shape[1]} columns instead of {d})"
        )


def as_rows64(x: object, name: str) -> np.ndarray:
    """:func:`as_matrix` that keeps float64 input as float64 (other dtypes become float32)."""
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return as_matrix(x, name, None, dtype=np.float64)
    return as_matrix(x, name, None)


def check_rows(x: object, name: str, d: int) -> object:
    """Check the shape and dtype of a possibly lazy 2-D source without reading it.

    Objects with ``shape``, ``dtype`` and ``__getitem__`` (numpy arrays,
    memmaps, h5py datasets) are returned as they are, to be converted one
    chunk at a time with :func:`as_matrix`; anything else is converted now.

    Raises
    ------
    TypeError, ValueError
        As :func:`as_matrix`.
    """
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__")):
        return as_matrix(x, name, d)
    _check_dtype_shape(np.dtype(x.dtype), tuple(x.shape), name, d)
    return x


def check_ids(ids: object, n: int, name: str = "ids", *, new: bool = False) -> np.ndarray:
    """Return ``ids`` as a C-contiguous int64 array of shape ``(n,)`` or raise ValueError.

    Unsigned values of ``2**63`` and above are rejected rather than wrapped
    to negative ids. With ``new=True`` (ids of vectors being added) every id
    must also lie in ``[0, 2**63 - 1]`` (faiss returns -1 for "no result")
    and appear once.
    """
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu" or arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must be a 1-D integer array of length {n} (one per vector); "
            f"got dtype {arr.dtype} and shape {arr.shape}"
        )
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} must be below 2**63 (faiss ids are int64); got {int(arr.max())}")
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if new and out.size:
        if out.min() < 0:
            raise ValueError(
                f"{name} must be >= 0 (faiss uses -1 for a missing result); got {int(out.min())}"
            )
        srt = np.sort(out)
        same = np.flatnonzero(srt[1:] == srt[:-1])
        if same.size:
            first = int(srt[same[0]])
            raise ValueError(f"{name} must be distinct; id {first} appears more than once")
    return out


def check_out(out: object, shape: tuple[int, ...], dtype: object) -> None:
    """Check a caller's output buffer: a writeable C-contiguous ndarray of ``shape`` and ``dtype``.

    Raises
    ------
    ValueError
        Naming the expected shape and dtype and what arrived.
    """
    dtype = np.dtype(dtype)
    if not (
        isinstance(out, np.ndarray)
        and out.dtype == dtype
        and out.shape == shape
        and out.flags.c_contiguous
        and out.flags.writeable
    ):
        shape_got, dtype_got = getattr(out, "shape", None), getattr(out, "dtype", None)
        got = f"{type(out).__name__} of shape {shape_got} and dtype {dtype_got}"
        if isinstance(out, np.ndarray):
            got += f" (C-contiguous {out.flags.c_contiguous}, writeable {out.flags.writeable})"
        raise ValueError(f"out must be a writeable C-contiguous {dtype} array of shape {shape}; got {got}")


def check_finite_flag(bad: bool, name: str) -> None:
    """Raise the standard error for a non-finite input when ``bad`` is set."""
    if bad:
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")


def check_int(value: object, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high``."""
    if type(value) is int:  # the common case, without the abstract-class check below
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"{name} must be {bound}; got {value}")
        return value
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}; got {value}")
    return value
