"""rhtann.index.limits and the public edge it guards: crash-prone cases run in a child process."""

from __future__ import annotations

import numpy as np
import pytest
from subproc import run_cases

import rhtann
from rhtann.index import limits


def test_degenerate_specs_raise_clear_errors_in_child():
    # Each of these crashed, aborted or exhausted memory inside faiss before the limits.
    body = """
    import numpy as np, rhtann
    x = np.random.default_rng(0).standard_normal((300, 100)).astype("float32")
    specs = ["RHT,HNSW0", "RHT,HNSW1", "RHT,IVF0,SQ4", "RHT,PQ16x0", "RHT,IVF8_HNSW1,Flat",
             "RHT,NSG4", "RHT,NSG2", "RHT,IVF8,PQ16x0np", "RHT,IMI2x20,Flat", "RHT,PQ7", "RHT,PQ16x25",
             "RHT," + "Flat" * 3700, "RHT,IVF8," + ",".join(["SQ8"] * 20),
             "RHT,Refine(" * 6 + "Flat" + ")" * 6]
    for s in specs:
        def go(s=s):
            ix = rhtann.Index(100, s)
            ix.train(x); ix.add(x)
        case(s[:40], go)
    case("IVF200 on 100 rows", lambda: rhtann.Index(100, "RHT,IVF200,SQ4").train(x[:100]))
    """
    res = run_cases(body)
    assert len(res) == 15
    for name, rec in res.items():
        assert rec["result"] == "ValueError", (name, rec)
    assert "must be in [2, 512]; got 0" in res["RHT,HNSW0"]["message"]
    assert "at most 256 characters" in res["RHT," + ("Flat" * 9)]["message"]
    assert "at least 200 training vectors" in res["IVF200 on 100 rows"]["message"]


def test_reconstruct_out_of_range_ids_in_child():
    body = """
    import numpy as np, rhtann
    x = np.random.default_rng(1).standard_normal((400, 48)).astype("float32")
    for spec in ["RHT,Flat", "RHT,HNSW16,Flat", "RHT,SQ8,RFlat", "RHT,NSG16", "RHT,IVF4,Flat", "Flat"]:
        ix = rhtann.Index(48, spec); ix.train(x); ix.add(x)
        for key in [-1, -10**6, 400, 10**12, 2**62]:
            case(f"{spec}:{key}", lambda ix=ix, key=key: ix.reconstruct(key))
        case(f"{spec}:ok", lambda ix=ix: float(np.abs(ix.reconstruct(7) - x[7]).max()))
    """
    res = run_cases(body)
    assert len(res) == 36
    for name, rec in res.items():
        if name.endswith(":ok"):
            assert rec["result"] == "ok" and float(rec["value"]) < 1e-4, (name, rec)
        else:
            assert rec["result"] == "KeyError" and "cannot reconstruct id" in rec["message"], (name, rec)


def test_spec_text_limits():
    limits.check_spec_text("RHT," + "SQ8,RFlat")
    with pytest.raises(ValueError, match="at most 256 characters; got 257"):
        limits.check_spec_text("x" * 257)
    with pytest.raises(ValueError, match="at most 16 comma-separated tokens; got 17"):
        limits.check_spec_text(",".join(["Flat"] * 17))
    with pytest.raises(ValueError, match="nests parentheses 5 deep"):
        limits.check_spec_text("(" * 5 + ")" * 5)
    with pytest.raises(ValueError, match="unbalanced"):
        limits.check_spec_text("Refine(Flat")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("HNSW513,Flat", r"HNSW M .* must be in \[2, 512\]; got 513"),
        ("IVF4194305,Flat", r"IVF nlist .* got 4194305"),
        ("SQ8,Refine(PQ99999999)", "above the limit 16777216"),
        ("IVF0,Flat", r"IVF nlist .* got 0"),
        ("PQ5", "must divide the dimension of the faiss index, d=64; got M=5"),
        ("PQ8x17", r"PQ nbits .* must be in \[1, 16\]; got 17"),
        ("RQ4x0", r"nbits .* got 0"),
        ("IMI2x13,Flat", r"IMI bits .* got 13"),
    ],
)
def test_faiss_key_bounds(key, message):
    with pytest.raises(ValueError, match=message):
        limits.check_faiss_key(key, 64)


def test_good_keys_pass():
    good = ["HNSW32,Flat", "IVF256,PQ16x4fs,RFlat", "OPQ16_64,PQ16", "RQ4x8", "IMI2x8,PQ8", "NSG32", "SQ4"]
    for key in good:
        limits.check_faiss_key(key, 64)


def test_search_parameter_bounds():
    x = np.random.default_rng(2).standard_normal((300, 32)).astype("float32")
    ix = rhtann.Index(32, "RHT,IVF4,Flat")
    ix.train(x)
    ix.add(x)
    with pytest.raises(ValueError, match=r"nprobe must be in \[1, 4\]; got 5"):
        ix.search(x[:2], 3, nprobe=5)
    hn = rhtann.Index(32, "RHT,HNSW8,Flat")
    hn.train(x)
    hn.add(x)
    with pytest.raises(ValueError, match=r"efSearch must be in \[1, 65536\]; got 1000000000"):
        hn.search(x[:2], 3, efSearch=10**9)
    with pytest.raises(ValueError, match=r"k must be in \[1, 1048576\]"):
        hn.search(x[:2], 2**21)
    D, I = hn.search(x[:2], 3, efSearch=64)  # noqa: E741
    assert I[:, 0].tolist() == [0, 1]


def test_max_d_checked_before_allocation():
    for d in (rhtann.MAX_D + 1, 2**26, 10**29):
        with pytest.raises(ValueError, match=r"d must be in \[1, 1048576\]"):
            rhtann.RHT(d, layout="keep")
        with pytest.raises(ValueError, match=r"d must be in \[1, 1048576\]"):
            rhtann.Index(d, "RHT,SQ8")


def test_ids_checked_on_add():
    x = np.random.default_rng(3).standard_normal((6, 16)).astype("float32")
    ix = rhtann.Index(16, "RHT,IVF1,Flat")
    ix.train(x)
    with pytest.raises(ValueError, match="below 2"):
        ix.add_with_ids(x[:2], np.array([1, 2**63], dtype=np.uint64))
    with pytest.raises(ValueError, match="must be >= 0"):
        ix.add_with_ids(x[:2], np.array([-1, 3]))
    with pytest.raises(ValueError, match="id 4 appears more than once"):
        ix.add_with_ids(x[:3], np.array([4, 5, 4]))
    assert ix.ntotal == 0
    ix.add_with_ids(x[:2], np.array([2**63 - 1, 0], dtype=np.uint64))
    assert sorted(ix.search(x[:2], 1)[1].ravel().tolist()) == [0, 2**63 - 1]


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_norms_that_overflow_faiss_distances_are_rejected(metric):
    x = np.random.default_rng(4).standard_normal((50, 20)).astype("float32")
    ix = rhtann.Index(20, "RHT,Flat", metric)
    ix.train(x)
    big = x[:3] * np.float32(1e35)
    with pytest.raises(ValueError, match="faiss computes float32 distances"):
        ix.add(big)
    assert ix.ntotal == 0
    scale = np.float32(np.sqrt(limits.MAX_SQ_NORM) / 20)  # norms ~ 0.25 of the bound: accepted
    ix.add(x * scale)
    D, I = ix.search(x[:4] * scale, 1)  # noqa: E741
    assert np.isfinite(D).all() and I[:, 0].tolist() == [0, 1, 2, 3]


def test_cosine_accepts_extreme_scales():
    x = np.random.default_rng(5).standard_normal((40, 24)).astype("float32")
    ix = rhtann.Index(24, "RHT,Flat", "cosine")
    ix.train(x)
    ix.add(np.vstack([x[:20] * np.float32(1e37), x[20:] * np.float32(1e-30)]))
    D, I = ix.search(x, 1)  # noqa: E741
    assert I[:, 0].tolist() == list(range(40))
    np.testing.assert_allclose(D[:, 0], 1.0, atol=1e-5)
