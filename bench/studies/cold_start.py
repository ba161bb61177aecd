"""Cold start: ``import rhtann`` and the first ``apply`` of a new process, warm numba cache.

Each run is a fresh ``python`` process that times ``import rhtann`` and
then the first ``RHT(d, layout=...).apply`` of ``--rows`` float32 rows (the
kernels load from numba's on-disk cache; the first process of a fresh
install compiles them instead, and this script warms the cache first so
that it measures the cached case). The figures are medians over
``--runs`` processes, with the smallest and largest shown beside them.

Run from the repository root::

    python -m bench.studies.cold_start [--runs 7] [--out bench/results/cold_start.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from bench.studies.transform_speed import instruction_set

CHILD = """
import json, time
t0 = time.perf_counter()
import rhtann
t1 = time.perf_counter()
import numpy as np
x = np.random.default_rng(0).random(({rows}, {d}), dtype=np.float32)
rht = rhtann.RHT({d}, layout={layout!r})
t2 = time.perf_counter()
rht.apply(x)
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "apply": t3 - t2}}))
"""


def run_child(d: int, layout: str, rows: int) -> dict[str, float]:
    """Time one fresh process (see :data:`CHILD`)."""
    code = CHILD.format(d=d, layout=layout, rows=rows)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per case (default 7)")
    ap.add_argument("--rows", type=int, default=1000, help="rows of the first apply (default 1000)")
    ap.add_argument("--out", default="bench/results/cold_start.md", help="Markdown output file")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.rows < 1:
        ap.error(f"--runs and --rows must be >= 1; got {args.runs} and {args.rows}")
    cases = [(1024, "pad"), (768, "keep"), (100, "keep")]
    lines = [
        "# Cold start: import and first apply in a new process (warm numba cache)",
        "",
        f"CPU: {platform.processor() or platform.machine()} ({os.cpu_count()} logical cores); "
        f"instruction set detected: {instruction_set()}; load average at start: "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}.",
        "",
        "Command: `python -m bench.studies.cold_start "
        + " ".join(sys.argv[1:] if argv is None else argv) + "`",
        "",
        f"Median over {args.runs} fresh processes (smallest - largest); the first apply is of "
        f"{args.rows} float32 rows. Targets: import at most 1 s, first apply at most 0.5 s.",
        "",
        "| case | import rhtann (s) | first apply (s) |",
        "|---|---|---|",
    ]
    for d, layout in cases:
        run_child(d, layout, args.rows)  # fills the cache for this case
        got = [run_child(d, layout, args.rows) for _ in range(args.runs)]
        cells = []
        for key in ("import", "apply"):
            vals = [g[key] for g in got]
            cells.append(f"{statistics.median(vals):.3f} ({min(vals):.3f} - {max(vals):.3f})")
        lines.append(f"| `RHT({d}, layout={layout!r})` | {cells[0]} | {cells[1]} |")
        print(lines[-1], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
