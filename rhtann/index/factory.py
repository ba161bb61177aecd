"""Building indexes: :func:`index_factory` and :func:`wrap` (an RHT in front of a faiss index)."""

from __future__ import annotations

import warnings
from typing import Any

import faiss

from ..transform import RHT
from .checks import UnrotatedTrainingWarning, trained_space_evidence
from .core import Index


def index_factory(d: int, spec: str, metric: str = "l2", **kwargs: Any) -> Index:
    """Build an :class:`Index` (named after ``faiss.index_factory``).

    Parameters
    ----------
    d : int
    spec : str
        See :class:`Index`.
    metric : {"l2", "ip", "cosine"}, default "l2"
    **kwargs
        Keyword options of :class:`Index` (``seed``, ``threads``...).
    """
    return Index(d, spec, metric, **kwargs)


def wrap(faiss_index, rht: RHT):
    """Put ``rht`` in front of an existing faiss index.

    Contract: ``faiss_index.d`` must equal ``rht.d_out`` (the index lives in
    rotated space) and the index must be empty. If it is untrained, training
    the returned index trains it on rotated vectors; if it is already
    trained, that must have been done on vectors rotated by this same
    ``rht``, otherwise its centroids/codebooks are in the wrong space. A
    trained index whose state looks learned in an unrotated space (the
    heuristic of :func:`rhtann.index.checks.trained_space_evidence`: its
    coarse centroids, PQ centroids or SQ ranges spread much less evenly over
    the dimensions than they do after one more random rotation) gets an
    :class:`rhtann.UnrotatedTrainingWarning`.

    Parameters
    ----------
    faiss_index : faiss.Index
        Any faiss index of dimension ``rht.d_out``, e.g. from
        ``faiss.index_factory(rht.d_out, "IVF256,SQ8")``.
    rht : RHT
        A trained transform.

    Returns
    -------
    faiss.IndexPreTransform
        A pure faiss index of dimension ``rht.d_in`` that rotates with
        ``rht.to_faiss()`` and then uses ``faiss_index`` (not copied: both
        share it). It keeps Python references to both parts.

    Raises
    ------
    ValueError
        If the dimensions disagree or the index already holds vectors.

    Warns
    -----
    UnrotatedTrainingWarning
        When the trained index looks trained in an unrotated space.
    """
    if not isinstance(rht, RHT):
        raise TypeError(f"rht must be an rhtann.RHT; got {type(rht).__name__}")
    if not isinstance(faiss_index, faiss.Index):
        raise TypeError(f"faiss_index must be a faiss.Index; got {type(faiss_index).__name__}")
    if not rht.is_trained:
        raise RuntimeError("rht is not trained; call rht.train(x) first")
    if faiss_index.d != rht.d_out:
        raise ValueError(
            f"faiss_index.d must equal rht.d_out = {rht.d_out} (the index works on rotated "
            f"vectors); got faiss_index.d = {faiss_index.d}. Build it with "
            f"faiss.index_factory(rht.d_out, ...)."
        )
    if faiss_index.ntotal > 0:
        raise ValueError(
            f"faiss_index must be empty; it holds {faiss_index.ntotal} vectors, which were not "
            "rotated by rht (wrap the index before adding, then add through the wrapper)"
        )
    if faiss_index.is_trained:
        evidence = trained_space_evidence(faiss_index, rht.seed)
        if evidence is not None and evidence["unrotated"]:
            warnings.warn(
                "faiss_index is trained, and its trained state looks learned from unrotated "
                f"vectors: its per-dimension spread is uneven (coefficient of variation "
                f"{evidence['u_state']:.3g}) where one more random rotation makes it even "
                f"({evidence['u_mixed']:.3g}). Train it on rht.apply(x), or wrap it untrained "
                "and train the wrapper.",
                UnrotatedTrainingWarning,
                stacklevel=2,
            )
    return faiss.IndexPreTransform(rht.to_faiss(), faiss_index)


__all__ = ["index_factory", "wrap"]
