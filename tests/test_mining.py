"""mine_negatives / `hybrid-bench mine-negatives`: no translation or same-item passage ever becomes a negative."""

from __future__ import annotations

from pathlib import Path

import pytest
from parallel_helpers import synthetic_corpus
from sentence_transformers import SentenceTransformer

from hybrid_bench.training.mining import mine_negatives
from hybrid_bench.training.parallel_data import load_parallel_data


@pytest.mark.parametrize("mode", ["mono", "cross"])
def test_never_a_translation_or_same_item_passage(tiny_model_dir: Path, mode: str):
    corpus = synthetic_corpus(16)
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    mined = mine_negatives(corpus, model, mode=mode, candidates=8)
    assert len(mined) == len(corpus) and mined.has_negatives
    for item in mined.items:
        own = {t.positive for i in corpus.items if i.id == item.id for t in i.texts.values()}
        for lang, text in item.texts.items():
            assert text.negative not in own, (item.id, lang)  # not the positive nor a translation of it
            assert text.negative != text.positive
            assert text.negative.startswith(f"{lang} ")  # a passage of the record's language


def test_cli_writes_training_data(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capfd: pytest.CaptureFixture[str]):
    from hybrid_bench.cli import main

    source = tmp_path / "train.jsonl"
    synthetic_corpus(12).save(source)
    out = tmp_path / "train.neg.jsonl"
    assert main(["mine-negatives", "--data", str(source), "--model", str(tiny_model_dir), "--mode", "cross",
                 "--output", str(out)]) == 0
    shown = capfd.readouterr()
    # one bar over the languages; sentence-transformers' per-encode "Batches" bars stay quiet unless -v
    assert "mining negatives" in shown.err and "Batches" not in shown.err + shown.out
    corpus = load_parallel_data(str(out))
    assert corpus.has_negatives and len(corpus) == 12
    assert "negative" in corpus.to_dataset().column_names
    assert main(["mine-negatives", "--data", str(source), "--model", str(tiny_model_dir), "--output", str(out)]) == 1
