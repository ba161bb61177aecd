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
from .._validation import as_matrix, check_dim, check_finite_flag, check_ids, check_int, check_rows
from ..layouts.output import empty_output
from ..progress import bar, timed
from ..rounds import auto_sample_rows
from ..threads import check_threads, thread_scope
from ..transform import RHT
from . import checks, ondisk, sources, trained_rounds
from . import faiss_glue as glue
from .encoders import Encoder, encoder_for
from .export import FaissExport
from .limits import MAX_K, check_norms
from .locking import RWLock, exclusive, shared
from .metric import normalized, parse_metric
from .persist import STAT_KEYS, from_meta, meta_of
from .spec import Spec, default_target, parse_spec
from .training import TRAIN_SAMPLE_BYTES, train_sub

#: Default size in bytes of one rotated chunk (``chunk_size=None``). Each add
#: rotates into one buffer reused for every chunk (no fresh pages per chunk),
#: and chunks are large because every switch between rhtann's thread pool and
#: faiss's OpenMP pool costs time while the idle pool spins down.
DEFAULT_CHUNK_BYTES = 64 * 2**20

class Index(FaissExport):
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
        or ``auto`` (default ``pad``). ``auto`` rounds before a trained
        quantizer (PQ, SQ4/6/8...) are 0 (no rotation) to 3, chosen by
        held-out distortion (:mod:`rhtann.index.trained_rounds`); before
        other codes, by the moment check. ``"RHT,SQ4"`` rotates exactly like
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
        index, per-level counts for an adaptive one, the choice and the
        held-out distortions for ``RHTauto`` before a trained quantizer.

    Warns
    -----
    rhtann.CodecAssumptionWarning
        At :meth:`train`, when the codec assumes unit-norm input and the
        training vectors are not (:mod:`rhtann.index.checks`).

    Notes
    -----
    Thread safety: an Index holds a readers-writer lock
    (:mod:`rhtann.index.locking`). :meth:`search`, :meth:`reconstruct`,
    :meth:`save` and :meth:`to_faiss` take it shared and run in parallel
    with each other; :meth:`train`, :meth:`add`, :meth:`add_with_ids`,
    :meth:`add_from`, :meth:`to_ondisk` and :meth:`remove_ids` take it
    exclusively (:meth:`train_from` reads its sample, then trains under
    it), so they wait for running
    searches and block new ones until they finish. Two adds from two threads
    therefore run one after the other and both land. :func:`rhtann.load`
    builds a new object, which no other thread can hold yet. The lock is not
    reentrant and protects only calls through this object: a faiss index
    obtained from :attr:`sub_index` and changed directly is not covered. The
    counters in :attr:`stats` are updated without the lock and may miss
    increments under concurrency.

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
    #: Path of the on-disk inverted lists file after :meth:`to_ondisk`, else None.
    _ondisk: str | None = None
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
        self._init_common(d, spec, metric, seed, threads, chunk_size, progress)
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

    def _init_common(
        self, d: int, spec: str, metric: str, seed: int, threads: int | None, chunk_size: int | None,
        progress: bool,
    ) -> None:
        """Check and set the arguments every Index variant takes (the codec variant calls it too)."""
        self._rwlock = RWLock()  # searches shared, train/add exclusive (see the class notes)
        self.d = check_dim(d, "d")
        self.spec: Spec = parse_spec(spec)
        self.metric = parse_metric(metric)
        self.seed = check_int(seed, "seed", 0, 2**64 - 1)
        self.threads = None if threads is None else check_threads(threads)
        self._chunk_arg = None if chunk_size is None else check_int(chunk_size, "chunk_size", 1)
        self.progress = bool(progress)

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

    #: Unit-norm copy of checked float32 rows for the cosine metric (faiss's ``normalize_L2``, so that
    #: a faiss ``NormalizationTransform`` downstream gives the same bits).
    _normalized = staticmethod(normalized)

    def _prepare(self, x: Any, name: str) -> np.ndarray:
        """One validated chunk: C-contiguous float32, normalized for cosine, finite."""
        if not (type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous):
            with np.errstate(over="ignore"):  # overflow to inf is reported below
                x = np.ascontiguousarray(x, dtype=np.float32)
        if self.metric == "cosine":
            x = self._normalized(x)
        if self.rht is None:
            check_finite_flag(not bool(np.isfinite(x).all()), name)
        return x

    def _rotate(self, x: Any, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """Prepare and rotate one chunk (finiteness checked by the kernels, norms by :func:`check_norms`).

        Timed into ``stats``: ``transform_s`` for vectors ``"x"``,
        ``search_transform_s`` for queries ``"q"``.
        """
        with timed(self.stats, "transform_s" if name == "x" else "search_transform_s"):
            x = self._prepare(x, name)
            if self.rht is None:
                if self.metric != "cosine":
                    check_norms(x, name)
                return x
            buf = None if out is None else out[: x.shape[0]]
            sq = None if self.metric == "cosine" else np.empty(x.shape[0])
            y = self.rht._forward(x, self.rht.n_rounds_, buf, name, sq=sq)
            if sq is not None:
                check_norms(y, name, sq)
            return y

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

    @exclusive
    def train(self, x: Any) -> "Index":
        """Train the transform (``rounds="auto"``) and the faiss sub-index.

        Parameters
        ----------
        x : array_like, shape (n, d)
            Training vectors, float or integer dtype (converted to float32);
            numpy arrays, memmaps and h5py datasets are read in chunks.
            Indexes that need the rotated rows themselves (IVF, PQ...) are
            trained on at most :data:`TRAIN_SAMPLE_BYTES` of them (a seeded
            uniform sample of larger inputs; faiss's k-means samples far
            fewer anyway); min/max scalar quantizers see every row through
            their ranges; untrained-free indexes (Flat, HNSW) read nothing.

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
                if checks.unit_norm_tokens(self.spec.faiss_key):
                    sample = self._prepare(x[: checks.SAMPLE_ROWS], "x")
                    checks.check_codec_input(self.spec.faiss_key, sample, self.metric, self.spec.text)
                if trained_rounds.applies(self):  # RHTauto before PQ/SQ: 0-3 rounds by held-out error
                    self.rht, self.train_report_ = trained_rounds.choose(self, x)
                    self._subs = []
                elif self.rht is not None and (not self.rht.is_trained or self.spec.rounds == "auto"):
                    with timed(self.stats, "transform_s"):
                        rows = auto_sample_rows(n, self.rht.seed)  # only the rows the choice reads
                        self.rht._train(self._prepare(x[:] if rows is None else x[rows], "x"), "x", n)
                if not self._subs:
                    self._build_subs()
                need, why = glue.min_train_rows(self._subs[0])
                if n < need:
                    raise ValueError(
                        f"x must hold at least {need} training vectors for {why} "
                        f"(spec {self.spec.text!r}); got {n}"
                    )
                self._train_subs(x, n)
        return self

    def _train_subs(self, x: Any, n: int) -> None:
        """Train the sub-index on ``x`` rotated, chunk by chunk (:func:`rhtann.index.training.train_sub`)."""
        train_sub(self, x, n)

    @exclusive
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

    @exclusive
    def add_with_ids(self, x: Any, ids: Any) -> None:
        """Rotate and add vectors under the given ids.

        Indexes that cannot store ids themselves (flat codes such as SQ, PQ,
        RaBitQ, EDEN; HNSW) are wrapped in ``faiss.IndexIDMap2`` at the first
        call, which must come before any :meth:`add`.

        Parameters
        ----------
        x : array_like, shape (n, d)
        ids : array_like, shape (n,), integer
            Distinct ids in ``[0, 2**63 - 1]`` (-1 is faiss's "no result";
            unsigned ids of ``2**63`` and above would wrap). Ids already
            stored by an earlier call are not looked up: adding one again
            stores a second vector under it, as in faiss.
        """
        x = check_rows(x, "x", self.d)
        self._add(x, check_ids(ids, x.shape[0], new=True))

    @exclusive
    def add_from(
        self, source: Any, *, dataset: str = "train", chunk_rows: int | None = None,
        ids: Any = None, progress: bool = True,
    ) -> int:
        """Add the rows of a file or lazy array chunk by chunk; returns the number added.

        ``source``: an ``.h5``/``.hdf5`` path (its dataset ``dataset``),
        ``.fvecs``/``.ivecs``/``.bvecs`` or ``.npy`` (memory-mapped), or an
        object with a 2-D ``shape``, numeric ``dtype`` and row slicing (h5py
        dataset, ``np.memmap``, dask array); see :mod:`rhtann.index.sources`.
        ``chunk_rows`` rows (default :attr:`chunk_size`) are read at a time,
        so peak extra memory is about two float32 chunks. ``ids`` (shape
        ``(n,)``) as in :meth:`add_with_ids`; ``progress`` shows a bar.
        """
        return sources.add_from(
            self, source, dataset=dataset, chunk_rows=chunk_rows, ids=ids, progress=progress
        )

    def train_from(self, source: Any, *, rows: int, seed: int, dataset: str = "train") -> "Index":
        """Train on ``rows`` rows of ``source`` drawn without replacement with ``seed``.

        The sorted indices of :func:`rhtann.index.sources.sample_rows` are
        read in chunks into one ``(rows, d)`` float32 array given to
        :meth:`train`. Sources as in :meth:`add_from`. Returns ``self``.
        """
        sources.train_from(self, source, rows=rows, seed=seed, dataset=dataset)
        return self

    @exclusive
    def to_ondisk(self, path: str | os.PathLike) -> None:
        """Move the IVF inverted lists into a new memory-mapped file ``path``.

        Later adds append to that file and searches read it memory-mapped;
        :meth:`save` records its size and SHA-256 (:mod:`rhtann.index.ondisk`).
        """
        self._ondisk = ondisk.to_ondisk(self, path)

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

    @shared
    def search(self, q: Any, k: int, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored vectors of each query.

        Parameters
        ----------
        q : array_like, shape (nq, d)
            Queries (float or integer dtype).
        k : int
            Neighbours per query, ``1 <= k <= min(ntotal, MAX_K)``
            (:data:`rhtann.index.limits.MAX_K`).
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
            k = check_int(k, "k", 1, MAX_K)
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

    @exclusive
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

    @shared
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
            except (RuntimeError, KeyError) as exc:
                why = exc.args[0] if isinstance(exc, KeyError) else glue.faiss_error(exc)
                where = self.spec.faiss_key
                raise KeyError(f"cannot reconstruct id {int(key)} from {where!r}: {why}") from None
        return y if self.rht is None else self.rht._inverse(y, self.rht.n_rounds_, "y")

    # ------------------------------------------------------------------
    # persistence (export to faiss: rhtann.index.export)
    # ------------------------------------------------------------------

    def _meta(self) -> dict:
        return meta_of(self)

    @shared
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
        meta = self._meta()
        if self._ondisk is not None:
            meta["ondisk"] = ondisk.describe(self._ondisk, path)
        io.write_container(path, "Index", meta, blobs)

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
        meta, blobs = io.read_container(path, "Index", lazy=[f"sub{i}" for i in range(io.MAX_BLOBS)])
        if meta.get("engine") == "codec" and "codec" in Index._variants:
            return Index._variants["codec"]._from_container(meta, blobs, where)
        try:
            obj = from_meta(Index, meta, blobs, where, path)
        except io.FormatError:
            raise
        except io.STATE_ERRORS as exc:
            raise io.FormatError(f"{where}: invalid Index ({type(exc).__name__}: {exc})") from None
        if not isinstance(obj, cls):
            raise io.FormatError(f"{where} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj


__all__ = ["DEFAULT_CHUNK_BYTES", "STAT_KEYS", "TRAIN_SAMPLE_BYTES", "Index"]
