"""The contender interface of the harness, in the spirit of ann-benchmarks' ``BaseANN``.

A contender wraps one library's index. The runner calls, in order::

    c = Cls(d, metric, spec=..., **build_params)   # nothing heavy yet
    c.fit(train)                                   # train and add, timed as the build
    for params in query sweep:
        c.set_query_arguments(**params)
        c.query(row, k)         # one query, single-thread QPS
        c.batch_query(test, k)  # all queries, batch QPS and recall

Adding a contender is one small subclass registered in
:mod:`bench.contenders` (see ``turbovec.py`` for a complete example).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class Unsupported(ValueError):
    """This contender cannot run on this dataset (dimension, metric...); the run is skipped."""


class Contender(ABC):
    """One index under test.

    Parameters
    ----------
    d : int
        Vector dimension.
    metric : {"l2", "cosine"}
        ``"cosine"``: vectors and queries are compared by angle (the
        contender normalizes or uses its cosine mode).
    spec : str, optional
        Spec string, for contenders built from one (rhtann, faiss).
    **build_params
        Build parameters of the config entry (``build:`` in YAML).

    Attributes
    ----------
    name : str
        Registry name (class attribute), e.g. ``"turbovec"``.
    requires : tuple of str
        Modules that must be importable (class attribute).
    description : str
        One line for ``--list-contenders`` (class attribute).
    build_stats : dict
        Filled by :meth:`fit`: ``train_s``, ``add_s``, ``transform_s``
        (seconds spent rotating, 0 when unknown).
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    #: pip requirement that provides :attr:`requires` (for the skip note).
    install: ClassVar[str] = ""

    def __init__(self, d: int, metric: str, spec: str | None = None, **build_params: Any) -> None:
        if metric not in ("l2", "cosine"):
            raise Unsupported(f"{self.name} runs on l2 or cosine datasets; got metric {metric!r}")
        self.d = int(d)
        self.metric = metric
        self.spec = spec
        self.build_params = dict(build_params)
        self.query_params: dict[str, Any] = {}
        self.threads = 1
        self.build_stats: dict[str, float] = {"train_s": 0.0, "add_s": 0.0, "transform_s": 0.0}

    # -- availability -------------------------------------------------------------

    @classmethod
    def missing(cls) -> list[str]:
        """Required modules that are not installed."""
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """(usable, one-line note) for ``--list-contenders`` and skip messages."""
        missing = cls.missing()
        if missing:
            how = f"pip install {cls.install}" if cls.install else "install it"
            return False, f"not installed ({', '.join(missing)} missing; {how})"
        return True, "available"

    # -- the interface ------------------------------------------------------------

    @abstractmethod
    def fit(self, x: np.ndarray) -> None:
        """Train on and store ``x`` of shape (n, d), float32, C-contiguous; ids are row numbers."""

    def set_query_arguments(self, **params: Any) -> None:
        """Set the search parameters of the following queries (``query:`` in YAML)."""
        self.query_params = dict(params)

    def query(self, v: np.ndarray, k: int) -> np.ndarray:
        """Ids of the ``k`` nearest stored vectors to one query ``v`` (d,); int64, -1 where none."""
        return self.batch_query(v[None, :], k)[0]

    @abstractmethod
    def batch_query(self, q: np.ndarray, k: int) -> np.ndarray:
        """Ids (q, k), int64, -1 where none, for queries ``q`` (q, d) float32, using :attr:`threads`."""

    @property
    @abstractmethod
    def bytes_per_vector(self) -> float:
        """Bytes of code stored per vector (codes only: no ids, graphs or codebooks)."""

    @property
    def parameters(self) -> dict[str, Any]:
        """Build parameters as recorded in the results (spec included when there is one)."""
        out: dict[str, Any] = {"spec": self.spec} if self.spec else {}
        out.update(self.build_params)
        return out

    @property
    def label(self) -> str:
        """Legend text of this build, e.g. ``"turbovec b4"`` or ``"RHT,SQ4"``."""
        if self.spec:
            return self.spec
        return self.name + "".join(f" {k}={v}" for k, v in self.build_params.items())

    # plotting groups: what is quantized, and how it is rotated
    @property
    def quantizer(self) -> str:
        """Quantizer family label of this build (a panel of the plots)."""
        return self.name

    @property
    def variant(self) -> str:
        """Rotation / layout variant (a line within a panel)."""
        return self.name

    @property
    def rotation(self) -> str:
        """Rotation family (``"none"``, ``"HR"``, ``"RR"``, ``"RHT"`` or the contender's own)."""
        return self.name

    @property
    def index_bytes(self) -> int | None:
        """Serialized size of the whole index in bytes, when known."""
        return None

    @property
    def ntotal(self) -> int:
        """Stored vectors."""
        return 0

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Decoded vectors (len(ids), d) as stored (unit norm for cosine); NotImplementedError if none."""
        raise NotImplementedError(f"{self.name} cannot reconstruct stored vectors")

    def set_threads(self, n: int) -> None:
        """Threads for the following calls (rhtann and faiss share one setting)."""
        import rhtann

        self.threads = int(n)
        rhtann.set_num_threads(self.threads)

    def warm_up(self, x: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Run once on a few rows so that no timing includes a first-use compile (default: nothing)."""

    def done(self) -> None:  # noqa: B027 - optional hook
        """Free the index (default: nothing)."""


def normalized(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm (zero rows unchanged), float32 C-contiguous, a copy."""
    x = np.array(x, dtype=np.float32, order="C", copy=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    x /= norms
    return x


def as_ids(ids: Any, q: int, k: int) -> np.ndarray:
    """Ids (q, k) as int64, padded with -1 when a library returns fewer than k."""
    ids = np.asarray(ids)
    out = np.full((q, k), -1, dtype=np.int64)
    got = ids.reshape(q, -1)[:, :k]
    out[:, : got.shape[1]] = got
    return out
