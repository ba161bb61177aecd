"""Building the indexes of a benchmark run.

Every spec is built through :class:`rhtann.Index` (rhtann specs such as
``"RHT,SQ4"`` and plain faiss specs such as ``"HR,SQ4"`` alike), so all
indexes share one wrapper and one per-call overhead. :class:`FaissIndex` is a
thin adapter with the same interface on ``faiss.index_factory``, used for
plain faiss specs with ``backend="faiss"`` or when rhtann.Index cannot be
imported.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

#: Leading tokens of a spec that transform vectors before the quantizer.
TRANSFORM_TOKEN = re.compile(r"^(RHT\w*|HR\d*|RR\d*|L2norm|PCAR?W?\d*|OPQ\d+(_\d+)?)$")

#: Rotation families, in plotting order.
ROTATIONS = ("none", "HR", "RR", "RHT")


def split_spec(spec: str) -> tuple[list[str], str]:
    """Split ``"HR,IVF256,SQ4"`` into (``["HR"]``, ``"IVF256,SQ4"``)."""
    tokens = [t.strip() for t in spec.split(",")]
    i = 0
    while i < len(tokens) - 1 and TRANSFORM_TOKEN.match(tokens[i]):
        i += 1
    return tokens[:i], ",".join(tokens[i:])


def rotation_of(spec: str) -> str:
    """The rotation family of a spec: ``"RHT"``, ``"HR"``, ``"RR"`` or ``"none"``."""
    prefix, _ = split_spec(spec)
    for token in prefix:
        if token.startswith("RHT"):
            return "RHT"
        if re.match(r"^HR\d*$", token):
            return "HR"
        if re.match(r"^RR\d*$", token):
            return "RR"
    return "none"


def quantizer_of(spec: str) -> str:
    """Quantizer family label: the spec without its transforms and sizes.

    ``"HR,IVF256,SQ4"`` -> ``"IVF,SQ4"``; ``"RHT,PQ32x4fs"`` -> ``"PQx4fs"``.
    """
    _, rest = split_spec(spec)
    parts = []
    for token in rest.split(","):
        if re.match(r"^IVF\d+", token):
            parts.append("IVF")
        elif re.match(r"^PQ\d+", token):
            parts.append(re.sub(r"^PQ\d+", "PQ", token))
        else:
            parts.append(token)
    return ",".join(parts)


def sub_dimension(d: int, spec: str) -> int:
    """Dimension the quantizer of ``spec`` works in (after its transforms)."""
    prefix, _ = split_spec(spec)
    if not prefix:
        return d
    if prefix[0].startswith("RHT"):
        import rhtann

        return rhtann.Index(d, ",".join(prefix + ["Flat"])).d_out
    import faiss

    idx = faiss.index_factory(d, ",".join(prefix + ["Flat"]))
    return int(faiss.downcast_index(idx.index).d) if hasattr(idx, "index") else d


class FaissIndex:
    """``rhtann.Index``'s interface over ``faiss.index_factory`` (no RHT token).

    Parameters
    ----------
    d : int
    spec : str
        A faiss index_factory string.
    metric : {"l2", "ip", "cosine"}
        ``"cosine"`` normalizes vectors and queries and searches by inner
        product.
    """

    def __init__(self, d: int, spec: str, metric: str = "l2") -> None:
        import faiss

        if metric not in ("l2", "ip", "cosine"):
            raise ValueError(f"metric must be 'l2', 'ip' or 'cosine'; got {metric!r}")
        self.d, self.spec, self.metric = d, spec, metric
        fm = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        self.sub_index = faiss.index_factory(d, spec, fm)
        self.rht = None
        self.stats = {"transform_s": 0.0, "train_s": 0.0, "add_s": 0.0}

    def _prep(self, x: np.ndarray) -> np.ndarray:
        import faiss

        x = np.array(x, dtype=np.float32, copy=self.metric == "cosine", order="C")
        if self.metric == "cosine":
            t0 = time.perf_counter()
            faiss.normalize_L2(x)
            self.stats["transform_s"] += time.perf_counter() - t0
        return x

    def train(self, x: np.ndarray) -> FaissIndex:
        t0 = time.perf_counter()
        self.sub_index.train(self._prep(x))
        self.stats["train_s"] += time.perf_counter() - t0
        return self

    def add(self, x: np.ndarray) -> None:
        t0 = time.perf_counter()
        self.sub_index.add(self._prep(x))
        self.stats["add_s"] += time.perf_counter() - t0

    def search(self, q: np.ndarray, k: int, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        sp = None
        if "nprobe" in params:
            sp = faiss.SearchParametersIVF(nprobe=int(params["nprobe"]))
        if "efSearch" in params:
            sp = faiss.SearchParametersHNSW(efSearch=int(params["efSearch"]))
        if "k_factor" in params:
            sp = faiss.IndexRefineSearchParameters(
                k_factor=float(params["k_factor"]), base_index_params=sp
            )
        q = np.array(q, dtype=np.float32, copy=self.metric == "cosine", order="C")
        if self.metric == "cosine":
            faiss.normalize_L2(q)
        return self.sub_index.search(q, k, params=sp)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        return np.stack([self.sub_index.reconstruct(int(i)) for i in np.atleast_1d(ids)])

    @property
    def ntotal(self) -> int:
        return int(self.sub_index.ntotal)

    @property
    def bytes_per_vector(self) -> int:
        try:
            from rhtann.index import code_bytes

            return int(code_bytes(self.sub_index))
        except ImportError:  # pragma: no cover - rhtann without its index module
            return int(self.sub_index.sa_code_size())


def make_index(d: int, spec: str, metric: str, backend: str = "rhtann"):
    """Build an index object with rhtann.Index's interface.

    Parameters
    ----------
    d : int
    spec : str
    metric : {"l2", "ip", "cosine"}
    backend : {"rhtann", "faiss"}
        ``"faiss"`` builds plain faiss specs with :class:`FaissIndex`; specs
        with an RHT token always need rhtann.Index.
    """
    if backend not in ("rhtann", "faiss"):
        raise ValueError(f"backend must be 'rhtann' or 'faiss'; got {backend!r}")
    if backend == "faiss" and rotation_of(spec) != "RHT":
        return FaissIndex(d, spec, metric)
    try:
        from rhtann import Index
    except ImportError:
        if rotation_of(spec) == "RHT":
            raise
        return FaissIndex(d, spec, metric)
    return Index(d, spec, metric)


def _faiss_chain(index) -> tuple[list, Any] | None:
    """(transforms, inner index) of a faiss IndexPreTransform, else None."""
    import faiss

    sub = getattr(index, "sub_index", None)
    if sub is None:
        return None
    sub = faiss.downcast_index(sub)
    if not isinstance(sub, faiss.IndexPreTransform):
        return None
    chain = [faiss.downcast_VectorTransform(sub.chain.at(i)) for i in range(sub.chain.size())]
    return chain, faiss.downcast_index(sub.index)


def faiss_transform_seconds(index, x: np.ndarray, repeat: int = 3) -> float:
    """Seconds faiss's own transforms (HR, RR...) take on ``x``, best of ``repeat``.

    Zero when the faiss sub-index has no ``IndexPreTransform``.
    """
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


def reconstruct(index, ids: np.ndarray) -> np.ndarray:
    """Reconstruct stored vectors, also for faiss ``HR`` chains.

    faiss's ``HadamardRotation.reverse_transform`` only works for powers of
    two; for other ``d`` the inner codes are decoded and rotated back with
    :class:`rhtann.RHT` (3 padded rounds, same seed), which equals faiss's
    transform exactly.

    Raises
    ------
    Exception
        Whatever the index raises when it cannot reconstruct at all.
    """
    ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
    try:
        return np.asarray(index.reconstruct(ids), dtype=np.float32).reshape(len(ids), -1)
    except Exception:
        found = _faiss_chain(index)
        if found is None:
            raise
        import faiss

        import rhtann

        chain, inner = found
        if len(chain) != 1 or not isinstance(chain[0], faiss.HadamardRotation):
            raise
        y = np.stack([inner.reconstruct(int(i)) for i in ids])
        rht = rhtann.RHT(chain[0].d_in, rounds=3, seed=int(chain[0].seed), layout="pad")
        return rht.reverse_transform(y)
