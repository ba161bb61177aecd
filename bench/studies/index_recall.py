"""SIFT10K recall@10 with and without a rotation, at equal bytes per vector.

For each quantizer (SQ4, SQ8, PQ16, PQ32, RaBitQ, RaBitQ4, EDEN4) it builds:

* ``none``: the plain faiss index;
* ``RHT`` / ``RHT2`` / ``RHT1``: ``rhtann.Index`` with 3, 2 and 1 padded rounds;
* ``RHTauto``: rounds chosen from the training data by the moment check;
* ``faiss HR``: ``faiss.index_factory(d, "HR<seed>,<key>")``;
* ``faiss RR``: ``IndexPreTransform(RandomRotationMatrix(d, d).init(seed), <key>)``;

over several rotation seeds, and reports the mean recall@10 (10-NN
intersection with the official ground truth) and its standard deviation
over seeds. SIFT has d = 128, a power of two, so every variant stores the
same bytes per vector (printed in the table).

Run from the repository root::

    python bench/studies/index_recall.py [--seeds 5] [--threads 2]

It prints a Markdown table and writes it to ``bench/results/index_recall.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from faiss.contrib.evaluation import knn_intersection_measure
from faiss.contrib.vecs_io import fvecs_read, ivecs_read

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import rhtann  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "siftsmall"
KEYS = ["SQ4", "SQ8", "RaBitQ", "RaBitQ4", "EDEN4", "PQ16", "PQ32"]
K = 10


def build(variant: str, key: str, d: int, seed: int):
    """Return (object with train/add/search, bytes per vector)."""
    if variant == "none":
        idx = faiss.index_factory(d, key)
        return idx, idx
    if variant.startswith("RHT"):
        idx = rhtann.Index(d, f"{variant},{key}", seed=seed)
        return idx, idx
    if variant == "faiss HR":
        idx = faiss.index_factory(d, f"HR{seed},{key}")
        return idx, idx
    if variant == "faiss RR":
        rr = faiss.RandomRotationMatrix(d, d)
        rr.init(seed)
        sub = faiss.index_factory(d, key)
        idx = faiss.IndexPreTransform(rr, sub)
        return idx, idx
    raise ValueError(variant)


def bytes_of(idx) -> int:
    if isinstance(idx, rhtann.Index):
        return idx.bytes_per_vector
    return rhtann.index.code_bytes(idx)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8, help="rotation seeds per variant")
    ap.add_argument(
        "--pq-seeds", type=int, default=3, help="seeds for PQ keys (k-means training is slow)"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keys", default=",".join(KEYS), help="comma-separated faiss code keys")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "index_recall.md"))
    args = ap.parse_args(argv)
    if not (DATA / "siftsmall_base.fvecs").exists():
        print(f"SIFT10K not found under {DATA}", file=sys.stderr)
        return 1
    rhtann.set_num_threads(args.threads)
    xb = fvecs_read(str(DATA / "siftsmall_base.fvecs"))
    xq = fvecs_read(str(DATA / "siftsmall_query.fvecs"))
    gt = ivecs_read(str(DATA / "siftsmall_groundtruth.ivecs"))[:, :K]
    d = xb.shape[1]
    seeds = [1000 + 7919 * i for i in range(args.seeds)]
    variants = ["none", "RHT", "RHT2", "RHT1", "RHTauto", "faiss HR", "faiss RR"]
    keys = [k for k in args.keys.split(",") if k]
    rows = []
    t_start = time.perf_counter()
    for key in keys:
        for variant in variants:
            recalls = []
            nbytes = None
            n_seeds = args.pq_seeds if key.startswith("PQ") else args.seeds
            for seed in seeds[: 1 if variant == "none" else n_seeds]:
                obj, _ = build(variant, key, d, seed)
                obj.train(xb)
                obj.add(xb)
                _, I = obj.search(xq, K)  # noqa: E741
                recalls.append(knn_intersection_measure(I, gt))
                nbytes = bytes_of(obj)
            r = np.array(recalls)
            rows.append((key, variant, nbytes, r.mean(), r.std(ddof=1) if r.size > 1 else 0.0, r.size))
            print(f"{key:8s} {variant:9s} {nbytes:4d} B  {r.mean():.3f} +- {rows[-1][4]:.3f}", flush=True)
        write_table(args, rows, variants, keys, time.perf_counter() - t_start)
    return 0


def write_table(args, rows, variants, keys, elapsed) -> None:
    """Write the Markdown table of the keys finished so far and print it."""
    lines = [
        "# SIFT10K recall@10: rotation vs none, at equal bytes per vector",
        "",
        f"Command: `python bench/studies/index_recall.py --seeds {args.seeds} --pq-seeds {args.pq_seeds} "
        f"--threads {args.threads}`; "
        f"faiss {faiss.__version__}, numpy {np.__version__}, {platform.machine()}, "
        f"{args.threads} threads, {elapsed:.0f} s.",
        "",
        "recall@10 = |top-10 ∩ true top-10| / 10 over the 100 queries (official ground truth), "
        f"mean ± standard deviation over {args.seeds} rotation seeds ({args.pq_seeds} for PQ, "
        "whose k-means training dominates the run time) "
        "(`none` is deterministic: one run). `RHT`, `RHT2`, `RHT1`: rhtann.Index with 3, 2, 1 "
        "padded rounds; `RHTauto`: rounds chosen at train by the moment check (target "
        "'scalar' for SQ, RaBitQ, EDEN: 1 or 2 rounds; 'vq' for PQ: 2 or 3); "
        "`faiss HR`: `HR<seed>,<key>`; `faiss RR`: dense random rotation. "
        "`RHT` and `faiss HR` with the same seed are the same transform, so their columns agree.",
        "",
        "| code | bytes/vec | " + " | ".join(variants) + " |",
        "|---|---|" + "---|" * len(variants),
    ]
    done = [key for key in keys if sum(1 for r in rows if r[0] == key) == len(variants)]
    for key in done:
        cells = {v: (b, m, s) for (k, v, b, m, s, _) in rows if k == key}
        b = cells["none"][0]
        line = f"| {key} | {b} |"
        for v in variants:
            _, m, s = cells[v]
            line += f" {m:.3f} |" if v == "none" else f" {m:.3f} ± {s:.3f} |"
        lines.append(line)
        if any(cells[v][0] != b for v in variants):
            lines.append(f"<!-- bytes differ for {key}: {[cells[v][0] for v in variants]} -->")
    text = "\n".join(lines) + "\n"
    print()
    print(text, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
