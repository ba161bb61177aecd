"""YAML configuration of a benchmark run.

Example (``bench/configs/default.yaml`` is the full default)::

    k: 10                  # neighbours per query
    runs: 3                # timing runs; the best mean counts
    threads: null          # batch threads (null: all cores)
    max_train: 100000      # subsample larger train sets (ground truth recomputed); 0: never
    max_queries: 1000      # use the first queries only; 0: all
    datasets:
      - glove-6b-50-angular
      - {name: siftsmall-128-euclidean, optional: true}   # skipped when absent
      - data/mine.hdf5                                    # a path: see below
    indexes:
      - spec: "RHT,SQ4"                                   # contender rhtann (the default)
      - spec: "HR,IVF{nlist},SQ8"
        query: {nprobe: [1, 4, 16]}
      - {contender: faiss, spec: "PQ{dsub // 2}x4fs"}
      - {contender: turbovec, build: {bit_width: [2, 4]}}
      - contender: rabitqlib
        build: {nlist: "{nlist}", bits: 4}
        query: {nprobe: [4, 16]}

Placeholders in braces are Python expressions over ``d`` (the dataset's
dimension), ``dsub`` (the dimension after the spec's transforms: the next
power of two for ``HR``, ``d`` for ``RR``, the transform's ``d_out`` for
``RHT``), ``n`` (train size) and ``nlist`` (a power of two near
``2 * sqrt(n)``); they may appear in specs and in build values. ``build``
and ``query`` map parameter names to a value or a list; every combination
of ``build`` values is one index, every combination of ``query`` values one
run of it.

A dataset given as a path (ending in ``.hdf5``/``.h5`` or containing a
``/``) is looked up relative to the current folder first and then relative
to the config file's folder.
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

#: Top-level keys of a config.
KEYS = ("k", "runs", "threads", "max_train", "max_queries", "datasets", "indexes", "backend",
        "distortion_sample")


class ConfigError(ValueError):
    """A config mistake; the message is one line naming the file and the key."""


def _product(params: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if not params:
        return [{}]
    keys = list(params)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*params.values())]


@dataclass
class IndexEntry:
    """One index of a config: a contender, its spec or build parameters, and a query sweep."""

    spec: str | None = None
    query: dict[str, list[Any]] = field(default_factory=dict)
    contender: str | None = None
    build: dict[str, list[Any]] = field(default_factory=dict)

    def sweep(self) -> list[dict[str, Any]]:
        """Every combination of the query parameters (``[{}]`` when none)."""
        return _product(self.query)

    def builds(self) -> list[dict[str, Any]]:
        """Every combination of the build parameters (``[{}]`` when none)."""
        return _product(self.build)


@dataclass
class DatasetEntry:
    """A dataset name or path; ``optional`` ones are skipped when unavailable.

    ``max_train`` / ``max_queries`` override the config's limits for this
    dataset (0: no limit; None: the config's). ``only`` restricts the
    indexes run on it to those whose spec template (as written in the
    config) or, for entries without a spec, whose contender name it lists.
    """

    name: str
    optional: bool = False
    max_train: int | None = None
    max_queries: int | None = None
    only: list[str] | None = None

    def runs_entry(self, entry: IndexEntry, contender: str) -> bool:
        """Whether an index entry runs on this dataset (``only`` lists specs or contender names)."""
        if self.only is None:
            return True
        return (entry.spec in self.only) if entry.spec else (contender in self.only)


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

    def contender_of(self, entry: IndexEntry) -> str:
        """The contender name of an entry (the config's backend rule when the entry names none)."""
        if entry.contender:
            return entry.contender
        if self.backend == "faiss" and entry.spec and not _has_rht(entry.spec):
            return "faiss"
        return "rhtann"


def _has_rht(spec: str) -> bool:
    from .specs import parse_spec

    try:
        return parse_spec(spec).has_rht
    except ValueError:
        return False


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def looks_like_path(text: str) -> bool:
    """Whether a dataset string names a file rather than a registry name."""
    return text.lower().endswith((".hdf5", ".h5")) or "/" in text or os.sep in text


def resolve_dataset_path(text: str, config_dir: Path | None) -> str:
    """A dataset path made absolute: the current folder first, then the config's folder."""
    path = Path(text).expanduser()
    if path.is_absolute():
        return os.fspath(path)
    here = Path.cwd() / path
    if here.exists() or config_dir is None:
        return os.fspath(here)
    there = config_dir / path
    return os.fspath(there if there.exists() else here)


def _params(value: Any, where: str) -> dict[str, list[Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of parameter names to values or lists; got {value!r}")
    out = {}
    for key, val in value.items():
        vals = _as_list(val)
        if not vals:
            raise ConfigError(f"{where}.{key} must not be an empty list")
        for v in vals:
            if not isinstance(v, (int, float, str, bool)):
                raise ConfigError(f"{where}.{key} values must be numbers, strings or booleans; got {v!r}")
        out[str(key)] = vals
    return out


def parse(raw: Any, source: str = "", config_dir: Path | None = None) -> Config:
    """Build a :class:`Config` from a parsed YAML mapping, checking every field.

    Raises
    ------
    ConfigError
        With a one-line message ``config SOURCE: KEY ...`` for the first mistake.
    """
    from . import contenders

    src = f"config {source}" if source else "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{src}: expected a mapping at the top level; got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(f"{src}: unknown keys {unknown}; known: {sorted(KEYS)}")
    items = raw.get("indexes")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{src}: 'indexes' must list at least one index (for example '- spec: RHT,SQ4')")
    indexes = []
    for i, item in enumerate(items):
        where = f"{src}: indexes[{i}]"
        if isinstance(item, str):
            item = {"spec": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a spec string or a mapping; got {item!r}")
        bad = sorted(set(item) - {"spec", "query", "contender", "build"})
        if bad:
            raise ConfigError(f"{where} has unknown keys {bad}; known: build, contender, query, spec")
        contender = item.get("contender")
        if contender is not None:
            try:
                contenders.get(str(contender))
            except ValueError as exc:
                raise ConfigError(f"{where}.contender: {exc}") from None
        spec = item.get("spec")
        if spec is not None and not isinstance(spec, str):
            raise ConfigError(f"{where}.spec must be a string; got {spec!r}")
        if spec is None and contender in (None, "rhtann", "faiss"):
            raise ConfigError(f"{where} needs a 'spec' (contender {contender or 'rhtann'} builds from one)")
        indexes.append(IndexEntry(spec, _params(item.get("query"), f"{where}.query"),
                                  None if contender is None else str(contender),
                                  _params(item.get("build"), f"{where}.build")))
    datasets = []
    raw_ds = raw.get("datasets") or []
    if not isinstance(raw_ds, list):
        raise ConfigError(f"{src}: 'datasets' must be a list of names or paths; got {raw_ds!r}")
    for i, item in enumerate(raw_ds):
        limits: dict[str, Any] = {}
        if isinstance(item, dict):
            bad = sorted(set(item) - {"name", "optional", "max_train", "max_queries", "only"})
            if "name" not in item or bad:
                raise ConfigError(
                    f"{src}: datasets[{i}] must be {{name: ..., optional: true|false, max_train: N, "
                    f"max_queries: N, only: [...]}}; got {item!r}")
            only = item.get("only")
            if only is not None:
                if not isinstance(only, list) or not all(isinstance(o, str) for o in only):
                    raise ConfigError(f"{src}: datasets[{i}].only must be a list of specs or contender "
                                      f"names; got {only!r}")
                known = {e.spec for e in indexes if e.spec} | {e.contender for e in indexes if e.contender}
                unknown = [o for o in only if o not in known]
                if unknown:
                    raise ConfigError(f"{src}: datasets[{i}].only names {unknown}, which no index of "
                                      "'indexes' has as its spec or contender")
                limits["only"] = list(only)
            name, optional = str(item["name"]), bool(item.get("optional", False))
            for key in ("max_train", "max_queries"):
                value = item.get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                    raise ConfigError(f"{src}: datasets[{i}].{key} must be an integer >= 0 (0: no limit); "
                                      f"got {value!r}")
                limits[key] = value
        elif isinstance(item, str):
            name, optional = item, False
        else:
            raise ConfigError(f"{src}: datasets[{i}] must be a name or a path; got {item!r}")
        if looks_like_path(name):
            name = resolve_dataset_path(name, config_dir)
        datasets.append(DatasetEntry(name, optional, **limits))

    def opt_int(key: str, low: int, zero_means_none: bool = False) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero_means_none else low):
            also = " (0: no limit)" if zero_means_none else ""
            raise ConfigError(f"{src}: {key} must be an integer >= {low}{also} or null; got {value!r}")
        return None if zero_means_none and value == 0 else value

    cfg = Config(indexes=indexes, datasets=datasets, source=source)
    cfg.k = opt_int("k", 1) or 10
    cfg.runs = opt_int("runs", 1) or 3
    cfg.threads = opt_int("threads", 1)
    cfg.max_train = opt_int("max_train", 1, zero_means_none=True)
    cfg.max_queries = opt_int("max_queries", 1, zero_means_none=True)
    sample = opt_int("distortion_sample", 0)
    cfg.distortion_sample = 2000 if sample is None else sample
    cfg.backend = str(raw.get("backend", "rhtann"))
    if cfg.backend not in ("rhtann", "faiss"):
        raise ConfigError(f"{src}: backend must be 'rhtann' or 'faiss'; got {cfg.backend!r}")
    return cfg


def load(path: str | os.PathLike | None = None) -> Config:
    """Read a YAML config (the default one when ``path`` is None).

    A relative ``path`` is relative to the current folder.

    Raises
    ------
    ConfigError
        When the file is missing, is not valid YAML, or has a mistake.
    """
    import yaml

    path = Path(path).expanduser().absolute() if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"config file {os.fspath(path)!r} does not exist")
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"config {os.fspath(path)}: not valid YAML{at}: {problem}") from None
    return parse(raw, os.fspath(path), path.parent)


def default_nlist(n: int) -> int:
    """A power of two near ``2 * sqrt(n)``, at least 16 and at most n / 39."""
    target = 2.0 * math.sqrt(max(n, 1))
    nlist = 2 ** round(math.log2(target))
    # faiss warns below 39 training points per centroid
    while nlist > 16 and n / nlist < 39:
        nlist //= 2
    return max(16, nlist)


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _names(d: int, n: int, spec: str | None) -> dict[str, Any]:
    names: dict[str, Any] = {"d": d, "n": n, "nlist": default_nlist(n)}
    if spec and "dsub" in spec:
        from .specs import sub_dimension

        names["dsub"] = sub_dimension(d, _PLACEHOLDER.sub("1", spec))
    return names


def _fill(text: str, names: dict[str, Any], what: str) -> str:
    def fill(match: re.Match) -> str:
        expr = match.group(1)
        try:
            value = eval(expr, {"__builtins__": {}}, dict(names))  # noqa: S307 - config author's own expression
        except Exception as exc:
            raise ValueError(f"cannot evaluate {{{expr}}} in {what}: {exc}") from None
        return str(int(value))

    return _PLACEHOLDER.sub(fill, text)


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
    return _fill(spec, _names(d, n, spec), f"spec {spec!r}")


def resolve_build(params: dict[str, Any], d: int, n: int) -> dict[str, Any]:
    """Build parameters with string placeholders (``"{nlist}"``) replaced by integers."""
    out = {}
    for key, value in params.items():
        if isinstance(value, str) and "{" in value:
            value = int(_fill(value, _names(d, n, None), f"build parameter {key}={value!r}"))
        out[key] = value
    return out
