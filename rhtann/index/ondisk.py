"""IVF inverted lists kept on disk, and merging shards of one trained index.

faiss's ``OnDiskInvertedLists`` stores every inverted list (codes then ids)
in one memory-mapped file; the index object keeps only the coarse quantizer,
the codec's trained state and each list's offset and size, so an index
larger than RAM can be built (adds append to the file) and searched (the
kernel pages lists in as the probes touch them).

Files: :meth:`rhtann.Index.to_ondisk` names the lists file. :meth:`rhtann.Index.save`
writes the usual container (:mod:`rhtann.io`: header, faiss bytes of the
sub-index, SHA-256 of the container) and records in its header the lists
file's name (relative to the container's folder when it lies there), size in
bytes and SHA-256. :meth:`rhtann.Index.load` checks that the lists file
exists, has that size and that SHA-256 (one sequential read of the file)
before it maps it, so a lists file changed, truncated or swapped since the
save is refused with :class:`rhtann.FormatError`. A container and its lists
file can move together to another folder. Adding to a loaded index changes
the lists file: save again afterwards.

This module also merges shards built from copies of one trained empty index
(:func:`merge_shards`, :func:`merge_shard_files`), the last step of
:func:`rhtann.distributed.build`. Like :mod:`rhtann.index.faiss_glue` it
holds the faiss internals it needs.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

import faiss

from ..io import FormatError
from . import faiss_glue as glue
from .metric import faiss_metric

#: Bytes read at a time when hashing a lists file.
HASH_BLOCK = 16 * 2**20


def ivf_of(sub: Any, spec: str) -> Any:
    """The ``IndexIVF`` inside a faiss sub-index; ValueError naming ``spec`` when there is none."""
    try:
        return faiss.extract_index_ivf(sub)
    except RuntimeError:
        raise ValueError(
            f"on-disk inverted lists need an IVF index; spec {spec!r} has no IVF stage "
            "(write for example 'RHT,IVF256,SQ8')"
        ) from None


def lists_of(sub: Any) -> Any:
    """The downcast inverted lists of the IVF stage of ``sub``."""
    return faiss.downcast_InvertedLists(faiss.extract_index_ivf(sub).invlists)


def _merge_into_new(lists: Any, sources: list[Any]) -> int:
    """``lists.merge_from_multiple(sources)`` into new empty on-disk lists; returns the entries merged.

    faiss sizes the file exactly but leaves the whole of it on its free-slot
    list, so a later add could be placed over merged lists; claiming that
    slot afterwards makes later adds grow the file instead.
    """
    vec = faiss.InvertedListsPtrVector()
    for src in sources:
        vec.push_back(src)
    n = int(lists.merge_from_multiple(vec.data(), vec.size(), False, False))
    if lists.totsize:
        lists.allocate_slot(lists.totsize)
    return n


def _replace_lists(ivf: Any, lists: Any) -> None:
    ivf.replace_invlists(lists, True)
    lists.thisown = False  # the IVF index owns and frees them now


def to_ondisk(index: Any, path: str | os.PathLike) -> str:
    """Move the inverted lists of ``index``'s IVF sub-index into a new file ``path``.

    Parameters
    ----------
    index : rhtann.Index
        Trained, non-adaptive, with an IVF spec; may already hold vectors.
    path : str or path-like
        The lists file to create; its folder must exist.

    Returns
    -------
    str
        The absolute path of the lists file.

    Raises
    ------
    ValueError
        For a spec without IVF stage.
    FileExistsError
        When ``path`` exists.
    RuntimeError
        For an untrained or adaptive index, or lists already on disk.
    """
    if index.adaptive:
        raise RuntimeError("to_ondisk supports non-adaptive indexes (one IVF sub-index)")
    index._check_trained("to_ondisk")
    ivf = ivf_of(index.sub_index, index.spec.text)
    if index._ondisk is not None:
        raise RuntimeError(f"the inverted lists are already on disk in {index._ondisk!r}")
    target = Path(path).resolve()
    if target.exists():
        raise FileExistsError(f"path {os.fspath(path)!r} exists; to_ondisk creates a new lists file")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"the folder of path {os.fspath(path)!r} does not exist")
    lists = faiss.OnDiskInvertedLists(ivf.nlist, ivf.code_size, str(target))
    if ivf.ntotal:
        _merge_into_new(lists, [ivf.invlists])
    else:  # faiss cannot map an empty file: give it one page
        target.touch()
        lists.update_totsize(mmap.PAGESIZE)
    _replace_lists(ivf, lists)
    return str(target)


def file_digest(path: Path) -> tuple[int, str]:
    """``(size in bytes, SHA-256 hex)`` of a file, read sequentially; fsyncs it first."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        while block := f.read(HASH_BLOCK):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def describe(lists_path: str, container: str | os.PathLike) -> dict:
    """The header entry :meth:`rhtann.Index.save` writes for an on-disk index."""
    lists = Path(lists_path)
    folder = Path(container).resolve().parent
    name = lists.name if lists.parent == folder else str(lists)
    size, digest = file_digest(lists)
    return {"lists": name, "faiss_filename": str(lists), "bytes": size, "sha256": digest}


def read_sub(entry: dict, blob: bytes, container: str | os.PathLike, d: int, ntotal: int, metric: str):
    """Check the lists file an on-disk header entry names, then read the sub-index over it.

    Returns
    -------
    (faiss.Index, str)
        The sub-index with its lists mapped, and the lists file's absolute path.

    Raises
    ------
    rhtann.FormatError
        For a missing lists file, another size or SHA-256 than saved, or a
        sub-index that disagrees with the header.
    """
    try:
        name, recorded = str(entry["lists"]), str(entry["faiss_filename"])
        size, digest = int(entry["bytes"]), str(entry["sha256"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"invalid on-disk lists entry ({exc})") from None
    lists = Path(name)
    if not lists.is_absolute():
        lists = Path(container).resolve().parent / lists
    if not lists.is_file():
        raise FormatError(f"the inverted lists file {str(lists)!r} is missing")
    got_size, got_digest = file_digest(lists)
    if (got_size, got_digest) != (size, digest):
        raise FormatError(
            f"the inverted lists file {str(lists)!r} changed since the index was saved "
            f"(size {got_size} vs {size} bytes, or its SHA-256 differs)"
        )
    if Path(recorded) == lists:
        sub = glue.read_index_checked(blob, d, ntotal, metric, "on-disk sub-index")
    else:
        if Path(recorded).name != lists.name:
            raise FormatError(f"lists file {str(lists)!r} is not the saved {Path(recorded).name!r}")
        # faiss maps the saved file name; IO_FLAG_ONDISK_SAME_DIR re-points it
        # at the folder of the index file read, so read the bytes from there.
        fd, tmp = tempfile.mkstemp(prefix=".rhtann-", suffix=".faiss", dir=lists.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            sub = faiss.read_index(tmp, faiss.IO_FLAG_ONDISK_SAME_DIR)
        except RuntimeError as exc:
            raise FormatError(f"faiss cannot read the on-disk sub-index ({glue.faiss_error(exc)})") from None
        finally:
            os.unlink(tmp)
        if sub.d != d or sub.ntotal != ntotal or sub.metric_type != faiss_metric(metric):
            raise FormatError(
                f"the on-disk sub-index has d={sub.d}, ntotal={sub.ntotal}; expected d={d}, ntotal={ntotal}"
            )
    return sub, str(lists)


# ----------------------------------------------------------------------
# merging shards
# ----------------------------------------------------------------------


def check_mergeable(sub: Any, spec: str, ondisk: bool) -> str:
    """``"ivf"`` or ``"flat"``: how shards of ``sub`` merge; ValueError for other indexes."""
    top = faiss.downcast_index(sub)
    if isinstance(top, faiss.IndexIVF):
        return "ivf"
    if ondisk:
        ivf_of(sub, spec)  # raises for a spec without IVF
        raise ValueError(f"on-disk merging needs the IVF stage at the top of the spec; got {spec!r}")
    if isinstance(top, faiss.IndexFlatCodes):
        return "flat"
    raise ValueError(
        f"shards of {spec!r} ({type(top).__name__}) cannot be merged; distributed builds take "
        "IVF specs ('RHT,IVF256,SQ8') or flat codes ('RHT,SQ8', 'RHT,PQ16')"
    )


def merge_shards(dst: Any, shards: list[Any]) -> None:
    """Append the contents of shard sub-indexes to ``dst``, in order.

    ``dst`` and every shard are copies of one trained index (IVF or flat
    codes). IVF shards keep the ids they were added under; flat-code shards
    are appended, so shard ``j``'s rows get ids after those of shards ``< j``.
    """
    for shard in shards:
        dst.merge_from(shard, 0)


def merge_shard_files(dst: Any, files: list[str], lists_path: str | os.PathLike) -> str:
    """Merge IVF shard index files into a new on-disk lists file under ``dst``.

    Parameters
    ----------
    dst : faiss.Index
        The trained empty IVF sub-index; its lists are replaced.
    files : list of str
        Shard files written by ``faiss.write_index``, in id order; read
        memory-mapped and merged in one pass (``merge_from_multiple``).
    lists_path : str or path-like
        The lists file to create.

    Returns
    -------
    str
        Absolute path of the lists file.
    """
    target = Path(lists_path).resolve()
    if target.exists():
        raise FileExistsError(f"ondisk path {os.fspath(lists_path)!r} exists; give a new file name")
    ivf = faiss.extract_index_ivf(dst)
    shards = [faiss.read_index(f, faiss.IO_FLAG_MMAP) for f in files]
    lists = faiss.OnDiskInvertedLists(ivf.nlist, ivf.code_size, str(target))
    ntotal = _merge_into_new(lists, [faiss.extract_index_ivf(s).invlists for s in shards])
    _replace_lists(ivf, lists)
    ivf.ntotal = dst.ntotal = ntotal
    del shards
    return str(target)


__all__ = [
    "HASH_BLOCK",
    "check_mergeable",
    "describe",
    "file_digest",
    "ivf_of",
    "lists_of",
    "merge_shard_files",
    "merge_shards",
    "read_sub",
    "to_ondisk",
]
