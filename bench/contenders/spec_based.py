"""Contenders built from a spec string: ``rhtann.Index`` and plain ``faiss.index_factory``."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import specs
from .base import Contender, Unsupported, as_ids, normalized


class _SpecContender(Contender):
    """Shared labels of the spec-based contenders."""

    def __init__(self, d: int, metric: str, spec: str | None = None, **build_params: Any) -> None:
        if not spec:
            raise ValueError(f"contender {self.name!r} needs a 'spec' (e.g. 'RHT,SQ4')")
        if build_params:
            raise ValueError(f"contender {self.name!r} takes its parameters in the spec; got build "
                             f"parameters {sorted(build_params)}")
        super().__init__(d, metric, spec)

    @property
    def quantizer(self) -> str:
        return specs.quantizer_of(self.spec)

    @property
    def variant(self) -> str:
        return specs.variant_of(self.spec)

    @property
    def rotation(self) -> str:
        return specs.rotation_of(self.spec)


def _faiss_search_params(params: dict[str, Any]):
    """faiss SearchParameters for nprobe / efSearch / k_factor, or None."""
    import faiss

    sp = None
    if "nprobe" in params:
        sp = faiss.SearchParametersIVF(nprobe=int(params["nprobe"]))
    if "efSearch" in params:
        sp = faiss.SearchParametersHNSW(efSearch=int(params["efSearch"]))
    if "k_factor" in params:
        sp = faiss.IndexRefineSearchParameters(k_factor=float(params["k_factor"]), base_index_params=sp)
    unknown = sorted(set(params) - {"nprobe", "efSearch", "k_factor"})
    if unknown:
        raise ValueError(f"unknown faiss query parameters {unknown}; known: nprobe, efSearch, k_factor")
    return sp


def _faiss_chain(index) -> tuple[list, Any] | None:
    """(transforms, inner index) of a faiss IndexPreTransform, else None."""
    import faiss

    if index is None:
        return None
    index = faiss.downcast_index(index)
    if not isinstance(index, faiss.IndexPreTransform):
        return None
    chain = [faiss.downcast_VectorTransform(index.chain.at(i)) for i in range(index.chain.size())]
    return chain, faiss.downcast_index(index.index)


def faiss_transform_seconds(index, x: np.ndarray, repeat: int = 3) -> float:
    """Seconds faiss's own transforms (HR, RR...) of ``index`` take on ``x``, best of ``repeat``."""
    found = _faiss_chain(index)
    if found is None:
        return 0.0
    chain, _ = found
    x = np.ascontiguousarray(x, dtype=np.float32)
    best = np.inf
    for _ in range(repeat):
        y = x
        t0 = time.perf_counter()
        for vt in chain:
            y = vt.apply(y)
        best = min(best, time.perf_counter() - t0)
    return best


def _serialized_bytes(index) -> int | None:
    try:
        import faiss

        return int(faiss.serialize_index(index).nbytes)
    except Exception:
        return None


class RhtannIndex(_SpecContender):
    """``rhtann.Index(d, spec, metric)``: rhtann specs (``RHT,SQ4``), codec specs
    (``RHT1,DTQ4``, ``RHT2keep,TQ4r40h``, ``RHT,IVF{nlist},TQ4``) and plain faiss specs alike.

    Query parameters are passed to ``Index.search``: ``nprobe``, ``k_factor``
    and for codec specs also ``rerank`` and ``method``.
    """

    name = "rhtann"
    requires = ("rhtann", "faiss")
    description = "rhtann.Index over any spec: RHT specs and plain faiss specs through one wrapper"
    install = "rhtann"

    def __init__(self, d: int, metric: str, spec: str | None = None, **build_params: Any) -> None:
        super().__init__(d, metric, spec, **build_params)
        import rhtann

        self.index = rhtann.Index(d, self.spec, metric)

    def warm_up(self, x: np.ndarray) -> None:
        import rhtann

        prefix, rest = specs.split_spec(self.spec)
        small = np.ascontiguousarray(x[: min(len(x), 256)])
        if isinstance(self.index, rhtann.index.CodecIndex):
            # the same codec and scanner on a small sample, so that compiling
            # their kernels is not counted in the build or the first queries
            tokens = ["IVF2" if t.startswith("IVF") else t for t in rest.split(",")]
            index = rhtann.Index(self.d, ",".join(prefix + tokens), self.metric)
            index.train(small)
            index.add(small)
            for params in ({}, self.query_params):
                index.search(small[:1], 1, **params)
                index.search(small[:8], 1, **params)
            return
        if not prefix:
            return
        index = rhtann.Index(self.d, ",".join(prefix + ["Flat"]), self.metric)
        index.train(small)
        index.add(small)
        index.search(small[:2], 1)

    def fit(self, x: np.ndarray) -> None:
        t0 = time.perf_counter()
        self.index.train(x)
        t1 = time.perf_counter()
        self.index.add(x)
        t2 = time.perf_counter()
        stats = dict(getattr(self.index, "stats", None) or {})
        # rhtann's rotation (with the cosine normalization) is timed inside train/add;
        # faiss's own rotations (HR, RR) are timed on the same vectors, once per call
        transform = float(stats.get("transform_s", 0.0)) if self.rotation == "RHT" else 0.0
        transform += 2 * faiss_transform_seconds(getattr(self.index, "sub_index", None), x)
        self.build_stats = {"train_s": t1 - t0, "add_s": t2 - t1, "transform_s": transform}

    def batch_query(self, q: np.ndarray, k: int) -> np.ndarray:
        _, ids = self.index.search(q, k, **self.query_params)
        return as_ids(ids, len(q), k)

    @property
    def bytes_per_vector(self) -> float:
        return int(self.index.bytes_per_vector)

    @property
    def index_bytes(self) -> int | None:
        return _serialized_bytes(getattr(self.index, "sub_index", None))

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors; for faiss ``HR`` chains at non-power-of-two d, decoded and rotated back
        with :class:`rhtann.RHT` (3 padded rounds, same seed: the same transform)."""
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        try:
            return np.asarray(self.index.reconstruct(ids), dtype=np.float32).reshape(len(ids), -1)
        except Exception:
            import faiss

            import rhtann

            found = _faiss_chain(getattr(self.index, "sub_index", None))
            if found is None:
                raise
            chain, inner = found
            if len(chain) != 1 or not isinstance(chain[0], faiss.HadamardRotation):
                raise
            y = np.stack([inner.reconstruct(int(i)) for i in ids])
            rht = rhtann.RHT(chain[0].d_in, rounds=3, seed=int(chain[0].seed), layout="pad")
            return rht.reverse_transform(y)


class FaissIndex(_SpecContender):
    """Plain ``faiss.index_factory(d, spec, metric)``, no rhtann code on the path."""

    name = "faiss"
    requires = ("faiss",)
    description = "faiss.index_factory over a plain faiss spec (HR, RR, SQ, PQ, IVF, HNSW, RaBitQ...)"
    install = "faiss-cpu"

    def __init__(self, d: int, metric: str, spec: str | None = None, **build_params: Any) -> None:
        super().__init__(d, metric, spec, **build_params)
        import faiss

        if specs.parse_spec(self.spec).has_rht:
            raise Unsupported(f"plain faiss cannot build the rhtann spec {self.spec!r}; use contender rhtann")
        fm = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        self.index = faiss.index_factory(d, self.spec, fm)

    def _prep(self, x: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            t0 = time.perf_counter()
            x = normalized(x)
            self.build_stats["transform_s"] += time.perf_counter() - t0
            return x
        return np.ascontiguousarray(x, dtype=np.float32)

    def fit(self, x: np.ndarray) -> None:
        self.build_stats = {"train_s": 0.0, "add_s": 0.0, "transform_s": 0.0}
        x = self._prep(x)
        t0 = time.perf_counter()
        self.index.train(x)
        t1 = time.perf_counter()
        self.index.add(x)
        t2 = time.perf_counter()
        self.build_stats["train_s"] += t1 - t0
        self.build_stats["add_s"] += t2 - t1
        self.build_stats["transform_s"] += 2 * faiss_transform_seconds(self.index, x)

    def batch_query(self, q: np.ndarray, k: int) -> np.ndarray:
        q = normalized(q) if self.metric == "cosine" else np.ascontiguousarray(q, dtype=np.float32)
        _, ids = self.index.search(q, k, params=_faiss_search_params(self.query_params))
        return as_ids(ids, len(q), k)

    @property
    def bytes_per_vector(self) -> float:
        import faiss

        idx = faiss.downcast_index(self.index)
        if isinstance(idx, faiss.IndexPreTransform):
            idx = faiss.downcast_index(idx.index)
        total = 0
        while True:
            if isinstance(idx, faiss.IndexRefine):
                total += int(faiss.downcast_index(idx.refine_index).sa_code_size())
                idx = faiss.downcast_index(idx.base_index)
                continue
            if isinstance(idx, faiss.IndexIVF):
                return total + int(idx.code_size)
            if hasattr(idx, "storage") and idx.storage is not None:  # HNSW, NSG
                idx = faiss.downcast_index(idx.storage)
                continue
            return total + int(idx.sa_code_size())

    @property
    def index_bytes(self) -> int | None:
        return _serialized_bytes(self.index)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        return np.stack([self.index.reconstruct(int(i)) for i in np.atleast_1d(ids)])
