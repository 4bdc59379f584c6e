"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2`` (gloo, CPU): HybridInfoNCELoss with
``gather_across_devices=True`` on each rank's half of a global batch vs one process on the whole batch.

Writes ``<out>/rank<r>.json`` with, per case, the largest differences of the loss and of every parameter's
gradient (averaged over ranks, as DDP does) from the single-process reference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from parallel_helpers import labels_of, loss_inputs, parameter_grads, synthetic_corpus
from sentence_transformers import SentenceTransformer

from hybrid_bench.training.cached_loss import CachedHybridInfoNCELoss
from hybrid_bench.training.loss import HybridInfoNCELoss


def global_rows(dataset, duplicates: bool) -> list[int]:
    """8 cross-lingual rows of distinct items; with ``duplicates``, rank 1's rows are translations of rank 0's
    (same item, other languages) and item 0 / 1 share their positive."""
    labels = labels_of(dataset)
    cross = np.flatnonzero(labels.query_lang != labels.passage_lang)
    by_item: dict[int, list[int]] = {}
    for i in cross:
        by_item.setdefault(int(labels.item[i]), []).append(int(i))
    items = sorted(by_item)
    if not duplicates:
        return [by_item[item][0] for item in items[:8]]
    first = [by_item[item][0] for item in items[:4]]
    second = [next(j for j in by_item[item] if labels.query_lang[j] != labels.query_lang[by_item[item][0]])
              for item in items[:4]]
    return first + second


def main(out: Path, model_dir: str) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()  # no dropout: one process and two must embed identically
    results = {}
    for duplicates in (False, True):
        dataset = synthetic_corpus(12, negatives=True, shared_every=4 if duplicates else 0).to_dataset()
        rows = global_rows(dataset, duplicates)
        per_rank = len(rows) // world
        for symmetric in (False, True):
            for columns in (("anchor", "positive"), ("anchor", "positive", "negative")):
                for cached in (False, True):
                    def make(gather: bool):
                        if cached:
                            return CachedHybridInfoNCELoss(model, mini_batch_size=3, symmetric=symmetric,
                                                           gather_across_devices=gather)
                        return HybridInfoNCELoss(model, symmetric=symmetric, gather_across_devices=gather)

                    features, labels = loss_inputs(model, dataset, rows, columns)
                    model.zero_grad()
                    reference = make(False)(features, labels)
                    reference.backward()
                    ref_grads = parameter_grads(model)
                    unmasked = HybridInfoNCELoss(model, symmetric=symmetric, mask_parallel=False)
                    with torch.no_grad():
                        unmasked_value = float(unmasked(features, labels))

                    mine = rows[rank * per_rank:(rank + 1) * per_rank]
                    features, labels = loss_inputs(model, dataset, mine, columns)
                    model.zero_grad()
                    local = make(True)(features, labels)
                    local.backward()
                    grads = parameter_grads(model)
                    for grad in grads.values():  # what DDP does with the gradients
                        dist.all_reduce(grad)
                        grad /= world
                    value = local.detach().clone()
                    dist.all_reduce(value)
                    value /= world
                    key = f"duplicates={duplicates},symmetric={symmetric},columns={len(columns)},cached={cached}"
                    results[key] = {
                        "loss": float(value),
                        "reference_loss": float(reference),
                        "unmasked_loss": unmasked_value,
                        "max_grad_diff": max(float((grads[n] - ref_grads[n]).abs().max()) for n in grads),
                        "max_grad": max(float(g.abs().max()) for g in ref_grads.values()),
                        "parameters": len(grads),
                    }
    (out / f"rank{rank}.json").write_text(json.dumps(results, indent=1))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
