"""Spec strings as the harness labels them; the only place bench reads rhtann's spec grammar.

The RHT token is parsed by rhtann's own spec parser, imported here and
nowhere else in bench (:func:`parse_spec`). On top of it this module splits
off faiss's transform tokens (``HR``, ``RR``, ``PCA``...) to name the
rotation and the quantizer of a run.
"""

from __future__ import annotations

import re

from rhtann.index.spec import parse_spec  # the spec grammar's single import site in bench

__all__ = ["ROTATIONS", "parse_spec", "quantizer_of", "rotation_of", "split_spec", "sub_dimension",
           "variant_of"]

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
    if parse_spec(spec).has_rht:
        return "RHT"
    prefix, _ = split_spec(spec)
    for token in prefix:
        if re.match(r"^HR\d*$", token):
            return "HR"
        if re.match(r"^RR\d*$", token):
            return "RR"
    return "none"


def variant_of(spec: str) -> str:
    """The rotation as a plot line: ``"none"``, ``"HR"``, ``"RR"``, ``"RHT3 pad"``, ``"RHTauto keep"``."""
    parsed = parse_spec(spec)
    if parsed.has_rht:
        return f"RHT{parsed.rounds} {parsed.layout}"
    return rotation_of(spec)


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
    if parse_spec(spec).has_rht:
        import rhtann

        return rhtann.Index(d, ",".join(prefix + ["Flat"])).d_out
    import faiss

    idx = faiss.index_factory(d, ",".join(prefix + ["Flat"]))
    return int(faiss.downcast_index(idx.index).d) if hasattr(idx, "index") else d
