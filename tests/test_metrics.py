"""Hand-worked cases of the harness's metrics (ann-benchmarks rules)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import metrics


def test_knn_recall_hand_worked():
    gt = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.9]])
    run = np.array([[1.0, 3.0, 3.0005, 5.0], [0.5, 0.5, 0.9, np.inf]])
    # query 0, k=3: threshold 3 + 1e-3 -> 1.0, 3.0, 3.0005 count -> 3/3
    # query 1, k=3: threshold 0.5 + 1e-3 -> 0.5, 0.5 count, 0.9 does not -> 2/3
    np.testing.assert_allclose(metrics.knn_recall(run, gt, 3), [1.0, 2 / 3])
    # k=2: thresholds 2.001 and 0.501 -> query 0 has 1.0 only (3.0 > 2.001) -> 1/2
    np.testing.assert_allclose(metrics.knn_recall(run, gt, 2), [0.5, 1.0])


def test_knn_recall_credits_ties_whatever_the_ids():
    # four points at the same distance 2.0; the truth lists ids 0 and 1, the
    # index returns 2 and 3: both count since recall compares distances
    gt = np.array([[2.0, 2.0, 2.0, 2.0]])
    run = np.array([[2.0, 2.0]])
    assert metrics.knn_recall(run, gt, 2)[0] == 1.0
    # just beyond the additive tolerance no longer counts
    assert metrics.knn_recall(np.array([[2.0, 2.0011]]), gt, 2)[0] == 0.5


def test_epsilon_recall_is_multiplicative():
    gt = np.array([[10.0, 20.0]])
    run = np.array([[10.0, 20.19]])
    assert metrics.epsilon_recall(run, gt, 2)[0] == 1.0  # 20.19 <= 20 * 1.01
    assert metrics.knn_recall(run, gt, 2)[0] == 0.5  # 20.19 > 20 + 1e-3
    assert metrics.epsilon_recall(np.array([[10.0, 20.3]]), gt, 2)[0] == 0.5


def test_recall_1_at_k():
    gt = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 1.0, 3.0]])
    run = np.array([[2.0, 1.0, 3.0], [2.0, 3.0, 4.0], [1.0, 5.0, 6.0]])
    np.testing.assert_array_equal(metrics.recall_1_at_k(run, gt, 3), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(metrics.recall_1_at_k(run, gt, 1), [0.0, 0.0, 1.0])


def test_duplicate_ids_count_once():
    ids = np.array([[4, 4, 7], [1, 2, 3]])
    dist = np.array([[1.0, 1.0, 2.0], [1.0, 2.0, 3.0]])
    masked = metrics.mask_duplicates(ids, dist)
    np.testing.assert_array_equal(masked, [[1.0, np.inf, 2.0], [1.0, 2.0, 3.0]])
    gt = np.array([[1.0, 1.0, 2.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(metrics.knn_recall(masked, gt, 3), [2 / 3, 1.0])


def test_recall_rejects_bad_k_and_shapes():
    with pytest.raises(ValueError, match="k must be"):
        metrics.knn_recall(np.zeros((2, 3)), np.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.knn_recall(np.zeros((2, 3)), np.zeros((3, 3)), 1)


def test_relative_mse():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    x_hat = np.array([[3.0, 3.0], [0.0, 1.0]])
    assert metrics.relative_mse(x, x_hat) == pytest.approx(2.0 / 25.0)


def test_qps_is_one_over_best_mean():
    runs = [np.array([0.002, 0.004]), np.array([0.001, 0.001]), np.array([0.003, 0.003])]
    out = metrics.qps_from_times(runs)
    assert out["best_search_time"] == pytest.approx(0.001)
    assert out["qps"] == pytest.approx(1000.0)
    assert out["p50_ms"] == pytest.approx(1.0)
    assert out["qps_p50"] == pytest.approx(1000.0)


def test_pareto_frontier():
    recall = np.array([0.5, 0.6, 0.4, 0.9, 0.7])
    qps = np.array([1000, 800, 900, 100, 50])
    # by decreasing QPS: 1000 (0.5) kept, 900 (0.4) dominated, 800 (0.6) kept,
    # 100 (0.9) kept, 50 (0.7) dominated
    np.testing.assert_array_equal(metrics.pareto_frontier(recall, qps), [0, 1, 3])
