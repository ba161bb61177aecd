"""rhtann.Index over rhtann's own codecs (rhtann.index.codec): tokens, search, files, errors."""

from __future__ import annotations

import numpy as np
import pytest

import rhtann
from rhtann.codecs.lloydmax import TQ
from rhtann.codecs.registry import codec_from_state, is_codec_token, make_codec, parse_token
from rhtann.index.codec import CodecIndex, claims, parse_codec_key
from rhtann.index.spec import parse_spec

D = 40
N = 800
NQ = 25
K = 10

FLAT_SPECS = [
    "RHT1,DTQ4",
    "RHT1keep,DTQ2",
    "RHT2,DSQ4",
    "RHT3,E8Q2",
    "RHT3keep,E8Q3",
    "RHT3,E8Q4",
    "RHT2,DRIVE1",
    "RHT2keep,TQ4r8h",
    "RHT2,TQ2",
    "RHT2,TQ3",
    "RHT2,TQ8",
    "RHTauto,DTQ4",
    "RHTauto,E8Q2",
    "DTQ4",
    "RHT2keep,Center,TQ4",
    "RHTauto,Center,E8Q2",
]
IVF_SPECS = ["RHT,IVF8,TQ4", "RHT2keep,IVF8,TQ2h", "RHT2keep,IVF8,Center,TQ4"]
REFINE_SPECS = ["RHT,DTQ4,RFlat", "RHT3,E8Q2,RFlat", "RHT,IVF8,TQ4,RFlat", "RHT,Center,DTQ4,RFlat",
                "RHT,IVF8,Center,TQ4,RFlat"]
ALL_SPECS = FLAT_SPECS + IVF_SPECS + REFINE_SPECS


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((8, D)).astype(np.float32) * 2
    x = (centers[rng.integers(0, 8, N)] + rng.standard_normal((N, D))).astype(np.float32)
    q = (centers[rng.integers(0, 8, NQ)] + rng.standard_normal((NQ, D))).astype(np.float32)
    return x, q


def _built(spec: str, metric: str, x: np.ndarray) -> CodecIndex:
    index = rhtann.Index(D, spec, metric, seed=3)
    index.train(x)
    index.add(x)
    return index


def _brute(q: np.ndarray, xb: np.ndarray, metric: str, k: int) -> np.ndarray:
    if metric == "cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    if metric == "l2":
        score = 2 * q @ xb.T - np.einsum("ij,ij->i", xb, xb)[None, :]
    else:
        score = q @ xb.T
    return np.argsort(-score, axis=1, kind="stable")[:, :k]


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / truth.shape[1] for f, t in zip(found, truth, strict=True)]))


# -- the token table --------------------------------------------------------------------


def test_registry_knows_tq_tokens() -> None:
    codec = make_codec("TQ4r8h", D, seed=1)
    assert isinstance(codec, TQ)
    assert (codec.bits, codec.extra, codec.scale_dtype) == (4, 8, "float16")
    assert parse_token("TQ2")[0].family == "TQ"
    assert is_codec_token("TQ4r40h") and is_codec_token("DTQ9") and not is_codec_token("SQ4")
    with pytest.raises(ValueError, match="TQ bit width"):
        make_codec("TQ5", D)


@pytest.mark.parametrize("token", ["DTQ3", "DSQ2", "E8Q2", "DRIVE1", "TQ4r8h"])
def test_codec_from_state_round_trip(token: str) -> None:
    y = np.random.default_rng(0).standard_normal((30, D)).astype(np.float32)
    codec = make_codec(token, D, seed=5)
    codec.train(y)
    ids = np.arange(30, dtype=np.int64)
    again = codec_from_state(*codec.get_state())
    assert again.name == codec.name and again.code_size == codec.code_size
    np.testing.assert_array_equal(again.encode(y, ids), codec.encode(y, ids))


def test_claims_and_key_grammar() -> None:
    assert claims("RHT1,DTQ4") and claims("RHT,IVF64,TQ4,RFlat") and claims("E8Q2")
    assert not claims("RHT,SQ4") and not claims("HR,PQ16x4fs") and not claims(None)
    assert parse_codec_key(parse_spec("RHT,IVF64,TQ4r8,RFlat")) == (64, "TQ4r8", True, False)
    assert parse_codec_key(parse_spec("RHT2keep,E8Q3")) == (None, "E8Q3", False, False)
    assert parse_codec_key(parse_spec("RHT,IVF64,Center,TQ4,RFlat")) == (64, "TQ4", True, True)
    assert parse_codec_key(parse_spec("RHT2keep,Center,DTQ4")) == (None, "DTQ4", False, True)
    for bad in ("RHT,TQ4,Center", "RHT,Center,IVF8,TQ4", "RHT,Center,Center,TQ4", "RHT,Center"):
        with pytest.raises(ValueError, match="Center"):
            parse_codec_key(parse_spec(bad))


# -- every token through Index --------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_save_load_gives_equal_results(spec: str, data, tmp_path) -> None:
    x, q = data
    index = _built(spec, "l2", x)
    assert isinstance(index, rhtann.Index) and isinstance(index, CodecIndex)
    assert index.ntotal == N
    D1, I1 = index.search(q, K)
    assert D1.dtype == np.float32 and I1.dtype == np.int64 and D1.shape == (NQ, K)
    assert np.isfinite(D1).all() and (I1 >= 0).all()
    assert (np.diff(D1, axis=1) >= -1e-4 * (1 + np.abs(D1[:, 1:]))).all()  # ascending (L2)
    path = tmp_path / "index.rhtann"
    index.save(path)
    back = rhtann.load(path)
    assert isinstance(back, CodecIndex) and back.spec.text == spec
    assert back.ntotal == N and back.bytes_per_vector == index.bytes_per_vector
    D2, I2 = back.search(q, K)
    np.testing.assert_array_equal(I2, I1)
    np.testing.assert_array_equal(D2, D1)
    np.testing.assert_array_equal(back.reconstruct(np.arange(20)), index.reconstruct(np.arange(20)))
    back2 = rhtann.Index.load(path)
    np.testing.assert_array_equal(back2.search(q, K)[1], I1)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize(
    "spec",
    ["RHT1keep,DTQ4", "RHT3keep,E8Q2", "RHT2keep,TQ4r8h", "RHT2keep,DSQ3", "RHT2keep,TQ2",
     "RHT2keep,Center,TQ4", "RHT1keep,Center,DTQ4"],
)
def test_recall_against_brute_force_on_decoded(spec: str, metric: str, data) -> None:
    # "keep" layouts: d_out == d, so reconstruct() is the decoded vector rotated back exactly
    # (a padded layout drops the decoded energy of the padding coordinates on the way back)
    x, q = data
    index = _built(spec, metric, x)
    decoded = index.reconstruct(np.arange(N))
    assert decoded.shape == (N, D) and decoded.dtype == np.float32
    truth = _brute(q, decoded, metric, K)
    # decode-then-multiply scores the decoded vectors exactly: only float rounding differs
    _, I_gemm = index.search(q, K, method="gemm")
    assert _recall(I_gemm, truth) >= 0.98
    # the default path (fast scan with re-scoring for TQ codecs)
    _, found = index.search(q, K)
    assert _recall(found, truth) >= 0.9


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("spec", ["RHT2keep,TQ4", "RHT2keep,Center,TQ4", "RHT2,Center,TQ2"])
def test_one_query_at_a_time_gives_the_batch_rows(spec: str, metric: str, data) -> None:
    # single queries on one thread take the engine's one-call path (Center's shift or offset
    # inside it; the same dense query rotation, so distances agree to float32 rounding);
    # with more threads a single query's scan is split and keeps more candidates
    x, q = data
    index = rhtann.Index(D, spec, metric, seed=3, threads=1)
    index.train(x + 3.0)
    index.add(x + 3.0)
    calls = []
    one = index.engine._search_one
    index.engine._search_one = lambda *a: calls.append(1) or one(*a)
    for kf in (None, 2):
        params = {} if kf is None else {"k_factor": kf}
        dist, ids = index.search(q + 3.0, K, **params)
        for i in range(NQ):
            di, ii = index.search(q[i : i + 1] + 3.0, K, **params)
            np.testing.assert_array_equal(ii, ids[i : i + 1])
            np.testing.assert_allclose(di, dist[i : i + 1], rtol=1e-5, atol=1e-5)
    assert len(calls) == 2 * NQ


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("spec", ["RHT2keep,TQ4", "RHT2keep,Center,TQ4"])
def test_one_query_with_a_kernel_rotation_gives_the_batch_rows(spec: str, metric: str) -> None:
    # at d = 300 queries are rotated by the transform's kernels, not a dense product: the
    # single-query route rotates with them and searches in one further compiled call
    d = 300
    rng = np.random.default_rng(8)
    x = rng.standard_normal((600, d)).astype(np.float32) + 1.0
    q = rng.standard_normal((8, d)).astype(np.float32) + 1.0
    index = rhtann.Index(d, spec, metric, seed=3, threads=1)
    index.train(x)
    index.add(x)
    assert index.engine._one_args()[0] is None  # no dense query rotation at this size
    calls = []
    one = index.engine._search_one
    index.engine._search_one = lambda *a: calls.append(one(*a)) or calls[-1]
    dist, ids = index.search(q, K, k_factor=3)
    for i in range(len(q)):
        di, ii = index.search(q[i : i + 1], K, k_factor=3)
        np.testing.assert_array_equal(ii, ids[i : i + 1])
        np.testing.assert_allclose(di, dist[i : i + 1], rtol=1e-5, atol=1e-4)
    assert len(calls) == len(q) and all(c is not None for c in calls)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_ivf_all_lists_matches_decoded_brute_force(metric: str, data) -> None:
    x, q = data
    index = _built("RHT2keep,IVF8,TQ4", metric, x)
    truth = _brute(q, index.reconstruct(np.arange(N)), metric, K)
    _, found = index.search(q, K, nprobe=8)
    assert _recall(found, truth) >= 0.9
    _, one = index.search(q, K, nprobe=1)
    assert _recall(one, truth) <= _recall(found, truth) + 1e-9


@pytest.mark.parametrize("spec", REFINE_SPECS)
def test_refine_reranks_with_the_originals(spec: str, data) -> None:
    x, q = data
    index = _built(spec, "l2", x)
    exact = _brute(q, x, "l2", K)
    dist, found = index.search(q, K, k_factor=8)
    assert _recall(found, exact) >= 0.97
    # distances are the exact squared distances of the returned ids
    want = ((q[:, None, :] - x[found]) ** 2).sum(-1)
    np.testing.assert_allclose(dist, want, rtol=1e-3, atol=1e-2)
    plain = _built(spec.rsplit(",", 1)[0], "l2", x)
    assert index.bytes_per_vector == pytest.approx(plain.bytes_per_vector + 4 * D)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("spec", ["RHT2keep,Center,TQ4", "RHT2keep,Center,DSQ4", "RHT2keep,IVF4,Center,TQ4"])
def test_center_distances_are_those_of_the_reconstructions(spec: str, metric: str, data) -> None:
    # Center shifts every stored vector by the training mean; D must still be the
    # distance (or similarity) between the query and the vector reconstruct() returns
    x, q = data
    offset = np.full(D, 25.0, dtype=np.float32)
    index = _built(spec, metric, x + offset)
    assert index.center and index.mean_.shape == (D,) and index.mean_.dtype == np.float32
    xs = x + offset
    if metric == "cosine":
        xs = xs / np.linalg.norm(xs, axis=1, keepdims=True)
    np.testing.assert_allclose(index.mean_, xs.mean(axis=0), rtol=1e-5, atol=1e-5)
    qs = q + offset
    dist, found = index.search(qs, K, method="gemm") if "IVF" not in spec else index.search(qs, K, nprobe=4)
    rec = index.reconstruct(found.reshape(-1)).reshape(NQ, K, D)
    if metric == "l2":
        want = ((qs[:, None, :] - rec) ** 2).sum(-1)
    else:
        qn = qs / np.linalg.norm(qs, axis=1, keepdims=True) if metric == "cosine" else qs
        want = np.einsum("md,mkd->mk", qn, rec)
    scale = np.abs(want).max()
    np.testing.assert_allclose(dist, want, rtol=1e-4, atol=1e-5 * scale)


def test_center_cuts_the_error_on_data_far_from_the_origin(data) -> None:
    # vectors sharing a large offset: without Center the codec spends its levels on the
    # offset, with it on the spread around the mean
    x, _ = data
    far = x + np.float32(40.0)
    errs = {}
    for spec in ("RHT2keep,TQ4", "RHT2keep,Center,TQ4"):
        index = _built(spec, "l2", far)
        errs[spec] = float(np.mean(((index.reconstruct(np.arange(N)) - far) ** 2).sum(1)))
    spread = float(np.mean(((far - far.mean(0)) ** 2).sum(1)))
    assert errs["RHT2keep,Center,TQ4"] < 0.05 * spread
    assert errs["RHT2keep,Center,TQ4"] < 0.25 * errs["RHT2keep,TQ4"]


def test_center_file_state_is_checked(data, tmp_path) -> None:
    x, _ = data
    index = _built("RHT2keep,Center,TQ4", "l2", x)
    path = tmp_path / "c.rhtann"
    index.save(path)
    back = rhtann.load(path)
    np.testing.assert_array_equal(back.mean_, index.mean_)
    meta, blobs = rhtann.io.read_container(path, "Index")
    for bad in (b"", np.full(D, np.nan, np.float32).tobytes(), np.zeros(D + 1, np.float32).tobytes()):
        rhtann.io.write_container(tmp_path / "bad.rhtann", "Index", meta, {**blobs, "mean": bad})
        with pytest.raises(rhtann.FormatError, match="mean"):
            rhtann.load(tmp_path / "bad.rhtann")


def test_bytes_per_vector_counts_everything(data) -> None:
    x, _ = data
    codec = make_codec("DTQ4", 64)
    assert _built("RHT1,DTQ4", "l2", x).bytes_per_vector == codec.code_size + 4  # + decoded norm
    assert _built("RHT1,DTQ4", "cosine", x).bytes_per_vector == codec.code_size
    with_ids = rhtann.Index(D, "RHT1,DTQ4", "cosine")
    with_ids.train(x)
    with_ids.add_with_ids(x, np.arange(N, dtype=np.int64) * 3 + 1)
    assert with_ids.bytes_per_vector == codec.code_size + 8


def test_add_with_ids_returns_and_reconstructs_by_id(data) -> None:
    x, q = data
    ids = np.arange(N, dtype=np.int64)[::-1] * 5 + 11
    for spec in ("RHT1,DTQ4", "RHT,IVF8,TQ4"):
        index = rhtann.Index(D, spec, "l2")
        index.train(x)
        index.add_with_ids(x, ids)
        _, found = index.search(x[:5], 1)
        np.testing.assert_array_equal(found[:, 0], ids[:5])
        r = index.reconstruct(int(ids[3]))
        assert r.shape == (D,)
        assert np.linalg.norm(r - x[3]) < 0.5 * np.linalg.norm(x[3])
        with pytest.raises(KeyError):
            index.reconstruct(np.array([2], dtype=np.int64))


def test_rhtauto_rounds_follow_the_codec_target(data) -> None:
    x, _ = data
    scalar = _built("RHTauto,DTQ4", "l2", x)
    vq = _built("RHTauto,E8Q2", "l2", x)
    assert scalar.target == "scalar" and scalar.rht.n_rounds_ in (1, 2)
    assert vq.target == "vq" and vq.rht.n_rounds_ in (2, 3)
    # one-hot rows are the worst case of one round: the scalar target then takes two
    hot = np.zeros((64, D), dtype=np.float32)
    hot[np.arange(64), np.arange(64) % D] = 1.0
    assert _built("RHTauto,DTQ4", "l2", hot).rht.n_rounds_ == 2


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("RHT1,DTQ9", "DTQ takes bits"),
        ("RHT3,E8Q5", "E8Q takes bits"),
        ("RHT2,TQ5", "TQ bit width"),
        ("RHT,IVF8,DTQ4", "nibble codec"),
        ("RHT,DTQ4,PQ8", "codec spec is"),
        ("RHT2keep,TQ4r80", "extra"),
    ],
)
def test_bad_specs_raise_clear_errors(spec: str, match: str, data) -> None:
    with pytest.raises(ValueError, match=match):
        rhtann.Index(D, spec)


def test_bad_calls_raise_clear_errors(data) -> None:
    x, q = data
    fresh = rhtann.Index(D, "RHT1,DTQ4")
    with pytest.raises(RuntimeError, match="not trained"):
        fresh.search(q, K)
    index = _built("RHT1,DTQ4", "l2", x)
    with pytest.raises(ValueError, match="unknown query parameters"):
        index.search(q, K, nprobe=4)
    with pytest.raises(ValueError, match="k must be <="):
        index.search(q, N + 1)
    with pytest.raises(ValueError, match="refine=True"):
        index.search(q, K, rerank="exact")
    with pytest.raises(ValueError):
        index.search(q[:, :-1], K)
    bad = q.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        index.search(bad, K)
    with pytest.raises(ValueError, match="adaptive"):
        rhtann.Index(D, "RHT1,DTQ4", adaptive=True)
    with pytest.raises(NotImplementedError):
        index.remove_ids(np.array([0]))
    with pytest.raises(RuntimeError, match="already holds"):
        index.train(x)


def test_codec_index_concurrent_adds_and_searches_keep_every_row():
    """Adds from two threads while two others search: every row lands, searches stay valid."""
    import threading

    rng = np.random.default_rng(3)
    x = rng.standard_normal((4000, 32)).astype(np.float32)
    index = rhtann.Index(32, "RHT2keep,TQ4", metric="ip")
    index.train(x[:1000])
    errors: list[BaseException] = []

    def adder(part):
        try:
            for chunk in np.array_split(part, 8):
                index.add(chunk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def searcher():
        try:
            for _ in range(10):
                dist, ids = index.search(x[:5], 3)
                assert ids.shape == (5, 3) and np.isfinite(dist[ids >= 0]).all()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=adder, args=(part,)) for part in (x[:2000], x[2000:])]
    threads += [threading.Thread(target=searcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert index.ntotal == 4000


def test_single_query_route_is_timed_into_stats(data) -> None:
    x, q = data
    index = rhtann.Index(D, "RHT2keep,Center,TQ4", "l2", seed=3, threads=1)
    index.train(x)
    index.add(x)
    calls = []
    one = index.engine._search_one
    index.engine._search_one = lambda *a: calls.append(1) or one(*a)
    before = index.stats["search_s"]
    index.search(q[:1], K)
    assert calls == [1] and index.stats["search_s"] > before
    index.stats = {}  # a caller's own dict without the key
    index.search(q[1:2], K)
    assert len(calls) == 2 and index.stats["search_s"] > 0
