"""mteb descriptive statistics of every hybrid-bench task: committed files, mteb reads them, recomputation matches,
and the task cards' tables are generated from them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import mteb
import pytest

from hybrid_bench.tasks import ALL_TASKS
from hybrid_bench.tasks.cards import hybrid_tasks, render_card, render_cards
from hybrid_bench.tasks.descriptive_stats import compute, load, sources, stats_path
from hybrid_bench.tasks.lareqa import MLQARRetrieval, XQuADRRetrieval
from hybrid_bench.tasks.settings import lareqa_setting

ROOT = Path(__file__).resolve().parent.parent
MIRACL_LITE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "miracl-lite"
_SUBSETS = "hf_subset_descriptive_stats"


def _close(a: Any, b: Any, path: str = "") -> None:
    """Recursive equality with a relative tolerance on floats (sums of lengths are exact, means are not)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            _close(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a} != {b}"


def test_every_task_has_a_committed_file_that_mteb_reads() -> None:
    for cls in ALL_TASKS:
        task = mteb.get_task(cls.metadata.name)
        path = task.metadata.descriptive_stat_path
        assert path == stats_path(cls.metadata.name) and path.is_file(), path
        assert "mteb" not in path.parts  # never written into mteb's installation
        stats = task.calculate_descriptive_statistics()  # mteb's API: reads the committed file, no KeyError
        assert stats == load(cls.metadata.name)
        split = task.metadata.eval_splits[0]
        assert task.metadata.n_samples[split] == stats[split]["num_samples"] > 0
        assert cls.metadata.name in sources()


def test_lareqa_settings_are_mteb_retrieval_splits(shared_data: Path) -> None:
    """The statistics read the same selection the task scores: MLQA-R's ara-deu keeps the questions with a German
    version, every query has exactly its relevant candidates, ids resolve in the corpus (this raised
    ``KeyError: 'ara-ara'`` before the tasks exposed mteb's layout)."""
    task = MLQARRetrieval()
    task.load_data()
    setting = lareqa_setting(task.lareqa_data, "ara-deu")
    split = task.dataset["ara-deu"]["test"]
    assert split["queries"]["id"] == [q.id for q in setting.questions]
    assert len(split["queries"]) < len(task.lareqa_data.questions["ar"])  # some have no German version
    corpus_ids = set(split["corpus"]["id"])
    assert all(doc.startswith("de:") for doc in corpus_ids)
    for qid, docs in split["relevant_docs"].items():
        assert len(docs) == 1 and set(docs) <= corpus_ids
    stats = task._calculate_descriptive_statistics_from_split("test", hf_subset="ara-ara")
    assert stats["num_queries"] == len(task.lareqa_data.questions["ar"])
    assert stats["num_documents"] == len(task.lareqa_data.candidates["ar"])
    assert stats["relevant_docs_statistics"]["num_missing_corpus_ids"] == 0


def test_cards_are_generated_from_the_committed_files() -> None:
    assert render_cards(ROOT / "tasks", check=True) == []
    card = (ROOT / "tasks" / "mlqa_r.md").read_text(encoding="utf-8")
    assert "<!-- descriptive-stats: MLQARRetrieval lareqa -->" in card
    # a different statistics file gives a different table: the numbers come from the file, not from the card
    stats = load("MLQARRetrieval")
    stats["test"][_SUBSETS]["ara-ara"]["num_queries"] = 123456
    assert "| `ara` | 123,456 |" in render_card(card, load_stats=lambda name: stats)
    with pytest.raises(ValueError, match="unknown statistics table kind"):
        render_card("<!-- descriptive-stats: MLQARRetrieval nope -->\n<!-- /descriptive-stats -->")


@pytest.mark.slow
@pytest.mark.parametrize("name", [cls.metadata.name for cls in ALL_TASKS])
def test_recomputed_statistics_match_the_committed_file(name: str, shared_data: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if name.startswith("MIRACL"):
        if not (MIRACL_LITE / "SHA256SUMS").is_file():
            pytest.skip(f"no miracl-lite mirror at {MIRACL_LITE}")
        monkeypatch.setenv("HYBRID_BENCH_MIRRORS", f"mteb/MIRACLRetrieval={MIRACL_LITE}")
    (task,) = hybrid_tasks([name])
    committed = load(name)
    if name in ("XQuADRRetrieval", "MIRACLCrossLingualRetrieval") or "Context" in name or "CrossRetrieval" in name:
        # the largest (≈ 1-3 min of CPU each in full), the candidate-context variants and the cross setting tasks
        # of tasks recomputed in full here: recompute a spread of their subsets
        keep = [s for i, s in enumerate(task.hf_subsets) if i % 9 == 0]
        task = task.filter_languages(None, hf_subsets=keep)
        split = task.metadata.eval_splits[0]
        task.load_data()
        for subset in keep:
            _close(task._calculate_descriptive_statistics_from_split(split, hf_subset=subset),
                   committed[split][_SUBSETS][subset], f"{name}/{subset}")
        return
    stats, revision = compute(task)
    assert revision == sources()[name]
    _close(json.loads(json.dumps(stats)), committed, name)


def test_xquad_r_pool_setting_counts(shared_data: Path) -> None:
    """A hand-checkable figure: the pool holds every language's candidates, 11 relevant per question."""
    block = load("XQuADRRetrieval")["test"][_SUBSETS]
    langs = [s.split("-")[0] for s in block if s.endswith("-pool")]
    assert len(langs) == 11
    assert block["eng-pool"]["num_documents"] == sum(block[f"{x}-{x}"]["num_documents"] for x in langs)
    assert block["eng-pool"]["relevant_docs_statistics"]["min_relevant_docs_per_query"] == 11
    task = XQuADRRetrieval()
    assert block["eng-eng"]["num_documents"] == len(task.lareqa_data.candidates["en"])


def test_a_setting_tasks_statistics_are_its_parents_for_its_settings() -> None:
    from hybrid_bench.tasks.lareqa_settings import SETTING_TASKS

    for cls in SETTING_TASKS:
        (parent,) = cls.metadata.adapted_from
        (split,) = cls.metadata.eval_splits
        mine, theirs = load(cls.metadata.name)[split], load(parent)[split]
        assert set(mine[_SUBSETS]) == set(cls.metadata.eval_langs)
        for subset, block in mine[_SUBSETS].items():
            _close(block, theirs[_SUBSETS][subset], f"{cls.metadata.name}/{subset}")
        assert mine["num_samples"] == sum(b["num_samples"] for b in mine[_SUBSETS].values())
