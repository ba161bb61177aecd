"""rhtann.Index: equivalence with faiss, metrics, persistence, errors, SIFT10K recall."""

from __future__ import annotations

import struct

import faiss
import numpy as np
import pytest
from faiss.contrib.evaluation import knn_intersection_measure

import rhtann
from rhtann import FormatError
from rhtann.faiss_compat import repair_orthonormal

D96 = 96  # not a power of two: the padded transform maps it to 128


# small faiss builds: one thread avoids OpenMP spinning against numba's pool on
# the shared CI cores (the threads test checks per-index settings itself)
pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    # Anisotropic Gaussian data, so that rotations matter for the quantizers.
    scale = np.geomspace(0.1, 3.0, D96).astype(np.float32)
    xb = (rng.standard_normal((3000, D96)) * scale).astype(np.float32)
    xq = (rng.standard_normal((40, D96)) * scale).astype(np.float32)
    return xb, xq


def _build(spec, xb, metric="l2", **kw):
    index = rhtann.Index(D96, spec, metric, **kw)
    index.train(xb)
    index.add(xb)
    return index


# ----------------------------------------------------------------------
# equivalence: rhtann.Index == manual rotation + faiss == to_faiss()
# ----------------------------------------------------------------------

EQUIV = [
    ("RHT,SQ8", "SQ8", {}),
    ("RHT,IVF16,SQ4", "IVF16,SQ4", {"nprobe": 4}),
    ("RHT2,PQ8x4fs", "PQ8x4fs", {}),
    ("RHT1,IVF16,Flat", "IVF16,Flat", {"nprobe": 3}),
    ("RHT3pad,HNSW16,SQ8", "HNSW16,SQ8", {"efSearch": 32}),
    ("RHT,IVF16,PQ8x4fs,RFlat", "IVF16,PQ8x4fs,RFlat", {"nprobe": 4, "k_factor": 4}),
    ("RHT,RaBitQ", "RaBitQ", {}),
]


def _faiss_params(params):
    p = faiss.SearchParametersIVF(nprobe=params["nprobe"]) if "nprobe" in params else None
    if "efSearch" in params:
        p = faiss.SearchParametersHNSW(efSearch=params["efSearch"])
    if "k_factor" in params:
        p = faiss.IndexRefineSearchParameters(k_factor=params["k_factor"], base_index_params=p)
    return p


@pytest.mark.parametrize("spec, key, params", EQUIV)
def test_equals_manual_rotation_plus_faiss(data, spec, key, params):
    xb, xq = data
    index = _build(spec, xb)
    D, I = index.search(xq, 10, **params)  # noqa: E741
    rht = index.rht
    manual = faiss.index_factory(rht.d_out, key)
    manual.train(rht.apply(xb))
    manual.add(rht.apply(xb))
    Dm, Im = manual.search(rht.apply(xq), 10, params=_faiss_params(params))
    # Same kernel, same faiss calls: bit-identical.
    np.testing.assert_array_equal(I, Im)
    np.testing.assert_array_equal(D, Dm)
    assert D.dtype == np.float32 and I.dtype == np.int64 and I.shape == (len(xq), 10)


@pytest.mark.parametrize("spec, key, params", EQUIV)
def test_to_faiss_same_results(data, spec, key, params, tmp_path):
    xb, xq = data
    index = _build(spec, xb)
    D, I = index.search(xq, 10, **params)  # noqa: E741
    exported = index.to_faiss()
    assert isinstance(exported, faiss.IndexPreTransform) and exported.d == D96
    # Plain faiss writes and reads it.
    path = str(tmp_path / "exported.faiss")
    faiss.write_index(exported, path)
    loaded = faiss.read_index(path)
    repair_orthonormal(loaded)
    for fx in (exported, loaded):
        Df, If = fx.search(xq, 10, params=_faiss_params(params))
        if index.rht.rounds == 3:
            # faiss.HadamardRotation computes bit-identical rotated vectors.
            assert isinstance(faiss.downcast_VectorTransform(fx.chain.at(0)), faiss.HadamardRotation)
            np.testing.assert_array_equal(If, I)
            np.testing.assert_array_equal(Df, D)
        else:
            # A LinearTransform rounds differently in the last bits, which can
            # flip a code on a quantization boundary: nearly all ids agree and
            # distances agree to float32 noise relative to their scale.
            assert (If == I).mean() >= 0.97
            np.testing.assert_allclose(np.sort(Df, axis=1)[:, :5], np.sort(D, axis=1)[:, :5],
                                       rtol=2e-3, atol=1e-3 * float(np.abs(D).max()))


def test_plain_faiss_spec_has_no_rht(data):
    xb, xq = data
    for spec in ("SQ4", "HR,SQ4", "RR,SQ4"):
        index = _build(spec, xb)
        assert index.rht is None and index.d_out == D96
        ref = faiss.index_factory(D96, spec)
        ref.train(xb)
        ref.add(xb)
        D, I = index.search(xq, 5)  # noqa: E741
        Dr, Ir = ref.search(xq, 5)
        np.testing.assert_array_equal(I, Ir)
        np.testing.assert_array_equal(D, Dr)
        assert index.bytes_per_vector == ref.sa_code_size()


def test_rht_equals_faiss_hr(data):
    # "RHT,<key>" with seed s and faiss "HR<s>,<key>" are the same index.
    xb, xq = data
    for seed in (1, 99):
        index = _build("RHT,SQ4", xb, seed=seed)
        hr = faiss.index_factory(D96, f"HR{seed},SQ4")
        hr.train(xb)
        hr.add(xb)
        np.testing.assert_array_equal(index.search(xq, 10)[1], hr.search(xq, 10)[1])


def test_wrap_into_factory_pipeline(data):
    xb, xq = data
    rht = rhtann.RHT(D96, rounds=2, seed=5)
    pipeline = rhtann.wrap(faiss.index_factory(rht.d_out, "IVF16,SQ8"), rht)
    assert isinstance(pipeline, faiss.IndexPreTransform) and pipeline.d == D96
    pipeline.train(xb)
    pipeline.add(xb)
    index = _build("RHT2,IVF16,SQ8", xb, seed=5)
    Dw, Iw = pipeline.search(xq, 10, params=faiss.SearchParametersIVF(nprobe=4))
    D, I = index.search(xq, 10, nprobe=4)  # noqa: E741
    assert (Iw == I).mean() >= 0.97  # LinearTransform vs kernel rounding, as above
    with pytest.raises(ValueError, match=r"faiss_index.d must equal rht.d_out = 128"):
        rhtann.wrap(faiss.index_factory(D96, "SQ8"), rht)
    with pytest.raises(TypeError, match="rht must be an rhtann.RHT"):
        rhtann.wrap(faiss.index_factory(128, "SQ8"), "HR")


# ----------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------


def _ties_ok(D, I, Dref, Iref, rtol=1e-4):  # noqa: E741
    """Ids agree wherever distances are not tied within rtol; distances agree."""
    np.testing.assert_allclose(D, Dref, rtol=rtol, atol=rtol * float(np.abs(Dref).max()))
    faiss.contrib.evaluation.check_ref_knn_with_draws(Dref, Iref, D, I, rtol=rtol)


def test_ip_against_brute_force(data):
    xb, xq = data
    index = _build("RHT,Flat", xb, "ip")
    D, I = index.search(xq, 10)  # noqa: E741
    sims = xq.astype(np.float64) @ xb.T.astype(np.float64)
    Iref = np.argsort(-sims, axis=1)[:, :10]
    Dref = np.take_along_axis(sims, Iref, 1).astype(np.float32)
    _ties_ok(D, I, Dref, Iref)


def test_cosine_against_brute_force(data):
    xb, xq = data
    xb_scaled = xb * np.random.default_rng(3).uniform(0.1, 10, (len(xb), 1)).astype(np.float32)
    index = _build("RHT,Flat", xb_scaled, "cosine")
    D, I = index.search(xq * 3.0, 10)  # noqa: E741
    nb = xb_scaled / np.linalg.norm(xb_scaled, axis=1, keepdims=True)
    nq = xq / np.linalg.norm(xq, axis=1, keepdims=True)
    sims = nq.astype(np.float64) @ nb.T.astype(np.float64)
    Iref = np.argsort(-sims, axis=1)[:, :10]
    Dref = np.take_along_axis(sims, Iref, 1).astype(np.float32)
    _ties_ok(D, I, Dref, Iref)
    assert np.all(D <= 1.0 + 1e-5)
    # the exported faiss index normalizes too
    Df, If = index.to_faiss().search(xq * 3.0, 10)
    _ties_ok(Df, If, Dref, Iref)
    # "angular" is the same metric
    assert rhtann.Index(D96, "RHT,Flat", "angular").metric == "cosine"


def test_l2_flat_is_exact(data):
    xb, xq = data
    index = _build("RHT2,Flat", xb)
    D, I = index.search(xq, 10)  # noqa: E741
    ref = faiss.IndexFlatL2(D96)
    ref.add(xb)
    Dref, Iref = ref.search(xq, 10)
    _ties_ok(D, I, Dref, Iref, rtol=1e-4)


# ----------------------------------------------------------------------
# add / ids / remove / reconstruct / chunks / threads / stats
# ----------------------------------------------------------------------


def test_chunked_add_equals_one_shot(data):
    xb, xq = data
    one = _build("RHT,SQ8", xb)
    chunked = rhtann.Index(D96, "RHT,SQ8", chunk_size=257)
    chunked.train(xb)
    chunked.add(xb[:1000])
    chunked.add(xb[1000:].astype(np.float64))  # converted per chunk
    assert chunked.ntotal == one.ntotal == len(xb)
    np.testing.assert_array_equal(chunked.search(xq, 10)[1], one.search(xq, 10)[1])


def test_add_reads_memmap_in_chunks(data, tmp_path):
    xb, xq = data
    mm = np.lib.format.open_memmap(tmp_path / "xb.npy", mode="w+", dtype=np.float32, shape=xb.shape)
    mm[:] = xb
    mm.flush()
    index = rhtann.Index(D96, "RHT,SQ8", chunk_size=700, progress=True)
    index.train(xb)
    sizes = []
    orig = rhtann.RHT._forward  # the trusted rotation Index calls below its edge

    def spy(self, x, rounds, out, name, **kwargs):
        sizes.append(len(x))
        return orig(self, x, rounds, out, name, **kwargs)

    rhtann.RHT._forward = spy
    try:
        index.add(np.load(tmp_path / "xb.npy", mmap_mode="r"))
    finally:
        rhtann.RHT._forward = orig
    # one chunk is read and rotated at a time
    assert sizes == [700, 700, 700, 700, 200]
    np.testing.assert_array_equal(index.search(xq, 5)[1], _build("RHT,SQ8", xb).search(xq, 5)[1])
    assert rhtann.Index(1000, "RHT,SQ8").chunk_size == 64 * 2**20 // (4 * 1024)


def test_add_with_ids_flat_codes_and_ivf(data):
    xb, xq = data
    ids = np.arange(len(xb), dtype=np.int64) * 10 + 7
    for spec in ("RHT,SQ8", "RHT,IVF16,SQ8"):
        index = rhtann.Index(D96, spec)
        index.train(xb)
        index.add_with_ids(xb, ids)
        plain = _build(spec, xb)
        p = {"nprobe": 16} if "IVF" in spec else {}
        _, I = index.search(xq, 5, **p)  # noqa: E741
        _, Ip = plain.search(xq, 5, **p)
        np.testing.assert_array_equal(I, ids[Ip])
        # a later add() continues with sequential ids
        index.add(xb[:2])
        assert index.ntotal == len(xb) + 2
    with pytest.raises(ValueError, match=r"ids must be a 1-D integer array of length 3000"):
        rhtann.Index(D96, "RHT,SQ8").add_with_ids(xb, ids[:5])


def test_add_with_ids_after_add_on_flat_codes(data):
    xb, _ = data
    index = _build("RHT,SQ8", xb)
    with pytest.raises(RuntimeError, match="stores no ids"):
        index.add_with_ids(xb[:3], np.array([1, 2, 3]))


def test_remove_ids(data):
    xb, xq = data
    index = _build("RHT,IVF16,SQ8", xb)
    _, I = index.search(xq[:1], 1)  # noqa: E741
    first = int(I[0, 0])
    assert index.remove_ids(np.array([first])) == 1
    assert index.ntotal == len(xb) - 1
    _, I2 = index.search(xq[:1], 5, nprobe=16)
    assert first not in I2
    hnsw = _build("RHT,HNSW16,SQ8", xb[:500])
    with pytest.raises(NotImplementedError, match="cannot remove"):
        hnsw.remove_ids([0])


@pytest.mark.parametrize("spec, tol", [("RHT,Flat", 1e-5), ("RHT2,Flat", 1e-5), ("RHT,SQ8", 0.05),
                                       ("RHT,IVF16,SQ8", 0.05)])
def test_reconstruct_through_exact_inverse(data, spec, tol):
    xb, _ = data
    index = _build(spec, xb)
    ids = np.array([0, 5, 2999])
    rec = index.reconstruct(ids)
    assert rec.shape == (3, D96) and rec.dtype == np.float32
    rel = np.linalg.norm(rec - xb[ids], axis=1) / np.linalg.norm(xb[ids], axis=1)
    assert rel.max() < tol
    np.testing.assert_array_equal(index.reconstruct(5), rec[1])


def test_reconstruct_missing_id(data):
    xb, _ = data
    index = _build("RHT,Flat", xb[:100])
    with pytest.raises(KeyError, match="cannot reconstruct id 500"):
        index.reconstruct(500)


def test_threads_setting_applies_and_restores(data):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 threads")
    xb, xq = data
    before = (numba.get_num_threads(), faiss.omp_get_max_threads())
    assert before == (1, 1)  # the module fixture
    index = _build("RHT,SQ8", xb, threads=2)
    ref = _build("RHT,SQ8", xb)
    np.testing.assert_array_equal(index.search(xq, 5)[1], ref.search(xq, 5)[1])
    assert (numba.get_num_threads(), faiss.omp_get_max_threads()) == before
    seen = []
    orig = faiss.IndexScalarQuantizer.search

    def spy(self, *a, **k):
        seen.append((numba.get_num_threads(), faiss.omp_get_max_threads()))
        return orig(self, *a, **k)

    faiss.IndexScalarQuantizer.search = spy
    try:
        index.search(xq, 5)
    finally:
        faiss.IndexScalarQuantizer.search = orig
    assert seen == [(2, 2)]
    assert (numba.get_num_threads(), faiss.omp_get_max_threads()) == before
    with pytest.raises(ValueError, match="threads must be"):
        rhtann.Index(D96, "RHT,SQ8", threads=0)


def test_stats_and_bytes(data):
    xb, xq = data
    index = _build("RHT,IVF16,SQ4", xb)
    s = index.stats
    assert s["transform_s"] > 0 and s["train_s"] >= s["transform_s"] * 0 and s["add_s"] > 0
    assert s["train_s"] + s["add_s"] >= s["transform_s"]
    index.search(xq, 3)
    assert s["search_s"] > 0 and s["search_transform_s"] > 0
    assert index.bytes_per_vector == 64  # SQ4 at d_out = 128
    assert _build("RHT,IVF16,PQ8x4fs,RFlat", xb).bytes_per_vector == 4 + 4 * 128
    assert rhtann.Index(D96, "RHT,RaBitQ").bytes_per_vector == faiss.index_factory(128, "RaBitQ").code_size


def test_search_params_pass_through(data):
    xb, xq = data
    index = _build("RHT,IVF16,SQ8", xb)
    a = index.search(xq, 5, nprobe=2)
    b = index.search(xq, 5, params=faiss.SearchParametersIVF(nprobe=2))
    np.testing.assert_array_equal(a[1], b[1])
    full = index.search(xq, 5, nprobe=16)[1]
    assert not np.array_equal(a[1], full)  # nprobe actually reaches faiss


# ----------------------------------------------------------------------
# persistence
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, metric",
    [("RHT,IVF16,SQ4", "l2"), ("RHT2,PQ8x4fs", "ip"), ("SQ8", "cosine"), ("RHT,SQ8", "cosine")],
)
def test_save_load_round_trip(data, tmp_path, spec, metric):
    xb, xq = data
    index = _build(spec, xb, metric, seed=77)
    path = tmp_path / "index.rht"
    index.save(path)
    loaded = rhtann.load(path)
    assert isinstance(loaded, rhtann.Index)
    assert (loaded.spec, loaded.metric, loaded.seed, loaded.ntotal) == (
        index.spec, index.metric, 77, index.ntotal)
    assert (loaded.rht is None) == (index.rht is None)
    p = {"nprobe": 4} if "IVF" in spec else {}
    for a, b in zip(index.search(xq, 10, **p), loaded.search(xq, 10, **p), strict=True):
        np.testing.assert_array_equal(a, b)
    loaded.add(xb[:10])  # still usable
    assert loaded.ntotal == index.ntotal + 10


@pytest.fixture
def saved(data, tmp_path):
    xb, _ = data
    path = tmp_path / "index.rht"
    _build("RHT,SQ8", xb[:300]).save(path)
    return path


def test_truncated_file_rejected(saved):
    raw = saved.read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 1):
        saved.write_bytes(raw[:cut])
        with pytest.raises(FormatError, match="truncated|checksum"):
            rhtann.load(saved)


def test_bit_flipped_file_rejected(saved):
    raw = bytearray(saved.read_bytes())
    for pos in (len(raw) // 2, len(raw) - 40):
        bad = bytearray(raw)
        bad[pos] ^= 0x10
        saved.write_bytes(bytes(bad))
        with pytest.raises(FormatError, match="checksum"):
            rhtann.load(saved)


def test_foreign_and_future_files_rejected(saved, tmp_path):
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"\x93NUMPY" + bytes(200))
    with pytest.raises(FormatError, match="not an rhtann file"):
        rhtann.load(foreign)
    faiss_file = tmp_path / "x.faiss"
    faiss.write_index(faiss.IndexFlatL2(8), str(faiss_file))
    with pytest.raises(FormatError, match="not an rhtann file"):
        rhtann.Index.load(faiss_file)
    rht_file = tmp_path / "t.rht"
    rhtann.RHT(D96).save(rht_file)
    with pytest.raises(FormatError, match="holds a 'RHT' object, not 'Index'"):
        rhtann.Index.load(rht_file)
    raw = bytearray(saved.read_bytes())
    struct.pack_into("<I", raw, 8, 999)
    saved.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="version 999"):
        rhtann.load(saved)


def test_save_is_atomic_on_failure(data, tmp_path, monkeypatch):
    xb, _ = data
    index = _build("RHT,SQ8", xb[:300])
    path = tmp_path / "index.rht"
    index.save(path)
    good = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        _build("RHT,SQ4", xb[:300]).save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.rht"]


# ----------------------------------------------------------------------
# bad inputs
# ----------------------------------------------------------------------


def test_bad_inputs(data):
    xb, xq = data
    index = rhtann.Index(D96, "RHT,SQ8")
    with pytest.raises(RuntimeError, match="not trained; call train"):
        index.search(xq, 5)
    with pytest.raises(RuntimeError, match="not trained; call train"):
        index.add(xb)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 96\); got shape \(3000, 95\)"):
        index.train(xb[:, :95])
    with pytest.raises(ValueError, match="at least one training vector"):
        index.train(xb[:0])
    index.train(xb)
    with pytest.raises(RuntimeError, match="index is empty"):
        index.search(xq, 5)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 96\)"):
        index.add(xb[:, :64])
    with pytest.raises(ValueError, match="2-D array.*reshape"):
        index.add(xb[0])
    with pytest.raises(TypeError, match="float or integer dtype"):
        index.add(xb.astype(complex))
    bad = xb[:10].copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        index.add(bad)
    assert index.ntotal == 0
    index.add(xb)
    with pytest.raises(RuntimeError, match="already holds 3000 vectors"):
        index.train(xb)
    with pytest.raises(ValueError, match=r"q must have shape \(n, 96\); got shape \(40, 97\)"):
        index.search(np.zeros((40, 97)), 5)
    badq = xq.copy()
    badq[0, 0] = np.inf
    with pytest.raises(ValueError, match="q contains NaN or infinite"):
        index.search(badq, 5)
    with pytest.raises(ValueError, match=r"k must be in \[1, 1048576\]; got 0"):
        index.search(xq, 0)
    with pytest.raises(ValueError, match=r"k must be in \[1, 1048576\]; got -3"):
        index.search(xq, -3)
    with pytest.raises(TypeError, match="k must be an integer"):
        index.search(xq, 2.5)
    with pytest.raises(ValueError, match="k must be <= ntotal = 3000; got k=3001"):
        index.search(xq, 3001)
    with pytest.raises(TypeError, match=r"unknown search parameter\(s\) \['nprob'\]"):
        index.search(xq, 5, nprob=3)
    with pytest.raises(ValueError, match="nprobe applies to IVF indexes"):
        index.search(xq, 5, nprobe=3)
    with pytest.raises(ValueError, match="efSearch applies to HNSW"):
        index.search(xq, 5, efSearch=3)
    with pytest.raises(ValueError, match="k_factor applies to refined"):
        index.search(xq, 5, k_factor=3)


def test_bad_inputs_plain_faiss_spec(data):
    xb, xq = data
    index = _build("SQ8", xb)
    bad = xq.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="q contains NaN"):
        index.search(bad, 5)
    with pytest.raises(ValueError, match="x contains NaN"):
        index.add(bad)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"d must be in \[1, 1048576\]"):
        rhtann.Index(0, "RHT,SQ8")
    with pytest.raises(ValueError, match="unknown RHT token"):
        rhtann.Index(64, "RHT-2,SQ8")
    with pytest.raises(ValueError, match="metric must be one of"):
        rhtann.Index(64, "RHT,SQ8", "hamming")
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        rhtann.Index(64, "RHT,SQ8", chunk_size=0)
    with pytest.raises(ValueError, match="adaptive=True needs an RHT token"):
        rhtann.Index(64, "SQ8", adaptive=True)
    assert isinstance(rhtann.index_factory(64, "RHT,SQ8", "ip"), rhtann.Index)


# ----------------------------------------------------------------------
# SIFT10K
# ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sift():
    from pathlib import Path

    from faiss.contrib.vecs_io import fvecs_read, ivecs_read

    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "siftsmall"
    if not (folder / "siftsmall_base.fvecs").exists():
        pytest.skip(f"SIFT10K not found under {folder}")
    xb = fvecs_read(str(folder / "siftsmall_base.fvecs"))
    xq = fvecs_read(str(folder / "siftsmall_query.fvecs"))
    gt = ivecs_read(str(folder / "siftsmall_groundtruth.ivecs"))[:, :10]
    return xb, xq, gt


def _recall(index, xb, xq, gt):
    index.train(xb)
    index.add(xb)
    return knn_intersection_measure(index.search(xq, 10)[1], gt)


SEEDS = (11, 12, 13, 14)


def test_sift_rabitq_needs_the_rotation(sift):
    xb, xq, gt = sift
    plain = _recall(rhtann.Index(128, "RaBitQ"), xb, xq, gt)
    rht = [_recall(rhtann.Index(128, "RHT,RaBitQ", seed=s), xb, xq, gt) for s in SEEDS]
    hr = [_recall(faiss.index_factory(128, f"HR{s},RaBitQ"), xb, xq, gt) for s in SEEDS]
    print(f"\nSIFT10K recall@10 RaBitQ: none {plain:.3f}, RHT {np.mean(rht):.3f} "
          f"+- {np.std(rht, ddof=1):.3f}, faiss HR {np.mean(hr):.3f}")
    # shared/README: 0.427 without rotation, 0.529 with HR (8 seeds). Across
    # seeds the rotated recall spreads by about 0.02 (1000 query-neighbour
    # pairs), so 0.05 above the plain index is a margin of more than 2 spreads
    # for every single seed.
    assert min(rht) > plain + 0.05
    # The same seed is the same transform as faiss HR: equal recall per seed,
    # a fortiori within the seed-to-seed spread.
    assert rht == hr


def test_sift_report_sq4_and_pq(sift, record_property):
    # Report only: a rotation is known to hurt PQ on SIFT (correlated
    # dimensions are grouped in its natural order), and SQ4 hardly moves.
    xb, xq, gt = sift
    # PQ16x4fs (16 centroids per sub-quantizer, fast-scan) keeps training short.
    for key in ("SQ4", "PQ16x4fs"):
        plain_index = rhtann.Index(128, key)
        plain = _recall(plain_index, xb, xq, gt)
        rot_index = rhtann.Index(128, f"RHT,{key}", seed=SEEDS[0])
        rot = _recall(rot_index, xb, xq, gt)
        assert plain_index.bytes_per_vector == rot_index.bytes_per_vector
        assert 0.3 < plain <= 1.0 and 0.3 < rot <= 1.0
        record_property(f"{key}_recall_none", plain)
        record_property(f"{key}_recall_rht", rot)
        print(f"\nSIFT10K recall@10 {key}: none {plain:.3f}, RHT {rot:.3f}")


# ----------------------------------------------------------------------
# other layouts and rounds="auto"
# ----------------------------------------------------------------------


# RHTauto before a trained quantizer (SQ8, PQ) chooses by held-out distortion
# instead (tests/test_index_trained_rounds.py); SQfp16 is data-oblivious.
@pytest.mark.parametrize("spec", ["RHT1keep,SQ8", "RHT2auto,IVF16,SQ8", "RHTauto,SQfp16", "RHTautokeep,Flat"])
def test_layouts_and_auto_rounds(data, spec, tmp_path):
    xb, xq = data
    index = rhtann.Index(D96, spec)
    index.train(xb)
    index.add(xb)
    rht = index.rht
    assert rht.layout == index.spec.layout and rht.n_rounds in (1, 2, 3)
    if index.spec.rounds == "auto":
        assert rht.auto_report_ is not None  # chosen from the training data
    else:
        assert rht.n_rounds == index.spec.rounds
    if rht.layout == "keep":
        assert index.d_out == D96 and index.sub_index.d == D96  # no padding bytes
    p = {"nprobe": 16} if "IVF" in spec else {}
    D, I = index.search(xq, 10, **p)  # noqa: E741
    # manual rotation + faiss gives the same result bit for bit
    manual = faiss.index_factory(rht.d_out, index.spec.faiss_key)
    manual.train(rht.apply(xb))
    manual.add(rht.apply(xb))
    np.testing.assert_array_equal(manual.search(rht.apply(xq), 10, params=_faiss_params(p))[1], I)
    # the faiss export (a LinearTransform) agrees up to float32 rounding
    If = index.to_faiss().search(xq, 10, params=_faiss_params(p))[1]
    assert (If == I).mean() >= 0.97
    path = tmp_path / "i.rht"
    index.save(path)
    loaded = rhtann.load(path)
    assert loaded.rht == rht
    np.testing.assert_array_equal(loaded.search(xq, 10, **p)[1], I)
    if "Flat" in spec:
        np.testing.assert_allclose(index.reconstruct(np.arange(4)), xb[:4], atol=1e-4)
