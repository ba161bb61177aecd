"""Transform throughput: rhtann's RHT against faiss and numpy, side by side.

Every contender runs on the same float32 data with the same thread count, in
one process; each figure is the median of ``--repeats`` timed runs after one
warm-up run. Printed ratios are ``contender time / rhtann time`` (above 1:
rhtann is faster).

Sections
--------
0. keep, pad (3 rounds), faiss ``RandomRotationMatrix``, faiss
   ``HadamardRotation`` and ``np.copyto`` side by side for
   d in 50, 100, 128, 200, 384, 768, 784, 960, 1024, 1536, 3072 (the
   instruction set detected is printed first);
1. rotation throughput for each d: rhtann at 1, 2 and 3 rounds, faiss
   ``HadamardRotation`` (3 rounds, HR), faiss ``RandomRotationMatrix`` (RR),
   a numpy dense matmul by an orthogonal matrix, and ``np.copyto`` into a
   preallocated output (the memory-bandwidth floor);
2. single-vector latency (n = 1) through the Python API;
3. the dimension-preserving layout against the padded one (when available);
4. end to end: ``rhtann.Index("RHT,SQ4")`` add and search against faiss
   ``"HR,SQ4"``, rhtann's rotation feeding faiss's own SQ4 add in between,
   and SQ4/SQ8 encoding alone (``rhtann.sq`` against ``sa_encode``);
5. keep with its block-and-lane inter-round permutation against the uniform
   shuffle (``KeepLayout(d, perm=...)``) and pad, one thread, at the
   ``--side-dims`` where the block permutation applies.

Run from the repository root::

    python bench/studies/transform_speed.py                 # N = 200,000 vectors
    python bench/studies/transform_speed.py --n 20000 --dims 128 1024   # quick look

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
from functools import partial
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rhtann  # noqa: E402
from rhtann.layouts import LAYOUTS  # noqa: E402


def instruction_set() -> str:
    """The vector instruction sets of this CPU, from /proc/cpuinfo or LLVM's host features."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    if not flags:
        from llvmlite import binding

        flags = {f[1:] for f in binding.get_host_cpu_features().flatten().split(",") if f.startswith("+")}
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "neon", "asimd", "sve")
    found = [f for f in wanted if f in flags or f.replace("_", ".") in flags]
    if "avx512f" in found:
        level = "AVX-512"
    elif "avx2" in found:
        level = "AVX2 (no AVX-512)"
    elif found:
        level = found[-1].upper()
    else:
        level = "unknown"
    return f"{level}; flags: {' '.join(found) or 'none found'}"


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


def faiss_apply(vt, x: np.ndarray, out: np.ndarray) -> None:
    """``vt.apply(x)`` into a preallocated ``out`` (faiss's ``apply_noalloc``)."""
    vt.apply_noalloc(x.shape[0], faiss.swig_ptr(x), faiss.swig_ptr(out))


def write_report(lines: list[str], path: str) -> None:
    """Write the Markdown ``lines`` to ``path`` (folders created) and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {out}")


def paired_times(fns: dict, repeats: int, clock=time.perf_counter) -> dict:
    """Time every callable once per repeat, interleaved, after one warm-up each.

    Parameters
    ----------
    fns : dict of str to callable
    repeats : int
    clock : callable, default time.perf_counter
        Wall clock by default; ``time.process_time`` gives CPU time, which
        other processes on a shared machine do not inflate.

    Returns
    -------
    dict of str to ndarray
        Per contender, the ``repeats`` times in seconds. Interleaving
        exposes all contenders to the same background load, so the ratio of
        two contenders within one repeat is steadier than a ratio of
        separately taken medians. The order rotates by one contender per
        repeat, so that none always runs right after the same other one (a
        run can be faster or slower depending on what ran just before it,
        e.g. through the caches).
    """
    for fn in fns.values():
        fn()
    names = list(fns)
    times = {name: [] for name in fns}
    for rep in range(repeats):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            t0 = clock()
            fns[name]()
            times[name].append(clock() - t0)
    return {name: np.asarray(t) for name, t in times.items()}


def throughput(dims, n, dense_n, repeats, rng, lines):
    lines.append("\n## Rotation throughput (M vectors/s; ratio = other time / rhtann time)\n")
    lines.append(
        "Rates are medians over the repeats; ratios are medians of the per-repeat ratios "
        "(contenders interleaved within each repeat).\n"
    )
    lines.append(
        "| d | d_out | RHT1 | RHT2 | RHT3 | faiss HR | faiss RR | numpy dense | copyto "
        "| RHT3 vs HR | RHT1 vs numpy | RHT1 vs RR | RHT3 / copyto |"
    )
    lines.append("|" + "---|" * 13)
    for d in dims:
        lines.append(throughput_row(d, n, dense_n, repeats, rng))
        print(lines[-1], flush=True)


def throughput_row(d, n, dense_n, repeats, rng) -> str:
    """One row of the throughput table for dimension ``d``."""
    x = rng.standard_normal((n, d)).astype(np.float32)
    nd = n if d < 2048 else min(n, dense_n)
    xd = x[:nd]
    rht = {r: rhtann.RHT(d, rounds=r, seed=1) for r in (1, 2, 3)}
    hr = faiss.HadamardRotation(d, 1)
    rr = faiss.RandomRotationMatrix(d, d)
    rr.init(1)
    hr_out = np.empty((n, hr.d_out), np.float32)
    rr_out = np.empty((nd, d), np.float32)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32)
    qt = np.ascontiguousarray(q.T)
    dense_out = np.empty((nd, d), np.float32)
    copy_out = np.empty_like(x)
    # every contender writes into a preallocated output (faiss's HR only has the
    # allocating apply), so no run pays for page faults of a fresh array
    # an output rhtann allocated itself (64-byte aligned rows, so large
    # outputs get non-temporal stores), reused by every timed call
    rot_out = rht[1].apply(x)
    t = paired_times(
        {
            "rht1": partial(rht[1].apply, x, out=rot_out),
            "rht2": partial(rht[2].apply, x, out=rot_out),
            "rht3": partial(rht[3].apply, x, out=rot_out),
            "hr": partial(faiss_apply, hr, x, hr_out),
            "rr": partial(faiss_apply, rr, xd, rr_out),
            "np": partial(np.matmul, xd, qt, out=dense_out),
            "copy": partial(np.copyto, copy_out, x),
        },
        repeats,
    )
    t["rr"] = t["rr"] * (n / nd)  # dense cost is per vector: scale a subset to n
    t["np"] = t["np"] * (n / nd)
    med = {k: float(np.median(v)) for k, v in t.items()}

    def ratio(a, b):
        return float(np.median(t[a] / t[b]))

    return (
        f"| {d} | {rht[1].d_out} | {fmt_rate(n, med['rht1'])} | {fmt_rate(n, med['rht2'])} | "
        f"{fmt_rate(n, med['rht3'])} | {fmt_rate(n, med['hr'])} | {fmt_rate(n, med['rr'])} | "
        f"{fmt_rate(n, med['np'])} | {fmt_rate(n, med['copy'])} | {ratio('hr', 'rht3'):.2f}x | "
        f"{ratio('np', 'rht1'):.2f}x | {ratio('rr', 'rht1'):.2f}x | {ratio('rht3', 'copy'):.2f} |"
    )


SIDE_DIMS = [50, 100, 128, 200, 384, 768, 784, 960, 1024, 1536, 3072]


def side_by_side(dims, n, dense_n, repeats, rng, lines):
    """keep, pad, faiss RR, faiss HR and np.copyto at 3 rounds, all writing a preallocated output."""
    lines.append("\n## keep, pad, faiss RR, faiss HR and a memory copy, 3 rounds (M vectors/s)\n")
    lines.append(
        "Every contender writes into a preallocated output (`apply(x, out=)`, faiss's "
        "`apply_noalloc`, `np.copyto`); ratios are medians of per-repeat ratios, contenders "
        "interleaved. keep/pad is a throughput ratio (above 1: keep faster); the others are "
        "time ratios against the named rhtann layout.\n"
    )
    lines.append(
        "| d | keep plan | keep | pad (d_out) | faiss RR | faiss HR | copyto "
        "| keep / pad | keep vs RR | pad vs HR | pad / copyto |"
    )
    lines.append("|" + "---|" * 11)
    for d in dims:
        lines.append(side_row(d, n, dense_n, repeats, rng))
        print(lines[-1], flush=True)


def side_row(d, n, dense_n, repeats, rng) -> str:
    """One row of :func:`side_by_side` for dimension ``d``."""
    x = rng.standard_normal((n, d)).astype(np.float32)
    nd = n if d < 2048 else min(n, dense_n)
    xd = x[:nd]
    keep = rhtann.RHT(d, rounds=3, seed=1, layout="keep")
    pad = rhtann.RHT(d, rounds=3, seed=1, layout="pad")
    hr = faiss.HadamardRotation(d, 1)
    rr = faiss.RandomRotationMatrix(d, d)
    rr.init(1)
    keep_out, pad_out = keep.apply(x), pad.apply(x)
    hr_out = np.empty((n, hr.d_out), np.float32)
    rr_out = np.empty((nd, d), np.float32)
    copy_out = np.empty_like(x)
    t = paired_times(
        {
            "keep": partial(keep.apply, x, out=keep_out),
            "pad": partial(pad.apply, x, out=pad_out),
            "rr": partial(faiss_apply, rr, xd, rr_out),
            "hr": partial(faiss_apply, hr, x, hr_out),
            "copy": partial(np.copyto, copy_out, x),
        },
        repeats,
    )
    t["rr"] = t["rr"] * (n / nd)
    med = {k: float(np.median(v)) for k, v in t.items()}

    def ratio(a, b):
        return float(np.median(t[a] / t[b]))

    plan = repr(keep.layout_).split("(", 1)[1].rstrip(")").replace("mode=", "").replace("'", "")
    return (
        f"| {d} | {plan} | {fmt_rate(n, med['keep'])} | {fmt_rate(n, med['pad'])} ({pad.d_out}) | "
        f"{fmt_rate(n, med['rr'])} | {fmt_rate(n, med['hr'])} | {fmt_rate(n, med['copy'])} | "
        f"{ratio('pad', 'keep'):.2f} | {ratio('rr', 'keep'):.2f}x | {ratio('hr', 'pad'):.2f}x | "
        f"{ratio('pad', 'copy'):.2f} |"
    )


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
        lines.append(layout_row(d, n, repeats, rng))
        print(lines[-1], flush=True)


def layout_row(d, n, repeats, rng) -> str:
    """One row of the layout table: padded against dimension-preserving."""
    x = rng.standard_normal((n, d)).astype(np.float32)
    pad = rhtann.RHT(d, rounds=3, layout="pad")
    keep = rhtann.RHT(d, rounds=3, layout="keep")
    t = paired_times({"pad": partial(pad.apply, x), "keep": partial(keep.apply, x)}, repeats)
    tp, tk = float(np.median(t["pad"])), float(np.median(t["keep"]))
    return (
        f"| {d} | {pad.d_out} | {fmt_rate(n, tp)} | {keep.d_out} | {fmt_rate(n, tk)} "
        f"| {float(np.median(t['pad'] / t['keep'])):.2f} |"
    )


def end_to_end(d, n, nq, repeats, rng, lines):
    if not hasattr(rhtann, "Index"):
        lines.append("\n(rhtann.Index not available: end-to-end comparison skipped)")
        return
    lines.append(f"\n## End to end at d = {d}: SQ4 add and search (n = {n}, {nq} queries)\n")
    xb = rng.standard_normal((n, d)).astype(np.float32)
    xq = rng.standard_normal((nq, d)).astype(np.float32)
    xt = xb[:20000]

    def build(kind):
        if kind == "theirs":
            idx = faiss.index_factory(d, "HR,SQ4")
        else:
            idx = rhtann.Index(d, "RHT,SQ4")
        idx.train(xt)
        return idx

    def add_faiss_encoder(idx):
        # rhtann's rotation, faiss's own SQ4 add (what Index.add did before it
        # encoded with rhtann.sq): shows what each half contributes
        step = idx.chunk_size
        buf = np.empty((min(n, step), idx.d_out), np.float32)
        for i0 in range(0, n, step):
            rows = xb[i0 : i0 + step]
            idx.sub_index.add(idx.rht.apply(rows, out=buf[: len(rows)]))

    adders = {
        "mine": lambda idx: idx.add(xb),
        "rot_only": add_faiss_encoder,
        "theirs": lambda idx: idx.add(xb),
    }
    runs = {k: [] for k in adders}
    built = {}
    for rep in range(repeats + 1):  # the first round warms up and is dropped
        for kind, add in adders.items():
            idx = build(kind)
            t0 = time.perf_counter()
            add(idx)
            if rep:
                runs[kind].append(time.perf_counter() - t0)
            built[kind] = idx
    t_add = {k: np.array(v) for k, v in runs.items()}
    t_mine, t_rot, t_theirs = (float(np.median(t_add[k])) for k in ("mine", "rot_only", "theirs"))
    mine, theirs = built["mine"], built["theirs"]
    same_codes = np.array_equal(
        faiss.vector_to_array(mine.sub_index.codes), faiss.vector_to_array(built["rot_only"].sub_index.codes)
    )
    searches = {"mine": partial(mine.search, xq, 10), "theirs": partial(theirs.search, xq, 10)}
    ts = paired_times(searches, repeats)
    s_mine, s_theirs = float(np.median(ts["mine"])), float(np.median(ts["theirs"]))
    same = np.array_equal(mine.search(xq, 10)[1], theirs.search(xq, 10)[1])
    lines.append(
        "| | rhtann RHT,SQ4 | rhtann rotation + faiss SQ4 encoder | faiss HR,SQ4 | rhtann vs faiss |"
    )
    lines.append("|---|---|---|---|---|")
    lines.append(
        f"| add (M vectors/s) | {fmt_rate(n, t_mine)} | {fmt_rate(n, t_rot)} | {fmt_rate(n, t_theirs)} "
        f"| {float(np.median(t_add['theirs'] / t_add['mine'])):.2f}x |"
    )
    lines.append(
        f"| search (QPS, batch of {nq}) | {nq / s_mine:,.0f} | | {nq / s_theirs:,.0f} "
        f"| {float(np.median(ts['theirs'] / ts['mine'])):.2f}x |"
    )
    lines.append(
        f"\nidentical neighbours: {same}; codes of rhtann's encoder identical to faiss's: {same_codes}"
    )
    print("\n".join(lines[-4:]), flush=True)
    encode_only(mine, xb, repeats, lines)


def encode_only(index, xb, repeats, lines):
    """Scalar-quantizer encoding alone, rhtann.sq against faiss's sa_encode, on rotated rows."""
    from rhtann.index.encoders import SQEncoder

    y = index.rht.apply(xb)
    n, d_out = y.shape
    lines.append(f"\nEncoding alone ({n} rotated vectors of {d_out}; M vectors/s):\n")
    lines.append("| quantizer | rhtann.sq | faiss sa_encode | ratio |")
    lines.append("|---|---|---|---|")
    for key in ("SQ4", "SQ8"):
        sq = faiss.index_factory(d_out, key)
        sq.train(y[:20000])
        enc = SQEncoder.for_index(sq)
        out = np.empty((n, enc.code_size), np.uint8)
        contenders = {"mine": partial(enc.encode, y, out=out), "theirs": partial(sq.sa_encode, y)}
        t = paired_times(contenders, repeats)
        mine, theirs = float(np.median(t["mine"])), float(np.median(t["theirs"]))
        ratio = float(np.median(t["theirs"] / t["mine"]))
        lines.append(f"| {key} | {fmt_rate(n, mine)} | {fmt_rate(n, theirs)} | {ratio:.2f}x |")
        print(lines[-1], flush=True)


def permutations(dims, n, repeats, rng, lines):
    """keep with its block-and-lane permutation against the uniform shuffle, and pad (one thread)."""
    from rhtann.layouts.keep import KeepLayout, block_permuted

    dims = [d for d in dims if block_permuted(d)]
    lines += [
        "",
        "## keep: block-and-lane against uniform-shuffle inter-round permutation, 3 rounds, one thread",
        "",
        "`KeepLayout(d, perm=...)` forward into a preallocated output; process CPU time, "
        "contenders interleaved, medians of per-repeat ratios (above 1: the first one named is faster).",
        "",
        "| d | blocks (us/row) | shuffle (us/row) | pad (us/row) | shuffle / blocks | keep / pad, blocks | "
        "keep / pad, shuffle |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines[-6:]), flush=True)
    saved = rhtann.get_num_threads()
    set_threads(1)
    try:
        for d in dims:
            x = rng.standard_normal((n, d)).astype(np.float32)
            lays = {"blocks": KeepLayout(d, "blocks"), "shuffle": KeepLayout(d, "shuffle"),
                    "pad": LAYOUTS["pad"](d)}
            fns = {}
            for name, lay in lays.items():
                out = np.empty((n, lay.d_out), dtype=np.float32)
                signs = np.ascontiguousarray(rhtann.RHT(d, seed=1, layout="keep" if name != "pad" else "pad")
                                             .signs_)
                fns[name] = partial(lay.forward, x, signs, 3, out=out)
            t = paired_times(fns, repeats, clock=time.process_time)
            us = {k: 1e6 * float(np.median(v)) / n for k, v in t.items()}
            lines.append(
                f"| {d} | {us['blocks']:.3f} | {us['shuffle']:.3f} | {us['pad']:.3f} "
                f"| {np.median(t['shuffle'] / t['blocks']):.2f} | {np.median(t['pad'] / t['blocks']):.2f} "
                f"| {np.median(t['pad'] / t['shuffle']):.2f} |"
            )
            print(lines[-1], flush=True)
    finally:
        set_threads(saved)
    lines.append("")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="vectors per batch (default 200000)")
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 128, 768, 1024, 1536, 4096])
    ap.add_argument("--dense-n", type=int, default=20_000, help="rows for dense contenders at d>=2048")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    ap.add_argument("--threads", type=int, default=rhtann.get_num_threads())
    ap.add_argument("--side-dims", type=int, nargs="+", default=SIDE_DIMS,
                    help="dimensions of the keep/pad/faiss/copy table")
    ap.add_argument(
        "--skip", nargs="*", default=[],
        choices=["side", "throughput", "latency", "layouts", "e2e", "perm"],
    )
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
        f"Instruction set detected: {instruction_set()}; load average at start: "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}",
        "",
        "Command: `python bench/studies/transform_speed.py "
        + " ".join(sys.argv[1:] if argv is None else argv) + "`",
        "",
    ]
    print("\n".join(lines), flush=True)
    if "side" not in args.skip:
        side_by_side(args.side_dims, args.n, args.dense_n, args.repeats, rng, lines)
    if "throughput" not in args.skip:
        throughput(args.dims, args.n, args.dense_n, args.repeats, rng, lines)
    if "latency" not in args.skip:
        latency([d for d in (128, 1024) if d in args.dims] or args.dims[:1], args.repeats, rng, lines)
    if "layouts" not in args.skip:
        layouts([100, 768, 1536], args.n, args.repeats, rng, lines)
    if "e2e" not in args.skip:
        end_to_end(1024, args.n, 200, args.repeats, rng, lines)
    if "perm" not in args.skip:
        permutations(args.side_dims, min(args.n, 20_000), args.repeats, rng, lines)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
