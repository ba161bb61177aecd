"""Cost of the moment check against one randomized Hadamard round.

For each dimension ``d``, on the same float32 Gaussian batch, the script
times side by side in one process:

* ``RHT(d, rounds=1).apply`` (one round, the unit of cost);
* ``rhtann.moments.kappa`` (the statistic the round check uses: one pass,
  ``sum x^2`` and ``sum x^4`` in float64 plus the NaN/infinity check);
* ``rhtann.moment_stats`` (all four statistics: rho4, kappa, rho3, peak);
* ``rhtann.choose_rounds`` (the whole check with its input validation).

Each figure is the median of ``--repeats`` samples after one untimed warm-up
(numba compilation excluded); a sample repeats the call for about 20 ms.
Per-call overhead (argument checks, output allocation) is part of the cost.
CPU time of the process (``time.process_time``) is used, not wall time: the
benchmark machine is shared, and CPU time is what the kernels consume
whatever the other load is. Threads default to 1 so the
ratios compare kernels, not thread scheduling; ``--threads`` changes that.

Run from the repository root::

    python bench/studies/moments_speed.py
    python bench/studies/moments_speed.py --dims 128 1024 --rows-x-d 1048576 --threads 2
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rhtann  # noqa: E402
from rhtann import moments  # noqa: E402


def median_cpu(repeats: int, fn, *args, **kwargs) -> float:
    """Median CPU seconds of one ``fn(*args, **kwargs)`` call.

    After a warm-up, each of the ``repeats`` samples times enough calls in a
    row to last about 20 ms and divides by their number.
    """
    fn(*args, **kwargs)
    t0 = time.process_time()
    fn(*args, **kwargs)
    inner = max(1, int(0.02 / max(time.process_time() - t0, 1e-6)))
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(inner):
            fn(*args, **kwargs)
        times.append((time.process_time() - t0) / inner)
    return statistics.median(times)


def run(dims: list[int], rows_x_d: int, repeats: int, threads: int) -> list[dict]:
    rhtann.set_num_threads(threads)
    out = []
    for d in dims:
        n = max(64, rows_x_d // d)
        x = np.random.default_rng(d).standard_normal((n, d), dtype=np.float32)
        rht = rhtann.RHT(d, rounds=1, seed=1)
        t_round = median_cpu(repeats, rht.apply, x)
        t_kappa = median_cpu(repeats, moments.kappa, x, rht.d_out)
        t_stats = median_cpu(repeats, rhtann.moment_stats, x, rht.d_out)
        t_check = median_cpu(repeats, rhtann.choose_rounds, x, rht=rht)
        out.append(
            {
                "d": d,
                "n": n,
                "round_ns_per_row": 1e9 * t_round / n,
                "kappa": t_kappa / t_round,
                "stats": t_stats / t_round,
                "check": t_check / t_round,
            }
        )
    return out


def table(results: list[dict]) -> str:
    lines = [
        "| d | rows | one round (ns/row) | kappa / round | all stats / round "
        "| choose_rounds / round |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['d']} | {r['n']} | {r['round_ns_per_row']:.0f} | {r['kappa']:.3f} "
            f"| {r['stats']:.3f} | {r['check']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 256, 1024, 4096])
    ap.add_argument(
        "--rows-x-d",
        type=int,
        nargs="+",
        default=[2**17, 2**24],
        help="rows * d per batch; the default pair is a batch that stays in cache "
        "(512 KiB) and one that streams from memory (64 MiB)",
    )
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = ap.parse_args(argv)
    parts = []
    for size in args.rows_x_d:
        results = run(args.dims, size, args.repeats, args.threads)
        parts.append(
            f"Batch of {size * 4 // 1024} KiB (float32): CPU time relative to one RHT round "
            f"({args.threads} thread(s), {platform.processor() or platform.machine()}, "
            f"median of {args.repeats}):\n\n" + table(results)
        )
    text = "\n\n".join(parts)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
