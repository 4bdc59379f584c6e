"""HybridBatchSampler: homogeneous batches, α frequency, language-pair draws, no duplicates, determinism, DDP."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from accelerate.data_loader import BatchSamplerShard
from parallel_helpers import batch_kind, labels_of, synthetic_corpus

from hybrid_bench.training.sampler import HybridBatchSampler

BATCH = 8


@pytest.fixture(scope="module")
def dataset():
    return synthetic_corpus(60).to_dataset()


@pytest.fixture(scope="module")
def labels(dataset):
    return labels_of(dataset)


def _epochs(sampler: HybridBatchSampler, n_epochs: int) -> list[list[int]]:
    batches = []
    for epoch in range(n_epochs):
        sampler.set_epoch(epoch)
        batches.extend(sampler)
    return batches


def _within_binomial(count: int, n: int, p: float, z: float = 5.0) -> bool:
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


def test_batches_are_homogeneous_and_alpha_extremes(dataset, labels):
    for alpha, allowed in ((0.5, {"mono", "cross"}), (1.0, {"mono"}), (0.0, {"cross"})):
        batches = _epochs(HybridBatchSampler(dataset, BATCH, alpha=alpha, seed=3), 30)
        kinds = Counter(batch_kind(labels, b) for b in batches)
        assert set(kinds) == allowed, (alpha, kinds)
        for batch in batches:
            if batch_kind(labels, batch) == "mono":
                assert len(set(labels.query_lang[batch])) == 1  # one language X for the whole batch


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8])
def test_monolingual_frequency_is_alpha_within_binomial_bounds(dataset, labels, alpha):
    batches = _epochs(HybridBatchSampler(dataset, BATCH, alpha=alpha, seed=11), 250)  # 2,000 batches
    mono = sum(batch_kind(labels, b) == "mono" for b in batches)
    assert len(batches) == 2000
    assert _within_binomial(mono, len(batches), alpha), (mono, alpha)


def test_language_draws_are_uniform_and_cross_batches_mix_pairs(dataset, labels):
    batches = _epochs(HybridBatchSampler(dataset, BATCH, alpha=0.5, seed=5), 200)
    mono = [b for b in batches if batch_kind(labels, b) == "mono"]
    cross = [b for b in batches if batch_kind(labels, b) == "cross"]
    mono_langs = Counter(int(labels.query_lang[b[0]]) for b in mono)
    assert sorted(mono_langs) == [0, 1, 2, 3]
    assert all(_within_binomial(c, len(mono), 1 / 4) for c in mono_langs.values()), mono_langs
    pairs = Counter(zip(labels.query_lang[np.concatenate(cross)], labels.passage_lang[np.concatenate(cross)]))
    assert len(pairs) == 12  # every ordered pair (X, Y), X != Y
    n_pairs = sum(pairs.values())
    assert all(_within_binomial(c, n_pairs, 1 / 12) for c in pairs.values()), pairs
    # faithful X-Y: every example draws its own pair, so one batch mixes several pairs (8 draws of 12 pairs)
    distinct = [len(set(zip(labels.query_lang[b], labels.passage_lang[b]))) for b in cross]
    assert np.mean(distinct) > 5
    # the ablation: one pair for the whole batch
    per_batch = _epochs(HybridBatchSampler(dataset, BATCH, alpha=0.0, cross_pairs="per_batch", seed=5), 50)
    assert {len(set(zip(labels.query_lang[b], labels.passage_lang[b]))) for b in per_batch} == {1}
    assert len({(labels.query_lang[b[0]], labels.passage_lang[b[0]]) for b in per_batch}) == 12


def test_proportional_language_sampling_follows_data_size():
    from hybrid_bench.training.parallel_data import ParallelCorpus
    from parallel_helpers import synthetic_records

    # 'en' and 'de' for all 60 items, 'ru' for only 20: proportional draws 'ru' batches less often
    records = [r for r in synthetic_records(60, ("de", "en", "ru")) if r["lang"] != "ru" or int(r["id"][1:]) < 20]
    dataset = ParallelCorpus.from_records(records).to_dataset()
    labels = labels_of(dataset)
    counts = {}
    for mode in ("uniform", "proportional"):
        sampler = HybridBatchSampler(dataset, BATCH, alpha=1.0, language_sampling=mode, seed=2)
        batches = _epochs(sampler, 300)
        counts[mode] = Counter(int(labels.query_lang[b[0]]) for b in batches)
        total = sum(counts[mode].values())
        ru = counts[mode][2] / total
        expected = 1 / 3 if mode == "uniform" else 20 / 140
        assert abs(ru - expected) < 0.05, (mode, counts[mode])


def test_no_item_twice_and_conflicting_items_never_together(labels, dataset):
    # the shared-positive corpus: items 0/1, 3/4, ... share their positive in every language
    conflicting = synthetic_corpus(60, shared_every=3, negatives=True).to_dataset()
    conf_labels = labels_of(conflicting)
    for ds, lab in ((dataset, labels), (conflicting, conf_labels)):
        for batch in _epochs(HybridBatchSampler(ds, BATCH, alpha=0.5, seed=0), 20):
            assert len(batch) == BATCH
            assert len(set(lab.item[batch])) == BATCH  # no item twice, not even as a translation
            assert len(set(lab.positive_key[batch])) == BATCH  # no passage is another row's false negative
            assert not set(lab.negative_key[batch]) & set(lab.positive_key[batch])


def test_an_epoch_covers_every_item(dataset, labels):
    sampler = HybridBatchSampler(dataset, BATCH, alpha=0.5, seed=1)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        items = [int(labels.item[row]) for batch in sampler for row in batch]
        assert set(items) == set(range(60))
        assert len(items) == math.ceil(60 / BATCH) * BATCH  # the last batch is filled up, never short


def test_deterministic_per_seed_and_epoch(dataset):
    def run(seed, epoch):
        sampler = HybridBatchSampler(dataset, BATCH, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert run(7, 0) == run(7, 0)
    assert run(7, 2) == run(7, 2)
    assert run(7, 0) != run(7, 1)
    assert run(7, 0) != run(8, 0)
    # the trainer's shared torch generator does not influence the batches (a resumed run sees the same ones)
    import torch

    generator = torch.Generator().manual_seed(123)
    assert list(HybridBatchSampler(dataset, BATCH, generator=generator, seed=7)) == run(7, 0)


@pytest.mark.parametrize("drop_last", [False, True])
def test_len_matches_iteration(dataset, drop_last):
    for batch_size in (7, 8, 16):
        sampler = HybridBatchSampler(dataset, batch_size, drop_last=drop_last, seed=0)
        batches = list(sampler)
        assert len(sampler) == len(batches)
        assert len(batches) == (60 // batch_size if drop_last else math.ceil(60 / batch_size))
        assert {len(b) for b in batches} == {batch_size}


def test_ddp_ranks_make_the_same_decision_at_every_step(dataset, labels):
    # each rank builds its own sampler (as every DDP process does) and accelerate shards its batches
    world = 2
    ranks = [
        BatchSamplerShard(
            HybridBatchSampler(dataset, BATCH, alpha=0.5, seed=9, world_size=world),
            num_processes=world, process_index=rank, split_batches=False, even_batches=False,
        )
        for rank in range(world)
    ]
    assert len(ranks[0]) == len(ranks[1]) == math.ceil(60 / (BATCH * world))
    steps = 0
    kinds = Counter()
    for epoch in range(40):
        for shard in ranks:
            shard.batch_sampler.set_epoch(epoch)
        for batch0, batch1 in zip(*ranks, strict=True):
            kind = batch_kind(labels, batch0)
            assert kind == batch_kind(labels, batch1) != "mixed"
            if kind == "mono":
                assert set(labels.query_lang[batch0]) == set(labels.query_lang[batch1])
            # the global batch holds no item twice either
            assert len(set(labels.item[batch0]) | set(labels.item[batch1])) == 2 * BATCH
            kinds[kind] += 1
            steps += 1
    assert steps == 40 * len(ranks[0])
    assert kinds["mono"] > 20 and kinds["cross"] > 20


def test_trainer_uses_factory_and_language_pairs_are_not_degenerate(dataset, labels, tiny_model_dir: Path, tmp_path):
    """Through the real trainer's dataloader (shared generator, set_epoch): batches of the right size, fresh
    draws every epoch, all language pairs."""
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=BATCH, report_to="none", seed=4,
        batch_sampler=HybridBatchSampler.factory(alpha=0.5),
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                         loss=MultipleNegativesRankingLoss(model))
    loader = trainer.get_train_dataloader()
    sampler = loader.batch_sampler.batch_sampler if hasattr(loader.batch_sampler, "batch_sampler") else None
    sampler = sampler or loader.batch_sampler
    assert isinstance(sampler, HybridBatchSampler)
    pairs = Counter()
    epochs = []
    for epoch in range(30):
        loader.set_epoch(epoch)
        sampler.set_epoch(epoch)
        rows = list(sampler)
        epochs.append(rows)
        for batch in rows:
            assert batch_kind(labels, batch) in ("mono", "cross")
            pairs.update(zip(labels.query_lang[batch], labels.passage_lang[batch]))
    assert len({tuple(map(tuple, e)) for e in epochs}) == 30  # every epoch draws anew
    assert len(pairs) == 16  # 4 mono + 12 cross pairs all occur
    first = next(iter(loader))
    assert first["label"].shape == (BATCH, 5)
    assert sorted(k for k in first if k.endswith("input_ids")) == ["anchor_input_ids", "positive_input_ids"]


def test_sampler_instance_is_refused(dataset, tiny_model_dir: Path, tmp_path):
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    instance = HybridBatchSampler(dataset, BATCH)
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=BATCH,
                                                report_to="none", batch_sampler=instance)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                         loss=MultipleNegativesRankingLoss(model))
    with pytest.raises(ValueError, match=r"instance was passed as batch_sampler=.*HybridBatchSampler.factory"):
        trainer.get_train_dataloader()


def test_bad_arguments_say_how_to_fix(dataset):
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        HybridBatchSampler.factory(alpha=1.5)
    with pytest.raises(ValueError, match="cross_pairs must be"):
        HybridBatchSampler(dataset, BATCH, cross_pairs="fixed")
    with pytest.raises(ValueError, match="lower the batch size"):
        HybridBatchSampler(dataset, 61)
    with pytest.raises(ValueError, match=r"needs a 'label' column.*ParallelCorpus.to_dataset"):
        HybridBatchSampler(dataset.remove_columns("label"), BATCH)
    one_language = synthetic_corpus(20, ("en",)).to_dataset()
    with pytest.raises(ValueError, match="alpha < 1 needs cross-lingual rows"):
        HybridBatchSampler(one_language, BATCH, alpha=0.5)
    assert len(list(HybridBatchSampler(one_language, BATCH, alpha=1.0))) == 3
