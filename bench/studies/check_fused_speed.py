"""Cost of the round check fused into the first round, against one round.

The padded kernel can accumulate each row's ``sum x^2`` and ``sum x^4`` while
it loads the rows for the first round (``RHT.apply_adaptive`` does this);
the standalone statistic (:func:`rhtann.moments.kappa`) reads the rows once
more. Both are reported as CPU time relative to one round on the same rows,
1 thread, median over interleaved repeats, for a batch streamed from memory
(64 MiB) and one that fits in cache (512 KiB).

Run from the repository root::

    python bench/studies/check_fused_speed.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rhtann  # noqa: E402
from bench.studies.transform_speed import paired_times, write_report  # noqa: E402
from rhtann.moments import kappa  # noqa: E402


def row(d: int, batch_bytes: int, repeats: int) -> str:
    n = max(16, batch_bytes // (4 * d))
    x = np.random.default_rng(d).standard_normal((n, d)).astype(np.float32)
    rht = rhtann.RHT(d, rounds=1)
    layout = rht._layout
    out = np.empty((n, rht.d_out), np.float32)
    sums = np.zeros((2, n), np.float32)
    inner = max(1, (64 * 2**20) // batch_bytes // 8)  # repeat small batches for timer resolution

    def plain():
        for _ in range(inner):
            layout.forward(x, rht.signs, 1, out=out)

    def fused():
        for _ in range(inner):
            sums.fill(0.0)
            layout.forward(x, rht.signs, 1, out=out, moments=sums)

    def alone():
        for _ in range(inner):
            kappa(x, rht.d_out)

    t = paired_times({"plain": plain, "fused": fused, "alone": alone}, repeats, time.process_time)
    extra = float(np.median((t["fused"] - t["plain"]) / t["plain"]))
    standalone = float(np.median(t["alone"] / t["plain"]))
    ns = float(np.median(t["plain"])) / (inner * n) * 1e9
    return f"| {d} | {batch_bytes >> 10} KiB | {n} | {ns:.0f} | {extra:+.3f} | {standalone:.3f} |"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 256, 1024, 4096])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", default="bench/results/check_fused.md")
    args = ap.parse_args(argv)
    rhtann.set_num_threads(1)
    lines = [
        "# The round check fused into the first round",
        "",
        "CPU time relative to one round on the same float32 rows, 1 thread, median of "
        f"{args.repeats} interleaved repeats. 'fused extra': what accumulating the sums inside "
        "the round adds; 'standalone': a separate `rhtann.moments.kappa` pass.",
        "",
        "| d | batch | rows | one round (ns/row) | fused extra / round | standalone / round |",
        "|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for batch in (64 * 2**20, 512 * 2**10):
        for d in args.dims:
            lines.append(row(d, batch, args.repeats))
            print(lines[-1], flush=True)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
