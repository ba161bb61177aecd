"""Rebuilding an :class:`rhtann.Index` from a file's parameters and blobs, cross-checking every part.

Nothing in a file is trusted: each parameter is rebuilt through the public
constructors (which check types, ranges and the spec limits), the stored
transform must be the one the spec, ``d`` and seed give, the levels must be
the ones the (adaptive or fixed) class uses, the blob set must be exactly
the expected one, and each faiss sub-index must have the stored dimension,
size and metric. Sub-indexes are streamed from the file into faiss one at a
time (:class:`rhtann.io.BlobRef`).
"""

from __future__ import annotations

import os
from typing import Any

from .. import io
from ..transform import RHT
from . import faiss_glue as glue
from . import ondisk

#: Keys of :attr:`rhtann.Index.stats` kept from a file.
STAT_KEYS = ("transform_s", "train_s", "add_s", "search_s", "search_transform_s")


def meta_of(index: Any) -> dict:
    """The JSON parameters :meth:`rhtann.Index.save` writes."""
    return {
        "d": index.d,
        "spec": index.spec.text,
        "metric": index.metric,
        "seed": index.seed,
        "chunk_size": index._chunk_arg,
        "adaptive": index.adaptive,
        "target": index.target,
        "rht": None if index.rht is None else index.rht._state(),
        "levels": list(index._levels),
        "sub_d": [int(s.d) for s in index._subs],
        "ntotal": [int(s.ntotal) for s in index._subs],
        "stats": dict(index.stats),
        "train_report": index.train_report_,
    }


def from_meta(index_cls: type, meta: dict, blobs: dict, where: str, path: str | os.PathLike) -> Any:
    """Rebuild an Index (``index_cls`` is :class:`rhtann.Index`) from a file's ``meta`` and ``blobs``.

    Raises
    ------
    rhtann.FormatError
        Naming ``where`` and the part that disagrees; other errors of
        :data:`rhtann.io.STATE_ERRORS` may come from the constructors and
        are turned into FormatError by the caller.
    """
    try:
        obj = index_cls(
            meta["d"],
            meta["spec"],
            meta["metric"],
            seed=meta["seed"],
            chunk_size=meta["chunk_size"],
            adaptive=meta["adaptive"],
            target=meta["target"],
        )
        report = meta.get("train_report")
        no_rotation = (  # RHTauto before a trained quantizer may choose 0 rounds
            meta["rht"] is None
            and obj.rht is not None
            and obj.spec.rounds == "auto"
            and isinstance(report, dict)
            and report.get("n_rounds") == 0
        )
        if no_rotation:
            obj.rht = None
        if (meta["rht"] is None) != (obj.rht is None):
            raise ValueError("the stored transform disagrees with the spec's RHT token")
        if meta["rht"] is not None:
            rht = RHT._from_state(meta["rht"])
            built = obj.rht.get_params()
            if isinstance(report, dict) and report.get("method") == "heldout_distortion":
                built["rounds"] = report.get("n_rounds")  # RHTauto fixed its count by held-out error
            if rht.get_params() != built:
                raise ValueError(
                    f"the stored transform {rht.get_params()} is not the one "
                    f"spec, d and seed give ({built})"
                )
            obj.rht = rht
        levels = _int_list(meta["levels"], "levels")
        sub_d = _int_list(meta["sub_d"], "sub_d")
        ntotal = _int_list(meta["ntotal"], "ntotal")
        if not isinstance(meta["stats"], dict):
            raise TypeError("stats must be a dict")
        stats = {str(k): float(v) for k, v in meta["stats"].items() if k in STAT_KEYS}
        report = meta.get("train_report")
        if report is not None and not isinstance(report, dict):
            raise ValueError(f"train_report must be a dict or null; got {type(report).__name__}")
    except io.STATE_ERRORS as exc:
        raise io.FormatError(f"{where}: invalid Index parameters ({type(exc).__name__}: {exc})") from None
    if obj.rht is not None and blobs.get("signs") != obj.rht.signs_.tobytes():
        raise io.FormatError(f"{where}: stored sign vectors differ from the ones the seed generates")
    if len(levels) != len(sub_d) or len(levels) != len(ntotal):
        raise io.FormatError(f"{where}: inconsistent sub-index lists")
    trained_rht = obj.rht is None or obj.rht.is_trained
    expected = obj._level_list() if trained_rht else []
    if levels != expected:
        raise io.FormatError(
            f"{where}: stored levels {levels} do not match the "
            f"{'adaptive' if obj.adaptive else 'fixed'} index's {expected}"
        )
    names = {f"sub{i}" for i in range(len(levels))} | ({"signs"} if obj.rht is not None else set())
    if set(blobs) != names:
        raise io.FormatError(f"{where}: expected the blobs {sorted(names)}; found {sorted(blobs)}")
    subs = []
    for i, (dd, nt) in enumerate(zip(sub_d, ntotal, strict=True)):
        blob = blobs.get(f"sub{i}")
        if blob is None:
            raise io.FormatError(f"{where}: sub-index {i} is missing")
        if dd != obj.d_out:
            raise io.FormatError(f"{where}: sub-index {i} has d={dd}; expected d={obj.d_out}")
        try:
            if meta.get("ondisk") is not None:  # a small sub-index over an external lists file
                raw = blob.read_all() if isinstance(blob, io.BlobRef) else blob
                sub, obj._ondisk = ondisk.read_sub(meta["ondisk"], raw, path, obj.d_out, nt, obj.metric)
            else:
                sub = glue.read_index_checked(blob, obj.d_out, nt, obj.metric, f"sub-index {i}")
        except ValueError as exc:
            raise io.FormatError(f"{where}: {exc}") from None
        blobs[f"sub{i}"] = blob = None  # drop the bytes once faiss holds the index
        if obj.adaptive and not glue.supports_ids(sub):
            raise io.FormatError(f"{where}: sub-index {i} of an adaptive index must store ids")
        if nt and not sub.is_trained:
            raise io.FormatError(f"{where}: sub-index {i} holds {nt} vectors but is not trained")
        subs.append(sub)
    obj._subs = subs
    obj._levels = levels
    obj.stats.update(stats)
    obj.train_report_ = report
    return obj


def _int_list(value: object, name: str) -> list[int]:
    """A stored list of plain ints (no bools, floats or strings)."""
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{name} must be a list of integers")
    return list(value)


__all__ = ["STAT_KEYS", "from_meta", "meta_of"]
