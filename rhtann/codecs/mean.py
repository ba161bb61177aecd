"""Distributed mean estimation with one shared RHT and rhtann's codecs.

Every client rotates its vector with the same RHT (same seed), encodes it
under its own id (so dithers are independent across clients), and the
server averages the decoded vectors in the rotated space and applies the
inverse rotation once.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import as_matrix, check_int
from ..transform import RHT
from .base import Codec
from .registry import make_codec, parse_token

#: vNMSE of DRIVE's unbiased 1-bit codec for one vector under a uniform random rotation (limit in d).
DRIVE1_VNMSE = math.pi / 2 - 1


def _codec_seed(seed: int) -> int:
    """Seed of the codec's dithers, derived from (and different from) the rotation seed."""
    return (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64


def mean_estimate(
    vectors: object,
    codec: str | Codec,
    seed: int = 0,
    rounds: int | None = None,
) -> np.ndarray:
    """Estimate the mean of the clients' vectors from their codes.

    Parameters
    ----------
    vectors : array_like, shape (n, d)
        One row per client, finite; converted to float32.
    codec : str or Codec
        A codec token (``"DTQ4"``, ``"DSQ4"``, ``"E8Q2"``, ``"DRIVE1"``, see
        :func:`rhtann.codecs.registry.make_codec`) or a codec instance whose
        ``d`` equals the rotated dimension ``RHT(d).d_out``.
    seed : int, default 0
        Seed of the shared rotation; a token's codec gets a seed derived
        from it. In [0, 2**64).
    rounds : int, optional
        RHT rounds; default the token's recommended count (1 for a codec
        instance).

    Returns
    -------
    ndarray of float64, shape (d,)
        ``R^-1 (1/n) sum_i decode(encode(R v_i, i), i)``, client ``i``
        stored under id ``i``.

    Raises
    ------
    ValueError
        If ``vectors`` has no rows, ``rounds`` is not 1-3 or the codec's
        dimension does not match the rotation.
    """
    x = as_matrix(vectors, "vectors", None)
    n, d = x.shape
    if n == 0:
        raise ValueError("vectors must hold at least one row (client); got shape (0, d)")
    if not np.isfinite(x).all():
        raise ValueError("vectors holds non-finite values (NaN or inf)")
    seed = check_int(seed, "seed", 0, 2**64 - 1)
    if rounds is None:
        rounds = parse_token(codec)[0].rounds if isinstance(codec, str) else 1
    rounds = check_int(rounds, "rounds", 1, 3)
    rht = RHT(d, rounds=rounds, seed=seed)
    if isinstance(codec, str):
        c = make_codec(codec, rht.d_out, _codec_seed(seed))
    elif isinstance(codec, Codec):
        c = codec
        if c.d != rht.d_out:
            raise ValueError(
                f"codec {c.name!r} has d={c.d}, but the rotated vectors have d_out={rht.d_out} "
                f"(RHT of d={d}); build the codec for d_out"
            )
    else:
        raise TypeError(f"codec must be a token str or a Codec; got {type(codec).__name__}")
    y = rht.apply(x)
    ids = np.arange(n, dtype=np.int64)
    yh = c.decode(c.encode(y, ids), ids)
    avg = yh.mean(axis=0, dtype=np.float64)
    # the inverse rotation of the float64 average, through the exact float32 inverse (linear map)
    hi = avg.astype(np.float32)
    lo = (avg - hi).astype(np.float32)
    back = rht.reverse_transform(np.stack([hi, lo]))
    return back[0].astype(np.float64) + back[1].astype(np.float64)


def vnmse(vectors: object, estimate: object) -> float:
    """Normalized mean squared error of a mean estimate.

    Parameters
    ----------
    vectors : array_like, shape (n, d)
        The clients' vectors.
    estimate : array_like, shape (d,)

    Returns
    -------
    float
        ``||mean - estimate||^2 / ((1/n) sum_i ||v_i||^2)``. For ``n``
        clients with independent, unbiased errors this is the per-client
        vNMSE divided by ``n``.
    """
    x = np.asarray(vectors, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    if x.ndim != 2 or e.shape != (x.shape[1],):
        raise ValueError(f"vectors must be (n, d) and estimate (d,); got {x.shape} and {e.shape}")
    den = float((x**2).sum(1).mean())
    if den == 0.0:
        raise ValueError("vectors are all zero; the vNMSE is undefined")
    return float(((x.mean(0) - e) ** 2).sum() / den)


__all__ = ["DRIVE1_VNMSE", "mean_estimate", "vnmse"]
