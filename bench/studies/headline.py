"""The headline table: recall@10, bytes per vector and single-thread QPS of rhtann's codecs and peers.

Reads the run records of a harness run of ``bench/configs/codecs.yaml``::

    RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \\
        rhtann-bench --config bench/configs/codecs.yaml --threads 1 --out bench/results/codecs
    rhtann-bench --config bench/configs/codecs_gemm.yaml --threads 1 --out bench/results/codecs_gemm
    python -m bench.studies.paired_qps --out bench/results/paired_qps.md
    python -m bench.studies.headline --results bench/results/codecs bench/results/codecs_gemm

and writes one table per dataset plus the issue-13 targets, each marked met
or missed from the measured rows. The GloVe-50 targets are judged on the
paired (interleaved) timing of ``bench.studies.paired_qps`` when its results
file exists, since the harness times each index minutes apart on a shared
machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.runner import load_results

#: Slack on "no more bytes per vector" (float rounding of averaged byte counts).
BYTES_SLACK = 0.05


def _label(rec: dict[str, Any]) -> str:
    label = str(rec["label"])
    if rec["contender"] == "paired":
        return label
    params = rec.get("params") or {}
    if params:
        label += " (" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"
    if rec["contender"] == "rhtann":
        return "rhtann " + label
    if rec["contender"] == "faiss":
        return "faiss " + label
    return label


def _fmt(v: Any, digits: int = 0) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def table(recs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| system | queries | bytes/vector | recall@10 | QPS batch, 1 thread | QPS single query |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(recs, key=lambda r: (r["bytes_per_vector"], -r["recall"])):
        lines.append(
            f"| {_label(r)} | {r['n_test']:,} | {r['bytes_per_vector']:.1f} | {r['recall']:.4f} | "
            f"{_fmt(r.get('batch_qps'))} | {_fmt(r.get('qps'))} |"
        )
    return lines


def _ours(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """rhtann rows whose spec names one of rhtann's codecs."""
    from rhtann.index.codec import claims

    return [r for r in recs if r["contender"] == "rhtann" and claims(str(r["spec"]))]


def _check(name: str, ref: dict[str, Any] | None, ours: list[dict[str, Any]], margin: float) -> list[str]:
    """Best of ``ours`` at no more bytes than ``ref``: recall >= ref + margin and both QPS >= ref's."""
    if ref is None:
        return [f"- {name}: reference not measured (skipped)."]
    fit = [r for r in ours if r["bytes_per_vector"] <= ref["bytes_per_vector"] + BYTES_SLACK]
    head = (f"- {name}: reference {_label(ref)} at {ref['bytes_per_vector']:.1f} B, recall "
            f"{ref['recall']:.4f}, QPS {_fmt(ref.get('batch_qps'))} batch / {_fmt(ref.get('qps'))} single.")
    if not fit:
        return [head, "  No rhtann codec row at no more bytes: **missed**."]
    out = [head]
    met_any = False
    for r in sorted(fit, key=lambda r: -r["recall"]):
        rec_ok = r["recall"] >= ref["recall"] + margin
        batch_ok = (r.get("batch_qps") or 0) >= (ref.get("batch_qps") or 0)
        single_ok = (r.get("qps") or 0) >= (ref.get("qps") or 0)
        ok = rec_ok and batch_ok and single_ok
        met_any |= ok
        out.append(
            f"  - {_label(r)}: {r['bytes_per_vector']:.1f} B, recall {r['recall']:.4f} "
            f"({'ok' if rec_ok else 'short'}), batch QPS {_fmt(r.get('batch_qps'))} "
            f"({'ok' if batch_ok else 'slower'}), single QPS {_fmt(r.get('qps'))} "
            f"({'ok' if single_ok else 'slower'}): {'**met**' if ok else 'missed'}"
        )
    out.append(f"  Target {'**met**' if met_any else '**missed**'} (by at least one rhtann row).")
    return out


def _find(recs: list[dict[str, Any]], label: str) -> dict[str, Any] | None:
    hits = [r for r in recs if r["label"] == label]
    return hits[0] if hits else None


def _pq_check(recs: list[dict[str, Any]]) -> list[str]:
    """Each rhtann fast-scan (TQ) row against the faiss PQ{M}x4fs row nearest in bytes."""
    pqs = [r for r in recs if "x4fs" in str(r["spec"])]
    tqs = [r for r in _ours(recs) if ",TQ" in str(r["spec"]) and "IVF" not in str(r["spec"])]
    out = []
    for t in tqs:
        if not pqs:
            break
        p = min(pqs, key=lambda p: abs(p["bytes_per_vector"] - t["bytes_per_vector"]))
        ok_b = (t.get("batch_qps") or 0) >= (p.get("batch_qps") or 0)
        ok_s = (t.get("qps") or 0) >= (p.get("qps") or 0)
        out.append(
            f"  - {_label(t)} ({t['bytes_per_vector']:.1f} B, QPS {_fmt(t.get('batch_qps'))} / "
            f"{_fmt(t.get('qps'))}) vs {_label(p)} ({p['bytes_per_vector']:.1f} B, QPS "
            f"{_fmt(p.get('batch_qps'))} / {_fmt(p.get('qps'))}): batch {'met' if ok_b else 'missed'}, "
            f"single {'met' if ok_s else 'missed'}"
        )
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", nargs="+", default=["bench/results/codecs", "bench/results/codecs_gemm"])
    ap.add_argument("--paired", nargs="+",
                    default=["bench/results/paired_qps.md", "bench/results/paired_qps_patches.md",
                             "bench/results/paired_qps_sift.md"])
    ap.add_argument("--out", default="bench/results/headline.md")
    args = ap.parse_args(argv)
    recs = [r for folder in args.results for r in load_results(folder)]
    if not recs:
        raise SystemExit(f"no run records under {args.results}")
    env = recs[0]["env"]
    lines = [
        "# Headline: rhtann's codecs against turbovec, rabitqlib and faiss at equal bytes",
        "",
        f"Generated by `python -m bench.studies.headline --results {' '.join(args.results)}` from the "
        "harness runs `RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 "
        "rhtann-bench --config bench/configs/codecs.yaml --threads 1 --out bench/results/codecs` (and "
        "the same with `codecs_gemm.yaml`, `--out bench/results/codecs_gemm`: DTQ/E8Q on GloVe with 100 "
        "queries), and `python -m bench.studies.paired_qps`.",
        "",
        f"CPU: {env.get('cpu')} ({env.get('cores')} cores, shared with other jobs); "
        f"{_isa()}. Everything on one thread: batch = all queries in one call, single = one "
        "query per call (ann-benchmarks timing, best of the runs' mean). recall@10 by distances "
        "against the exact neighbours. bytes/vector: everything stored per vector (codes, "
        "norms/scales, decoded norms for L2; for turbovec and rabitqlib the serialized bytes "
        "per added vector).",
        f"Versions: rhtann {env.get('rhtann')}, faiss {env.get('faiss')}, turbovec "
        f"{env.get('turbovec')}, rabitqlib {env.get('rabitqlib')}, numba {env.get('numba')}.",
        "",
    ]
    by_ds: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        by_ds.setdefault(r["dataset"], []).append(r)
    paired = [_paired(path) for path in args.paired]
    paired = [part for part in paired if part]
    for path in args.paired:
        part = _paired(path)
        if part:
            lines += [f"## {part[0].lstrip('# ')} (paired timing; the targets are judged on these)", "",
                      part[2] if len(part) > 2 else "", "", *[ln for ln in part if ln.startswith("|")], ""]
    for ds, rs in by_ds.items():
        r0 = rs[0]
        nq = sorted({r["n_test"] for r in rs})
        lines += [f"## {ds}: {r0['n_train']:,} base vectors, {' / '.join(f'{n:,}' for n in nq)} queries, "
                  f"d = {r0['dimension']} (harness run)", "", *table(rs), ""]
    lines += ["## Targets of issue 13", ""]
    glove = by_ds.get("glove-6b-50-angular", [])
    if paired:
        for part in paired:
            lines += _paired_checks(part)
    elif glove:
        lines += _check("GloVe-50 at about 4 bits: recall >= turbovec 4-bit + 0.01, no more bytes, QPS >=",
                        _find(glove, "turbovec b4"), _ours(glove), 0.01)
        lines += _check("GloVe-50 at about 2 bits: recall >= turbovec 2-bit + 0.01, no more bytes, QPS >=",
                        _find(glove, "turbovec b2"), _ours(glove), 0.01)
    for ds, rs in by_ds.items():
        if rs[0]["dimension"] >= 256 or ds.startswith("siftsmall"):
            tag = "256+-d set" if rs[0]["dimension"] >= 256 else "SIFT10K (128-d, beyond the target)"
            lines += _check(f"{ds} ({tag}) at about 4 bits: recall >= rabitqlib 4-bit flat, no more bytes, "
                            "QPS >=", _find(rs, "rabitqlib b4"), _ours(rs), 0.0)
    lines += ["- Flat scan QPS >= faiss PQ{M}x4fs at equal bytes: see the faiss rows of the paired tables "
              "above; harness figures (batch / single query, each index timed at a different moment):"]
    for ds, rs in by_ds.items():
        lines += [f"  {ds}:", *_pq_check(rs)]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _paired(path: str) -> list[str]:
    p = Path(path)
    return p.read_text().splitlines() if p.exists() else []


def _paired_checks(lines: list[str]) -> list[str]:
    """GloVe targets from the paired table: rows ``| name | bytes | recall | batch | single |``."""
    rows = []
    for ln in lines:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if len(cells) == 5 and cells[1][:1].isdigit():
            rows.append({"label": cells[0], "contender": "paired", "spec": cells[0],
                         "bytes_per_vector": float(cells[1]), "recall": float(cells[2]),
                         "batch_qps": float(cells[3].replace(",", "")),
                         "qps": float(cells[4].replace(",", ""))})
    ours = [r for r in rows if r["label"].startswith("rhtann")]
    out = []
    rq = [r for r in rows if r["label"].startswith("rabitqlib")]
    title = lines[0].rsplit(" on ", 1)[-1] if lines and " on " in lines[0] else "this set"
    if rq:
        out += _check(f"{title} at about 4 bits (paired timing): recall >= "
                      "rabitqlib 4-bit flat, no more bytes, batch and single QPS >=", rq[0], ours, 0.0)
    for bits in (4, 2):
        refs = [r for r in rows if r["label"].startswith("turbovec") and r["label"].endswith(f"b{bits}")]
        ours_d = [r for r in ours if r["bytes_per_vector"] <= 100]
        ref = refs[0] if refs else None
        if not refs:
            continue
        out += _check(f"GloVe-50 at about {bits} bits (paired timing): recall >= turbovec {bits}-bit + 0.01, "
                      "no more bytes, batch and single QPS >=", ref, ours_d, 0.01)
    for pq in (r for r in rows if r["label"].startswith("faiss") and "x4fs" in r["label"]):
        same = [r for r in ours if abs(r["bytes_per_vector"] - pq["bytes_per_vector"]) <= 8]
        if same:
            out += _check(f"{title}: flat scan at the bytes of {pq['label']} (within 8 B): batch and single "
                          "QPS >= faiss's, recall >=", pq, same, 0.0)
    return out


def _isa() -> str:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "instruction set unknown"
    names = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vbmi", "avx512_vnni")
    have = [f for f in names if f in flags]
    return "ISA: " + ", ".join(have) + ("" if "avx512f" in flags else " (no AVX-512)")


if __name__ == "__main__":
    main()
