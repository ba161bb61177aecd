"""YAML configuration of a benchmark run.

Example (``bench/configs/default.yaml`` is the full default)::

    k: 10                  # neighbours per query
    runs: 3                # timing runs; the best mean counts
    threads: null          # batch threads (null: all cores)
    max_train: 100000      # subsample larger train sets (ground truth recomputed)
    max_queries: 1000      # use the first queries only
    datasets:
      - glove-6b-50-angular
      - {name: siftsmall-128-euclidean, optional: true}   # skipped when absent
    indexes:
      - spec: "RHT,SQ4"
      - spec: "HR,IVF{nlist},SQ8"
        query: {nprobe: [1, 4, 16]}
      - spec: "PQ{dsub // 2}x4fs"

Placeholders in braces are Python expressions over ``d`` (the dataset's
dimension), ``dsub`` (the dimension after the spec's transforms: the next
power of two for ``HR``, ``d`` for ``RR``, the transform's ``d_out`` for
``RHT``), ``n`` (train size) and ``nlist`` (a power of two near
``2 * sqrt(n)``). ``query`` maps parameter names to lists; every
combination is one run.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Folder of the shipped configs.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"


@dataclass
class IndexEntry:
    """One index spec of a config and its query-parameter sweep."""

    spec: str
    query: dict[str, list[Any]] = field(default_factory=dict)

    def sweep(self) -> list[dict[str, Any]]:
        """Every combination of the query parameters (``[{}]`` when none)."""
        if not self.query:
            return [{}]
        keys = list(self.query)
        return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*self.query.values())]


@dataclass
class DatasetEntry:
    """A dataset name or path; ``optional`` ones are skipped when unavailable."""

    name: str
    optional: bool = False


@dataclass
class Config:
    """A parsed benchmark configuration."""

    indexes: list[IndexEntry]
    datasets: list[DatasetEntry]
    k: int = 10
    runs: int = 3
    threads: int | None = None
    max_train: int | None = None
    max_queries: int | None = None
    backend: str = "rhtann"
    distortion_sample: int = 2000
    source: str = ""


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def parse(raw: dict[str, Any], source: str = "") -> Config:
    """Build a :class:`Config` from a parsed YAML mapping, checking every field."""
    if not isinstance(raw, dict):
        raise ValueError(f"config {source}: expected a mapping at the top level; got {type(raw).__name__}")
    known = {"k", "runs", "threads", "max_train", "max_queries", "datasets", "indexes",
             "backend", "distortion_sample"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"config {source}: unknown keys {unknown}; known: {sorted(known)}")
    indexes = []
    for i, item in enumerate(raw.get("indexes") or []):
        if isinstance(item, str):
            item = {"spec": item}
        if not isinstance(item, dict) or "spec" not in item:
            raise ValueError(f"config {source}: indexes[{i}] needs a 'spec'; got {item!r}")
        bad = sorted(set(item) - {"spec", "query"})
        if bad:
            raise ValueError(f"config {source}: indexes[{i}] has unknown keys {bad}")
        query = {str(key): _as_list(val) for key, val in (item.get("query") or {}).items()}
        indexes.append(IndexEntry(str(item["spec"]), query))
    if not indexes:
        raise ValueError(f"config {source}: 'indexes' must list at least one index spec")
    datasets = []
    for item in raw.get("datasets") or []:
        if isinstance(item, dict):
            datasets.append(DatasetEntry(str(item["name"]), bool(item.get("optional", False))))
        else:
            datasets.append(DatasetEntry(str(item)))

    def opt_int(key: str, low: int) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"config {source}: {key} must be an integer >= {low} or null; got {value!r}")
        return value

    cfg = Config(indexes=indexes, datasets=datasets, source=source)
    cfg.k = opt_int("k", 1) or 10
    cfg.runs = opt_int("runs", 1) or 3
    cfg.threads = opt_int("threads", 1)
    cfg.max_train = opt_int("max_train", 1)
    cfg.max_queries = opt_int("max_queries", 1)
    sample = opt_int("distortion_sample", 0)
    cfg.distortion_sample = 2000 if sample is None else sample
    cfg.backend = str(raw.get("backend", "rhtann"))
    if cfg.backend not in ("rhtann", "faiss"):
        raise ValueError(f"config {source}: backend must be 'rhtann' or 'faiss'; got {cfg.backend!r}")
    return cfg


def load(path: str | os.PathLike | None = None) -> Config:
    """Read a YAML config (the default one when ``path`` is None)."""
    import yaml

    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.exists():
        raise FileNotFoundError(f"config file {os.fspath(path)!r} does not exist")
    with open(path) as f:
        raw = yaml.safe_load(f)
    return parse(raw, os.fspath(path))


def default_nlist(n: int) -> int:
    """A power of two near ``2 * sqrt(n)``, at least 16 and at most n / 39."""
    target = 2.0 * math.sqrt(max(n, 1))
    nlist = 2 ** round(math.log2(target))
    # faiss warns below 39 training points per centroid
    while nlist > 16 and n / nlist < 39:
        nlist //= 2
    return max(16, nlist)


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def resolve_spec(spec: str, d: int, n: int) -> str:
    """Fill the ``{...}`` placeholders of ``spec`` for a dataset.

    Parameters
    ----------
    spec : str
        Spec with placeholders over ``d``, ``dsub``, ``n`` and ``nlist``.
    d, n : int
        Dimension and train size of the dataset.

    Returns
    -------
    str
    """
    if "{" not in spec:
        return spec
    names: dict[str, Any] = {"d": d, "n": n, "nlist": default_nlist(n)}
    if "dsub" in spec:
        from .indexes import sub_dimension

        names["dsub"] = sub_dimension(d, _PLACEHOLDER.sub("1", spec))

    def fill(match: re.Match) -> str:
        expr = match.group(1)
        try:
            value = eval(expr, {"__builtins__": {}}, dict(names))  # noqa: S307 - config author's own expression
        except Exception as exc:
            raise ValueError(f"cannot evaluate {{{expr}}} in spec {spec!r}: {exc}") from None
        return str(int(value))

    return _PLACEHOLDER.sub(fill, spec)
