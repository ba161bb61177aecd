"""``CodecIVF``: faiss's coarse quantizer in front of inverted lists of rhtann codes."""

from __future__ import annotations

import os
from typing import Any

import faiss
import numpy as np

from .._validation import as_matrix
from ..codecs.base import Codec
from ..io import FormatError
from ..kernels import scan as K
from ..kernels.scan_simd import HAS_AVX2, LANES
from ..transform import RHT
from . import _common as C


class CodecIVF(C.ScanPath):
    """Inverted-file index: k-means lists of codes, scanned with the fast scanner.

    Vectors are rotated (optional ``rht``), assigned to the nearest of
    ``nlist`` k-means centroids (``faiss.Kmeans`` trained on the rotated
    sample, searched with ``faiss.IndexFlatL2`` or ``IndexFlatIP``) and
    encoded as they are (no residuals), so one set of lookup tables per
    query serves every list. Each list starts at a block boundary of the
    interleaved layout.

    Parameters
    ----------
    d : int
        Input dimension.
    codec : Codec or str
        A nibble codec (``TQ1``, ``TQ2``, ``TQ4``, with or without
        refinement bits) of dimension ``rht.d_out`` (or ``d``).
    nlist : int
        Number of lists, >= 1.
    rht : rhtann.RHT or None
    metric : {"l2", "ip", "cosine"}
    nprobe : int
        Lists scanned per query by default.
    seed : int
        Seed of the k-means initialization.

    Attributes
    ----------
    ntotal : int
    bytes_per_vector : float
        Stored bytes per vector: codes, scales, offsets (L2), the 8-byte id,
        and the padding of the lists to whole blocks, divided by ``ntotal``.
    """

    kind = "CodecIVF"

    def __init__(
        self,
        d: int,
        codec: Codec | str,
        nlist: int,
        *,
        rht: RHT | None = None,
        metric: str = "l2",
        nprobe: int = 8,
        seed: int = 1234,
    ) -> None:
        self.d = C.check_k(d, "d")
        self.rht = C.check_rht(rht, self.d)
        self.d_code = self.rht.d_out if self.rht is not None else self.d
        self.metric = C.check_metric(metric)
        self.codec = C.make_codec(codec, self.d_code)
        self.nlist = C.check_k(nlist, "nlist")
        self.nprobe = C.check_k(nprobe, "nprobe")
        self.seed = int(seed)
        probe = C.CodeStore(self.codec, self.metric)
        if not probe.fast:
            raise ValueError(f"CodecIVF needs a nibble codec (TQ1/2/4); got {self.codec.name}")
        self.centroids: np.ndarray | None = None
        self._quantizer = None
        self._reset_lists()

    def _reset_lists(self) -> None:
        self.store = C.CodeStore(self.codec, self.metric)
        self.list_sizes = np.zeros(self.nlist, dtype=np.int64)
        self.bstart = np.zeros(self.nlist + 1, dtype=np.int64)
        self._pos_ids = np.zeros(0, dtype=np.int64)  # id per position, -1 for padding
        self._auto_ids = True

    # -- properties ----------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.list_sizes.sum())

    @property
    def is_trained(self) -> bool:
        return self.centroids is not None and bool(self.codec.is_trained)

    @property
    def bytes_per_vector(self) -> float:
        n = self.ntotal
        if n == 0:
            return float(self.store.bytes_per_vector + 8)
        return (self.store.n * self.store.bytes_per_vector + 8 * n) / n

    # -- building -------------------------------------------------------------
    def _rotated(self, x: Any, name: str) -> np.ndarray:
        return C.prepare_vectors(x, name, self.d, self.metric, self.rht)

    def _make_quantizer(self) -> None:
        q = faiss.IndexFlatL2(self.d_code) if self.metric == "l2" else faiss.IndexFlatIP(self.d_code)
        q.add(self.centroids)
        self._quantizer = q

    def train(self, x: Any) -> "CodecIVF":
        """Train the coarse quantizer and the codec on ``x`` (n, d), n >= nlist."""
        xm = C.finite(as_matrix(x, "x", self.d), "x")
        if xm.shape[0] < self.nlist:
            raise ValueError(f"x must hold at least nlist={self.nlist} training vectors; got {xm.shape[0]}")
        y = self._rotated(xm, "x")
        km = faiss.Kmeans(self.d_code, self.nlist, niter=20, seed=self.seed, spherical=self.metric != "l2")
        km.train(y)
        self.centroids = np.ascontiguousarray(km.centroids, dtype=np.float32)
        self._make_quantizer()
        self.codec.train(y)
        return self

    def _assign(self, y: np.ndarray, k: int) -> np.ndarray:
        _, lists = self._quantizer.search(y, k)
        return lists.astype(np.int64)

    def add(self, x: Any, ids: Any = None) -> None:
        """Assign, encode and store vectors (ids: non-negative int64, default consecutive)."""
        if not self.is_trained:
            raise RuntimeError("train() the index before add()")
        xm = C.finite(as_matrix(x, "x", self.d), "x")
        n = xm.shape[0]
        ids_arr = C.check_ids(ids, n)
        if n == 0:
            return
        if ids_arr is None:
            if not self._auto_ids:
                raise ValueError("this index holds custom ids; add() needs ids as well")
            ids_arr = np.arange(self.ntotal, self.ntotal + n, dtype=np.int64)
        elif self.ntotal and self._auto_ids:
            raise ValueError("this index holds default ids; add() cannot switch to custom ids")
        else:
            self._auto_ids = False
        y = self._rotated(xm, "x")
        lists = self._assign(y, 1)[:, 0]
        codes = self.codec.encode(y, ids_arr)
        # gather the stored vectors back as codes, merge, and lay the lists out again
        old_pos = np.flatnonzero(self._pos_ids >= 0)
        old_codes = self.store.row_codes(old_pos)
        old_ids = self._pos_ids[old_pos]
        old_lists = np.repeat(np.arange(self.nlist), self.list_sizes)
        all_codes = np.concatenate([old_codes, codes]) if len(old_pos) else codes
        all_ids = np.concatenate([old_ids, ids_arr])
        all_lists = np.concatenate([old_lists, lists])
        self._layout(all_codes, all_ids, all_lists)

    def _layout(self, codes: np.ndarray, ids: np.ndarray, lists: np.ndarray) -> None:
        order = np.argsort(lists, kind="stable")
        codes, ids, lists = codes[order], ids[order], lists[order]
        sizes = np.bincount(lists, minlength=self.nlist).astype(np.int64)
        blocks = (sizes + LANES - 1) // LANES
        bstart = np.zeros(self.nlist + 1, dtype=np.int64)
        np.cumsum(blocks, out=bstart[1:])
        auto = self._auto_ids
        self._reset_lists()
        self._auto_ids = auto
        total = int(bstart[-1]) * LANES
        pos_ids = np.full(total, -1, dtype=np.int64)
        offs = np.concatenate([[0], np.cumsum(sizes)])
        for lst in np.flatnonzero(sizes):
            a, b = offs[lst], offs[lst + 1]
            start = int(bstart[lst]) * LANES
            self.store.put(codes[a:b], ids[a:b], start)
            pos_ids[start : start + (b - a)] = ids[a:b]
        self.store._grow(total)
        self.store.n = total
        self.list_sizes, self.bstart, self._pos_ids = sizes, bstart, pos_ids

    # -- searching ------------------------------------------------------------
    def search(
        self,
        q: Any,
        k: int,
        *,
        nprobe: int | None = None,
        k_factor: int | None = None,
        rerank: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored vectors among the ``nprobe`` closest lists of each query.

        Parameters
        ----------
        q : array_like, shape (m, d)
        k : int, >= 1
        nprobe : int, optional
            Lists scanned (default ``self.nprobe``; at most ``nlist``).
        k_factor : int, optional
            Fast-scan candidates per result re-scored exactly from the codes (default 8).
        rerank : {None, "codes", "none"}
            ``"none"`` returns the fast scan's approximate scores.

        Returns
        -------
        D : float32 (m, k), I : int64 (m, k)
            faiss conventions as in :class:`rhtann.search.CodecFlat`.
        """
        k = C.check_k(k)
        nprobe = min(C.check_k(self.nprobe if nprobe is None else nprobe, "nprobe"), self.nlist)
        k_factor = C.check_k(8 if k_factor is None else k_factor, "k_factor")
        if rerank not in (None, "codes", "none"):
            raise ValueError(f"rerank must be None, 'codes' or 'none'; got {rerank!r}")
        if not self.is_trained:
            raise RuntimeError("train() the index before search()")
        if not HAS_AVX2:
            raise RuntimeError("CodecIVF scans with AVX2 byte shuffles; this CPU has no AVX2 (use CodecFlat)")
        qm = C.finite(as_matrix(q, "q", self.d), "q")
        m = qm.shape[0]
        if m == 0 or self.ntotal == 0:
            return self._finish(qm, np.full((m, k), -np.inf, np.float32), np.full((m, k), -1, np.int64))
        yq = self._queries(qm)
        probes = self._assign(yq, nprobe)
        st = self.store
        lut, luts, a, b = self._tables(yq)
        kk = k * k_factor
        hs = np.empty((m, kk), dtype=np.float32)
        hi = np.empty((m, kk), dtype=np.int64)
        K.heap_reset(hs, hi)
        K.ivf_fastscan_topk(
            st.codes,
            st.P,
            self.bstart,
            probes,
            luts,
            a,
            b,
            st.sv,
            st.ev,
            hs,
            hi,
            st.smax,
            st.emin,
        )
        if rerank == "none":
            out_s = np.empty((m, k), dtype=np.float32)
            out_i = np.empty((m, k), dtype=np.int64)
            K.heap_sort_rows(hs, hi, k, out_s, out_i)
        else:
            out_s, out_i = self._rescore(lut, hi, k, yq)
        return self._finish(qm, out_s, out_i)

    def _id_map(self) -> np.ndarray:
        return self._pos_ids

    # -- reconstruction ----------------------------------------------------------
    def reconstruct(self, ids: Any) -> np.ndarray:
        """Decoded vectors of stored ids, float32 (len(ids), d); KeyError for unknown ids."""
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"ids must be integers; got dtype {arr.dtype}")
        arr = arr.astype(np.int64).reshape(-1)
        valid = np.flatnonzero(self._pos_ids >= 0)
        order = valid[np.argsort(self._pos_ids[valid], kind="stable")]
        sorted_ids = self._pos_ids[order]
        where = np.minimum(np.searchsorted(sorted_ids, arr), max(len(sorted_ids) - 1, 0))
        if len(sorted_ids) == 0 or (sorted_ids[where] != arr).any():
            bad = arr if len(sorted_ids) == 0 else arr[sorted_ids[where] != arr]
            raise KeyError(f"id {int(bad[0])} is not in the index")
        pos = order[where]
        y = self.codec.decode(self.store.row_codes(pos), arr)
        if self.rht is not None:
            y = self.rht.reverse_transform(y)
        return np.ascontiguousarray(y[:, : self.d], dtype=np.float32)

    # -- files -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the index atomically; read it back with :meth:`load`."""
        if not self.is_trained:
            raise RuntimeError("train() the index before save()")
        cmeta, _ = self.codec.get_state()
        meta = {
            "d": self.d,
            "metric": self.metric,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "seed": self.seed,
            "codec": cmeta,
            "rht": C.rht_state(self.rht),
            "auto_ids": self._auto_ids,
            "npos": self.store.n,
        }
        blobs = self.store.blobs()
        blobs["centroids"] = self.centroids.tobytes()
        blobs["list_sizes"] = self.list_sizes.tobytes()
        blobs["pos_ids"] = self._pos_ids.tobytes()
        if self.rht is not None:
            blobs["signs"] = self.rht.signs.tobytes()
        C.write_file(path, self.kind, meta, blobs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CodecIVF":
        """Read an index written by :meth:`save` (validated; raises ``rhtann.FormatError``)."""
        meta, blobs = C.read_file(path, cls.kind)
        try:
            rht = C.rht_from_state(meta["rht"], blobs.get("signs"))
            obj = cls(
                int(meta["d"]),
                C.codec_from_state(meta["codec"]),
                int(meta["nlist"]),
                rht=rht,
                metric=meta["metric"],
                nprobe=int(meta["nprobe"]),
                seed=int(meta["seed"]),
            )
            cent = np.frombuffer(blobs["centroids"], dtype=np.float32)
            if cent.size != obj.nlist * obj.d_code:
                raise ValueError("blob 'centroids' has the wrong size")
            obj.centroids = cent.reshape(obj.nlist, obj.d_code).copy()
            obj._make_quantizer()
            sizes = np.frombuffer(blobs["list_sizes"], dtype=np.int64).copy()
            npos = int(meta["npos"])
            if sizes.shape != (obj.nlist,) or (sizes < 0).any():
                raise ValueError("blob 'list_sizes' is invalid")
            bstart = np.zeros(obj.nlist + 1, dtype=np.int64)
            np.cumsum((sizes + LANES - 1) // LANES, out=bstart[1:])
            if int(bstart[-1]) * LANES != npos:
                raise ValueError("list sizes disagree with the stored positions")
            pos_ids = np.frombuffer(blobs["pos_ids"], dtype=np.int64).copy()
            if pos_ids.shape != (npos,) or int((pos_ids >= 0).sum()) != int(sizes.sum()):
                raise ValueError("blob 'pos_ids' is invalid")
            obj.store.restore(npos, blobs)
            obj.list_sizes, obj.bstart, obj._pos_ids = sizes, bstart, pos_ids
            obj._auto_ids = bool(meta["auto_ids"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{os.fspath(path)!r}: invalid {cls.kind} contents ({exc})") from None
        return obj
