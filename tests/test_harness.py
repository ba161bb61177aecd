"""Smoke run of ``python -m bench`` on tiny datasets, and the config helpers."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from bench import config, specs
from bench.cli import main
from rhtann import data


def _write_dataset(path, distance, d=24, n=2000, q=40, seed=0):
    rng = np.random.default_rng(seed)
    scale = np.geomspace(0.1, 3.0, d)
    train = (rng.standard_normal((n, d)) * scale).astype(np.float32)
    test = (rng.standard_normal((q, d)) * scale).astype(np.float32)
    nb, di = data.ground_truth(train, test, distance, progress=False)
    data.write_hdf5(path, data.Dataset(path.stem, train, test, nb, di, distance))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("harness")
    _write_dataset(root / "tiny-24-euclidean.hdf5", "euclidean")
    _write_dataset(root / "tiny-24-angular.hdf5", "angular", seed=1)
    (root / "cfg.yaml").write_text(
        "k: 10\nruns: 1\nthreads: 1\ndistortion_sample: 300\n"
        "indexes:\n"
        "  - spec: Flat\n"
        "  - spec: SQ8\n"
        "  - spec: HR,SQ4\n"
        "  - spec: RHT,SQ4\n"
        "  - spec: RHT,IVF{nlist},SQ8\n"
        "    query: {nprobe: [1, 4]}\n"
        "  - spec: 'PQ{d // 5 + 1}'\n"  # PQ5: 24 is not a multiple of 5: skipped, not fatal
    )
    out = root / "results"
    rc = main([
        "--config", str(root / "cfg.yaml"), "--out", str(out), "--no-progress",
        "--dataset", str(root / "tiny-24-euclidean.hdf5"),
        "--dataset", str(root / "tiny-24-angular.hdf5"),
    ])
    assert rc == 0
    runs = {}
    for path in out.glob("*/10/*.json"):
        rec = json.loads(path.read_text())
        runs[(rec["dataset"], rec["run"])] = rec
    return out, runs


@pytest.mark.parametrize("name", ["tiny-24-euclidean", "tiny-24-angular"])
def test_exact_flat_index_has_recall_one(smoke, name):
    _, runs = smoke
    rec = runs[(name, "Flat")]
    assert rec["recall"] == 1.0
    assert rec["epsilon_recall"] == 1.0
    assert rec["recall_1_at_k"] == 1.0
    assert rec["bytes_per_vector"] == 24 * 4
    assert rec["distortion"] == pytest.approx(0.0, abs=1e-10)
    assert rec["rotation"] == "none" and rec["n_test"] == 40 and rec["k"] == 10


def test_sq8_bytes_per_vector_equals_d(smoke):
    _, runs = smoke
    rec = runs[("tiny-24-euclidean", "SQ8")]
    assert rec["bytes_per_vector"] == 24
    assert 0.5 < rec["recall"] <= 1.0
    # SQ8's relative error on these coordinates is about 1e-5 .. 1e-4; far below SQ4's
    assert 0 < rec["distortion"] < 1e-3 < runs[("tiny-24-euclidean", "HR_SQ4")]["distortion"]


def test_rotated_runs_record_rotation_and_timing(smoke):
    _, runs = smoke
    hr = runs[("tiny-24-euclidean", "HR_SQ4")]
    rht = runs[("tiny-24-euclidean", "RHT_SQ4")]
    assert hr["rotation"] == "HR" and rht["rotation"] == "RHT"
    # RHT with 3 padded rounds equals faiss HR (d=24 pads to 32): identical codes
    assert hr["bytes_per_vector"] == rht["bytes_per_vector"] == 16
    assert hr["recall"] == rht["recall"]
    for rec in (hr, rht):
        assert rec["qps"] == pytest.approx(1.0 / rec["best_search_time"])
        assert rec["p50_ms"] <= rec["p99_ms"]
        assert rec["batch_qps"] > 0 and rec["build_s"] > 0
        assert rec["transform_s"] > 0 and rec["transform_share"] > 0
        assert rec["env"]["threads"] == 1 and rec["env"]["faiss"]
    # rhtann times its rotation inside train/add, so its share is a true fraction
    # (faiss's HR is timed separately and can exceed a sub-millisecond build)
    assert rht["transform_share"] <= 1.0


def test_sweep_gives_one_run_per_parameter(smoke):
    _, runs = smoke
    ivf = [r for (ds, _), r in runs.items() if ds == "tiny-24-euclidean" and "IVF" in r["spec"]]
    assert sorted(r["params"]["nprobe"] for r in ivf) == [1, 4]
    assert all(r["spec"] == "RHT,IVF32,SQ8" for r in ivf)  # nlist for n=2000
    by = {r["params"]["nprobe"]: r["recall"] for r in ivf}
    assert by[4] >= by[1]


def test_csv_summary_and_plots_written(smoke):
    out, runs = smoke
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(runs) == 2 * 6  # PQ5 on d=24 was skipped on both datasets
    flat = [r for r in rows if r["spec"] == "Flat"]
    assert {float(r["recall"]) for r in flat} == {1.0}
    summary = (out / "summary.md").read_text()
    assert "### tiny-24-angular" in summary and "`RHT,SQ4`" in summary
    for name in ("tiny-24-euclidean", "tiny-24-angular"):
        for kind in ("recall_qps", "recall_bytes"):
            png = out / f"{name}_{kind}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resolve_spec_placeholders():
    assert config.resolve_spec("HR,PQ{dsub // 2}x4fs", 50, 1000) == "HR,PQ32x4fs"
    assert config.resolve_spec("RR,PQ{dsub // 2}x4fs", 50, 1000) == "RR,PQ25x4fs"
    assert config.resolve_spec("PQ{d}", 50, 1000) == "PQ50"
    assert config.resolve_spec("IVF{nlist},SQ8", 8, 100_000) == "IVF512,SQ8"
    # 2*sqrt(2000) = 89 -> 64, but 2000 / 64 < 39 points per centroid -> 32
    assert config.default_nlist(2000) == 32
    with pytest.raises(ValueError, match="cannot evaluate"):
        config.resolve_spec("PQ{bogus}", 8, 100)


def test_spec_helpers():
    assert specs.split_spec("HR,IVF256,SQ4") == (["HR"], "IVF256,SQ4")
    assert specs.rotation_of("RHT2keep,SQ4") == "RHT"
    assert specs.rotation_of("RR64,PQ8") == "RR"
    assert specs.rotation_of("IVF16,SQ8") == "none"
    assert specs.quantizer_of("HR,IVF1024,PQ32x4fs") == "IVF,PQx4fs"


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown keys"):
        config.parse({"indexes": ["SQ8"], "kk": 3})
    with pytest.raises(ValueError, match="at least one"):
        config.parse({"indexes": []})
    with pytest.raises(ValueError, match="runs must be"):
        config.parse({"indexes": ["SQ8"], "runs": 0})
    cfg = config.load()  # the shipped default parses
    assert cfg.k == 10 and any(e.spec.startswith("RHT") for e in cfg.indexes)
    assert config.IndexEntry("x", {"a": [1, 2], "b": [3]}).sweep() == [
        {"a": 1, "b": 3}, {"a": 2, "b": 3}]
