"""Parse rhtann index specs: a faiss index_factory string with an optional RHT token.

Grammar::

    spec      := [rht_token ","] faiss_key
    rht_token := "RHT" [rounds] [layout]
    rounds    := "1" | "2" | "3" | "auto"          (default "3")
    layout    := "pad" | "keep" | "auto"           (default "pad")

Examples: ``"RHT,SQ4"`` (3 rounds, padded: the transform equals faiss's
``HR``), ``"RHT2,IVF1024,SQ8"``, ``"RHTauto,IVF256,PQ16x4fs,RFlat"``,
``"RHT3pad,HNSW32,SQtqmse4"``, ``"RHT1keep,RaBitQ"``. A spec without the
token (``"SQ4"``, ``"HR,SQ4"``, ``"RR,PQ16"``) is a plain faiss index.

The faiss part is checked by building it with ``faiss.index_factory``, so
every token faiss knows is accepted and every other one is reported with the
spec that contained it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Defaults of the RHT token when it names no rounds or layout.
DEFAULT_ROUNDS: int = 3
DEFAULT_LAYOUT: str = "pad"
ROUNDS_WORDS = ("1", "2", "3", "auto")
LAYOUT_WORDS = ("pad", "keep", "auto")

_TOKEN = re.compile(r"^RHT(?P<rounds>[0-9]+|auto)?(?P<layout>[A-Za-z]+)?$")

METRICS = ("l2", "ip", "cosine")
_METRIC_ALIASES = {
    "l2": "l2",
    "euclidean": "l2",
    "ip": "ip",
    "inner_product": "ip",
    "dot": "ip",
    "cosine": "cosine",
    "angular": "cosine",
}


@dataclass(frozen=True)
class Spec:
    """A parsed index spec.

    Attributes
    ----------
    text : str
        The spec as given.
    has_rht : bool
        Whether the spec starts with an RHT token.
    rounds : int or str
        1, 2, 3 or ``"auto"`` (meaningful when ``has_rht``).
    layout : str
        ``"pad"``, ``"keep"`` or ``"auto"`` (meaningful when ``has_rht``).
    faiss_key : str
        What follows the RHT token; passed to ``faiss.index_factory``.
    """

    text: str
    has_rht: bool
    rounds: int | str
    layout: str
    faiss_key: str

    @property
    def rht_token(self) -> str:
        """The canonical RHT token, e.g. ``"RHT3pad"`` (empty without one)."""
        return f"RHT{self.rounds}{self.layout}" if self.has_rht else ""


def _parse_token(token: str, spec: str) -> tuple[int | str, str]:
    m = _TOKEN.match(token)
    if m is None:
        raise ValueError(
            f"unknown RHT token {token!r} in spec {spec!r}; expected RHT[rounds][layout] "
            f"with rounds in {ROUNDS_WORDS} and layout in {LAYOUT_WORDS}, e.g. 'RHT', "
            "'RHT2', 'RHTauto', 'RHT3pad', 'RHT1keep'"
        )
    rounds_word = m.group("rounds") or str(DEFAULT_ROUNDS)
    layout = m.group("layout") or DEFAULT_LAYOUT
    if rounds_word not in ROUNDS_WORDS:
        raise ValueError(
            f"RHT token {token!r} in spec {spec!r} asks for {rounds_word} rounds; "
            f"rounds must be one of {ROUNDS_WORDS}"
        )
    if layout not in LAYOUT_WORDS:
        raise ValueError(
            f"RHT token {token!r} in spec {spec!r} names layout {layout!r}; "
            f"layout must be one of {LAYOUT_WORDS}"
        )
    rounds: int | str = "auto" if rounds_word == "auto" else int(rounds_word)
    return rounds, layout


def parse_spec(spec: str) -> Spec:
    """Split ``spec`` into its RHT token and its faiss index_factory key.

    Parameters
    ----------
    spec : str
        For example ``"RHT2,IVF1024,SQ8"`` or ``"SQ4"``.

    Returns
    -------
    Spec

    Raises
    ------
    TypeError
        If ``spec`` is not a string.
    ValueError
        If the RHT token is malformed, appears anywhere but first, or nothing
        follows it. (The faiss part is checked when the index is built.)
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string such as 'RHT,SQ4'; got {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise ValueError("spec is empty; give a faiss index_factory string such as 'RHT,SQ4'")
    tokens = [t.strip() for t in text.split(",")]
    for pos, tok in enumerate(tokens):
        if tok.upper().startswith("RHT") and pos > 0:
            raise ValueError(
                f"RHT token {tok!r} must come first in spec {spec!r} (position {pos} found)"
            )
    if not tokens[0].upper().startswith("RHT"):
        return Spec(text, False, DEFAULT_ROUNDS, DEFAULT_LAYOUT, text)
    rounds, layout = _parse_token(tokens[0], spec)
    rest = ",".join(tokens[1:])
    if not rest:
        raise ValueError(
            f"spec {spec!r} has an RHT token but no faiss index after it; "
            "write for example 'RHT,SQ4' or 'RHT,Flat'"
        )
    return Spec(text, True, rounds, layout, rest)


def parse_metric(metric: str) -> str:
    """Return the canonical metric name (``"l2"``, ``"ip"`` or ``"cosine"``).

    ``"angular"`` (ann-benchmarks' name) is accepted as ``"cosine"``,
    ``"euclidean"`` as ``"l2"``, ``"inner_product"`` and ``"dot"`` as ``"ip"``.
    """
    if not isinstance(metric, str) or metric.lower() not in _METRIC_ALIASES:
        raise ValueError(
            f"metric must be one of {METRICS} (or 'angular', 'euclidean', 'dot'); got {metric!r}"
        )
    return _METRIC_ALIASES[metric.lower()]


def faiss_metric(metric: str) -> int:
    """faiss metric constant for a canonical metric name."""
    import faiss

    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def _strip_faiss_location(msg: str) -> str:
    """Drop faiss's "Error in <C++ signature> at <file>:<line>: " prefix."""
    msg = msg.strip().splitlines()[0] if msg.strip() else ""
    return re.sub(r"^Error in .*? at \S+:\d+: ", "", msg)


def build_faiss(d: int, key: str, metric: str, spec: str):
    """``faiss.index_factory(d, key, metric)`` with a clear error for bad keys."""
    import faiss

    try:
        return faiss.index_factory(d, key, faiss_metric(metric))
    except RuntimeError as exc:
        first = _strip_faiss_location(str(exc))
        raise ValueError(
            f"faiss cannot build {key!r} (from spec {spec!r}) at d={d}: {first}. "
            "Check the faiss index_factory tokens (e.g. SQ4, PQ16, IVF256,SQ8, "
            "HNSW32, RaBitQ, EDEN4)"
        ) from None
