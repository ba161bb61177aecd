"""Pictures and the Markdown summary of a benchmark run (matplotlib, Agg).

Per dataset:

* ``{dataset}_recall_qps.png``: recall@k against single-thread QPS (log
  axis); every run faded, the Pareto frontier of each rotation family drawn
  as a line;
* ``{dataset}_recall_bytes.png``: best recall@k of each index against its
  bytes per vector, with each rotation family's frontier.

Colours are fixed per rotation (none grey, HR blue, RR orange, RHT red) and
markers per quantizer family, so rhtann's curve can be found at a glance.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from .indexes import ROTATIONS
from .metrics import pareto_frontier

COLORS = {"none": "#8c8c8c", "HR": "#1f77b4", "RR": "#ff7f0e", "RHT": "#d62728"}
LABELS = {"none": "no rotation", "HR": "faiss HR", "RR": "faiss RR", "RHT": "rhtann RHT (pad, keep)"}
#: Horizontal offsets (factors) of the rotations in the bytes plot.
JITTER = {"none": 0.96, "HR": 0.985, "RR": 1.01, "RHT": 1.035}
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]


def _markers(results: list[dict[str, Any]]) -> dict[str, str]:
    names = sorted({r["quantizer"] for r in results})
    return {q: _MARKERS[i % len(_MARKERS)] for i, q in enumerate(names)}


def best_per_index(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each (dataset, spec): the run with the highest recall (then QPS)."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in results:
        key = (rec["dataset"], rec["spec"])
        cur = best.get(key)
        if cur is None or (rec["recall"], rec["qps"]) > (cur["recall"], cur["qps"]):
            best[key] = rec
    return list(best.values())


def _legend(ax, markers: dict[str, str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLORS[r], lw=2, label=LABELS[r]) for r in ROTATIONS]
    handles += [
        Line2D([], [], color="k", marker=m, ls="", markerfacecolor="none", label=q)
        for q, m in markers.items()
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              framealpha=0.85)


def _finish(fig, ax, title: str, sub: str, markers: dict, path: Path) -> Path:
    """Title, grid and legend, then write the figure to ``path`` and close it."""
    import matplotlib.pyplot as plt  # the caller has chosen the Agg backend

    ax.set_title(title + ("\n" + sub if sub else ""), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, markers)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_dataset(results: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write the two PNGs of one dataset's results; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = results[0]["dataset"]
    k = results[0]["k"]
    sub = results[0].get("subsampled") or ""
    title = f"{name} (n={results[0]['n_train']}, q={results[0]['n_test']}, k={k})"
    markers = _markers(results)
    paths = []

    fig, ax = plt.subplots(figsize=(9.5, 5.5), dpi=110)
    for rot in ROTATIONS:
        rs = [r for r in results if r["rotation"] == rot]
        if not rs:
            continue
        for r in rs:
            ax.scatter(r["recall"], r["qps"], color=COLORS[rot], marker=markers[r["quantizer"]],
                       alpha=0.35, s=22, facecolors="none")
        x = np.array([r["recall"] for r in rs])
        y = np.array([r["qps"] for r in rs])
        front = pareto_frontier(x, y)
        ax.plot(x[front], y[front], color=COLORS[rot], lw=2, marker="o", ms=3)
    ax.set_yscale("log")
    ax.set_xlabel(f"recall@{k} (ann-benchmarks k-nn rule)")
    ax.set_ylabel("queries per second, 1 thread (log)")
    paths.append(_finish(fig, ax, title, sub, markers, out / f"{name}_recall_qps.png"))

    best = best_per_index(results)
    fig, ax = plt.subplots(figsize=(9.5, 5.5), dpi=110)
    for rot in ROTATIONS:
        rs = [r for r in best if r["rotation"] == rot]
        if not rs:
            continue
        # equal byte counts of different rotations are drawn side by side
        shift = JITTER[rot]
        for r in rs:
            ax.scatter(r["bytes_per_vector"] * shift, r["recall"], color=COLORS[rot],
                       marker=markers[r["quantizer"]], s=40, alpha=0.9)
        # frontier: highest recall for at most this many bytes
        x = np.array([-r["bytes_per_vector"] for r in rs], dtype=float)
        y = np.array([r["recall"] for r in rs])
        front = pareto_frontier(y, x)
        order = np.argsort(-x[front])
        ax.plot(-x[front][order] * shift, y[front][order], color=COLORS[rot], lw=1.5, alpha=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per vector (codes only, log2; rotations drawn slightly apart)")
    ax.set_ylabel(f"best recall@{k} over the query sweep")
    paths.append(_finish(fig, ax, title, sub, markers, out / f"{name}_recall_bytes.png"))
    return paths


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def _prefix(spec: str) -> str:
    from .indexes import split_spec

    return ",".join(split_spec(spec)[0]) or "none"


def pivot_markdown(results: list[dict[str, Any]]) -> str:
    """Compact table per dataset: best recall@k (and bytes/vector) by quantizer x rotation.

    Columns are the transform prefixes of the specs (none, HR, RR, RHT,
    RHTkeep...), rows the quantizer families.
    """
    by_ds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in best_per_index(results):
        by_ds[rec["dataset"]].append(rec)
    lines = []
    for name, recs in by_ds.items():
        cols = sorted({_prefix(r["spec"]) for r in recs},
                      key=lambda c: (ROTATIONS.index(recs_rotation(c)), c))
        rows = sorted({r["quantizer"] for r in recs})
        cell = {(r["quantizer"], _prefix(r["spec"])): r for r in recs}
        k = recs[0]["k"]
        lines.append(f"**{name}**: best recall@{k} over the query sweep (bytes per vector)")
        lines.append("")
        lines.append("| quantizer | " + " | ".join(cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for q in rows:
            vals = []
            for c in cols:
                r = cell.get((q, c))
                vals.append("" if r is None else f"{r['recall']:.3f} ({r['bytes_per_vector']})")
            lines.append(f"| {q} | " + " | ".join(vals) + " |")
        lines.append("")
    return "\n".join(lines)


def recs_rotation(prefix: str) -> str:
    """Rotation family of a transform prefix such as ``"RHTkeep"``."""
    from .indexes import rotation_of

    return "none" if prefix == "none" else rotation_of(prefix + ",Flat")


def summary_markdown(results: list[dict[str, Any]]) -> str:
    """Markdown table per dataset: the best run of each index, grouped by quantizer.

    Rows of one quantizer family are adjacent and ordered none, HR, RR, RHT,
    so the effect of each rotation reads down a group.
    """
    by_ds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in best_per_index(results):
        by_ds[rec["dataset"]].append(rec)
    lines = []
    for name, recs in by_ds.items():
        r0 = recs[0]
        lines.append(f"### {name}")
        lines.append("")
        note = f"n={r0['n_train']}, queries={r0['n_test']}, d={r0['dimension']}, k={r0['k']}, "
        note += f"runs={r0['runs']}, batch threads={r0['env']['threads']}, CPU: {r0['env']['cpu']}"
        lines.append(note + ".")
        if r0.get("subsampled"):
            lines.append(f"Subsampled: {r0['subsampled']}.")
        lines.append("")
        lines.append(
            "| quantizer | rotation | spec | params | bytes/vec | recall@k | eps-recall | R@1@k "
            "| QPS (1 thr) | 1/p50 | p99 ms | batch QPS | build s | rotation share | distortion |"
        )
        lines.append("|" + "---|" * 15)
        recs.sort(key=lambda r: (r["quantizer"], ROTATIONS.index(r["rotation"]), r["spec"]))
        for r in recs:
            params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
            lines.append(
                f"| {r['quantizer']} | {r['rotation']} | `{r['spec']}` | {params} "
                f"| {r['bytes_per_vector']} | {_fmt(r['recall'])} | {_fmt(r['epsilon_recall'])} "
                f"| {_fmt(r['recall_1_at_k'])} | {_fmt(r['qps'])} | {_fmt(r.get('qps_p50'))} "
                f"| {_fmt(r['p99_ms'], 2)} "
                f"| {_fmt(r['batch_qps'])} | {_fmt(r['build_s'], 2)} "
                f"| {_fmt(r['transform_share'], 2)} | {_fmt(r['distortion'], 4)} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_report(results: list[dict[str, Any]], out: Path) -> dict[str, list[Path]]:
    """Plots per dataset plus ``summary.md``; returns the written paths."""
    out = Path(out)
    written: dict[str, list[Path]] = {}
    by_ds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in results:
        by_ds[rec["dataset"]].append(rec)
    for name, recs in by_ds.items():
        written[name] = plot_dataset(recs, out)
    summary = out / "summary.md"
    summary.write_text(
        "## Recall by quantizer and rotation\n\n" + pivot_markdown(results)
        + "\n## All indexes (best run of each)\n\n" + summary_markdown(results) + "\n"
    )
    written["summary"] = [summary]
    return written
