"""Metrics over dense score matrices: checked against ranx on random runs and against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_bench.tasks import metrics as M


def _ranx_scores(scores: np.ndarray, relevant: list[list[int]]) -> dict[str, np.ndarray]:
    from ranx import Qrels, Run, evaluate

    qrels = Qrels({f"q{i}": {f"d{j}": 1 for j in rel} for i, rel in enumerate(relevant)})
    run = Run({f"q{i}": {f"d{j}": float(s) for j, s in enumerate(row)} for i, row in enumerate(scores)})
    names = ["map", "mrr", "recall@1", "recall@10", "ndcg@10", "hit_rate@1", "hit_rate@10"]
    evaluate(qrels, run, names, return_mean=False, make_comparable=True)
    return {n: np.asarray(run.scores[n]) if isinstance(run.scores[n], np.ndarray) else
            np.asarray([run.scores[n][f"q{i}"] for i in range(len(relevant))]) for n in names}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_ranx_on_random_runs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_q, n_c = 40, 300
    scores = rng.normal(size=(n_q, n_c)).astype(np.float32)  # continuous → no ties, so tie rules can't differ
    relevant = [sorted(rng.choice(n_c, size=rng.integers(1, 12), replace=False).tolist()) for _ in range(n_q)]
    ranks = M.relevant_ranks(scores, relevant)
    ours = M.per_query_metrics(ranks)
    ref = _ranx_scores(scores, relevant)
    np.testing.assert_allclose(ours["ap"], ref["map"], rtol=1e-6)
    np.testing.assert_allclose(ours["rr"], ref["mrr"], rtol=1e-6)
    np.testing.assert_allclose(ours["recall_at_1"], ref["recall@1"], rtol=1e-6)
    np.testing.assert_allclose(ours["recall_at_10"], ref["recall@10"], rtol=1e-6)
    np.testing.assert_allclose(ours["ndcg_at_10"], ref["ndcg@10"], rtol=1e-6)
    np.testing.assert_allclose(ours["hit_at_1"], ref["hit_rate@1"], rtol=1e-6)
    np.testing.assert_allclose(ours["hit_at_10"], ref["hit_rate@10"], rtol=1e-6)


def test_ranks_and_ap_hand_computed() -> None:
    # query 0: candidates ordered c1 (0.9) > c2 (0.5) > c0 (0.1); relevant c0 and c2 → ranks 2 and 3
    scores = np.array([[0.1, 0.9, 0.5]])
    ranks = M.relevant_ranks(scores, [[0, 2]])
    assert ranks.tolist() == [[2, 3]]
    # AP = (1/2 + 2/3) / 2
    assert M.average_precision(ranks)[0] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert M.reciprocal_rank(ranks)[0] == pytest.approx(0.5)
    assert M.recall_at_k(ranks, 2)[0] == pytest.approx(0.5)
    # nDCG@2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3)
    assert M.ndcg_at_k(ranks, 2)[0] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))


def test_ties_break_by_pool_position() -> None:
    scores = np.array([[0.5, 0.5, 0.5]])
    assert M.relevant_ranks(scores, [[2]]).tolist() == [[3]]
    assert M.relevant_ranks(scores, [[0]]).tolist() == [[1]]
    assert M.top_k_indices(scores, 2).tolist() == [[0, 1]]


def test_language_bias_is_rank_distance_hand_computed() -> None:
    # pool of 6 candidates; query's parallel answers at columns 0 (en), 3 (de), 5 (zh)
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [0.4, 0.5, 0.6, 0.1, 0.9, 0.95]])
    ranks = M.relevant_ranks(scores, [[0, 3, 5], [0, 3, 5]])
    # query 0: ranks 1, 4, 6 → 6 - 1 = 5; query 1: col5 rank 1, col0 rank 5, col3 rank 6 → 6 - 1 = 5
    assert ranks.tolist() == [[1, 4, 6], [1, 5, 6]]
    assert M.rank_distance(ranks).tolist() == [5.0, 5.0]
    # a single relevant candidate has no spread
    assert M.rank_distance([3]) == 0.0
    # padded rows use only their real ranks
    assert M.rank_distance(np.array([[2, 7, 0]])).tolist() == [5.0]


def test_foreign_intrusion_hand_computed() -> None:
    assert M.foreign_intrusion_at_k(["sw", "en", "sw", "fr"], "sw") == 0.5
    assert M.foreign_intrusion_at_k(["sw"] * 10, "sw") == 0.0
    with pytest.raises(ValueError):
        M.foreign_intrusion_at_k([], "sw")


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="no relevant"):
        M.relevant_ranks(np.zeros((1, 3)), [[]])
    with pytest.raises(ValueError, match="out of range"):
        M.relevant_ranks(np.zeros((1, 3)), [[3]])
    with pytest.raises(ValueError, match="2-D"):
        M.relevant_ranks(np.zeros(3), [[0]])
