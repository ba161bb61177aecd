"""The peer libraries a user might pick instead of rhtann: ``turbovec`` and ``rabitqlib`` (PyPI)."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

from .base import Contender, Unsupported, as_ids, normalized


class TurboVec(Contender):
    """``turbovec.TurboQuantIndex(dim, bit_width)``: TurboQuant codes, exhaustive inner-product scan.

    Build parameters: ``bit_width`` (2, 3 or 4; default 4) and ``calibrate``
    (default true: fit turbovec's per-coordinate calibration on 1024
    uniformly drawn train rows before adding). turbovec ranks by inner
    product, so it runs on angular datasets (vectors normalized) only; a
    dimension that is not a multiple of 8 is zero-padded, which leaves inner
    products unchanged. turbovec picks its own thread count.
    """

    name = "turbovec"
    requires = ("turbovec",)
    description = "turbovec TurboQuantIndex (2-4 bit codes, inner product; angular datasets)"
    install = "turbovec"

    def __init__(self, d: int, metric: str, spec: str | None = None, **build_params: Any) -> None:
        super().__init__(d, metric, spec, **build_params)
        if metric != "cosine":
            raise Unsupported("turbovec ranks by inner product; it runs on angular datasets only")
        unknown = sorted(set(build_params) - {"bit_width", "calibrate"})
        if unknown:
            raise ValueError(f"turbovec build parameters are bit_width, calibrate; got {unknown}")
        self.bit_width = int(build_params.get("bit_width", 4))
        if self.bit_width not in (2, 3, 4):
            raise ValueError(f"turbovec bit_width must be 2, 3 or 4; got {self.bit_width}")
        self.calibrate = bool(build_params.get("calibrate", True))
        self.d_pad = -(-self.d // 8) * 8
        self._index = None
        self._n = 0
        self._overhead = 0

    def _prep(self, x: np.ndarray) -> np.ndarray:
        x = normalized(x)
        if self.d_pad != self.d:
            x = np.ascontiguousarray(np.pad(x, ((0, 0), (0, self.d_pad - self.d))))
        return x

    def fit(self, x: np.ndarray) -> None:
        import turbovec

        t0 = time.perf_counter()
        xp = self._prep(x)
        t1 = time.perf_counter()
        self._index = turbovec.TurboQuantIndex(self.d_pad, self.bit_width)
        if self.calibrate:
            rows = np.random.default_rng(0).choice(len(xp), size=min(1024, len(xp)), replace=False)
            self._index.calibrate(np.ascontiguousarray(xp[np.sort(rows)]))
        t2 = time.perf_counter()
        # the serialized size of the index before any vector: header and calibration
        self._overhead = len(self._index.to_bytes())
        self._index.add(xp)
        self._index.prepare()
        t3 = time.perf_counter()
        self._n = len(xp)
        self.build_stats = {"train_s": t2 - t1, "add_s": t3 - t2, "transform_s": t1 - t0}

    def batch_query(self, q: np.ndarray, k: int) -> np.ndarray:
        _, ids = self._index.search(self._prep(q), k)
        return as_ids(ids, len(q), k)

    @property
    def bytes_per_vector(self) -> float:
        """Serialized bytes added per stored vector (codes and per-vector scalars)."""
        return (len(self._index.to_bytes()) - self._overhead) / max(self._n, 1)

    @property
    def index_bytes(self) -> int | None:
        return len(self._index.to_bytes())

    @property
    def ntotal(self) -> int:
        return self._n

    @property
    def quantizer(self) -> str:
        return f"TQ{self.bit_width}"

    @property
    def label(self) -> str:
        return f"turbovec b{self.bit_width}" + ("" if self.calibrate else " uncal")


class RaBitQLib(Contender):
    """``rabitqlib.IvfIndex``: RaBitQ codes with ``bits`` bits per dimension behind an IVF.

    Build parameters: ``nlist`` (clusters; 1 is an exhaustive scan; default
    1) and ``bits`` (1 to 9; default 4). Centroids are trained with
    ``faiss.Kmeans`` (seed 1234). Query parameter: ``nprobe`` (default:
    all lists). rabitqlib needs ``d >= 64``; angular datasets are normalized
    and searched by Euclidean distance (the same order as cosine).
    """

    name = "rabitqlib"
    requires = ("rabitqlib",)
    description = "rabitqlib IvfIndex (RaBitQ, 1-9 bits per dimension, extended codes; d >= 64)"
    install = "rabitqlib"

    def __init__(self, d: int, metric: str, spec: str | None = None, **build_params: Any) -> None:
        super().__init__(d, metric, spec, **build_params)
        if d < 64:
            raise Unsupported(f"rabitqlib rejects dimensions below 64; this dataset has d={d}")
        unknown = sorted(set(build_params) - {"nlist", "bits"})
        if unknown:
            raise ValueError(f"rabitqlib build parameters are nlist, bits; got {unknown}")
        self.nlist = int(build_params.get("nlist", 1))
        self.bits = int(build_params.get("bits", 4))
        if not 1 <= self.bits <= 9 or self.nlist < 1:
            raise ValueError(f"rabitqlib needs 1 <= bits <= 9 and nlist >= 1; got {self.bits}, {self.nlist}")
        self._index = None
        self._n = 0

    def _prep(self, x: np.ndarray) -> np.ndarray:
        return normalized(x) if self.metric == "cosine" else np.ascontiguousarray(x, dtype=np.float32)

    def fit(self, x: np.ndarray) -> None:
        import faiss
        import rabitqlib

        t0 = time.perf_counter()
        xp = self._prep(x)
        t1 = time.perf_counter()
        if self.nlist == 1:
            centroids = xp.mean(axis=0, keepdims=True).astype(np.float32)
            assign = np.zeros(len(xp), dtype=np.uint32)
        else:
            km = faiss.Kmeans(self.d, self.nlist, niter=10, seed=1234)
            km.train(xp)
            centroids = km.centroids
            assign = km.index.search(xp, 1)[1].ravel().astype(np.uint32)
        t2 = time.perf_counter()
        init = "flat" if self.nlist <= 16 else "auto"
        self._index = rabitqlib.IvfIndex(self.d, len(xp), self.nlist, self.bits, "l2", initializer=init)
        self._index.build(xp, np.ascontiguousarray(centroids), assign, num_threads=self.threads)
        t3 = time.perf_counter()
        self._n = len(xp)
        self.build_stats = {"train_s": t2 - t1, "add_s": t3 - t2, "transform_s": t1 - t0}

    def batch_query(self, q: np.ndarray, k: int) -> np.ndarray:
        unknown = sorted(set(self.query_params) - {"nprobe"})
        if unknown:
            raise ValueError(f"rabitqlib query parameters are nprobe; got {unknown}")
        nprobe = int(self.query_params.get("nprobe", self.nlist))
        ids, _ = self._index.search(self._prep(q), k, min(nprobe, self.nlist), num_threads=self.threads)
        ids = np.asarray(ids).astype(np.int64)
        ids[(ids < 0) | (ids >= self._n)] = -1
        return as_ids(ids, len(q), k)

    def _file_size(self) -> int:
        fd, path = tempfile.mkstemp(suffix=".rabitq")
        os.close(fd)
        try:
            self._index.save(path)
            return os.path.getsize(path)
        finally:
            os.unlink(path)

    @property
    def bytes_per_vector(self) -> float:
        """Saved size minus the centroids (nlist x d float32), per vector."""
        return (self._file_size() - 4 * self.nlist * self.d) / max(self._n, 1)

    @property
    def index_bytes(self) -> int | None:
        return self._file_size()

    @property
    def ntotal(self) -> int:
        return self._n

    @property
    def quantizer(self) -> str:
        return f"IVF,RaBitQ{self.bits}" if self.nlist > 1 else f"RaBitQ{self.bits}"

    @property
    def label(self) -> str:
        return f"rabitqlib {'IVF' + str(self.nlist) + ' ' if self.nlist > 1 else ''}b{self.bits}"
