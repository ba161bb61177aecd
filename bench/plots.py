"""Pictures and the Markdown summary of a benchmark run (matplotlib, Agg).

Per dataset:

* ``{dataset}_recall_qps.png``: recall@k against single-thread QPS (log
  axis), one panel per quantizer family with one line per rotation variant
  (no rotation, faiss HR, faiss RR, rhtann RHT with the pad and the keep
  layout drawn apart), plus a panel of the peer libraries with the
  frontiers of all rhtann-RHT and all other runs for reference;
* ``{dataset}_recall_bytes.png``: best recall@k of each index against its
  bytes per vector; colour = rotation variant, marker = quantizer.

Each line joins the runs of one build over its query sweep, and each legend
lists only what was run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import pareto_frontier

#: Colour and line style per rotation variant; variants not listed get a colour of the cycle.
STYLES: dict[str, tuple[str, str, str]] = {
    "none": ("#7f7f7f", "-", "o"),
    "HR": ("#1f77b4", "-", "s"),
    "RR": ("#ff7f0e", "-", "^"),
    "RHT3 pad": ("#d62728", "-", "D"),
    "RHT3 keep": ("#9467bd", "--", "v"),
    "RHTauto pad": ("#8c564b", "-.", "P"),
    "RHTauto keep": ("#e377c2", ":", "X"),
    "turbovec": ("#2ca02c", "-", "*"),
    "rabitqlib": ("#17becf", "-", "h"),
}
_CYCLE = ["#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
#: Contenders plotted with the spec-based quantizer panels.
SPEC_CONTENDERS = ("rhtann", "faiss")


def _variant(rec: dict[str, Any]) -> str:
    return rec.get("variant") or rec.get("rotation", "none")


def style(variant: str, _extra: dict[str, tuple[str, str, str]] = {}) -> tuple[str, str, str]:  # noqa: B006
    """(colour, line style, marker) of a rotation variant; stable within a process."""
    if variant in STYLES:
        return STYLES[variant]
    if variant not in _extra:
        i = len(_extra)
        _extra[variant] = (_CYCLE[i % len(_CYCLE)], "-", _MARKERS[i % len(_MARKERS)])
    return _extra[variant]


def _order(variant: str) -> tuple[int, str]:
    keys = list(STYLES)
    return (keys.index(variant) if variant in keys else len(keys), variant)


def best_per_index(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each (dataset, contender, spec/label): the run with the highest recall (then QPS)."""
    best: dict[tuple, dict[str, Any]] = {}
    for rec in results:
        key = (rec["dataset"], rec.get("contender", "rhtann"), rec["spec"])
        cur = best.get(key)
        if cur is None or (rec["recall"], rec["qps"]) > (cur["recall"], cur["qps"]):
            best[key] = rec
    return list(best.values())


def _line(ax, recs: list[dict[str, Any]], variant: str, label: str | None, **kw) -> None:
    colour, ls, marker = style(variant)
    recs = sorted(recs, key=lambda r: r["recall"])
    ax.plot([r["recall"] for r in recs], [r["qps"] for r in recs], color=colour, ls=ls, marker=marker,
            ms=4, lw=1.6, label=label, **kw)


def _frontier(ax, recs: list[dict[str, Any]], colour: str, label: str) -> None:
    if not recs:
        return
    x = np.array([r["recall"] for r in recs])
    y = np.array([r["qps"] for r in recs])
    front = pareto_frontier(x, y)
    ax.plot(x[front], y[front], color=colour, lw=1.0, ls=(0, (4, 2)), alpha=0.7, label=label)


def _panels(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    panels: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in results:
        if rec.get("contender", "rhtann") in SPEC_CONTENDERS:
            panels[rec["quantizer"]].append(rec)
        else:
            panels["peers"].append(rec)
    return dict(sorted(panels.items(), key=lambda kv: (kv[0] == "peers", kv[0])))


def figure_recall_qps(results: list[dict[str, Any]], title: str):
    """Figure with one panel per quantizer (lines: rotation variants) and one for the peers."""
    import matplotlib.pyplot as plt  # the caller has chosen the Agg backend

    panels = _panels(results)
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows), dpi=100, squeeze=False)
    k = results[0]["k"]
    for ax, (panel, recs) in zip(axes.flat, panels.items(), strict=False):
        if panel == "peers":
            by_label: dict[str, list] = defaultdict(list)
            for r in recs:
                by_label[r["label"]].append(r)
            for label, rs in sorted(by_label.items()):
                _line(ax, rs, label, label)
            spec_recs = [r for r in results if r.get("contender", "rhtann") in SPEC_CONTENDERS]
            _frontier(ax, [r for r in spec_recs if r.get("rotation") == "RHT"], "#d62728",
                      "frontier of all rhtann RHT runs")
            _frontier(ax, [r for r in spec_recs if r.get("rotation") != "RHT"], "#7f7f7f",
                      "frontier of all other faiss runs")
            ax.set_title("peer libraries", fontsize=9)
        else:
            by_variant: dict[str, list] = defaultdict(list)
            for r in recs:
                by_variant[(_variant(r), r.get("contender", "rhtann"))].append(r)
            for (variant, who), rs in sorted(by_variant.items(), key=lambda kv: _order(kv[0][0])):
                name = variant if who == "rhtann" else f"{variant} ({who})"
                _line(ax, rs, variant, f"{name}: {rs[0]['spec']}")
            ax.set_title(f"{panel}: one line per rotation", fontsize=9)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel(f"recall@{k}", fontsize=8)
        ax.set_ylabel("QPS, 1 thread (log)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best", framealpha=0.85)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def figure_recall_bytes(results: list[dict[str, Any]], title: str):
    """Figure of the best recall of each build against its bytes per vector."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    best = best_per_index(results)
    quantizers = sorted({r["quantizer"] for r in best})
    markers = {q: _MARKERS[i % len(_MARKERS)] for i, q in enumerate(quantizers)}
    variants = sorted({_variant(r) for r in best}, key=_order)
    # equal byte counts of different variants are drawn side by side
    shift = {v: 1.0 + 0.025 * (i - (len(variants) - 1) / 2) for i, v in enumerate(variants)}
    fig, ax = plt.subplots(figsize=(9.5, 5.5), dpi=110)
    for r in best:
        colour, _, _ = style(_variant(r))
        ax.scatter(r["bytes_per_vector"] * shift[_variant(r)], r["recall"], color=colour,
                   marker=markers[r["quantizer"]], s=40, alpha=0.9)
    handles = [Line2D([], [], color=style(v)[0], ls=style(v)[1], lw=2, label=v) for v in variants]
    handles += [Line2D([], [], color="k", marker=markers[q], ls="", markerfacecolor="none", label=q)
                for q in quantizers]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.85)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per vector (codes only, log2; variants drawn slightly apart)")
    ax.set_ylabel(f"best recall@{best[0]['k']} over the query sweep")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path)
    plt.close(fig)
    return path


def plot_dataset(results: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write the two PNGs of one dataset's results; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    r0 = results[0]
    name = r0["dataset"]
    title = f"{name} (n={r0['n_train']}, q={r0['n_test']}, k={r0['k']})"
    if r0.get("subsampled"):
        title += "\n" + r0["subsampled"]
    return [
        _save(figure_recall_qps(results, title), out / f"{name}_recall_qps.png"),
        _save(figure_recall_bytes(results, title), out / f"{name}_recall_bytes.png"),
    ]


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def pivot_markdown(results: list[dict[str, Any]]) -> str:
    """Compact table per dataset: best recall@k (and bytes/vector) by quantizer x rotation variant."""
    by_ds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in best_per_index(results):
        by_ds[rec["dataset"]].append(rec)
    lines = []
    for name, recs in by_ds.items():
        cols = sorted({_variant(r) for r in recs}, key=_order)
        rows = sorted({r["quantizer"] for r in recs})
        cell = {(r["quantizer"], _variant(r)): r for r in recs}
        k = recs[0]["k"]
        lines.append(f"**{name}**: best recall@{k} over the query sweep (bytes per vector)")
        lines.append("")
        lines.append("| quantizer | " + " | ".join(cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for q in rows:
            vals = []
            for c in cols:
                r = cell.get((q, c))
                size = "" if r is None else _fmt(float(r["bytes_per_vector"]), 1)
                vals.append("" if r is None else f"{r['recall']:.3f} ({size})")
            lines.append(f"| {q} | " + " | ".join(vals) + " |")
        lines.append("")
    return "\n".join(lines)


def summary_markdown(results: list[dict[str, Any]]) -> str:
    """Markdown table per dataset: the best run of each index, grouped by quantizer."""
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
            "| quantizer | rotation | contender | spec | params | bytes/vec | recall@k | eps-recall | R@1@k "
            "| QPS (1 thr) | 1/p50 | p99 ms | batch QPS | build s | rotation share | distortion |"
        )
        lines.append("|" + "---|" * 16)
        recs.sort(key=lambda r: (r["quantizer"], _order(_variant(r)), r["spec"]))
        for r in recs:
            params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
            lines.append(
                f"| {r['quantizer']} | {_variant(r)} | {r.get('contender', 'rhtann')} | `{r['spec']}` "
                f"| {params} | {_fmt(float(r['bytes_per_vector']), 1)} | {_fmt(r['recall'])} "
                f"| {_fmt(r['epsilon_recall'])} | {_fmt(r['recall_1_at_k'])} | {_fmt(r['qps'])} "
                f"| {_fmt(r.get('qps_p50'))} | {_fmt(r['p99_ms'], 2)} | {_fmt(r['batch_qps'])} "
                f"| {_fmt(r['build_s'], 2)} | {_fmt(r['transform_share'], 2)} | {_fmt(r['distortion'], 4)} |"
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
