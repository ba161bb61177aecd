"""Add throughput: per-vector adaptive rounds against fixed 3 rounds.

Data: Gaussian vectors (which pass the moment check after one round) mixed
with a fraction of sparse worst cases (one-hot and 4-coordinate indicators,
which need two), from ``rhtann.synthetic``. For each index spec it trains
once, then times ``add`` of the whole set into fresh copies of the trained
index, ``--repeats`` times, interleaving the variants, and reports medians,
vectors per second and the ratio to fixed 3 rounds, plus the share of the
time spent in rhtann's rotation (``Index.stats["transform_s"]``) and
recall@1 against brute force (queries: stored vectors plus 5% noise).

Run from the repository root::

    python bench/studies/adaptive_speed.py [--n 50000] [--d 1024] [--sparse 0.1] [--threads 1]

Writes ``bench/results/adaptive_speed.md``.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import rhtann  # noqa: E402
from rhtann import synthetic  # noqa: E402

VARIANTS = [
    ("fixed 3 rounds", "RHT,{code}", False),
    ("fixed 2 rounds", "RHT2,{code}", False),
    ("fixed 1 round", "RHT1,{code}", False),
    ("adaptive", "RHT,{code}", True),
]


def make_data(n: int, d: int, sparse: float, seed: int) -> np.ndarray:
    n_sparse = int(round(n * sparse))
    parts = [synthetic.gaussian(n - n_sparse, d, seed=seed)]
    if n_sparse:
        parts.append(synthetic.one_hot(n_sparse // 2, d, seed=seed + 1))
        parts.append(synthetic.indicator(n_sparse - n_sparse // 2, d, 4, seed=seed + 2))
    x = np.vstack(parts).astype(np.float32)
    return x[np.random.default_rng(seed).permutation(len(x))]


def fresh_copy(index: rhtann.Index) -> rhtann.Index:
    """A trained, empty copy (faiss sub-indexes cloned through serialization)."""
    out = copy.copy(index)
    out.stats = {k: 0.0 for k in index.stats}
    out._subs = [faiss.deserialize_index(faiss.serialize_index(s)) for s in index._subs]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--d", type=int, default=1024)
    ap.add_argument("--sparse", type=float, default=0.1, help="fraction of sparse rows")
    ap.add_argument("--code", default="SQ4", help="faiss code after the rotation")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--chunk-size", type=int, default=None, help="Index chunk_size (rows)")
    ap.add_argument(
        "--threads", type=int, default=1, help="1 keeps CPU time comparable on a shared machine"
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "adaptive_speed.md"))
    args = ap.parse_args(argv)
    rhtann.set_num_threads(args.threads)
    x = make_data(args.n, args.d, args.sparse, seed=1)
    # queries: stored vectors plus 5% noise, so that the true neighbours are meaningful
    rng = np.random.default_rng(2)
    rows = rng.choice(len(x), 200, replace=False)
    xq = x[rows] + 0.05 * np.linalg.norm(x[rows], axis=1, keepdims=True) / np.sqrt(args.d) * (
        rng.standard_normal((200, args.d)).astype(np.float32)
    )
    xq = xq.astype(np.float32)
    gt = faiss.knn(xq, x, 1)[1]
    trained = {}
    for name, spec, adaptive in VARIANTS:
        kw = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
        index = rhtann.Index(args.d, spec.format(code=args.code), adaptive=adaptive, **kw)
        index.train(x[: min(len(x), 10000)])
        warm = fresh_copy(index)
        warm.add(x[:1000])  # compile and warm up outside the timing
        trained[name] = index
    times: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    shares: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    recall: dict[str, float] = {}
    for rep in range(args.repeats):
        order = VARIANTS[rep % len(VARIANTS) :] + VARIANTS[: rep % len(VARIANTS)]
        for name, _, _ in order:
            index = fresh_copy(trained[name])
            c0 = time.process_time()
            t0 = time.perf_counter()
            index.add(x)
            dt = time.perf_counter() - t0
            cpu[name].append(time.process_time() - c0)
            times[name].append(dt)
            shares[name].append(index.stats["transform_s"] / dt)
            recall[name] = float(np.mean(index.search(xq, 1)[1][:, 0] == gt[:, 0]))
    counts = trained["adaptive"].rht.apply_adaptive(x)[1]
    base = float(np.median(times["fixed 3 rounds"]))
    base_cpu = float(np.median(cpu["fixed 3 rounds"]))
    lines = [
        "# Add throughput: adaptive rounds vs fixed rounds",
        "",
        f"Command: `python bench/studies/adaptive_speed.py --n {args.n} --d {args.d} --sparse {args.sparse} "
        f"--code {args.code} --repeats {args.repeats} --threads {args.threads}"
        + ("" if args.chunk_size is None else f" --chunk-size {args.chunk_size}")
        + "`; "
        f"{platform.machine()}, {args.threads} threads, faiss {faiss.__version__}.",
        "",
        f"Data: {args.n} x {args.d} float32, {100 * (1 - args.sparse):.0f}% Gaussian rows, "
        f"{100 * args.sparse:.0f}% sparse rows (one-hot and 4-coordinate indicators). "
        f"The moment check gives {100 * np.mean(counts == 1):.1f}% of the rows 1 round and "
        f"{100 * np.mean(counts == 2):.1f}% 2 rounds. Median of {args.repeats} adds into "
        "fresh trained indexes, variants interleaved (order rotated every repeat); "
        "wall-clock and CPU time (process time, "
        "which other processes sharing the machine do not inflate). recall@1: share of 200 "
        "queries (stored vectors plus 5% Gaussian noise) whose exact nearest neighbour comes "
        "first.",
        "",
        "| index | add wall (s) | wall speed vs 3 rounds | add CPU (s) | CPU speed vs 3 rounds "
        "| M vectors/s (CPU) | rotation share | recall@1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, spec, adaptive in VARIANTS:
        med = float(np.median(times[name]))
        mc = float(np.median(cpu[name]))
        label = spec.format(code=args.code) + (" adaptive=True" if adaptive else "")
        lines.append(
            f"| {name} (`{label}`) | {med:.3f} | {base / med:.2f}x | {mc:.3f} | "
            f"{base_cpu / mc:.2f}x | {args.n / mc / 1e6:.2f} | "
            f"{100 * float(np.median(shares[name])):.0f}% | {recall[name]:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
