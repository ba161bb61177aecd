"""The harness: smoke runs on tiny datasets, exact recall, paths, config errors, contenders, plots."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench import config, contenders, firstuse, plots, runner, specs
from bench.cli import main
from rhtann import data

REPO = Path(__file__).resolve().parents[1]


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
        "  - spec: RHTkeep,SQ4\n"
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
    assert len(rows) == len(runs) == 2 * 7  # PQ5 on d=24 was skipped on both datasets
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


def test_pad_and_keep_are_separate_lines_of_one_quantizer_panel(smoke):
    _, runs = smoke
    recs = [r for (ds, _), r in runs.items() if ds == "tiny-24-euclidean"]
    assert {r["variant"] for r in recs if r["quantizer"] == "SQ4"} == {"HR", "RHT3 pad", "RHT3 keep"}
    assert plots.style("RHT3 pad")[:2] != plots.style("RHT3 keep")[:2]
    fig = plots.figure_recall_qps(recs, "t")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert "SQ4: one line per rotation" in titles and "SQ8: one line per rotation" in titles
    sq4 = next(ax for ax in fig.axes if ax.get_title().startswith("SQ4"))
    legend = [t.get_text() for t in sq4.get_legend().get_texts()]
    # exactly what was run in this panel, nothing else (no RR, no "none")
    assert legend == ["HR: HR,SQ4", "RHT3 pad: RHT,SQ4", "RHT3 keep: RHTkeep,SQ4"]
    colours = {line.get_label(): line.get_color() for line in sq4.get_lines()}
    assert len(set(colours.values())) == 3
    fig2 = plots.figure_recall_bytes(recs, "t")
    texts = [t.get_text() for t in fig2.axes[0].get_legend().get_texts()]
    assert "RR" not in texts and {"none", "HR", "RHT3 pad", "RHT3 keep"} <= set(texts)


# --------------------------------------------------------------------------------------
# exact search scores 1.0 on large-norm data with near-ties (issue 16, item 1)


def _pixel_like_file(path, n=3000, q=200, d=96, seed=3):
    """Large-norm vectors with near-duplicates and a float32 ground truth like ann-benchmarks
    files: ids from float32 brute force, distances from float32 ``|q|^2 + |x|^2 - 2 q.x``."""
    import faiss

    rng = np.random.default_rng(seed)
    base = 200 + 5 * rng.standard_normal((n // 2, d))
    twins = base + 1e-3 * rng.standard_normal(base.shape)  # near-ties at every distance
    train = np.concatenate([base, twins]).astype(np.float32)
    test = (200 + 5 * rng.standard_normal((q, d))).astype(np.float32)
    _, ids = faiss.knn(test, train, 100)
    sq = (test * test).sum(1)[:, None] + (train * train).sum(1)[None, :] - 2 * (test @ train.T)
    dist = np.sqrt(np.maximum(np.take_along_axis(sq.astype(np.float32), ids, axis=1), 0))
    ds = data.Dataset(path.stem, train, test, ids.astype(np.int32), dist.astype(np.float32), "euclidean")
    data.write_hdf5(path, ds)
    return ds


def test_exact_search_scores_one_on_large_norm_near_ties(tmp_path):
    from bench import metrics

    ds = _pixel_like_file(tmp_path / "pixels-96-euclidean.hdf5")
    assert np.linalg.norm(ds.train, axis=1).min() > 1500
    # the rule of the old harness (float64 run against the file's float32 distances) loses points
    import faiss

    _, flat_ids = faiss.knn(ds.test, ds.train, 10)
    run = data.pair_distances(ds.train, ds.test, flat_ids, "euclidean")
    assert metrics.knn_recall(run, ds.distances, 10).mean() < 0.99
    (tmp_path / "cfg.yaml").write_text(
        "k: 10\nruns: 1\nthreads: 1\ndistortion_sample: 0\nindexes:\n"
        "  - spec: Flat\n  - {contender: faiss, spec: Flat}\n")
    out = tmp_path / "out"
    assert main(["--config", str(tmp_path / "cfg.yaml"), "--out", str(out), "--no-progress",
                 "--dataset", str(tmp_path / "pixels-96-euclidean.hdf5")]) == 0
    recs = [json.loads(p.read_text()) for p in out.glob("*/10/*.json")]
    assert len(recs) == 2
    for rec in recs:
        assert (rec["recall"], rec["epsilon_recall"], rec["recall_1_at_k"]) == (1.0, 1.0, 1.0), rec["run"]


def test_truth_is_rescored_with_the_runs_arithmetic():
    ds = _tiny_ds()
    truth = runner.truth_distances(ds, 5)
    ref = np.sort(data.pair_distances(ds.train, ds.test, ds.neighbors[:, :5], "euclidean"), axis=1)
    np.testing.assert_array_equal(truth, ref)
    # a run returning the true ids scores 1; one returning the 6th-10th neighbours does not
    assert runner.score(ds, ds.neighbors[:, :5].astype(np.int64), 5)["recall"] == 1.0
    assert runner.score(ds, ds.neighbors[:, 5:10].astype(np.int64), 5)["recall"] < 0.5


def _tiny_ds(d=8, n=400, q=12, distance="euclidean", seed=0):
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((n, d)).astype(np.float32)
    test = rng.standard_normal((q, d)).astype(np.float32)
    nb, di = data.ground_truth(train, test, distance, k=50, progress=False)
    return data.Dataset(f"tiny-{d}-{distance}", train, test, nb, di, distance)


# --------------------------------------------------------------------------------------
# paths, config errors, the console command (issue 16, items 2 and 3)


def _tiny_file(folder: Path, name="small-16-euclidean", d=16) -> Path:
    ds = _tiny_ds(d=d, n=600, q=20)
    return data.write_hdf5(folder / f"{name}.hdf5", ds)


def _python_env(tmp_path):
    env = dict(os.environ, RHTANN_DATA=str(tmp_path / "cache"))
    env.pop("PYTHONPATH", None)
    return env


def test_main_job_from_another_folder_with_relative_paths(tmp_path):
    work = tmp_path / "elsewhere"
    (work / "cfgs").mkdir(parents=True)
    (work / "data").mkdir()
    _tiny_file(work / "data")
    (work / "cfgs" / "mine.yaml").write_text(
        "k: 5\nruns: 1\nthreads: 1\nmax_train: 0\ndistortion_sample: 0\nindexes: [Flat, RHT,SQ8]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--config", "cfgs/mine.yaml", "--dataset",
         "data/small-16-euclidean.hdf5", "--out", "res", "--no-progress"],
        cwd=work, capture_output=True, text=True, timeout=600, env=_python_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (work / "res" / "results.csv").is_file()
    assert len(list((work / "res" / "small-16-euclidean" / "5").glob("*.json"))) == 2
    # a missing relative dataset says where it looked, in one line
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--config", "cfgs/mine.yaml", "--dataset", "data/absent.hdf5",
         "--no-progress"], cwd=work, capture_output=True, text=True, timeout=600, env=_python_env(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and str(work / "data" / "absent.hdf5") in proc.stderr


def test_dataset_paths_in_a_config_are_found_from_the_callers_or_the_configs_folder(tmp_path, monkeypatch):
    (tmp_path / "conf" / "d").mkdir(parents=True)
    _tiny_file(tmp_path / "conf" / "d")
    (tmp_path / "conf" / "c.yaml").write_text("datasets: [d/small-16-euclidean.hdf5]\nindexes: [Flat]\n")
    monkeypatch.chdir(tmp_path)
    cfg = config.load("conf/c.yaml")
    assert cfg.datasets[0].name == str(tmp_path / "conf" / "d" / "small-16-euclidean.hdf5")
    assert cfg.source == str(tmp_path / "conf" / "c.yaml")


def test_run_sh_keeps_the_callers_folder():
    text = (REPO / "bench" / "run.sh").read_text()
    assert "\ncd " not in text  # no change of folder before the harness runs
    assert 'exec "$VENV/bin/rhtann-bench" "$@"' in text


@pytest.mark.parametrize("body, key", [
    ("indexes:\n  - spec: Flat\n    query: 3\n", "indexes[0].query"),
    ("indexes:\n  - {spec: Flat, colour: red}\n", "indexes[0] has unknown keys ['colour']"),
    ("indexes: [Flat]\nruns: 0\n", "runs must be"),
    ("indexes: [Flat]\nmax_train: -1\n", "max_train must be"),
    ("indexes: [Flat]\ndatasets:\n  - {optional: true}\n", "datasets[0]"),
    ("indexes:\n  - {contender: nosuch}\n", "indexes[0].contender: unknown contender 'nosuch'"),
    ("indexes:\n  - {contender: faiss}\n", "indexes[0] needs a 'spec'"),
    ("indexes: [Flat\n", "not valid YAML at line"),
    ("k: 3\n", "'indexes' must list"),
])
def test_config_mistakes_are_one_line_errors_naming_the_key(tmp_path, capsys, body, key):
    (tmp_path / "bad.yaml").write_text(body)
    assert main(["--config", str(tmp_path / "bad.yaml"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config ") and err.count("\n") == 1 and key in err
    assert "Traceback" not in err


def test_missing_config_is_a_one_line_error_with_its_absolute_path(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--config", "nope.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "nope.yaml") in err


def test_max_train_zero_in_yaml_means_the_same_as_on_the_command_line(tmp_path):
    cfg = config.parse({"indexes": ["Flat"], "max_train": 0, "max_queries": 0})
    assert cfg.max_train is None and cfg.max_queries is None
    cfg = config.parse({"indexes": ["Flat"], "datasets": [{"name": "x", "max_queries": 0}]})
    assert cfg.datasets[0].max_queries == 0
    # both ways keep every train vector of a file
    path = _tiny_file(tmp_path)
    for extra, yaml_line in ((["--max-train", "0"], ""), ([], "max_train: 0\n")):
        (tmp_path / "c.yaml").write_text("k: 5\nruns: 1\nthreads: 1\nmax_train: 100\n" * (not yaml_line)
                                         + yaml_line + "indexes: [Flat]\n")
        out = tmp_path / ("o" + str(len(extra)))
        assert main(["--config", str(tmp_path / "c.yaml"), "--dataset", str(path), "--out", str(out),
                     "--no-progress", *extra]) == 0
        rec = json.loads(next(out.glob("*/*/*.json")).read_text())
        assert rec["n_train"] == 600 and rec["subsampled"] == ""


def _console_script() -> Path | None:
    path = Path(sys.executable).parent / "rhtann-bench"
    return path if path.exists() else None


@pytest.mark.skipif(_console_script() is None, reason="rhtann-bench not installed in this environment")
def test_console_command_works_from_any_folder(tmp_path):
    _tiny_file(tmp_path)
    (tmp_path / "c.yaml").write_text("k: 5\nruns: 1\nthreads: 1\ndistortion_sample: 0\nindexes: [Flat]\n")
    env = _python_env(tmp_path)
    proc = subprocess.run([str(_console_script()), "--list-contenders"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    for name in ("rhtann", "faiss", "turbovec", "rabitqlib"):
        assert f"\n{name} " in proc.stdout
    proc = subprocess.run([str(_console_script()), "--config", "c.yaml", "--dataset",
                           "small-16-euclidean.hdf5", "--out", "r", "--no-progress"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(next((tmp_path / "r").glob("*/5/*.json")).read_text())["recall"] == 1.0


def test_console_command_is_declared_and_bench_is_packaged():
    import tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["rhtann-bench"] == "bench.cli:console"
    assert "bench*" in meta["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(r.startswith("turbovec") for r in meta["project"]["optional-dependencies"]["bench"])
    assert any(r.startswith("rabitqlib") for r in meta["project"]["optional-dependencies"]["bench"])


def test_license_is_mit_with_the_copyright_line():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the rhtann authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text


# --------------------------------------------------------------------------------------
# contenders


def test_list_contenders_names_every_contender_and_its_availability(capsys):
    assert main(["--list-contenders"]) == 0
    out = capsys.readouterr().out.splitlines()
    for name, cls in contenders.CONTENDERS.items():
        line = next(line for line in out if line.startswith(name + " "))
        assert ("yes" if cls.available()[0] else "no") in line.split()[1]


def test_a_new_contender_is_one_small_class(tmp_path):
    class NumpyExact(contenders.Contender):
        name = "numpy-exact"
        description = "brute force in numpy"

        def fit(self, x):
            self.x = x.astype(np.float64)

        def batch_query(self, q, k):
            dist = ((q[:, None, :].astype(np.float64) - self.x[None]) ** 2).sum(-1)
            return np.argsort(dist, axis=1, kind="stable")[:, :k]

        @property
        def bytes_per_vector(self):
            return 8 * self.d

    contenders.register(NumpyExact)
    try:
        path = _tiny_file(tmp_path)
        (tmp_path / "c.yaml").write_text("k: 5\nruns: 1\nthreads: 1\nindexes:\n  - contender: numpy-exact\n")
        assert main(["--config", str(tmp_path / "c.yaml"), "--dataset", str(path), "--out",
                     str(tmp_path / "o"), "--no-progress"]) == 0
        rec = json.loads(next((tmp_path / "o").glob("*/5/*.json")).read_text())
        assert rec["contender"] == "numpy-exact" and rec["recall"] == 1.0 and rec["bytes_per_vector"] == 128
        assert rec["label"] == "numpy-exact" and rec["quantizer"] == "numpy-exact"
    finally:
        contenders.CONTENDERS.pop("numpy-exact")


def test_missing_peer_is_skipped_with_a_one_line_note(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(contenders.TurboVec, "requires", ("no_such_module_xyz",))
    ds = _tiny_ds(d=16, distance="angular")
    cfg = config.parse({"k": 5, "runs": 1, "indexes": [{"contender": "turbovec"}, "Flat"]})
    recs = runner.run_dataset(ds, cfg, tmp_path, 1, progress=False)
    assert [r["contender"] for r in recs] == ["rhtann"]
    out = capsys.readouterr().out
    assert ("skipping contender turbovec: not installed (no_such_module_xyz missing; "
            "pip install turbovec)") in out


def _check_contender(c, ds, k, min_recall):
    c.set_threads(1)
    c.fit(ds.train)
    ids = c.batch_query(ds.test, k)
    assert ids.shape == (len(ds.test), k) and ids.dtype == np.int64
    np.testing.assert_array_equal(c.query(ds.test[3], k), ids[3])
    assert runner.score(ds, ids, k)["recall"] >= min_recall
    return ids


def test_turbovec_contender():
    pytest.importorskip("turbovec")
    ds = _tiny_ds(d=60, n=3000, q=40, distance="angular", seed=4)  # 60: padded to 64
    c = contenders.TurboVec(60, "cosine", bit_width=4)
    _check_contender(c, ds, 10, 0.6)
    # 4 bits x 64 padded dims = 32 bytes of code, plus turbovec's per-vector scale
    assert 32 <= c.bytes_per_vector < 64 and c.label == "turbovec b4" and c.quantizer == "TQ4"
    with pytest.raises(contenders.Unsupported, match="inner product"):
        contenders.TurboVec(64, "l2")
    with pytest.raises(ValueError, match="bit_width must be 2, 3 or 4"):
        contenders.TurboVec(64, "cosine", bit_width=1)


def test_rabitqlib_contender_flat_and_ivf():
    pytest.importorskip("rabitqlib")
    ds = _tiny_ds(d=64, n=3000, q=40, seed=5)
    flat = contenders.RaBitQLib(64, "l2", bits=4)
    _check_contender(flat, ds, 10, 0.7)
    assert 32 <= flat.bytes_per_vector < 80 and flat.quantizer == "RaBitQ4"
    ivf = contenders.RaBitQLib(64, "l2", nlist=16, bits=4)
    ivf.set_query_arguments(nprobe=16)  # all lists: as good as the flat scan
    _check_contender(ivf, ds, 10, 0.7)
    ivf.set_query_arguments(nprobe=1)
    assert runner.score(ds, ivf.batch_query(ds.test, 10), 10)["recall"] < 0.9
    with pytest.raises(contenders.Unsupported, match="below 64"):
        contenders.RaBitQLib(32, "l2")


# --------------------------------------------------------------------------------------
# the first-compile note (issue 16, item 6)


def test_compile_note_is_said_once_and_only_when_slow(monkeypatch):
    import io

    monkeypatch.setattr(firstuse, "_said", False)
    buf = io.StringIO()
    with firstuse.compile_note(after=0.5, stream=buf):
        pass  # fast: silent
    assert buf.getvalue() == ""
    with firstuse.compile_note(after=0.05, stream=buf):
        time.sleep(0.3)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2 and "compiling its numba kernels" in lines[0] and "kernels ready" in lines[1]
    with firstuse.compile_note(after=0.0, stream=buf):
        time.sleep(0.1)
    assert len(buf.getvalue().splitlines()) == 2  # never again in this process


def test_dataset_only_list_restricts_the_indexes_run_on_it(tmp_path):
    raw = {"k": 5, "runs": 1, "indexes": ["Flat", "SQ8", {"contender": "faiss", "spec": "SQ4"}],
           "datasets": [{"name": "a", "only": ["Flat", "SQ4"]}, "b"]}
    cfg = config.parse(raw)
    only = cfg.datasets[0]
    assert [only.runs_entry(e, cfg.contender_of(e)) for e in cfg.indexes] == [True, False, True]
    assert all(cfg.datasets[1].runs_entry(e, "rhtann") for e in cfg.indexes)
    with pytest.raises(config.ConfigError, match=r"datasets\[0\].only names \['PQ8'\]"):
        config.parse(dict(raw, datasets=[{"name": "a", "only": ["PQ8"]}]))
    ds = _tiny_ds(d=8)
    recs = runner.run_dataset(ds, cfg, tmp_path, 1, progress=False, entry=only)
    assert sorted((r["contender"], r["spec"]) for r in recs) == [("faiss", "SQ4"), ("rhtann", "Flat")]
