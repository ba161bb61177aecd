"""Input checks shared by the public classes.

Every check raises an error whose message names the argument, the expected
shape or dtype, and what arrived.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np


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
    expected = f"(n, {d})" if d is not None else "(n, d)"
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must be a numeric array of shape {expected}; "
                f"got {type(x).__name__} that numpy cannot convert ({exc})"
            ) from None
    if x.dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must have a float or integer dtype (float32 preferred) "
            f"and shape {expected}; got dtype {x.dtype}"
        )
    if x.ndim != 2:
        hint = " Use x.reshape(1, -1) for a single vector." if x.ndim == 1 else ""
        raise ValueError(
            f"{name} must be a 2-D array of shape {expected}; got a {x.ndim}-D "
            f"array of shape {x.shape}.{hint}"
        )
    if d is not None and x.shape[1] != d:
        raise ValueError(
            f"{name} must have shape {expected}; got shape {x.shape} "
            f"({x.shape[1]} columns instead of {d})"
        )
    with np.errstate(over="ignore"):  # overflow to inf is reported by the kernels
        return np.ascontiguousarray(x, dtype=dtype)


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
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}; got {value}")
    return value
