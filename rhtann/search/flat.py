"""``CodecFlat``: a flat (exhaustive) index over rhtann codec codes."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._validation import as_matrix
from ..codecs.base import Codec
from ..io import FormatError
from ..kernels import query as _query
from ..kernels import scan as K
from ..kernels.scan_simd import HAS_AVX2, LANES
from ..kernels.threads import get_num_threads
from ..transform import RHT
from . import _common as C

#: Positions decoded per block by the decode-then-multiply path.
GEMM_BLOCK = 2048
#: Scores per block of the decode-then-multiply path (bounds its buffer for large batches).
GEMM_SCORES = 1 << 18


#: The ``shift`` and ``off`` of :func:`rhtann.kernels.query.flat_search_one` that change nothing
#: (also the unused ``off`` of :func:`rhtann.kernels.query.search_rotated`).
_NONE = np.zeros(0, dtype=np.float32)


class CodecFlat(C.ScanPath):
    """Exhaustive search over codes of an rhtann codec, optionally after an RHT.

    Parameters
    ----------
    d : int
        Dimension of the input vectors.
    codec : Codec or str
        Codec of the rotated vectors (its ``d`` must equal ``rht.d_out``, or
        ``d`` without a rotation), or a token such as ``"TQ4"``.
    rht : rhtann.RHT or None
        Rotation applied before encoding (and to queries).
    metric : {"l2", "ip", "cosine"}
        ``"cosine"`` normalizes stored and query vectors, then ranks by inner
        product (distances are cosine similarities).
    refine : bool
        Keep the float32 originals (``4 * d`` more bytes per vector) to
        re-rank candidates exactly.

    Attributes
    ----------
    ntotal : int
    bytes_per_vector : int
        Bytes stored per vector: index bytes and scale of the codes, the
        squared norm of the decoded vector for L2, the id for custom ids and
        the originals with ``refine``.

    Notes
    -----
    Search follows faiss: ``D`` float32 (squared L2 distances, ascending, or
    inner products / cosine similarities, descending), ``I`` int64, and
    ``-1`` ids with ``float32`` max (L2) or its negative where fewer than
    ``k`` vectors are stored.
    """

    kind = "CodecFlat"

    def __init__(
        self,
        d: int,
        codec: Codec | str,
        *,
        rht: RHT | None = None,
        metric: str = "l2",
        refine: bool = False,
    ) -> None:
        self.d = C.check_k(d, "d")
        self.rht = C.check_rht(rht, self.d)
        self.d_code = self.rht.d_out if self.rht is not None else self.d
        self.metric = C.check_metric(metric)
        self.codec = C.make_codec(codec, self.d_code)
        self.refine = bool(refine)
        self._init_storage()

    def _init_storage(self) -> None:
        self.store = C.CodeStore(self.codec, self.metric)
        self._ids: np.ndarray | None = None
        self._orig = np.zeros((0, self.d), dtype=np.float32)
        self._id_order: np.ndarray | None = None
        self._one_cache: tuple | None = None

    # -- properties ----------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return self.store.n

    @property
    def is_trained(self) -> bool:
        return bool(self.codec.is_trained) and (self.rht is None or self.rht.is_trained)

    @property
    def bytes_per_vector(self) -> int:
        extra = 8 if self._ids is not None else 0
        return self.store.bytes_per_vector + extra + (4 * self.d if self.refine else 0)

    # -- building -------------------------------------------------------------
    def _rotated(self, x: Any, name: str) -> np.ndarray:
        return C.prepare_vectors(x, name, self.d, self.metric, self.rht)

    def train(self, x: Any) -> "CodecFlat":
        """Train the rotation (``rounds="auto"``) and the codec on ``x`` (n, d)."""
        xm = C.finite(as_matrix(x, "x", self.d), "x")
        if xm.shape[0] == 0:
            raise ValueError("x must hold at least one training vector; got 0 rows")
        self.codec.train(self._rotated(xm, "x"))
        return self

    def add(self, x: Any, ids: Any = None) -> None:
        """Encode and append vectors.

        Parameters
        ----------
        x : array_like, shape (n, d)
        ids : array_like of int, shape (n,), optional
            Non-negative ids; by default consecutive from ``ntotal``. Mixing
            default and custom ids in one index is not allowed.
        """
        xm = C.finite(as_matrix(x, "x", self.d), "x")
        n = xm.shape[0]
        ids_arr = C.check_ids(ids, n)
        if ids_arr is None and self._ids is not None and n:
            raise ValueError("this index holds custom ids; add() needs ids as well")
        if ids_arr is not None and self._ids is None and self.ntotal:
            raise ValueError("this index holds default ids; add() cannot switch to custom ids")
        if not self.is_trained:
            raise RuntimeError("train() the index before add()")
        if n == 0:
            return
        seq = np.arange(self.ntotal, self.ntotal + n, dtype=np.int64)
        y = self._rotated(xm, "x")
        codes = self.codec.encode(y, ids_arr if ids_arr is not None else seq)
        self.store.append(codes, ids_arr if ids_arr is not None else seq)
        if ids_arr is not None:
            self._ids = ids_arr if self._ids is None else np.concatenate([self._ids, ids_arr])
            self._id_order = None
        if self.refine:
            src = xm
            if self.metric == "cosine":
                src = C.normalized(xm)
            self._orig = np.concatenate([self._orig, src.astype(np.float32)])

    def reset(self) -> None:
        """Remove every stored vector (the trained state stays)."""
        self._init_storage()

    # -- searching ------------------------------------------------------------
    def search(
        self,
        q: Any,
        k: int,
        *,
        k_factor: int | None = None,
        rerank: str | None = None,
        method: str = "auto",
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored vectors of each query.

        Parameters
        ----------
        q : array_like, shape (m, d)
        k : int, >= 1
        k_factor : int, optional
            Candidates kept per result before re-ranking (``k * k_factor``
            of them). Default 8 for the fast scan, 4 for re-ranking from
            the originals.
        rerank : {None, "codes", "exact", "none"}
            ``"codes"``: exact scores of the fast scan's candidates from the
            codes (float tables). ``"exact"``: exact distances from the
            stored originals (needs ``refine=True``). ``"none"``: the fast
            scan's approximate scores. Default ``"exact"`` with ``refine``,
            ``"codes"`` otherwise.
        method : {"auto", "fastscan", "gemm"}
            ``"fastscan"``: uint8 lookup tables with byte shuffles (nibble
            codecs only). ``"gemm"``: decode blocks of codes once and
            multiply with the query batch (exact decoded scores, no
            candidate stage). ``"auto"``: ``"fastscan"`` for nibble codecs,
            ``"gemm"`` otherwise.

        Returns
        -------
        D : ndarray of float32, shape (m, k)
        I : ndarray of int64, shape (m, k)
        """
        k = C.check_k(k)
        qm = as_matrix(q, "q", self.d)
        if self.rht is None:  # the rotation's kernels report NaN and infinity themselves
            C.finite(qm, "q")
        if rerank is None:
            rerank = "exact" if self.refine else "codes"
        if rerank not in ("codes", "exact", "none"):
            raise ValueError(f"rerank must be None, 'codes', 'exact' or 'none'; got {rerank!r}")
        if rerank == "exact" and not self.refine:
            raise ValueError("rerank='exact' needs an index built with refine=True")
        if k_factor is None:
            k_factor = 4 if rerank == "exact" else 8
        k_factor = C.check_k(k_factor, "k_factor")
        if method not in ("auto", "fastscan", "gemm"):
            raise ValueError(f"method must be 'auto', 'fastscan' or 'gemm'; got {method!r}")
        if method == "fastscan" and not self.store.fast:
            raise ValueError(
                f"method='fastscan' needs a nibble codec (TQ1/2/4); this index uses {self.codec.name}"
            )
        if method == "fastscan" and not HAS_AVX2:
            raise ValueError("method='fastscan' needs a CPU with AVX2; this one has none (use method='gemm')")
        m = qm.shape[0]
        if method == "auto":
            method = "fastscan" if self.store.fast and HAS_AVX2 else "gemm"
        if m == 0 or self.ntotal == 0:
            scores = np.full((m, k), -np.inf, dtype=np.float32)
            pos = np.full((m, k), -1, dtype=np.int64)
            return self._finish(qm, scores, pos)
        kk = k * k_factor
        if method == "fastscan" and rerank == "codes" and m == 1 and get_num_threads() == 1:
            found = self._search_one(qm, k, kk)
            if found is not None:
                return found
        return self._search_general(qm, k, kk, rerank, method)

    @property
    def one_call(self) -> bool:
        """Whether the store's codes can take the one-call route (nibble codes, an AVX2 CPU).

        The route also needs a query rotation (``rht``), no ``refine`` and
        one thread (:meth:`_search_one`).
        """
        return self.store.fast and HAS_AVX2

    def _search_general(
        self, qm: np.ndarray, k: int, kk: int, rerank: str, method: str
    ) -> tuple[np.ndarray, np.ndarray]:
        yq = self._queries(qm)
        if method == "fastscan":
            scores, pos = self._fastscan(yq, k if rerank != "exact" else kk, kk, rerank)
        else:
            scores, pos = self._gemm(yq, kk if rerank == "exact" else k)
        if rerank == "exact":
            scores, pos = self._exact(qm, pos, k)
        return self._finish(qm, scores, pos)

    def _search_one(
        self, qm: np.ndarray, k: int, kk: int, shift: np.ndarray | None = None,
        offset_by: np.ndarray | None = None, normalize: bool = False,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``D, ids`` of one checked query by one or two compiled calls, or None where they do not apply.

        With a dense query rotation (:meth:`QueryRotation.dense`) one call
        (:func:`rhtann.kernels.query.flat_search_one`) rotates and searches;
        otherwise the transform's kernels rotate (raising ``ValueError``
        naming ``q`` as the general route does) and one call
        (:func:`rhtann.kernels.query.search_rotated`) does the rest. The
        result is that of the separate steps (rotation, tables, a scan in
        one chunk, re-score from the codes, results). None when the rotated
        query (dense route) or its tables are not finite (the caller's
        general path handles them).

        The caller has checked the query: ``qm`` is a C-contiguous float32
        array of shape ``(1, d)``, ``1 <= k <= ntotal``, ``kk = k *
        k_factor``, and the route applies (:attr:`one_call`, an ``rht``, no
        ``refine``, one thread). The other arguments are the ``Center`` step
        of :class:`rhtann.Index`, done inside the same compiled call:
        ``normalize`` first scales the query to unit norm as
        :func:`rhtann.search._common.normalized` does (the index's cosine
        metric; the engine's own cosine metric normalizes in any case);
        ``shift`` (float32, shape ``(d,)``) is subtracted from the query;
        ``offset_by`` (float32, shape ``(d,)``) adds ``<q, offset_by>`` of the
        (normalized) query to the scores found, as
        :func:`rhtann.search._common.row_dots` computes it.
        """
        mt, tail = self._one_args()
        D = np.empty((1, k), dtype=np.float32)
        ids = np.empty((1, k), dtype=np.int64)
        norm = normalize or self.metric == "cosine"
        if mt is not None:
            done = _query.flat_search_one(
                qm, norm, _NONE if shift is None else shift, _NONE if offset_by is None else offset_by,
                kk, D, ids, mt, *tail,
            )
            return (D, ids) if done else None
        # the same steps with the rotation by the transform's kernels (flat_search_one's arithmetic)
        x = C.normalized(qm) if norm else qm
        off = _NONE if offset_by is None else C.row_dots(x, offset_by)
        if shift is not None:
            x = x - shift
        y = self.rht._forward(x, self.rht._check_trained(), None, "q")
        done = _query.search_rotated(x, y, off, offset_by is not None, kk, D, ids, *tail)
        return (D, ids) if done else None

    def _one_args(self) -> tuple:
        """``(mt, tail)``: the dense query rotation (or None) and the store's arguments that follow it.

        ``mt`` is the transposed matrix of :func:`rhtann.kernels.query.flat_search_one`
        where the query rotation is dense, else None; ``tail`` the arguments
        after it, shared with :func:`rhtann.kernels.query.search_rotated`.
        Kept while the store, its version, the rotation, the codec's levels
        and refinement table stay the same objects.
        """
        st, codec, rot = self.store, self.codec, self._rotation()
        got = getattr(self, "_one_cache", None)
        if got is not None:
            key = got[0]
            if (
                got[1] == st.version and key[0] is st and key[1] is rot and key[2] is codec.levels
                and key[3] is st.delta
            ):
                return got[2]
        key = (st, rot, codec.levels, st.delta)
        tail = (
            codec.levels, codec.bits, self._alpha(), C.table_top(codec.nibbles), st.codes, st.P,
            st.nblocks(), st.sv, st.ev, st.smax, st.emin, st.ref, st.delta, st.R, self.metric == "l2",
            self._id_map(),
        )
        args = (rot.dense(), tail)
        self._one_cache = (key, st.version, args)
        return args

    def _fastscan(self, yq: np.ndarray, k_out: int, kk: int, rerank: str) -> tuple[np.ndarray, np.ndarray]:
        st, m = self.store, yq.shape[0]
        lut, luts, a, b = self._tables(yq)
        threads = get_num_threads()
        nblocks = st.nblocks()
        chunks = max(1, min(threads // max(m, 1), nblocks)) if m < threads else 1
        hs = np.empty((m * chunks, kk), dtype=np.float32)
        hi = np.empty((m * chunks, kk), dtype=np.int64)
        K.heap_reset(hs, hi)
        K.fastscan_topk(st.codes, st.P, nblocks, luts, a, b, st.sv, st.ev, chunks, hs, hi, st.smax, st.emin)
        cand = hi.reshape(m, chunks * kk)
        if rerank != "none":
            return self._rescore(lut, cand, k_out, yq)
        out_s = np.empty((m, k_out), dtype=np.float32)
        out_i = np.empty((m, k_out), dtype=np.int64)
        K.heap_sort_rows(hs.reshape(m, chunks * kk), cand, k_out, out_s, out_i)
        return out_s, out_i

    def _gemm(self, yq: np.ndarray, k_out: int) -> tuple[np.ndarray, np.ndarray]:
        st, m = self.store, yq.shape[0]
        hs = np.empty((m, k_out), dtype=np.float32)
        hi = np.empty((m, k_out), dtype=np.int64)
        K.heap_reset(hs, hi)
        bs = GEMM_BLOCK if m <= 128 else max(256, min(GEMM_BLOCK, (GEMM_SCORES // m) // LANES * LANES))
        block = np.empty((bs, self.d_code), dtype=np.float32)
        scores = np.empty((m, bs), dtype=np.float32)
        table = _nibble_table(self.codec) if st.fast else None
        alpha = self._alpha()
        for start in range(0, st.n, bs):
            stop = min(st.n, start + bs)
            nb = stop - start
            if st.fast:
                K.decode_block(
                    st.codes, st.P, table, st.sv, start, stop, block, st.ref, st.delta, st.R, st.bits
                )
                xb = block[:nb]
            else:
                ids = (
                    self._ids[start:stop] if self._ids is not None else np.arange(start, stop, dtype=np.int64)
                )
                xb = self.codec.decode(st.codes[start:stop], ids)
            sc = scores[:, :nb]
            np.matmul(yq, xb.T, out=sc)
            K.topk_update(sc, start, alpha, st.ev, hs, hi)
        out_s = np.empty((m, k_out), dtype=np.float32)
        out_i = np.empty((m, k_out), dtype=np.int64)
        K.heap_sort_rows(hs, hi, k_out, out_s, out_i)
        return out_s, out_i

    def _exact(self, qm: np.ndarray, pos: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = qm
        if self.metric == "cosine":
            q = C.normalized(qm)
        safe = np.where(pos >= 0, pos, 0)
        x = self._orig[safe]  # (m, c, d)
        ip = np.einsum("md,mcd->mc", q, x)
        if self.metric == "l2":
            sc = 2 * ip - np.einsum("mcd,mcd->mc", x, x)
        else:
            sc = ip
        sc = np.where(pos >= 0, sc, -np.inf).astype(np.float32)
        order = np.lexsort((pos, -sc), axis=-1)[:, :k] if sc.size else np.zeros((len(q), 0), np.int64)
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(q), k), -1, dtype=np.int64)
        kk = order.shape[1]
        out_s[:, :kk] = np.take_along_axis(sc, order, 1)
        out_i[:, :kk] = np.take_along_axis(pos, order, 1)
        out_i[~np.isfinite(out_s)] = -1
        return out_s, out_i

    def _id_map(self) -> np.ndarray:
        return self._ids if self._ids is not None else C.NO_IDS

    # -- reconstruction --------------------------------------------------------
    def _positions(self, ids: Any) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"ids must be integers; got dtype {arr.dtype}")
        arr = arr.astype(np.int64).reshape(-1)
        if self._ids is None:
            bad = (arr < 0) | (arr >= self.ntotal)
            if bad.any():
                raise KeyError(f"id {int(arr[bad][0])} is not in the index (ids are 0..{self.ntotal - 1})")
            return arr
        if self._id_order is None:
            self._id_order = np.argsort(self._ids, kind="stable")
        sorted_ids = self._ids[self._id_order]
        where = np.searchsorted(sorted_ids, arr)
        where = np.minimum(where, len(sorted_ids) - 1)
        bad = sorted_ids[where] != arr
        if bad.any():
            raise KeyError(f"id {int(arr[bad][0])} is not in the index")
        return self._id_order[where]

    def reconstruct(self, ids: Any) -> np.ndarray:
        """Decoded vectors of stored ids, float32 (len(ids), d), in the input space.

        For ``"cosine"`` the vectors are the decoded unit-normalized inputs.

        Raises
        ------
        KeyError
            If an id is not stored.
        """
        pos = self._positions(ids)
        if len(pos) == 0:
            return np.zeros((0, self.d), dtype=np.float32)
        codes = self.store.row_codes(pos)
        idv = self._ids[pos] if self._ids is not None else pos
        y = self.codec.decode(codes, idv)
        if self.rht is not None:
            y = self.rht.reverse_transform(y)
        return np.ascontiguousarray(y[:, : self.d], dtype=np.float32)

    # -- files -----------------------------------------------------------------
    def _meta(self) -> dict:
        cmeta, carrays = self.codec.get_state()
        if carrays:
            raise ValueError(f"codec {self.codec.name} has array state, which CodecFlat cannot save yet")
        return {
            "d": self.d,
            "metric": self.metric,
            "refine": self.refine,
            "ntotal": self.ntotal,
            "codec": cmeta,
            "rht": C.rht_state(self.rht),
            "custom_ids": self._ids is not None,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the index atomically; read it back with :meth:`load`."""
        blobs = self.store.blobs()
        if self._ids is not None:
            blobs["ids"] = self._ids.tobytes()
        if self.refine:
            blobs["orig"] = self._orig.tobytes()
        if self.rht is not None:
            blobs["signs"] = self.rht.signs.tobytes()
        C.write_file(path, self.kind, self._meta(), blobs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CodecFlat":
        """Read an index written by :meth:`save` (validated; raises ``rhtann.FormatError``)."""
        meta, blobs = C.read_file(path, cls.kind)
        try:
            obj = cls._from_meta(meta, blobs)
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{os.fspath(path)!r}: invalid {cls.kind} contents ({exc})") from None
        return obj

    @classmethod
    def _from_meta(cls, meta: dict, blobs: dict[str, bytes]) -> "CodecFlat":
        rht = C.rht_from_state(meta["rht"], blobs.get("signs"))
        d = int(meta["d"])
        codec = C.codec_from_state(meta["codec"])
        obj = cls(d, codec, rht=rht, metric=meta["metric"], refine=bool(meta["refine"]))
        n = int(meta["ntotal"])
        obj.store.restore(n, blobs)
        if meta["custom_ids"]:
            if len(blobs.get("ids", b"")) != 8 * n:
                raise ValueError("blob 'ids' has the wrong size")
            obj._ids = np.frombuffer(blobs["ids"], dtype=np.int64).copy()
        if obj.refine:
            if len(blobs.get("orig", b"")) != 4 * d * n:
                raise ValueError("blob 'orig' has the wrong size")
            obj._orig = np.frombuffer(blobs["orig"], dtype=np.float32).reshape(n, d).copy()
        return obj


def _nibble_table(codec: Any) -> np.ndarray:
    """Unit levels per nibble value, float32 (16, g), for a nibble TQ codec."""
    b = codec.bits
    g = 4 // b
    v = np.arange(16)
    return np.stack([codec.levels[(v >> (b * t)) & ((1 << b) - 1)] for t in range(g)], axis=1).astype(
        np.float32
    )
