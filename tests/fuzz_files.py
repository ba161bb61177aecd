"""Seeded mutations of rhtann container files for the fuzz tests.

Each mutation returns new file bytes: truncations, bit flips (checksum left
stale), forged headers (a JSON field replaced, removed or added, the blob
list edited, with the header length and checksum recomputed), foreign files.
"""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np

MAGIC = b"RHTANN\r\n"
_PREFIX = struct.Struct("<8sII")

HOSTILE = [
    None,
    True,
    False,
    -1,
    0,
    1,
    2,
    3,
    7,
    2**31,
    2**63,
    2**64,
    10**29,
    -(10**29),
    1e308,
    -1e308,
    0.5,
    float("nan"),
    float("inf"),
    "",
    "x",
    "auto",
    "keep",
    "pad",
    "RHT,HNSW0",
    "RHT,Flat",
    "RHT," + "Flat" * 4000,
    [],
    [0],
    [1, 2],
    [[[]]],
    {},
    {"a": 1},
    "\u0000",
    "9" * 400,
]


def split(data: bytes) -> tuple[dict, bytes]:
    """The header of container ``data`` and the blob bytes that follow it (checksum dropped)."""
    _, _, hl = _PREFIX.unpack_from(data)
    header = json.loads(data[_PREFIX.size : _PREFIX.size + hl])
    return header, data[_PREFIX.size + hl : -32]


def join(header: object, blobs: bytes, version: int = 1) -> bytes:
    """A container with ``header`` (any JSON value) and a recomputed checksum."""
    raw = json.dumps(header).encode()
    body = _PREFIX.pack(MAGIC, version, len(raw)) + raw + blobs
    return body + hashlib.sha256(body).digest()


def _paths(obj: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: object, path: tuple, value: object, delete: bool = False) -> object:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    elif delete and isinstance(parent, list):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return obj


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random mutation of a valid container: ``(kind of mutation, bytes)``."""
    kind = ["truncate", "flip", "forge", "forge", "forge", "blobs", "foreign"][rng.integers(7)]
    if kind == "truncate":
        return kind, data[: int(rng.integers(0, len(data)))]
    if kind == "flip":
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(len(buf)))
            buf[pos] ^= 1 << int(rng.integers(8))
        return kind, bytes(buf)
    if kind == "foreign":
        choices = [
            b"",
            b"\x00" * 64,
            b"PK\x03\x04" + bytes(60),
            b"\x89HDF\r\n\x1a\n" + bytes(100),
            MAGIC + bytes(8),
            MAGIC + struct.pack("<II", 1, 2**32 - 1) + bytes(40),
        ]
        return kind, choices[int(rng.integers(len(choices)))]
    header, blobs = split(data)
    if kind == "blobs":
        entries = header["blobs"]
        op = int(rng.integers(4))
        if op == 0 and entries:
            entries[int(rng.integers(len(entries)))][1] += int(rng.choice([-1, 1, 2**40, -(2**40)]))
        elif op == 1 and len(entries) > 1:
            entries.reverse()
        elif op == 2:
            entries.append(entries[0] if entries else ["x", 0])
        else:
            header["blobs"] = HOSTILE[int(rng.integers(len(HOSTILE)))]
        return kind, join(header, blobs)
    paths = _paths(header)
    path = paths[int(rng.integers(len(paths)))]
    if path and rng.random() < 0.2:
        header = _set(header, path, None, delete=True)
    else:
        header = _set(header, path, HOSTILE[int(rng.integers(len(HOSTILE)))])
    return kind, join(header, blobs)
