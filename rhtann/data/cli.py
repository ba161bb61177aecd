"""Command line of ``python -m rhtann.data``."""

from __future__ import annotations

import argparse
import os
import sys

from .dataset import DISTANCES, GT_COUNT
from .download import DownloadError, download_dataset
from .hdf5 import write_hdf5
from .loader import convert, load
from .paths import ENV_VAR, cached_path, default_root
from .registry import BUILDERS, REGISTRY


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m rhtann.data``; returns the exit status."""
    root_help = f"dataset folder (default: ${ENV_VAR} or ~/.cache/rhtann/datasets; now {default_root()})"
    parser = argparse.ArgumentParser(prog="python -m rhtann.data", description="ann-benchmarks HDF5 datasets")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="raw vectors (+ queries) -> HDF5 with ground truth")
    p.add_argument("base", help=".fvecs, .bvecs or .npy file of base vectors")
    p.add_argument("--queries", help="query vectors; default: split off the base")
    p.add_argument("--distance", choices=DISTANCES, required=True)
    p.add_argument("--out", required=True, help="output .hdf5 file")
    p.add_argument("--n-test", type=int, default=10_000, help="queries to split off")
    p.add_argument("--seed", type=int, default=1, help="seed of the query split")
    p.add_argument("--k", type=int, default=GT_COUNT, help="ground-truth neighbours")

    p = sub.add_parser("build", help="build a named dataset into the dataset folder")
    p.add_argument("name", choices=sorted(BUILDERS))
    p.add_argument("--root", help=root_help)

    p = sub.add_parser("download", help="download an ann-benchmarks file by name")
    p.add_argument("name")
    p.add_argument("--root", help=root_help)
    p.add_argument("--url", help="URL instead of https://ann-benchmarks.com/{name}.hdf5")
    p.add_argument("--sha256", help="expected SHA-256 of the file")

    p = sub.add_parser("info", help="describe a dataset (name or .hdf5 path)")
    p.add_argument("name")
    p.add_argument("--root", help=root_help)

    p = sub.add_parser("list", help="list the registry: buildable and downloadable names")
    p.add_argument("--root", help=root_help)

    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            ds = convert(args.base, args.out, args.distance, queries=args.queries,
                         n_test=args.n_test, seed=args.seed, k=args.k)
            print(f"wrote {args.out}: {ds!r}")
        elif args.command == "build":
            ds = BUILDERS[args.name]()
            out = write_hdf5(cached_path(args.name, args.root), ds)
            print(f"wrote {out}: {ds!r}")
        elif args.command == "download":
            out = download_dataset(args.name, root=args.root, url=args.url, sha256=args.sha256)
            print(f"downloaded {out}")
        elif args.command == "info":
            ds = load(args.name, root=args.root)
            print(repr(ds))
            for key, value in ds.attrs.items():
                print(f"  {key}: {value}")
        else:
            folder = default_root() if args.root is None else args.root
            print(f"dataset folder: {os.fspath(folder)} (set ${ENV_VAR} to change it)")
            for entry in REGISTRY.values():
                cached = "cached" if cached_path(entry.name, folder).exists() else ""
                print(f"  {entry.name:32s} {entry.kind:8s} d={entry.d:<4d} n={entry.n:<9,d} "
                      f"{entry.distance:9s} {cached:6s} {entry.source}")
    except (DownloadError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
