"""Command line of the harness: ``python -m bench [options]``.

Runs every index spec of a YAML config on each dataset, writes one JSON file
per run, ``results.csv``, ``summary.md`` and two PNGs per dataset into the
output folder (``results/`` by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="recall@k against time and bytes for rhtann and faiss indexes",
    )
    p.add_argument("--dataset", action="append", metavar="NAME_OR_PATH",
                   help="dataset name (glove-6b-50-angular, siftsmall-128-euclidean, "
                        "sift-128-euclidean...) or an ann-benchmarks .hdf5 path; repeatable "
                        "(default: the config's datasets)")
    p.add_argument("--config", help="YAML config (default bench/configs/default.yaml)")
    p.add_argument("--k", type=int, help="neighbours per query (default from the config: 10)")
    p.add_argument("--runs", type=int, help="timing runs, best counts (default: the config's, 2)")
    p.add_argument("--threads", type=int, help="threads for build and batch search "
                                               "(default: all cores)")
    p.add_argument("--out", default="results", help="output folder (default results/)")
    p.add_argument("--max-train", type=int, help="subsample train sets above this size "
                                                 "(0: never; config default)")
    p.add_argument("--max-queries", type=int, help="use at most this many queries "
                                                   "(0: all; config default)")
    p.add_argument("--download", action="store_true",
                   help="download ann-benchmarks datasets given by name when missing")
    p.add_argument("--datasets-dir", default=str(REPO / "datasets"),
                   help="where datasets are built and cached (default datasets/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--replot", action="store_true",
                   help="run nothing: rebuild results.csv, summary.md and the plots from the "
                        "JSON files already in --out")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rhtann import data

    from . import config as config_mod
    from . import runner

    if args.replot:
        results = runner.load_results(args.out)
        if not results:
            print(f"error: no run JSON files under {args.out}", file=sys.stderr)
            return 1
        return _report(results, Path(args.out), time.perf_counter())
    cfg = config_mod.load(args.config)
    if args.k is not None:
        cfg.k = args.k
    if args.runs is not None:
        cfg.runs = args.runs
    if args.threads is not None:
        cfg.threads = args.threads
    if args.max_train is not None:
        cfg.max_train = args.max_train or None
    if args.max_queries is not None:
        cfg.max_queries = args.max_queries or None
    if args.dataset:
        cfg.datasets = [config_mod.DatasetEntry(name) for name in args.dataset]
    if not cfg.datasets:
        print("error: no dataset given (use --dataset or the config's datasets)", file=sys.stderr)
        return 2
    threads = cfg.threads or runner.default_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    t_start = time.perf_counter()
    print(f"config {cfg.source}: {len(cfg.indexes)} index specs, k={cfg.k}, runs={cfg.runs}, "
          f"threads={threads} (single-thread QPS uses 1)")
    all_results = []
    for entry in cfg.datasets:
        try:
            ds = data.load(entry.name, root=args.datasets_dir, download=args.download,
                           progress=progress)
        except (FileNotFoundError, ImportError) as exc:
            if entry.optional:
                print(f"skipping optional dataset {entry.name}: {exc}")
                continue
            print(f"error: {exc}", file=sys.stderr)
            return 2
        full = repr(ds)
        ds = ds.subsample(cfg.max_train, cfg.max_queries, seed=0, progress=progress)
        print(f"dataset {full}")
        if ds.attrs.get("subsampled"):
            print(f"  subsampled to fit the time budget: {ds.attrs['subsampled']}")
        if ds.neighbors.shape[1] < cfg.k:
            print(f"error: {ds.name} has {ds.neighbors.shape[1]} true neighbours per query; "
                  f"k={cfg.k} is too large", file=sys.stderr)
            return 2
        all_results += runner.run_dataset(ds, cfg, out, threads, progress=progress)
    if not all_results:
        print("error: no run produced a result", file=sys.stderr)
        return 1
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


if __name__ == "__main__":
    sys.exit(main())
