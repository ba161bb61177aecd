"""Every faiss internal rhtann relies on, in one place.

Building indexes from factory keys and the error text of a failed build;
walking nested indexes and transforms; the bytes of codes an index stores;
whether an index takes ids; mapping query keywords to faiss
``SearchParameters``; direct maps for ``reconstruct`` and selectors for
``remove_ids``; appending codes straight into a flat-codes index's storage;
copying and exporting indexes; merging per-level results; and
:func:`repair_orthonormal`, the fix for faiss's flag on loaded transforms.
The rest of rhtann talks to faiss objects only through these functions and
the public faiss calls ``train``, ``add``, ``add_with_ids`` and ``search``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from numbers import Integral
from typing import Any

import faiss
import numpy as np

from .._validation import check_int
from ..io import BlobRef
from . import limits
from .metric import faiss_metric, larger_is_better

#: Keyword query parameters :func:`search_parameters` maps.
SEARCH_KEYS = ("nprobe", "efSearch", "k_factor", "params")

_LOCATION = re.compile(r"^Error in .*? at \S+:\d+: ")


# ----------------------------------------------------------------------
# errors and building
# ----------------------------------------------------------------------


def faiss_error(exc: BaseException) -> str:
    """The first line of a faiss exception's message.

    Without faiss's "Error in <C++ signature> at <file>:<line>: " prefix.
    """
    msg = str(exc).strip()
    if not msg:
        return type(exc).__name__
    return _LOCATION.sub("", msg.splitlines()[0])


def build_faiss(d: int, key: str, metric: str, spec: str):
    """``faiss.index_factory(d, key, metric)``, with a ValueError naming ``spec`` for bad keys.

    The key is first checked by :func:`rhtann.index.limits.check_faiss_key`
    (parameters faiss accepts but crashes on).
    """
    try:
        limits.check_faiss_key(key, d)
    except ValueError as exc:
        raise ValueError(f"spec {spec!r}: {exc}") from None
    try:
        return faiss.index_factory(d, key, faiss_metric(metric))
    except RuntimeError as exc:
        raise ValueError(
            f"faiss cannot build {key!r} (from spec {spec!r}) at d={d}: {faiss_error(exc)}. "
            "Check the faiss index_factory tokens (e.g. SQ4, PQ16, IVF256,SQ8, "
            "HNSW32, RaBitQ, EDEN4)"
        ) from None


# ----------------------------------------------------------------------
# walking
# ----------------------------------------------------------------------


def walk_indexes(index) -> Iterator[Any]:
    """Yield ``index`` downcast, then every index nested inside it (depth first).

    Follows ``index``, ``base_index``, ``refine_index`` and ``storage`` (the
    sub-index of wrappers, refinement and graph indexes).
    """
    stack = [index]
    while stack:  # faiss index trees have no cycles
        obj = faiss.downcast_index(stack.pop())
        yield obj
        for attr in ("index", "base_index", "refine_index", "storage"):
            sub = getattr(obj, attr, None)
            if isinstance(sub, faiss.Index):
                stack.append(sub)


def walk_transforms(index) -> Iterator[Any]:
    """Yield every VectorTransform (downcast) of the pre-transform chains inside ``index``."""
    for obj in walk_indexes(index):
        if isinstance(obj, faiss.IndexPreTransform):
            for i in range(obj.chain.size()):
                yield faiss.downcast_VectorTransform(obj.chain.at(i))


def first_of(index, kind):
    """The first index of type ``kind`` met by :func:`walk_indexes`, or None."""
    return next((o for o in walk_indexes(index) if isinstance(o, kind)), None)


# ----------------------------------------------------------------------
# storage facts
# ----------------------------------------------------------------------


def code_bytes(index) -> int:
    """Bytes of encoded vector data a faiss index stores per vector.

    Counts the codes of every stage that stores one per vector (the base
    codes, plus the refinement codes of ``IndexRefine``), and nothing else:
    not the 8-byte ids of inverted lists or ID maps, not graph links, not
    coarse-quantizer centroids or codebooks.
    """
    obj = faiss.downcast_index(index)
    if isinstance(obj, faiss.IndexRefine):
        return code_bytes(obj.base_index) + code_bytes(obj.refine_index)
    if isinstance(obj, (faiss.IndexPreTransform, faiss.IndexIDMap, faiss.IndexIDMap2)):
        return code_bytes(obj.index)
    if isinstance(obj, (faiss.IndexHNSW, faiss.IndexNSG)):
        return code_bytes(obj.storage)
    size = getattr(obj, "code_size", None)
    if isinstance(size, Integral) and size > 0:
        return int(size)
    return int(obj.sa_code_size())


def _top(index):
    obj = faiss.downcast_index(index)
    while isinstance(obj, faiss.IndexPreTransform):
        obj = faiss.downcast_index(obj.index)
    return obj


def supports_ids(index) -> bool:
    """Whether ``index.add_with_ids`` works (IVF or an ID map at the top)."""
    return isinstance(_top(index), (faiss.IndexIVF, faiss.IndexIDMap, faiss.IndexIDMap2))


def is_id_map(index) -> bool:
    """Whether ``index`` is an ``IndexIDMap``/``IndexIDMap2`` (ids must always be given)."""
    return isinstance(faiss.downcast_index(index), (faiss.IndexIDMap, faiss.IndexIDMap2))


def with_ids(index):
    """``index`` itself when it takes ids, else ``faiss.IndexIDMap2(index)``."""
    return index if supports_ids(index) else faiss.IndexIDMap2(index)


# ----------------------------------------------------------------------
# search parameters
# ----------------------------------------------------------------------


def search_parameters(index, params: dict, key: str):
    """Map keyword query parameters to a faiss ``SearchParameters`` object for ``index``.

    Parameters
    ----------
    index : faiss.Index
    params : dict
        ``nprobe`` (IVF), ``efSearch`` (HNSW, also an HNSW coarse
        quantizer), ``k_factor`` (RFlat/Refine), or ``params`` (a faiss
        ``SearchParameters`` used as is).
    key : str
        The faiss factory key, named in errors.

    Returns
    -------
    faiss.SearchParameters or None
        None when ``params`` is empty. Nested parameter objects are kept
        alive as attributes of the returned one.

    Raises
    ------
    TypeError
        For unknown keywords, or ``params`` mixed with keywords.
    ValueError
        For a keyword the index has no stage for, or an out-of-range value.
    """
    unknown = sorted(set(params) - set(SEARCH_KEYS))
    if unknown:
        raise TypeError(f"unknown search parameter(s) {unknown}; accepted: {list(SEARCH_KEYS)}")
    if "params" in params:
        if len(params) > 1:
            raise TypeError("give either params= (a faiss SearchParameters) or keywords, not both")
        return params["params"]
    if not params:
        return None
    objs = list(walk_indexes(index))
    ivf = next((o for o in objs if isinstance(o, faiss.IndexIVF)), None)
    hnsw = next((o for o in objs if isinstance(o, faiss.IndexHNSW)), None)
    refine = next((o for o in objs if isinstance(o, faiss.IndexRefine)), None)
    hnsw_q = None
    if ivf is not None and hnsw is None:
        quant = faiss.downcast_index(ivf.quantizer)
        hnsw_q = quant if isinstance(quant, faiss.IndexHNSW) else None
    base = None
    if "nprobe" in params:
        if ivf is None:
            raise ValueError(f"nprobe applies to IVF indexes; {key!r} has no IVF stage")
        base = faiss.SearchParametersIVF(nprobe=check_int(params["nprobe"], "nprobe", 1, int(ivf.nlist)))
    if "efSearch" in params:
        ef = check_int(params["efSearch"], "efSearch", *limits.EF_SEARCH)
        if hnsw is not None:
            base = faiss.SearchParametersHNSW(efSearch=ef)
        elif hnsw_q is not None:
            if base is None:
                base = faiss.SearchParametersIVF()
            qp = faiss.SearchParametersHNSW(efSearch=ef)
            base.quantizer_params = qp
            base._qp = qp  # keep the Python object alive with its parent
        else:
            raise ValueError(f"efSearch applies to HNSW indexes; {key!r} has no HNSW stage")
    if "k_factor" in params or (refine is not None and base is not None):
        # a refine stage accepts only IndexRefineSearchParameters: base parameters
        # alone are wrapped, keeping the index's own k_factor
        if refine is None:
            raise ValueError(
                f"k_factor applies to refined indexes (RFlat, Refine(...)); {key!r} has none"
            )
        kf = params.get("k_factor", float(refine.k_factor))
        lo, hi = limits.K_FACTOR
        if isinstance(kf, bool) or not isinstance(kf, (Integral, float)) or not lo <= kf <= hi:
            raise ValueError(f"k_factor must be a number in [{lo}, {hi}]; got {kf!r}")
        ref = faiss.IndexRefineSearchParameters(k_factor=float(kf), base_index_params=base)
        ref._base = base
        return ref
    return base


def skip_polysemous_training(index) -> None:
    """Turn off polysemous training (``do_polysemous_training``) everywhere in ``index``.

    faiss's factory turns it on for ``PQ{M}`` keys. It only renumbers the
    centroids of each sub-quantizer (for Hamming filtering), so decoded
    vectors are unchanged, and it dominates PQ training time.
    """
    for obj in walk_indexes(index):
        if getattr(obj, "do_polysemous_training", False):
            obj.do_polysemous_training = False


def relative_error(index, y: np.ndarray) -> float:
    """Relative squared reconstruction error of a trained index's codes on rows ``y``.

    ``sum ||y - decode(encode(y))||^2 / sum ||y||^2`` through ``sa_encode`` and
    ``sa_decode``; for ``IndexRefine`` the base index's codes (the refinement
    codes are near exact and would hide the base's error).

    Parameters
    ----------
    index : faiss.Index
        Trained, of dimension ``y.shape[1]``.
    y : ndarray, shape (n, d), C-contiguous float32, n >= 1

    Raises
    ------
    ValueError
        If the index cannot encode and decode standalone codes.
    """
    obj = faiss.downcast_index(index)
    while isinstance(obj, faiss.IndexRefine):
        obj = faiss.downcast_index(obj.base_index)
    try:
        rec = obj.sa_decode(obj.sa_encode(y))
    except RuntimeError as exc:
        raise ValueError(
            f"{type(obj).__name__} cannot encode and decode standalone codes: {faiss_error(exc)}"
        ) from None
    den = float(np.square(y, dtype=np.float64).sum())
    err = float(np.square(rec.astype(np.float64) - y).sum())
    return err / den if den > 0 else err


def merge_results(dists: list[np.ndarray], labels: list[np.ndarray], metric: str):
    """Merge per-shard ``(D, I)`` results of one query batch into the best ``k`` of all."""
    if len(dists) == 1:
        return dists[0], labels[0]
    return faiss.merge_knn_results(np.stack(dists), np.stack(labels), keep_max=larger_is_better(metric))


# ----------------------------------------------------------------------
# reconstruct and remove
# ----------------------------------------------------------------------


def reconstruct_one(index, key: int) -> np.ndarray:
    """``index.reconstruct(key)``, first giving IVF stages a direct map if they lack one.

    Indexes that number their vectors ``0 .. ntotal - 1`` (flat codes, HNSW,
    NSG, refined indexes: everything without an ID map or inverted lists at
    the top) do not check the id themselves; it is checked here, since
    faiss would read outside its storage.

    Raises
    ------
    RuntimeError
        From faiss when the id is not stored or the index cannot reconstruct.
    KeyError
        For an id outside ``0 .. ntotal - 1`` of a sequentially numbered index.
    """
    top = _top(index)
    if not isinstance(top, (faiss.IndexIVF, faiss.IndexIDMap, faiss.IndexIDMap2)):
        if not 0 <= key < index.ntotal:
            raise KeyError(f"id {key} is not stored: ids run from 0 to ntotal - 1 = {index.ntotal - 1}")
    for obj in walk_indexes(index):
        if isinstance(obj, faiss.IndexIVF) and obj.direct_map.type == faiss.DirectMap.NoMap:
            try:
                obj.set_direct_map_type(faiss.DirectMap.Array)
            except RuntimeError:
                obj.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index.reconstruct(key)


def min_train_rows(index) -> tuple[int, str]:
    """Fewest training vectors ``index`` can be trained on, and the stage that needs them.

    k-means needs at least as many points as centroids: ``nlist`` for IVF
    stages, ``2**nbits`` for product quantizers. ``(1, "")`` when nothing
    needs more than one vector.
    """
    need, why = 1, ""
    for obj in walk_indexes(index):
        if isinstance(obj, faiss.IndexIVF) and obj.nlist > need:
            need, why = int(obj.nlist), f"IVF with nlist={obj.nlist}"
        pq = getattr(obj, "pq", None)
        if isinstance(pq, faiss.ProductQuantizer) and pq.ksub > need:
            need, why = int(pq.ksub), f"a product quantizer with {pq.ksub} centroids per sub-space"
    return need, why


def remove(index, ids: np.ndarray) -> int:
    """``index.remove_ids`` for int64 ``ids``, with the selector its direct map needs.

    An array direct map (set by :func:`reconstruct_one`) is dropped first,
    since faiss cannot remove from it; a hashtable one needs
    ``IDSelectorArray``.

    Raises
    ------
    RuntimeError
        From faiss when the index cannot remove.
    """
    hashtable = False
    for obj in walk_indexes(index):
        if isinstance(obj, faiss.IndexIVF):
            if obj.direct_map.type == faiss.DirectMap.Array:
                obj.set_direct_map_type(faiss.DirectMap.NoMap)
            hashtable |= obj.direct_map.type == faiss.DirectMap.Hashtable
    if hashtable:
        sel = faiss.IDSelectorArray(ids.size, faiss.swig_ptr(ids))
    else:
        sel = faiss.IDSelectorBatch(ids)
    return int(index.remove_ids(sel))


# ----------------------------------------------------------------------
# copies, export, files
# ----------------------------------------------------------------------


def serialize(index) -> bytes:
    """``faiss.serialize_index`` as bytes."""
    return faiss.serialize_index(index).tobytes()


def deserialize(blob):
    """Inverse of :func:`serialize`; raises RuntimeError from faiss on bad bytes.

    ``blob`` is bytes-like, or a :class:`rhtann.io.BlobRef` streamed from its
    file in 1 MiB reads (no copy of the whole blob is made).
    """
    if isinstance(blob, BlobRef):
        with blob.stream() as read:
            return faiss.read_index(faiss.PyCallbackIOReader(read, 1 << 20))
    return faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))


def copy_index(index):
    """An independent copy of ``index`` that owns all its parts (a serialization round trip)."""
    return faiss.deserialize_index(faiss.serialize_index(index))


def export(sub, transform, d: int, normalize: bool):
    """One faiss index: optional L2 normalization, then ``transform``, then a copy of ``sub``.

    Parameters
    ----------
    sub : faiss.Index
        Trained index in rotated space; copied.
    transform : faiss.VectorTransform or None
    d : int
        Input dimension (of the normalization).
    normalize : bool
        Prepend ``faiss.NormalizationTransform(d, 2.0)`` (cosine metric).

    Returns
    -------
    faiss.Index
        A copy of ``sub`` when there is nothing to prepend; otherwise an
        ``IndexPreTransform`` that owns all its parts, with
        :func:`repair_orthonormal` applied.
    """
    out = copy_index(sub)
    chain = []
    if normalize:
        chain.append(faiss.NormalizationTransform(d, 2.0))
    if transform is not None:
        chain.append(transform)
    if not chain:
        return out
    top = faiss.IndexPreTransform(chain[-1], out)
    for vt in reversed(chain[:-1]):
        top.prepend_transform(vt)
    out = copy_index(top)
    repair_orthonormal(out)
    return out


def read_index_checked(blob: bytes, d: int, ntotal: int, metric: str, what: str):
    """Deserialize a stored sub-index and check its dimension, size and metric.

    Raises
    ------
    ValueError
        Naming ``what`` and the mismatch (or faiss's error).
    """
    try:
        sub = deserialize(blob)
    except (RuntimeError, MemoryError) as exc:
        raise ValueError(f"faiss cannot read {what} ({faiss_error(exc)})") from None
    if sub.d != d or sub.ntotal != ntotal:
        raise ValueError(f"{what} has d={sub.d}, ntotal={sub.ntotal}; expected d={d}, ntotal={ntotal}")
    if sub.metric_type != faiss_metric(metric):
        raise ValueError(f"{what} has the wrong metric")
    return sub


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
    count = 0
    for vt in walk_transforms(index):
        if isinstance(vt, faiss.LinearTransform) and vt.is_trained:
            a = faiss.vector_to_array(vt.A).reshape(vt.d_out, vt.d_in).astype(np.float64)
            gram = a.T @ a
            vt.is_orthonormal = bool(vt.d_out >= vt.d_in and np.abs(gram - np.eye(vt.d_in)).max() <= atol)
            count += 1
    return count


# ----------------------------------------------------------------------
# writing codes into a faiss index
# ----------------------------------------------------------------------


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
        index = faiss.downcast_index(index)
        return isinstance(index, faiss.IndexFlatCodes) and bool(index.codes.is_owned)

    def __enter__(self) -> "CodeAppender":
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


def trains_on_ranges(index) -> bool:
    """Whether training ``index`` uses only each coordinate's minimum and maximum.

    True for a plain ``IndexScalarQuantizer`` with the ``RS_minmax`` range
    statistic (faiss's default): training it on two rows, the per-coordinate
    minima and maxima of the data, gives the same quantizer as training on
    all of it, so the rotated data never needs to be held at once.
    """
    index = faiss.downcast_index(index)
    return type(index) is faiss.IndexScalarQuantizer and index.sq.rangestat == faiss.ScalarQuantizer.RS_minmax


def scalar_quantizer_state(index) -> tuple[str, np.ndarray, int] | None:
    """``(qtype name, trained ranges, code_size)`` of a trained scalar-quantizer index, else None.

    Only an ``IndexScalarQuantizer`` itself (not a subclass or wrapper)
    qualifies; the qtype name is the ``ScalarQuantizer`` attribute name
    (``"QT_8bit"``, ``"QT_4bit_uniform"``...), or ``""`` when it has none.
    """
    index = faiss.downcast_index(index)
    if type(index) is not faiss.IndexScalarQuantizer or not index.is_trained:
        return None
    sq = index.sq
    names = [n for n in dir(faiss.ScalarQuantizer) if n.startswith("QT_")]
    qtype = next((n for n in names if getattr(faiss.ScalarQuantizer, n) == sq.qtype), "")
    trained = faiss.vector_to_array(sq.trained).astype(np.float32, copy=False)
    return qtype, trained, int(index.sa_code_size())


__all__ = [
    "CodeAppender",
    "SEARCH_KEYS",
    "build_faiss",
    "code_bytes",
    "copy_index",
    "deserialize",
    "export",
    "faiss_error",
    "first_of",
    "is_id_map",
    "merge_results",
    "read_index_checked",
    "min_train_rows",
    "reconstruct_one",
    "remove",
    "repair_orthonormal",
    "scalar_quantizer_state",
    "trains_on_ranges",
    "search_parameters",
    "serialize",
    "supports_ids",
    "walk_indexes",
    "walk_transforms",
    "with_ids",
]
