"""The rhtann container file: versioned, self-describing, checksummed.

Layout (all integers little-endian)::

    magic        8 bytes   b"RHTANN\\r\\n"
    version      uint32    container format version
    header_len   uint32    length of the JSON header in bytes
    header       JSON      {"kind": ..., "meta": {...}, "blobs": [[name, size], ...]}
    blobs        bytes     concatenated in header order
    checksum     32 bytes  SHA-256 of everything before it

Reading never executes anything from the file: the header is JSON and the
blobs are raw bytes interpreted by the caller. Files are written to a
temporary name in the target folder, flushed to disk, then renamed, so a crash
never leaves a partial file under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

MAGIC = b"RHTANN\r\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_DIGEST = 32


class FormatError(ValueError):
    """A file is not a valid rhtann file, or not of the expected kind."""


def write_container(
    path: str | os.PathLike, kind: str, meta: dict, blobs: dict[str, bytes] | None = None
) -> None:
    """Atomically write a container file.

    Parameters
    ----------
    path : str or path-like
        Destination. Its folder must exist.
    kind : str
        What the file holds (``"RHT"``, ``"Index"``...), checked on reading.
    meta : dict
        JSON-serializable parameters.
    blobs : dict of str to bytes, optional
        Named binary payloads.
    """
    blobs = blobs or {}
    header = json.dumps(
        {"kind": kind, "meta": meta, "blobs": [[k, len(v)] for k, v in blobs.items()]},
        sort_keys=True,
    ).encode("utf-8")
    h = hashlib.sha256()
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in (_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)), header, *blobs.values()):
                h.update(chunk)
                f.write(chunk)
            f.write(h.digest())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_container(path: str | os.PathLike, kind: str) -> tuple[dict, dict[str, bytes]]:
    """Read and validate a container file.

    Parameters
    ----------
    path : str or path-like
        File to read.
    kind : str
        Expected kind.

    Returns
    -------
    meta : dict
        The JSON parameters.
    blobs : dict of str to bytes
        The binary payloads.

    Raises
    ------
    FormatError
        If the file is not an rhtann file, is from a newer format version, is
        truncated or corrupted, or holds another kind of object.
    """
    data = Path(path).read_bytes()
    where = f"{os.fspath(path)!r}"
    if len(data) < _PREFIX.size or data[:8] != MAGIC:
        raise FormatError(f"{where} is not an rhtann file (bad magic bytes {data[:8]!r})")
    _, version, header_len = _PREFIX.unpack_from(data)
    if version > FORMAT_VERSION:
        raise FormatError(
            f"{where} uses rhtann file format version {version}; this rhtann reads "
            f"versions up to {FORMAT_VERSION}. Upgrade rhtann to read it."
        )
    if version < 1:
        raise FormatError(f"{where} has an invalid format version {version}")
    if len(data) < _PREFIX.size + header_len + _DIGEST:
        raise FormatError(f"{where} is truncated ({len(data)} bytes)")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise FormatError(f"{where} is corrupted or truncated (checksum mismatch)")
    try:
        header = json.loads(body[_PREFIX.size : _PREFIX.size + header_len].decode("utf-8"))
        file_kind, meta, sizes = header["kind"], header["meta"], header["blobs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"{where} has an unreadable header ({exc})") from None
    if file_kind != kind:
        raise FormatError(f"{where} holds a {file_kind!r} object, not {kind!r}")
    blobs: dict[str, bytes] = {}
    pos = _PREFIX.size + header_len
    for name, size in sizes:
        if pos + size > len(body):
            raise FormatError(f"{where} is truncated inside blob {name!r}")
        blobs[name] = body[pos : pos + size]
        pos += size
    if pos != len(body):
        raise FormatError(f"{where} has {len(body) - pos} unexpected trailing bytes")
    return meta, blobs


def peek_kind(path: str | os.PathLike) -> str:
    """Return the kind stored in a container file's header (no full check)."""
    with open(path, "rb") as f:
        prefix = f.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
            raise FormatError(f"{os.fspath(path)!r} is not an rhtann file")
        _, _, header_len = _PREFIX.unpack(prefix)
        try:
            return json.loads(f.read(header_len).decode("utf-8"))["kind"]
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"{os.fspath(path)!r} has an unreadable header ({exc})") from None
