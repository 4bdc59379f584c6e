"""``MIRACLTrainTopicsRetrieval``: MIRACL's *train* topics scored exactly as mteb's ``MIRACLRetrieval`` scores dev.

The local folder ``miracl-lite-train`` (in the data folder; read its README) holds 1,966 MIRACL v1.0 train-topic
queries with their judgments, on the same passages as the dev mirror ``miracl-lite``, in the
``mteb/MIRACLRetrieval`` layout (split named ``dev`` so that the stock loader reads it). It exists to add queries
to a MIRACL endpoint: the variance of a difference between two retrievers on MIRACL is mostly query sampling
(:mod:`hybrid_bench.leaderboard.variance`), and these topics cost only query encoding once a model's passages are
encoded (their texts are the dev mirror's, so :mod:`hybrid_bench.tasks.shared_embeddings` reuses them).

Not MIRACL dev: 15 languages (no de, yo, th), and **multilingual-e5 was fine-tuned on MIRACL train**, so the base
model has seen these queries; every arm fine-tuned from it starts from the same base, so a difference between arms
is still a fair comparison, but absolute scores are not held-out scores. The dataset has no hub repository: it
is read from the mirror configured for :data:`REPO` (``HYBRID_BENCH_MIRRORS``), else from
``<data dir>/miracl-lite-train``; results record the folder's content label as ``dataset_revision``.

Example::

    import mteb
    from hybrid_bench.tasks.miracl_train_topics import MIRACLTrainTopicsRetrieval

    task = MIRACLTrainTopicsRetrieval().filter_languages(["swa"])
    mteb.evaluate(mteb.get_model("me5-small"), task, cache=None)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mteb.tasks.retrieval.multilingual.miracl_retrieval import MIRACLRetrieval

from hybrid_bench.errors import DataError
from hybrid_bench.tasks.descriptive_stats import HybridTaskMetadata

__all__ = ["FOLDER", "LANGUAGES", "REPO", "MIRACLTrainTopicsRetrieval"]

#: the dataset's id for mirror configuration (no hub repository has it)
REPO = "hybrid-bench/miracl-train-topics"
#: its folder's name in the data folder
FOLDER = "miracl-lite-train"
#: MIRACL languages with train topics in the folder (ISO 639-1)
LANGUAGES = ("ar", "bn", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "zh")


class MIRACLTrainTopicsRetrieval(MIRACLRetrieval):
    """mteb's ``MIRACLRetrieval`` on the train-topic folder (see the module docstring); scores from mteb's own
    ``RetrievalEvaluator``, plus ``n_queries`` per language."""

    metadata = HybridTaskMetadata.model_validate(
        MIRACLRetrieval.metadata.model_dump() | {
            "name": "MIRACLTrainTopicsRetrieval",
            "description": (
                "MIRACL v1.0 train topics (1,966 queries with judged passages in the local miracl-lite-train folder, "
                "15 languages) on the passages of the dev mirror, scored as MIRACLRetrieval. multilingual-e5 was "
                "fine-tuned on MIRACL train: its scores here are not held-out scores. Not comparable to official "
                "MIRACL numbers."
            ),
            "dataset": {"path": REPO, "revision": "local"},
            "eval_langs": {lang: MIRACLRetrieval.metadata.eval_langs[lang] for lang in LANGUAGES},
            "adapted_from": ["MIRACLRetrieval"],
        }
    )

    def __init__(self, source: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = Path(source) if source is not None else None

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        from hybrid_bench import paths
        from hybrid_bench.data.mirrors import Mirror, apply_mirrors_to_task, load_task_data, use_mirror

        if self.source is not None:
            use_mirror(self, Mirror(REPO, self.source.resolve()))
        elif "mirror" not in vars(self) and not apply_mirrors_to_task(self):  # not pointed at a folder yet
            data = paths.configured_data_dir(None)
            folder = data / FOLDER if data is not None else None
            if folder is None or not (folder / "README.md").is_file():
                raise DataError(f"no MIRACL train-topic data: put {FOLDER}/ in the data folder "
                                f"(HYBRID_BENCH_DATA) or configure a mirror "
                                f"(HYBRID_BENCH_MIRRORS='{REPO}=/path/to/{FOLDER}')", item=self.metadata.name)
            use_mirror(self, Mirror(REPO, folder.resolve()))
        load_task_data(self, num_proc=num_proc)  # read once, hashed, parsed: never the datasets cache

    def task_specific_scores(self, scores: dict[str, dict[str, float]], qrels: Any, results: Any,
                             hf_split: str, hf_subset: str) -> dict[str, float]:
        """``n_queries``: the queries mteb scored."""
        return {"n_queries": len(scores)}
