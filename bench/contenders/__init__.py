"""The contenders of the harness: one registry name per library wrapper.

``python -m bench --list-contenders`` prints them with whether each can run
here. To add one, subclass :class:`~bench.contenders.base.Contender`
(``fit``, ``batch_query``, ``bytes_per_vector``; optionally ``query``,
``label``, ``quantizer``, ``variant``) and pass the class to
:func:`register`.
"""

from __future__ import annotations

from .base import Contender, Unsupported
from .peers import RaBitQLib, TurboVec
from .spec_based import FaissIndex, RhtannIndex

#: Registry: name -> contender class.
CONTENDERS: dict[str, type[Contender]] = {}


def register(cls: type[Contender]) -> type[Contender]:
    """Add a contender class under ``cls.name`` (usable as a decorator)."""
    if not cls.name or cls.name in CONTENDERS:
        raise ValueError(f"contender name must be new and non-empty; got {cls.name!r}")
    CONTENDERS[cls.name] = cls
    return cls


for _cls in (RhtannIndex, FaissIndex, TurboVec, RaBitQLib):
    register(_cls)


def get(name: str) -> type[Contender]:
    """The contender class registered as ``name``."""
    try:
        return CONTENDERS[name]
    except KeyError:
        raise ValueError(f"unknown contender {name!r}; known: {', '.join(CONTENDERS)}") from None


def describe() -> list[str]:
    """One line per contender: name, availability, description."""
    lines = []
    for name, cls in CONTENDERS.items():
        ok, note = cls.available()
        tail = "" if ok else f" [{note}]"
        lines.append(f"{name:10s} {'yes' if ok else 'no ':9s}  {cls.description}{tail}")
    return lines


__all__ = ["CONTENDERS", "Contender", "FaissIndex", "RaBitQLib", "RhtannIndex", "TurboVec", "Unsupported",
           "describe", "get", "register"]
