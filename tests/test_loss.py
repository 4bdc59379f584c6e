"""HybridInfoNCELoss: equal to MultipleNegativesRankingLoss without masking, masks parallel duplicates, logs per type."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from hybrid_bench.training.loss import HybridInfoNCELoss
from hybrid_bench.training.parallel_data import NO_NEGATIVE


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_model_dir), device="cpu")


def _embeddings(n: int = 6, columns: int = 2, dim: int = 16, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, dim, generator=generator) for _ in range(columns)]


def _labels(items, query_langs, passage_langs, positive_keys, negative_keys=None) -> torch.Tensor:
    negative_keys = negative_keys or [NO_NEGATIVE] * len(items)
    return torch.tensor(list(zip(items, query_langs, passage_langs, positive_keys, negative_keys)))


def _distinct_labels(n: int, negatives: bool = False) -> torch.Tensor:
    return _labels(range(n), [0] * n, [1] * n, [100 + i for i in range(n)],
                   [200 + i for i in range(n)] if negatives else None)


@pytest.mark.parametrize("columns", [2, 3])
@pytest.mark.parametrize("scale", [20.0, 7.5])
def test_equals_mnrl_without_masking(model, columns, scale):
    embeddings = _embeddings(columns=columns)
    expected = MultipleNegativesRankingLoss(model, scale=scale).compute_loss_from_embeddings(embeddings, None)
    ours = HybridInfoNCELoss(model, scale=scale)
    torch.testing.assert_close(ours.compute_loss_from_embeddings(embeddings, None), expected)
    # labels present but nothing to mask: identical too
    labels = _distinct_labels(6, negatives=columns == 3)
    torch.testing.assert_close(ours.compute_loss_from_embeddings(embeddings, labels), expected)


def test_symmetric_equals_mnrl_per_direction(model):
    embeddings = _embeddings(columns=3)
    expected = MultipleNegativesRankingLoss(
        model, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
    ).compute_loss_from_embeddings(embeddings, None)
    ours = HybridInfoNCELoss(model, symmetric=True).compute_loss_from_embeddings(embeddings, _distinct_labels(6, True))
    torch.testing.assert_close(ours, expected)


def test_equals_mnrl_through_forward_with_a_real_model(model):
    texts = [["query: a b", "query: c d", "query: e f"], ["passage: a", "passage: c", "passage: e"]]
    features = [model.preprocess(column) for column in texts]
    labels = _distinct_labels(3)
    with torch.no_grad():
        expected = MultipleNegativesRankingLoss(model)(features, labels)
        ours = HybridInfoNCELoss(model)(features, labels)
    torch.testing.assert_close(ours, expected)


def _manual_loss(embeddings: list[torch.Tensor], scale: float, masked: set[tuple[int, int]]) -> torch.Tensor:
    """Per row: -log softmax of the positive over the unmasked (row, column) candidates."""
    queries = torch.nn.functional.normalize(embeddings[0], dim=-1)
    docs = torch.nn.functional.normalize(torch.cat(embeddings[1:]), dim=-1)
    scores = queries @ docs.T * scale
    losses = []
    for i in range(len(queries)):
        keep = [j for j in range(docs.size(0)) if (i, j) not in masked]
        losses.append(-(scores[i, i] - torch.logsumexp(scores[i, keep], dim=0)))
    return torch.stack(losses).mean()


def test_masks_parallel_translations_and_shared_passages(model):
    embeddings = _embeddings(n=5, columns=3)
    # rows 0 and 3 are the same item in two languages (a translation); rows 1 and 4 are different items whose
    # positive is the same passage; row 2's hard negative is row 1's positive passage (same key)
    labels = _labels(
        items=[0, 1, 2, 0, 3],
        query_langs=[0, 0, 0, 1, 1],
        passage_langs=[0, 0, 0, 1, 0],
        positive_keys=[10, 11, 12, 13, 11],
        negative_keys=[20, 21, 11, 23, 24],
    )
    n = 5
    masked = {(0, 3), (3, 0), (1, 4), (4, 1)}  # positive block
    masked |= {(1, n + 2), (4, n + 2)}  # row 2's negative is the positive of rows 1 and 4
    loss = HybridInfoNCELoss(model, scale=20.0)
    got = loss.compute_loss_from_embeddings(embeddings, labels)
    torch.testing.assert_close(got, _manual_loss(embeddings, 20.0, masked))
    unmasked = MultipleNegativesRankingLoss(model).compute_loss_from_embeddings(embeddings, None)
    assert not torch.allclose(got, unmasked)
    # masking off: plain MNRL again
    off = HybridInfoNCELoss(model, mask_parallel=False).compute_loss_from_embeddings(embeddings, labels)
    torch.testing.assert_close(off, unmasked)


def test_a_batch_of_translations_has_nothing_to_contrast(model):
    # two rows of one item (its en and de versions): each row's only other passage is its own translation,
    # masked, so the loss and its gradient are zero, where MNRL would push the translations apart
    embeddings = [e.requires_grad_() for e in _embeddings(n=2)]
    labels = _labels([7, 7], [0, 1], [0, 1], [10, 11])
    loss = HybridInfoNCELoss(model).compute_loss_from_embeddings(embeddings, labels)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    loss.backward()
    assert all(float(e.grad.abs().max()) < 1e-6 for e in embeddings)
    assert MultipleNegativesRankingLoss(model).compute_loss_from_embeddings(embeddings, labels).item() > 0.01


def test_per_batch_type_losses_are_recorded(model):
    loss = HybridInfoNCELoss(model)
    model.train()
    mono = _labels([0, 1, 2], [2, 2, 2], [2, 2, 2], [1, 2, 3])
    cross = _labels([0, 1, 2], [0, 1, 2], [1, 2, 0], [4, 5, 6])
    values = {}
    for kind, labels, seed in (("mono", mono, 1), ("cross", cross, 2), ("cross", cross, 3)):
        value = loss.compute_loss_from_embeddings(_embeddings(n=3, seed=seed), labels)
        values.setdefault(kind, []).append(float(value))
    popped = loss.pop_batch_type_losses()
    assert popped["batches_mono"] == 1 and popped["batches_cross"] == 2
    assert popped["loss_mono"] == pytest.approx(values["mono"][0], abs=1e-4)
    assert popped["loss_cross"] == pytest.approx(sum(values["cross"]) / 2, abs=1e-4)
    assert loss.pop_batch_type_losses() == {}  # reset
    model.eval()
    loss.compute_loss_from_embeddings(_embeddings(n=3), mono)
    assert loss.pop_batch_type_losses() == {}  # evaluation batches are not training losses
    model.train()
    assert HybridInfoNCELoss.batch_kind(_labels([0, 1], [0, 0], [0, 1], [1, 2])) == "mixed"


def test_bad_inputs_and_config(model):
    loss = HybridInfoNCELoss(model, scale=10.0, symmetric=True)
    with pytest.raises(ValueError, match=r"labels of shape \(batch, 5\)"):
        loss.compute_loss_from_embeddings(_embeddings(n=3), torch.zeros(3))
    with pytest.raises(ValueError, match="negative columns"):
        loss.compute_loss_from_embeddings(_embeddings(n=3, columns=4), _distinct_labels(3))
    with pytest.raises(ValueError, match="scale must be positive"):
        HybridInfoNCELoss(model, scale=0)
    assert loss.get_config_dict() == {"scale": 10.0, "symmetric": True, "similarity_fct": "cos_sim",
                                      "mask_parallel": True, "gather_across_devices": False}
    assert loss.temperature == pytest.approx(0.1)
    assert "2408.10536" in loss.citation
