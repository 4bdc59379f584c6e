"""Small synthetic parallel corpora and batch inspection helpers for the training tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from hybrid_bench.training.parallel_data import PairLabels, ParallelCorpus

LANGS = ("de", "en", "es", "ru")
WORDS = {
    "de": ("hauptstadt", "fluss", "berg", "stadt", "land", "see", "wald"),
    "en": ("capital", "river", "mountain", "city", "country", "lake", "forest"),
    "es": ("capital", "río", "montaña", "ciudad", "país", "lago", "bosque"),
    "ru": ("столица", "река", "гора", "город", "страна", "озеро", "лес"),
}


def synthetic_records(
    n_items: int = 60, langs: Sequence[str] = LANGS, *, negatives: bool = False, shared_every: int = 0
) -> list[dict[str, str]]:
    """Records of ``n_items`` fully parallel items; ``shared_every=k`` makes item i and i+1 share a positive
    (in every language) for every i divisible by k, i.e. conflicting items."""
    records = []
    for i in range(n_items):
        owner = i - 1 if shared_every and i % shared_every == 1 else i
        for lang in langs:
            word = WORDS[lang][i % len(WORDS[lang])]
            record = {
                "id": f"q{i}",
                "lang": lang,
                "query": f"{lang} {word} {i} ?",
                "positive": f"{lang} {word} {owner} .",
            }
            if negatives:
                record["negative"] = f"{lang} {word} not {i} ."
            records.append(record)
    return records


def synthetic_corpus(n_items: int = 60, langs: Sequence[str] = LANGS, **kwargs) -> ParallelCorpus:
    return ParallelCorpus.from_records(synthetic_records(n_items, langs, **kwargs), name="synthetic")


def labels_of(dataset) -> PairLabels:
    return PairLabels.from_array(np.array(dataset["label"]))


def batch_kind(labels: PairLabels, batch: Iterable[int]) -> str:
    batch = list(batch)
    same = labels.query_lang[batch] == labels.passage_lang[batch]
    return "mono" if same.all() else "cross" if not same.any() else "mixed"


def loss_inputs(model, dataset, rows: Sequence[int], columns: Sequence[str] = ("anchor", "positive")):
    """(features per text column, label tensor) of the dataset ``rows``: what the trainer hands a loss."""
    import torch

    features = [model.preprocess([dataset[int(i)][c] for i in rows]) for c in columns]
    labels = torch.tensor([dataset[int(i)]["label"] for i in rows])
    return features, labels


def parameter_grads(model) -> dict:
    """A copy of every trainable parameter's gradient (zeros where none flowed)."""
    import torch

    return {n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
            for n, p in model.named_parameters() if p.requires_grad}
