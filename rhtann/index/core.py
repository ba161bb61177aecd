"""rhtann.Index: a randomized Hadamard rotation in front of any faiss index.

The public methods validate their arguments once; then each chunk of rows is
converted to float32, normalized for the cosine metric, rotated by rhtann's
kernels, and either encoded by an rhtann encoder straight into the faiss
sub-index's storage (:mod:`rhtann.index.encoders`) or handed to the faiss
sub-index built with ``faiss.index_factory`` in the rotated space (dimension
``d_out``). :meth:`Index.to_faiss` exports the same thing as one pure faiss
``IndexPreTransform`` that ``faiss.write_index`` can save. Every faiss
internal used here lives in :mod:`rhtann.index.faiss_glue`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from numbers import Integral
from typing import Any, ClassVar

import numpy as np

from .. import io
from .._validation import as_matrix, check_finite_flag, check_ids, check_int, check_rows
from ..layouts.output import empty_output
from ..progress import bar, timed
from ..threads import check_threads, thread_scope
from ..transform import RHT
from . import faiss_glue as glue
from .encoders import Encoder, encoder_for
from .metric import normalized, parse_metric
from .spec import Spec, default_target, parse_spec

#: Default size in bytes of one rotated chunk (``chunk_size=None``). Each add
#: rotates into one buffer reused for every chunk (no fresh pages per chunk),
#: and chunks are large because every switch between rhtann's thread pool and
#: faiss's OpenMP pool costs time while the idle pool spins down.
DEFAULT_CHUNK_BYTES = 64 * 2**20

#: Keys of :attr:`Index.stats`.
STAT_KEYS = ("transform_s", "train_s", "add_s", "search_s", "search_transform_s")


class Index:
    """A faiss index behind a randomized Hadamard rotation.

    Parameters
    ----------
    d : int
        Dimension of the vectors given to :meth:`train`, :meth:`add` and
        :meth:`search`.
    spec : str
        A faiss ``index_factory`` string with an optional leading RHT token
        ``RHT[rounds][layout]`` (grammar in :mod:`rhtann.index.spec`):
        rounds 1, 2, 3 or ``auto`` (default 3) and layout ``pad``, ``keep``
        or ``auto`` (default ``pad``). ``"RHT,SQ4"`` rotates exactly like
        faiss's ``"HR,SQ4"``. Without the token the spec is a plain faiss
        index (``"SQ4"``, ``"HR,SQ4"``, ``"RR,PQ16"``) and :attr:`rht` is None.
    metric : {"l2", "ip", "cosine"}, default "l2"
        ``"cosine"`` (also accepted as ``"angular"``) L2-normalizes every
        vector and query and searches by inner product; distances returned are
        cosine similarities (ann-benchmarks' angular distance is ``1 - D``).
        Aliases: :mod:`rhtann.index.metric`.
    seed : int, default 12345
        Seed of the rotation's signs (faiss ``HR``'s default seed).
    threads : int, optional
        Threads for rhtann's kernels and faiss during this index's calls.
        Default: the process-wide setting (see :func:`rhtann.set_num_threads`).
    chunk_size : int, optional
        Rows rotated and handed to faiss at a time by :meth:`train`,
        :meth:`add` and :meth:`search`; peak extra memory is about
        ``chunk_size * d_out * 4`` bytes whatever the input size. Default:
        64 MiB worth of rotated rows, between 256 and 65536 rows.
    progress : bool, default False
        Show a tqdm progress bar over the chunks of :meth:`train` and :meth:`add`.
    adaptive : bool, default False
        Per-vector adaptive rounds: the object built is an
        :class:`rhtann.index.adaptive.AdaptiveIndex` (a subclass). Each
        vector is rotated with the fewest rounds its moments allow and
        stored in the sub-index of that level; queries are rotated to every
        level and the per-level results merged. Needs an RHT token.
    target : {"scalar", "vq"}, optional
        What the rounds must suffice for in adaptive mode (and for
        ``rounds="auto"``). Default: :func:`rhtann.index.spec.default_target`
        of the faiss key (``"vq"`` for product, additive and vector
        quantizers, else ``"scalar"``).

    Attributes
    ----------
    rht : RHT or None
        The transform; None for plain faiss specs.
    sub_index : faiss.Index
        The faiss index in rotated space (dimension ``d_out``).
    stats : dict
        Cumulative seconds: ``transform_s`` (rhtann's rotation and cosine
        normalization during train and add), ``train_s``, ``add_s`` (whole
        calls, transform included), ``search_s`` and ``search_transform_s``.
    train_report_ : dict or None
        What :meth:`train` learned beyond the faiss state; None for a fixed
        index, per-level counts for an adaptive one.

    Examples
    --------
    >>> import numpy as np, rhtann
    >>> xb = np.random.default_rng(0).standard_normal((2000, 96)).astype("float32")
    >>> index = rhtann.Index(96, "RHT,SQ8")
    >>> index = index.train(xb)
    >>> index.add(xb)
    >>> D, I = index.search(xb[:3], 4)
    >>> I[:, 0].tolist()
    [0, 1, 2]
    """

    #: Whether this class stores vectors under per-vector round counts.
    adaptive: ClassVar[bool] = False
    _variants: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, variant: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if variant is not None:
            Index._variants[variant] = cls

    def __new__(cls, *args: Any, adaptive: bool = False, **kwargs: Any) -> "Index":
        codec = Index._variants.get("codec")  # rhtann.index.codec: specs naming rhtann codecs
        spec = args[1] if len(args) > 1 else kwargs.get("spec")
        if cls is Index and codec is not None and codec.claims(spec):
            cls = codec  # which rejects adaptive=True with its own message
        elif adaptive and cls is Index:
            cls = Index._variants["adaptive"]
        return super().__new__(cls)

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
        self.d = check_int(d, "d", 1)
        self.spec: Spec = parse_spec(spec)
        self.metric = parse_metric(metric)
        self.seed = check_int(seed, "seed", 0, 2**64 - 1)
        self.threads = None if threads is None else check_threads(threads)
        self._chunk_arg = None if chunk_size is None else check_int(chunk_size, "chunk_size", 1)
        self.progress = bool(progress)
        if bool(adaptive) and not self.adaptive:
            raise TypeError(f"{type(self).__name__} is not adaptive; build rhtann.Index(..., adaptive=True)")
        if target is None:
            target = default_target(self.spec.faiss_key)
        if target not in ("scalar", "vq"):
            raise ValueError(f"target must be 'scalar' or 'vq'; got {target!r}")
        self.target = target
        if self.adaptive and not self.spec.has_rht:
            raise ValueError(
                f"adaptive=True needs an RHT token in the spec; got {spec!r} "
                "(write for example 'RHT,SQ4')"
            )
        self.rht: RHT | None = self._make_rht() if self.spec.has_rht else None
        self.stats: dict[str, float] = dict.fromkeys(STAT_KEYS, 0.0)
        self.train_report_: dict | None = None
        self._subs: list = []
        self._levels: list[int] = []
        if self.rht is None or self.rht.is_trained:
            self._build_subs()

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------

    def _make_rht(self) -> RHT:
        rounds = self.spec.rounds
        kwargs: dict[str, Any] = {}
        if rounds == "auto" or self.adaptive:
            kwargs["target"] = self.target
        try:
            return RHT(self.d, rounds, self.seed, self.spec.layout, **kwargs)
        except ValueError as exc:
            raise ValueError(
                f"cannot build the transform of spec {self.spec.text!r} "
                f"({self.spec.rht_token}): {exc}"
            ) from None

    def _level_list(self) -> list[int]:
        """Round counts of the sub-indexes; ``[0]`` (one sub-index) unless adaptive."""
        return [0]

    def _new_sub(self):
        return glue.build_faiss(self.d_out, self.spec.faiss_key, self.metric, self.spec.text)

    def _build_subs(self) -> None:
        self._levels = self._level_list()
        self._subs = [self._new_sub() for _ in self._levels]

    @property
    def chunk_size(self) -> int:
        """Rows processed at a time (see the ``chunk_size`` parameter)."""
        if self._chunk_arg is not None:
            return self._chunk_arg
        return int(min(65536, max(256, DEFAULT_CHUNK_BYTES // (4 * self.d_out))))

    @property
    def d_out(self) -> int:
        """Dimension of the rotated space (the faiss sub-index's ``d``)."""
        return self.rht.d_out if self.rht is not None else self.d

    @property
    def sub_index(self):
        """The faiss sub-index (in ``d_out`` space)."""
        if not self._subs:
            raise RuntimeError("the sub-index is built at train(x) for rounds='auto'")
        return self._subs[0]

    @property
    def sub_indexes(self) -> dict:
        """Dict of level (rounds; 0 for a non-adaptive index) to faiss sub-index."""
        return dict(zip(self._levels, self._subs, strict=True))

    # ------------------------------------------------------------------
    # properties
    # ------------------------------------------------------------------

    @property
    def is_trained(self) -> bool:
        """Whether the transform and every sub-index are trained."""
        if self.rht is not None and not self.rht.is_trained:
            return False
        return bool(self._subs) and all(s.is_trained for s in self._subs)

    @property
    def ntotal(self) -> int:
        """Number of stored vectors."""
        return int(sum(s.ntotal for s in self._subs))

    @property
    def bytes_per_vector(self) -> int:
        """Bytes of codes stored per vector by the faiss sub-index.

        The faiss ``code_size`` of each stage that stores a code per vector
        (for ``RFlat``/``Refine`` the refinement codes too); see
        :func:`rhtann.index.faiss_glue.code_bytes`. Not counted: ids in
        inverted lists or ID maps (8 bytes each), graph links (HNSW/NSG),
        centroids and codebooks, and the transform (a seed).
        """
        if not self._subs:
            raise RuntimeError("bytes_per_vector is known once the sub-index exists (after train)")
        return glue.code_bytes(self._subs[-1])

    def __len__(self) -> int:
        return self.ntotal

    def __repr__(self) -> str:
        extra = ", adaptive=True" if self.adaptive else ""
        return (
            f"Index(d={self.d}, spec={self.spec.text!r}, metric={self.metric!r}{extra}, "
            f"ntotal={self.ntotal if self._subs else 0})"
        )

    # ------------------------------------------------------------------
    # below the edge: trusted chunks
    # ------------------------------------------------------------------

    def _prepare(self, x: Any, name: str) -> np.ndarray:
        """One validated chunk: C-contiguous float32, normalized for cosine, finite."""
        with np.errstate(over="ignore"):  # overflow to inf is reported below
            x = np.ascontiguousarray(x, dtype=np.float32)
        if self.metric == "cosine":
            x = normalized(x)
        if self.rht is None:
            check_finite_flag(not bool(np.isfinite(x).all()), name)
        return x

    def _rotate(self, x: Any, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """Prepare and rotate one chunk (finiteness checked by the kernels).

        Timed into ``stats``: ``transform_s`` for vectors ``"x"``,
        ``search_transform_s`` for queries ``"q"``.
        """
        with timed(self.stats, "transform_s" if name == "x" else "search_transform_s"):
            x = self._prepare(x, name)
            if self.rht is None:
                return x
            buf = None if out is None else out[: x.shape[0]]
            return self.rht._forward(x, self.rht.n_rounds_, buf, name)

    def _chunks(self, n: int, desc: str | None = None) -> Iterator[tuple[int, int]]:
        """``(start, stop)`` of the chunks of ``n`` rows; a progress bar when ``desc`` and ``progress``."""
        starts = range(0, n, self.chunk_size)
        for i0 in bar(starts, desc or "", total=len(starts), enabled=self.progress and desc is not None):
            yield i0, min(n, i0 + self.chunk_size)

    def _check_trained(self, what: str) -> None:
        if not self.is_trained:
            raise RuntimeError(f"this Index ({self.spec.text!r}) is not trained; call train(x) before {what}")

    # ------------------------------------------------------------------
    # train / add
    # ------------------------------------------------------------------

    def train(self, x: Any) -> "Index":
        """Train the transform (``rounds="auto"``) and the faiss sub-index.

        Parameters
        ----------
        x : array_like, shape (n, d)
            Training vectors, float or integer dtype (converted to float32);
            numpy arrays, memmaps and h5py datasets are read in chunks.

        Returns
        -------
        Index
            ``self``.
        """
        with timed(self.stats, "train_s"):
            x = check_rows(x, "x", self.d)
            n = x.shape[0]
            if n == 0:
                raise ValueError(f"x must hold at least one training vector; got shape (0, {self.d})")
            if self._subs and self.ntotal:
                raise RuntimeError(
                    f"this Index already holds {self.ntotal} vectors; train a new Index instead "
                    "(retraining would leave them in the old rotated space)"
                )
            with thread_scope(self.threads):
                if self.rht is not None and (not self.rht.is_trained or self.spec.rounds == "auto"):
                    with timed(self.stats, "transform_s"):
                        self.rht._train(self._prepare(x[:], "x"), "x")
                if not self._subs:
                    self._build_subs()
                self._train_subs(x, n)
        return self

    def _train_subs(self, x: Any, n: int) -> None:
        """Train the sub-index on all of ``x`` rotated (``x`` validated, ``n >= 1`` rows)."""
        y = np.empty((n, self.d_out), dtype=np.float32)
        for i0, i1 in self._chunks(n, "rotate"):
            y[i0:i1] = self._rotate(x[i0:i1], "x")
        self._subs[0].train(y)

    def add(self, x: Any) -> None:
        """Rotate and add vectors, ``chunk_size`` rows at a time.

        They get the ids ``ntotal, ntotal + 1, ...`` (as in faiss).

        Parameters
        ----------
        x : array_like, shape (n, d)
            Float or integer dtype; numpy arrays, memmaps and h5py datasets
            are read one chunk at a time. A chunk holding NaN or infinity
            raises ValueError; the chunks before it stay added.
        """
        self._add(check_rows(x, "x", self.d), None)

    def add_with_ids(self, x: Any, ids: Any) -> None:
        """Rotate and add vectors under the given ids.

        Indexes that cannot store ids themselves (flat codes such as SQ, PQ,
        RaBitQ, EDEN; HNSW) are wrapped in ``faiss.IndexIDMap2`` at the first
        call, which must come before any :meth:`add`.

        Parameters
        ----------
        x : array_like, shape (n, d)
        ids : array_like, shape (n,), integer
        """
        x = check_rows(x, "x", self.d)
        self._add(x, check_ids(ids, x.shape[0]))

    def _add(self, x: Any, ids: np.ndarray | None) -> None:
        """Add validated rows ``x`` under validated ``ids`` (None: sequential ids)."""
        with timed(self.stats, "add_s"):
            self._check_trained("add")
            n = x.shape[0]
            with thread_scope(self.threads):
                self._add_rows(x, n, ids)

    def _add_rows(self, x: Any, n: int, ids: np.ndarray | None) -> None:
        if ids is not None and not glue.supports_ids(self._subs[0]):
            if self.ntotal:
                raise RuntimeError(
                    f"{self.spec.faiss_key!r} stores no ids; call add_with_ids from the "
                    "first add (the index is then wrapped in faiss.IndexIDMap2), or use "
                    "add() and its sequential ids"
                )
            self._subs[0] = glue.with_ids(self._subs[0])
        if ids is None and glue.is_id_map(self._subs[0]):
            ids = np.arange(self.ntotal, self.ntotal + n, dtype=np.int64)
        if n == 0:
            return
        buf = None
        if self.rht is not None:
            buf = empty_output((min(n, self.chunk_size), self.d_out), np.float32)
        encoder = encoder_for(self._subs[0]) if ids is None else None
        if encoder is not None:
            self._add_encoded(x, n, encoder, buf)
            return
        for i0, i1 in self._chunks(n, "add"):
            y = self._rotate(x[i0:i1], "x", buf)
            if ids is None:
                self._subs[0].add(y)
            else:
                self._subs[0].add_with_ids(y, ids[i0:i1])

    def _add_encoded(self, x: Any, n: int, encoder: Encoder, buf: np.ndarray | None) -> None:
        """Rotate and encode chunk by chunk into the sub-index's grown storage."""
        with glue.CodeAppender(self._subs[0], n) as app:
            for i0, i1 in self._chunks(n, "add"):
                y = self._rotate(x[i0:i1], "x", buf)
                encoder.encode_into(y, app.rows[i0:i1])  # y is finite: checked by the rotation
                app.done = i1

    # ------------------------------------------------------------------
    # search
    # ------------------------------------------------------------------

    def search(self, q: Any, k: int, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored vectors of each query.

        Parameters
        ----------
        q : array_like, shape (nq, d)
            Queries (float or integer dtype).
        k : int
            Neighbours per query, ``1 <= k <= ntotal``.
        **params
            Query parameters: ``nprobe`` (IVF), ``efSearch`` (HNSW, also an
            HNSW coarse quantizer), ``k_factor`` (RFlat/Refine), or
            ``params=`` a faiss ``SearchParameters`` object used as is.

        Returns
        -------
        D : numpy.ndarray, shape (nq, k), float32
            Distances (squared L2) or similarities (ip, cosine), best first;
            missing results are ``inf`` (l2) or ``-inf`` (ip, cosine), as in
            faiss.
        I : numpy.ndarray, shape (nq, k), int64
            Ids; ``-1`` where fewer than ``k`` results were found.
        """
        with timed(self.stats, "search_s"):
            self._check_trained("search")
            q = as_matrix(q, "q", self.d)
            k = check_int(k, "k", 1)
            if self.ntotal == 0:
                raise RuntimeError("the index is empty; add vectors before searching")
            if k > self.ntotal:
                raise ValueError(f"k must be <= ntotal = {self.ntotal}; got k={k}")
            nq = q.shape[0]
            D = np.empty((nq, k), dtype=np.float32)
            I = np.empty((nq, k), dtype=np.int64)  # noqa: E741 (faiss's D, I)
            with thread_scope(self.threads):
                sp = [glue.search_parameters(s, params, self.spec.faiss_key) for s in self._subs]
                for i0, i1 in self._chunks(nq):
                    D[i0:i1], I[i0:i1] = self._search_chunk(q[i0:i1], k, sp)
        return D, I

    def _search_chunk(self, q: np.ndarray, k: int, sp: list) -> tuple[np.ndarray, np.ndarray]:
        """Search one chunk of validated float32 queries with per-sub-index parameters ``sp``."""
        return self._subs[0].search(self._rotate(q, "q"), k, params=sp[0])

    # ------------------------------------------------------------------
    # remove / reconstruct
    # ------------------------------------------------------------------

    def remove_ids(self, ids: Any) -> int:
        """Remove the vectors with the given ids, where faiss supports it.

        Flat-code indexes (SQ, PQ, RaBitQ...) renumber the remaining vectors
        as faiss does (ids above a removed one shift down); IVF and ID-mapped
        indexes keep ids. HNSW and refined indexes cannot remove.

        Parameters
        ----------
        ids : array_like, shape (n,), integer

        Returns
        -------
        int
            Number of vectors removed.
        """
        arr = np.asarray(ids)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        arr = check_ids(arr, arr.shape[0])
        removed = 0
        for sub in self._subs:
            try:
                removed += glue.remove(sub, arr)
            except RuntimeError as exc:
                raise NotImplementedError(
                    f"faiss cannot remove vectors from {self.spec.faiss_key!r}: {glue.faiss_error(exc)}"
                ) from None
        return removed

    def reconstruct(self, ids: Any) -> np.ndarray:
        """Decode stored vectors and undo the rotation exactly.

        Parameters
        ----------
        ids : int or array_like of int, shape (n,)

        Returns
        -------
        numpy.ndarray
            Shape ``(d,)`` for one id, ``(n, d)`` for several; float32. The
            result carries the quantizer's error (and is unit-norm for the
            cosine metric).

        Raises
        ------
        KeyError
            For an id that is not stored (or an index that cannot decode).
        """
        self._check_trained("reconstruct")
        single = isinstance(ids, Integral)
        arr = np.atleast_1d(np.asarray(ids))
        out = self._reconstruct_rows(check_ids(arr, arr.shape[0]))
        return out[0] if single else out

    def _reconstruct_rows(self, ids: np.ndarray) -> np.ndarray:
        y = np.empty((ids.shape[0], self.d_out), dtype=np.float32)
        for j, key in enumerate(ids):
            try:
                y[j] = glue.reconstruct_one(self._subs[0], int(key))
            except RuntimeError as exc:
                raise KeyError(
                    f"cannot reconstruct id {int(key)} from {self.spec.faiss_key!r}: "
                    f"{glue.faiss_error(exc)}"
                ) from None
        return y if self.rht is None else self.rht._inverse(y, self.rht.n_rounds_, "y")

    # ------------------------------------------------------------------
    # faiss export
    # ------------------------------------------------------------------

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

    # ------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------

    def _meta(self) -> dict:
        return {
            "d": self.d,
            "spec": self.spec.text,
            "metric": self.metric,
            "seed": self.seed,
            "chunk_size": self._chunk_arg,
            "adaptive": self.adaptive,
            "target": self.target,
            "rht": None if self.rht is None else self.rht._state(),
            "levels": list(self._levels),
            "sub_d": [int(s.d) for s in self._subs],
            "ntotal": [int(s.ntotal) for s in self._subs],
            "stats": dict(self.stats),
            "train_report": self.train_report_,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to one file, atomically; read it with :func:`rhtann.load`.

        The file holds the format version, the spec and transform parameters
        (JSON), the transform's sign vectors, ``faiss.serialize_index`` bytes
        of each sub-index, and a SHA-256 checksum (:mod:`rhtann.io`).
        """
        blobs = {}
        if self.rht is not None:
            blobs["signs"] = self.rht.signs_.tobytes()
        for i, sub in enumerate(self._subs):
            blobs[f"sub{i}"] = glue.serialize(sub)
        io.write_container(path, "Index", self._meta(), blobs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Index":
        """Read an index written by :meth:`save` (an adaptive one comes back as such).

        Raises
        ------
        rhtann.FormatError
            If the file is not an rhtann Index file, is truncated, corrupted,
            from a newer format version, or its parts disagree.
        """
        where = repr(os.fspath(path))
        meta, blobs = io.read_container(path, "Index")
        if meta.get("engine") == "codec" and "codec" in Index._variants:
            return Index._variants["codec"]._from_container(meta, blobs, where)
        try:
            obj = Index(
                meta["d"],
                meta["spec"],
                meta["metric"],
                seed=meta["seed"],
                chunk_size=meta["chunk_size"],
                adaptive=meta["adaptive"],
                target=meta["target"],
            )
            if meta["rht"] is not None:
                obj.rht = RHT._from_state(meta["rht"])
            levels = [int(v) for v in meta["levels"]]
            sub_d = [int(v) for v in meta["sub_d"]]
            ntotal = [int(v) for v in meta["ntotal"]]
            stats = {str(k): float(v) for k, v in meta["stats"].items()}
            report = meta.get("train_report")
            if report is not None and not isinstance(report, dict):
                raise ValueError(f"train_report must be a dict or null; got {type(report).__name__}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise io.FormatError(f"{where}: invalid Index parameters ({exc})") from None
        if not isinstance(obj, cls):
            raise io.FormatError(f"{where} holds a {type(obj).__name__}, not a {cls.__name__}")
        if obj.rht is not None and blobs.get("signs") != obj.rht.signs_.tobytes():
            raise io.FormatError(f"{where}: stored sign vectors differ from the ones the seed generates")
        if len(levels) != len(sub_d) or len(levels) != len(ntotal):
            raise io.FormatError(f"{where}: inconsistent sub-index lists")
        subs = []
        for i, (dd, nt) in enumerate(zip(sub_d, ntotal, strict=True)):
            blob = blobs.get(f"sub{i}")
            if blob is None:
                raise io.FormatError(f"{where}: sub-index {i} is missing")
            if dd != obj.d_out:
                raise io.FormatError(f"{where}: sub-index {i} has d={dd}; expected d={obj.d_out}")
            try:
                subs.append(glue.read_index_checked(blob, obj.d_out, nt, obj.metric, f"sub-index {i}"))
            except ValueError as exc:
                raise io.FormatError(f"{where}: {exc}") from None
        obj._subs = subs
        obj._levels = levels
        obj.stats.update(stats)
        obj.train_report_ = report
        return obj


__all__ = ["DEFAULT_CHUNK_BYTES", "STAT_KEYS", "Index"]
