"""Input-assumption warnings: CodecAssumptionWarning at train, and rhtann.wrap's contract."""

from __future__ import annotations

import warnings

import faiss
import numpy as np
import pytest

import rhtann
from rhtann.index import checks

pytestmark = pytest.mark.usefixtures("one_thread_module")


def _unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _anisotropic(n: int, d: int, seed: int = 1) -> np.ndarray:
    """Per-dimension scales over two decades, like raw feature vectors (SIFT, pixels)."""
    rng = np.random.default_rng(seed)
    scale = np.geomspace(0.05, 5.0, d).astype(np.float32)
    rng.shuffle(scale)
    return (rng.standard_normal((n, d)) * scale).astype(np.float32)


def test_sqtqmse_on_raw_norms_warns():
    x = 30.0 * _unit(500, 32)
    with pytest.warns(rhtann.CodecAssumptionWarning, match=r"SQtqmse4 assumes unit-norm.*metric='cosine'"):
        rhtann.Index(32, "RHT,SQtqmse4").train(x)
    assert issubclass(rhtann.CodecAssumptionWarning, RuntimeWarning)


@pytest.mark.parametrize(
    ("spec", "metric", "scale"),
    [
        ("RHT,SQtqmse4", "l2", 1.0),  # unit norm: the assumption holds
        ("RHT,SQtqmse4", "cosine", 30.0),  # cosine normalizes before the code
        ("RHT,SQtq4", "l2", 30.0),  # stores a norm
        ("RHT,EDEN4", "l2", 30.0),  # stores a scale
        ("RHT,SQ4", "l2", 30.0),  # trained ranges
    ],
)
def test_no_warning_when_the_assumption_holds(spec, metric, scale):
    x = scale * _unit(500, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", rhtann.CodecAssumptionWarning)
        rhtann.Index(32, spec, metric).train(x)


def test_warning_also_for_a_minority_off_norm():
    x = _unit(1000, 32)
    x[:100] *= 4.0  # 10% of the rows, above the 5% share tolerated; the median stays 1
    facts = None
    with pytest.warns(rhtann.CodecAssumptionWarning):
        facts = checks.check_codec_input("SQtqmse2", x, "l2", "RHT,SQtqmse2")
    assert facts["median_norm"] == pytest.approx(1.0, abs=1e-5)
    assert facts["share_off"] == pytest.approx(0.1)


def test_scale_invariance_of_the_exempt_codes():
    # The exemption rests on this: EDEN and SQtq errors do not depend on the norm, SQtqmse's does.
    x = _unit(1000, 32)

    def rel(key: str, s: float) -> float:
        idx = faiss.index_factory(32, key)
        idx.train(s * x)
        return rhtann.index.faiss_glue.relative_error(idx, s * x)

    for key in ("EDEN4", "SQtq4"):
        assert rel(key, 30.0) == pytest.approx(rel(key, 1.0), rel=1e-3)
    assert rel("SQtqmse4", 30.0) > 10 * rel("SQtqmse4", 1.0)


# ----------------------------------------------------------------------
# wrap
# ----------------------------------------------------------------------


def test_wrap_refuses_a_non_empty_index():
    rht = rhtann.RHT(32, rounds=2, seed=3, layout="keep")
    flat = faiss.IndexFlatL2(32)
    flat.add(_unit(10, 32))
    with pytest.raises(ValueError, match="faiss_index must be empty; it holds 10 vectors"):
        rhtann.wrap(flat, rht)


@pytest.mark.parametrize("key", ["IVF32,SQ8", "SQ8", "PQ8x4"])
def test_wrap_warns_on_unrotated_training(key):
    x = _anisotropic(3000, 64)
    rht = rhtann.RHT(64, rounds=2, seed=3, layout="keep")
    wrong = faiss.index_factory(64, key)
    wrong.train(x)
    with pytest.warns(rhtann.UnrotatedTrainingWarning, match="unrotated"):
        rhtann.wrap(wrong, rht)
    right = faiss.index_factory(64, key)
    right.train(rht.apply(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", rhtann.UnrotatedTrainingWarning)
        pipeline = rhtann.wrap(right, rht)
    assert pipeline.d == 64 and pipeline.is_trained


def test_evidence_is_none_without_a_readable_state():
    flat = faiss.IndexFlatL2(16)
    assert checks.trained_space_evidence(flat) is None
