"""Flat 4-bit fast-scan search: rhtann's CodecFlat against faiss ``PQ{M}x4fs`` at about equal bytes.

One process, one thread, process CPU time. Every system is built once; then
``--repeats`` rounds time, in turns, a batch search (all queries in one
call) and ``--single`` one-query calls, and the table reports the medians
as queries per second, with recall@10 by ids against exact search (inner
product of normalized vectors for angular sets, L2 otherwise).

``--baseline PATH`` also imports the ``rhtann`` package of another checkout
(``PATH/rhtann``, e.g. a copy of ``main``) under the name ``rhtann_base``
and times its indexes in the same rounds, so old and new kernels are
compared side by side.

Run::

    python -m bench.studies.scan_kernels [--baseline /path/to/main] [--out bench/results/scan_kernels.md]
"""

from __future__ import annotations

import os

for _var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from bench.studies import sample as S  # noqa: E402
from bench.studies.headline import _isa  # noqa: E402

K = 10
#: Per dataset: name, base vectors, queries, rhtann specs with their k_factor, faiss factory strings.
SETS: dict[str, dict[str, Any]] = {
    "sift": {
        "dataset": "siftsmall-128-euclidean", "n_base": 10_000, "n_query": 100,
        "rhtann": [("RHT2keep,Center,TQ4", 8)],
        "faiss": ["PQ128x4fs", "PQ64x4fs"],
    },
    "glove": {
        "dataset": "glove-6b-50-angular", "n_base": 100_000, "n_query": 1_000,
        "rhtann": [("RHT2keep,Center,TQ4", 4), ("RHT2keep,Center,TQ2", 4)],
        "faiss": ["RR64,PQ64x4fs", "RR72,PQ36x4fs"],
    },
    "patches": {
        "dataset": "sklearn-patches-768-euclidean", "n_base": 20_000, "n_query": 100,
        "rhtann": [("RHT2keep,Center,TQ4", 4)],
        "faiss": ["PQ768x4fs"],
    },
}


def _data(name: str, n_base: int, n_query: int) -> tuple[np.ndarray, np.ndarray, str]:
    from rhtann.data import load

    ds = load(name, progress=False)
    xb = np.ascontiguousarray(ds.train[:n_base], np.float32)
    xq = np.ascontiguousarray(ds.test[:n_query], np.float32)
    return xb, xq, ds.metric


def _normalized(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), np.float32)


def _commit(path: str) -> str:
    """The short commit id of checkout ``path``, or ``"unknown"`` when it is not a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def _import_baseline(path: str) -> Any:
    """The ``rhtann`` package of checkout ``path``, imported as ``rhtann_base``."""
    src = Path(path).resolve() / "rhtann"
    if not (src / "__init__.py").is_file():
        raise SystemExit(f"--baseline: expected a checkout with rhtann/__init__.py, got {path!r}")
    tmp = Path(tempfile.mkdtemp(prefix="scan_kernels_"))
    (tmp / "rhtann_base").symlink_to(src, target_is_directory=True)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("rhtann_base")


def _rhtann_system(pkg: Any, spec: str, kf: int, xb: np.ndarray, metric: str) -> tuple[Callable, float]:
    index = pkg.Index(xb.shape[1], spec, "cosine" if metric == "cosine" else "l2")
    index.train(xb)
    index.add(xb)
    index.search(xb[:8], K, k_factor=kf)  # compile
    return (lambda q: index.search(q, K, k_factor=kf)[1]), float(index.bytes_per_vector)


def _faiss_system(spec: str, xb: np.ndarray, metric: str) -> tuple[Callable, float]:
    import faiss

    cos = metric == "cosine"
    index = faiss.index_factory(xb.shape[1], spec, faiss.METRIC_INNER_PRODUCT if cos else faiss.METRIC_L2)
    base = _normalized(xb) if cos else xb
    index.train(base)
    index.add(base)

    def search(q: np.ndarray) -> np.ndarray:
        return index.search(_normalized(q) if cos else q, K)[1]

    return search, float(index.sa_code_size())


def _study(key: str, base_pkg: Any, repeats: int, n_single: int) -> list[str]:
    import rhtann

    cfg = SETS[key]
    xb, xq, metric = _data(cfg["dataset"], cfg["n_base"], cfg["n_query"])
    truth = S.truth(xb, xq, metric, K)
    systems: dict[str, tuple[Callable, float]] = {}
    for spec, kf in cfg["rhtann"]:
        systems[f"rhtann {spec} k_factor={kf}"] = _rhtann_system(rhtann, spec, kf, xb, metric)
        if base_pkg is not None:
            systems[f"baseline {spec} k_factor={kf}"] = _rhtann_system(base_pkg, spec, kf, xb, metric)
    for spec in cfg["faiss"]:
        systems[f"faiss {spec}"] = _faiss_system(spec, xb, metric)
    recall = {label: S.recall(f(xq), truth) for label, (f, _) in systems.items()}
    times: dict[str, dict[str, list[float]]] = {label: {"batch": [], "single": []} for label in systems}
    singles = [xq[i : i + 1] for i in range(min(n_single, len(xq)))]
    for _ in range(repeats):
        for label, (f, _) in systems.items():
            t0 = time.process_time()
            f(xq)
            times[label]["batch"].append(len(xq) / (time.process_time() - t0))
            t0 = time.process_time()
            for q in singles:
                f(q)
            times[label]["single"].append(len(singles) / (time.process_time() - t0))
    lines = [
        f"### {cfg['dataset']}: {len(xb):,} base vectors, {len(xq):,} queries, metric {metric}",
        "",
        "| system | bytes/vector | recall@10 | QPS batch | QPS single |",
        "|---|---|---|---|---|",
    ]
    for label, (_, size) in systems.items():
        b, s = np.median(times[label]["batch"]), np.median(times[label]["single"])
        lines.append(f"| {label} | {size:.1f} | {recall[label]:.4f} | {b:,.0f} | {s:,.0f} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> None:
    import faiss

    import rhtann

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="sift,glove,patches",
                    help="comma-separated subset of: " + ", ".join(SETS))
    ap.add_argument("--baseline", default=None, help="checkout whose rhtann package is timed alongside")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--single", type=int, default=100, help="one-query calls per round")
    ap.add_argument("--out", default="bench/results/scan_kernels.md")
    args = ap.parse_args(argv)
    keys = [k for k in args.sets.split(",") if k]
    bad = [k for k in keys if k not in SETS]
    if bad:
        raise SystemExit(f"--sets: unknown {bad}; expected a subset of {sorted(SETS)}")
    if args.repeats < 1 or args.single < 1:
        raise SystemExit("--repeats and --single must be at least 1")
    base_pkg = _import_baseline(args.baseline) if args.baseline else None
    rhtann.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    if base_pkg is not None:
        base_pkg.set_num_threads(1)
    load0 = os.getloadavg()
    body: list[str] = []
    for key in keys:
        body += _study(key, base_pkg, args.repeats, args.single)
    load1 = os.getloadavg()
    with open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    head = [
        "# Flat fast scan: rhtann CodecFlat against faiss PQ fast scan",
        "",
        "Generated by `python -m bench.studies.scan_kernels"
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + f" --repeats {args.repeats} --single {args.single}`. One thread, process CPU time, medians of "
        f"{args.repeats} interleaved rounds; batch = all queries in one call, single = {args.single} "
        "calls of one query. `baseline` rows: the rhtann package of the checkout given to --baseline"
        + (f" (commit {_commit(args.baseline)})" if args.baseline else "")
        + ", in the same process and rounds.",
        "",
        f"CPU: {cpu}, {_isa()}; load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end; "
        f"numpy {np.__version__}, faiss {faiss.__version__}.",
        "",
    ]
    text = "\n".join(head + body)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
