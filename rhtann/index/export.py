"""The faiss side of an :class:`rhtann.Index`: export and matching search parameters."""

from __future__ import annotations

from typing import Any

from . import faiss_glue as glue
from .locking import shared


class FaissExport:
    """Methods of :class:`rhtann.Index` that hand its state to plain faiss.

    The host class provides ``rht``, ``d``, ``metric``, ``spec``, ``_subs``
    and ``_check_trained``.
    """

    def search_parameters(self, **params: Any):
        """The faiss ``SearchParameters`` for :meth:`to_faiss`'s index matching these keywords.

        ``exported.search(q, k, params=index.search_parameters(nprobe=8, k_factor=4))``
        searches like ``index.search(q, k, nprobe=8, k_factor=4)``; nested
        stages get nested objects (``IndexRefineSearchParameters`` holding
        ``SearchParametersIVF`` for ``"RHT,IVF64,SQ4,RFlat"``, an HNSW
        coarse quantizer's ``efSearch`` inside ``SearchParametersIVF``).
        ``IndexPreTransform`` passes them through unchanged.

        Parameters
        ----------
        **params
            ``nprobe``, ``efSearch``, ``k_factor`` (see :meth:`search`).

        Returns
        -------
        faiss.SearchParameters or None
            None when no keyword is given.
        """
        self._check_trained("search_parameters")
        return glue.search_parameters(self._subs[0], params, self.spec.faiss_key)

    @shared
    def to_faiss(self):
        """Return a pure faiss index with the same search results.

        Returns
        -------
        faiss.Index
            An ``IndexPreTransform`` holding ``rht.to_faiss()`` (faiss's
            ``HadamardRotation`` for 3 padded rounds, a ``LinearTransform``
            otherwise) in front of a copy of the trained sub-index, preceded
            by ``NormalizationTransform`` for the cosine metric. Without an
            RHT token it is a copy of the sub-index. ``faiss.write_index``
            saves it; after ``faiss.read_index`` of an index holding a
            ``LinearTransform`` call
            :func:`rhtann.index.faiss_glue.repair_orthonormal`.

        Notes
        -----
        With ``HadamardRotation`` the rotated vectors, and so the results,
        are bit-identical to this Index's. A ``LinearTransform`` computes the
        same rotation as a matrix product, which rounds differently in the
        last float32 bits.
        """
        self._check_trained("to_faiss")
        transform = None if self.rht is None else self.rht.to_faiss()
        return glue.export(self._subs[0], transform, self.d, self.metric == "cosine")
