"""Input limits of :class:`rhtann.Index`, checked before faiss sees anything.

faiss's ``index_factory`` parses spec strings recursively and accepts some
parameters that later crash the process (``HNSW0``, ``HNSW1``, ``IVF0``,
``PQ16x0``, ``NSG4``...). Everything a spec or a query keyword can ask for is
checked here first, with an error naming the token, its bound and what
arrived. The bounds are documented in ``docs/reliability.md``.
"""

from __future__ import annotations

import re

import numpy as np

from ..kernels import finite as _finite

#: Longest spec string accepted, in characters.
MAX_SPEC_CHARS = 256
#: Most comma-separated tokens in a spec.
MAX_SPEC_TOKENS = 16
#: Deepest parenthesis nesting in a spec (``Refine(...)``).
MAX_SPEC_DEPTH = 4
#: Largest integer literal anywhere in a faiss key.
MAX_SPEC_INT = 2**24
#: ``HNSW<M>`` (also as an IVF coarse quantizer): neighbours per node.
HNSW_M = (2, 512)
#: ``NSG<R>``: graph degree (smaller degrees crash faiss's graph build).
NSG_R = (8, 512)
#: ``IVF<nlist>``: inverted lists.
IVF_NLIST = (1, 2**22)
#: ``IMI2x<bits>``: bits per sub-quantizer of the multi-index.
IMI_BITS = (1, 12)
#: ``PQ<M>x<nbits>`` and the additive quantizers' ``x<nbits>``: bits per code.
PQ_NBITS = (1, 16)
#: ``efSearch`` query keyword.
EF_SEARCH = (1, 2**16)
#: ``k`` of :meth:`rhtann.Index.search` (also bounded by ``ntotal``).
MAX_K = 2**20
#: ``k_factor`` query keyword (RFlat / Refine).
K_FACTOR = (1, 2**10)

#: Largest squared vector norm an l2 or ip Index accepts: faiss computes
#: distances in float32 as ``|q|^2 + |x|^2 - 2 <q, x>``, which stays finite
#: while both squared norms are at most a quarter of float32's maximum.
MAX_SQ_NORM = float(np.finfo(np.float32).max) / 4

_HNSW = re.compile(r"HNSW(\d+)")
_NSG = re.compile(r"NSG(\d+)")
_IVF = re.compile(r"IVF(\d+)")
_IMI = re.compile(r"IMI2x(\d+)")
_PQ = re.compile(r"(?<![A-Za-z])PQ(\d+)(?:x(\d+))?")
_ADDITIVE = re.compile(r"(?<![A-Za-z])(?:RQ|LSQ|PRQ|PLSQ)(\d+)x(\d+)(?:x(\d+))?")
_INT = re.compile(r"\d+")


def check_norms(y: np.ndarray, name: str, sq: np.ndarray | None = None) -> None:
    """Raise ValueError when a row of finite float32 ``y`` has squared norm above :data:`MAX_SQ_NORM`.

    ``sq`` holds the squared row norms when already known (float64);
    otherwise they are computed here in float64.
    """
    if sq is None:
        sq = np.empty(y.shape[0])
        flags = np.zeros(y.shape[0], dtype=np.bool_)
        if _finite.scan_rows(y, flags, sq):
            raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    if sq.size and float(sq.max()) > MAX_SQ_NORM:
        row = int(np.argmax(sq))
        raise ValueError(
            f"{name}: row {row} has norm {float(np.sqrt(sq[row])):.3g}; faiss computes float32 "
            f"distances, so vectors of an l2 or ip index need norm <= {float(np.sqrt(MAX_SQ_NORM)):.3g} "
            "(scale the data down, or use metric='cosine')"
        )


def check_spec_text(spec: str) -> None:
    """Length, token count and nesting of a spec string (before any parsing).

    Raises
    ------
    ValueError
        Naming the limit exceeded.
    """
    if len(spec) > MAX_SPEC_CHARS:
        raise ValueError(
            f"spec must be at most {MAX_SPEC_CHARS} characters; got {len(spec)} ({spec[:40]!r}...)"
        )
    tokens = spec.count(",") + 1
    if tokens > MAX_SPEC_TOKENS:
        raise ValueError(f"spec must have at most {MAX_SPEC_TOKENS} comma-separated tokens; got {tokens}")
    depth = deepest = 0
    for ch in spec:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"spec {spec!r} has an unbalanced ')'")
    if depth:
        raise ValueError(f"spec {spec!r} has an unbalanced '('")
    if deepest > MAX_SPEC_DEPTH:
        raise ValueError(f"spec {spec!r} nests parentheses {deepest} deep; at most {MAX_SPEC_DEPTH}")


def _in(value: int, bounds: tuple[int, int], what: str, key: str) -> None:
    lo, hi = bounds
    if not lo <= value <= hi:
        raise ValueError(f"{what} in faiss key {key!r} must be in [{lo}, {hi}]; got {value}")


def check_faiss_key(key: str, d: int) -> None:
    """Reject faiss factory parameters that faiss accepts but then crashes or exhausts memory on.

    Parameters
    ----------
    key : str
        The faiss ``index_factory`` key (after the RHT token).
    d : int
        Dimension of the faiss index (``d_out``).

    Raises
    ------
    ValueError
        Naming the token, its bound and the value given.
    """
    check_spec_text(key)
    for m in _INT.finditer(key):
        if int(m.group()) > MAX_SPEC_INT:
            raise ValueError(f"number {m.group()} in faiss key {key!r} is above the limit {MAX_SPEC_INT}")
    for m in _HNSW.finditer(key):
        _in(int(m.group(1)), HNSW_M, f"HNSW M ({m.group()})", key)
    for m in _NSG.finditer(key):
        _in(int(m.group(1)), NSG_R, f"NSG degree R ({m.group()})", key)
    for m in _IVF.finditer(key):
        _in(int(m.group(1)), IVF_NLIST, f"IVF nlist ({m.group()})", key)
    for m in _IMI.finditer(key):
        _in(int(m.group(1)), IMI_BITS, f"IMI bits ({m.group()})", key)
    for m in _PQ.finditer(key):
        if key[max(0, m.start() - 1) : m.start()] == "O":  # OPQ<M>_<d>: faiss checks it
            continue
        sub = int(m.group(1))
        if sub < 1 or d % sub:
            raise ValueError(
                f"PQ sub-quantizer count M ({m.group()}) in faiss key {key!r} must divide the "
                f"dimension of the faiss index, d={d}; got M={sub}"
            )
        if m.group(2) is not None:
            _in(int(m.group(2)), PQ_NBITS, f"PQ nbits ({m.group()})", key)
    for m in _ADDITIVE.finditer(key):
        bits = m.group(3) if m.group(3) is not None else m.group(2)
        if int(m.group(1)) < 1:
            raise ValueError(f"codebook count in {m.group()!r} of faiss key {key!r} must be >= 1")
        _in(int(bits), PQ_NBITS, f"nbits ({m.group()})", key)


__all__ = [
    "EF_SEARCH",
    "HNSW_M",
    "IMI_BITS",
    "IVF_NLIST",
    "K_FACTOR",
    "MAX_K",
    "MAX_SPEC_CHARS",
    "MAX_SQ_NORM",
    "MAX_SPEC_DEPTH",
    "MAX_SPEC_INT",
    "MAX_SPEC_TOKENS",
    "NSG_R",
    "PQ_NBITS",
    "check_faiss_key",
    "check_norms",
    "check_spec_text",
]
