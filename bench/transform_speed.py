"""Transform throughput: rhtann's RHT against faiss and numpy, side by side.

Every contender runs on the same float32 data with the same thread count, in
one process; each figure is the median of ``--repeats`` timed runs after one
warm-up run. Printed ratios are ``contender time / rhtann time`` (above 1:
rhtann is faster).

Sections
--------
1. rotation throughput for each d: rhtann at 1, 2 and 3 rounds, faiss
   ``HadamardRotation`` (3 rounds, HR), faiss ``RandomRotationMatrix`` (RR),
   a numpy dense matmul by an orthogonal matrix, and ``np.copyto`` into a
   preallocated output (the memory-bandwidth floor);
2. single-vector latency (n = 1) through the Python API;
3. the dimension-preserving layout against the padded one (when available);
4. end to end: ``rhtann.Index("RHT,SQ4")`` add and search against faiss
   ``"HR,SQ4"`` (when ``rhtann.Index`` is available).

Run from the repository root::

    python bench/transform_speed.py                 # N = 200,000 vectors
    python bench/transform_speed.py --n 20000 --dims 128 1024   # quick look

The dense contenders (RR, numpy) cost O(d^2) per vector; for d >= 2048 they
are timed on a subset of ``--dense-n`` rows, since their per-vector cost does
not depend on n at these sizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rhtann  # noqa: E402
from rhtann.layouts import LAYOUTS  # noqa: E402


def median_time(fn, repeats: int, *args) -> float:
    """Median wall time of ``fn(*args)`` over ``repeats`` runs after one warm-up."""
    fn(*args)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def set_threads(threads: int) -> None:
    rhtann.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # numpy's BLAS then uses its own default
        pass


def fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:8.3f}"


def throughput(dims, n, dense_n, repeats, rng, lines):
    lines.append("## Rotation throughput (M vectors/s; ratio = other time / rhtann time)\n")
    lines.append(
        "| d | d_out | RHT1 | RHT2 | RHT3 | faiss HR | faiss RR | numpy dense | copyto "
        "| RHT3 vs HR | RHT1 vs numpy | RHT1 vs RR | RHT3 / copyto |"
    )
    lines.append("|" + "---|" * 13)
    for d in dims:
        x = rng.standard_normal((n, d)).astype(np.float32)
        rht = [rhtann.RHT(d, rounds=r, seed=1) for r in (1, 2, 3)]
        t_rht = [median_time(r.apply, repeats, x) for r in rht]
        hr = faiss.HadamardRotation(d, 1)
        t_hr = median_time(hr.apply, repeats, x)
        nd = n if d < 2048 else min(n, dense_n)
        xd = x[:nd]
        rr = faiss.RandomRotationMatrix(d, d)
        rr.init(1)
        t_rr = median_time(rr.apply, repeats, xd) * n / nd
        q = np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32)
        qt = np.ascontiguousarray(q.T)
        t_np = median_time(np.matmul, repeats, xd, qt, np.empty((nd, d), np.float32)) * n / nd
        t_cp = median_time(np.copyto, repeats, np.empty_like(x), x)
        lines.append(
            f"| {d} | {rht[0].d_out} | {fmt_rate(n, t_rht[0])} | {fmt_rate(n, t_rht[1])} | "
            f"{fmt_rate(n, t_rht[2])} | {fmt_rate(n, t_hr)} | {fmt_rate(n, t_rr)} | "
            f"{fmt_rate(n, t_np)} | {fmt_rate(n, t_cp)} | {t_hr / t_rht[2]:.2f}x | "
            f"{t_np / t_rht[0]:.2f}x | {t_rr / t_rht[0]:.2f}x | {t_rht[2] / t_cp:.2f} |"
        )
        print(lines[-1], flush=True)


def per_call(fn, arg, reps: int) -> float:
    """Median over 5 runs of the mean time of ``fn(arg)`` in microseconds."""
    fn(arg)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn(arg)
        runs.append((time.perf_counter() - t0) / reps)
    return statistics.median(runs) * 1e6


def latency(dims, repeats, rng, lines):
    lines.append("\n## Single-vector latency (microseconds, n = 1, through the Python API)\n")
    lines.append("| d | RHT3 apply | faiss HR apply | RHT3 reverse |")
    lines.append("|---|---|---|---|")
    for d in dims:
        x = rng.standard_normal((1, d)).astype(np.float32)
        rht = rhtann.RHT(d, rounds=3, seed=1)
        y = rht.apply(x)
        hr = faiss.HadamardRotation(d, 1)
        reps = max(repeats, 200)

        lines.append(
            f"| {d} | {per_call(rht.apply, x, reps):.1f} | {per_call(hr.apply, x, reps):.1f} "
            f"| {per_call(rht.reverse_transform, y, reps):.1f} |"
        )
        print(lines[-1], flush=True)


def layouts(dims, n, repeats, rng, lines):
    if "keep" not in LAYOUTS:
        lines.append("\n(layout 'keep' not available: layout comparison skipped)")
        return
    lines.append("\n## Layouts, 3 rounds (M vectors/s)\n")
    lines.append("| d | pad d_out | pad | keep d_out | keep | keep / pad throughput |")
    lines.append("|---|---|---|---|---|---|")
    for d in dims:
        x = rng.standard_normal((n, d)).astype(np.float32)
        pad = rhtann.RHT(d, rounds=3, layout="pad")
        keep = rhtann.RHT(d, rounds=3, layout="keep")
        tp = median_time(pad.apply, repeats, x)
        tk = median_time(keep.apply, repeats, x)
        lines.append(
            f"| {d} | {pad.d_out} | {fmt_rate(n, tp)} | {keep.d_out} | {fmt_rate(n, tk)} "
            f"| {tp / tk:.2f} |"
        )
        print(lines[-1], flush=True)


def end_to_end(d, n, nq, repeats, rng, lines):
    if not hasattr(rhtann, "Index"):
        lines.append("\n(rhtann.Index not available: end-to-end comparison skipped)")
        return
    lines.append(f"\n## End to end at d = {d}: SQ4 add and search (n = {n}, {nq} queries)\n")
    xb = rng.standard_normal((n, d)).astype(np.float32)
    xq = rng.standard_normal((nq, d)).astype(np.float32)
    xt = xb[:20000]

    def build(kind):
        idx = rhtann.Index(d, "RHT,SQ4") if kind == "rhtann" else faiss.index_factory(d, "HR,SQ4")
        idx.train(xt)
        return idx

    def timed_add(kind):
        runs = []
        for _ in range(repeats + 1):
            idx = build(kind)
            t0 = time.perf_counter()
            idx.add(xb)
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs[1:]), idx

    t_mine, mine = timed_add("rhtann")
    t_theirs, theirs = timed_add("faiss")
    s_mine = median_time(mine.search, repeats, xq, 10)
    s_theirs = median_time(theirs.search, repeats, xq, 10)
    same = np.array_equal(mine.search(xq, 10)[1], theirs.search(xq, 10)[1])
    lines.append("| | rhtann RHT,SQ4 | faiss HR,SQ4 | ratio |")
    lines.append("|---|---|---|---|")
    lines.append(
        f"| add (M vectors/s) | {fmt_rate(n, t_mine)} | {fmt_rate(n, t_theirs)} "
        f"| {t_theirs / t_mine:.2f}x |"
    )
    lines.append(
        f"| search (QPS, batch of {nq}) | {nq / s_mine:,.0f} | {nq / s_theirs:,.0f} "
        f"| {s_theirs / s_mine:.2f}x |"
    )
    lines.append(f"\nidentical neighbours: {same}")
    print("\n".join(lines[-4:]), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="vectors per batch (default 200000)")
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 128, 768, 1024, 1536, 4096])
    ap.add_argument("--dense-n", type=int, default=20_000, help="rows for dense contenders at d>=2048")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    ap.add_argument("--threads", type=int, default=rhtann.get_num_threads())
    ap.add_argument("--skip", nargs="*", default=[], choices=["throughput", "latency", "layouts", "e2e"])
    ap.add_argument("--out", default="bench/results/transform_speed.md", help="Markdown output file")
    args = ap.parse_args(argv)

    set_threads(args.threads)
    rng = np.random.default_rng(0)
    lines = [
        "# rhtann transform speed",
        "",
        f"N = {args.n}, threads = {args.threads}, median of {args.repeats} runs; "
        f"CPU: {platform.processor() or platform.machine()} ({os.cpu_count()} logical cores); "
        f"rhtann {rhtann.__version__}, faiss {faiss.__version__}, numpy {np.__version__}",
        "",
    ]
    print("\n".join(lines), flush=True)
    if "throughput" not in args.skip:
        throughput(args.dims, args.n, args.dense_n, args.repeats, rng, lines)
    if "latency" not in args.skip:
        latency([d for d in (128, 1024) if d in args.dims] or args.dims[:1], args.repeats, rng, lines)
    if "layouts" not in args.skip:
        layouts([100, 768, 1536], args.n, args.repeats, rng, lines)
    if "e2e" not in args.skip:
        end_to_end(1024, args.n, 1000, args.repeats, rng, lines)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
