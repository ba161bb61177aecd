"""Fast-scan table precision: recall@10 and single-thread QPS of two rhtann versions, interleaved.

The 4-bit fast scan ranks candidates by an integer sum of uint8 table
entries and re-scores the best ``k * k_factor`` exactly. This study runs the
same index specs through the working tree's ``rhtann`` and through a
baseline checkout of the package (imported under the name ``rhtann_base``)
in one process on one thread: recall@10 by ids against exact search at
each ``k_factor``, the exact-score reference ``method="gemm"``, and QPS of
process CPU time (median of ``--repeats`` interleaved rounds; batch = all
queries in one call, single = ``--single`` calls of one query).

Run::

    mkdir -p /tmp/scanbase && git archive <baseline commit> rhtann | tar -x -C /tmp/scanbase
    python -m bench.studies.scan_precision --baseline /tmp/scanbase --before-name <commit> \\
        [--out bench/results/scan_precision.md]
"""

from __future__ import annotations

import os
import tempfile

# two copies of the package in one process: numba names the gufuncs of parallel loops by an
# in-process hash, so code loaded from disk caches written by different processes can share
# symbol names and call each other's bodies; compile everything afresh in this process
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="scan_precision_numba_")

for _var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from bench.studies import sample as S  # noqa: E402
from bench.studies.headline import _isa  # noqa: E402

K = 10
KF = (2, 4, 8)
#: (dataset, base vectors, queries, metric, specs)
CASES: list[tuple[str, int, int, str, list[str]]] = [
    ("sklearn-patches-768-euclidean", 20_000, 100, "l2", ["RHT2keep,Center,TQ4"]),
    ("glove-6b-50-angular", 100_000, 1_000, "cosine", ["RHT2keep,TQ4r40h", "RHT2keep,TQ2r24h"]),
]


def _load_baseline(root: str) -> ModuleType:
    """The package ``root/rhtann`` imported as ``rhtann_base`` (its imports are relative)."""
    pkg = Path(root) / "rhtann"
    spec = importlib.util.spec_from_file_location(
        "rhtann_base", pkg / "__init__.py", submodule_search_locations=[str(pkg)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"--baseline: no package at {pkg}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["rhtann_base"] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> None:
    import faiss

    import rhtann

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="checkout whose rhtann/ is the 'before' version")
    ap.add_argument("--before-name", default="the baseline checkout", help="what 'before' is (a commit)")
    ap.add_argument("--out", default="bench/results/scan_precision.md")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--single", type=int, default=100)
    args = ap.parse_args(argv)
    base = _load_baseline(args.baseline)
    versions: dict[str, Any] = {"before": base, "after": rhtann}
    for mod in versions.values():
        mod.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    load0 = os.getloadavg()
    lines_rec: list[str] = []
    lines_qps: list[str] = []
    for name, n_base, n_query, metric, specs in CASES:
        xb, xq, _ = S.sample(name, n_base, n_query)
        truth = S.truth(xb, xq, metric, K)
        n_single = min(args.single, len(xq))
        for spec in specs:
            idx = {}
            for tag, mod in versions.items():
                ix = mod.Index(xb.shape[1], spec, metric)
                ix.train(xb)
                ix.add(xb)
                ix.search(xq[:4], K)  # compile
                idx[tag] = ix
            exact = S.recall(idx["after"].search(xq, K, method="gemm")[1], truth)
            rec = {(tag, kf): S.recall(ix.search(xq, K, k_factor=kf)[1], truth)
                   for tag, ix in idx.items() for kf in KF}
            times: dict[tuple[str, int, str], list[float]] = {}
            for _ in range(args.repeats):
                for kf in KF:
                    for tag, ix in idx.items():
                        t0 = time.process_time()
                        ix.search(xq, K, k_factor=kf)
                        dt = time.process_time() - t0
                        times.setdefault((tag, kf, "batch"), []).append(len(xq) / dt)
                        t0 = time.process_time()
                        for i in range(n_single):
                            ix.search(xq[i : i + 1], K, k_factor=kf)
                        dt = time.process_time() - t0
                        times.setdefault((tag, kf, "single"), []).append(n_single / dt)
            label = f"{name.split('-')[0]} {spec}"
            lines_rec.append(
                f"| {label} | {exact:.3f} | "
                + " | ".join(f"{rec[('before', kf)]:.3f} / {rec[('after', kf)]:.3f}" for kf in KF) + " |"
            )
            for kf in KF:
                med = {key: float(np.median(v)) for key, v in times.items() if key[1] == kf}
                b_b, b_a = med[("before", kf, "batch")], med[("after", kf, "batch")]
                s_b, s_a = med[("before", kf, "single")], med[("after", kf, "single")]
                lines_qps.append(
                    f"| {label} | {kf} | {b_b:,.0f} | {b_a:,.0f} | {b_a / b_b:.2f} | "
                    f"{s_b:,.0f} | {s_a:,.0f} | {s_a / s_b:.2f} |"
                )
            print(lines_rec[-1], *lines_qps[-len(KF):], sep="\n", flush=True)
    load1 = os.getloadavg()
    cmd = f"python -m bench.studies.scan_precision --baseline <checkout of {args.before_name}>"
    lines = [
        "# Fast-scan table precision: before / after",
        "",
        f"Generated by `{cmd}` (repeats {args.repeats}, single {args.single}). Datasets sampled with "
        "`np.random.default_rng(0)`; recall@10 by ids against exact search (inner product of "
        "normalized vectors for cosine). One thread; QPS of process CPU time, median of "
        f"{args.repeats} interleaved rounds; batch = all queries in one call, single = one query per call. "
        f"CPU: {platform.processor() or platform.machine()}; {_isa()}. Load average at start "
        f"{load0[0]:.2f}, at end {load1[0]:.2f} (shared machine).",
        "",
        "## Recall@10",
        "",
        f"Before = {args.before_name} (7-bit tables, byte sums); after = this working tree. "
        "`exact` = every code scored exactly (`method=\"gemm\"`); other columns before / after, by k_factor.",
        "",
        "| set, spec | exact | " + " | ".join(f"k_factor {kf}" for kf in KF) + " |",
        "|---|---|" + "---|" * len(KF),
        *lines_rec,
        "",
        "## Queries per second (one thread)",
        "",
        "| set, spec | k_factor | batch before | batch after | ratio "
        "| single before | single after | ratio |",
        "|---|---|---|---|---|---|---|---|",
        *lines_qps,
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
