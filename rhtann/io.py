"""The rhtann container file: versioned, self-describing, checksummed.

Layout (all integers little-endian)::

    magic        8 bytes   b"RHTANN\\r\\n"
    version      uint32    container format version
    header_len   uint32    length of the JSON header in bytes
    header       JSON      {"kind": ..., "meta": {...}, "blobs": [[name, size], ...]}
    blobs        bytes     concatenated in header order
    checksum     32 bytes  SHA-256 of everything before it

Reading never executes anything from the file: the header is JSON and the
blobs are raw bytes interpreted by the caller. Only regular files are read
(FIFOs, devices, directories and symlinks to them are rejected before a byte
is read), never beyond the length the file had when it was opened, and every
size in the prefix and header is checked against that length before anything
is allocated: memory taken by a read is bounded by the file's size. Files are
written to a temporary name in the target folder, flushed to disk, then
renamed, so a crash never leaves a partial file under the final name; the
file's mode follows the process umask, as ``open`` would give it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import struct
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import BinaryIO

MAGIC = b"RHTANN\r\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_DIGEST = 32
#: Largest JSON header accepted, in bytes.
MAX_HEADER_BYTES = 1 << 20
#: Largest number of blobs a header may list.
MAX_BLOBS = 64
#: Deepest nesting of JSON arrays and objects accepted in a header.
MAX_JSON_DEPTH = 32
_READ_CHUNK = 1 << 22


class FormatError(ValueError):
    """A file is not a valid rhtann file, or not of the expected kind."""


#: Errors that rebuilding an object from a file's (untrusted) parameters may
#: raise; loaders turn each into a FormatError.
STATE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
    MemoryError,
)


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
        Named binary payloads (bytes-like objects).

    Notes
    -----
    The file gets mode ``0o666 & ~umask``, like a file created by ``open``.
    """
    blobs = blobs or {}
    header = json.dumps(
        {"kind": kind, "meta": meta, "blobs": [[k, len(v)] for k, v in blobs.items()]},
        sort_keys=True,
    ).encode("utf-8")
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(f"the header of this {kind} is {len(header)} bytes; at most {MAX_HEADER_BYTES} fit")
    h = hashlib.sha256()
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
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


def open_regular(path: str | os.PathLike) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading only if it is a regular file; return it and its length.

    The file is opened without blocking (a FIFO never blocks the call) and
    checked with ``fstat`` on the open descriptor, so a symlink to a device,
    FIFO or directory is rejected too.

    Raises
    ------
    FormatError
        If ``path`` is not a regular file.
    OSError
        If it cannot be opened (missing, permissions).
    """
    where = repr(os.fspath(path))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise FormatError(f"{where} is a directory, not an rhtann file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FormatError(
                f"{where} is not a regular file (mode {stat.filemode(st.st_mode)}); "
                "rhtann reads only regular files"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), int(st.st_size)
    except BaseException:
        os.close(fd)
        raise


def _read_exact(f: BinaryIO, size: int, where: str, what: str) -> bytes:
    """Exactly ``size`` bytes of ``f`` (the caller checked them against the file length)."""
    buf = bytearray(size)
    view = memoryview(buf)
    pos = 0
    while pos < size:
        got = f.readinto(view[pos : pos + _READ_CHUNK])
        if not got:
            raise FormatError(f"{where} is truncated inside {what} (the file shrank while being read)")
        pos += got
    return bytes(buf) if size < _READ_CHUNK else buf  # type: ignore[return-value]


def _parse_header(raw: bytes, where: str) -> tuple[str, dict, list[tuple[str, int]]]:
    """Decode and check the JSON header: kind, meta and the blob list."""
    # Bound the nesting before json.loads (which recurses) sees the text.
    depth = 0
    deepest = 0
    in_str = esc = False
    for ch in raw:
        if in_str:
            if esc:
                esc = False
            elif ch == 0x5C:
                esc = True
            elif ch == 0x22:
                in_str = False
        elif ch == 0x22:
            in_str = True
        elif ch in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif ch in (0x5D, 0x7D):
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        raise FormatError(
            f"{where} has a header nested {deepest} levels deep; at most {MAX_JSON_DEPTH} are accepted"
        )
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"{where} has an unreadable header ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or not {"kind", "meta", "blobs"} <= set(header):
        raise FormatError(f"{where} has a header without the keys 'kind', 'meta' and 'blobs'")
    kind, meta, sizes = header["kind"], header["meta"], header["blobs"]
    if not isinstance(kind, str) or not isinstance(meta, dict) or not isinstance(sizes, list):
        raise FormatError(f"{where} has a header whose kind, meta or blobs have the wrong type")
    if len(sizes) > MAX_BLOBS:
        raise FormatError(f"{where} lists {len(sizes)} blobs; at most {MAX_BLOBS} are accepted")
    out: list[tuple[str, int]] = []
    for item in sizes:
        ok = (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and not isinstance(item[1], bool)
            and item[1] >= 0
        )
        if not ok:
            raise FormatError(f"{where} has an invalid blob entry {item!r:.80} (expected [name, size >= 0])")
        out.append((item[0], item[1]))
    if len({name for name, _ in out}) != len(out):
        raise FormatError(f"{where} lists a blob name twice")
    return kind, meta, out


class BlobRef:
    """A blob left in its file by :func:`read_container` (``lazy=``), read again on demand.

    The first read hashed the whole file (the container checksum matched) and
    this blob on its own. :meth:`stream` reads it a second time, from the same
    file (same device, inode, size and modification time), hashing again, and
    raises FormatError at the end if the bytes changed in between.

    Attributes
    ----------
    size : int
        Length in bytes.
    """

    def __init__(self, path: str | os.PathLike, offset: int, size: int, digest: bytes, ident: tuple) -> None:
        self.path, self.offset, self.size, self._digest, self._ident = path, offset, size, digest, ident

    def __len__(self) -> int:
        return self.size

    def read_all(self) -> bytes:
        """The whole blob as bytes, checked against its digest."""
        parts = []
        with self.stream() as read:
            while chunk := read(_READ_CHUNK):
                parts.append(chunk)
        return b"".join(parts)

    @contextlib.contextmanager
    def stream(self) -> Iterator[Callable[[int], bytes]]:
        """Yield ``read(n)``: the next up to ``n`` bytes of the blob (b"" at its end)."""
        where = repr(os.fspath(self.path))
        f, _ = open_regular(self.path)
        with f:
            if _ident(os.fstat(f.fileno())) != self._ident:
                raise FormatError(f"{where} changed since it was checked")
            f.seek(self.offset)
            h = hashlib.sha256()
            left = [self.size]

            def read(n: int) -> bytes:
                chunk = f.read(max(0, min(int(n), left[0])))
                left[0] -= len(chunk)
                h.update(chunk)
                return chunk

            yield read
            _hash_rest(f, h, left[0])
            if h.digest() != self._digest:
                raise FormatError(f"{where} changed while it was being read (blob checksum mismatch)")


def _ident(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def read_container(
    path: str | os.PathLike, kind: str, *, lazy: Collection[str] = ()
) -> tuple[dict, dict[str, bytes | BlobRef]]:
    """Read and validate a container file.

    Parameters
    ----------
    path : str or path-like
        File to read: a regular file (or a symlink to one).
    kind : str
        Expected kind.
    lazy : collection of str, optional
        Blob names not kept in memory: they are hashed and returned as
        :class:`BlobRef`, to be streamed from the file when needed.

    Returns
    -------
    meta : dict
        The JSON parameters.
    blobs : dict of str to bytes-like or BlobRef
        The binary payloads (``bytes`` or ``bytearray``; :class:`BlobRef`
        for the ``lazy`` names), in header order.

    Raises
    ------
    FormatError
        If the file is not a regular file or not an rhtann file, is from a
        newer format version, is truncated or corrupted, declares sizes that
        do not match its length, has a malformed or over-large header, or
        holds another kind of object.

    Notes
    -----
    The file is read once, in order, hashing as it goes; the blobs are the
    only large allocation (their total is the file's length minus the
    header), and nothing is returned unless the checksum matches.
    """
    where = f"{os.fspath(path)!r}"
    f, length = open_regular(path)
    with f:
        ident = _ident(os.fstat(f.fileno()))
        prefix = f.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
            raise FormatError(f"{where} is not an rhtann file (bad magic bytes {prefix[:8]!r})")
        _, version, header_len = _PREFIX.unpack(prefix)
        if version > FORMAT_VERSION:
            raise FormatError(
                f"{where} uses rhtann file format version {version}; this rhtann reads "
                f"versions up to {FORMAT_VERSION}. Upgrade rhtann to read it."
            )
        if version < 1:
            raise FormatError(f"{where} has an invalid format version {version}")
        if length < _PREFIX.size + header_len + _DIGEST:
            raise FormatError(f"{where} is truncated ({length} bytes)")
        if header_len > MAX_HEADER_BYTES:
            raise FormatError(
                f"{where} declares a {header_len}-byte header; at most {MAX_HEADER_BYTES} are accepted"
            )
        h = hashlib.sha256(prefix)
        raw = _read_exact(f, header_len, where, "the header")
        h.update(raw)
        # Parse before hashing the rest so that sizes are checked against the
        # length before any blob is allocated; nothing parsed is returned
        # unless the checksum matches.
        file_kind, meta, sizes = _parse_header(bytes(raw), where)
        body_len = length - _DIGEST
        pos = _PREFIX.size + header_len
        total = sum(size for _, size in sizes)
        if pos + total != body_len:
            # Distinguish truncation from trailing bytes, after the checksum.
            _hash_rest(f, h, body_len - pos)
            _check_digest(f, h, where)
            if pos + total > body_len:
                raise FormatError(
                    f"{where} is truncated: its blobs need {total} bytes, {body_len - pos} remain"
                )
            raise FormatError(f"{where} has {body_len - pos - total} unexpected trailing bytes")
        blobs: dict[str, bytes | BlobRef] = {}
        for name, size in sizes:
            if name in lazy:
                own = hashlib.sha256()
                _hash_rest(f, _Both(h, own), size)
                blobs[name] = BlobRef(path, pos, size, own.digest(), ident)
            else:
                blob = _read_exact(f, size, where, f"blob {name!r}")
                h.update(blob)
                blobs[name] = blob
            pos += size
        _check_digest(f, h, where)
    if file_kind != kind:
        raise FormatError(f"{where} holds a {file_kind!r} object, not {kind!r}")
    return meta, blobs


class _Both:
    """Feeds two hashes at once."""

    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def update(self, chunk: bytes) -> None:
        self.a.update(chunk)
        self.b.update(chunk)


def _hash_rest(f: BinaryIO, h, size: int) -> None:
    while size > 0:
        chunk = f.read(min(size, _READ_CHUNK))
        if not chunk:
            return
        h.update(chunk)
        size -= len(chunk)


def _check_digest(f: BinaryIO, h, where: str) -> None:
    digest = f.read(_DIGEST)
    if digest != h.digest():
        raise FormatError(f"{where} is corrupted or truncated (checksum mismatch)")


def peek_kind(path: str | os.PathLike) -> str:
    """Return the kind stored in a container file's header (no full check).

    Raises
    ------
    FormatError
        As :func:`read_container` for the prefix and header.
    """
    where = repr(os.fspath(path))
    f, length = open_regular(path)
    with f:
        prefix = f.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
            raise FormatError(f"{where} is not an rhtann file")
        _, _, header_len = _PREFIX.unpack(prefix)
        if header_len > MAX_HEADER_BYTES or _PREFIX.size + header_len + _DIGEST > length:
            raise FormatError(f"{where} is truncated or declares an over-large header ({header_len} bytes)")
        raw = _read_exact(f, header_len, where, "the header")
    return _parse_header(bytes(raw), where)[0]
