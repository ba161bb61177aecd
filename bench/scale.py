"""Scale benchmark: out-of-core add_from with peak RSS, and the Dask build's throughput and recall.

Stand-alone script on rhtann's public API (``rhtann.Index``, ``rhtann.distributed``)::

    python bench/scale.py --n 1000000 --big-n 10000000 --out bench/results/scale.md

Steps, each written to the results file:

1. Synthetic data: a seeded mixture of Gaussian clusters in 128-d, written to
   HDF5 files in the ann-benchmarks layout (``train``, ``test``) in chunks
   (the generator never holds more than one chunk).
2. Peak RSS of ``Index.add_from(path)``, one fresh subprocess per
   measurement: the child trains (``train_from``, 20000 rows), resets its
   peak resident set (``/proc/self/clear_refs``), adds the whole file and
   reports ``VmHWM - VmRSS before the add`` against the bytes the index
   stores (codes; plus 8-byte ids for IVF). Target: growth <= stored codes +
   200 MiB for 1M x 128 float32.
3. Add-phase throughput of :func:`rhtann.distributed.build` on a
   ``LocalCluster`` of 1 and then 2 worker processes (1 thread each),
   reading the HDF5 path; medians of repeats after a warm-up build.
   Target: 2 workers >= 1.6x one when two cores are free (the load average
   during the run is reported: this machine is shared).
4. recall@10 of the distributed build (2 workers) and of a single-process
   build, same spec (``RHT,IVF256,SQ8``), ``train_rows=20000``, same seed,
   against exact neighbours; target: within 0.01.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

D = 128
CHUNK = 100_000
MiB = 2**20
TRAIN_ROWS = 20_000
DIST_SPEC = "RHT,IVF256,SQ8"
RSS_SPECS = ("RHT,SQ8", "RHT,IVF256,SQ8")
CODEC_SPECS = (
    "RHT,SQ8",
    "RHT,SQ6",
    "RHT,SQ4",
    "RHT,PQ64",
    "RHT,PQ32",
    "RHT,PQ16",
    "RHT,IVF65536,SQ8",
    "RHT,IVF65536,SQ4",
    "RHT,IVF65536,PQ32",
    "RHT,IVF65536,PQ16",
)


# ----------------------------------------------------------------------
# data
# ----------------------------------------------------------------------


def make_hdf5(path: Path, n: int, n_test: int = 1000, clusters: int = 1000, seed: int = 0) -> float:
    """Write ``n`` train and ``n_test`` test rows of a seeded cluster mixture; returns seconds."""
    if path.exists():
        with h5py.File(path, "r") as f:
            if f["train"].shape == (n, D):
                return 0.0
        path.unlink()
    t0 = time.perf_counter()
    root = np.random.default_rng(seed)
    centers = (root.standard_normal((clusters, D)) * 2.0).astype(np.float32)
    seeds = np.random.SeedSequence(seed).spawn(n // CHUNK + 2)
    tmp = path.with_suffix(".tmp.h5")
    with h5py.File(tmp, "w") as f:
        ds = f.create_dataset("train", shape=(n, D), dtype="f4", chunks=(min(n, 8192), D))
        for j, i0 in enumerate(range(0, n, CHUNK)):
            i1 = min(n, i0 + CHUNK)
            ds[i0:i1] = _rows(np.random.default_rng(seeds[j]), centers, i1 - i0)
        f["test"] = _rows(np.random.default_rng(seeds[-1]), centers, n_test)
        f.attrs["distance"] = "euclidean"
    os.replace(tmp, path)
    return time.perf_counter() - t0


def _rows(rng: np.random.Generator, centers: np.ndarray, m: int) -> np.ndarray:
    pick = rng.integers(0, centers.shape[0], m)
    return (centers[pick] + rng.standard_normal((m, D)).astype(np.float32)).astype(np.float32)


# ----------------------------------------------------------------------
# RSS child
# ----------------------------------------------------------------------


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def child_rss(path: str, spec: str, ondisk: str | None, threads: int) -> dict:
    import rhtann

    index = rhtann.Index(D, spec, threads=threads).train_from(path, rows=TRAIN_ROWS, seed=0)
    if ondisk:
        index.to_ondisk(ondisk)
    before = _status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current resident set
        reset = True
    except OSError:
        reset = False
    t0 = time.perf_counter()
    n = index.add_from(path, progress=False)
    add_s = time.perf_counter() - t0
    peak = _status("VmHWM")
    ivf = "IVF" in spec
    return {
        "spec": spec,
        "n": n,
        "ondisk": bool(ondisk),
        "rss_before": before,
        "peak": peak,
        "growth": peak - before,
        "hwm_reset": reset,
        "codes": n * index.bytes_per_vector,
        "ids": 8 * n if ivf else 0,
        "add_s": add_s,
        "threads": threads,
    }


def run_child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------
# distributed
# ----------------------------------------------------------------------


def dist_throughput(path: Path, warm: Path, workers: int, repeats: int) -> dict:
    from distributed import Client, LocalCluster

    from rhtann import distributed as rd

    runs = []
    loads = []
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers, timeout=120)
        rd.build(D, DIST_SPEC, warm, client=client, train_rows=TRAIN_ROWS, seed=0)  # imports, JIT caches
        for _ in range(repeats):
            loads.append(os.getloadavg()[0])
            index = rd.build(D, DIST_SPEC, path, client=client, train_rows=TRAIN_ROWS, seed=0)
            runs.append(index.build_report_)
            del index
    enc = [r["encode_s"] for r in runs]
    n = runs[0]["rows"]
    return {
        "workers": workers,
        "rows": n,
        "shards": runs[0]["shards"],
        "encode_s": enc,
        "median_encode_s": statistics.median(enc),
        "rows_per_s": n / statistics.median(enc),
        "merge_s": statistics.median(r["merge_s"] for r in runs),
        # CPU the workers got while encoding, per worker, as a share of the encode wall time
        "cpu_share": statistics.median(r["worker_cpu_s"] / (r["encode_s"] * workers) for r in runs),
        # what one free core would add per second: rows over the CPU seconds the adds used
        "rows_per_cpu_s": statistics.median(r["rows"] / r["worker_cpu_s"] for r in runs),
        "train_s": statistics.median(r["train_s"] for r in runs),
        "load1": loads,
    }


def recall_check(path: Path, nprobe: int) -> dict:
    from distributed import Client, LocalCluster

    import rhtann
    from rhtann import distributed as rd

    with h5py.File(path, "r") as f:
        q = f["test"][:]
    flat = rhtann.Index(D, "Flat")
    flat.add_from(path, progress=False)
    _, truth = flat.search(q, 10)
    del flat
    single = rhtann.Index(D, DIST_SPEC).train_from(path, rows=TRAIN_ROWS, seed=0)
    single.add_from(path, progress=False)
    _, Is = single.search(q, 10, nprobe=nprobe)
    del single
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster, Client(cluster) as client:
        built = rd.build(D, DIST_SPEC, path, client=client, train_rows=TRAIN_ROWS, seed=0)
    _, Id = built.search(q, 10, nprobe=nprobe)

    def recall(found: np.ndarray) -> float:
        return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))

    return {
        "nq": int(q.shape[0]),
        "nprobe": nprobe,
        "single": recall(Is),
        "distributed": recall(Id),
        "identical_ids": bool(np.array_equal(Is, Id)),
    }


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------


def codec_table() -> list[tuple[str, int, int]]:
    import rhtann

    rows = []
    for spec in CODEC_SPECS:
        index = rhtann.Index(D, spec)
        ids = 8 if "IVF" in spec else 0
        rows.append((spec, index.bytes_per_vector, ids))
    return rows


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_report(out: Path, res: dict, cmd: str) -> None:
    lines = [
        "# Scale: out-of-core add_from, distributed build",
        "",
        f"Generated by `{cmd}` on {res['when']}.",
        f"CPU: {cpu_name()}, {os.cpu_count()} cores (AVX2, no AVX-512), shared with other jobs:",
        "the 1-minute load average at each timed run is listed. Data: seeded mixture of 1000",
        f"Gaussian clusters, d={D}, float32, HDF5 (ann-benchmarks layout).",
        "",
        "## Data files",
        "",
        "| rows | file | write s (0 = existing file reused) |",
        "|---:|---|---:|",
    ]
    for n, (p, s) in sorted(res["data"].items()):
        lines.append(f"| {int(n):,} | `{Path(p).name}` | {s:.1f} |")
    lines += [
        "",
        "## Peak RSS of add_from (one subprocess each)",
        "",
        "growth = VmHWM during the add (reset by /proc/self/clear_refs after training) minus VmRSS",
        "before it. stored = codes (+ 8-byte ids for IVF). Target for 1M x 128: growth <= codes + 200 MiB.",
        "",
        "| spec | rows | on disk | threads | add s | rows/s | codes MiB | ids MiB | growth MiB "
        "| growth - codes MiB | target met |",
        "|---|---:|:-:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for r in res["rss"]:
        extra = (r["growth"] - r["codes"]) / MiB
        ok = "yes" if r["growth"] <= r["codes"] + 200 * MiB else "no"
        if not r["hwm_reset"]:
            ok += " (HWM not reset)"
        lines.append(
            f"| {r['spec']} | {r['n']:,} | {'yes' if r['ondisk'] else 'no'} | {r['threads']} "
            f"| {r['add_s']:.1f} | {r['n'] / r['add_s']:,.0f} | {r['codes'] / MiB:.0f} "
            f"| {r['ids'] / MiB:.0f} | {r['growth'] / MiB:.0f} | {extra:.0f} | {ok} |"
        )
    lines += [
        "",
        "On-disk rows: the lists file is memory-mapped, so its dirty pages count in VmRSS",
        "(file-backed, reclaimable by the kernel); growth there includes them.",
        "",
        f"## Distributed add phase ({DIST_SPEC}, LocalCluster, 1 thread per worker)",
        "",
        "encode s = wall time from submitting the shard tasks to the last one finished (reading the",
        "HDF5 path, rotating, encoding, serializing); train and merge run on the client, listed apart.",
        "",
        "cpu share = CPU seconds of the workers' adds / (encode s x workers): the fraction of a core",
        "each worker got while encoding (1.0 = a free core each).",
        "",
        "rows per CPU-s = rows / CPU seconds of the adds (what one free core adds per second).",
        "",
        "| workers | rows | shards | encode s (runs) | median | rows/s | cpu share | rows per CPU-s "
        "| train s | merge s | load1 at runs |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in res["dist"]:
        runs = ", ".join(f"{s:.1f}" for s in r["encode_s"])
        loads = ", ".join(f"{v:.1f}" for v in r["load1"])
        lines.append(
            f"| {r['workers']} | {r['rows']:,} | {r['shards']} | {runs} | {r['median_encode_s']:.1f} "
            f"| {r['rows_per_s']:,.0f} | {r['cpu_share']:.2f} | {r['rows_per_cpu_s']:,.0f} "
            f"| {r['train_s']:.1f} | {r['merge_s']:.1f} | {loads} |"
        )
    if len(res["dist"]) == 2:
        ratio = res["dist"][1]["rows_per_s"] / res["dist"][0]["rows_per_s"]
        lines += [
            "",
            f"2 workers / 1 worker throughput: **{ratio:.2f}x** (target >= 1.6x when two cores are free;",
            f"the load average above shows how many of the {os.cpu_count()} cores other jobs held).",
        ]
    rc = res.get("recall")
    if rc:
        lines += [
            "",
            f"## recall@10, distributed vs one process ({DIST_SPEC}, train_rows={TRAIN_ROWS}, seed 0)",
            "",
            f"{rc['nq']} queries, nprobe={rc['nprobe']}, exact neighbours from a Flat index.",
            "",
            "| build | recall@10 |",
            "|---|---:|",
            f"| one process | {rc['single']:.4f} |",
            f"| distributed, 2 workers | {rc['distributed']:.4f} |",
            "",
            f"Difference {abs(rc['single'] - rc['distributed']):.4f} (target <= 0.01); identical result ids: "
            f"{'yes' if rc['identical_ids'] else 'no'}.",
        ]
    lines += [
        "",
        f"## Bytes stored per vector at d={D}",
        "",
        "| spec | code bytes | id bytes |",
        "|---|---:|---:|",
    ]
    for spec, b, ids in res["codecs"]:
        lines.append(f"| {spec} | {b} | {ids} |")
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000, help="rows of the RSS-target and distributed file")
    p.add_argument("--big-n", type=int, default=0, help="rows of a larger add_from file (0: skip)")
    p.add_argument("--dist-n", type=int, default=0, help="rows for the throughput runs (default --n)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--nprobe", type=int, default=16)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/rhtann-scale"))
    p.add_argument("--out", type=Path, default=Path("bench/results/scale.md"))
    p.add_argument("--skip", nargs="*", default=[], choices=["rss", "dist", "recall", "big"])
    p.add_argument("--child", nargs=4, metavar=("PATH", "SPEC", "ONDISK", "THREADS"))
    p.add_argument("--render", type=Path, help="rewrite --out from a saved results JSON, measuring nothing")
    args = p.parse_args(argv)
    if args.render:
        res = json.loads(args.render.read_text())
        write_report(args.out, res, res["cmd"])
        return 0
    if args.child:
        path, spec, ondisk, threads = args.child
        print(json.dumps(child_rss(path, spec, None if ondisk == "-" else ondisk, int(threads))))
        return 0
    cmd = "python bench/scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.workdir.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    res: dict = {"cmd": cmd, "when": when, "data": {}, "rss": [], "dist": [], "recall": None}
    res["codecs"] = codec_table()
    main_file = args.workdir / f"mix_{args.n}.h5"
    res["data"][args.n] = (str(main_file), make_hdf5(main_file, args.n))
    print("data", res["data"], flush=True)

    def report() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_report(args.out, res, cmd)

    if "rss" not in args.skip:
        for spec in RSS_SPECS:
            res["rss"].append(run_child([str(main_file), spec, "-", "2"]))
            print(res["rss"][-1], flush=True)
        lists = args.workdir / "rss.ivfdata"
        lists.unlink(missing_ok=True)
        res["rss"].append(run_child([str(main_file), DIST_SPEC, str(lists), "2"]))
        lists.unlink(missing_ok=True)
        print(res["rss"][-1], flush=True)
        report()
    if "dist" not in args.skip:
        warm = args.workdir / "warm.h5"
        make_hdf5(warm, 40_000, n_test=10, seed=1)
        dist_file = main_file
        if args.dist_n and args.dist_n != args.n:
            dist_file = args.workdir / f"mix_{args.dist_n}.h5"
            res["data"][args.dist_n] = (str(dist_file), make_hdf5(dist_file, args.dist_n))
        for workers in (1, 2):
            res["dist"].append(dist_throughput(dist_file, warm, workers, args.repeats))
            print(res["dist"][-1], flush=True)
        report()
    if "recall" not in args.skip:
        res["recall"] = recall_check(main_file, args.nprobe)
        print(res["recall"], flush=True)
        report()
    if args.big_n and "big" not in args.skip:
        big = args.workdir / f"mix_{args.big_n}.h5"
        res["data"][args.big_n] = (str(big), make_hdf5(big, args.big_n))
        print("big data", res["data"][args.big_n], flush=True)
        res["rss"].append(run_child([str(big), "RHT,SQ8", "-", "2"]))
        print(res["rss"][-1], flush=True)
        report()
    report()
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
