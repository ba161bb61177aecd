"""Build, time and score every (dataset, index spec, query parameters) run.

For each index spec the runner builds the index once on the dataset's train
vectors, then for each query-parameter combination:

* single-thread QPS as ann-benchmarks defines it: queries are searched one at
  a time, each timed with ``perf_counter``; ``QPS = 1 / (best over runs of
  the mean per-query time)``; p50/p99 latency from the best run;
* batch QPS: all queries in one call with all threads, best of the runs;
* recall from the batch results: returned ids -> distances recomputed
  against the train set -> ann-benchmarks "k-nn" recall, epsilon-0.01 recall
  and Recall@1@k.

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

from . import indexes, metrics
from .config import Config, resolve_spec


def _tqdm(iterable=None, **kwargs):
    from tqdm.auto import tqdm

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
    for pkg in ("rhtann", "faiss-cpu", "numpy", "numba", "h5py"):
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


def set_threads(n: int) -> None:
    """Set the thread count of rhtann's kernels and faiss."""
    try:
        import rhtann

        rhtann.set_num_threads(n)
    except (ImportError, ValueError):
        import faiss

        faiss.omp_set_num_threads(n)


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_name(spec: str, params: dict[str, Any]) -> str:
    """File-name-safe name of a run, e.g. ``HR_IVF256_SQ8-nprobe_4``."""
    text = spec + "".join(f"-{k}_{v}" for k, v in sorted(params.items()))
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


def _as_stored(ds, x: np.ndarray) -> np.ndarray:
    """Vectors as a cosine index stores them (unit norm); unchanged for l2."""
    x = np.asarray(x, dtype=np.float64)
    if ds.metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        x = x / norms
    return x


def measure_distortion(index, ds, sample: int) -> float | None:
    """Relative MSE of reconstructed vectors on ``sample`` stored ids, or None."""
    if sample <= 0:
        return None
    n = index.ntotal
    ids = np.random.default_rng(0).choice(n, size=min(sample, n), replace=False)
    ids.sort()
    try:
        rec = indexes.reconstruct(index, ids)
    except Exception:
        return None
    return metrics.relative_mse(_as_stored(ds, ds.train[ids]), rec)


def time_single(index, test: np.ndarray, k: int, params: dict, runs: int) -> dict[str, float]:
    """Per-query timing, queries one at a time, ``runs`` times (one warm-up pass first)."""
    q = len(test)
    rows = [test[i : i + 1] for i in range(q)]
    for row in rows[: min(q, 20)]:
        index.search(row, k, **params)
    per_run = []
    clock = time.perf_counter
    for _ in range(runs):
        times = np.empty(q)
        for i, row in enumerate(rows):
            t0 = clock()
            index.search(row, k, **params)
            times[i] = clock() - t0
        per_run.append(times)
    return metrics.qps_from_times(per_run)


def time_batch(index, test: np.ndarray, k: int, params: dict, runs: int):
    """Best-of-``runs`` time of one search call over all queries; returns (seconds, D, I)."""
    best = np.inf
    D = I = None  # noqa: E741
    for _ in range(runs):
        t0 = time.perf_counter()
        D, I = index.search(test, k, **params)  # noqa: E741
        best = min(best, time.perf_counter() - t0)
    return best, D, I


def score(ds, I: np.ndarray, k: int) -> dict[str, float]:  # noqa: E741
    """Recall metrics of returned ids ``I`` (q, k) against the dataset's ground truth."""
    from rhtann.data import pair_distances

    run_dist = pair_distances(ds.train, ds.test, I[:, :k], ds.distance)
    run_dist = metrics.mask_duplicates(I[:, :k], run_dist)
    gt = ds.distances
    knn = metrics.knn_recall(run_dist, gt, k)
    return {
        "recall": float(knn.mean()),
        "recall_std": float(knn.std()),
        "epsilon_recall": float(metrics.epsilon_recall(run_dist, gt, k).mean()),
        "recall_1_at_k": float(metrics.recall_1_at_k(run_dist, gt, k).mean()),
    }


def warm_up(ds, spec: str, backend: str) -> None:
    """Run the spec's transforms once on a few rows so no timing includes JIT compiles."""
    prefix, _ = indexes.split_spec(spec)
    if not prefix:
        return
    small = ds.train[: min(len(ds.train), 256)]
    index = indexes.make_index(ds.dimension, ",".join(prefix + ["Flat"]), ds.metric, backend)
    index.train(small)
    index.add(small)
    index.search(small[:2], 1)


def build(ds, spec: str, backend: str, threads: int) -> tuple[Any, dict[str, Any]]:
    """Build and fill an index; returns it with its build record."""
    set_threads(threads)
    warm_up(ds, spec, backend)
    index = indexes.make_index(ds.dimension, spec, ds.metric, backend)
    t0 = time.perf_counter()
    index.train(ds.train)
    t1 = time.perf_counter()
    index.add(ds.train)
    t2 = time.perf_counter()
    stats = dict(getattr(index, "stats", {}))
    # rhtann's rotation (with the cosine normalization before it), none without RHT
    transform_s = float(stats.get("transform_s", 0.0)) if index.rht is not None else 0.0
    # faiss's own rotations (HR, RR) run inside train and add: time them on the
    # same vectors, once for train and once for add
    transform_s += 2 * indexes.faiss_transform_seconds(index, ds.train)
    build_s = t2 - t0
    try:
        import faiss

        index_bytes = int(faiss.serialize_index(index.sub_index).nbytes)
    except Exception:
        index_bytes = None
    rec = {
        "build_s": build_s,
        "train_s": t1 - t0,
        "add_s": t2 - t1,
        "transform_s": transform_s,
        "transform_share": transform_s / build_s if build_s > 0 else None,
        "add_throughput": len(ds.train) / (t2 - t1) if t2 > t1 else None,
        "index_bytes": index_bytes,
        "bytes_per_vector": int(index.bytes_per_vector),
        "ntotal": int(index.ntotal),
        "backend": type(index).__module__ + "." + type(index).__name__,
    }
    return index, rec


def run_dataset(
    ds, cfg: Config, out: Path, threads: int, progress: bool = True, log=print
) -> list[dict[str, Any]]:
    """Run every index of ``cfg`` on one dataset; write and return the records."""
    env = environment(threads)
    results = []
    folder = out / ds.name / str(cfg.k)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(entry, params) for entry in cfg.indexes for params in entry.sweep()]
    bar = _tqdm(total=len(jobs), desc=ds.name, unit="run", disable=not progress)
    for entry in cfg.indexes:
        sweep = entry.sweep()
        try:
            spec = resolve_spec(entry.spec, ds.dimension, len(ds.train))
            bar.set_postfix_str(f"build {spec}")
            index, build_rec = build(ds, spec, cfg.backend, threads)
        except Exception as exc:  # a spec that faiss or rhtann rejects for this d
            log(f"  skipped {entry.spec!r} on {ds.name}: {type(exc).__name__}: {exc}")
            bar.update(len(sweep))
            continue
        build_rec["distortion"] = measure_distortion(index, ds, cfg.distortion_sample)
        for params in sweep:
            bar.set_postfix_str(f"{spec} {params}" if params else spec)
            try:
                set_threads(1)
                single = time_single(index, ds.test, cfg.k, params, cfg.runs)
                set_threads(threads)
                batch_s, _, I = time_batch(index, ds.test, cfg.k, params, cfg.runs)  # noqa: E741
            except Exception as exc:
                log(f"  skipped {spec!r} {params} on {ds.name}: {type(exc).__name__}: {exc}")
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
                "spec": spec,
                "spec_template": entry.spec,
                "rotation": indexes.rotation_of(spec),
                "quantizer": indexes.quantizer_of(spec),
                "params": params,
                "runs": cfg.runs,
                **build_rec,
                **single,
                "batch_s": batch_s,
                "batch_qps": len(ds.test) / batch_s if batch_s > 0 else None,
                **score(ds, I, cfg.k),
                "env": env,
                "run": run_name(spec, params),
            }
            (folder / f"{rec['run']}.json").write_text(json.dumps(rec, indent=2) + "\n")
            results.append(rec)
            bar.update(1)
        del index
    bar.close()
    return results


def load_results(out: str | os.PathLike) -> list[dict[str, Any]]:
    """Read every run JSON file under ``out``."""
    return [json.loads(p.read_text()) for p in sorted(Path(out).glob("*/*/*.json"))]


#: CSV columns, in order (``params`` is written as JSON).
CSV_COLUMNS = [
    "dataset", "distance", "n_train", "n_test", "dimension", "k", "spec", "rotation",
    "quantizer", "params", "recall", "recall_std", "epsilon_recall", "recall_1_at_k", "qps",
    "qps_p50",
    "best_search_time", "p50_ms", "p99_ms", "batch_qps", "batch_s", "build_s", "train_s",
    "add_s", "transform_s", "transform_share", "add_throughput", "index_bytes",
    "bytes_per_vector", "distortion", "runs", "subsampled", "backend", "threads", "cpu",
    "faiss", "rhtann", "numpy", "numba",
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
                if col == "params":
                    value = json.dumps(value, sort_keys=True)
                row.append("" if value is None else value)
            writer.writerow(row)
    return path
