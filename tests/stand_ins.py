"""Offline stand-ins for the paper's base models, with their real architectures and folder layouts (< 2 s each).

* :func:`build_xlmr_stand_in`: a randomly initialised 2-layer ``XLMRobertaForMaskedLM`` saved the way the hub repo
  ``FacebookAI/xlm-roberta-base`` is (``config.json``, ``model.safetensors``, ``tokenizer.json``: a plain
  transformers folder, no sentence-transformers config, no prompts), with XLM-R's own SentencePiece tokenizer (the
  ``tokenizer.json`` me5-small is built with, :func:`hybrid_bench.models.me5_small.tokenizer_file`).
* :func:`build_labse_stand_in`: a sentence-transformers folder shaped like ``sentence-transformers/LaBSE``: BERT, CLS
  pooling, a tanh ``Dense`` layer (here 32 -> 24, so the embedding size differs from the hidden size) and
  ``Normalize``, no prompts.

Both are tiny (hidden size 32), so a test can train and evaluate them in seconds, and ``benchmarks/gpu_check.sh``
uses them where the hub is unreachable.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaForMaskedLM

#: the files of the hub repo ``FacebookAI/xlm-roberta-base`` a transformers / sentence-transformers load reads
XLMR_FILES = ("config.json", "model.safetensors", "tokenizer.json")
LABSE_DENSE_OUT = 24


def build_xlmr_stand_in(out_dir: str | Path, *, seed: int = 0, hidden_size: int = 32, layers: int = 2,
                        heads: int = 2, intermediate_size: int | None = None) -> Path:
    """A random XLM-R in ``FacebookAI/xlm-roberta-base``'s layout at ``out_dir``; returns ``out_dir``.

    Tiny by default; ``hidden_size=768, layers=12, heads=12, intermediate_size=3072`` is XLM-R base's shape (what
    ``benchmarks/gpu_check.py`` times)."""
    from hybrid_bench.models.me5_small import tokenizer_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tokenizer_file(), out / "tokenizer.json")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"))
    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate_size or hidden_size * 2, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, architectures=["XLMRobertaForMaskedLM"],
    )
    XLMRobertaForMaskedLM(config).save_pretrained(out)
    # the hub repo has no tokenizer_config.json / generation_config.json: transformers picks the tokenizer class
    # from config.json's model_type, as it does for the real download
    for extra in set(p.name for p in out.iterdir()) - set(XLMR_FILES):
        (out / extra).unlink()
    return out


def build_labse_stand_in(out_dir: str | Path, *, seed: int = 0) -> Path:
    """A tiny LaBSE-shaped sentence-transformers folder at ``out_dir`` (BERT + CLS + Dense(tanh) + Normalize)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
    from tiny_model import build_tiny_model

    out = Path(out_dir)
    work = out.parent / f".{out.name}.build"
    build_tiny_model(work, seed=seed)  # BERT + its WordPiece tokenizer under work/hf
    transformer = Transformer(str(work / "hf"), max_seq_length=64)
    dim = transformer.get_embedding_dimension()
    torch.manual_seed(seed)
    model = SentenceTransformer(
        modules=[transformer, Pooling(dim, pooling_mode="cls"),
                 Dense(dim, LABSE_DENSE_OUT, activation_function=torch.nn.Tanh()), Normalize()],
        device="cpu",
    )
    model.save(str(out), create_model_card=False)
    shutil.rmtree(work, ignore_errors=True)
    config = out / "config_sentence_transformers.json"
    saved = json.loads(config.read_text(encoding="utf-8"))
    saved["prompts"] = {}  # LaBSE defines no prompts
    config.write_text(json.dumps(saved), encoding="utf-8")
    return out
