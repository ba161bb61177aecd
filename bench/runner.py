"""Build, time and score every (dataset, contender build, query parameters) run.

For each index of the config the runner builds the contender once on the
dataset's train vectors, then for each query-parameter combination:

* single-thread QPS as ann-benchmarks defines it: queries are searched one at
  a time, each timed with ``perf_counter``; ``QPS = 1 / (best over runs of
  the mean per-query time)``; p50/p99 latency from the best run;
* batch QPS: all queries in one call with all threads, best of the runs;
* recall from the batch results: returned ids -> distances recomputed
  against the train set -> ann-benchmarks "k-nn" recall, epsilon-0.01 recall
  and Recall@1@k, against the file's true neighbours re-scored in the same
  arithmetic (see :func:`score`).

Each run is written as one JSON file ``{out}/{dataset}/{k}/{run}.json``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import contenders, metrics
from .config import Config, DatasetEntry, IndexEntry, resolve_build, resolve_spec
from .firstuse import compile_note


def _tqdm(iterable=None, **kwargs):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # bars are optional
        kwargs["disable"] = True
        from types import SimpleNamespace

        return SimpleNamespace(update=lambda n=1: None, close=lambda: None, set_postfix_str=lambda s: None)
    return tqdm(iterable, **kwargs)


def cpu_name() -> str:
    """CPU model name from /proc/cpuinfo (or platform.processor())."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int) -> dict[str, Any]:
    """Library versions, thread count and machine of this run."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, Any] = {"python": platform.python_version(), "threads": threads,
                           "cpu": cpu_name(), "cores": os.cpu_count(),
                           "platform": platform.platform()}
    for pkg in ("rhtann", "faiss-cpu", "numpy", "numba", "h5py", "turbovec", "rabitqlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    try:
        import faiss

        out["faiss"] = faiss.__version__
    except (ImportError, AttributeError):
        pass
    return out


def default_threads() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_name(label: str, params: dict[str, Any]) -> str:
    """File-name-safe name of a run, e.g. ``HR_IVF256_SQ8-nprobe_4``."""
    text = label + "".join(f"-{k}_{v}" for k, v in sorted(params.items()))
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


def _as_stored(ds, x: np.ndarray) -> np.ndarray:
    """Vectors as a cosine index stores them (unit norm); unchanged for l2."""
    x = np.asarray(x, dtype=np.float64)
    if ds.metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        x = x / norms
    return x


def measure_distortion(index: contenders.Contender, ds, sample: int) -> float | None:
    """Relative MSE of reconstructed vectors on ``sample`` stored ids, or None."""
    if sample <= 0:
        return None
    n = index.ntotal
    if n <= 0:
        return None
    ids = np.random.default_rng(0).choice(n, size=min(sample, n), replace=False)
    ids.sort()
    try:
        rec = index.reconstruct(ids)
    except Exception:
        return None
    return metrics.relative_mse(_as_stored(ds, ds.train[ids]), rec)


def time_single(index: contenders.Contender, test: np.ndarray, k: int, runs: int) -> dict[str, float]:
    """Per-query timing, queries one at a time, ``runs`` times (one warm-up pass first)."""
    q = len(test)
    rows = [np.ascontiguousarray(test[i]) for i in range(q)]
    for row in rows[: min(q, 20)]:
        index.query(row, k)
    per_run = []
    clock = time.perf_counter
    for _ in range(runs):
        times = np.empty(q)
        for i, row in enumerate(rows):
            t0 = clock()
            index.query(row, k)
            times[i] = clock() - t0
        per_run.append(times)
    return metrics.qps_from_times(per_run)


def time_batch(index: contenders.Contender, test: np.ndarray, k: int, runs: int):
    """Best-of-``runs`` time of one batch call over all queries; returns (seconds, ids)."""
    best = np.inf
    ids = None
    for _ in range(runs):
        t0 = time.perf_counter()
        ids = index.batch_query(test, k)
        best = min(best, time.perf_counter() - t0)
    return best, ids


def truth_distances(ds, k: int) -> np.ndarray:
    """The dataset's first ``k`` true neighbours, re-scored exactly as runs are, sorted.

    Files store distances computed elsewhere (often float32 brute force);
    comparing runs re-scored in float64 with them drops near-ties. Re-scoring
    the file's ids with the same :func:`rhtann.data.pair_distances` puts run
    and truth in the same arithmetic, so exact search scores 1.0.
    """
    from rhtann.data import pair_distances

    return np.sort(pair_distances(ds.train, ds.test, ds.neighbors[:, :k], ds.distance), axis=1)


def score(ds, ids: np.ndarray, k: int, truth: np.ndarray | None = None) -> dict[str, float]:
    """Recall metrics of returned ids (q, k) against the dataset's ground truth.

    Parameters
    ----------
    ds : rhtann.data.Dataset
    ids : ndarray, shape (q, >= k), integer
        Returned ids, -1 where none.
    k : int
    truth : ndarray, shape (q, k), optional
        :func:`truth_distances` of ``ds`` (computed when absent).
    """
    from rhtann.data import pair_distances

    run_dist = pair_distances(ds.train, ds.test, ids[:, :k], ds.distance)
    run_dist = metrics.mask_duplicates(ids[:, :k], run_dist)
    gt = truth_distances(ds, k) if truth is None else truth
    knn = metrics.knn_recall(run_dist, gt, k)
    return {
        "recall": float(knn.mean()),
        "recall_std": float(knn.std()),
        "epsilon_recall": float(metrics.epsilon_recall(run_dist, gt, k).mean()),
        "recall_1_at_k": float(metrics.recall_1_at_k(run_dist, gt, k).mean()),
    }


def build(contender: contenders.Contender, ds, threads: int) -> dict[str, Any]:
    """Fit a contender on the train set; returns its build record."""
    contender.set_threads(threads)
    with compile_note():
        contender.warm_up(ds.train)
    t0 = time.perf_counter()
    contender.fit(np.ascontiguousarray(ds.train, dtype=np.float32))
    build_s = time.perf_counter() - t0
    stats = contender.build_stats
    transform_s = float(stats.get("transform_s", 0.0))
    return {
        "build_s": build_s,
        "train_s": float(stats.get("train_s", 0.0)),
        "add_s": float(stats.get("add_s", 0.0)),
        "transform_s": transform_s,
        "transform_share": transform_s / build_s if build_s > 0 else None,
        "add_throughput": len(ds.train) / stats["add_s"] if stats.get("add_s") else None,
        "index_bytes": contender.index_bytes,
        "bytes_per_vector": contender.bytes_per_vector,
        "ntotal": int(contender.ntotal),
        "backend": type(contender).__module__ + "." + type(contender).__name__,
    }


def _jobs(cfg: Config, only: DatasetEntry | None) -> list[tuple[IndexEntry, str, str | None, dict[str, Any]]]:
    """(entry, contender name, spec template, build parameters) per build that runs on the dataset."""
    jobs = []
    for entry in cfg.indexes:
        name = cfg.contender_of(entry)
        if only is not None and not only.runs_entry(entry, name):
            continue
        for params in entry.builds():
            jobs.append((entry, name, entry.spec, params))
    return jobs


def run_dataset(
    ds, cfg: Config, out: Path, threads: int, progress: bool = True, log=print,
    entry: DatasetEntry | None = None,
) -> list[dict[str, Any]]:
    """Run the indexes of ``cfg`` that ``entry.only`` allows on one dataset; write and return the records."""
    env = environment(threads)
    results = []
    folder = out / ds.name / str(cfg.k)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = _jobs(cfg, entry)
    truth = truth_distances(ds, cfg.k)
    bar = _tqdm(total=sum(len(e.sweep()) for e, *_ in jobs), desc=ds.name, unit="run", disable=not progress)
    noted: set[str] = set()
    for index_entry, name, spec_t, build_t in jobs:
        sweep = index_entry.sweep()
        cls = contenders.get(name)
        ok, note = cls.available()
        if not ok:
            if name not in noted:
                log(f"  skipping contender {name}: {note}")
                noted.add(name)
            bar.update(len(sweep))
            continue
        what = spec_t or f"{name} {build_t}"
        try:
            spec = resolve_spec(spec_t, ds.dimension, len(ds.train)) if spec_t else None
            params = resolve_build(build_t, ds.dimension, len(ds.train))
            contender = cls(ds.dimension, ds.metric, spec, **params)
            bar.set_postfix_str(f"build {contender.label}")
            build_rec = build(contender, ds, threads)
        except contenders.Unsupported as exc:
            log(f"  skipped {name} {what!r} on {ds.name}: {exc}")
            bar.update(len(sweep))
            continue
        except Exception as exc:  # a spec that faiss or rhtann rejects for this d
            log(f"  skipped {what!r} on {ds.name}: {type(exc).__name__}: {exc}")
            bar.update(len(sweep))
            continue
        build_rec["distortion"] = measure_distortion(contender, ds, cfg.distortion_sample)
        for qp in sweep:
            bar.set_postfix_str(f"{contender.label} {qp}" if qp else contender.label)
            try:
                contender.set_query_arguments(**qp)
                contender.set_threads(1)
                single = time_single(contender, ds.test, cfg.k, cfg.runs)
                contender.set_threads(threads)
                batch_s, ids = time_batch(contender, ds.test, cfg.k, cfg.runs)
            except Exception as exc:
                log(f"  skipped {contender.label!r} {qp} on {ds.name}: {type(exc).__name__}: {exc}")
                bar.update(1)
                continue
            rec: dict[str, Any] = {
                "dataset": ds.name,
                "distance": ds.distance,
                "n_train": len(ds.train),
                "n_test": len(ds.test),
                "dimension": ds.dimension,
                "subsampled": ds.attrs.get("subsampled", ""),
                "k": cfg.k,
                "contender": name,
                "label": contender.label,
                "spec": spec or contender.label,
                "spec_template": spec_t or "",
                "build_params": params,
                "rotation": contender.rotation,
                "variant": contender.variant,
                "quantizer": contender.quantizer,
                "params": qp,
                "runs": cfg.runs,
                **build_rec,
                **single,
                "batch_s": batch_s,
                "batch_qps": len(ds.test) / batch_s if batch_s > 0 else None,
                **score(ds, ids, cfg.k, truth),
                "env": env,
                "run": run_name(spec if spec and name == "rhtann" else f"{name}-{spec or contender.label}",
                                qp),
            }
            (folder / f"{rec['run']}.json").write_text(json.dumps(rec, indent=2) + "\n")
            results.append(rec)
            bar.update(1)
        contender.done()
        del contender
    bar.close()
    return results


def load_results(out: str | os.PathLike) -> list[dict[str, Any]]:
    """Read every run JSON file under ``out``."""
    return [json.loads(p.read_text()) for p in sorted(Path(out).glob("*/*/*.json"))]


#: CSV columns, in order (``params`` and ``build_params`` are written as JSON).
CSV_COLUMNS = [
    "dataset", "distance", "n_train", "n_test", "dimension", "k", "contender", "label", "spec",
    "rotation", "variant", "quantizer", "build_params", "params", "recall", "recall_std",
    "epsilon_recall", "recall_1_at_k", "qps", "qps_p50", "best_search_time", "p50_ms", "p99_ms",
    "batch_qps", "batch_s", "build_s", "train_s", "add_s", "transform_s", "transform_share",
    "add_throughput", "index_bytes", "bytes_per_vector", "distortion", "runs", "subsampled", "backend",
    "threads", "cpu", "faiss", "rhtann", "numpy", "numba", "turbovec", "rabitqlib",
]


def write_csv(results: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write one CSV row per run with :data:`CSV_COLUMNS`."""
    import csv

    path = Path(path)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for rec in results:
            env = rec.get("env", {})
            row = []
            for col in CSV_COLUMNS:
                value = rec.get(col, env.get(col))
                if col in ("params", "build_params"):
                    value = json.dumps(value or {}, sort_keys=True)
                row.append("" if value is None else value)
            writer.writerow(row)
    return path
