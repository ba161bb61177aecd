"""rhtann.Index: a randomized Hadamard rotation in front of any faiss index.

The rotation runs in rhtann's numba kernels; the rotated vectors go to a faiss
sub-index built with ``faiss.index_factory`` in the rotated space (dimension
``d_out``). :meth:`Index.to_faiss` exports the same thing as one pure faiss
``IndexPreTransform`` that ``faiss.write_index`` can save.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from numbers import Integral
from typing import Any

import numpy as np

from . import io as _fileformat
from ._spec import Spec, build_faiss, faiss_metric, parse_metric, parse_spec
from ._validation import as_matrix, check_finite_flag, check_int
from .layouts.pad import empty_output
from .sq import CodeAppender, SQEncoder
from .transform import RHT

#: Default size in bytes of one rotated chunk (``chunk_size=None``). Each add
#: rotates into one buffer reused for every chunk (no fresh pages per chunk),
#: and chunks are large because every switch between rhtann's thread pool and
#: faiss's OpenMP pool costs milliseconds while the idle pool spins down:
#: at d = 1024, 2048-row chunks added SQ4 codes at half the speed of
#: 32768-row chunks.
DEFAULT_CHUNK_BYTES = 64 * 2**20

_SEARCH_KEYS = ("nprobe", "efSearch", "k_factor", "params")
_VQ_TOKENS = re.compile(r"(^|[,_(])(PQ|OPQ|RQ|LSQ|PRQ|PLSQ|IMI|Residual|ITQ)", re.IGNORECASE)


# ----------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------


def _check_rows(x: Any, name: str, d: int) -> Any:
    """Check shape and dtype of ``x`` without copying it (chunks convert later).

    Returns ``x`` as an ndarray-like (numpy arrays, memmaps and h5py-like
    datasets with ``shape``/``dtype`` are kept as they are).
    """
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__")):
        return as_matrix(x, name, d)
    expected = f"(n, {d})"
    dtype = np.dtype(x.dtype)
    if dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must have a float or integer dtype (float32 preferred) and shape "
            f"{expected}; got dtype {dtype}"
        )
    shape = tuple(x.shape)
    if len(shape) != 2:
        hint = " Use x.reshape(1, -1) for a single vector." if len(shape) == 1 else ""
        raise ValueError(
            f"{name} must be a 2-D array of shape {expected}; got a {len(shape)}-D array "
            f"of shape {shape}.{hint}"
        )
    if shape[1] != d:
        raise ValueError(
            f"{name} must have shape {expected}; got shape {shape} "
            f"({shape[1]} columns instead of {d})"
        )
    return x


def _check_ids(ids: Any, n: int) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu" or arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"ids must be a 1-D integer array of length {n} (one per vector); "
            f"got dtype {arr.dtype} and shape {arr.shape}"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)


def _faiss_error(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^Error in .*? at \S+:\d+: ", "", msg)


def _unwrap(index):
    """Downcast ``index`` and yield it and every index nested inside it."""
    import faiss

    stack = [index]
    while stack:
        obj = faiss.downcast_index(stack.pop())
        yield obj
        for attr in ("index", "base_index", "refine_index", "storage"):
            sub = getattr(obj, attr, None)
            if isinstance(sub, faiss.Index):
                stack.append(sub)


def code_bytes(index) -> int:
    """Bytes of encoded vector data a faiss index stores per vector.

    Counts the codes of every stage that stores one per vector (the base
    codes, plus the refinement codes of ``IndexRefine``), and nothing else:
    not the 8-byte ids of inverted lists or ID maps, not graph links, not
    coarse-quantizer centroids or codebooks.
    """
    import faiss

    obj = faiss.downcast_index(index)
    if isinstance(obj, faiss.IndexRefine):
        return code_bytes(obj.base_index) + code_bytes(obj.refine_index)
    if isinstance(obj, (faiss.IndexPreTransform, faiss.IndexIDMap, faiss.IndexIDMap2)):
        return code_bytes(obj.index)
    if isinstance(obj, faiss.IndexHNSW) or isinstance(obj, faiss.IndexNSG):
        return code_bytes(obj.storage)
    size = getattr(obj, "code_size", None)
    if isinstance(size, Integral) and size > 0:
        return int(size)
    return int(obj.sa_code_size())


def _supports_ids(index) -> bool:
    """Whether ``index.add_with_ids`` works (IVF or an ID map at the top)."""
    import faiss

    obj = faiss.downcast_index(index)
    while isinstance(obj, faiss.IndexPreTransform):
        obj = faiss.downcast_index(obj.index)
    return isinstance(obj, (faiss.IndexIVF, faiss.IndexIDMap, faiss.IndexIDMap2))


def _default_target(faiss_key: str) -> str:
    return "vq" if _VQ_TOKENS.search(faiss_key) else "scalar"


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    """Run the body with ``threads`` numba and faiss threads, then restore."""
    if threads is None:
        yield
        return
    import faiss
    import numba

    old_nb = numba.get_num_threads()
    old_omp = faiss.omp_get_max_threads()
    numba.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(old_nb)
        faiss.omp_set_num_threads(old_omp)


# ----------------------------------------------------------------------
# the index
# ----------------------------------------------------------------------


class Index:
    """A faiss index behind a randomized Hadamard rotation.

    Parameters
    ----------
    d : int
        Dimension of the vectors given to :meth:`train`, :meth:`add` and
        :meth:`search`.
    spec : str
        A faiss ``index_factory`` string with an optional leading RHT token
        ``RHT[rounds][layout]``: rounds 1, 2, 3 or ``auto`` (default 3) and
        layout ``pad``, ``keep`` or ``auto`` (default ``pad``). ``"RHT,SQ4"``
        rotates exactly like faiss's ``"HR,SQ4"``. Without the token the spec
        is a plain faiss index (``"SQ4"``, ``"HR,SQ4"``, ``"RR,PQ16"``) and
        :attr:`rht` is None.
    metric : {"l2", "ip", "cosine"}, default "l2"
        ``"cosine"`` (also accepted as ``"angular"``) L2-normalizes every
        vector and query and searches by inner product; distances returned are
        cosine similarities (ann-benchmarks' angular distance is ``1 - D``).
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
        Show a tqdm progress bar over the chunks of :meth:`add`.
    adaptive : bool, default False
        Per-vector adaptive rounds: each vector is rotated with the fewest
        rounds its moments allow (:meth:`RHT.apply_adaptive`) and stored in
        the sub-index of that level; queries are rotated to every level and
        the per-level results merged. Needs an RHT token.
    target : {"scalar", "vq"}, optional
        What the rounds must suffice for in adaptive mode (and for
        ``rounds="auto"``). Default: ``"vq"`` when the faiss key contains a
        product/additive/vector quantizer (PQ, OPQ, RQ, LSQ...), else
        ``"scalar"``.

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
        if threads is not None:
            import numba

            threads = check_int(threads, "threads", 1, numba.config.NUMBA_NUM_THREADS)
        self.threads = threads
        self._chunk_arg = None if chunk_size is None else check_int(chunk_size, "chunk_size", 1)
        self.progress = bool(progress)
        self.adaptive = bool(adaptive)
        if target is None:
            target = _default_target(self.spec.faiss_key)
        if target not in ("scalar", "vq"):
            raise ValueError(f"target must be 'scalar' or 'vq'; got {target!r}")
        self.target = target
        if self.adaptive and not self.spec.has_rht:
            raise ValueError(
                f"adaptive=True needs an RHT token in the spec; got {spec!r} "
                "(write for example 'RHT,SQ4')"
            )
        self.rht: RHT | None = self._make_rht() if self.spec.has_rht else None
        self.stats: dict[str, float] = {
            "transform_s": 0.0,
            "train_s": 0.0,
            "add_s": 0.0,
            "search_s": 0.0,
            "search_transform_s": 0.0,
        }
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
            try:
                return RHT(self.d, rounds, self.seed, self.spec.layout, **kwargs)
            except TypeError:
                if not kwargs:
                    raise
                return RHT(self.d, rounds, self.seed, self.spec.layout)
        except ValueError as exc:
            raise ValueError(
                f"cannot build the transform of spec {self.spec.text!r} "
                f"({self.spec.rht_token}): {exc}"
            ) from None

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

    def _adaptive_levels(self) -> list[int]:
        return [1, 2] if self.target == "scalar" else [2, 3]

    def _build_subs(self) -> None:
        levels = self._adaptive_levels() if self.adaptive else [0]
        self._levels = levels
        self._subs = []
        for _ in levels:
            sub = build_faiss(self.d_out, self.spec.faiss_key, self.metric, self.spec.text)
            if self.adaptive and not _supports_ids(sub):
                import faiss

                sub = faiss.IndexIDMap2(sub)
            self._subs.append(sub)

    @property
    def sub_index(self):
        """The faiss sub-index (in ``d_out`` space).

        In adaptive mode there is one per level: see :attr:`sub_indexes`.
        """
        if self.adaptive:
            raise AttributeError(
                "an adaptive Index has one sub-index per level; use sub_indexes "
                "(a dict level -> faiss index)"
            )
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
        (for ``RFlat``/``Refine`` the refinement codes too). Not counted: ids
        in inverted lists or ID maps (8 bytes each), graph links (HNSW/NSG),
        centroids and codebooks, and the transform (a seed).
        """
        if not self._subs:
            raise RuntimeError("bytes_per_vector is known once the sub-index exists (after train)")
        return code_bytes(self._subs[-1])

    def __len__(self) -> int:
        return self.ntotal

    def __repr__(self) -> str:
        extra = ", adaptive=True" if self.adaptive else ""
        return (
            f"Index(d={self.d}, spec={self.spec.text!r}, metric={self.metric!r}{extra}, "
            f"ntotal={self.ntotal if self._subs else 0})"
        )

    # ------------------------------------------------------------------
    # rotation
    # ------------------------------------------------------------------

    def _prepare(self, x: Any, name: str) -> np.ndarray:
        """One chunk: float32, C-contiguous, normalized for cosine, finite."""
        x = as_matrix(x, name, self.d)
        if self.metric == "cosine":
            import faiss

            x = np.array(x, dtype=np.float32, copy=True)
            faiss.normalize_L2(x)
        if self.rht is None:
            check_finite_flag(not bool(np.isfinite(x).all()), name)
        return x

    def _rotate(self, x: Any, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """Prepare and rotate one chunk, timed into ``stats`` (``transform_s`` for
        vectors ``"x"``, ``search_transform_s`` for queries ``"q"``)."""
        t0 = time.perf_counter()
        try:
            x = self._prepare(x, name)
            if self.rht is None:
                return x
            try:
                return self.rht.apply(x, out=None if out is None else out[: x.shape[0]])
            except ValueError as exc:
                if name != "x" and str(exc).startswith("x "):
                    raise ValueError(name + str(exc)[1:]) from None
                raise
        finally:
            key = "transform_s" if name == "x" else "search_transform_s"
            self.stats[key] += time.perf_counter() - t0

    def _chunks(self, n: int, desc: str) -> Iterator[tuple[int, int]]:
        starts = range(0, n, self.chunk_size)
        if self.progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=desc, unit="chunk", total=len(starts))
        for i0 in starts:
            yield i0, min(n, i0 + self.chunk_size)

    # ------------------------------------------------------------------
    # train / add
    # ------------------------------------------------------------------

    def _check_trained(self, what: str) -> None:
        if not self.is_trained:
            raise RuntimeError(f"this Index ({self.spec.text!r}) is not trained; call train(x) before {what}")

    def train(self, x: Any) -> "Index":
        """Train the transform (``rounds="auto"``) and the faiss sub-index.

        Parameters
        ----------
        x : array_like, shape (n, d)
            Training vectors, float or integer dtype (converted to float32).

        Returns
        -------
        Index
            ``self``.
        """
        t0 = time.perf_counter()
        x = _check_rows(x, "x", self.d)
        n = x.shape[0]
        if n == 0:
            raise ValueError("x must hold at least one training vector; got shape (0, d)")
        if self._subs and self.ntotal:
            raise RuntimeError(
                f"this Index already holds {self.ntotal} vectors; train a new Index instead "
                "(retraining would leave them in the old rotated space)"
            )
        with _threads(self.threads):
            if self.rht is not None and (not self.rht.is_trained or self.spec.rounds == "auto"):
                t1 = time.perf_counter()
                self.rht.train(self._prepare(x, "x"))
                self.stats["transform_s"] += time.perf_counter() - t1
            if not self._subs:
                self._build_subs()
            if self.adaptive:
                self._train_adaptive(x)
            else:
                y = np.empty((n, self.d_out), dtype=np.float32)
                for i0, i1 in self._chunks(n, "rotate"):
                    y[i0:i1] = self._rotate(x[i0:i1], "x")
                self._subs[0].train(y)
        self.stats["train_s"] += time.perf_counter() - t0
        return self

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
        self._add(x, None)

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
        x = _check_rows(x, "x", self.d)
        self._add(x, _check_ids(ids, x.shape[0]))

    def _add(self, x: Any, ids: np.ndarray | None) -> None:
        import faiss

        t0 = time.perf_counter()
        self._check_trained("add")
        x = _check_rows(x, "x", self.d)
        n = x.shape[0]
        if ids is not None and not self.adaptive and not _supports_ids(self._subs[0]):
            if self.ntotal:
                raise RuntimeError(
                    f"{self.spec.faiss_key!r} stores no ids; call add_with_ids from the "
                    "first add (the index is then wrapped in faiss.IndexIDMap2), or use "
                    "add() and its sequential ids"
                )
            self._subs[0] = faiss.IndexIDMap2(self._subs[0])
        if ids is None and (self.adaptive or isinstance(
            faiss.downcast_index(self._subs[0]), (faiss.IndexIDMap, faiss.IndexIDMap2)
        )):
            start = self.ntotal
            ids = np.arange(start, start + n, dtype=np.int64)
        buf = None
        if self.rht is not None and not self.adaptive and n:
            buf = empty_output((min(n, self.chunk_size), self.d_out), np.float32)
        # flat scalar quantizers: rhtann's numba encoder writes faiss's bytes
        # straight into the index's code storage
        encoder = None
        if ids is None and not self.adaptive and n and CodeAppender.supports(self._subs[0]):
            encoder = SQEncoder.for_index(self._subs[0])
        with _threads(self.threads):
            if encoder is not None:
                self._add_encoded(x, n, encoder, buf)
            else:
                self._add_chunks(x, n, ids, buf)
        self.stats["add_s"] += time.perf_counter() - t0

    def _add_chunks(self, x: Any, n: int, ids: np.ndarray | None, buf: np.ndarray | None) -> None:
        """Rotate chunk by chunk and add with the faiss sub-index's own add."""
        for i0, i1 in self._chunks(n, "add"):
            chunk_ids = None if ids is None else ids[i0:i1]
            if self.adaptive:
                self._add_adaptive_chunk(x[i0:i1], chunk_ids)
                continue
            y = self._rotate(x[i0:i1], "x", buf)
            if chunk_ids is None:
                self._subs[0].add(y)
            else:
                self._subs[0].add_with_ids(y, chunk_ids)

    def _add_encoded(self, x: Any, n: int, encoder: SQEncoder, buf: np.ndarray | None) -> None:
        """Rotate and encode chunk by chunk into the sub-index's grown storage."""
        with CodeAppender(self._subs[0], n) as app:
            for i0, i1 in self._chunks(n, "add"):
                y = self._rotate(x[i0:i1], "x", buf)
                encoder._encode_into(y, app.rows[i0:i1])  # y is finite: checked by the rotation
                app.done = i1

    # ------------------------------------------------------------------
    # search
    # ------------------------------------------------------------------

    def _search_params(self, sub, params: dict):
        """Map keyword query parameters to a faiss SearchParameters object."""
        import faiss

        unknown = sorted(set(params) - set(_SEARCH_KEYS))
        if unknown:
            raise TypeError(
                f"unknown search parameter(s) {unknown}; accepted: {list(_SEARCH_KEYS)}"
            )
        if "params" in params:
            if len(params) > 1:
                raise TypeError("give either params= (a faiss SearchParameters) or keywords, not both")
            return params["params"]
        if not params:
            return None
        objs = list(_unwrap(sub))
        ivf = next((o for o in objs if isinstance(o, faiss.IndexIVF)), None)
        hnsw = next((o for o in objs if isinstance(o, faiss.IndexHNSW)), None)
        refine = next((o for o in objs if isinstance(o, faiss.IndexRefine)), None)
        if ivf is not None and hnsw is None:
            quant = faiss.downcast_index(ivf.quantizer)
            hnsw_q = quant if isinstance(quant, faiss.IndexHNSW) else None
        else:
            hnsw_q = None
        base = None
        if "nprobe" in params:
            if ivf is None:
                raise ValueError(
                    f"nprobe applies to IVF indexes; {self.spec.faiss_key!r} has no IVF stage"
                )
            nprobe = check_int(params["nprobe"], "nprobe", 1)
            base = faiss.SearchParametersIVF(nprobe=nprobe)
        if "efSearch" in params:
            ef = check_int(params["efSearch"], "efSearch", 1)
            if hnsw is not None:
                base = faiss.SearchParametersHNSW(efSearch=ef)
            elif hnsw_q is not None:
                if base is None:
                    base = faiss.SearchParametersIVF()
                qp = faiss.SearchParametersHNSW(efSearch=ef)
                base.quantizer_params = qp
                base._qp = qp  # keep the Python object alive with its parent
            else:
                raise ValueError(
                    f"efSearch applies to HNSW indexes; {self.spec.faiss_key!r} has no HNSW stage"
                )
        if "k_factor" in params:
            if refine is None:
                raise ValueError(
                    f"k_factor applies to refined indexes (RFlat, Refine(...)); "
                    f"{self.spec.faiss_key!r} has none"
                )
            kf = params["k_factor"]
            if isinstance(kf, bool) or not isinstance(kf, (Integral, float)) or not kf >= 1:
                raise ValueError(f"k_factor must be a number >= 1; got {kf!r}")
            ref = faiss.IndexRefineSearchParameters(k_factor=float(kf), base_index_params=base)
            ref._base = base
            return ref
        return base

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
        t0 = time.perf_counter()
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
        with _threads(self.threads):
            sp = [self._search_params(s, params) for s in self._subs]
            for i0, i1 in self._chunks_plain(nq):
                if self.adaptive:
                    D[i0:i1], I[i0:i1] = self._search_adaptive_chunk(q[i0:i1], k, sp)
                    continue
                y = self._rotate(q[i0:i1], "q")
                D[i0:i1], I[i0:i1] = self._subs[0].search(y, k, params=sp[0])
        self.stats["search_s"] += time.perf_counter() - t0
        return D, I

    def _chunks_plain(self, n: int) -> Iterator[tuple[int, int]]:
        for i0 in range(0, n, self.chunk_size):
            yield i0, min(n, i0 + self.chunk_size)

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
        import faiss

        arr = np.asarray(ids)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        arr = _check_ids(arr, arr.shape[0])
        removed = 0
        for sub in self._subs:
            hashtable = False
            for obj in _unwrap(sub):
                if isinstance(obj, faiss.IndexIVF):
                    if obj.direct_map.type == faiss.DirectMap.Array:
                        obj.set_direct_map_type(faiss.DirectMap.NoMap)
                    hashtable |= obj.direct_map.type == faiss.DirectMap.Hashtable
            # faiss removes from a hashtable direct map only with IDSelectorArray
            sel = (
                faiss.IDSelectorArray(arr.size, faiss.swig_ptr(arr))
                if hashtable
                else faiss.IDSelectorBatch(arr)
            )
            try:
                removed += int(sub.remove_ids(sel))
            except RuntimeError as exc:
                raise NotImplementedError(
                    f"faiss cannot remove vectors from {self.spec.faiss_key!r}: {_faiss_error(exc)}"
                ) from None
        return removed

    def _reconstruct_sub(self, sub, key: int) -> np.ndarray:
        import faiss

        for obj in _unwrap(sub):
            if isinstance(obj, faiss.IndexIVF) and obj.direct_map.type == faiss.DirectMap.NoMap:
                try:
                    obj.set_direct_map_type(faiss.DirectMap.Array)
                except RuntimeError:
                    obj.set_direct_map_type(faiss.DirectMap.Hashtable)
        return sub.reconstruct(key)

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
        """
        self._check_trained("reconstruct")
        single = isinstance(ids, Integral)
        arr = np.atleast_1d(np.asarray(ids))
        arr = _check_ids(arr, arr.shape[0])
        if self.adaptive:
            out = self._reconstruct_adaptive(arr)
        else:
            y = np.empty((arr.shape[0], self.d_out), dtype=np.float32)
            for j, key in enumerate(arr):
                try:
                    y[j] = self._reconstruct_sub(self._subs[0], int(key))
                except RuntimeError as exc:
                    raise KeyError(
                        f"cannot reconstruct id {int(key)} from {self.spec.faiss_key!r}: "
                        f"{_faiss_error(exc)}"
                    ) from None
            out = y if self.rht is None else self.rht.reverse_transform(y)
        return out[0] if single else out

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
            :func:`rhtann.faiss_compat.repair_orthonormal`.

        Notes
        -----
        With ``HadamardRotation`` the rotated vectors, and so the results,
        are bit-identical to this Index's. A ``LinearTransform`` computes the
        same rotation as a matrix product, which rounds differently in the
        last float32 bits.
        """
        import faiss

        from .faiss_compat import repair_orthonormal

        if self.adaptive:
            raise NotImplementedError(
                "an adaptive Index stores each level under its own transform; faiss has no "
                "single index for that. Use save()/rhtann.load, or a fixed-rounds spec."
            )
        self._check_trained("to_faiss")
        sub = faiss.deserialize_index(faiss.serialize_index(self._subs[0]))
        out = sub
        if self.rht is not None:
            out = faiss.IndexPreTransform(self.rht.to_faiss(), sub)
        if self.metric == "cosine":
            norm = faiss.NormalizationTransform(self.d, 2.0)
            if isinstance(out, faiss.IndexPreTransform) and out is not sub:
                out.prepend_transform(norm)
            else:
                out = faiss.IndexPreTransform(norm, out)
        if out is sub:
            return out
        # A serialization round trip gives an index that owns all its parts.
        out = faiss.deserialize_index(faiss.serialize_index(out))
        repair_orthonormal(out)
        return out

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
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to one file, atomically; read it with :func:`rhtann.load`.

        The file holds the format version, the spec and transform parameters
        (JSON), the transform's sign vectors, ``faiss.serialize_index`` bytes
        of each sub-index, and a SHA-256 checksum.
        """
        import faiss

        blobs = {}
        if self.rht is not None:
            blobs["signs"] = self.rht.signs.tobytes()
        for i, sub in enumerate(self._subs):
            blobs[f"sub{i}"] = faiss.serialize_index(sub).tobytes()
        _fileformat.write_container(path, "Index", self._meta(), blobs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Index":
        """Read an index written by :meth:`save`.

        Raises
        ------
        rhtann.FormatError
            If the file is not an rhtann Index file, is truncated, corrupted,
            from a newer format version, or its parts disagree.
        """
        import faiss

        where = repr(os.fspath(path))
        meta, blobs = _fileformat.read_container(path, "Index")
        try:
            obj = cls(
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
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _fileformat.FormatError(f"{where}: invalid Index parameters ({exc})") from None
        if obj.rht is not None and blobs.get("signs") != obj.rht.signs.tobytes():
            raise _fileformat.FormatError(
                f"{where}: stored sign vectors differ from the ones the seed generates"
            )
        if len(levels) != len(sub_d) or len(levels) != len(ntotal):
            raise _fileformat.FormatError(f"{where}: inconsistent sub-index lists")
        subs = []
        for i, (dd, nt) in enumerate(zip(sub_d, ntotal, strict=True)):
            blob = blobs.get(f"sub{i}")
            if blob is None:
                raise _fileformat.FormatError(f"{where}: sub-index {i} is missing")
            try:
                sub = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
            except RuntimeError as exc:
                raise _fileformat.FormatError(
                    f"{where}: faiss cannot read sub-index {i} ({_faiss_error(exc)})"
                ) from None
            if sub.d != dd or sub.d != obj.d_out or sub.ntotal != nt:
                raise _fileformat.FormatError(
                    f"{where}: sub-index {i} has d={sub.d}, ntotal={sub.ntotal}; "
                    f"expected d={obj.d_out}, ntotal={nt}"
                )
            if sub.metric_type != faiss_metric(obj.metric):
                raise _fileformat.FormatError(f"{where}: sub-index {i} has the wrong metric")
            subs.append(sub)
        obj._subs = subs
        obj._levels = levels
        obj.stats.update(stats)
        return obj

    # ------------------------------------------------------------------
    # adaptive mode
    # ------------------------------------------------------------------

    def _train_adaptive(self, x: Any) -> None:
        """Train one sub-index per level, each in its own rotated space.

        The level-``l`` sub-index is trained on the training vectors whose
        round check asks for at most ``l`` rounds, rotated with ``l`` rounds
        (the vectors it will store look like these); when fewer than
        ``max(1000, n // 10)`` qualify, on every training vector rotated with
        ``l`` rounds. The top level always gets all of them.
        """
        rht = self.rht
        n = x.shape[0]
        t1 = time.perf_counter()
        xp = np.empty((n, self.d), dtype=np.float32)
        for i0, i1 in self._chunks_plain(n):
            xp[i0:i1] = self._prepare(x[i0:i1], "x")
        _, k = rht.apply_adaptive(xp)
        levels = rht.apply_levels(xp)  # (L, n, d_out)
        self.stats["transform_s"] += time.perf_counter() - t1
        need = min(n, max(1000, n // 10))
        self.train_report_ = {}
        for level, sub in zip(self._levels, self._subs, strict=True):
            rows = np.flatnonzero(k <= level)
            y = levels[level - 1]
            if rows.size >= need:
                y = np.ascontiguousarray(y[rows])
            self.train_report_[str(level)] = {
                "stored_fraction_in_train": float(np.mean(k == level)),
                "trained_on": int(y.shape[0]),
            }
            sub.train(y)

    def _add_adaptive_chunk(self, x: Any, ids: np.ndarray) -> None:
        t1 = time.perf_counter()
        y, k = self.rht.apply_adaptive(self._prepare(x, "x"))
        self.stats["transform_s"] += time.perf_counter() - t1
        lo_sub, hi_sub = self._subs  # two levels: the target's fewest and most rounds
        # Partition the rows in place (lower level first) by swapping only the
        # misplaced rows, so each level is one contiguous block for faiss
        # without copying the (usually large) majority.
        is_lo = k == self._levels[0]
        n_lo = int(is_lo.sum())
        front = np.flatnonzero(~is_lo[:n_lo])
        back = np.flatnonzero(is_lo[n_lo:]) + n_lo
        ids = np.array(ids, dtype=np.int64, copy=True)
        if front.size:
            y_front = y[front]
            y[front] = y[back]
            y[back] = y_front
            ids[front], ids[back] = ids[back], ids[front].copy()
        if n_lo:
            lo_sub.add_with_ids(y[:n_lo], ids[:n_lo])
        if n_lo < len(y):
            hi_sub.add_with_ids(y[n_lo:], ids[n_lo:])

    def _search_adaptive_chunk(self, q: np.ndarray, k: int, sp: list):
        import faiss

        t1 = time.perf_counter()
        levels = self.rht.apply_levels(self._prepare(q, "q"))
        self.stats["search_transform_s"] += time.perf_counter() - t1
        Ds, Is = [], []
        for level, sub, params in zip(self._levels, self._subs, sp, strict=True):
            if sub.ntotal == 0:
                continue
            Dl, Il = sub.search(np.ascontiguousarray(levels[level - 1]), k, params=params)
            Ds.append(Dl)
            Is.append(Il)
        if len(Ds) == 1:
            return Ds[0], Is[0]
        return faiss.merge_knn_results(
            np.stack(Ds), np.stack(Is), keep_max=self.metric != "l2"
        )

    def _reconstruct_adaptive(self, ids: np.ndarray) -> np.ndarray:
        y = np.empty((ids.shape[0], self.d_out), dtype=np.float32)
        kk = np.empty(ids.shape[0], dtype=np.uint8)
        for j, key in enumerate(ids):
            for level, sub in zip(self._levels, self._subs, strict=True):
                try:
                    y[j] = self._reconstruct_sub(sub, int(key))
                except RuntimeError:
                    continue
                kk[j] = level
                break
            else:
                raise KeyError(f"cannot reconstruct id {int(key)}: no level stores it")
        return self.rht.reverse_adaptive(y, kk)

    @property
    def level_counts(self) -> dict:
        """Adaptive mode: number of stored vectors per level (rounds)."""
        return {lev: int(sub.ntotal) for lev, sub in zip(self._levels, self._subs, strict=True)}


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
    rotated space). If the index is untrained, training the returned index
    trains it on rotated vectors; if it is already trained (or holds
    vectors), that must have been done on vectors rotated by this same
    ``rht``, otherwise its centroids/codebooks are in the wrong space.

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
    """
    import faiss

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
    return faiss.IndexPreTransform(rht.to_faiss(), faiss_index)


__all__ = ["Index", "index_factory", "wrap", "code_bytes"]
