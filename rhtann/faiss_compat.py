"""Helpers for faiss objects that hold an exported RHT."""

from __future__ import annotations

import numpy as np


def _walk_transforms(index):
    """Yield every VectorTransform inside ``index`` (through wrappers)."""
    import faiss

    seen = set()
    stack = [index]
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        obj = faiss.downcast_index(obj) if isinstance(obj, faiss.Index) else obj
        if isinstance(obj, faiss.IndexPreTransform):
            for i in range(obj.chain.size()):
                yield faiss.downcast_VectorTransform(obj.chain.at(i))
            stack.append(obj.index)
        for attr in ("base_index", "index"):
            sub = getattr(obj, attr, None)
            if isinstance(sub, faiss.Index):
                stack.append(sub)


def repair_orthonormal(index, atol: float = 1e-4) -> int:
    """Set ``is_orthonormal`` correctly on every LinearTransform in ``index``.

    faiss's loader marks every ``LinearTransform`` orthonormal before it
    knows its size, and faiss's ``set_is_orthonormal()`` refuses any
    ``d_out > d_in`` matrix although a padded RHT has orthonormal columns
    (``A.T @ A = I``). This sets the flag to whether ``A.T @ A`` is the
    identity within ``atol``, which makes ``reverse_transform`` and
    ``reconstruct`` right in both directions.

    Parameters
    ----------
    index : faiss.Index
        An index, usually returned by ``faiss.read_index``. Modified in place.
    atol : float, default 1e-4
        Tolerance on ``|A.T @ A - I|``.

    Returns
    -------
    int
        Number of LinearTransforms inspected.
    """
    import faiss

    count = 0
    for vt in _walk_transforms(index):
        if isinstance(vt, faiss.LinearTransform) and vt.is_trained:
            a = faiss.vector_to_array(vt.A).reshape(vt.d_out, vt.d_in).astype(np.float64)
            gram = a.T @ a
            vt.is_orthonormal = bool(
                vt.d_out >= vt.d_in and np.abs(gram - np.eye(vt.d_in)).max() <= atol
            )
            count += 1
    return count
