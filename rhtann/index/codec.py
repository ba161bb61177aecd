"""``rhtann.Index`` over rhtann's own codecs: specs such as ``"RHT1,DTQ4"`` or ``"RHT,IVF256,TQ4"``.

A spec whose part after the RHT token names a codec of
:data:`rhtann.codecs.registry.CODECS` builds a :class:`CodecIndex` (a
subclass of :class:`rhtann.Index`, chosen by ``Index.__new__``). Grammar of
that part::

    codec_key := ["IVF" nlist ","] ["Center" ","] codec_token ["," refine]
    refine    := "RFlat" | "Refine(Flat)"

``codec_token`` is ``DTQ{b}``, ``DSQ{b}``, ``E8Q{b}``, ``DRIVE1`` or
``TQ{b}[r{R}][h]``. Flat keys search with :class:`rhtann.search.CodecFlat`,
IVF keys with :class:`rhtann.search.CodecIVF` (nibble ``TQ`` codecs only). A
refine token keeps the float32 originals to re-rank ``k * k_factor``
candidates exactly.

``Center`` subtracts the mean of the training vectors (after the cosine
normalization) from every stored vector before it is rotated and coded, so
the codec spends its levels on what separates the vectors rather than on the
offset they share. Results are unchanged in meaning: squared L2 distances
are invariant under the shift (queries are shifted too), and inner products
get the query's product with the mean added back, so ``D`` is the same
quantity as without ``Center``. It pays on data far from the origin (pixel
or histogram vectors, raw-norm L2 sets); on data centred already it changes
little.

``RHTauto`` picks the round count with the moment check of the codec's
target: ``"scalar"`` (1 or 2 rounds) for the scalar codecs, ``"vq"`` (2 or
3) for ``E8Q``.
"""

from __future__ import annotations

import os
import re
from numbers import Integral
from time import perf_counter
from typing import Any

import numpy as np

from .. import io
from .._validation import as_matrix, check_ids, check_int, check_rows
from ..codecs.registry import codec_from_state, is_codec_token, make_codec, parse_token
from ..progress import timed
from ..search import CodecFlat, CodecIVF
from ..search import _common as SC
from ..threads import get_num_threads, thread_scope
from ..transform import RHT
from .core import STAT_KEYS, Index
from .locking import _lock_of, exclusive, shared
from .spec import Spec, parse_spec

_IVF = re.compile(r"^IVF(\d+)$")
_REFINE = ("RFlat", "Refine(Flat)")
_CENTER = "Center"
#: Search parameters each engine takes.
FLAT_PARAMS = ("k_factor", "rerank", "method")
IVF_PARAMS = ("nprobe", "k_factor", "rerank")
#: Query parameters the single-query short path (:meth:`CodecIndex._search_single`) takes.
_ONE = frozenset({"k_factor"})
_F32 = np.dtype(np.float32)


def codec_target(token: str) -> str:
    """Round target of a codec token: ``"vq"`` for ``E8Q``, ``"scalar"`` otherwise."""
    return "vq" if parse_token(token)[0].family == "E8Q" else "scalar"


def claims(spec: object) -> bool:
    """Whether ``spec`` (a string) names one of rhtann's codecs after its RHT token."""
    if not isinstance(spec, str):
        return False
    try:
        key = parse_spec(spec).faiss_key
    except (TypeError, ValueError):
        return False
    return any(is_codec_token(tok) for tok in key.split(","))


def parse_codec_key(spec: Spec) -> tuple[int | None, str, bool, bool]:
    """Split the codec part of a parsed spec into ``(nlist or None, codec token, refine, center)``.

    Raises
    ------
    ValueError
        For tokens in the wrong place, unknown tokens, or bits out of range.
    """
    tokens = [t.strip() for t in spec.faiss_key.split(",")]
    nlist: int | None = None
    refine = False
    rest = list(tokens)
    if rest and _IVF.match(rest[0]):
        nlist = int(_IVF.match(rest[0]).group(1))
        if nlist < 1:
            raise ValueError(f"spec {spec.text!r}: IVF needs at least 1 list; got {rest[0]!r}")
        rest = rest[1:]
    if rest and rest[-1] in _REFINE:
        refine = True
        rest = rest[:-1]
    center = bool(rest) and rest[0] == _CENTER
    if center:
        rest = rest[1:]
    if len(rest) != 1 or not is_codec_token(rest[0]):
        raise ValueError(
            f"spec {spec.text!r}: an rhtann codec spec is [RHT token,] [IVF{{n}},] [Center,] codec "
            f"[,RFlat] with codec one of DTQ{{b}}, DSQ{{b}}, E8Q{{b}}, DRIVE1, TQ{{b}}[r{{R}}][h]; "
            f"got the tokens {tokens}"
        )
    parse_token(rest[0])  # bits out of range raise here, naming the token
    return nlist, rest[0], refine, center


class _Originals:
    """Float32 originals by id, for exact re-ranking behind an IVF."""

    def __init__(self, d: int) -> None:
        self.rows = np.zeros((0, d), dtype=np.float32)
        self.ids = np.zeros(0, dtype=np.int64)
        self._order: np.ndarray | None = None

    def add(self, x: np.ndarray, ids: np.ndarray) -> None:
        self.rows = np.concatenate([self.rows, x])
        self.ids = np.concatenate([self.ids, ids])
        self._order = None

    def gather(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ``ids`` (any shape; ``-1`` gives zeros), shape ``ids.shape + (d,)``."""
        if self._order is None:
            self._order = np.argsort(self.ids, kind="stable")
        flat = ids.reshape(-1)
        sorted_ids = self.ids[self._order]
        where = np.minimum(np.searchsorted(sorted_ids, flat), max(len(sorted_ids) - 1, 0))
        out = self.rows[self._order[where]] if len(sorted_ids) else np.zeros((len(flat), self.rows.shape[1]))
        out = np.where((flat >= 0)[:, None], out, 0.0).astype(np.float32)
        return out.reshape(ids.shape + (self.rows.shape[1],))


class CodecIndex(Index, variant="codec"):
    """An :class:`rhtann.Index` whose codes come from an rhtann codec.

    Built by ``rhtann.Index(d, spec, metric)`` when ``spec`` names a codec
    token (see the module docstring); the constructor arguments are those of
    :class:`rhtann.Index` plus what the codec part of the spec decides.

    Parameters
    ----------
    d : int
        Input dimension.
    spec : str
        ``"RHT1,DTQ4"``, ``"RHT3,E8Q2"``, ``"RHT2keep,TQ4r40h"``,
        ``"RHTauto,DTQ4"``, ``"RHT,IVF256,TQ4"``, ``"RHT,DTQ4,RFlat"``... The
        RHT token may be left out (the codec then sees the raw vectors).
    metric : {"l2", "ip", "cosine"}, default "l2"
    seed : int, default 12345
        Seed of the rotation's signs and of the codec's dithers.
    threads : int, optional
        Threads during this index's calls (default: the process setting).
    target : {"scalar", "vq"}, optional
        Round target of ``RHTauto``; default :func:`codec_target` of the codec.

    Attributes
    ----------
    engine : rhtann.search.CodecFlat or rhtann.search.CodecIVF
        The index over codes (built at construction, or at :meth:`train` for
        ``RHTauto``).
    codec_token : str
    nlist : int or None
    refine : bool
    center : bool
        Whether the spec has the ``Center`` token.
    mean_ : ndarray of float32, shape (d,), or None
        With ``Center``, the mean of the training vectors (normalized ones
        for ``"cosine"``), learned by :meth:`train`; None otherwise.

    Notes
    -----
    Search results follow :meth:`rhtann.Index.search`: ``D`` float32
    (squared L2 ascending, or inner products / cosine similarities
    descending), ``I`` int64. Query parameters: ``k_factor``, ``rerank``
    (``"codes"``, ``"exact"`` with a refine token, ``"none"``) and ``method``
    (``"fastscan"``, ``"gemm"``; flat only), ``nprobe`` (IVF only).
    """

    #: Whether a spec names an rhtann codec (used by ``Index.__new__``).
    claims = staticmethod(claims)
    #: The cosine normalization of the engines' own arithmetic, which the single-query call repeats.
    _normalized = staticmethod(SC.normalized)

    def __init__(
        self,
        d: int,
        spec: str,
        metric: str = "l2",
        *,
        seed: int = 12345,
        threads: int | None = None,
        chunk_size: int | None = None,
        progress: bool = False,
        adaptive: bool = False,
        target: str | None = None,
    ) -> None:
        self._init_common(d, spec, metric, seed, threads, chunk_size, progress)
        if adaptive:
            raise ValueError(f"adaptive=True is not available for codec specs such as {spec!r}")
        self.nlist, self.codec_token, self.refine, self.center = parse_codec_key(self.spec)
        self.mean_: np.ndarray | None = None
        if target is None:
            target = codec_target(self.codec_token)
        if target not in ("scalar", "vq"):
            raise ValueError(f"target must be 'scalar' or 'vq'; got {target!r}")
        self.target = target
        self.rht: RHT | None = self._make_rht() if self.spec.has_rht else None
        self.stats = dict.fromkeys(STAT_KEYS, 0.0)
        self.train_report_ = None
        self._subs, self._levels = [], [0]
        self._exact = _Originals(self.d) if (self.refine and self.nlist is not None) else None
        self._trained = False
        self.engine: CodecFlat | CodecIVF | None = None
        if self.rht is None or self.rht.is_trained:
            self._build_engine()

    def _build_engine(self) -> None:
        d_code = self.rht.d_out if self.rht is not None else self.d
        try:
            codec = make_codec(self.codec_token, d_code, self.seed)
        except ValueError as exc:
            raise ValueError(f"spec {self.spec.text!r}: {exc}") from None
        if self.nlist is None:
            self.engine = CodecFlat(
                self.d, codec, rht=self.rht, metric=self._engine_metric, refine=self.refine
            )
        else:
            try:
                self.engine = CodecIVF(self.d, codec, self.nlist, rht=self.rht, metric=self._engine_metric)
            except ValueError as exc:
                raise ValueError(f"spec {self.spec.text!r}: {exc}") from None

    @property
    def _engine_metric(self) -> str:
        """The engine's metric (with ``Center`` and cosine the index normalizes; the engine ranks by ip)."""
        return "ip" if (self.center and self.metric == "cosine") else self.metric

    # -- centring ----------------------------------------------------------------
    def _engine_rows(self, xm: np.ndarray) -> np.ndarray:
        """Stored vectors as the engine takes them: raw, or normalized (cosine) and shifted by ``mean_``."""
        if not self.center:
            return xm
        return np.ascontiguousarray(self._prepare(xm, "x") - self.mean_, dtype=np.float32)

    def _exact_rows(self, xe: np.ndarray, name: str = "x") -> np.ndarray:
        """Rows of the exact re-ranking store, or queries, from engine rows (the engine's space)."""
        return xe if self.center else self._prepare(xe, name)

    def _engine_queries(self, qm: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Queries as the engine takes them, and the score each one's ``D`` must get back.

        Without ``Center``: the raw queries and None. With it: L2 queries
        shifted by ``mean_`` (distances are then unchanged) and no offset;
        inner-product and cosine queries (normalized) as they are, with the
        offset ``<q, mean_>`` to add to their scores.
        """
        if not self.center:
            return qm, None
        q = self._prepare(qm, "q")
        if self.metric == "l2":
            return np.ascontiguousarray(q - self.mean_, dtype=np.float32), None
        return q, SC.row_dots(q, self.mean_)

    @staticmethod
    def _add_offset(D: np.ndarray, ids: np.ndarray, offset: np.ndarray | None) -> np.ndarray:
        if offset is None:
            return D
        out = D + offset[:, None]
        if ids.size and ids.min() < 0:
            missing = ids < 0
            out[missing] = D[missing]
        return out

    def _learn_mean(self, xm: np.ndarray) -> None:
        if self.center:
            mean = self._prepare(xm, "x").mean(axis=0, dtype=np.float64)
            if not np.isfinite(mean).all():
                raise ValueError("x: the mean of the training vectors is not finite in float64 (Center)")
            self.mean_ = mean.astype(np.float32)

    # -- properties ------------------------------------------------------------
    @property
    def is_trained(self) -> bool:
        return self.engine is not None and self._trained

    @property
    def ntotal(self) -> int:
        return 0 if self.engine is None else int(self.engine.ntotal)

    @property
    def bytes_per_vector(self) -> float:
        """Bytes stored per vector: codes, scales, decoded norms (L2), ids, list padding, originals.

        An int for flat indexes; for IVF the mean over stored vectors (lists
        are padded to whole scan blocks).
        """
        if self.engine is None:
            raise RuntimeError("bytes_per_vector is known once the codec exists (after train for RHTauto)")
        extra = 4 * self.d if self._exact is not None else 0
        return self.engine.bytes_per_vector + extra

    @property
    def sub_index(self):
        raise AttributeError(f"codec spec {self.spec.text!r} has no faiss sub-index (see .engine)")

    @property
    def sub_indexes(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"Index(d={self.d}, spec={self.spec.text!r}, metric={self.metric!r}, ntotal={self.ntotal})"

    # -- train / add ---------------------------------------------------------------
    def _read(self, x: Any, name: str) -> np.ndarray:
        return as_matrix(check_rows(x, name, self.d)[:], name, self.d)

    @exclusive
    def train(self, x: Any) -> "CodecIndex":
        """Train the rotation (``RHTauto``), the codec and the coarse quantizer (IVF).

        Parameters
        ----------
        x : array_like, shape (n, d), n >= 1 (>= nlist for IVF)

        Returns
        -------
        CodecIndex
            ``self``.
        """
        with timed(self.stats, "train_s"):
            xm = self._read(x, "x")
            if xm.shape[0] == 0:
                raise ValueError(f"x must hold at least one training vector; got shape (0, {self.d})")
            if self.ntotal:
                raise RuntimeError(
                    f"this Index already holds {self.ntotal} vectors; train a new Index instead"
                )
            with thread_scope(self.threads):
                self._learn_mean(xm)
                xe = self._engine_rows(xm)
                if self.rht is not None and self.spec.rounds == "auto":
                    with timed(self.stats, "transform_s"):
                        self.rht._train(self._exact_rows(xe), "x")
                    self._build_engine()
                self.engine.train(xe)
        self._trained = True
        return self

    def _add(self, x: Any, ids: np.ndarray | None) -> None:
        with timed(self.stats, "add_s"):
            self._check_trained("add")
            xm = self._read(x, "x")
            if ids is not None and np.any(ids < 0):
                raise ValueError("ids must be non-negative (-1 marks missing results)")
            if self._exact is not None:
                seq = np.arange(self.ntotal, self.ntotal + len(xm), dtype=np.int64) if ids is None else ids
            with thread_scope(self.threads):
                xe = self._engine_rows(xm)
                self.engine.add(xe, ids)
            if self._exact is not None and len(xm):
                self._exact.add(self._exact_rows(xe), seq)

    # -- search ----------------------------------------------------------------------
    def search(self, q: Any, k: int, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored vectors of each query.

        Parameters
        ----------
        q : array_like, shape (nq, d)
        k : int, 1 <= k <= ntotal
        **params
            ``k_factor`` (int >= 1), ``rerank``, ``method`` (flat),
            ``nprobe`` (IVF); see the class notes.

        Returns
        -------
        D : ndarray of float32, shape (nq, k)
        I : ndarray of int64, shape (nq, k)
        """
        if type(q) is np.ndarray and type(k) is int and params.keys() <= _ONE:
            found = self._search_single(q, k, params)
            if found is not None:
                return found
        return self._search(q, k, **params)

    @shared
    def _search(self, q: Any, k: int, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` by the general route, holding the lock shared."""
        with timed(self.stats, "search_s"):
            self._check_trained("search")
            qm = as_matrix(q, "q", self.d)
            k = check_int(k, "k", 1)
            ntotal = self.ntotal
            if ntotal == 0:
                raise RuntimeError("the index is empty; add vectors before searching")
            if k > ntotal:
                raise ValueError(f"k must be <= ntotal = {ntotal}; got k={k}")
            known = FLAT_PARAMS if self.nlist is None else IVF_PARAMS
            unknown = sorted(set(params) - set(known)) if params else []
            if unknown:
                raise ValueError(
                    f"unknown query parameters {unknown} for spec {self.spec.text!r}; known: {list(known)}"
                )
            with thread_scope(self.threads):
                qe, offset = self._engine_queries(qm)
                if self._exact is None:
                    D, ids = self.engine.search(qe, k, **params)
                else:
                    D, ids = self._search_exact(qe, k, **params)
                return self._add_offset(D, ids, offset), ids

    def _search_single(self, q: np.ndarray, k: int, params: dict) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`search` of one query that needs no conversion, by the shortest route; or None.

        Applies to a trained flat index without ``IVF`` or exact re-ranking
        whose engine takes the one-call route, ``q`` a C-contiguous float32
        array of shape ``(1, d)``, ``k`` an int in ``[1, ntotal]`` and an
        effective thread count of one. It takes the lock shared, as
        :meth:`search` does, calls the engine's compiled call
        (:meth:`rhtann.search.CodecFlat._search_one`) directly and adds its
        time to ``stats["search_s"]``. For one query each Python step costs
        as much as a scan of thousands of codes (more once a scan has pushed
        the interpreter's data out of the caches), so the route makes as few
        as it can. None means "take the general route", which handles every
        other case and names what is wrong.
        """
        if q.dtype != _F32 or q.shape != (1, self.d) or not q.flags.c_contiguous:
            return None
        lock = _lock_of(self)
        lock.acquire_read()
        try:
            t0 = perf_counter()
            eng = self.engine
            if (
                eng is None or not self._trained or self.nlist is not None or self._exact is not None
                or not 0 < k <= eng.ntotal or eng.refine or eng.rht is None or not eng.one_call
                or (self.threads if self.threads is not None else get_num_threads()) != 1
            ):
                return None
            kf = params.get("k_factor")
            kk = k * (8 if kf is None else SC.check_k(kf, "k_factor"))
            if not self.center:
                found = eng._search_one(q, k, kk)
            elif self.metric == "l2":
                found = eng._search_one(q, k, kk, self.mean_)
            else:
                found = eng._search_one(q, k, kk, None, self.mean_, self.metric == "cosine")
            if found is not None:
                stats = self.stats
                stats["search_s"] = stats.get("search_s", 0.0) + perf_counter() - t0
            return found
        finally:
            lock.release_read()

    def _search_exact(self, qm: np.ndarray, k: int, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """IVF candidates from the codes, re-ranked with the stored originals."""
        rerank = params.pop("rerank", None)
        if rerank not in (None, "exact", "codes", "none"):
            raise ValueError(f"rerank must be None, 'exact', 'codes' or 'none'; got {rerank!r}")
        kf = check_int(params.pop("k_factor", 4), "k_factor", 1)
        if rerank in ("codes", "none"):
            return self.engine.search(qm, k, rerank=rerank, k_factor=kf, **params)
        kk = min(k * kf, self.ntotal)
        _, cand = self.engine.search(qm, kk, **params)
        q = self._exact_rows(qm, "q")
        x = self._exact.gather(cand)
        ip = np.einsum("md,mcd->mc", q, x)
        sc = 2 * ip - np.einsum("mcd,mcd->mc", x, x) if self.metric == "l2" else ip
        sc = np.where(cand >= 0, sc, -np.inf)
        order = np.argsort(-sc, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(sc, order, 1).astype(np.float32)
        ids = np.where(np.isfinite(best), np.take_along_axis(cand, order, 1), -1).astype(np.int64)
        return SC.scores_to_distances(best, ids, self.metric, SC.squared_norms(q, self.metric)), ids

    # -- reconstruct / unsupported ---------------------------------------------------------
    @shared
    def reconstruct(self, ids: Any) -> np.ndarray:
        """Decoded vectors of stored ids, rotation undone: ``(d,)`` for one id, ``(n, d)`` for several.

        Raises
        ------
        KeyError
            For an id that is not stored.
        """
        self._check_trained("reconstruct")
        single = isinstance(ids, Integral)
        arr = np.atleast_1d(np.asarray(ids))
        out = self.engine.reconstruct(check_ids(arr, arr.shape[0]))
        if self.mean_ is not None:
            out = (out + self.mean_).astype(np.float32)
        return out[0] if single else out

    def remove_ids(self, ids: Any) -> int:
        raise NotImplementedError(f"codec spec {self.spec.text!r} cannot remove vectors")

    def to_faiss(self):
        raise NotImplementedError(f"codec spec {self.spec.text!r} has no faiss equivalent")

    # -- files --------------------------------------------------------------------------
    def _meta(self) -> dict:
        return {
            "engine": "codec",
            "d": self.d,
            "spec": self.spec.text,
            "metric": self.metric,
            "seed": self.seed,
            "chunk_size": self._chunk_arg,
            "target": self.target,
            "rht": None if self.rht is None else self.rht._state(),
            "stats": dict(self.stats),
        }

    @shared
    def save(self, path: str | os.PathLike) -> None:
        """Write the index to one file, atomically; read it with :func:`rhtann.load`.

        The container (:mod:`rhtann.io`, kind ``"Index"``) holds the spec,
        the transform's parameters and signs, the codec's state and the
        stored codes, ids and (with a refine token) originals.
        """
        self._check_trained("save")
        meta = self._meta()
        blobs: dict[str, bytes] = {}
        if self.rht is not None:
            blobs["signs"] = self.rht.signs_.tobytes()
        emeta, eblobs = _engine_state(self.engine)
        meta["engine_state"] = emeta
        blobs.update({f"e.{k}": v for k, v in eblobs.items()})
        if self._exact is not None:
            blobs["x.rows"] = self._exact.rows.tobytes()
            blobs["x.ids"] = self._exact.ids.tobytes()
        if self.mean_ is not None:
            blobs["mean"] = self.mean_.tobytes()
        io.write_container(path, "Index", meta, blobs)

    @classmethod
    def _from_container(cls, meta: dict, blobs: dict[str, bytes], where: str) -> "CodecIndex":
        try:
            obj = cls(
                meta["d"], meta["spec"], meta["metric"], seed=meta["seed"], chunk_size=meta["chunk_size"],
                target=meta["target"],
            )
            if meta["rht"] is not None:
                obj.rht = RHT._from_state(meta["rht"])
            if obj.rht is not None and blobs.get("signs") != obj.rht.signs_.tobytes():
                raise ValueError("stored sign vectors differ from the ones the seed generates")
            eblobs = {k[2:]: v for k, v in blobs.items() if k.startswith("e.")}
            obj.engine = _engine_from_state(obj, meta["engine_state"], eblobs)
            if obj._exact is not None:
                rows = np.frombuffer(blobs["x.rows"], dtype=np.float32)
                ids = np.frombuffer(blobs["x.ids"], dtype=np.int64)
                if rows.size != ids.size * obj.d or ids.size != obj.engine.ntotal:
                    raise ValueError("stored originals disagree with the stored codes")
                obj._exact.add(rows.reshape(-1, obj.d).copy(), ids.copy())
            if obj.center:
                mean = np.frombuffer(blobs.get("mean", b""), dtype=np.float32)
                if mean.shape != (obj.d,) or not np.isfinite(mean).all():
                    raise ValueError(f"blob 'mean' must hold {obj.d} finite float32 values (Center)")
                obj.mean_ = mean.copy()
            elif "mean" in blobs:
                raise ValueError("blob 'mean' is present but the spec has no Center token")
            obj.stats.update({str(k): float(v) for k, v in meta["stats"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise io.FormatError(f"{where}: invalid codec Index contents ({exc})") from None
        obj._trained = True
        return obj


def _engine_state(engine: CodecFlat | CodecIVF) -> tuple[dict, dict[str, bytes]]:
    """Parameters and blobs of a CodecFlat / CodecIVF (rotation excluded: the Index holds it)."""
    cmeta, carrays = engine.codec.get_state()
    if carrays:
        raise ValueError(f"codec {engine.codec.name} has array state, which cannot be saved yet")
    blobs = engine.store.blobs()
    if isinstance(engine, CodecFlat):
        custom = engine._ids is not None
        meta = {"kind": "flat", "ntotal": engine.ntotal, "codec": cmeta, "custom_ids": custom}
        if engine._ids is not None:
            blobs["ids"] = engine._ids.tobytes()
        if engine.refine:
            blobs["orig"] = engine._orig.tobytes()
        return meta, blobs
    meta = {"kind": "ivf", "codec": cmeta, "npos": engine.store.n, "auto_ids": engine._auto_ids}
    blobs["centroids"] = engine.centroids.tobytes()
    blobs["list_sizes"] = engine.list_sizes.tobytes()
    blobs["pos_ids"] = engine._pos_ids.tobytes()
    return meta, blobs


def _engine_from_state(obj: CodecIndex, meta: dict, blobs: dict[str, bytes]) -> CodecFlat | CodecIVF:
    codec = codec_from_state(meta["codec"])
    d_code = obj.rht.d_out if obj.rht is not None else obj.d
    if codec.d != d_code or parse_token(codec.name)[0] != parse_token(obj.codec_token)[0]:
        raise ValueError(f"stored codec {codec.name} (d={codec.d}) does not match the spec")
    if meta["kind"] == "flat":
        eng = CodecFlat(obj.d, codec, rht=obj.rht, metric=obj._engine_metric, refine=obj.refine)
        n = int(meta["ntotal"])
        eng.store.restore(n, blobs)
        if meta["custom_ids"]:
            if len(blobs.get("ids", b"")) != 8 * n:
                raise ValueError("blob 'ids' has the wrong size")
            eng._ids = np.frombuffer(blobs["ids"], dtype=np.int64).copy()
        if eng.refine:
            if len(blobs.get("orig", b"")) != 4 * obj.d * n:
                raise ValueError("blob 'orig' has the wrong size")
            eng._orig = np.frombuffer(blobs["orig"], dtype=np.float32).reshape(n, obj.d).copy()
        return eng
    if meta["kind"] != "ivf" or obj.nlist is None:
        raise ValueError(f"engine kind {meta['kind']!r} does not match the spec")
    eng = CodecIVF(obj.d, codec, obj.nlist, rht=obj.rht, metric=obj._engine_metric)
    cent = np.frombuffer(blobs["centroids"], dtype=np.float32)
    if cent.size != eng.nlist * eng.d_code:
        raise ValueError("blob 'centroids' has the wrong size")
    eng.centroids = cent.reshape(eng.nlist, eng.d_code).copy()
    eng._make_quantizer()
    sizes = np.frombuffer(blobs["list_sizes"], dtype=np.int64).copy()
    npos = int(meta["npos"])
    if sizes.shape != (eng.nlist,) or (sizes < 0).any():
        raise ValueError("blob 'list_sizes' is invalid")
    lanes = SC.LANES
    bstart = np.zeros(eng.nlist + 1, dtype=np.int64)
    np.cumsum((sizes + lanes - 1) // lanes, out=bstart[1:])
    if int(bstart[-1]) * lanes != npos:
        raise ValueError("list sizes disagree with the stored positions")
    pos_ids = np.frombuffer(blobs["pos_ids"], dtype=np.int64).copy()
    if pos_ids.shape != (npos,) or int((pos_ids >= 0).sum()) != int(sizes.sum()):
        raise ValueError("blob 'pos_ids' is invalid")
    eng.store.restore(npos, blobs)
    eng.list_sizes, eng.bstart, eng._pos_ids = sizes, bstart, pos_ids
    eng._auto_ids = bool(meta["auto_ids"])
    return eng


__all__ = ["CodecIndex", "claims", "codec_target", "parse_codec_key"]
