"""Progress that means something (issue 27 item 6): ``hybrid-bench eval`` shows one bar that counts the encoded
texts (queries and passages) against the texts it plans to encode, with a rate and an ETA; the libraries' bars
stay off unless ``--verbose``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hybrid_bench import display

ARGV = ("-t", "XQuADRRetrieval", "--hf-subsets", "eng-eng", "eng-deu", "--backend", "torch", "--dtype", "float32")


def _expected_texts() -> int:
    """Distinct questions and candidates of the two settings, counted from the data (not from the planner)."""
    from hybrid_bench.evaluation import load_tasks
    from hybrid_bench.tasks.settings import candidate_text, lareqa_setting

    [task] = load_tasks(["XQuADRRetrieval"], None, ["eng-eng", "eng-deu"])
    questions, candidates = set(), set()
    for subset in ("eng-eng", "eng-deu"):
        setting = lareqa_setting(task.lareqa_data, subset)
        questions |= {q.text for q in setting.questions}
        candidates |= {candidate_text(c, context=False) for c in setting.candidates}
    return len(questions) + len(candidates)


def _bar_states(err: str) -> list[str]:
    return [s for s in re.split(r"[\r\n]", err) if "encoding:" in s]


def test_eval_bar_counts_encoded_texts_with_rate_and_eta(tiny_model_dir: Path, tmp_path: Path, shared_data: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid_bench.cli import main

    expected = _expected_texts()
    out = tmp_path / "out"
    assert main(["eval", "-m", str(tiny_model_dir), *ARGV, "--output-folder", str(out)]) == 0
    shown = capsys.readouterr()
    states = _bar_states(shown.err)
    assert len(states) >= 2, shown.err[-2000:]
    # one bar, planned in texts, counted batch by batch up to exactly the plan, with a rate and an ETA
    assert re.search(rf"100%\|.*\| {expected}/{expected} \[\d\d:\d\d<00:00, +[\d.]+ texts/s", states[-1]), states[-1]
    counts = {int(m[1]) for s in states if (m := re.search(rf"\| (\d+)/{expected} ", s))}
    assert len(counts) >= 2 and max(counts) == expected  # it moved, not 0/1 → 1/1
    assert f"{expected:,} texts encoded" in shown.out
    # no other bar: mteb's per-task bar, sentence-transformers' batches, datasets' maps
    others = [s for s in re.split(r"[\r\n]", shown.err) if "%|" in s and "encoding:" not in s]
    assert not others, others[:3]

    # everything is in the embedding cache now: a recomputation plans and encodes nothing
    assert main(["eval", "-m", str(tiny_model_dir), *ARGV, "--output-folder", str(out), "--overwrite"]) == 0
    again = capsys.readouterr()
    assert "0 texts encoded" in again.out and not re.search(r"\d+/\d+ \[", " ".join(_bar_states(again.err)))


def test_tracked_batches_are_counted_once(tiny_model_dir: Path) -> None:
    """A tracked model counts each batch as it is encoded; the embedding cache adds only what it did not count."""
    from datasets import Dataset
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from mteb.types import PromptType
    from sentence_transformers import SentenceTransformer

    from hybrid_bench.tasks.encoding import EmbeddingCache
    from hybrid_bench.tasks.lareqa import XQuADRRetrieval

    texts = [f"text number {i}" for i in range(10)]
    for tracked in (True, False):
        encoder = SentenceTransformerEncoderWrapper(SentenceTransformer(str(tiny_model_dir), device="cpu"))
        if tracked:
            display.track_encoder(display.track_encoder(encoder))  # twice: still one hook
        before = display.texts_encoded()
        with display.encode_bar(len(texts), disable=True) as bar:
            updates = []
            bar.update = lambda n, _u=bar.update: (updates.append(n), _u(n))  # type: ignore[method-assign]
            EmbeddingCache().get_or_encode(
                encoder, Dataset.from_dict({"id": [str(i) for i in range(10)], "text": texts}), group="g",
                prompt_type=PromptType.query, task_metadata=XQuADRRetrieval.metadata, hf_split="test",
                hf_subset="eng-eng", encode_kwargs={"batch_size": 4, "show_progress_bar": False})
        assert display.texts_encoded() - before == 10 and sum(updates) == 10
        # tracked: one update per batch of 4 (4, 4, 2); untracked: one per model call
        assert updates == ([4, 4, 2] if tracked else [10])


def test_the_plan_leaves_out_what_the_cache_holds(tiny_model_dir: Path, shared_data: Path) -> None:
    import mteb

    from hybrid_bench.evaluation import load_model, load_tasks, planned_texts

    tasks = load_tasks(["XQuADRRetrieval"], None, ["eng-eng", "eng-deu"])
    model = load_model(str(tiny_model_dir))
    expected = _expected_texts()
    assert planned_texts(tasks) == planned_texts(tasks, model) == expected
    before = display.texts_encoded()
    mteb.evaluate(model, tasks, cache=None, show_progress_bar=False,
                  encode_kwargs={"batch_size": 64, "show_progress_bar": False})
    assert display.texts_encoded() - before == expected
    assert planned_texts(tasks, model) == 0 and planned_texts(tasks) == expected
