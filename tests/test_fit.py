"""model.old_fit with hybrid_dataloader: the loss sees the sampler's homogeneous mono / cross batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from parallel_helpers import synthetic_corpus
from sentence_transformers import SentenceTransformer

from hybrid_bench.training.fit import hybrid_dataloader, input_examples
from hybrid_bench.training.loss import HybridInfoNCELoss


class SpyLoss(HybridInfoNCELoss):
    """Records the kind of every batch the loss gets."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: list[str] = []
        self.sizes: list[int] = []

    def compute_loss_from_embeddings(self, embeddings, labels):
        self.kinds.append(self.batch_kind(labels))
        self.sizes.append(len(labels))
        return super().compute_loss_from_embeddings(embeddings, labels)


def test_old_fit_trains_the_samplers_hybrid_batches(tiny_model_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    dataset = synthetic_corpus(160).to_dataset()
    loader = hybrid_dataloader(dataset, 4, alpha=0.5, seed=3, prompts={"query": "query: ", "document": "passage: "})
    sampler = loader.batch_sampler
    expected = ["mono" if sampler.step_plan(step)[0] else "cross" for step in range(sampler.steps_per_epoch)]
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    loss = SpyLoss(model)
    model.old_fit(train_objectives=[(loader, loss)], epochs=1, warmup_steps=0, show_progress_bar=False)
    assert loss.kinds == expected  # every batch homogeneous, in the sampler's order
    assert len(expected) == 40 and 0.3 <= expected.count("mono") / len(expected) <= 0.7
    assert set(loss.sizes) == {4}
    counts = loss.pop_batch_type_losses()
    assert counts["batches_mono"] == expected.count("mono") and counts["batches_cross"] == expected.count("cross")


def test_input_examples_carry_prompts_and_labels():
    dataset = synthetic_corpus(3, negatives=True).to_dataset()
    examples = input_examples(dataset, {"query": "q: ", "document": "p: "})
    assert len(examples) == len(dataset)
    first = dataset[0]
    assert examples[0].texts == ["q: " + first["anchor"], "p: " + first["positive"], "p: " + first["negative"]]
    assert list(examples[0].label) == first["label"]
