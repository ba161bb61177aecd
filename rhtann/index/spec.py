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

This module is the only parser of spec strings in rhtann (the benchmark
harness imports it too). The faiss part is checked by building it with
``faiss.index_factory`` (:func:`rhtann.index.faiss_glue.build_faiss`), so
every token faiss knows is accepted and every other one is reported with the
spec that contained it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .limits import check_spec_text

#: Defaults of the RHT token when it names no rounds or layout.
DEFAULT_ROUNDS: int = 3
DEFAULT_LAYOUT: str = "pad"
ROUNDS_WORDS = ("1", "2", "3", "auto")
LAYOUT_WORDS = ("pad", "keep", "auto")

_TOKEN = re.compile(r"^RHT(?P<rounds>[0-9]+|auto)?(?P<layout>[A-Za-z]+)?$")

# faiss tokens of product, additive and vector quantizers: their codebooks want
# nearly uncorrelated coordinates, hence the "vq" round target.
_VQ_TOKENS = re.compile(r"(^|[,_(])(PQ|OPQ|RQ|LSQ|PRQ|PLSQ|IMI|Residual|ITQ)", re.IGNORECASE)


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
        If the spec is longer than :data:`rhtann.index.limits.MAX_SPEC_CHARS`
        or has too many tokens or nested parentheses, if the RHT token is
        malformed, appears anywhere but first, or nothing follows it. (The
        faiss part is checked when the index is built.)
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string such as 'RHT,SQ4'; got {type(spec).__name__}")
    check_spec_text(spec)
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


def default_target(faiss_key: str) -> str:
    """Round target a faiss key implies.

    ``"vq"`` when the key holds a product, additive or vector quantizer (PQ,
    OPQ, RQ, LSQ...), else ``"scalar"``.
    """
    return "vq" if _VQ_TOKENS.search(faiss_key) else "scalar"


__all__ = [
    "DEFAULT_LAYOUT",
    "DEFAULT_ROUNDS",
    "LAYOUT_WORDS",
    "ROUNDS_WORDS",
    "Spec",
    "default_target",
    "parse_spec",
]
