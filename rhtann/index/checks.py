"""Checks of the assumptions codecs and wrapped faiss indexes make about their input.

:func:`check_codec_input` warns at ``train`` when a codec's input assumption
does not hold on the training sample (:class:`CodecAssumptionWarning`).
:func:`trained_space_evidence` is the heuristic :func:`rhtann.wrap` uses to
warn that a trained faiss index was trained in the unrotated space
(:class:`UnrotatedTrainingWarning`).
"""

from __future__ import annotations

import re
import warnings

import faiss
import numpy as np

from ..transform import RHT
from . import faiss_glue as glue


class CodecAssumptionWarning(RuntimeWarning):
    """A codec's input assumption does not hold on the training sample."""


class UnrotatedTrainingWarning(RuntimeWarning):
    """A trained faiss index handed to :func:`rhtann.wrap` looks trained in the unrotated space."""


# ----------------------------------------------------------------------
# codec input assumptions
# ----------------------------------------------------------------------

#: faiss factory tokens of codes that assume unit-norm input, with what they do otherwise.
#: faiss's TurboQuant MSE codes (``SQtqmse{b}``) quantize each coordinate of
#: the rotated vector against the fixed Lloyd-Max grid of a unit vector's
#: coordinate and store no norm. ``SQtq{b}``, ``EDEN{b}`` and ``RaBitQ`` store
#: a per-vector scale; their error is scale invariant.
UNIT_NORM_TOKENS = re.compile(r"SQtqmse\d+")

#: Norm ratio tolerated: warn when the median training norm is outside
#: ``[1 / NORM_RATIO, NORM_RATIO]`` or when more than :data:`NORM_OUTLIER_SHARE`
#: of the rows are.
NORM_RATIO = 1.25
NORM_OUTLIER_SHARE = 0.05

#: Leading training rows :class:`rhtann.Index` checks.
SAMPLE_ROWS = 16384


def unit_norm_tokens(faiss_key: str) -> list[str]:
    """Tokens of ``faiss_key`` whose codes assume unit-norm input."""
    return [t.strip() for t in faiss_key.split(",") if UNIT_NORM_TOKENS.fullmatch(t.strip())]


def check_codec_input(faiss_key: str, x: np.ndarray, metric: str, spec: str) -> dict | None:
    """Warn when the training rows break an input assumption of the key's codec.

    Parameters
    ----------
    faiss_key : str
        The faiss part of the spec.
    x : ndarray, shape (n, d), float32
        Training rows as the index prepares them (L2-normalized for the
        cosine metric), before rotation; rotations keep norms.
    metric : str
        Canonical metric name.
    spec : str
        The whole spec, named in the message.

    Returns
    -------
    dict or None
        None when the key makes no norm assumption, else ``{"tokens",
        "median_norm", "share_off"}`` (``share_off``: share of rows whose norm
        is off by more than :data:`NORM_RATIO`).

    Warns
    -----
    CodecAssumptionWarning
        When the median norm or too many rows are off.
    """
    tokens = unit_norm_tokens(faiss_key)
    if not tokens or x.shape[0] == 0:
        return None
    norms = np.linalg.norm(x.astype(np.float64, copy=False), axis=1)
    median = float(np.median(norms))
    with np.errstate(divide="ignore"):
        off = np.abs(np.log(norms)) > np.log(NORM_RATIO)
    share = float(np.mean(off))
    facts = {"tokens": tokens, "median_norm": median, "share_off": share}
    median_off = not median > 0 or abs(np.log(median)) > np.log(NORM_RATIO)
    if median_off or share > NORM_OUTLIER_SHARE:
        warnings.warn(
            f"spec {spec!r}: faiss {', '.join(tokens)} assumes unit-norm input (it stores no "
            f"norm), but the training vectors have median norm {median:.4g} and "
            f"{100 * share:.1f}% of them are off by more than a factor {NORM_RATIO}; "
            f"its codes will be poor. Use metric='cosine' if direction is what matters, "
            f"normalize the vectors yourself, or use a code that stores a per-vector norm "
            f"(faiss SQtq{{b}} or EDEN{{b}}, rhtann DTQ{{b}}, or SQ{{b}}).",
            CodecAssumptionWarning,
            stacklevel=3,
        )
    return facts


# ----------------------------------------------------------------------
# wrap: was a trained index trained in the rotated space?
# ----------------------------------------------------------------------

#: Probe vectors drawn from a trained codebook.
PROBE_ROWS = 2048

#: Unevenness ratio beyond which :func:`rhtann.wrap` warns (see :func:`trained_space_evidence`).
UNEVEN_RATIO = 2.0
UNEVEN_MARGIN = 0.25


def _probe(index, rng: np.random.Generator) -> np.ndarray | None:
    """Vectors that show the spread a trained index learned, per dimension, or None.

    IVF: the coarse centroids. PQ: random combinations of the sub-quantizer
    centroids. Scalar quantizers with per-dimension ranges: uniform draws in
    the trained box. None for anything else (or too few vectors to tell).
    """
    for obj in glue.walk_indexes(index):
        if isinstance(obj, faiss.IndexIVF) and obj.is_trained and obj.nlist >= 16:
            quant = obj.quantizer
            return quant.reconstruct_n(0, quant.ntotal)
        pq = getattr(obj, "pq", None)
        if isinstance(pq, faiss.ProductQuantizer) and obj.is_trained:
            cent = faiss.vector_to_array(pq.centroids).reshape(pq.M, pq.ksub, pq.dsub)
            pick = rng.integers(0, pq.ksub, size=(PROBE_ROWS, pq.M))
            return np.concatenate([cent[m][pick[:, m]] for m in range(pq.M)], axis=1)
        state = glue.scalar_quantizer_state(obj) if obj.is_trained else None
        if state is not None and state[1].size == 2 * obj.d:
            vmin, vdiff = state[1][: obj.d], state[1][obj.d :]
            return vmin + rng.random((PROBE_ROWS, obj.d), dtype=np.float32) * vdiff
    return None


def _unevenness(z: np.ndarray) -> float:
    """Coefficient of variation of the per-dimension variances of ``z``."""
    var = z.astype(np.float64).var(axis=0)
    mean = float(var.mean())
    return float(var.std() / mean) if mean > 0 else 0.0


def trained_space_evidence(index, seed: int = 0) -> dict | None:
    """Does a trained faiss index's state look trained in an unrotated space?

    The heuristic: after a random rotation, every coordinate carries about
    the same share of the variance, so the per-dimension spread of what an
    index learned from rotated vectors (coarse centroids, PQ centroids, SQ
    ranges; see :func:`_probe`) is about as even as it is after rotating
    those probe vectors once more with a fresh random rotation. A state
    learned from unrotated data with uneven per-dimension spread is much
    less even before that extra rotation than after it. The evidence is
    ``u_state`` and ``u_mixed``, the coefficients of variation of the
    per-dimension variances before and after; it is judged unrotated when
    ``u_state > UNEVEN_RATIO * u_mixed + UNEVEN_MARGIN``. Data whose spread is
    already even in its own coordinates gives no evidence either way (and
    then the rotation matters little to a trained quantizer).

    Returns
    -------
    dict or None
        None when the index has no state this can read; else
        ``{"u_state", "u_mixed", "unrotated"}``.
    """
    rng = np.random.default_rng(seed)
    z = _probe(index, rng)
    if z is None or z.shape[0] < 16:
        return None
    z = np.ascontiguousarray(z, dtype=np.float32)
    z = z - z.mean(axis=0)
    mixed = RHT(z.shape[1], 2, (seed + 1) % 2**63, "keep").apply(z)
    u_state, u_mixed = _unevenness(z), _unevenness(mixed)
    return {
        "u_state": u_state,
        "u_mixed": u_mixed,
        "unrotated": bool(u_state > UNEVEN_RATIO * u_mixed + UNEVEN_MARGIN),
    }


__all__ = [
    "CodecAssumptionWarning",
    "NORM_RATIO",
    "UNEVEN_RATIO",
    "UnrotatedTrainingWarning",
    "check_codec_input",
    "trained_space_evidence",
    "unit_norm_tokens",
]
