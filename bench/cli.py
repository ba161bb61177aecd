"""Command line of the harness: ``rhtann-bench``, ``python -m bench`` or ``bash bench/run.sh``.

Runs every index of a YAML config on each dataset, writes one JSON file per
run, ``results.csv``, ``summary.md`` and two PNGs per dataset into the
output folder (``results/`` under the current folder by default). Every
relative path (``--config``, ``--dataset``, ``--out``, ``--datasets-dir``)
is relative to the folder the command was started from.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rhtann-bench",
        description="recall@k against time and bytes for rhtann, faiss and peer libraries "
                    "(also: python -m bench, bash bench/run.sh)",
    )
    p.add_argument("--dataset", action="append", metavar="NAME_OR_PATH",
                   help="dataset name (glove-6b-50-angular, sklearn-patches-768-euclidean, "
                        "sift-128-euclidean...) or an ann-benchmarks .hdf5 path; repeatable "
                        "(default: the config's datasets)")
    p.add_argument("--config", help="YAML config (default: the shipped configs/default.yaml)")
    p.add_argument("--k", type=int, help="neighbours per query (default from the config: 10)")
    p.add_argument("--runs", type=int, help="timing runs, best counts (default: the config's)")
    p.add_argument("--threads", type=int, help="threads for build and batch search (default: all cores)")
    p.add_argument("--out", default="results", help="output folder (default: results/ here)")
    p.add_argument("--max-train", type=int, help="subsample train sets above this size (0: never; "
                                                 "default: the config's)")
    p.add_argument("--max-queries", type=int, help="use at most this many queries (0: all; "
                                                   "default: the config's)")
    p.add_argument("--download", action="store_true",
                   help="download ann-benchmarks datasets given by name when missing")
    p.add_argument("--datasets-dir", help="where datasets are built and cached (default: $RHTANN_DATA "
                                          "or ~/.cache/rhtann/datasets)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--replot", action="store_true",
                   help="run nothing: rebuild results.csv, summary.md and the plots from the "
                        "JSON files already in --out")
    p.add_argument("--list-contenders", action="store_true",
                   help="list the contenders and whether each can run here, then exit")
    return p.parse_args(argv)


def _error(msg: str, code: int = 2) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """The main job; returns the exit status."""
    args = parse_args(argv)
    from . import config as config_mod
    from . import contenders, runner

    if args.list_contenders:
        print("contender  runs here  what")
        for line in contenders.describe():
            print(line)
        return 0
    out = Path(args.out).expanduser().absolute()
    if args.replot:
        results = runner.load_results(out)
        if not results:
            return _error(f"no run JSON files under {out}", 1)
        return _report(results, out, time.perf_counter())
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        return _error(str(exc))
    for key in ("k", "runs", "threads"):
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                return _error(f"--{key} must be >= 1; got {value}")
            setattr(cfg, key, value)
    for key in ("max_train", "max_queries"):
        value = getattr(args, key)
        if value is not None:
            if value < 0:
                return _error(f"--{key.replace('_', '-')} must be >= 0 (0: no limit); got {value}")
            setattr(cfg, key, value or None)
            for entry in cfg.datasets:  # the command line wins over per-dataset limits
                setattr(entry, key, None)
    if args.dataset:
        cfg.datasets = [
            config_mod.DatasetEntry(os.fspath(Path(name).expanduser().absolute())
                                    if config_mod.looks_like_path(name) else name)
            for name in args.dataset
        ]
    if not cfg.datasets:
        return _error("no dataset given (use --dataset or the config's datasets)")
    from rhtann import data

    root = Path(args.datasets_dir).expanduser().absolute() if args.datasets_dir else data.default_root()
    threads = cfg.threads or runner.default_threads()
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    t_start = time.perf_counter()
    n_builds = sum(len(e.builds()) for e in cfg.indexes)
    print(f"config {cfg.source}: {n_builds} indexes, k={cfg.k}, runs={cfg.runs}, threads={threads} "
          f"(single-thread QPS uses 1); datasets cached in {root}")
    for name in sorted({cfg.contender_of(e) for e in cfg.indexes}):
        ok, note = contenders.get(name).available()
        if not ok:
            print(f"note: contender {name} is skipped: {note}")
    all_results = []
    for entry in cfg.datasets:
        try:
            ds = data.load(entry.name, root=root, download=args.download, progress=progress)
        except (FileNotFoundError, ImportError, ValueError) as exc:
            if entry.optional:
                print(f"skipping optional dataset {entry.name}: {exc}")
                continue
            return _error(str(exc))
        full = repr(ds)
        max_train = cfg.max_train if entry.max_train is None else entry.max_train or None
        max_queries = cfg.max_queries if entry.max_queries is None else entry.max_queries or None
        ds = ds.subsample(max_train, max_queries, seed=0, progress=progress)
        print(f"dataset {full}")
        if ds.attrs.get("subsampled"):
            print(f"  subsampled to fit the time budget: {ds.attrs['subsampled']}")
        if ds.neighbors.shape[1] < cfg.k:
            return _error(f"{ds.name} has {ds.neighbors.shape[1]} true neighbours per query; "
                          f"k={cfg.k} is too large")
        all_results += runner.run_dataset(ds, cfg, out, threads, progress=progress, entry=entry)
    if not all_results:
        return _error("no run produced a result", 1)
    # the CSV and the pictures cover this invocation's runs
    return _report(all_results, out, t_start)


def _report(all_results: list[dict], out: Path, t_start: float) -> int:
    from . import plots, runner

    csv_path = runner.write_csv(all_results, out / "results.csv")
    written = plots.write_report(all_results, out)
    print()
    print((out / "summary.md").read_text())
    print(f"{len(all_results)} runs, {time.perf_counter() - t_start:.0f} s")
    print(f"results: {out}/<dataset>/<k>/*.json, {csv_path}, {out / 'summary.md'}")
    for name, paths in written.items():
        if name != "summary":
            print(f"plots for {name}: " + ", ".join(str(p) for p in paths))
    return 0


def console() -> None:
    """Entry point of the ``rhtann-bench`` console command."""
    sys.exit(main())
