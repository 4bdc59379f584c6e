"""CachedHybridInfoNCELoss (GradCache through sentence-transformers' CachedLossMixin): the uncached loss's value and
gradients, its per-type log, and a trainer run with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from parallel_helpers import labels_of, loss_inputs, parameter_grads, synthetic_corpus
from sentence_transformers import SentenceTransformer

from hybrid_bench.training.cached_loss import CachedHybridInfoNCELoss
from hybrid_bench.training.loss import HybridInfoNCELoss


@pytest.fixture(scope="module")
def dataset():
    # item 0 and 1 share their positive in every language: masks must apply inside and across mini-batches
    return synthetic_corpus(12, negatives=True, shared_every=4).to_dataset()


def _rows(dataset, kind: str, n: int) -> list[int]:
    labels = labels_of(dataset)
    same = labels.query_lang == labels.passage_lang
    wanted = np.flatnonzero(same if kind == "mono" else ~same)
    # rows of distinct items in different languages, plus item 0 and item 1 (shared positive) and a translation
    picked, items = [], set()
    for i in wanted:
        if labels.item[i] not in items:
            picked.append(int(i))
            items.add(labels.item[i])
        if len(picked) == n - 1:
            break
    twin = next(int(i) for i in wanted if labels.item[i] == labels.item[picked[0]] and int(i) not in picked)
    return [*picked, twin]  # the last row is a parallel duplicate of the first


def _loss_and_grads(loss, features, labels):
    loss.model.zero_grad()
    value = loss(features, labels)
    value.backward()
    return value.detach(), parameter_grads(loss.model)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("columns", [("anchor", "positive"), ("anchor", "positive", "negative")])
def test_cached_equals_uncached(tiny_model_dir: Path, dataset, symmetric, columns):
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    model.eval()  # dropout off: the uncached loss embeds the batch in one forward, the cached one per mini-batch
    features, labels = loss_inputs(model, dataset, _rows(dataset, "cross", 10), columns)
    expected, expected_grads = _loss_and_grads(HybridInfoNCELoss(model, symmetric=symmetric), features, labels)
    for mini_batch_size in (1, 3, 10):
        cached = CachedHybridInfoNCELoss(model, mini_batch_size=mini_batch_size, symmetric=symmetric)
        value, grads = _loss_and_grads(cached, features, labels)
        torch.testing.assert_close(value, expected, atol=1e-5, rtol=1e-5)
        assert grads.keys() == expected_grads.keys()
        assert any(g.abs().sum() > 0 for g in grads.values())
        for name, grad in grads.items():
            torch.testing.assert_close(grad, expected_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_cached_training_logs_mono_and_cross_losses(tiny_model_dir: Path, dataset):
    """In training mode the loss of every step is recorded once, under its batch type (HybridLossCallback's log)."""
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    model.train()
    cached = CachedHybridInfoNCELoss(model, mini_batch_size=3)
    logged = {}
    for kind in ("mono", "cross"):
        features, labels = loss_inputs(model, dataset, _rows(dataset, kind, 8))
        value, grads = _loss_and_grads(cached, features, labels)
        logged[kind] = float(value)
        assert torch.isfinite(value) and any(g.abs().sum() > 0 for g in grads.values())
    assert cached.pop_batch_type_losses() == {"loss_mono": round(logged["mono"], 4), "batches_mono": 1,
                                              "loss_cross": round(logged["cross"], 4), "batches_cross": 1}


def test_config_and_bad_arguments(tiny_model_dir: Path):
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    loss = CachedHybridInfoNCELoss(model, mini_batch_size=16, scale=10.0)
    assert loss.get_config_dict()["mini_batch_size"] == 16 and loss.get_config_dict()["scale"] == 10.0
    assert isinstance(loss, HybridInfoNCELoss) and loss.uses_gradient_cache
    with pytest.raises(ValueError, match="mini_batch_size must be at least 1"):
        CachedHybridInfoNCELoss(model, mini_batch_size=0)


def test_train_with_the_cached_loss(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from hybrid_bench.training.trainer import TrainConfig, train_model

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path / "home"))
    data = tmp_path / "parallel.jsonl"
    synthetic_corpus(24).save(data)
    config = TrainConfig(base=str(tiny_model_dir), data=str(data), steps=4, batch_size=8, mini_batch_size=3,
                         max_seq_length=24, logging_steps=2, save_steps=100, warmup_ratio=0.0)
    assert config.to_dict()["mini_batch_size"] == 3 and "gather_across_devices" not in config.to_dict()
    result = train_model(config, "tiny-cached")
    logs = [h for h in result.record["log_history"] if "loss" in h]
    assert len(logs) == 2 and all({"loss_mono", "loss_cross"} & set(h) for h in logs)
    assert result.record["config"]["mini_batch_size"] == 3
