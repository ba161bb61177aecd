"""Paired single-thread QPS: rhtann codec specs against turbovec, rabitqlib and faiss, interleaved.

The harness times each index once, minutes apart; on a shared machine the
load changes between them. This study builds a few contenders of the
harness (:mod:`bench.contenders`) on one dataset and times them in turns, in
one process on one thread, ``--repeats`` rounds, reporting medians of
process CPU time: batch QPS (all queries in one call) and single-query QPS
(``--single`` calls of one query). Recall@10 is by ids against exact search
(inner product for angular sets, L2 otherwise).

Run::

    python -m bench.studies.paired_qps --dataset glove [--out bench/results/paired_qps.md]
    python -m bench.studies.paired_qps --dataset patches --out bench/results/paired_qps_patches.md
    python -m bench.studies.paired_qps --dataset sift --out bench/results/paired_qps_sift.md
"""

from __future__ import annotations

import os

for _var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from bench.studies import sample as S  # noqa: E402
from bench.studies.headline import _isa  # noqa: E402

K = 10
#: Per study: dataset name, base vectors, queries, and the systems as
#: (contender, spec, build parameters, query parameters).
STUDIES: dict[str, dict[str, Any]] = {
    "glove": {
        "dataset": "glove-6b-50-angular", "n_base": 100_000, "n_query": 1_000,
        "systems": [
            ("rhtann", "RHT2keep,Center,TQ4r40h", {}, {"k_factor": 2}),
            ("rhtann", "RHT2keep,Center,TQ4r40h", {}, {"k_factor": 4}),
            ("rhtann", "RHT2keep,TQ4r40h", {}, {"k_factor": 2}),
            ("turbovec", None, {"bit_width": 4}, {}),
            ("rhtann", "RHT2keep,Center,TQ2r24h", {}, {"k_factor": 4}),
            ("rhtann", "RHT2keep,Center,TQ2r24h", {}, {"k_factor": 3}),
            ("turbovec", None, {"bit_width": 2}, {}),
            ("faiss", "RR64,PQ64x4fs", {}, {}),
            ("faiss", "RR72,PQ36x4fs", {}, {}),
        ],
    },
    "patches": {
        "dataset": "sklearn-patches-768-euclidean", "n_base": 20_000, "n_query": 100,
        "systems": [
            ("rhtann", "RHT2keep,Center,TQ4", {}, {"k_factor": 4}),
            ("rhtann", "RHT2keep,Center,TQ4", {}, {"k_factor": 8}),
            ("rhtann", "RHT2keep,Center,TQ4", {}, {"k_factor": 16}),
            ("rhtann", "RHT2keep,TQ4", {}, {"k_factor": 8}),
            ("rabitqlib", None, {"nlist": 1, "bits": 4}, {}),
            ("faiss", "PQ768x4fs", {}, {}),
            ("faiss", "PQ384x4fs", {}, {}),
        ],
    },
    "sift": {
        "dataset": "siftsmall-128-euclidean", "n_base": 10_000, "n_query": 100,
        "systems": [
            ("rhtann", "RHT3,Center,E8Q4", {}, {}),
            ("rhtann", "RHT3,E8Q4", {}, {}),
            ("rhtann", "RHT2keep,Center,TQ4", {}, {"k_factor": 2}),
            ("rhtann", "RHT2keep,Center,TQ4", {}, {"k_factor": 8}),
            ("rhtann", "RHT2keep,Center,TQ4r128", {}, {"k_factor": 2}),
            ("rhtann", "RHT1,Center,DTQ4", {}, {}),
            ("rabitqlib", None, {"nlist": 1, "bits": 4}, {}),
            ("faiss", "PQ128x4fs", {}, {}),
        ],
    },
}


def main(argv: list[str] | None = None) -> None:
    import faiss

    import rhtann
    from bench import contenders

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=sorted(STUDIES), default="glove")
    ap.add_argument("--out", default=None, help="default: bench/results/paired_qps[_<dataset>].md")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--single", type=int, default=200)
    args = ap.parse_args(argv)
    study = STUDIES[args.dataset]
    out = args.out or ("bench/results/paired_qps.md" if args.dataset == "glove"
                       else f"bench/results/paired_qps_{args.dataset}.md")
    rhtann.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    xb, xq, metric = S.sample(study["dataset"], study["n_base"], study["n_query"])
    truth = S.truth(xb, xq, metric, K)
    systems: dict[str, tuple[Any, float]] = {}
    for name, spec, build, query in study["systems"]:
        c = contenders.get(name)(xb.shape[1], metric, spec, **build)
        c.set_threads(1)
        c.warm_up(xb)
        c.fit(xb)
        c.set_query_arguments(**query)
        label = c.label if c.label.startswith(name) else f"{name} {c.label}"
        label += f" {query}" if query else ""
        systems[label] = (c, float(c.bytes_per_vector))
    recall = {label: S.recall(c.batch_query(xq, K), truth) for label, (c, _) in systems.items()}
    rows = {label: {"batch": [], "single": []} for label in systems}
    n_single = min(args.single, len(xq))
    for _ in range(args.repeats):
        for label, (c, _) in systems.items():
            t0 = time.process_time()
            c.batch_query(xq, K)
            rows[label]["batch"].append(len(xq) / (time.process_time() - t0))
            t0 = time.process_time()
            for i in range(n_single):
                c.query(xq[i], K)
            rows[label]["single"].append(n_single / (time.process_time() - t0))
    from bench.runner import cpu_name, environment

    env = environment(1)
    lines = [
        f"# Paired single-thread QPS on {study['dataset']}",
        "",
        f"Generated by `python -m bench.studies.paired_qps --dataset {args.dataset}`. "
        f"{len(xb):,} base vectors (seeded sample), {len(xq):,} queries, metric {metric}, recall@10 by "
        f"ids against exact search. One thread; QPS of process CPU time, median of {args.repeats} "
        f"interleaved rounds; batch = all queries in one call, single = {n_single} calls of one query. "
        f"CPU: {cpu_name()}; {_isa()}. turbovec {env.get('turbovec')}, rabitqlib {env.get('rabitqlib')}, "
        f"faiss {env.get('faiss')}.",
        "",
        "| system | bytes/vector | recall@10 | QPS batch | QPS single |",
        "|---|---|---|---|---|",
    ]
    for label, (_, size) in systems.items():
        batch, single = np.median(rows[label]["batch"]), np.median(rows[label]["single"])
        lines.append(f"| {label} | {size:.1f} | {recall[label]:.4f} | {batch:,.0f} | {single:,.0f} |")
    Path(out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
